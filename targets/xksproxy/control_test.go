package xksproxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

type ctlClient struct {
	t    *testing.T
	base string
	cred Credential
}

func (c ctlClient) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, c.base+ControlPrefix+path, bytes.NewReader(b))
	signRequest(c.t, req, b, c.cred, ControlServiceName, "us-east-1", time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (c ctlClient) ok(method, path string, body any) []byte {
	c.t.Helper()
	s, out := c.do(method, path, body)
	if s != 200 && s != 204 {
		c.t.Fatalf("%s %s: %d %s", method, path, s, out)
	}
	return out
}

func TestControlAPI(t *testing.T) {
	p := startProxy(t, Options{ControlAddr: "127.0.0.1:0"})
	ctl := ctlClient{t: t, base: "http://" + p.ControlAddr(), cred: p.Credential()}
	c := newClient(t, p)

	ctl.ok("POST", "/keys", map[string]any{"keyId": "k1"})
	ctl.ok("POST", "/keys", map[string]any{"keyId": "k2", "keyUsage": []string{"ENCRYPT"}, "keyStatus": "DISABLED"})
	if k, _ := p.Keys().Get("k2"); k.Status != "DISABLED" || len(k.Usage) != 1 {
		t.Fatalf("k2 %+v", k)
	}
	var keys []KeyInfo
	json.Unmarshal(ctl.ok("GET", "/keys", nil), &keys)
	if len(keys) != 2 || keys[0].ID != "k1" {
		t.Fatalf("keys %+v", keys)
	}
	ctl.ok("PATCH", "/keys/k2", map[string]any{"keyStatus": "ENABLED", "keySpec": "AES_128"})
	if k, _ := p.Keys().Get("k2"); k.Status != "ENABLED" || k.Spec != "AES_128" {
		t.Fatalf("patched k2 %+v", k)
	}
	ctl.ok("DELETE", "/keys/k2", nil)
	if s, out := ctl.do("GET", "/keys/k2", nil); s != 404 || !strings.Contains(string(out), "KeyNotFoundException") {
		t.Fatalf("deleted key: %d %s", s, out)
	}
	if s, _ := ctl.do("POST", "/keys", map[string]any{"keyId": "k1"}); s != 400 {
		t.Fatalf("duplicate key: %d", s)
	}
	if s, _ := ctl.do("POST", "/keys", map[string]any{"keyId": "k3", "typo": 1}); s != 400 {
		t.Fatalf("unknown field: %d", s)
	}

	ctl.ok("PUT", "/fault", map[string]any{"fault": "throttling"})
	wantError(t, c.post("/health", healthBody()), 429, ErrThrottling)
	ctl.ok("DELETE", "/fault", nil)
	ctl.ok("PUT", "/keys/k1/fault", map[string]any{"fault": "internal"})
	wantError(t, c.post("/keys/k1/encrypt", encryptBody([]byte("x"), nil, false)), 500, ErrInternal)
	if s, _ := ctl.do("PUT", "/keys/k1/fault", map[string]any{"fault": "unreachable"}); s != 400 {
		t.Fatalf("proxy-only fault on a key: %d", s)
	}
	ctl.ok("DELETE", "/keys/k1/fault", nil)
	mustDecode[EncryptResponse](t, c.post("/keys/k1/encrypt", encryptBody([]byte("x"), nil, false)))

	// The control listener stays up while the API is unreachable.
	ctl.ok("PUT", "/fault", map[string]any{"fault": "unreachable"})
	var st Status
	json.Unmarshal(ctl.ok("GET", "/status", nil), &st)
	if st.Fault != FaultUnreachable || st.URIPath != "/kms/xks/v1" || len(st.AccessKeyIDs) != 1 || st.Keys != 1 {
		t.Fatalf("status %+v", st)
	}
	ctl.ok("DELETE", "/faults", nil)
	if r := c.post("/health", healthBody()); r.status != 200 {
		t.Fatal(r.status)
	}

	var reqs []Request
	json.Unmarshal(ctl.ok("GET", "/requests", nil), &reqs)
	if len(reqs) == 0 || reqs[len(reqs)-1].Operation != OpGetHealthStatus {
		t.Fatalf("requests %+v", reqs)
	}
	ctl.ok("DELETE", "/requests", nil)
	if len(p.Requests()) != 0 {
		t.Fatal("requests not reset")
	}

	ctl.ok("PUT", "/deny-rules", []DenyRule{{KMSOperation: "Encrypt"}})
	wantError(t, c.post("/keys/k1/encrypt", encryptBody([]byte("x"), nil, false)), 403, ErrAccessDenied)
	ctl.ok("PUT", "/deny-rules", []DenyRule{})
	mustDecode[EncryptResponse](t, c.post("/keys/k1/encrypt", encryptBody([]byte("x"), nil, false)))

	// Rotation over HTTP: add, switch, remove the old one.
	next, _ := GenerateCredential()
	ctl.ok("POST", "/credentials", map[string]any{"accessKeyId": next.AccessKeyID, "secretAccessKey": next.SecretAccessKey})
	out := ctl.ok("GET", "/credentials", nil)
	if strings.Contains(string(out), next.SecretAccessKey) || !strings.Contains(string(out), next.AccessKeyID) {
		t.Fatalf("credentials answer %s", out)
	}
	old := p.Credential()
	ctl.cred = next
	ctl.ok("DELETE", "/credentials/"+old.AccessKeyID, nil)
	wantError(t, c.post("/health", healthBody()), 401, ErrAuthenticationFailed)
	c.cred = next
	if r := c.post("/health", healthBody()); r.status != 200 {
		t.Fatal(r.status)
	}

	if pem := ctl.ok("GET", "/ca.pem", nil); !bytes.Equal(pem, p.CACertPEM()) {
		t.Fatal("ca.pem differs")
	}
	if s, _ := ctl.do("GET", "/nope", nil); s != 404 {
		t.Fatalf("unknown route: %d", s)
	}
	if s, _ := ctl.do("POST", "/status", nil); s != 405 {
		t.Fatalf("wrong method: %d", s)
	}
}

func TestControlAPIRequiresSignature(t *testing.T) {
	p := startProxy(t, Options{ControlAddr: "127.0.0.1:0"})
	base := "http://" + p.ControlAddr() + ControlPrefix
	resp, err := http.Get(base + "/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("unsigned control request: %d", resp.StatusCode)
	}
	// An XKS API signature (other service) does not open the control plane.
	req, _ := http.NewRequest("GET", base+"/status", nil)
	signRequest(t, req, nil, p.Credential(), ServiceName, "us-east-1", time.Now())
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("control request signed for %s: %d", ServiceName, resp.StatusCode)
	}
}
