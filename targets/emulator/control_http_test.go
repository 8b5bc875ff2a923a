package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// SignControl signs a control-plane request the way a client must when the
// emulator checks signatures: SigV4 by one of its credentials, for
// ControlServiceName in its Region, with the SDK's own signer. It is
// exported for the package's external tests (a _test.go file: not part of
// the package's API).
func SignControl(t testing.TB, req *http.Request, body []byte, akid, secret, region string) {
	t.Helper()
	sum := sha256.Sum256(body)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, req,
		hex.EncodeToString(sum[:]), ControlServiceName, region, time.Now())
	if err != nil {
		t.Fatal(err)
	}
}

// hostile counts the control-plane requests these tests make as an
// attacker would, and how many of them were refused (README's figure).
var hostile struct{ sent, refused atomic.Int64 }

func TestMain(m *testing.M) {
	code := m.Run()
	if n := hostile.sent.Load(); n > 0 && testing.Verbose() {
		fmt.Printf("control plane: %d hostile requests, %d refused\n", n, hostile.refused.Load())
	}
	os.Exit(code)
}

// syncBuffer is a log sink the server writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ctlReq is one raw control-plane request.
type ctlReq struct {
	method, path, body string
	header             map[string]string
	host               string // the Host header; empty means the URL's
	sign               bool   // sign with testAKID for ControlServiceName
	hostile            bool   // counted in the refused-requests figure
}

func (e *env) control(c ctlReq) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(c.method, e.emu.URL()+ControlPrefix+c.path, strings.NewReader(c.body))
	if err != nil {
		e.t.Fatal(err)
	}
	if c.body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	if c.host != "" {
		req.Host = c.host
	}
	if c.sign {
		SignControl(e.t, req, []byte(c.body), testAKID, testSecret, e.emu.Region())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if c.hostile {
		hostile.sent.Add(1)
		if resp.StatusCode >= 400 {
			hostile.refused.Add(1)
		}
	}
	if resp.StatusCode != http.StatusOK {
		var m map[string]string
		if json.Unmarshal(raw, &m) != nil || m["error"] == "" {
			e.t.Errorf("%s %s: %d is not a JSON error: %q", c.method, c.path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, string(raw)
}

var jsonCT = map[string]string{"Content-Type": "application/json"}

// stateIntact checks that the cluster and the store made before a hostile
// request are still there, in memory and in the state file.
func (e *env) stateIntact(clusterID, storeID string) {
	e.t.Helper()
	if _, err := e.emu.Cluster(clusterID); err != nil {
		e.t.Fatalf("the cluster is gone: %v", err)
	}
	e.describe(storeID)
}

// A web page can make a browser POST to any address, loopback included,
// without a preflight when the body is text/plain: such a request wiped a
// -state-file server. It, and every other form a page can send, is
// refused, and the state is what it was.
func TestControlRefusesCrossSiteSimpleRequests(t *testing.T) {
	e := newEnv(t, Options{})
	e.cluster("cluster-abcdefghijk")
	id := e.createHSMStore("s", "cluster-abcdefghijk")
	for _, c := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"text/plain from a page", map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example"}, 403},
		{"text/plain, Origin stripped", map[string]string{"Content-Type": "text/plain"}, 415},
		{"form", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415},
		{"multipart", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, 415},
		{"no type", nil, 415},
		{"json from a page (after a preflight)", map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, 403},
		{"sandboxed frame", map[string]string{"Content-Type": "text/plain", "Origin": "null"}, 403},
		{"navigation from a page", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403},
		{"same site, other port", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"}, 403},
	} {
		if st, body := e.control(ctlReq{method: "POST", path: "reset", body: `{}`, header: c.header, hostile: true}); st != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, st, body, c.want)
		}
		e.stateIntact("cluster-abcdefghijk", id)
	}
	for _, c := range []ctlReq{
		{method: "POST", path: "clusters/cluster-abcdefghijk/kmsuser-password", body: `{"password":"attackerPw1"}`, header: map[string]string{"Content-Type": "text/plain"}},
		{method: "DELETE", path: "clusters/cluster-abcdefghijk"},
		{method: "PUT", path: "xks-routes/xks.example.com", body: `{"addr":"127.0.0.1:1"}`, header: map[string]string{"Content-Type": "text/plain"}},
	} {
		c.hostile = true
		if st, body := e.control(c); st != 415 {
			t.Errorf("%s %s: %d %s", c.method, c.path, st, body)
		}
	}
	if ok, _ := e.emu.CheckKmsUserPassword("cluster-abcdefghijk", testPassword); !ok {
		t.Fatal("the kmsuser password changed")
	}
	e.stateIntact("cluster-abcdefghijk", id)
	// What a client sends is taken: JSON, with or without a charset.
	if st, body := e.control(ctlReq{method: "GET", path: "clusters/cluster-abcdefghijk"}); st != 200 {
		t.Fatalf("GET without a type: %d %s", st, body)
	}
	if st, body := e.control(ctlReq{method: "POST", path: "stores/" + id + "/hold", header: map[string]string{"Content-Type": "application/json; charset=utf-8"}}); st != 200 {
		t.Fatalf("hold: %d %s", st, body)
	}
	if st, body := e.control(ctlReq{method: "POST", path: "reset", header: jsonCT}); st != 200 {
		t.Fatalf("reset: %d %s", st, body)
	}
	if _, err := e.emu.Cluster("cluster-abcdefghijk"); err == nil {
		t.Fatal("reset kept the cluster")
	}
}

// A DNS rebinding makes a page's own name resolve to 127.0.0.1: the
// browser then sends its requests with that name as Host. Only the address
// served (and its loopback forms, and names the operator lists) is taken.
func TestControlRefusesForeignHosts(t *testing.T) {
	e := newEnv(t, Options{ControlHosts: []string{"kms.internal", "Other.Example:8080"}})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(e.emu.URL(), "http://"))
	for _, c := range []struct {
		host string
		want int
	}{
		{"evil.example:" + port, 421},
		{"127.0.0.1.nip.io:" + port, 421},
		{"localhost.evil.example:" + port, 421},
		{"127.0.0.1:1", 421},
		{"localhost", 421}, // port 80
		{"10.0.0.1:" + port, 421},
		{"other.example:" + port, 421},
		{"127.0.0.1:" + port, 200},
		{"LOCALHOST:" + port, 200},
		{"[::1]:" + port, 200},
		{"kms.internal:" + port, 200},
		{"kms.internal", 200},
		{"other.example:8080", 200},
	} {
		before := e.clock.Now()
		st, body := e.control(ctlReq{method: "POST", path: "clock/advance", body: `{"seconds":1}`, header: jsonCT, host: c.host, hostile: c.want != 200})
		if st != c.want {
			t.Errorf("Host %s: %d %s, want %d", c.host, st, body, c.want)
		}
		if moved := e.clock.Now().Sub(before); (moved != 0) != (c.want == 200) {
			t.Errorf("Host %s: the clock moved %v", c.host, moved)
		}
	}
}

