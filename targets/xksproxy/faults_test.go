package xksproxy

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// apiCalls makes one request of each operation; key "k" must exist.
func apiCalls(c *client, key string) map[Operation]func() result {
	return map[Operation]func() result{
		OpGetHealthStatus: func() result { return c.post("/health", healthBody()) },
		OpGetKeyMetadata: func() result {
			return c.post("/keys/"+key+"/metadata", map[string]any{"requestMetadata": md("CreateKey")})
		},
		OpEncrypt: func() result { return c.post("/keys/"+key+"/encrypt", encryptBody([]byte("x"), nil, false)) },
		OpDecrypt: func() result {
			return c.post("/keys/"+key+"/decrypt", decryptBody(ciphertexts[key], nil))
		},
	}
}

// ciphertexts holds, per key, a ciphertext made before any fault: a
// decrypt under a fault needs one. Tests here do not run in parallel.
var ciphertexts = map[string]EncryptResponse{}

func prepare(t *testing.T, p *Proxy, c *client, keys ...string) {
	for _, k := range keys {
		p.Keys().Create(k, KeyOptions{})
		ciphertexts[k] = mustDecode[EncryptResponse](t, c.post("/keys/"+k+"/encrypt", encryptBody([]byte("x"), nil, false)))
	}
}

func TestErrorFaults(t *testing.T) {
	p := startProxy(t, Options{})
	c := newClient(t, p)
	prepare(t, p, c, "k", "other")
	for _, f := range Faults() {
		name := f.ErrorName()
		if name == "" {
			continue
		}
		t.Run(string(f), func(t *testing.T) {
			if err := p.SetFault(f); err != nil {
				t.Fatal(err)
			}
			for _, call := range apiCalls(c, "k") {
				wantError(t, call(), name.Status(), name)
			}
			// The fault answers before the signature check.
			unsigned := newClient(t, p)
			unsigned.mutate = func(r *http.Request) { r.Header.Del("Authorization") }
			wantError(t, unsigned.post("/health", healthBody()), name.Status(), name)
			last := p.Requests()[len(p.Requests())-1]
			if last.Fault != f || last.SignatureValid || last.ErrorName != name {
				t.Fatalf("record %+v", last)
			}

			p.ClearFaults()
			if err := p.SetKeyFault("k", f); err != nil {
				t.Fatal(err)
			}
			for op, call := range apiCalls(c, "k") {
				r := call()
				if op == OpGetHealthStatus {
					if r.status != 200 {
						t.Fatalf("key fault changed health: %d %s", r.status, r.body)
					}
					continue
				}
				wantError(t, r, name.Status(), name)
			}
			for _, call := range apiCalls(c, "other") {
				if r := call(); r.status != 200 {
					t.Fatalf("fault of k hit other: %d %s", r.status, r.body)
				}
			}
			// A key fault comes after authentication.
			wantError(t, unsigned.post("/keys/k/metadata", map[string]any{"requestMetadata": md("CreateKey")}), 401, ErrAuthenticationFailed)
			p.ClearFaults()
			for _, call := range apiCalls(c, "k") {
				if r := call(); r.status != 200 {
					t.Fatalf("after ClearFaults: %d %s", r.status, r.body)
				}
			}
		})
	}
}

func TestErrorNameStatuses(t *testing.T) {
	want := map[ErrorName]int{
		ErrValidation: 400, ErrInvalidState: 400, ErrInvalidCiphertext: 400, ErrInvalidKeyUsage: 400,
		ErrAuthenticationFailed: 401, ErrAccessDenied: 403, ErrKeyNotFound: 404, ErrInvalidURIPath: 404,
		ErrThrottling: 429, ErrUnsupportedOperation: 501, ErrDependencyTimeout: 503, ErrInternal: 500,
	}
	for n, s := range want {
		if n.Status() != s {
			t.Errorf("%s: %d, want %d", n, n.Status(), s)
		}
	}
}

func TestBadAnswerFaults(t *testing.T) {
	p := startProxy(t, Options{})
	c := newClient(t, p)
	prepare(t, p, c, "k")
	check := func(t *testing.T, f Fault, r result) {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
		switch f {
		case FaultNonJSON:
			if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || json.Valid(r.body) {
				t.Fatalf("non-json answer: %q %s", r.header.Get("Content-Type"), r.body)
			}
		case FaultMalformedJSON:
			if r.header.Get("Content-Type") != "application/json" || json.Valid(r.body) {
				t.Fatalf("malformed-json answer: %q %s", r.header.Get("Content-Type"), r.body)
			}
		}
	}
	for _, f := range []Fault{FaultNonJSON, FaultMalformedJSON} {
		t.Run(string(f), func(t *testing.T) {
			p.SetFault(f)
			for _, call := range apiCalls(c, "k") {
				check(t, f, call())
			}
			p.ClearFaults()
			p.SetKeyFault("k", f)
			if r := c.post("/health", healthBody()); r.status != 200 || !json.Valid(r.body) {
				t.Fatalf("health under key fault: %s", r.body)
			}
			check(t, f, apiCalls(c, "k")[OpEncrypt]())
			p.ClearFaults()
		})
	}
}

