package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsconform/kmsconform/wait"
)

// startServe runs serve in-process until the test ends and returns its
// URL, once stdout holds the whole banner.
func startServe(t *testing.T, args ...string) (url string, stdout, stderr *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- serve(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exit %d: %s", code, stderr.String())
		}
	})
	end := "control plane: "
	if !contains(args, "-bare") {
		end = "until CONNECTED"
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stdout.String(), end) {
		select {
		case code := <-done:
			done <- code
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner: %s", stdout.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	m := regexp.MustCompile(`(?m)^export AWS_ENDPOINT_URL_KMS=(\S+)$`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no export line: %s", stdout.String())
	}
	return m[1], stdout, stderr
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func serveClient(url string) *kms.Client {
	return kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), HTTPClient: &http.Client{}})
}

// shellWords splits a command line as a POSIX shell would, for the
// quoting the banner uses (single quotes, '\” inside them).
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '\'':
			quoted, in = true, true
		case c == ' ':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case strings.ContainsRune(`"$\`+"`", rune(c)):
			t.Fatalf("unquoted %q in %s", c, line)
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quoted {
		t.Fatalf("unterminated quote: %s", line)
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// bannerCommand finds the create-custom-key-store line holding marker and
// returns its options.
func bannerCommand(t *testing.T, banner, marker string) map[string]string {
	t.Helper()
	for _, line := range strings.Split(banner, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "aws kms create-custom-key-store ") || !strings.Contains(line, marker) {
			continue
		}
		w := shellWords(t, line)
		opts := map[string]string{}
		for i := 3; i < len(w); i += 2 {
			if !strings.HasPrefix(w[i], "--") || i+1 >= len(w) {
				t.Fatalf("not --option value pairs: %q", w)
			}
			opts[w[i]] = w[i+1]
		}
		return opts
	}
	t.Fatalf("no create-custom-key-store command with %q in:\n%s", marker, banner)
	return nil
}

// TestServeReadyToUse creates and connects a store of each type with the
// Go SDK, from nothing but what the banner printed, then uses a key of
// each; the secrets it printed are never in the log.
func TestServeReadyToUse(t *testing.T) {
	url, stdout, stderr := startServe(t, "-connect-duration", "300ms", "-disconnect-duration", "100ms")
	banner := stdout.String()
	ctx := context.Background()
	client := serveClient(url)

	hsm := bannerCommand(t, banner, "--cloud-hsm-cluster-id")
	anchor, err := os.ReadFile(strings.TrimPrefix(hsm["--trust-anchor-certificate"], "file://"))
	if err != nil {
		t.Fatal(err)
	}
	hsmOut, err := client.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{
		CustomKeyStoreName: aws.String(hsm["--custom-key-store-name"]), CloudHsmClusterId: aws.String(hsm["--cloud-hsm-cluster-id"]),
		TrustAnchorCertificate: aws.String(string(anchor)), KeyStorePassword: aws.String(hsm["--key-store-password"])})
	if err != nil {
		t.Fatal(err)
	}

	xks := bannerCommand(t, banner, "EXTERNAL_KEY_STORE")
	var input struct{ XksProxyUriEndpoint string }
	var cred struct{ AccessKeyId, RawSecretAccessKey string }
	if err := json.Unmarshal([]byte(xks["--cli-input-json"]), &input); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(xks["--xks-proxy-authentication-credential"]), &cred); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^https://[a-zA-Z0-9.-]+$`).MatchString(input.XksProxyUriEndpoint) {
		t.Fatalf("endpoint %q is not one KMS accepts", input.XksProxyUriEndpoint)
	}
	xksOut, err := client.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{
		CustomKeyStoreName:   aws.String(xks["--custom-key-store-name"]),
		CustomKeyStoreType:   types.CustomKeyStoreType(xks["--custom-key-store-type"]),
		XksProxyConnectivity: types.XksProxyConnectivityType(xks["--xks-proxy-connectivity"]),
		XksProxyUriEndpoint:  aws.String(input.XksProxyUriEndpoint), XksProxyUriPath: aws.String(xks["--xks-proxy-uri-path"]),
		XksProxyAuthenticationCredential: &types.XksProxyAuthenticationCredentialType{
			AccessKeyId: aws.String(cred.AccessKeyId), RawSecretAccessKey: aws.String(cred.RawSecretAccessKey)}})
	if err != nil {
		t.Fatal(err)
	}

	xksKeyID := strings.Split(field(t, banner, "XKS key ids"), ",")[0]
	for _, s := range []struct {
		id     string
		create *kms.CreateKeyInput
	}{
		{*hsmOut.CustomKeyStoreId, &kms.CreateKeyInput{Origin: types.OriginTypeAwsCloudhsm}},
		{*xksOut.CustomKeyStoreId, &kms.CreateKeyInput{Origin: types.OriginTypeExternalKeyStore, XksKeyId: aws.String(xksKeyID)}},
	} {
		if _, err := client.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(s.id)}); err != nil {
			t.Fatal(err)
		}
		if _, err := wait.ForState(ctx, client, s.id, wait.Options{Timeout: 20 * time.Second, Poll: 50 * time.Millisecond}); err != nil {
			t.Fatalf("%s: %v", s.id, err)
		}
		s.create.CustomKeyStoreId = aws.String(s.id)
		key, err := client.CreateKey(ctx, s.create)
		if err != nil {
			t.Fatalf("%s: create key: %v", s.id, err)
		}
		enc, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("hello")})
		if err != nil {
			t.Fatalf("%s: encrypt: %v", s.id, err)
		}
		dec, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
		if err != nil || string(dec.Plaintext) != "hello" {
			t.Fatalf("%s: decrypt: %v", s.id, err)
		}
	}
	logs := stderr.String()
	for _, secret := range []string{hsm["--key-store-password"], cred.RawSecretAccessKey} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret of the banner is in the log:\n%s", logs)
		}
	}
	if strings.Count(banner, cred.RawSecretAccessKey) != 2 { // its line and the command
		t.Fatalf("XKS secret printed %d times", strings.Count(banner, cred.RawSecretAccessKey))
	}
}

