package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

type rawAnswer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// post sends a raw request, as a client that is not the SDK would.
func post(t *testing.T, url, target, contentType string, body []byte) rawAnswer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("request dropped: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := rawAnswer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func TestWireErrors(t *testing.T) {
	e := newEnv(t, Options{MaxBodyBytes: 4096})
	u := e.emu.URL() + "/"
	ct := "application/x-amz-json-1.1"
	cases := []struct {
		name, target string
		body         string
		status       int
		code         string
	}{
		{"malformed JSON", "TrentService.DescribeCustomKeyStores", `{"Limit":`, 400, "SerializationException"},
		{"not an object", "TrentService.DescribeCustomKeyStores", `[1,2]`, 400, "SerializationException"},
		{"wrong member type", "TrentService.DescribeCustomKeyStores", `{"Limit":"ten"}`, 400, "SerializationException"},
		{"fractional integer", "TrentService.GenerateRandom", `{"NumberOfBytes":1.5}`, 400, "SerializationException"},
		{"bad base64", "TrentService.Decrypt", `{"CiphertextBlob":"!!!"}`, 400, "SerializationException"},
		{"unknown operation", "TrentService.MakeCoffee", `{}`, 400, "UnknownOperationException"},
		{"no target", "", `{}`, 400, "UnknownOperationException"},
		{"other service", "DynamoDB_20120810.ListTables", `{}`, 400, "UnknownOperationException"},
		{"oversized body", "TrentService.DescribeCustomKeyStores", `{"x":"` + strings.Repeat("a", 5000) + `"}`, 413, "RequestEntityTooLargeException"},
		{"unknown store", "TrentService.ConnectCustomKeyStore", `{"CustomKeyStoreId":"cks-00000000000000000"}`, 400, "CustomKeyStoreNotFoundException"},
		{"unknown key", "TrentService.DescribeKey", `{"KeyId":"fake-key-id"}`, 400, "NotFoundException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, u, tc.target, ct, []byte(tc.body))
			if a.status != tc.status || a.body["__type"] != tc.code || a.header.Get("X-Amzn-ErrorType") != tc.code {
				t.Fatalf("got %d %s", a.status, a.raw)
			}
			if msg, _ := a.body["message"].(string); msg == "" || a.header.Get("X-Amzn-RequestId") == "" {
				t.Fatalf("no message or request id: %s %v", a.raw, a.header)
			}
		})
	}
	// A GET is not an operation, and still an AWS-format answer.
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
		t.Fatalf("GET: %d %v", resp.StatusCode, resp.Header)
	}
	// The recorded real-AWS message for an unknown key id.
	a := post(t, u, "TrentService.DescribeKey", ct, []byte(`{"KeyId":"fake-key-id"}`))
	if a.body["message"] != "Invalid keyId 'fake-key-id'" {
		t.Fatalf("message: %s", a.raw)
	}
	// Success answers carry the protocol's content type and a request id.
	a = post(t, u, "TrentService.DescribeCustomKeyStores", ct, []byte(`{}`))
	if a.status != 200 || a.header.Get("Content-Type") != ct || a.header.Get("X-Amzn-RequestId") == "" || a.raw != `{"CustomKeyStores":[],"Truncated":false}` {
		t.Fatalf("success: %d %v %s", a.status, a.header, a.raw)
	}
}

func TestValidationMessages(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	cases := []struct {
		name string
		call func() error
		msg  string
	}{
		{"GenerateRandom 0", func() error {
			_, err := e.kms.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(0)})
			return err
		}, "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"GenerateRandom 1025", func() error {
			_, err := e.kms.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(1025)})
			return err
		}, "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"},
		{"GenerateRandom none", func() error {
			_, err := e.kms.GenerateRandom(ctx, &kms.GenerateRandomInput{})
			return err
		}, "NumberOfBytes is required."},
		{"empty name", func() error {
			_, err := e.kms.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("")})
			return err
		}, "1 validation error detected: Value '' at 'customKeyStoreName' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"cluster id pattern and length", func() error {
			_, err := e.kms.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("n"), CloudHsmClusterId: aws.String("bad")})
			return err
		}, "2 validation errors detected: Value 'bad' at 'cloudHsmClusterId' failed to satisfy constraint: Member must have length greater than or equal to 19; Value 'bad' at 'cloudHsmClusterId' failed to satisfy constraint: Member must satisfy regular expression pattern: cluster-[2-7a-zA-Z]{11,16}"},
		{"short password is not echoed", func() error {
			_, err := e.kms.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("n"), KeyStorePassword: aws.String("abc")})
			return err
		}, "1 validation error detected: Value at 'keyStorePassword' failed to satisfy constraint: Member must have length greater than or equal to 7"},
		{"store type enum", func() error {
			_, err := e.kms.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("n"), CustomKeyStoreType: "OTHER"})
			return err
		}, "1 validation error detected: Value 'OTHER' at 'customKeyStoreType' failed to satisfy constraint: Member must satisfy enum value set: [AWS_CLOUDHSM, EXTERNAL_KEY_STORE]"},
		{"uri endpoint with port", func() error {
			_, err := e.kms.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("n"), CustomKeyStoreType: types.CustomKeyStoreTypeExternalKeyStore, XksProxyUriEndpoint: aws.String("https://xks.example.com:8443")})
			return err
		}, "1 validation error detected: Value 'https://xks.example.com:8443' at 'xksProxyUriEndpoint' failed to satisfy constraint: Member must satisfy regular expression pattern: ^https://[a-zA-Z0-9.-]+$"},
		{"secret is not echoed", func() error {
			_, err := e.kms.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("n"), CustomKeyStoreType: types.CustomKeyStoreTypeExternalKeyStore,
				XksProxyAuthenticationCredential: &types.XksProxyAuthenticationCredentialType{AccessKeyId: aws.String("ABCDEFGHIJKLMNOPQRST"), RawSecretAccessKey: aws.String("short-secret!")}})
			return err
		}, "2 validation errors detected: Value at 'xksProxyAuthenticationCredential.rawSecretAccessKey' failed to satisfy constraint: Member must have length greater than or equal to 43; Value at 'xksProxyAuthenticationCredential.rawSecretAccessKey' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9\\/+=]+$"},
		{"deletion window", func() error {
			_, err := e.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String("k"), PendingWindowInDays: aws.Int32(6)})
			return err
		}, "1 validation error detected: Value '6' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value greater than or equal to 7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			wantCode(t, err, "ValidationException")
			wantMessage(t, err, tc.msg)
		})
	}
	// Missing XKS parameters, and parameters of the wrong store type.
	_, err := e.kms.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("n"), CustomKeyStoreType: types.CustomKeyStoreTypeExternalKeyStore})
	wantCode(t, err, "ValidationException")
	_, err = e.kms.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("n"), XksProxyUriPath: aws.String("/kms/xks/v1")})
	wantCode(t, err, "ValidationException")
	_, err = e.kms.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String("a"), CustomKeyStoreName: aws.String("b")})
	wantCode(t, err, "ValidationException")
}

