package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsconform/kmsconform/targets/emulator"
)

func TestServeFlags(t *testing.T) {
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-bogus"}, 2, "flag provided but not defined"},
		{[]string{"-addr", "0.0.0.0:4599"}, 2, "not a loopback address"},
		{[]string{"-addr", "nonsense"}, 2, "is not host:port"},
		{[]string{"-state-file", "/tmp/x"}, 2, "KMSCONFORM_STATE_PASSPHRASE"},
		{[]string{"extra"}, 2, "unexpected argument"},
	}
	t.Setenv("KMSCONFORM_STATE_PASSPHRASE", "")
	for _, tc := range cases {
		var out, errb lockedBuffer
		code := serve(context.Background(), tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.out) || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%v: code %d, stderr %q", tc.args, code, errb.String())
		}
	}
	var out, errb lockedBuffer
	if code := serve(context.Background(), []string{"-h"}, &out, &errb); code != 0 {
		t.Fatalf("-h: %d", code)
	}
	for _, flagName := range []string{"-addr", "-allow-remote", "-verify-sigv4", "-connect-duration", "-state-file", "-xks-timeout", "-no-control", "-bare", "-log-format", "-control-host"} {
		if !strings.Contains(out.String(), flagName) {
			t.Errorf("help does not explain %s", flagName)
		}
	}
}

func TestServeRunsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() { done <- serve(ctx, []string{"-addr", "127.0.0.1:0"}, &out, &errb) }()
	re := regexp.MustCompile(`export AWS_ENDPOINT_URL_KMS=(http://127\.0\.0\.1:\d+)`)
	var url string
	for url == "" {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
		if m := re.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
	}
	client := kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), HTTPClient: &http.Client{}})
	if _, err := client.DescribeCustomKeyStores(context.Background(), &kms.DescribeCustomKeyStoresInput{}); err != nil {
		t.Fatal(err)
	}
	_, err := client.CreateCustomKeyStore(context.Background(), &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("n"), KeyStorePassword: aws.String("supersecretpw")})
	if err == nil {
		t.Fatal("create without cluster accepted")
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	logs := errb.String()
	if !strings.Contains(logs, "op=DescribeCustomKeyStores status=200") || !strings.Contains(logs, "error=ValidationException") {
		t.Fatalf("request log: %s", logs)
	}
	if strings.Contains(logs, "supersecretpw") {
		t.Fatal("secret in the log")
	}
}

