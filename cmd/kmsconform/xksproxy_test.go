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
		{"--key", "bad/key=ENCRYPT"},
		{"--key", "=ENCRYPT"},
		{"--key", "a", "--key", "a=DECRYPT"},
		{"--addr", "127.0.0.1:0", "--control-addr", "", "--key", "a", "--key", "a"},
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
	// A usage the proxy cannot give a key is refused before anything
	// starts, in one line naming it and the ones it can.
	for _, arg := range []string{"x=SIGN", "x=ENCRYPT,", "x=ENCRYPT,ENCRYPT", "x=ENCRYPT,,DECRYPT", "x=encrypt;decrypt"} {
		var stdout, stderr bytes.Buffer
		code := runXKSProxy(context.Background(), []string{"--addr", "127.0.0.1:0", "--control-addr", "", "--key", arg}, &stdout, &stderr)
		msg := stderr.String()
		if code != 2 || strings.Count(msg, "\n") != 1 || stdout.Len() != 0 ||
			!strings.Contains(msg, arg) || !strings.Contains(msg, "ENCRYPT") || !strings.Contains(msg, "DECRYPT") {
			t.Errorf("--key %s: exit %d, stderr %q, stdout %q; want exit 2 and one line naming the value and ENCRYPT, DECRYPT", arg, code, msg, stdout.String())
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

// xksPost signs body as KMS would with the credential the banner printed
// and posts it to the proxy the banner named.
func xksPost(t *testing.T, out, path string, body any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := body.(string); ok {
		b = []byte(s)
	}
	req, _ := http.NewRequest(http.MethodPost, field(t, out, "Listening on")+field(t, out, "XksProxyUriPath")+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(b)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: field(t, out, "AccessKeyId"), SecretAccessKey: field(t, out, "RawSecretAccessKey")},
		req, hex.EncodeToString(sum[:]), xksproxy.ServiceName, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	rb, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(rb, &m); err != nil {
		t.Fatalf("POST %s: %d %q is not a JSON object", path, resp.StatusCode, rb)
	}
	return resp.StatusCode, m
}

// TestXKSProxyKeyUsage: --key ID=USAGE[,USAGE] creates a key with just
// those usages, GetKeyMetadata reports them, and the operation a key lacks
// is answered 400 InvalidKeyUsageException (XKS error table); --key ID
// keeps both. The banner lists each key with its usage.
func TestXKSProxyKeyUsage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- runXKSProxy(ctx, []string{"--addr", "127.0.0.1:0", "--control-addr", "", "--plain-http",
			"--key", "enc=ENCRYPT", "--key", "dec=DECRYPT", "--key", "none=", "--key", "k", "--key", "both=DECRYPT,ENCRYPT"}, stdout, stderr)
	}()
	waitFor(t, stdout, "Stop with", done)
	out := stdout.String()
	keysLine := regexp.MustCompile(`(?m)^  External keys +(.*)$`).FindStringSubmatch(out)
	if keysLine == nil || keysLine[1] != "enc (ENCRYPT), dec (DECRYPT), none (no usage), k (ENCRYPT,DECRYPT), both (DECRYPT,ENCRYPT)" {
		t.Errorf("banner does not list the keys with their usage:\n%s", out)
	}

	md := func(op string) map[string]any {
		return map[string]any{"awsPrincipalArn": "arn:aws:iam::111122223333:user/a", "kmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/x",
			"kmsOperation": op, "kmsRequestId": "req-" + op}
	}
	encrypt := func(id string) (int, map[string]any) {
		return xksPost(t, out, "/keys/"+id+"/encrypt", map[string]any{"requestMetadata": md("Encrypt"), "plaintext": []byte("hello"),
			"encryptionAlgorithm": "AES_GCM", "ciphertextDataIntegrityValueAlgorithm": "SHA_256"})
	}
	decrypt := func(id string, enc map[string]any) (int, map[string]any) {
		body := map[string]any{"requestMetadata": md("Decrypt"), "encryptionAlgorithm": "AES_GCM"}
		for _, f := range []string{"ciphertext", "ciphertextMetadata", "initializationVector", "authenticationTag"} {
			if v, ok := enc[f]; ok {
				body[f] = v
			}
		}
		return xksPost(t, out, "/keys/"+id+"/decrypt", body)
	}
	wantErr := func(what string, status int, m map[string]any, name xksproxy.ErrorName) {
		t.Helper()
		if status != name.Status() || m["errorName"] != string(name) {
			t.Errorf("%s: %d %v, want %d %s", what, status, m, name.Status(), name)
		}
	}
	usage := func(id string) string {
		t.Helper()
		status, m := xksPost(t, out, "/keys/"+id+"/metadata", map[string]any{"requestMetadata": md("DescribeKey")})
		u, ok := m["keyUsage"].([]any)
		if status != 200 || !ok {
			t.Fatalf("metadata of %s: %d %v", id, status, m)
		}
		s := make([]string, len(u))
		for i, v := range u {
			s[i] = v.(string)
		}
		return strings.Join(s, ",")
	}

	// k: both, a full round trip.
	status, ct := encrypt("k")
	if status != 200 {
		t.Fatalf("encrypt with k: %d %v", status, ct)
	}
	if status, pt := decrypt("k", ct); status != 200 || pt["plaintext"] != "aGVsbG8=" {
		t.Errorf("decrypt with k: %d %v", status, pt)
	}
	if status, pt := decrypt("both", ct); status != 400 || pt["errorName"] != "InvalidCiphertextException" {
		t.Errorf("decrypt with another key: %d %v", status, pt)
	}
	// enc: Encrypt works, Decrypt of its own ciphertext is refused.
	status, encCT := encrypt("enc")
	if status != 200 {
		t.Fatalf("encrypt with enc: %d %v", status, encCT)
	}
	status, m := decrypt("enc", encCT)
	wantErr("decrypt with enc", status, m, xksproxy.ErrInvalidKeyUsage)
	// dec: Encrypt is refused; Decrypt gets past the usage check to the
	// cryptography (a ciphertext of another key fails authentication).
	status, m = encrypt("dec")
	wantErr("encrypt with dec", status, m, xksproxy.ErrInvalidKeyUsage)
	status, m = decrypt("dec", encCT)
	wantErr("decrypt with dec", status, m, xksproxy.ErrInvalidCiphertext)
	// none: both refused.
	status, m = encrypt("none")
	wantErr("encrypt with none", status, m, xksproxy.ErrInvalidKeyUsage)
	status, m = decrypt("none", encCT)
	wantErr("decrypt with none", status, m, xksproxy.ErrInvalidKeyUsage)

	for id, want := range map[string]string{"enc": "ENCRYPT", "dec": "DECRYPT", "none": "", "k": "ENCRYPT,DECRYPT", "both": "DECRYPT,ENCRYPT"} {
		if got := usage(id); got != want {
			t.Errorf("GetKeyMetadata %s: keyUsage %q, want %q", id, got, want)
		}
	}

	// The command's proxy checks the health check's requestMetadata too.
	for _, body := range []any{"{}", map[string]any{"requestMetadata": map[string]any{}}, map[string]any{"requestMetadata": map[string]any{"kmsOperation": "KmsHealthCheck"}}} {
		status, m := xksPost(t, out, "/health", body)
		wantErr(fmt.Sprintf("health with %v", body), status, m, xksproxy.ErrValidation)
	}
	if status, m := xksPost(t, out, "/health", map[string]any{"requestMetadata": map[string]any{"kmsOperation": "KmsHealthCheck", "kmsRequestId": "h-1"}}); status != 200 || m["ekmFleetDetails"] == nil {
		t.Errorf("health: %d %v", status, m)
	}

	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
}

// TestXKSProxyHelpListsKeyUsage: -h says how to give a key its usage.
func TestXKSProxyHelpListsKeyUsage(t *testing.T) {
	var help bytes.Buffer
	runXKSProxy(context.Background(), []string{"-h"}, &help, io.Discard)
	text := strings.Join(strings.Fields(help.String()), " ")
	for _, want := range []string{"ID=USAGE[,USAGE]", "enc=ENCRYPT", "none=", "InvalidKeyUsageException", "kmsRequestId"} {
		if !strings.Contains(text, want) {
			t.Errorf("-h does not say %q:\n%s", want, help.String())
		}
	}
}