// Under Credentials the control plane is signed like the API, for its own
// service name: an unsigned request, one signed for kms, one with the wrong
// secret, one whose signature leaves the content type out and one replayed
// to another path are refused and change nothing.
func TestControlIsSignedUnderCredentials(t *testing.T) {
	e := newEnv(t, Options{Credentials: map[string]string{testAKID: testSecret}})
	e.cluster("cluster-abcdefghijk")
	id := e.createHSMStore("s", "cluster-abcdefghijk")
	url := e.emu.URL() + ControlPrefix
	send := func(req *http.Request) (int, string) {
		t.Helper()
		hostile.sent.Add(1)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 400 {
			hostile.refused.Add(1)
		}
		return resp.StatusCode, string(raw)
	}
	newReq := func(method, path, body string) *http.Request {
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	sum := func(b string) string { s := sha256.Sum256([]byte(b)); return hex.EncodeToString(s[:]) }
	creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
	signer := v4.NewSigner()

	if st, body := send(newReq("POST", "reset", "")); st != 403 || !strings.Contains(body, "MissingAuthenticationToken") {
		t.Errorf("unsigned: %d %s", st, body)
	}
	req := newReq("POST", "reset", "")
	_ = signer.SignHTTP(e.ctx, creds, req, sum(""), "kms", "us-east-1", time.Now())
	if st, body := send(req); st != 403 || !strings.Contains(body, ControlServiceName) {
		t.Errorf("signed for kms: %d %s", st, body)
	}
	req = newReq("POST", "reset", "")
	_ = signer.SignHTTP(e.ctx, aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: "wrong"}, req, sum(""), ControlServiceName, "us-east-1", time.Now())
	if st, body := send(req); st != 403 || !strings.Contains(body, "InvalidSignature") {
		t.Errorf("wrong secret: %d %s", st, body)
	}
	req, _ = http.NewRequest("POST", url+"reset", nil)
	_ = signer.SignHTTP(e.ctx, creds, req, sum(""), ControlServiceName, "us-east-1", time.Now())
	req.Header.Set("Content-Type", "application/json") // after signing: not covered
	if st, body := send(req); st != 403 || !strings.Contains(body, "content-type") {
		t.Errorf("content type not signed: %d %s", st, body)
	}
	req = newReq("POST", "stores/"+id+"/hold", "")
	_ = signer.SignHTTP(e.ctx, creds, req, sum(""), ControlServiceName, "us-east-1", time.Now())
	req.URL.Path = ControlPrefix + "reset" // a captured hold replayed as a reset
	if st, body := send(req); st != 403 || !strings.Contains(body, "InvalidSignature") {
		t.Errorf("replayed to another path: %d %s", st, body)
	}
	req = newReq("POST", "clusters/cluster-abcdefghijk/kmsuser-password", `{"password":"attackerPw1"}`)
	_ = signer.SignHTTP(e.ctx, creds, req, sum(`{"password":"other"}`), ControlServiceName, "us-east-1", time.Now())
	if st, body := send(req); st != 403 {
		t.Errorf("body not the one signed: %d %s", st, body)
	}
	e.stateIntact("cluster-abcdefghijk", id)
	if ok, _ := e.emu.CheckKmsUserPassword("cluster-abcdefghijk", testPassword); !ok {
		t.Fatal("the kmsuser password changed")
	}

	// The signed path works, GET and POST, with the SDK's signer as with
	// curl's (which signs content-type, host and x-amz-date).
	if st, body := e.control(ctlReq{method: "GET", path: "stores/" + id, sign: true}); st != 200 || !strings.Contains(body, id) {
		t.Fatalf("signed GET: %d %s", st, body)
	}
	if st, body := e.control(ctlReq{method: "POST", path: "clusters/cluster-abcdefghijk/kmsuser-password", body: `{"password":"changedPw1"}`, header: jsonCT, sign: true}); st != 200 {
		t.Fatalf("signed POST: %d %s", st, body)
	}
	if ok, _ := e.emu.CheckKmsUserPassword("cluster-abcdefghijk", "changedPw1"); !ok {
		t.Fatal("the signed password change was not made")
	}
	if st, body := e.control(ctlReq{method: "POST", path: "reset", header: jsonCT, sign: true}); st != 200 {
		t.Fatalf("signed reset: %d %s", st, body)
	}
	// A KMS request signed for the control plane is not a KMS request.
	kreq, _ := http.NewRequest("POST", e.emu.URL()+"/", strings.NewReader(`{}`))
	kreq.Header.Set("Content-Type", "application/x-amz-json-1.1")
	kreq.Header.Set("X-Amz-Target", "TrentService.CreateKey")
	_ = signer.SignHTTP(e.ctx, creds, kreq, sum(`{}`), ControlServiceName, "us-east-1", time.Now())
	kresp, err := http.DefaultClient.Do(kreq)
	if err != nil {
		t.Fatal(err)
	}
	kraw, _ := io.ReadAll(kresp.Body)
	kresp.Body.Close()
	if st, body := kresp.StatusCode, string(kraw); st != 400 || !strings.Contains(body, "InvalidSignatureException") {
		t.Errorf("KMS request signed for the control plane: %d %s", st, body)
	}
}

