package aws_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsconform/kmsconform/targets"
	awstarget "github.com/kmsconform/kmsconform/targets/aws"
)

const secret = "stsTestSecretStsTestSecretStsTestSecret01"

// fakeAWS answers STS GetCallerIdentity for account and records every
// request, STS or not, so a test can see that a refusal made no other call.
type fakeAWS struct {
	account string
	status  int // of the STS answer; 0 means 200

	mu       sync.Mutex
	requests []string
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	what := form.Get("Action")
	if what == "" {
		what = r.Header.Get("X-Amz-Target") // a KMS call
	}
	f.mu.Lock()
	f.requests = append(f.requests, what)
	f.mu.Unlock()
	if what != "GetCallerIdentity" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	if f.status != 0 {
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`)
		return
	}
	_, _ = io.WriteString(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::`+f.account+`:user/kmsconform</Arn>
    <UserId>AIDAKMSCONFORMTEST</UserId>
    <Account>`+f.account+`</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>`)
}

func (f *fakeAWS) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// isolate points STS and KMS at the fake and gives the default chain a
// static credential, so no test reaches AWS or the instance metadata
// service.
func isolate(t *testing.T, f *fakeAWS) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIASTSTESTSTSTEST01", "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_ENDPOINT_URL": "",
		"AWS_ENDPOINT_URL_STS": srv.URL, "AWS_ENDPOINT_URL_KMS": srv.URL, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		t.Setenv(k, v)
	}
}

func TestRefusesAnAccountNotEnabled(t *testing.T) {
	f := &fakeAWS{account: "123456789012"}
	isolate(t, f)
	cfg := targets.DefaultConfig()
	cfg.AWS.EnabledAccounts = []string{"111122223333"}
	_, err := awstarget.New(context.Background(), cfg, "eu-west-1", "123456789012")
	if err == nil || err.Error() != "account 123456789012 is not in targets.aws.enabled_accounts of ginkgo.yml" {
		t.Fatalf("got %v", err)
	}
	var ne *awstarget.NotEnabledError
	if !errors.As(err, &ne) || ne.Account != "123456789012" {
		t.Fatalf("not a NotEnabledError: %#v", err)
	}
	if got := f.seen(); len(got) != 1 || got[0] != "GetCallerIdentity" {
		t.Fatalf("requests while refusing: %q", got)
	}
	// The default configuration enables no account at all.
	if _, err := awstarget.New(context.Background(), nil, "eu-west-1", "123456789012"); !errors.As(err, &ne) {
		t.Fatalf("default configuration: %v", err)
	}
}

// hasCapability reports whether tgt has any capability beyond the KMS
// API: real KMS has none.
func hasCapability(tgt targets.Target) bool {
	switch tgt.(type) {
	case targets.Resetter, targets.TransitionHolder, targets.ClusterControl, targets.ProxyFleet, targets.TimeControl, targets.ProxyControl:
		return true
	}
	return false
}

func TestRunsOnAnEnabledAccount(t *testing.T) {
	f := &fakeAWS{account: "123456789012"}
	isolate(t, f)
	cfg := targets.DefaultConfig()
	cfg.AWS.EnabledAccounts = []string{"111122223333", "123456789012"}
	cfg.AWS.Region = "eu-central-1"
	cfg.AWS.Backing = targets.Backing{XksEndpoint: "https://xks.example.com"}
	tgt, err := awstarget.New(context.Background(), cfg, "", "123456789012")
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close(context.Background())
	var _ targets.Target = tgt
	if tgt.Name() != "aws 123456789012 eu-central-1" || tgt.Kind() != targets.KindAWS || tgt.Account() != "123456789012" ||
		hasCapability(tgt) || tgt.Timeouts() != cfg.AWS.Timeouts ||
		!reflect.DeepEqual(tgt.Backing(), cfg.AWS.Backing) {
		t.Fatalf("identity: %s %s %+v", tgt.Name(), tgt.Kind(), tgt.Timeouts())
	}
	o := tgt.KMS().Options()
	if o.RetryMaxAttempts != 1 || o.Region != "eu-central-1" || o.HTTPClient == nil {
		t.Fatalf("client options: retries %d region %s", o.RetryMaxAttempts, o.Region)
	}
	// The endpoint the SDK configuration chose is reported truthfully.
	if !strings.HasPrefix(tgt.Endpoint(), "http://127.0.0.1:") {
		t.Fatalf("endpoint %q", tgt.Endpoint())
	}
	if got := f.seen(); len(got) != 1 {
		t.Fatalf("New made %d requests: %q", len(got), got)
	}
	// And the client goes where the configuration says.
	_, _ = tgt.KMS().ListKeys(context.Background(), &kms.ListKeysInput{})
	if got := f.seen(); len(got) != 2 || got[1] != "TrentService.ListKeys" {
		t.Fatalf("requests: %q", got)
	}
}

func TestErrorsAreOneLine(t *testing.T) {
	f := &fakeAWS{account: "123456789012", status: http.StatusForbidden}
	isolate(t, f)
	cfg := targets.DefaultConfig()
	cfg.AWS.EnabledAccounts = []string{"123456789012"}
	_, err := awstarget.New(context.Background(), cfg, "eu-west-1", "123456789012")
	if err == nil || !strings.HasPrefix(err.Error(), "aws target: STS GetCallerIdentity: ") || !strings.Contains(err.Error(), "InvalidClientTokenId") {
		t.Fatalf("STS failure: %v", err)
	}
	if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), secret) {
		t.Fatalf("STS failure: %q", err)
	}

	_, err = awstarget.New(context.Background(), cfg, "", "123456789012")
	if err == nil || err.Error() != "aws target: no Region: give one (--region), set targets.aws.region in ginkgo.yml, or set AWS_REGION" {
		t.Fatalf("no region: %v", err)
	}
	cfg.AWS.Profile = "absent"
	_, err = awstarget.New(context.Background(), cfg, "eu-west-1", "123456789012")
	if err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("missing profile: %v", err)
	}
	// Only the first New reached STS, once: a 403 is not retried, and the
	// others failed before any call.
	if got := f.seen(); len(got) != 1 {
		t.Fatalf("requests: %q", got)
	}
}

func TestRefusesWithoutConfirmation(t *testing.T) {
	f := &fakeAWS{account: "123456789012"}
	isolate(t, f)
	cfg := targets.DefaultConfig()
	cfg.AWS.EnabledAccounts = []string{"123456789012"}
	_, err := awstarget.New(context.Background(), cfg, "eu-west-1", "")
	var nc *awstarget.NotConfirmedError
	if !errors.As(err, &nc) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "--confirm-account") {
		t.Fatalf("no confirmation: %v", err)
	}
	if got := f.seen(); len(got) != 0 {
		t.Fatalf("requests without confirmation: %q", got)
	}
	// Confirming another account than the credentials' is refused after
	// STS alone.
	_, err = awstarget.New(context.Background(), cfg, "eu-west-1", "111122223333")
	if !errors.As(err, &nc) || nc.Account != "123456789012" {
		t.Fatalf("other account: %v", err)
	}
	if got := f.seen(); len(got) != 1 || got[0] != "GetCallerIdentity" {
		t.Fatalf("requests: %q", got)
	}
}