// TestServeBareHasNoBacking: -bare is the emulator as before, with no
// cluster, no route and no banner of them.
func TestServeBareHasNoBacking(t *testing.T) {
	url, stdout, _ := startServe(t, "-bare")
	if strings.Contains(stdout.String(), "create-custom-key-store") || strings.Contains(stdout.String(), "Ready to use") {
		t.Fatalf("banner of -bare:\n%s", stdout.String())
	}
	resp, err := http.Get(url + "/_kmsconform/clusters/" + backingClusterID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("cluster of -bare: %s", resp.Status)
	}
	// Nor a route: an external key store to the backing's endpoint meets
	// the no-route message, which also names the fix in the log.
	_, err = serveClient(url).CreateCustomKeyStore(context.Background(), &kms.CreateCustomKeyStoreInput{
		CustomKeyStoreName: aws.String("x"), CustomKeyStoreType: types.CustomKeyStoreTypeExternalKeyStore,
		XksProxyConnectivity: types.XksProxyConnectivityTypePublicEndpoint, XksProxyUriEndpoint: aws.String("https://" + backingXKSHost),
		XksProxyUriPath: aws.String("/kms/xks/v1"), XksProxyAuthenticationCredential: &types.XksProxyAuthenticationCredentialType{
			AccessKeyId: aws.String("ABCDEFGHIJKLMNOPQRST"), RawSecretAccessKey: aws.String("s3cretS3cretS3cretS3cretS3cretS3cretS3cret1")}})
	if err == nil || !strings.Contains(err.Error(), "XksProxyUriUnreachableException") ||
		!strings.Contains(err.Error(), "add one with PUT /_kmsconform/xks-routes/"+backingXKSHost) {
		t.Fatalf("no-route answer: %v", err)
	}
}

