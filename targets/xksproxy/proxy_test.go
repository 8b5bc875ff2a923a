package xksproxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestEncryptDecryptRoundTrip(t *testing.T) {
	p := startProxy(t, Options{})
	if _, err := p.Keys().Create("key-1", KeyOptions{}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, p)
	cases := []struct {
		name string
		pt   []byte
		aad  []byte
	}{
		{"no AAD", []byte("Hello World!"), nil},
		{"AAD", []byte("Hello World!"), []byte("project=nile,department=marketing")},
		{"empty plaintext", []byte{}, []byte("a")},
		{"spec maximums", bytes.Repeat([]byte{7}, 4300), bytes.Repeat([]byte{9}, 8192)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			enc := mustDecode[EncryptResponse](t, c.post("/keys/key-1/encrypt", encryptBody(tc.pt, tc.aad, true)))
			if len(enc.Ciphertext) != len(tc.pt) || len(enc.InitializationVector) != 12 || len(enc.AuthenticationTag) != 16 {
				t.Fatalf("shape: ct %d iv %d tag %d", len(enc.Ciphertext), len(enc.InitializationVector), len(enc.AuthenticationTag))
			}
			if len(enc.CiphertextMetadata) == 0 || len(enc.CiphertextMetadata) > 20 {
				t.Fatalf("ciphertextMetadata %q", enc.CiphertextMetadata)
			}
			h := sha256.New()
			for _, b := range [][]byte{tc.aad, enc.CiphertextMetadata, enc.InitializationVector, enc.Ciphertext, enc.AuthenticationTag} {
				h.Write(b)
			}
			if !bytes.Equal(h.Sum(nil), enc.CiphertextDataIntegrityValue) {
				t.Fatal("CDIV is not SHA-256(AAD || metadata || IV || ciphertext || tag)")
			}
			if len(tc.pt) > 0 && bytes.Equal(enc.Ciphertext, tc.pt) {
				t.Fatal("ciphertext equals plaintext")
			}
			dec := mustDecode[DecryptResponse](t, c.post("/keys/key-1/decrypt", decryptBody(enc, tc.aad)))
			if !bytes.Equal(dec.Plaintext, tc.pt) {
				t.Fatalf("round trip: got %d bytes, want %d", len(dec.Plaintext), len(tc.pt))
			}
		})
	}
	// Without the CDIV algorithm there is no CDIV; without metadata option, no metadata.
	enc := mustDecode[EncryptResponse](t, c.post("/keys/key-1/encrypt", encryptBody([]byte("x"), nil, false)))
	if enc.CiphertextDataIntegrityValue != nil {
		t.Fatal("CDIV returned although not requested")
	}
	p2 := startProxy(t, Options{NoCiphertextMetadata: true})
	p2.Keys().Create("k", KeyOptions{})
	enc = mustDecode[EncryptResponse](t, newClient(t, p2).post("/keys/k/encrypt", encryptBody([]byte("x"), nil, false)))
	if enc.CiphertextMetadata != nil {
		t.Fatal("ciphertextMetadata returned with NoCiphertextMetadata")
	}
}