// controlDo makes one control-plane request to serve with a JSON body (nil:
// none) and Content-Type application/json, signed with SigV4 for
// emulator.ControlServiceName in us-east-1 when akid is set, and returns
// the status and the answer.
func controlDo(t *testing.T, method, url string, body any, akid, secret string) (int, string) {
	t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if akid != "" {
		sum := sha256.Sum256(raw)
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, req,
			hex.EncodeToString(sum[:]), emulator.ControlServiceName, "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

// rawControl sends a control-plane request exactly as given (the way a
// browser or a careless script would) and returns the status.
func rawControl(t *testing.T, method, url, body string, header map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeCrossSiteResetKeepsTheState: a page's plain POST to reset (a
// text/plain body, no preflight) wiped a -state-file server. It is refused,
// as is every other form a page or a rebound name can send, and the key
// is still there, before and after a restart.
func TestServeCrossSiteResetKeepsTheState(t *testing.T) {
	t.Setenv(envPassphrase, "cross-site test passphrase")
	state := filepath.Join(t.TempDir(), "state")
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- serve(ctx, []string{"-addr", "127.0.0.1:0", "-bare", "-state-file", state}, stdout, stderr)
	}()
	url := waitBanner(t, stdout, stderr, done)
	key, err := serveClient(url).CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(url, "http://")
	port := host[strings.LastIndex(host, ":")+1:]
	reset := url + emulator.ControlPrefix + "reset"
	for _, h := range []map[string]string{
		{"Content-Type": "text/plain", "Origin": "https://evil.example"},
		{"Content-Type": "text/plain"},
		{"Content-Type": "application/x-www-form-urlencoded", "Origin": "null"},
		{"Content-Type": "application/json", "Origin": "https://evil.example"},
		{"Content-Type": "application/json", "Host": "evil.example:" + port},
	} {
		if st := rawControl(t, "POST", reset, "{}", h); st < 400 {
			t.Errorf("%v: %d", h, st)
		}
	}
	describe := func(url string) error {
		_, err := serveClient(url).DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: key.KeyMetadata.KeyId})
		return err
	}
	if err := describe(url); err != nil {
		t.Fatalf("the key is gone: %v", err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d: %s", code, stderr.String())
	}
	url, _, _ = startServe(t, "-bare", "-state-file", state)
	if err := describe(url); err != nil {
		t.Fatalf("the key is gone after a restart: %v", err)
	}
}

// waitBanner waits for serve's banner and returns its URL.
func waitBanner(t *testing.T, stdout, stderr *lockedBuffer, done chan int) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^export AWS_ENDPOINT_URL_KMS=(\S+)$`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(stdout.String()); m != nil && strings.Contains(stdout.String(), "control plane: ") {
			return m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner: %s", stdout.String())
		}
	}
}

// TestServeControlPlaneIsSigned: under -verify-sigv4 the control plane is
// signed like the API, for its own service name, and the banner says so;
// an unsigned request, or one signed for kms, is refused and changes
// nothing.
func TestServeControlPlaneIsSigned(t *testing.T) {
	t.Setenv(envAccessKey, "AKIDSERVE")
	t.Setenv(envSecretKey, "serve-secret")
	url, stdout, _ := startServe(t, "-bare", "-verify-sigv4")
	if !strings.Contains(stdout.String(), "SigV4 service "+emulator.ControlServiceName) {
		t.Errorf("the banner does not say how to sign:\n%s", stdout.String())
	}
	route := url + emulator.ControlPrefix + "xks-routes/xks.signed.example"
	body := map[string]any{"addr": "127.0.0.1:8443"}
	get := url + emulator.ControlPrefix + "stores/cks-1234567890abcdef0"
	if st, msg := controlDo(t, "PUT", route, body, "", ""); st != http.StatusForbidden || !strings.Contains(msg, "MissingAuthenticationToken") {
		t.Errorf("unsigned: %d %s", st, msg)
	}
	if st, msg := controlDo(t, "GET", get, nil, "", ""); st != http.StatusForbidden {
		t.Errorf("unsigned GET: %d %s", st, msg)
	}
	if st, msg := controlDo(t, "PUT", route, body, "AKIDSERVE", "wrong"); st != http.StatusForbidden || !strings.Contains(msg, "InvalidSignature") {
		t.Errorf("wrong secret: %d %s", st, msg)
	}
	if st, msg := controlDo(t, "PUT", route, body, "AKIDSERVE", "serve-secret"); st != http.StatusOK {
		t.Fatalf("signed: %d %s", st, msg)
	}
	if st, msg := controlDo(t, "GET", get, nil, "AKIDSERVE", "serve-secret"); st != http.StatusNotFound {
		t.Fatalf("signed GET of an unknown store: %d %s", st, msg)
	}
	// The API is signed as before, by the SDK.
	client := kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSERVE", "serve-secret", ""), HTTPClient: &http.Client{}})
	if _, err := client.ListKeys(context.Background(), &kms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	}
}

// TestServeControlCurlRecipes runs the control-plane recipes README gives,
// with curl, against serve with and without -verify-sigv4.
func TestServeControlCurlRecipes(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	t.Setenv(envAccessKey, "AKIDCURL")
	t.Setenv(envSecretKey, "curl-secret")
	run := func(args ...string) (int, string) {
		t.Helper()
		out, err := exec.Command(curl, append([]string{"-s", "-o", "/dev/stderr", "-w", "%{http_code}"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v %s", args, err, out)
		}
		s := string(out)
		return atoiOr(s[len(s)-3:]), s[:len(s)-3]
	}
	for _, signed := range []bool{false, true} {
		args := []string{"-bare"}
		var sign []string
		if signed {
			args = append(args, "-verify-sigv4")
			sign = []string{"--aws-sigv4", "aws:amz:us-east-1:" + emulator.ControlServiceName, "--user", "AKIDCURL:curl-secret"}
		}
		url, _, _ := startServe(t, args...)
		ctl := url + emulator.ControlPrefix
		// README: expire a key deletion (no body), register a route (a body
		// from stdin is the same request with -d).
		if st, msg := run(append(sign, "-X", "POST", "-H", "Content-Type: application/json", ctl+"keys/1234abcd-12ab-34cd-56ef-1234567890ab/expire-deletion")...); st != 404 {
			t.Errorf("signed=%v expire-deletion of no key: %d %s", signed, st, msg)
		}
		if st, msg := run(append(sign, "-X", "PUT", "-H", "Content-Type: application/json", "-d", `{"addr":"127.0.0.1:8443"}`, ctl+"xks-routes/xks.example.test")...); st != 200 {
			t.Errorf("signed=%v route: %d %s", signed, st, msg)
		}
		// Without the type (curl -d sends a form): refused.
		if st, msg := run(append(sign, "-X", "PUT", "-d", `{"addr":"127.0.0.1:8443"}`, ctl+"xks-routes/xks.example.test")...); st != 415 {
			t.Errorf("signed=%v form: %d %s", signed, st, msg)
		}
	}
}

func atoiOr(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// TestServeRouteToAnotherHostNeedsAllowRemote: without -allow-remote the
// control plane routes an XKS host only to loopback, so that nobody
// re-routes a store's signed XKS traffic to another machine.
func TestServeRouteToAnotherHostNeedsAllowRemote(t *testing.T) {
	for _, remote := range []bool{false, true} {
		args := []string{"-bare"}
		want := http.StatusForbidden
		if remote {
			args, want = append(args, "-allow-remote"), http.StatusOK
		}
		url, _, _ := startServe(t, args...)
		if st, msg := controlDo(t, "PUT", url+emulator.ControlPrefix+"xks-routes/xks.example.test", map[string]any{"addr": "192.0.2.10:443"}, "", ""); st != want {
			t.Errorf("-allow-remote %v: %d %s", remote, st, msg)
		}
		if st, msg := controlDo(t, "PUT", url+emulator.ControlPrefix+"xks-routes/xks.example.test", map[string]any{"addr": "127.0.0.1:8443"}, "", ""); st != 200 {
			t.Errorf("-allow-remote %v, loopback: %d %s", remote, st, msg)
		}
	}
}

// TestServeControlHost: a name the control plane is reached by (a Docker
// service name) is refused, as a DNS rebinding's would be, until
// -control-host names it.
func TestServeControlHost(t *testing.T) {
	for _, named := range []bool{false, true} {
		args := []string{"-bare"}
		want := http.StatusMisdirectedRequest
		if named {
			args, want = append(args, "-control-host", "kms"), http.StatusOK
		}
		url, _, _ := startServe(t, args...)
		port := url[strings.LastIndex(url, ":")+1:]
		if st := rawControl(t, "POST", url+emulator.ControlPrefix+"reset", "", map[string]string{"Content-Type": "application/json", "Host": "kms:" + port}); st != want {
			t.Errorf("-control-host %v: %d", named, st)
		}
	}
}

// TestServeLogLineIsShort: serve logged the operation header in full
// before authentication, 60 KB per unsigned request.
func TestServeLogLineIsShort(t *testing.T) {
	t.Setenv(envAccessKey, "AKIDLOG")
	t.Setenv(envSecretKey, "log-secret")
	url, _, stderr := startServe(t, "-bare", "-verify-sigv4")
	req, _ := http.NewRequest("POST", url, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+strings.Repeat("CreateKey", 60<<10/9))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("unsigned: %s", resp.Status)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(stderr.String(), "MissingAuthenticationToken") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if len(line) > 400 {
			t.Errorf("a log line of %d bytes: %.200s", len(line), line)
		}
	}
	if !strings.Contains(stderr.String(), "MissingAuthenticationToken") {
		t.Fatalf("no request line: %s", stderr.String())
	}
}

// TestServeOnAllInterfaces: on a wildcard address (with -allow-remote) the
// control plane answers at the address a request came in on, refuses a
// rebound name, and serve warns while it has no authentication.
func TestServeOnAllInterfaces(t *testing.T) {
	url, _, stderr := startServe(t, "-bare", "-addr", "0.0.0.0:0", "-allow-remote")
	port := url[strings.LastIndex(url, ":")+1:]
	local := "http://127.0.0.1:" + port + emulator.ControlPrefix + "reset"
	if st := rawControl(t, "POST", local, "", map[string]string{"Content-Type": "application/json"}); st != http.StatusOK {
		t.Errorf("by the address the request came in on: %d", st)
	}
	if st := rawControl(t, "POST", local, "", map[string]string{"Content-Type": "application/json", "Host": "rebound.example:" + port}); st != http.StatusMisdirectedRequest {
		t.Errorf("a rebound name: %d", st)
	}
	if !strings.Contains(stderr.String(), "no authentication on a non-loopback address") {
		t.Errorf("no warning:\n%s", stderr.String())
	}
}
