package endpoint_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/kmsconform/kmsconform/targets"
	"github.com/kmsconform/kmsconform/targets/endpoint"
	"github.com/kmsconform/kmsconform/targets/xksproxy"
)

// xksHost is the proxy's name in the backing, as in XksProxyUriEndpoint;
// the test's XKS client dials the proxy whatever the name.
const xksHost = "xks.example.com"

// startXKSProxy runs a proxy with a control API on a loopback port, as
// `kmsconform xks-proxy` does, accepting cred.
func startXKSProxy(t *testing.T, cred xksproxy.Credential, o xksproxy.Options) *xksproxy.Proxy {
	t.Helper()
	o.ServerName = xksHost
	o.ControlAddr = "127.0.0.1:0"
	o.Credentials = []xksproxy.Credential{cred}
	o.SlowDelay = time.Millisecond // only the answer matters here, not the delay
	p, err := xksproxy.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func newCred(t *testing.T) xksproxy.Credential {
	t.Helper()
	c, err := xksproxy.GenerateCredential()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func modelCred(c xksproxy.Credential) targets.Credential {
	return targets.Credential{AccessKeyID: c.AccessKeyID, Secret: c.SecretAccessKey}
}

// backingFor is the backing of an endpoint whose KMS uses p.
func backingFor(p *xksproxy.Proxy, cred xksproxy.Credential) targets.Backing {
	return targets.Backing{XksEndpoint: "https://" + xksHost, XksPath: p.URIPath(), XksCredential: modelCred(cred),
		XksControlURL: "http://" + p.ControlAddr()}
}

// proxyTarget is an endpoint target (whose KMS is never called here) with
// the control of p; Close runs at cleanup unless the test closes it.
func proxyTarget(t *testing.T, b targets.Backing) (targets.Target, targets.ProxyControl) {
	t.Helper()
	isolate(t)
	cfg := targets.DefaultConfig()
	cfg.Endpoint.Backing = b
	tgt, err := endpoint.New(context.Background(), cfg, "http://127.0.0.1:1", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tgt.Close(context.Background()) })
	pc, ok := tgt.(targets.ProxyControl)
	if !ok {
		t.Fatalf("%T does not implement targets.ProxyControl", tgt)
	}
	// It changes its one proxy and has no other capability: a runner
	// maps the model's fixtures onto that proxy instead of running them.
	if hasCapability(tgt) {
		t.Fatalf("%T has a capability beyond ProxyControl", tgt)
	}
	return tgt, pc
}

// answer is what an XKS client saw: a transport error, or a response.
type answer struct {
	err         error
	status      int
	contentType string
	body        []byte
}

func (a answer) errorName() string {
	var e struct {
		Name string `json:"errorName"`
	}
	_ = json.Unmarshal(a.body, &e)
	return e.Name
}

func (a answer) ekmStatuses() []string {
	var h xksproxy.HealthResponse
	_ = json.Unmarshal(a.body, &h)
	var out []string
	for _, e := range h.EkmFleetDetails {
		out = append(out, e.HealthStatus)
	}
	return out
}

// xksCall sends one XKS API request to the proxy, signed with cred as KMS
// would, on a new connection (a kept-alive one would hide a listener or
// certificate change).
func xksCall(t *testing.T, p *xksproxy.Proxy, cred targets.Credential, op string, body any) answer {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "https://"+xksHost+p.URIPath()+op, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(b)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.Secret},
		req, hex.EncodeToString(sum[:]), xksproxy.ServiceName, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	tr := p.Transport()
	tr.DisableKeepAlives = true
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{err: err}
	}
	return answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: out}
}

func health(t *testing.T, p *xksproxy.Proxy, cred targets.Credential) answer {
	t.Helper()
	return xksCall(t, p, cred, "/health", map[string]any{"requestMetadata": map[string]any{"kmsRequestId": "r-1", "kmsOperation": "KmsHealthCheck"}})
}

func accessKeyIDs(p *xksproxy.Proxy) []string {
	var out []string
	for _, c := range p.Credentials() {
		out = append(out, c.AccessKeyID)
	}
	slices.Sort(out)
	return out
}