func TestSigV4(t *testing.T) {
	e := newEnv(t, Options{Credentials: map[string]string{testAKID: testSecret}, AccountID: "123456789012"})
	ctx := context.Background()
	out, err := e.kms.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("signed request refused: %v", err)
	}
	if !strings.HasPrefix(*out.KeyMetadata.Arn, "arn:aws:kms:us-east-1:123456789012:key/") || *out.KeyMetadata.AWSAccountId != "123456789012" {
		t.Fatalf("account not in ARN: %s", *out.KeyMetadata.Arn)
	}
	_, err = sdkClient(e.emu.URL(), testAKID, "wrong-secret").ListKeys(ctx, &kms.ListKeysInput{})
	wantCode(t, err, "InvalidSignatureException")
	_, err = sdkClient(e.emu.URL(), "AKIDUNKNOWN", testSecret).ListKeys(ctx, &kms.ListKeysInput{})
	wantCode(t, err, "UnrecognizedClientException")
	a := post(t, e.emu.URL(), "TrentService.ListKeys", "application/x-amz-json-1.1", []byte(`{}`))
	if a.status != 400 || a.body["__type"] != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned: %d %s", a.status, a.raw)
	}
	req, _ := http.NewRequest(http.MethodPost, e.emu.URL(), strings.NewReader(`{}`))
	req.Header.Set("X-Amz-Target", "TrentService.ListKeys")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kms/aws4_request")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "IncompleteSignatureException" {
		t.Fatalf("incomplete: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestControlPlaneHTTP(t *testing.T) {
	e := newEnv(t, Options{})
	do := func(method, path, body string) (int, string) { return controlCall(t, e, method, path, body) }
	cl, _ := json.Marshal(NewHealthyCluster("cluster-abcdefghijk", testAnchor, testPassword))
	if st, body := do("PUT", "clusters/cluster-abcdefghijk", string(cl)); st != 200 {
		t.Fatalf("put cluster: %d %s", st, body)
	}
	if _, body := do("GET", "clusters/cluster-abcdefghijk", ""); strings.Contains(body, testPassword) {
		t.Fatal("control plane returned the kmsuser password")
	}
	id := e.createHSMStore("s", "cluster-abcdefghijk")
	if st, _ := do("POST", "stores/"+id+"/hold", ""); st != 200 {
		t.Fatal("hold")
	}
	must[*kms.ConnectCustomKeyStoreOutput](t)(e.kms.ConnectCustomKeyStore(e.ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}))
	if st, _ := do("POST", "clock/advance", `{"seconds": 3600}`); st != 200 {
		t.Fatal("advance")
	}
	e.wantState(id, types.ConnectionStateTypeConnecting, "")
	if st, body := do("POST", "clusters/cluster-abcdefghijk/kmsuser-password", `{"password":"changedPw1"}`); st != 200 {
		t.Fatalf("password: %s", body)
	}
	do("POST", "stores/"+id+"/release", "")
	if _, body := do("POST", "stores/"+id+"/settle", ""); !strings.Contains(body, `"connectionErrorCode":"INVALID_CREDENTIALS"`) {
		t.Fatalf("settle: %s", body)
	}
	if st, _ := do("GET", "stores/cks-nope", ""); st != 404 {
		t.Fatal("unknown store")
	}
	if st, _ := do("PUT", "clusters/x", "{not json"); st != 400 {
		t.Fatal("bad body")
	}
	do("POST", "reset", "")
	_, err := e.kms.DescribeCustomKeyStores(e.ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
	wantCode(t, err, "CustomKeyStoreNotFoundException")
}