func TestDecryptRejectsTampering(t *testing.T) {
	p := startProxy(t, Options{})
	p.Keys().Create("key-1", KeyOptions{})
	p.Keys().Create("key-2", KeyOptions{})
	c := newClient(t, p)
	aad := []byte("context")
	enc := mustDecode[EncryptResponse](t, c.post("/keys/key-1/encrypt", encryptBody([]byte("secret data"), aad, false)))
	flip := func(b []byte) []byte { b = bytes.Clone(b); b[0] ^= 1; return b }

	cases := map[string]func() (string, map[string]any){
		"wrong key": func() (string, map[string]any) { return "key-2", decryptBody(enc, aad) },
		"tampered ciphertext": func() (string, map[string]any) {
			e := enc
			e.Ciphertext = flip(e.Ciphertext)
			return "key-1", decryptBody(e, aad)
		},
		"tampered tag": func() (string, map[string]any) {
			e := enc
			e.AuthenticationTag = flip(e.AuthenticationTag)
			return "key-1", decryptBody(e, aad)
		},
		"tampered IV": func() (string, map[string]any) {
			e := enc
			e.InitializationVector = flip(e.InitializationVector)
			return "key-1", decryptBody(e, aad)
		},
		"tampered metadata": func() (string, map[string]any) {
			e := enc
			e.CiphertextMetadata = flip(e.CiphertextMetadata)
			return "key-1", decryptBody(e, aad)
		},
		"wrong AAD":   func() (string, map[string]any) { return "key-1", decryptBody(enc, []byte("contexT")) },
		"missing AAD": func() (string, map[string]any) { return "key-1", decryptBody(enc, nil) },
		"metadata moved into AAD": func() (string, map[string]any) {
			// The length fields of the key-manager AAD make this fail.
			e := enc
			e.CiphertextMetadata = nil
			return "key-1", decryptBody(e, append(bytes.Clone(aad), enc.CiphertextMetadata...))
		},
		"IV of 13 bytes": func() (string, map[string]any) {
			e := enc
			e.InitializationVector = append(bytes.Clone(e.InitializationVector), 0)
			return "key-1", decryptBody(e, aad)
		},
		"short tag": func() (string, map[string]any) {
			e := enc
			e.AuthenticationTag = e.AuthenticationTag[:15]
			return "key-1", decryptBody(e, aad)
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			key, body := mk()
			wantError(t, c.post("/keys/"+key+"/decrypt", body), 400, ErrInvalidCiphertext)
		})
	}
	// The untampered request still decrypts: the failures above are the tampering.
	mustDecode[DecryptResponse](t, c.post("/keys/key-1/decrypt", decryptBody(enc, aad)))
}

func TestSigV4(t *testing.T) {
	p := startProxy(t, Options{})
	second, _ := GenerateCredential()
	if err := p.AddCredential(second); err != nil {
		t.Fatal(err)
	}
	ok := func(c *client) {
		t.Helper()
		r := c.post("/health", healthBody())
		if r.status != 200 {
			t.Fatalf("want 200, got %d %s", r.status, r.body)
		}
	}
	refused := func(c *client) {
		t.Helper()
		wantError(t, c.post("/health", healthBody()), 401, ErrAuthenticationFailed)
	}

	t.Run("first credential", func(t *testing.T) { ok(newClient(t, p)) })
	t.Run("second credential", func(t *testing.T) {
		c := newClient(t, p)
		c.cred = second
		ok(c)
	})
	t.Run("any region", func(t *testing.T) {
		c := newClient(t, p)
		c.region = "eu-west-3"
		ok(c)
	})
	t.Run("within skew", func(t *testing.T) {
		c := newClient(t, p)
		c.when = time.Now().Add(-4 * time.Minute)
		ok(c)
	})
	t.Run("tampered body", func(t *testing.T) {
		c := newClient(t, p)
		c.mutate = func(r *http.Request) {
			b := []byte(`{"requestMetadata":{"kmsRequestId":"r-2","kmsOperation":"KmsHealthCheck"}}`)
			r.Body = ioNopCloser(b)
			r.ContentLength = int64(len(b))
		}
		refused(c)
	})
	t.Run("tampered path", func(t *testing.T) {
		p.Keys().Create("k1", KeyOptions{})
		c := newClient(t, p)
		body, _ := json.Marshal(map[string]any{"requestMetadata": md("CreateKey")})
		c.mutate = func(r *http.Request) { r.URL.Path = strings.Replace(r.URL.Path, "/health", "/keys/k1/metadata", 1) }
		res, err := c.raw("POST", p.URIPath()+"/health", body)
		if err != nil {
			t.Fatal(err)
		}
		wantError(t, res, 401, ErrAuthenticationFailed)
	})
	t.Run("wrong secret", func(t *testing.T) {
		c := newClient(t, p)
		c.cred.SecretAccessKey = second.SecretAccessKey
		refused(c)
	})
	t.Run("unknown access key id", func(t *testing.T) {
		c := newClient(t, p)
		other, _ := GenerateCredential()
		c.cred = other
		refused(c)
	})
	t.Run("wrong service", func(t *testing.T) {
		c := newClient(t, p)
		c.service = "kms"
		refused(c)
	})
	t.Run("stale date", func(t *testing.T) {
		c := newClient(t, p)
		c.when = time.Now().Add(-6 * time.Minute)
		refused(c)
	})
	t.Run("future date", func(t *testing.T) {
		c := newClient(t, p)
		c.when = time.Now().Add(6 * time.Minute)
		refused(c)
	})
	t.Run("no signature", func(t *testing.T) {
		c := newClient(t, p)
		c.mutate = func(r *http.Request) { r.Header.Del("Authorization") }
		refused(c)
	})
	t.Run("date header changed", func(t *testing.T) {
		c := newClient(t, p)
		c.mutate = func(r *http.Request) {
			d, _ := time.Parse(amzDate, r.Header.Get("X-Amz-Date"))
			r.Header.Set("X-Amz-Date", d.Add(time.Second).Format(amzDate))
		}
		refused(c)
	})
	t.Run("removed credential", func(t *testing.T) {
		first := p.Credential()
		if err := p.RemoveCredential(first.AccessKeyID); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, p)
		c.cred = first
		refused(c)
		c.cred = second
		ok(c)
	})
	t.Run("region restriction", func(t *testing.T) {
		pr := startProxy(t, Options{Region: "us-west-2"})
		c := newClient(t, pr)
		c.region = "us-west-2"
		ok(c)
		c.region = "us-east-1"
		refused(c)
	})
}