func TestSlowFault(t *testing.T) {
	p := startProxy(t, Options{})
	c := newClient(t, p)
	prepare(t, p, c, "k", "other")
	kms := newClient(t, p)
	kms.hc.Timeout = 250 * time.Millisecond // KMS's XKS timeout

	timesOut := func(t *testing.T, path string, body any) {
		t.Helper()
		b, _ := json.Marshal(body)
		_, err := kms.raw("POST", p.URIPath()+path, b)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("want a client timeout, got %v", err)
		}
	}
	p.SetFault(FaultSlow)
	timesOut(t, "/health", healthBody())
	// Slow, not broken: a patient client gets the right answer, late.
	start := time.Now()
	h := mustDecode[HealthResponse](t, c.post("/health", healthBody()))
	if time.Since(start) < DefaultSlowDelay || len(h.EkmFleetDetails) == 0 {
		t.Fatalf("answered after %v: %+v", time.Since(start), h)
	}

	p.ClearFaults()
	p.SetKeyFault("k", FaultSlow)
	timesOut(t, "/keys/k/encrypt", encryptBody([]byte("x"), nil, false))
	mustDecode[EncryptResponse](t, c.post("/keys/other/encrypt", encryptBody([]byte("x"), nil, false)))
	start = time.Now()
	mustDecode[DecryptResponse](t, c.post("/keys/k/decrypt", decryptBody(ciphertexts["k"], nil)))
	if time.Since(start) < DefaultSlowDelay {
		t.Fatalf("slow key answered after %v", time.Since(start))
	}
}

func TestSlowFaultDoesNotBlockClose(t *testing.T) {
	p, err := New(Options{SlowDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	p.SetFault(FaultSlow)
	c := newClient(t, p)
	done := make(chan error, 1)
	go func() {
		b, _ := json.Marshal(healthBody())
		_, err := c.raw("POST", p.URIPath()+"/health", b)
		done <- err
	}()
	for p.slowHeld.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	p.Close() // must return although the handler sleeps for an hour
	if err := <-done; err == nil {
		t.Fatal("held request answered after Close")
	}
}

func TestUnreachableFault(t *testing.T) {
	p := startProxy(t, Options{})
	c := newClient(t, p)
	if r := c.post("/health", healthBody()); r.status != 200 {
		t.Fatal(r.status)
	}
	endpoint := p.URIEndpoint()
	if err := p.SetFault(FaultUnreachable); err != nil {
		t.Fatal(err)
	}
	// Both the kept-alive connection and a new dial fail.
	for i := 0; i < 2; i++ {
		b, _ := json.Marshal(healthBody())
		_, err := c.raw("POST", p.URIPath()+"/health", b)
		if err == nil {
			t.Fatal("request reached an unreachable proxy")
		}
		if i == 1 && !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("want connection refused, got %v", err)
		}
	}
	if err := p.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	if p.URIEndpoint() != endpoint {
		t.Fatalf("endpoint moved from %s to %s", endpoint, p.URIEndpoint())
	}
	if r := c.post("/health", healthBody()); r.status != 200 {
		t.Fatalf("after clearing: %d", r.status)
	}
}

func TestTLSFaults(t *testing.T) {
	p := startProxy(t, Options{ServerName: "xks.example.test"})
	cases := []struct {
		f     Fault
		check func(error) bool
	}{
		{FaultTLSExpired, func(err error) bool {
			var ce x509.CertificateInvalidError
			return errors.As(err, &ce) && ce.Reason == x509.Expired
		}},
		{FaultTLSWrongName, func(err error) bool {
			var he x509.HostnameError
			return errors.As(err, &he) && he.Certificate.DNSNames[0] == WrongServerName
		}},
		{FaultTLSUntrusted, func(err error) bool {
			var ue x509.UnknownAuthorityError
			return errors.As(err, &ue)
		}},
		{FaultTLSOldVersion, func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "protocol version")
		}},
	}
	for _, host := range []string{"xks.example.test", "localhost", "127.0.0.1"} {
		for _, tc := range cases {
			t.Run(host+"/"+string(tc.f), func(t *testing.T) {
				p.SetFault(tc.f)
				conn, err := tls.Dial("tcp", p.Addr(), &tls.Config{ServerName: host, RootCAs: p.CertPool()})
				if err == nil {
					conn.Close()
				}
				if !tc.check(err) {
					t.Fatalf("handshake error %v", err)
				}
				p.ClearFaults()
				conn, err = tls.Dial("tcp", p.Addr(), &tls.Config{ServerName: host, RootCAs: p.CertPool()})
				if err != nil {
					t.Fatalf("after clearing: %v", err)
				}
				if v := conn.ConnectionState().Version; v < tls.VersionTLS12 {
					t.Fatalf("TLS version %x", v)
				}
				conn.Close()
			})
		}
	}
	// Through the HTTP client, with a connection kept alive from before.
	c := newClient(t, p)
	if r := c.post("/health", healthBody()); r.status != 200 {
		t.Fatal(r.status)
	}
	p.SetFault(FaultTLSExpired)
	b, _ := json.Marshal(healthBody())
	// The proxy closed the kept-alive connection; the first POST may see
	// that (EOF: POSTs are not retried) before a new handshake fails.
	_, err := c.raw("POST", p.URIPath()+"/health", b)
	if !cases[0].check(err) {
		_, err = c.raw("POST", p.URIPath()+"/health", b)
	}
	if !cases[0].check(err) {
		t.Fatalf("kept-alive client after the fault: %v", err)
	}
	p.ClearFaults()
}