func TestPlainTargetHasNoProxyControl(t *testing.T) {
	isolate(t)
	cfg := targets.DefaultConfig()
	cfg.Endpoint.Backing = targets.Backing{XksEndpoint: "https://" + xksHost, XksCredential: targets.Credential{AccessKeyID: "AKIDAKIDAKIDAKIDAKID", Secret: "s"}}
	tgt, err := endpoint.New(context.Background(), cfg, "http://127.0.0.1:1", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tgt.(*endpoint.Target); !ok {
		t.Fatalf("without a control URL New returns %T", tgt)
	}
	if _, ok := tgt.(targets.ProxyControl); ok {
		t.Fatal("the plain endpoint target implements targets.ProxyControl")
	}
	var plain any = (*endpoint.Target)(nil)
	if _, ok := plain.(targets.ProxyControl); ok {
		t.Fatal("*endpoint.Target implements targets.ProxyControl")
	}
}

func TestProxyControlNeedsEndpointAndCredential(t *testing.T) {
	isolate(t)
	for _, b := range []targets.Backing{
		{XksControlURL: "http://127.0.0.1:8444"},
		{XksControlURL: "http://127.0.0.1:8444", XksEndpoint: "https://" + xksHost, XksCredential: targets.Credential{AccessKeyID: "AKIDAKIDAKIDAKIDAKID"}},
		{XksControlURL: "http://127.0.0.1:8444", XksCredential: targets.Credential{AccessKeyID: "AKIDAKIDAKIDAKIDAKID", Secret: "s"}},
	} {
		cfg := targets.DefaultConfig()
		cfg.Endpoint.Backing = b
		_, err := endpoint.New(context.Background(), cfg, "http://127.0.0.1:1", "")
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), targets.EnvXKSControlURL) ||
			!strings.Contains(err.Error(), targets.EnvXKSSecretAccessKey) {
			t.Fatalf("%v: %v", b, err)
		}
	}
}

