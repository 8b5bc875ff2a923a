package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/kmsconform/kmsconform/targets/xksproxy"
)

// waitFor polls until the command has printed s; the deadline only guards
// against a hung test, it asserts nothing about speed.
func waitFor(t *testing.T, o *lockedBuffer, s string, done <-chan int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(o.String(), s) {
		select {
		case code := <-done:
			t.Fatalf("command exited %d early; output:\n%s", code, o.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in output:\n%s", s, o.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func field(t *testing.T, out, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^  ` + name + ` +(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %s in output:\n%s", name, out)
	}
	return m[1]
}

func TestXKSProxyFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--bogus"},
		{"--slow-delay", "soon"},
		{"extra-arg"},
		{"--key", "bad/key"},
	} {
		var stdout, stderr bytes.Buffer
		code := runXKSProxy(context.Background(), args, &stdout, &stderr)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if lines := strings.Count(stderr.String(), "\n"); lines != 1 || stdout.Len() != 0 {
			t.Errorf("%v: stderr %q stdout %q, want one line on stderr", args, stderr.String(), stdout.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := runXKSProxy(context.Background(), []string{"-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "-credential-file") {
		t.Errorf("-h: exit %d, output %q", code, stdout.String())
	}
}

func TestXKSProxyServesAndStops(t *testing.T) {
	dir := t.TempDir()
	credFile := filepath.Join(dir, "xks-proxy-config.json")
	tlsDir := filepath.Join(dir, "tls")
	args := []string{"--addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0", "--tls-dir", tlsDir,
		"--credential-file", credFile, "--prefix", "/sandbox", "--key", "ext-1"}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- runXKSProxy(ctx, args, stdout, stderr) }()
	waitFor(t, stdout, "Stop with", done)
	out := stdout.String()
	endpoint, path := field(t, out, "XksProxyUriEndpoint"), field(t, out, "XksProxyUriPath")
	akid, secret := field(t, out, "AccessKeyId"), field(t, out, "RawSecretAccessKey")
	if path != "/sandbox/kms/xks/v1" {
		t.Fatalf("path %s", path)
	}
	// The endpoint is one KMS accepts, no port; the address is apart.
	if !regexp.MustCompile(`^https://[a-zA-Z0-9.-]+$`).MatchString(endpoint) || endpoint != "https://localhost" {
		t.Fatalf("XksProxyUriEndpoint %q", endpoint)
	}
	listen := field(t, out, "Listening on")
	if !regexp.MustCompile(`^https://127\.0\.0\.1:\d+$`).MatchString(listen) {
		t.Fatalf("listen address %q", listen)
	}
	if strings.Count(out, secret) != 1 {
		t.Fatalf("secret printed %d times", strings.Count(out, secret))
	}

	st, err := os.Stat(credFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credential file: %v %v", st, err)
	}
	var cfg xksProxyConfigFile
	b, _ := os.ReadFile(credFile)
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.XksProxyAuthenticationCredential.AccessKeyID != akid ||
		cfg.XksProxyAuthenticationCredential.RawSecretAccessKey != secret || cfg.XksProxyUriPath != path {
		t.Fatalf("credential file %+v, %v", cfg, err)
	}

	// A request signed with the printed credential, over HTTPS trusting the
	// CA in --tls-dir, is served.
	caPEM, err := os.ReadFile(filepath.Join(tlsDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	body := []byte(`{"requestMetadata":{"awsPrincipalArn":"arn:aws:iam::111122223333:user/a","kmsOperation":"CreateKey","kmsRequestId":"req-1"}}`)
	req, _ := http.NewRequest("POST", listen+path+"/keys/ext-1/metadata", bytes.NewReader(body))
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, req,
		hex.EncodeToString(sum[:]), "kms-xks-proxy", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(rb), `"keyStatus":"ENABLED"`) {
		t.Fatalf("metadata: %d %s", resp.StatusCode, rb)
	}

	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "stopped") {
		t.Fatal("no stop message")
	}
	logs := stderr.String()
	if !strings.Contains(logs, "req-1") || strings.Contains(logs, secret) {
		t.Fatalf("request log (must name the request, never the secret):\n%s", logs)
	}

	// A second run reuses the credential file and the CA, and keeps the
	// secret off the terminal.
	ctx2, cancel2 := context.WithCancel(context.Background())
	stdout2, stderr2 := &lockedBuffer{}, &lockedBuffer{}
	done2 := make(chan int, 1)
	go func() { done2 <- runXKSProxy(ctx2, args, stdout2, stderr2) }()
	waitFor(t, stdout2, "Stop with", done2)
	if field(t, stdout2.String(), "AccessKeyId") != akid || strings.Contains(stdout2.String(), secret) {
		t.Fatalf("second run output:\n%s", stdout2.String())
	}
	if again, _ := os.ReadFile(filepath.Join(tlsDir, "ca.pem")); !bytes.Equal(again, caPEM) {
		t.Fatal("CA regenerated")
	}
	cancel2()
	if code := <-done2; code != 0 {
		t.Fatalf("second run exit %d", code)
	}
}

func TestXKSProxyBadCredentialFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "cred.json")
	os.WriteFile(f, []byte(`{"XksProxyAuthenticationCredential":{"AccessKeyId":"lower","RawSecretAccessKey":"S3CRET-VALUE"}}`), 0o600)
	var stdout, stderr bytes.Buffer
	code := runXKSProxy(context.Background(), []string{"--addr", "127.0.0.1:0", "--control-addr", "", "--credential-file", f}, &stdout, &stderr)
	if code != 1 || strings.Contains(stderr.String(), "S3CRET") || !strings.Contains(stderr.String(), "access key id") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestXKSProxyStopsOnSIGTERM(t *testing.T) {
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- commands["xks-proxy"].run([]string{"--addr", "127.0.0.1:0", "--control-addr", "", "--plain-http"}, stdout, stderr)
	}()
	// The handler is installed before the banner is printed, so the signal
	// cannot reach the default action and kill the test binary.
	waitFor(t, stdout, "Stop with", done)
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
}