func TestHealthFaults(t *testing.T) {
	p := startProxy(t, Options{EKMCount: 3})
	c := newClient(t, p)
	prepare(t, p, c, "k")
	want := map[Fault][]string{
		FaultHealthUnavailable:          {"UNAVAILABLE", "UNAVAILABLE", "UNAVAILABLE"},
		FaultHealthDegraded:             {"DEGRADED", "DEGRADED", "DEGRADED"},
		FaultHealthPartiallyUnavailable: {"UNAVAILABLE", "ACTIVE", "ACTIVE"},
		FaultNone:                       {"ACTIVE", "ACTIVE", "ACTIVE"},
	}
	for f, statuses := range want {
		t.Run(string(f), func(t *testing.T) {
			p.SetFault(f)
			h := mustDecode[HealthResponse](t, c.post("/health", healthBody()))
			var got []string
			for _, e := range h.EkmFleetDetails {
				got = append(got, e.HealthStatus)
			}
			if strings.Join(got, ",") != strings.Join(statuses, ",") {
				t.Fatalf("statuses %v, want %v", got, statuses)
			}
			// Only the health answer changes.
			for op, call := range apiCalls(c, "k") {
				if r := call(); r.status != 200 {
					t.Fatalf("%s under %s: %d", op, f, r.status)
				}
			}
			p.ClearFaults()
		})
	}
}

func TestFaultScopes(t *testing.T) {
	p := startProxy(t, Options{})
	for _, f := range Faults() {
		errProxy := p.SetFault(f)
		errKey := p.SetKeyFault("k", f)
		if errProxy != nil {
			t.Errorf("%s refused proxy-wide: %v", f, errProxy)
		}
		if f.KeyScoped() != (errKey == nil) {
			t.Errorf("%s: KeyScoped %v but SetKeyFault error %v", f, f.KeyScoped(), errKey)
		}
		p.ClearFaults()
	}
	if p.SetFault("nonsense") == nil || p.SetKeyFault("k", "nonsense") == nil {
		t.Fatal("unknown fault accepted")
	}
	p.SetKeyFault("k", FaultInternal)
	p.SetFault(FaultThrottling)
	if p.Fault() != FaultThrottling || p.KeyFaults()["k"] != FaultInternal {
		t.Fatal("fault getters")
	}
	p.ClearFaults()
	if p.Fault() != FaultNone || len(p.KeyFaults()) != 0 {
		t.Fatal("ClearFaults left faults")
	}
}

func TestPlainHTTP(t *testing.T) {
	p := startProxy(t, Options{PlainHTTP: true})
	if !strings.HasPrefix(p.URIEndpoint(), "http://") || p.CACertPEM() != nil || p.CertPool() != nil {
		t.Fatalf("plain proxy endpoint %s", p.URIEndpoint())
	}
	c := newClient(t, p)
	if r := c.post("/health", healthBody()); r.status != 200 {
		t.Fatal(r.status)
	}
}

func TestUnreachableBeforeStart(t *testing.T) {
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.SetFault(FaultUnreachable)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := newClient(t, p)
	b, _ := json.Marshal(healthBody())
	if _, err := c.raw("POST", p.URIPath()+"/health", b); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("want connection refused, got %v", err)
	}
	p.ClearFaults()
	if r := c.post("/health", healthBody()); r.status != 200 {
		t.Fatal(r.status)
	}
}