// TestServeNoRouteIsLogged: the serve log says how to add the route, in
// the one log format, without the credential.
func TestServeNoRouteIsLogged(t *testing.T) {
	url, _, stderr := startServe(t, "-quiet", "-log-format", "json")
	_, err := serveClient(url).CreateCustomKeyStore(context.Background(), &kms.CreateCustomKeyStoreInput{
		CustomKeyStoreName: aws.String("x"), CustomKeyStoreType: types.CustomKeyStoreTypeExternalKeyStore,
		XksProxyConnectivity: types.XksProxyConnectivityTypePublicEndpoint, XksProxyUriEndpoint: aws.String("https://xks.nowhere.example"),
		XksProxyUriPath: aws.String("/kms/xks/v1"), XksProxyAuthenticationCredential: &types.XksProxyAuthenticationCredentialType{
			AccessKeyId: aws.String("ABCDEFGHIJKLMNOPQRST"), RawSecretAccessKey: aws.String("s3cretS3cretS3cretS3cretS3cretS3cretS3cret1")}})
	if err == nil {
		t.Fatal("created a store with no route")
	}
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON log line: %q", line)
		}
		if rec["level"] == "WARN" && rec["host"] == "xks.nowhere.example" && strings.Contains(rec["fix"].(string), "xks-routes/xks.nowhere.example") {
			found = true
		}
	}
	if !found || strings.Contains(stderr.String(), "s3cret") {
		t.Fatalf("log:\n%s", stderr.String())
	}
}

// TestServeLogFormat: text by default (slog's key=value), JSON on
// request, a refused value in one line.
func TestServeLogFormat(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			url, _, stderr := startServe(t, "-log-format", format)
			if _, err := serveClient(url).ListKeys(context.Background(), &kms.ListKeysInput{}); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			var sawRequest bool
			for _, line := range lines {
				if format == "json" {
					var rec map[string]any
					if json.Unmarshal([]byte(line), &rec) != nil || rec["time"] == nil || rec["level"] == nil || rec["msg"] == nil {
						t.Fatalf("not a slog JSON line: %q", line)
					}
					sawRequest = sawRequest || rec["op"] == "ListKeys"
				} else {
					if !regexp.MustCompile(`^time=\S+ level=(INFO|WARN|ERROR) msg=`).MatchString(line) {
						t.Fatalf("not a slog text line: %q", line)
					}
					sawRequest = sawRequest || strings.Contains(line, "op=ListKeys")
				}
			}
			if !sawRequest {
				t.Fatalf("no request line:\n%s", stderr.String())
			}
		})
	}
	var out, errb lockedBuffer
	if code := serve(context.Background(), []string{"-log-format", "xml"}, &out, &errb); code != 2 || strings.Count(errb.String(), "\n") != 1 {
		t.Fatalf("-log-format xml: %d %q", code, errb.String())
	}
}

// TestServeStateFileKeepsTheBacking: with -state-file the backing's
// secrets come from the passphrase, so a store made before a restart
// still reaches the same kmsuser password and XKS credential after it.
func TestServeStateFileKeepsTheBacking(t *testing.T) {
	t.Setenv("KMSCONFORM_STATE_PASSPHRASE", "correct horse battery staple")
	state := t.TempDir() + "/state"
	var first, firstAnchor string
	for i := range 2 {
		func() {
			ctx, cancel := context.WithCancel(context.Background())
			stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
			done := make(chan int, 1)
			go func() { done <- serve(ctx, []string{"-addr", "127.0.0.1:0", "-state-file", state}, stdout, stderr) }()
			for !strings.Contains(stdout.String(), "until CONNECTED") {
				select {
				case code := <-done:
					t.Fatalf("exit %d: %s", code, stderr.String())
				case <-time.After(10 * time.Millisecond):
				}
			}
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			out := stdout.String()
			secrets := field(t, out, "kmsuser password") + " " + field(t, out, "XKS RawSecretAccessKey")
			anchor, err := os.ReadFile(field(t, out, "trust anchor"))
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first, firstAnchor = secrets, string(anchor)
			} else if secrets != first || string(anchor) != firstAnchor {
				t.Fatal("the backing changed across a restart with the same state file")
			}
		}()
	}
}