// An unauthenticated route to another TLS listener re-routed a store's
// signed XKS traffic. Over HTTP, a route dials loopback unless
// AllowRemoteRoutes (serve's -allow-remote).
func TestControlRouteAddressIsLoopback(t *testing.T) {
	e := newEnv(t, Options{})
	route := func(addr string, hostileReq bool) (int, string) {
		return e.control(ctlReq{method: "PUT", path: "xks-routes/xks.example.com", body: `{"addr":"` + addr + `"}`, header: jsonCT, hostile: hostileReq})
	}
	for _, addr := range []string{"10.1.2.3:443", "attacker.example:443", "[2001:db8::1]:443", "0.0.0.0:443", "127.0.0.1.nip.io:443"} {
		if st, body := route(addr, true); st != 403 || !strings.Contains(body, "-allow-remote") {
			t.Errorf("%s: %d %s", addr, st, body)
		}
	}
	if st, body := route("nonsense", true); st != 400 {
		t.Errorf("not host:port: %d %s", st, body)
	}
	e.emu.mu.Lock()
	_, routed := e.emu.st.Routes["xks.example.com"]
	e.emu.mu.Unlock()
	if routed {
		t.Fatal("a refused route was stored")
	}
	for _, addr := range []string{"127.0.0.1:8443", "localhost:8443", "[::1]:8443", ""} {
		if st, body := route(addr, false); st != 200 {
			t.Errorf("%q: %d %s", addr, st, body)
		}
	}
	remote := newEnv(t, Options{AllowRemoteRoutes: true})
	if st, body := remote.control(ctlReq{method: "PUT", path: "xks-routes/xks.example.com", body: `{"addr":"10.1.2.3:443"}`, header: jsonCT}); st != 200 {
		t.Fatalf("with AllowRemoteRoutes: %d %s", st, body)
	}
}