// TestAnswerShapeFaults: each answer under an answer-shape fault breaks
// the next rule of the spec's response shape, only for its own API, and
// the key's other APIs answer as usual.
func TestAnswerShapeFaults(t *testing.T) {
	p := startProxy(t, Options{})
	c := newClient(t, p)
	prepare(t, p, c, "k")
	metadata := func() map[string]json.RawMessage {
		return mustDecode[map[string]json.RawMessage](t, apiCalls(c, "k")[OpGetKeyMetadata]())
	}
	p.SetKeyFault("k", FaultBadMetadataAnswer)
	for i, broken := range []func(map[string]json.RawMessage) bool{
		func(d map[string]json.RawMessage) bool { _, has := d["keySpec"]; return !has },
		func(d map[string]json.RawMessage) bool { _, has := d["keyStatus"]; return !has },
		func(d map[string]json.RawMessage) bool { _, has := d["keyUsage"]; return !has },
		func(d map[string]json.RawMessage) bool {
			var u []string
			return json.Unmarshal(d["keyUsage"], &u) == nil && len(u) == 11
		},
	} {
		if d := metadata(); !broken(d) {
			t.Errorf("metadata answer %d is not broken as documented: %v", i, d)
		}
	}
	if r := apiCalls(c, "k")[OpEncrypt](); r.status != 200 {
		t.Fatalf("encrypt under bad-metadata-answer: %d %s", r.status, r.body)
	}
	if r := apiCalls(c, "k")[OpDecrypt](); r.status != 200 {
		t.Fatalf("decrypt under bad-metadata-answer: %d %s", r.status, r.body)
	}

	p.ClearFaults()
	p.SetFault(FaultBadEncryptAnswer) // proxy-wide works too
	encrypt := func() EncryptResponse {
		r := c.post("/keys/k/encrypt", encryptBody([]byte("plaintext"), []byte("aad"), true))
		return mustDecode[EncryptResponse](t, r)
	}
	sound := func(e EncryptResponse) bool {
		return bytes.Equal(e.CiphertextDataIntegrityValue, cdiv([]byte("aad"), e.CiphertextMetadata, e.InitializationVector, e.Ciphertext, e.AuthenticationTag))
	}
	for i, broken := range []func(EncryptResponse) bool{
		// Each break alone: the integrity value matches what is there.
		func(e EncryptResponse) bool { return len(e.InitializationVector) == 8 && sound(e) },
		func(e EncryptResponse) bool { return len(e.AuthenticationTag) == 12 && sound(e) },
		func(e EncryptResponse) bool { return len(e.CiphertextMetadata) == 21 && sound(e) },
		func(e EncryptResponse) bool { return len(e.Ciphertext) == len("plaintext")+1 && sound(e) },
		func(e EncryptResponse) bool { return !sound(e) },
	} {
		if e := encrypt(); !broken(e) {
			t.Errorf("encrypt answer %d is not broken as documented: %+v", i, e)
		}
	}
	if d := metadata(); string(d["keySpec"]) != `"AES_256"` {
		t.Fatalf("metadata under bad-encrypt-answer: %v", d)
	}
	p.ClearFaults()
	if e := encrypt(); len(e.InitializationVector) != 12 || len(e.AuthenticationTag) != 16 {
		t.Fatalf("cleared fault still shapes: %+v", e)
	}

	if p.SetKeyFault("k", FaultBadHealthAnswer) == nil {
		t.Fatal("bad-health-answer accepted as a key fault")
	}
	p.SetFault(FaultBadHealthAnswer)
	health := func() map[string]json.RawMessage {
		return mustDecode[map[string]json.RawMessage](t, c.post("/health", healthBody()))
	}
	ekms := func(d map[string]json.RawMessage) int {
		var e []EKMStatus
		_ = json.Unmarshal(d["ekmFleetDetails"], &e)
		return len(e)
	}
	for i, broken := range []func(map[string]json.RawMessage) bool{
		func(d map[string]json.RawMessage) bool { _, has := d["xksProxyFleetSize"]; return !has },
		func(d map[string]json.RawMessage) bool { return string(d["xksProxyFleetSize"]) == "0" },
		func(d map[string]json.RawMessage) bool { _, has := d["ekmFleetDetails"]; return !has },
		func(d map[string]json.RawMessage) bool { return ekms(d) == 11 },
	} {
		if d := health(); !broken(d) {
			t.Errorf("health answer %d is not broken as documented: %v", i, d)
		}
	}
	if r := apiCalls(c, "k")[OpEncrypt](); r.status != 200 {
		t.Fatalf("encrypt under bad-health-answer: %d %s", r.status, r.body)
	}
	p.ClearFaults()
}