// TestXksProxyEndpointAndLog: the printed XksProxyUriEndpoint matches
// KMS's pattern for any --server-name, one that cannot is refused, the
// log is slog JSON on request, and -h says how to clear a fault.
func TestXksProxyEndpointAndLog(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- runXKSProxy(ctx, []string{"--addr", "127.0.0.1:0", "--control-addr", "", "--server-name", "xks.example.com",
			"--plain-http", "--log-format", "json"}, stdout, stderr)
	}()
	waitFor(t, stdout, "Stop with", done)
	out := stdout.String()
	if e := field(t, out, "XksProxyUriEndpoint"); e != "https://xks.example.com" {
		t.Fatalf("endpoint %q", e)
	}
	if l := field(t, out, "Listening on"); !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(l) {
		t.Fatalf("listen %q", l)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["level"] == nil || rec["msg"] == nil {
			t.Fatalf("not a slog JSON line: %q", line)
		}
	}
	if !strings.Contains(stderr.String(), `"xksProxyUriEndpoint":"https://xks.example.com"`) {
		t.Fatalf("log: %s", stderr.String())
	}

	for _, args := range [][]string{{"--server-name", "xks.example.com:8443"}, {"--server-name", "under_score"}, {"--log-format", "xml"}} {
		var o, e bytes.Buffer
		if code := runXKSProxy(context.Background(), append([]string{"--addr", "127.0.0.1:0", "--control-addr", ""}, args...), &o, &e); code != 2 ||
			strings.Count(e.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q", args, code, e.String())
		}
	}

	var help, e bytes.Buffer
	runXKSProxy(context.Background(), []string{"-h"}, &help, &e)
	for _, want := range []string{"DELETE /fault ", "DELETE /faults", "DELETE /keys/ID/fault", "-log-format", "health-unavailable", "Listening on"} {
		if want == "Listening on" {
			want = "listen address"
		}
		if !strings.Contains(help.String(), want) {
			t.Errorf("-h does not say %q:\n%s", want, help.String())
		}
	}
}

// TestXKSProxyIsBounded: the command's proxy has the package's bounds: a
// 64 KiB header is refused with 431, and an unsigned 1 MB request leaves
// a log line of a few hundred bytes without any of its body.
func TestXKSProxyIsBounded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- runXKSProxy(ctx, []string{"--addr", "127.0.0.1:0", "--control-addr", "", "--plain-http", "--key", "k"}, stdout, stderr)
	}()
	waitFor(t, stdout, "Stop with", done)
	url := field(t, stdout.String(), "Listening on") + "/kms/xks/v1/keys/k/encrypt"

	post := func(body []byte, hdr http.Header) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := post([]byte("{}"), http.Header{"X-Padding": {strings.Repeat("h", 64<<10)}}); s != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("64 KiB header: %d", s)
	}
	marker := "UNSIGNED-BODY/"
	body, _ := json.Marshal(map[string]any{"requestMetadata": map[string]string{
		"kmsRequestId": strings.Repeat(marker, 300_000/len(marker)), "kmsOperation": strings.Repeat(marker, 300_000/len(marker))}})
	before := len(stderr.String())
	if s := post(body, http.Header{"Content-Type": {"application/json"}}); s != http.StatusUnauthorized {
		t.Fatalf("unsigned request: %d", s)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	logged := stderr.String()[before:]
	if strings.Contains(logged, marker) || len(logged) > 2048 {
		t.Fatalf("an unsigned request of %d bytes logged %d bytes", len(body), len(logged))
	}
}

// TestXKSProxyHelpStatesLimits keeps the numbers in -h those of the proxy.
func TestXKSProxyHelpStatesLimits(t *testing.T) {
	var help bytes.Buffer
	runXKSProxy(context.Background(), []string{"-h"}, &help, io.Discard)
	text := strings.Join(strings.Fields(help.String()), " ")
	secs := func(d time.Duration) int { return int(d / time.Second) }
	for _, want := range []string{
		fmt.Sprintf("headers %d KiB", xksproxy.DefaultMaxHeaderBytes>>10),
		fmt.Sprintf("%d s to send the headers, %d s for the whole request", secs(xksproxy.DefaultReadHeaderTimeout), secs(xksproxy.DefaultReadTimeout)),
		fmt.Sprintf("close after %d s", secs(xksproxy.DefaultIdleTimeout)),
		fmt.Sprintf("the last %d,%03d requests within %d MiB", xksproxy.DefaultMaxRecorded/1000, xksproxy.DefaultMaxRecorded%1000, xksproxy.DefaultMaxRecordedBytes>>20),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("-h does not say %q:\n%s", want, help.String())
		}
	}
}