// What the log keeps of a request that fails authentication is short,
// whatever its size: a 60 KB X-Amz-Target made 60 KB of log per request.
func TestServerLogsAShortLineForAHugeOperation(t *testing.T) {
	var log syncBuffer
	e := newEnv(t, Options{Credentials: map[string]string{testAKID: testSecret}, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	huge := "TrentService." + strings.Repeat("A", 60<<10)
	a := post(t, e.emu.URL(), huge, "application/x-amz-json-1.1", []byte(`{}`))
	if a.status != 400 || a.body["__type"] != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned: %d %s", a.status, a.raw)
	}
	// And a control request with a huge path and Host.
	e.control(ctlReq{method: "POST", path: strings.Repeat("p", 30<<10), header: jsonCT, host: strings.Repeat("h", 20<<10), hostile: true})
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		if len(line) > 600 {
			t.Errorf("a log line of %d bytes: %.200s…", len(line), line)
		}
	}
	if !strings.Contains(log.String(), "(61440 bytes)") {
		t.Errorf("the log does not say how long the operation was: %s", log.String())
	}
}

// The operation and the content type must be under the signature: a
// request signed without X-Amz-Target could be replayed as any operation
// with the same body (a captured GenerateRandom as CreateKey).
func TestSigV4RequiresOperationAndContentTypeSigned(t *testing.T) {
	e := newEnv(t, Options{Credentials: map[string]string{testAKID: testSecret}})
	creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
	sum := sha256.Sum256([]byte(`{}`))
	for _, unsigned := range []string{"X-Amz-Target", "Content-Type"} {
		req, _ := http.NewRequest("POST", e.emu.URL()+"/", strings.NewReader(`{}`))
		headers := map[string]string{"X-Amz-Target": "TrentService.CreateKey", "Content-Type": "application/x-amz-json-1.1"}
		for k, v := range headers {
			if k != unsigned {
				req.Header.Set(k, v)
			}
		}
		if err := v4.NewSigner().SignHTTP(e.ctx, creds, req, hex.EncodeToString(sum[:]), "kms", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		req.Header.Set(unsigned, headers[unsigned]) // added after signing, as a replay would
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "IncompleteSignatureException" ||
			!strings.Contains(string(raw), strings.ToLower(unsigned)) {
			t.Errorf("%s not signed: %d %s", unsigned, resp.StatusCode, raw)
		}
	}
	out, err := e.kms.ListKeys(e.ctx, &kms.ListKeysInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Keys) != 0 {
		t.Fatalf("a key was created by an unsigned operation: %v", out.Keys)
	}
}

// A trickled body and an idle keep-alive each held a connection, and its
// descriptor, for ever. With short bounds both are closed.
func TestServerClosesTrickledBodiesAndIdleConnections(t *testing.T) {
	e := newEnv(t, Options{ReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
	addr := strings.TrimPrefix(e.emu.URL(), "http://")
	closedWithin := func(conn net.Conn, limit time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		_ = conn.SetReadDeadline(start.Add(limit))
		_, err := io.Copy(io.Discard, conn)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return -1
		}
		return time.Since(start)
	}

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "POST / HTTP/1.1\r\nHost: "+addr+"\r\nX-Amz-Target: TrentService.ListKeys\r\n"+
		"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 1000\r\n\r\n{")
	stop := make(chan struct{})
	defer close(stop)
	go func() { // one byte every 50 ms: the whole body would take 50 s
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	if d := closedWithin(conn, 5*time.Second); d < 0 || d > 3*time.Second {
		t.Errorf("a trickled body held its connection: %v", d)
	}

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	_, _ = io.WriteString(idle, "POST / HTTP/1.1\r\nHost: "+addr+"\r\nX-Amz-Target: TrentService.ListKeys\r\n"+
		"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}")
	buf := make([]byte, 4096)
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := idle.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
		t.Fatalf("first answer: %q %v", buf[:n], err)
	}
	if d := closedWithin(idle, 5*time.Second); d < 0 || d > 3*time.Second {
		t.Errorf("an idle keep-alive stayed open: %v", d)
	}
}

// The default bounds are set, and the write bound leaves room for the
// longest wait a request makes.
func TestServerDefaultBounds(t *testing.T) {
	e, err := New(Options{XKSTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := e.httpServer()
	if srv.ReadHeaderTimeout != DefaultReadHeaderTimeout || srv.ReadTimeout != DefaultReadTimeout || srv.IdleTimeout != DefaultIdleTimeout {
		t.Errorf("bounds: %v %v %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout)
	}
	if srv.WriteTimeout < settleLimit+4*20*time.Second {
		t.Errorf("write bound %v is shorter than a settle and four XKS calls", srv.WriteTimeout)
	}
	e2, _ := New(Options{})
	if w := e2.httpServer().WriteTimeout; w != DefaultWriteTimeout {
		t.Errorf("default write bound: %v", w)
	}
}
