package drive

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	m "github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/targets"
)

// The exceptions the raw path types are the KMS model's, with its faults.
func TestModeledErrorsAreTheModels(t *testing.T) {
	raw, err := os.ReadFile("../model/testdata/aws-kms-operations.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Exceptions map[string]struct{ Fault string } `json:"exceptions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for name, e := range doc.Exceptions {
		f, ok := modeledErrors[name]
		if !ok {
			t.Errorf("%s: not typed on the raw path", name)
			continue
		}
		if want := map[string]smithy.ErrorFault{"client": smithy.FaultClient, "server": smithy.FaultServer}[e.Fault]; f != want {
			t.Errorf("%s: fault %v, the model says %s", name, f, e.Fault)
		}
	}
	if len(modeledErrors) != len(doc.Exceptions) {
		t.Errorf("%d typed exceptions, the model has %d", len(modeledErrors), len(doc.Exceptions))
	}
}

// A call the SDK refuses goes on the raw path, to the client's endpoint,
// as TrentService.<Op>, signed for kms; its answer reads as the SDK's would.
func TestRawRequestAndAnswer(t *testing.T) {
	var got *http.Request
	var body []byte
	answer := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(400)
		io.WriteString(w, `{"__type":"com.amazonaws.kms#ValidationException","message":"1 validation error detected: Value null at 'customKeyStoreId' failed to satisfy constraint: Member must not be null"}`)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		body, _ = io.ReadAll(r.Body)
		answer(w)
	}))
	defer srv.Close()
	client := kms.New(kms.Options{BaseEndpoint: aws.String(srv.URL), Region: "eu-west-3", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDRAW", "raw-secret", "")})
	mp := NewMapper("kmsconform-t-", targets.Backing{})
	_, err := mp.Invoke(context.Background(), client, m.Call{Op: m.OpConnectCustomKeyStore}, "", "")
	if got == nil {
		t.Fatalf("nothing was sent: %v", err)
	}
	if h := got.Header.Get("X-Amz-Target"); h != "TrentService.ConnectCustomKeyStore" {
		t.Errorf("X-Amz-Target %q", h)
	}
	if h := got.Header.Get("Content-Type"); h != "application/x-amz-json-1.1" {
		t.Errorf("Content-Type %q", h)
	}
	if a := got.Header.Get("Authorization"); !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKIDRAW/") || !strings.Contains(a, "/eu-west-3/kms/aws4_request") {
		t.Errorf("Authorization %q", a)
	}
	if string(body) != "{}" {
		t.Errorf("body %s, want {}", body)
	}
	o := Classify(err)
	if o.Code != "ValidationException" || o.HTTPStatus != 400 || !strings.Contains(o.Message, "Value null at 'customKeyStoreId'") || o.Transport || o.NotImplemented {
		t.Errorf("classified %+v", o)
	}

	// A modeled exception is typed (not generic), as the SDK types it.
	answer = func(w http.ResponseWriter) {
		w.Header().Set("X-Amzn-ErrorType", "KeyUnavailableException:http://internal.amazon.com/coral/com.amazonaws.kms/")
		w.WriteHeader(500)
		io.WriteString(w, `{"Message":"unavailable"}`)
	}
	_, err = mp.Invoke(context.Background(), client, m.Call{Op: m.OpDeleteCustomKeyStore}, "", "")
	if o := Classify(err); o.Code != "KeyUnavailableException" || o.Message != "unavailable" || o.NotImplemented || o.Transport {
		t.Errorf("modeled 500: %+v", o)
	}
	// An HTML page is not an awsJson1_1 error.
	answer = func(w http.ResponseWriter) { w.WriteHeader(500); io.WriteString(w, "<html>oops</html>") }
	_, err = mp.Invoke(context.Background(), client, m.Call{Op: m.OpDeleteCustomKeyStore}, "", "")
	if o := Classify(err); o.Code != "" || !o.NotImplemented {
		t.Errorf("HTML 500: %+v", o)
	}

	// A nested member left out: the credential goes without it.
	answer = func(w http.ResponseWriter) { w.WriteHeader(200); io.WriteString(w, `{}`) }
	c := m.Call{Op: m.OpUpdateCustomKeyStore, StoreID: m.Ptr("cks-1"), Omit: m.OmitSecret,
		Update: &m.UpdateStoreInput{Credential: &m.Credential{AccessKeyID: strings.Repeat("A", 20), Secret: strings.Repeat("s", 43)}}}
	if _, err := mp.Invoke(context.Background(), client, c, "", ""); err != nil {
		t.Fatal(err)
	}
	if want := `{"CustomKeyStoreId":"cks-1","XksProxyAuthenticationCredential":{"AccessKeyId":"AAAAAAAAAAAAAAAAAAAA"}}`; string(body) != want {
		t.Errorf("body %s, want %s", body, want)
	}
}

// Against the emulator, a missing required member is a ValidationException
// on the raw path, and a call the SDK sends answers the same either way.
func TestRawMatchesSDKOnTheEmulator(t *testing.T) {
	ctx := context.Background()
	tg := emulatorTarget(t)
	client := tg.KMS()
	mp := NewMapper("kmsconform-t-", targets.Backing{})
	for _, c := range []m.Call{{Op: m.OpConnectCustomKeyStore}, {Op: m.OpDisconnectCustomKeyStore}, {Op: m.OpDeleteCustomKeyStore},
		{Op: m.OpCreateCustomKeyStore, Omit: m.OmitName, Create: &m.CreateStoreInput{Name: "kmsconform-fresh"}}} {
		_, err := mp.Invoke(ctx, client, c, "", "")
		if o := Classify(err); o.Code != "ValidationException" || !strings.Contains(o.Message, "Member must not be null") {
			t.Errorf("%s without a required member: %+v", c.Op, o)
		}
	}
	in := &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(m.UnknownStoreID)}
	_, sdkErr := client.DescribeCustomKeyStores(ctx, in)
	rawErr := Raw(ctx, client, "DescribeCustomKeyStores", wireBody(in), nil)
	so, ro := Classify(sdkErr), Classify(rawErr)
	if so.Code != ro.Code || so.HTTPStatus != ro.HTTPStatus || so.Message != ro.Message || so.NotImplemented != ro.NotImplemented {
		t.Errorf("SDK %+v, raw %+v", so, ro)
	}
	var out kms.DescribeCustomKeyStoresOutput
	if err := Raw(ctx, client, "DescribeCustomKeyStores", wireBody(&kms.DescribeCustomKeyStoresInput{}), &out); err != nil || out.CustomKeyStores == nil {
		t.Errorf("raw Describe: %v, %+v", err, out)
	}
}