func TestSigV4AuthErrorsNeverLeakSecrets(t *testing.T) {
	p := startProxy(t, Options{})
	c := newClient(t, p)
	c.cred.SecretAccessKey = strings.Repeat("A", 44)
	r := c.post("/health", healthBody())
	wantError(t, r, 401, ErrAuthenticationFailed)
	secret := p.Credential().SecretAccessKey
	recs, _ := json.Marshal(p.Requests())
	for _, s := range []string{string(r.body), string(recs)} {
		if strings.Contains(s, secret) || strings.Contains(s, c.cred.SecretAccessKey) {
			t.Fatalf("secret leaked: %s", s)
		}
	}
	// Of the Authorization header, only the access key id is kept: the
	// one clue to which credential a client used.
	got := p.Requests()
	if len(got) != 1 || got[0].SignatureValid || !got[0].SummaryOnly || got[0].AccessKeyID != p.Credential().AccessKeyID || got[0].Signature != "" {
		t.Fatalf("recorded %+v", got)
	}
}

func TestRoutingAndMethods(t *testing.T) {
	p := startProxy(t, Options{PathPrefix: "/tenant-1"})
	if p.URIPath() != "/tenant-1/kms/xks/v1" {
		t.Fatalf("URIPath %q", p.URIPath())
	}
	c := newClient(t, p)
	for _, path := range []string{
		"/kms/xks/v1/health",                    // missing prefix
		"/other/kms/xks/v1/health",              // wrong prefix
		"/tenant-1/kms/xks/v2/health",           // wrong version
		"/tenant-1/kms/xks/v1/healthz",          // unknown operation
		"/tenant-1/kms/xks/v1/keys/k/sign",      // unknown key operation
		"/tenant-1/kms/xks/v1/keys//encrypt",    // empty key id
		"/tenant-1/kms/xks/v1/keys/a/b/encrypt", // key id with a slash
		"/tenant-1/kms/xks/v1/health?x=1",       // query string
		"/",
	} {
		r, err := c.raw("POST", path, []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		wantError(t, r, 404, ErrInvalidURIPath)
	}
	for _, m := range []string{"GET", "PUT", "DELETE", "PATCH"} {
		r, err := c.raw(m, p.URIPath()+"/keys/k/encrypt", nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 405 || r.header.Get("Allow") != "POST" {
			t.Fatalf("%s: got %d Allow=%q", m, r.status, r.header.Get("Allow"))
		}
	}
	if r := c.post("/health", healthBody()); r.status != 200 {
		t.Fatalf("health under prefix: %d %s", r.status, r.body)
	}
}

func TestHealth(t *testing.T) {
	p := startProxy(t, Options{EKMCount: 3})
	c := newClient(t, p)
	h := mustDecode[HealthResponse](t, c.post("/health", healthBody()))
	if h.XksProxyFleetSize < 1 || h.XksProxyVendor == "" || h.XksProxyModel == "" || h.EkmVendor == "" || len(h.EkmFleetDetails) != 3 {
		t.Fatalf("health %+v", h)
	}
	for _, e := range h.EkmFleetDetails {
		if e.HealthStatus != "ACTIVE" || e.ID == "" || e.Model == "" {
			t.Fatalf("ekm %+v", e)
		}
	}
	// GetHealthStatus is exempt from authorization: a deny-all rule still
	// gets 200.
	p.SetDenyRules([]DenyRule{{}})
	if r := c.post("/health", healthBody()); r.status != 200 {
		t.Fatalf("health under a deny-all rule: %d %s", r.status, r.body)
	}
}

// TestHealthValidatesRequestMetadata: GetHealthStatus requires
// requestMetadata with kmsRequestId and kmsOperation (spec §7.2, XKS spec
// 0.0.15 on), like every other API: without them, 400 ValidationException.
// It requires nothing else (no awsPrincipalArn), and accepts any
// kmsOperation, as the spec asks.
func TestHealthValidatesRequestMetadata(t *testing.T) {
	p := startProxy(t, Options{})
	c := newClient(t, p)
	for _, body := range []string{
		``,
		`null`,
		`not json`,
		`[]`,
		`{}`,
		`{"requestMetadata":null}`,
		`{"requestMetadata":42}`,
		`{"requestMetadata":{}}`,
		`{"requestMetadata":{"kmsOperation":"KmsHealthCheck"}}`,
		`{"requestMetadata":{"kmsRequestId":"r-1"}}`,
		`{"requestMetadata":{"kmsRequestId":"","kmsOperation":"KmsHealthCheck"}}`,
		`{"requestMetadata":{"kmsRequestId":"r-1","kmsOperation":""}}`,
		`{"requestMetadata":{"kmsRequestId":"r-1","kmsOperation":"KmsHealthCheck"}} {}`,
	} {
		r := c.post("/health", body)
		if r.status != 400 || r.errorName() != ErrValidation {
			t.Errorf("health with body %q: %d %s, want 400 ValidationException", body, r.status, r.body)
		}
	}
	for _, body := range []string{
		`{"requestMetadata":{"kmsRequestId":"r-1","kmsOperation":"KmsHealthCheck"}}`,
		`{"requestMetadata":{"kmsRequestId":"r-2","kmsOperation":"CreateCustomKeyStore","awsPrincipalArn":"a"}}`,
		`{"requestMetadata":{"kmsRequestId":"r-3","kmsOperation":"SomeFutureOperation","newField":1}}`,
	} {
		h := mustDecode[HealthResponse](t, c.post("/health", body))
		if h.XksProxyFleetSize < 1 || len(h.EkmFleetDetails) < 1 {
			t.Errorf("health with body %q: %+v", body, h)
		}
	}
	// The refusal is recorded with what it carried.
	var seen bool
	for _, r := range p.Requests() {
		if r.Operation == OpGetHealthStatus && r.Status == 400 && r.ErrorName == ErrValidation {
			seen = true
		}
	}
	if !seen {
		t.Error("no refused health check in Requests")
	}
}

func TestValidation(t *testing.T) {
	p := startProxy(t, Options{})
	p.Keys().Create("k", KeyOptions{})
	c := newClient(t, p)
	enc := mustDecode[EncryptResponse](t, c.post("/keys/k/encrypt", encryptBody([]byte("x"), nil, false)))
	without := func(b map[string]any, field string) map[string]any { delete(b, field); return b }
	with := func(b map[string]any, field string, v any) map[string]any { b[field] = v; return b }
	mdWithout := func(field string) map[string]any { m := md("Encrypt"); delete(m, field); return m }
	cases := []struct {
		name string
		path string
		body any
	}{
		{"not JSON", "encrypt", "plaintext=1"},
		{"JSON array", "encrypt", "[]"},
		{"trailing data", "encrypt", `{"requestMetadata":{}} {}`},
		{"no requestMetadata", "encrypt", without(encryptBody([]byte("x"), nil, false), "requestMetadata")},
		{"no awsPrincipalArn", "encrypt", with(encryptBody([]byte("x"), nil, false), "requestMetadata", mdWithout("awsPrincipalArn"))},
		{"no kmsOperation", "encrypt", with(encryptBody([]byte("x"), nil, false), "requestMetadata", mdWithout("kmsOperation"))},
		{"no kmsRequestId", "encrypt", with(encryptBody([]byte("x"), nil, false), "requestMetadata", mdWithout("kmsRequestId"))},
		{"no kmsKeyArn on encrypt", "encrypt", with(encryptBody([]byte("x"), nil, false), "requestMetadata", mdWithout("kmsKeyArn"))},
		{"no plaintext", "encrypt", without(encryptBody([]byte("x"), nil, false), "plaintext")},
		{"plaintext not base64", "encrypt", with(encryptBody(nil, nil, false), "plaintext", "***")},
		{"plaintext a number", "encrypt", with(encryptBody(nil, nil, false), "plaintext", 5)},
		{"wrong algorithm", "encrypt", with(encryptBody([]byte("x"), nil, false), "encryptionAlgorithm", "AES_CBC")},
		{"no algorithm", "encrypt", without(encryptBody([]byte("x"), nil, false), "encryptionAlgorithm")},
		{"wrong CDIV algorithm", "encrypt", with(encryptBody([]byte("x"), nil, false), "ciphertextDataIntegrityValueAlgorithm", "SHA_1")},
		{"AAD over 65535 bytes", "encrypt", encryptBody([]byte("x"), make([]byte, 65536), false)},
		{"no ciphertext", "decrypt", without(decryptBody(enc, nil), "ciphertext")},
		{"no IV", "decrypt", without(decryptBody(enc, nil), "initializationVector")},
		{"no tag", "decrypt", without(decryptBody(enc, nil), "authenticationTag")},
		{"metadata over 20 bytes", "decrypt", with(decryptBody(enc, nil), "ciphertextMetadata", make([]byte, 21))},
		{"no requestMetadata on metadata", "metadata", "{}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, c.post("/keys/k/"+tc.path, tc.body), 400, ErrValidation)
		})
	}
	t.Run("bad key id", func(t *testing.T) {
		wantError(t, c.post("/keys/k%21/metadata", map[string]any{"requestMetadata": md("CreateKey")}), 400, ErrValidation)
		wantError(t, c.post("/keys/"+strings.Repeat("a", 129)+"/metadata", map[string]any{"requestMetadata": md("CreateKey")}), 400, ErrValidation)
	})
	t.Run("body too large", func(t *testing.T) {
		wantError(t, c.post("/keys/k/encrypt", make([]byte, maxBodyBytes+1)), 400, ErrValidation)
	})
	t.Run("unknown fields and kmsOperations are accepted", func(t *testing.T) {
		b := encryptBody([]byte("x"), nil, false)
		m := md("BulkEncrypt")
		m["someFutureField"] = "v"
		b["requestMetadata"] = m
		b["anotherField"] = true
		mustDecode[EncryptResponse](t, c.post("/keys/k/encrypt", b))
	})
}

func TestKeyRegistry(t *testing.T) {
	p := startProxy(t, Options{})
	ks := p.Keys()
	c := newClient(t, p)
	meta := func(id string) result {
		return c.post("/keys/"+id+"/metadata", map[string]any{"requestMetadata": md("CreateKey")})
	}
	encrypt := func(id string) result { return c.post("/keys/"+id+"/encrypt", encryptBody([]byte("x"), nil, false)) }

	if _, err := ks.Create("k", KeyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Create("k", KeyOptions{}); err == nil {
		t.Fatal("duplicate key created")
	}
	if _, err := ks.Create("bad/id", KeyOptions{}); err == nil {
		t.Fatal("bad id accepted")
	}
	m := mustDecode[KeyMetadataResponse](t, meta("k"))
	if m.KeySpec != "AES_256" || m.KeyStatus != "ENABLED" || strings.Join(m.KeyUsage, ",") != "ENCRYPT,DECRYPT" {
		t.Fatalf("metadata %+v", m)
	}
	enc := mustDecode[EncryptResponse](t, encrypt("k"))

	ks.Disable("k")
	if m := mustDecode[KeyMetadataResponse](t, meta("k")); m.KeyStatus != "DISABLED" {
		t.Fatalf("disabled key reports %s", m.KeyStatus)
	}
	wantError(t, encrypt("k"), 400, ErrInvalidState)
	wantError(t, c.post("/keys/k/decrypt", decryptBody(enc, nil)), 400, ErrInvalidState)
	ks.Enable("k")
	mustDecode[DecryptResponse](t, c.post("/keys/k/decrypt", decryptBody(enc, nil)))

	ks.SetUsage("k", []string{"DECRYPT", "SIGN"})
	wantError(t, encrypt("k"), 400, ErrInvalidKeyUsage)
	mustDecode[DecryptResponse](t, c.post("/keys/k/decrypt", decryptBody(enc, nil)))
	ks.SetUsage("k", []string{"ENCRYPT"})
	wantError(t, c.post("/keys/k/decrypt", decryptBody(enc, nil)), 400, ErrInvalidKeyUsage)
	if m := mustDecode[KeyMetadataResponse](t, meta("k")); strings.Join(m.KeyUsage, ",") != "ENCRYPT" {
		t.Fatalf("usage %v", m.KeyUsage)
	}
	ks.SetUsage("k", []string{"ENCRYPT", "DECRYPT"})
	ks.SetSpec("k", "RSA_2048")
	wantError(t, encrypt("k"), 400, ErrInvalidKeyUsage)
	if m := mustDecode[KeyMetadataResponse](t, meta("k")); m.KeySpec != "RSA_2048" {
		t.Fatalf("spec %v", m.KeySpec)
	}

	if err := ks.Delete("k"); err != nil {
		t.Fatal(err)
	}
	wantError(t, meta("k"), 404, ErrKeyNotFound)
	wantError(t, encrypt("k"), 404, ErrKeyNotFound)
	if err := ks.Delete("k"); err == nil {
		t.Fatal("second delete succeeded")
	}

	// Imported material decrypts what another proxy encrypted.
	material := bytes.Repeat([]byte{1}, 32)
	ks.Create("imp", KeyOptions{Material: material})
	p2 := startProxy(t, Options{})
	p2.Keys().Create("imp", KeyOptions{Material: material})
	enc = mustDecode[EncryptResponse](t, encrypt("imp"))
	mustDecode[DecryptResponse](t, newClient(t, p2).post("/keys/imp/decrypt", decryptBody(enc, nil)))
}

func TestDenyRules(t *testing.T) {
	p := startProxy(t, Options{})
	p.Keys().Create("k", KeyOptions{})
	c := newClient(t, p)
	alice := encryptBody([]byte("x"), nil, false)
	bob := encryptBody([]byte("x"), nil, false)
	bm := md("Encrypt")
	bm["awsPrincipalArn"] = "arn:aws:iam::123456789012:user/Bob"
	bob["requestMetadata"] = bm

	p.SetDenyRules([]DenyRule{{AWSPrincipalARN: "arn:aws:iam::123456789012:user/Bob"}})
	wantError(t, c.post("/keys/k/encrypt", bob), 403, ErrAccessDenied)
	mustDecode[EncryptResponse](t, c.post("/keys/k/encrypt", alice))

	p.SetDenyRules([]DenyRule{{KMSOperation: "GenerateDataKey"}})
	gdk := encryptBody([]byte("x"), nil, false)
	gdk["requestMetadata"] = md("GenerateDataKey")
	wantError(t, c.post("/keys/k/encrypt", gdk), 403, ErrAccessDenied)
	mustDecode[EncryptResponse](t, c.post("/keys/k/encrypt", alice))

	p.SetDenyRules([]DenyRule{{Operation: OpGetKeyMetadata, KeyID: "k"}})
	wantError(t, c.post("/keys/k/metadata", map[string]any{"requestMetadata": md("CreateKey")}), 403, ErrAccessDenied)
	mustDecode[EncryptResponse](t, c.post("/keys/k/encrypt", alice))

	p.SetDenyRules(nil)
	mustDecode[KeyMetadataResponse](t, c.post("/keys/k/metadata", map[string]any{"requestMetadata": md("CreateKey")}))
}

func TestRecordedRequests(t *testing.T) {
	var logs bytes.Buffer
	p := startProxy(t, Options{Logger: newTestLogger(&logs)})
	p.Keys().Create("k", KeyOptions{})
	c := newClient(t, p)
	pt := []byte("TOP-SECRET-PLAINTEXT")
	aad := []byte("aad-value")
	enc := mustDecode[EncryptResponse](t, c.post("/keys/k/encrypt", encryptBody(pt, aad, true)))
	mustDecode[DecryptResponse](t, c.post("/keys/k/decrypt", decryptBody(enc, aad)))

	reqs := p.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests recorded", len(reqs))
	}
	r := reqs[0]
	if r.Operation != OpEncrypt || r.KeyID != "k" || r.Metadata.KMSOperation != "Encrypt" ||
		r.Metadata.AWSPrincipalARN != testMetadata["awsPrincipalArn"] || r.EncryptionAlgorithm != "AES_GCM" ||
		r.CDIVAlgorithm != "SHA_256" || !bytes.Equal(r.AAD, aad) || r.PlaintextLen != len(pt) ||
		!r.SignatureValid || r.AccessKeyID != p.Credential().AccessKeyID || r.Service != ServiceName ||
		r.Region != "us-east-1" || r.Status != 200 || r.Seq != 1 || r.AmzDate == "" ||
		!contains(r.SignedHeaders, "host") || !contains(r.SignedHeaders, "x-amz-date") {
		t.Fatalf("encrypt record %+v", r)
	}
	if d := reqs[1]; d.Operation != OpDecrypt || !bytes.Equal(d.CiphertextMetadata, enc.CiphertextMetadata) || d.Seq != 2 {
		t.Fatalf("decrypt record %+v", d)
	}
	dump, _ := json.Marshal(reqs)
	b64 := base64.StdEncoding.EncodeToString(pt)
	for _, s := range []string{string(dump), logs.String()} {
		if strings.Contains(s, string(pt)) || strings.Contains(s, b64) || strings.Contains(s, p.Credential().SecretAccessKey) {
			t.Fatalf("plaintext or secret leaked into %s", s)
		}
	}
	if !strings.Contains(logs.String(), "4112f4d6-db54-4af4-ae30-c55a22a8dfae") {
		t.Fatal("kmsRequestId not logged")
	}
	p.ResetRequests()
	if len(p.Requests()) != 0 {
		t.Fatal("reset kept requests")
	}
}

func TestRecorderIsBounded(t *testing.T) {
	p := startProxy(t, Options{MaxRecorded: 3})
	c := newClient(t, p)
	for n := 1; n <= 8; n++ {
		c.post("/health", healthBody())
		reqs := p.Requests()
		want := min(n, 3)
		if len(reqs) != want {
			t.Fatalf("after %d requests: %d recorded", n, len(reqs))
		}
		for i, r := range reqs {
			if r.Seq != int64(n-want+i+1) {
				t.Fatalf("after %d requests: seq[%d] = %d", n, i, r.Seq)
			}
		}
	}
}

func TestCredentialHidesSecret(t *testing.T) {
	c, err := GenerateCredential()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	newTestLogger(&logs).Info("cred", "c", c)
	for _, s := range []string{c.String(), fmtSprintf("%v %+v %#v %s", c, c, c, c), logs.String()} {
		if strings.Contains(s, c.SecretAccessKey) {
			t.Fatalf("secret in %q", s)
		}
		if !strings.Contains(s, c.AccessKeyID) {
			t.Fatalf("access key id missing from %q", s)
		}
	}
	for _, bad := range []Credential{
		{AccessKeyID: "short", SecretAccessKey: c.SecretAccessKey},
		{AccessKeyID: "ABCDEFGHIJKLMNOPQRS1", SecretAccessKey: c.SecretAccessKey}, // 1 is not base32
		{AccessKeyID: c.AccessKeyID, SecretAccessKey: "tooshort"},
	} {
		if bad.Validate() == nil {
			t.Fatalf("%v accepted", bad)
		}
	}
}