// Each of the model's faults puts the proxy in its equivalent, and an XKS
// client (standing in for KMS) sees what the model says it sees.
func TestPutProxyFaults(t *testing.T) {
	cred := newCred(t)
	p := startXKSProxy(t, cred, xksproxy.Options{})
	tgt, pc := proxyTarget(t, backingFor(p, cred))
	if _, ok := tgt.(*endpoint.ProxyTarget); !ok {
		t.Fatalf("with a control URL New returns %T", tgt)
	}
	ctx := context.Background()
	mc := modelCred(cred)
	ok := func(a answer) bool {
		return a.err == nil && a.status == 200 && slices.Equal(a.ekmStatuses(), []string{"ACTIVE", "ACTIVE"})
	}
	xksError := func(status int, name string) func(answer) bool {
		return func(a answer) bool { return a.err == nil && a.status == status && a.errorName() == name }
	}
	cases := []struct {
		model targets.ProxyFault
		proxy xksproxy.Fault
		saw   func(answer) bool
	}{
		{"", xksproxy.FaultNone, ok},
		{"unreachable", xksproxy.FaultUnreachable, func(a answer) bool { return a.err != nil && strings.Contains(a.err.Error(), "refused") }},
		{"slow", xksproxy.FaultSlow, ok},
		{"tls-invalid", xksproxy.FaultTLSExpired, func(a answer) bool { return a.err != nil && strings.Contains(a.err.Error(), "expired") }},
		{"deny-all", xksproxy.FaultAccessDenied, xksError(403, "AccessDeniedException")},
		{"throttling", xksproxy.FaultThrottling, xksError(429, "ThrottlingException")},
		{"internal", xksproxy.FaultInternal, xksError(500, "InternalException")},
		{"dependency-timeout", xksproxy.FaultDependencyTimeout, xksError(503, "DependencyTimeoutException")},
		{"malformed", xksproxy.FaultNonJSON, func(a answer) bool {
			return a.err == nil && a.status == 200 && strings.HasPrefix(a.contentType, "text/html")
		}},
		{"ekm-unavailable", xksproxy.FaultHealthUnavailable, func(a answer) bool {
			return a.err == nil && a.status == 200 && slices.Equal(a.ekmStatuses(), []string{"UNAVAILABLE", "UNAVAILABLE"})
		}},
		{"ekm-degraded", xksproxy.FaultHealthDegraded, func(a answer) bool {
			return a.err == nil && a.status == 200 && slices.Equal(a.ekmStatuses(), []string{"DEGRADED", "DEGRADED"})
		}},
		{"", xksproxy.FaultNone, ok},
	}
	// Twice, in order and reversed, so each fault replaces others.
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}} {
		for _, i := range order {
			c := cases[i]
			if err := pc.PutProxy(ctx, targets.Proxy{Endpoint: "https://" + xksHost, Path: p.URIPath(), Accepted: []targets.Credential{mc}, Fault: c.model}); err != nil {
				t.Fatalf("%q: %v", c.model, err)
			}
			if got := p.Fault(); got != c.proxy {
				t.Fatalf("%q: the proxy's fault is %q, want %q", c.model, got, c.proxy)
			}
			if a := health(t, p, mc); !c.saw(a) {
				t.Fatalf("%q: GetHealthStatus: %v %d %s %s", c.model, a.err, a.status, a.contentType, a.body)
			}
		}
	}

	// Key faults are cleared too: the proxy has the one fault p asks for.
	if _, err := p.Keys().Create("k1", xksproxy.KeyOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []targets.ProxyFault{targets.ProxyThrottling, targets.ProxyHealthy} {
		if err := p.SetKeyFault("k1", xksproxy.FaultInternal); err != nil {
			t.Fatal(err)
		}
		if err := pc.PutProxy(ctx, targets.Proxy{Endpoint: "https://" + xksHost, Accepted: []targets.Credential{mc}, Fault: f}); err != nil {
			t.Fatal(err)
		}
		if kf := p.KeyFaults(); len(kf) != 0 || string(p.Fault()) != string(f) {
			t.Fatalf("%q: proxy fault %q, key faults %v", f, p.Fault(), kf)
		}
	}

	err := pc.PutProxy(ctx, targets.Proxy{Endpoint: "https://" + xksHost, Accepted: []targets.Credential{mc}, Fault: "gremlins"})
	if !errors.Is(err, targets.ErrUnsupported) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("unknown fault: %v", err)
	}
}

func TestPutProxyCredentials(t *testing.T) {
	cred := newCred(t)
	p := startXKSProxy(t, cred, xksproxy.Options{})
	tgt, pc := proxyTarget(t, backingFor(p, cred))
	ctx := context.Background()
	mc, other := modelCred(cred), modelCred(newCred(t))
	put := func(accepted ...targets.Credential) {
		t.Helper()
		if err := pc.PutProxy(ctx, targets.Proxy{Endpoint: "https://" + xksHost, Accepted: accepted}); err != nil {
			t.Fatal(err)
		}
	}
	accepts := func(c targets.Credential) bool {
		t.Helper()
		a := health(t, p, c)
		if a.err != nil {
			t.Fatal(a.err)
		}
		if a.status != 200 && a.errorName() != "AuthenticationFailedException" {
			t.Fatalf("%d %s", a.status, a.body)
		}
		return a.status == 200
	}
	// A credential the target did not add, and does not know the secret of.
	stranger := newCred(t)
	if err := p.AddCredential(stranger); err != nil {
		t.Fatal(err)
	}

	put(other)
	if accepts(mc) || !accepts(other) || accepts(modelCred(stranger)) {
		t.Fatal("after swapping, the proxy does not accept exactly the other credential")
	}
	// The target signs with a credential of its own meanwhile; it is the
	// only extra one.
	if ids := accessKeyIDs(p); len(ids) != 2 || !slices.Contains(ids, other.AccessKeyID) {
		t.Fatalf("credentials %v", ids)
	}

	put()
	if accepts(mc) || accepts(other) {
		t.Fatal("with no credential accepted, one is accepted")
	}
	if ids := accessKeyIDs(p); len(ids) != 1 || ids[0] == mc.AccessKeyID || ids[0] == other.AccessKeyID {
		t.Fatalf("credentials %v", ids)
	}

	put(mc, other, mc)
	if !accepts(mc) || !accepts(other) {
		t.Fatal("both credentials are not accepted")
	}
	want := []string{mc.AccessKeyID, other.AccessKeyID}
	slices.Sort(want)
	if ids := accessKeyIDs(p); !slices.Equal(ids, want) {
		t.Fatalf("with the configured credential back, the credentials are %v, want %v", ids, want)
	}

	// The configured access key id with another secret replaces it.
	rotated := targets.Credential{AccessKeyID: mc.AccessKeyID, Secret: other.Secret}
	put(rotated)
	if accepts(mc) || !accepts(rotated) {
		t.Fatal("the configured access key id's secret was not replaced")
	}

	// A credential the proxy refuses fails without the secret in the error.
	const leak = "NOT-A-SECRET-THE-PROXY-ACCEPTS-LEAKED"
	err := pc.PutProxy(ctx, targets.Proxy{Endpoint: "https://" + xksHost, Accepted: []targets.Credential{{AccessKeyID: "BADSECRETBADSECRET23", Secret: leak}}})
	if err == nil || strings.Contains(err.Error(), leak) || strings.Contains(err.Error(), mc.Secret) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("bad credential: %v", err)
	}

	put(other)
	if err := tgt.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := accessKeyIDs(p); !slices.Equal(ids, []string{mc.AccessKeyID}) || !accepts(mc) || accepts(other) {
		t.Fatalf("after Close the credentials are %v, want only the configured one", ids)
	}
}

