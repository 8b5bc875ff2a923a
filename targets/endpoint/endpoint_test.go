package endpoint_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/kmsconform/kmsconform/targets"
	"github.com/kmsconform/kmsconform/targets/emulator"
	"github.com/kmsconform/kmsconform/targets/endpoint"
)

// isolate hides the machine's AWS configuration from a test. AWS_CA_BUNDLE
// stays as the machine sets it: the target must work with it.
func isolate(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// startEmulator serves an emulator; creds, when given, are the only
// credentials it accepts.
func startEmulator(t *testing.T, creds map[string]string) string {
	t.Helper()
	emu, err := emulator.New(emulator.Options{Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close(context.Background()) })
	return emu.URL()
}

func accessKeyID(t *testing.T, tgt targets.Target) string {
	t.Helper()
	c, err := tgt.KMS().Options().Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c.AccessKeyID
}

// hasCapability reports whether tgt has any capability beyond the KMS
// API but ProxyControl.
func hasCapability(tgt targets.Target) bool {
	switch tgt.(type) {
	case targets.Resetter, targets.TransitionHolder, targets.ClusterControl, targets.ProxyFleet, targets.TimeControl:
		return true
	}
	return false
}

func TestEndpointAgainstTheEmulator(t *testing.T) {
	isolate(t)
	url := startEmulator(t, nil)
	cfg := targets.DefaultConfig()
	cfg.Endpoint.Backing = targets.Backing{ClusterID: "cluster-abcdefghijk", KmsuserPassword: "kmsPswd1"}
	tgt, err := endpoint.New(context.Background(), cfg, url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close(context.Background())
	var _ targets.Target = tgt
	if tgt.Name() != "endpoint "+url || tgt.Kind() != targets.KindEndpoint || tgt.Endpoint() != url || hasCapability(tgt) ||
		tgt.Timeouts() != cfg.Endpoint.Timeouts || !reflect.DeepEqual(tgt.Backing(), cfg.Endpoint.Backing) {
		t.Fatalf("identity: %s %s %s %+v", tgt.Name(), tgt.Kind(), tgt.Endpoint(), tgt.Timeouts())
	}
	o := tgt.KMS().Options()
	if o.RetryMaxAttempts != 1 || o.Region != endpoint.DefaultRegion || *o.BaseEndpoint != url {
		t.Fatalf("options: retries %d region %s", o.RetryMaxAttempts, o.Region)
	}
	if got := accessKeyID(t, tgt); got != "test" {
		t.Fatalf("without credentials the target signs as %q, want the dummy test", got)
	}
	ctx := context.Background()
	if _, err := tgt.KMS().ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	}
	// A custom key store call reaches the emulator's store engine.
	_, err = tgt.KMS().CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("x"),
		CloudHsmClusterId: aws.String("cluster-abcdefghijk"), TrustAnchorCertificate: aws.String("a"), KeyStorePassword: aws.String("kmsPswd1")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "CloudHsmClusterNotFoundException" {
		t.Fatalf("create: %v", err)
	}
}

func TestEndpointURLPrecedence(t *testing.T) {
	isolate(t)
	cfg := targets.DefaultConfig()
	_, err := endpoint.New(context.Background(), cfg, "", "")
	if err == nil || err.Error() != "endpoint target: no endpoint: give one (--endpoint), set targets.endpoint.url in ginkgo.yml, or set AWS_ENDPOINT_URL_KMS" {
		t.Fatalf("no endpoint: %v", err)
	}
	t.Setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:1")
	for _, c := range []struct{ flag, cfg, want string }{
		{"", "", "http://127.0.0.1:1"},
		{"", "http://127.0.0.1:2", "http://127.0.0.1:2"},
		{"http://127.0.0.1:3", "http://127.0.0.1:2", "http://127.0.0.1:3"},
	} {
		cfg.Endpoint.URL = c.cfg
		tgt, err := endpoint.New(context.Background(), cfg, c.flag, "")
		if err != nil || tgt.Endpoint() != c.want || *tgt.KMS().Options().BaseEndpoint != c.want {
			t.Fatalf("%+v: %v", c, err)
		}
	}
	if _, err := endpoint.New(context.Background(), cfg, "localhost:4566", ""); err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("bad URL: %v", err)
	}
}

func TestEndpointRegionPrecedence(t *testing.T) {
	isolate(t)
	cfg := targets.DefaultConfig()
	region := func(arg string) string {
		t.Helper()
		tgt, err := endpoint.New(context.Background(), cfg, "http://127.0.0.1:1", arg)
		if err != nil {
			t.Fatal(err)
		}
		return tgt.KMS().Options().Region
	}
	t.Setenv("AWS_REGION", "eu-north-1")
	if got := region(""); got != "eu-north-1" {
		t.Fatalf("SDK region: %s", got)
	}
	cfg.Endpoint.Region = "ap-south-1"
	if got := region(""); got != "ap-south-1" {
		t.Fatalf("config region: %s", got)
	}
	if got := region("sa-east-1"); got != "sa-east-1" {
		t.Fatalf("argument region: %s", got)
	}
}

// Real credentials from the environment or a profile are used, and the
// emulator, told to accept only them, verifies the signature.
func TestEndpointCredentials(t *testing.T) {
	const akid, secret = "AKIAENVENVENVENVENV1", "envSecretEnvSecretEnvSecretEnvSecret000001"
	isolate(t)
	url := startEmulator(t, map[string]string{akid: secret, "AKIAPROFILEPROFILE01": "profileSecretProfileSecretProfileSecret01"})
	t.Setenv("AWS_ACCESS_KEY_ID", akid)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	tgt, err := endpoint.New(context.Background(), nil, url, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := accessKeyID(t, tgt); got != akid {
		t.Fatalf("signs as %q", got)
	}
	if _, err := tgt.KMS().ListKeys(context.Background(), &kms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	}

	isolate(t)
	credsFile := os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	if err := os.WriteFile(credsFile, []byte("[kmsconform]\naws_access_key_id = AKIAPROFILEPROFILE01\naws_secret_access_key = profileSecretProfileSecretProfileSecret01\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := targets.DefaultConfig()
	cfg.Endpoint.Profile = "kmsconform"
	tgt, err = endpoint.New(context.Background(), cfg, url, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := accessKeyID(t, tgt); got != "AKIAPROFILEPROFILE01" {
		t.Fatalf("signs as %q", got)
	}
	if _, err := tgt.KMS().ListKeys(context.Background(), &kms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	}

	cfg.Endpoint.Profile = "absent"
	_, err = endpoint.New(context.Background(), cfg, url, "")
	if err == nil || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "profileSecret") {
		t.Fatalf("missing profile: %v", err)
	}
}

// RetryMaxAttempts = 1: a 500 is sent once.
func TestEndpointDoesNotRetry(t *testing.T) {
	isolate(t)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"__type":"KMSInternalException","message":"boom"}`))
	}))
	defer srv.Close()
	tgt, err := endpoint.New(context.Background(), nil, srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tgt.KMS().ListKeys(context.Background(), &kms.ListKeysInput{}); err == nil {
		t.Fatal("no error")
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d requests for one call", n)
	}
}