func TestPutProxyKeys(t *testing.T) {
	cred := newCred(t)
	p := startXKSProxy(t, cred, xksproxy.Options{})
	for _, id := range []string{"pre", "untouched"} {
		if _, err := p.Keys().Create(id, xksproxy.KeyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tgt, pc := proxyTarget(t, backingFor(p, cred))
	ctx := context.Background()
	mc := modelCred(cred)
	both := []string{"ENCRYPT", "DECRYPT"}
	put := func(keys ...targets.ExternalKey) {
		t.Helper()
		if err := pc.PutProxy(ctx, targets.Proxy{Endpoint: "https://" + xksHost, Accepted: []targets.Credential{mc}, Keys: keys}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(id, spec string, usage []string, status string) {
		t.Helper()
		k, ok := p.Keys().Get(id)
		if !ok || k.Spec != spec || !slices.Equal(k.Usage, usage) || k.Status != status {
			t.Fatalf("key %s: %v %+v, want %s %v %s", id, ok, k, spec, usage, status)
		}
	}
	put(targets.ExternalKey{ID: "k-ok", Status: "ok"}, targets.ExternalKey{ID: "k-disabled", Status: "disabled"},
		targets.ExternalKey{ID: "k-spec", Status: "wrong-spec"}, targets.ExternalKey{ID: "k-usage", Status: "wrong-usage"},
		targets.ExternalKey{ID: "pre", Status: "disabled"})
	check("k-ok", "AES_256", both, "ENABLED")
	check("k-disabled", "AES_256", both, "DISABLED")
	check("k-spec", "RSA_2048", both, "ENABLED")
	check("k-usage", "AES_256", []string{"SIGN", "VERIFY"}, "ENABLED")
	check("pre", "AES_256", both, "DISABLED")
	check("untouched", "AES_256", both, "ENABLED")
	// The key answers KMS's way: GetKeyMetadata signed with the credential.
	a := xksCall(t, p, mc, "/keys/k-disabled/metadata", map[string]any{"requestMetadata": map[string]any{
		"awsPrincipalArn": "arn:aws:iam::111122223333:role/app", "kmsOperation": "CreateKey", "kmsRequestId": "r-2"}})
	if a.err != nil || a.status != 200 || !strings.Contains(string(a.body), `"keyStatus":"DISABLED"`) {
		t.Fatalf("GetKeyMetadata: %v %d %s", a.err, a.status, a.body)
	}

	// Unlisted keys stay; a listed one changes.
	put(targets.ExternalKey{ID: "k-ok", Status: "disabled"}, targets.ExternalKey{ID: "pre", Status: "wrong-usage"})
	check("k-ok", "AES_256", both, "DISABLED")
	check("k-spec", "RSA_2048", both, "ENABLED")
	check("pre", "AES_256", []string{"SIGN", "VERIFY"}, "ENABLED")

	if err := pc.PutProxy(ctx, targets.Proxy{Endpoint: "https://" + xksHost, Accepted: []targets.Credential{mc},
		Keys: []targets.ExternalKey{{ID: "k-x", Status: "exploded"}}}); !errors.Is(err, targets.ErrUnsupported) {
		t.Fatalf("unknown key status: %v", err)
	}

	if err := tgt.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range p.Keys().List() {
		ids = append(ids, k.ID)
	}
	if !slices.Equal(ids, []string{"pre", "untouched"}) {
		t.Fatalf("after Close the keys are %v", ids)
	}
	check("pre", "AES_256", both, "ENABLED")
}

// Only the configured proxy can be changed, at its one path.
func TestProxyControlRefusesOtherProxies(t *testing.T) {
	cred := newCred(t)
	p := startXKSProxy(t, cred, xksproxy.Options{})
	_, pc := proxyTarget(t, backingFor(p, cred))
	ctx := context.Background()
	mc := modelCred(cred)
	for _, err := range []error{
		pc.PutProxy(ctx, targets.Proxy{Endpoint: "https://other.example.com", Accepted: []targets.Credential{mc}, Fault: "internal"}),
		pc.DeleteProxy(ctx, "https://other.example.com"),
		pc.PutProxy(ctx, targets.Proxy{Endpoint: "https://" + xksHost, Path: "/tenant-2/kms/xks/v1", Accepted: []targets.Credential{mc}, Fault: "internal"}),
	} {
		if !errors.Is(err, targets.ErrUnsupported) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("got %v, want ErrUnsupported", err)
		}
	}
	if p.Fault() != xksproxy.FaultNone {
		t.Fatalf("a refused call changed the proxy: fault %q", p.Fault())
	}
	err := pc.PutProxy(ctx, targets.Proxy{Endpoint: "https://other.example.com"})
	if !strings.Contains(err.Error(), targets.EnvXKSControlURL) {
		t.Fatalf("the error does not say which proxy can be changed: %v", err)
	}
}

func TestDeleteProxy(t *testing.T) {
	cred := newCred(t)
	p := startXKSProxy(t, cred, xksproxy.Options{})
	tgt, pc := proxyTarget(t, backingFor(p, cred))
	ctx := context.Background()
	mc := modelCred(cred)
	if err := pc.DeleteProxy(ctx, "https://"+xksHost); err != nil {
		t.Fatal(err)
	}
	if a := health(t, p, mc); a.err == nil || p.Fault() != xksproxy.FaultUnreachable {
		t.Fatalf("after DeleteProxy the proxy answers: %d %s", a.status, a.body)
	}
	if err := pc.PutProxy(ctx, targets.Proxy{Endpoint: "https://" + xksHost, Accepted: []targets.Credential{mc}}); err != nil {
		t.Fatal(err)
	}
	if a := health(t, p, mc); a.err != nil || a.status != 200 {
		t.Fatalf("after PutProxy: %v %d", a.err, a.status)
	}
	if err := pc.DeleteProxy(ctx, "https://"+xksHost); err != nil {
		t.Fatal(err)
	}
	if err := tgt.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if a := health(t, p, mc); a.err != nil || a.status != 200 || p.Fault() != xksproxy.FaultNone {
		t.Fatalf("after Close: %v %d", a.err, a.status)
	}
}

// Close puts back everything at once, even with the configured credential
// gone, and a second Close has nothing left to do.
func TestCloseRestoresTheProxy(t *testing.T) {
	cred := newCred(t)
	p := startXKSProxy(t, cred, xksproxy.Options{})
	if _, err := p.Keys().Create("pre", xksproxy.KeyOptions{}); err != nil {
		t.Fatal(err)
	}
	rules := []xksproxy.DenyRule{{KMSOperation: "Decrypt"}}
	p.SetDenyRules(rules)
	tgt, pc := proxyTarget(t, backingFor(p, cred))
	ctx := context.Background()
	mc, other := modelCred(cred), modelCred(newCred(t))
	if err := pc.PutProxy(ctx, targets.Proxy{Endpoint: "https://" + xksHost, Accepted: []targets.Credential{other}, Fault: "tls-invalid",
		Keys: []targets.ExternalKey{{ID: "new", Status: "ok"}, {ID: "pre", Status: "wrong-spec"}}}); err != nil {
		t.Fatal(err)
	}
	if len(p.DenyRules()) != 0 {
		t.Fatalf("deny rules %v are left: the proxy does not match the model", p.DenyRules())
	}
	if err := p.SetKeyFault("pre", xksproxy.FaultInternal); err != nil {
		t.Fatal(err)
	}
	if err := tgt.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if p.Fault() != xksproxy.FaultNone || len(p.KeyFaults()) != 0 {
		t.Fatalf("faults %q %v", p.Fault(), p.KeyFaults())
	}
	if ids := accessKeyIDs(p); !slices.Equal(ids, []string{mc.AccessKeyID}) {
		t.Fatalf("credentials %v", ids)
	}
	if _, ok := p.Keys().Get("new"); ok {
		t.Fatal("the key the target created is left")
	}
	if k, _ := p.Keys().Get("pre"); k.Spec != "AES_256" {
		t.Fatalf("pre %+v", k)
	}
	if !slices.Equal(p.DenyRules(), rules) {
		t.Fatalf("deny rules %v", p.DenyRules())
	}
	if a := health(t, p, mc); a.err != nil || a.status != 200 {
		t.Fatalf("after Close: %v %d %s", a.err, a.status, a.body)
	}
	if err := tgt.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// A proxy that serves plain HTTP behind a TLS terminator has no TLS
// faults.
func TestPlainHTTPProxyHasNoTLSFault(t *testing.T) {
	cred := newCred(t)
	p := startXKSProxy(t, cred, xksproxy.Options{PlainHTTP: true})
	_, pc := proxyTarget(t, backingFor(p, cred))
	err := pc.PutProxy(context.Background(), targets.Proxy{Endpoint: "https://" + xksHost, Accepted: []targets.Credential{modelCred(cred)}, Fault: "tls-invalid"})
	if !errors.Is(err, targets.ErrUnsupported) {
		t.Fatalf("got %v, want ErrUnsupported", err)
	}
}

// A configured credential the proxy does not accept fails in one line
// that says so, without the secret.
func TestControlAPIRefusesAWrongCredential(t *testing.T) {
	cred := newCred(t)
	p := startXKSProxy(t, cred, xksproxy.Options{})
	wrong := cred
	wrong.SecretAccessKey = newCred(t).SecretAccessKey
	_, pc := proxyTarget(t, backingFor(p, wrong))
	err := pc.PutProxy(context.Background(), targets.Proxy{Endpoint: "https://" + xksHost, Accepted: []targets.Credential{modelCred(wrong)}})
	if err == nil || !strings.Contains(err.Error(), "AuthenticationFailedException") || !strings.Contains(err.Error(), targets.EnvXKSSecretAccessKey) ||
		strings.Contains(err.Error(), wrong.SecretAccessKey) || strings.Contains(err.Error(), cred.SecretAccessKey) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("wrong credential: %v", err)
	}
}

// A control URL that is not an xks-proxy's control API says so.
func TestControlURLThatIsNotAProxy(t *testing.T) {
	cred := newCred(t)
	p := startXKSProxy(t, cred, xksproxy.Options{})
	b := backingFor(p, cred)
	b.XksControlURL = startEmulator(t, nil) // a KMS, not a control API
	_, pc := proxyTarget(t, b)
	err := pc.PutProxy(context.Background(), targets.Proxy{Endpoint: "https://" + xksHost, Accepted: []targets.Credential{modelCred(cred)}})
	if err == nil || !strings.Contains(err.Error(), targets.EnvXKSControlURL) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("not a control API: %v", err)
	}
}
