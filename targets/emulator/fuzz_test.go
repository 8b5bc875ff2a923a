package emulator

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }

// FuzzDispatch throws arbitrary targets and bodies at the handler: the
// answer must always be a well-formed AWS error or success, never a panic
// and never a 5xx for what is only client input.
func FuzzDispatch(f *testing.F) {
	seeds := []struct{ op, body string }{
		{"CreateCustomKeyStore", `{"CustomKeyStoreName":"a","CloudHsmClusterId":"cluster-abcdefghijk","TrustAnchorCertificate":"x","KeyStorePassword":"1234567"}`},
		{"CreateCustomKeyStore", `{"CustomKeyStoreName":"x","CustomKeyStoreType":"EXTERNAL_KEY_STORE","XksProxyConnectivity":"VPC_ENDPOINT_SERVICE","XksProxyUriEndpoint":"https://a.example.com","XksProxyUriPath":"/kms/xks/v1","XksProxyVpcEndpointServiceName":"com.amazonaws.vpce.us-east-1.vpce-svc-0a","XksProxyAuthenticationCredential":{"AccessKeyId":"ABCDEFGHIJKLMNOPQRST","RawSecretAccessKey":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}}`},
		{"DescribeCustomKeyStores", `{"Limit":5,"Marker":"m1"}`},
		{"UpdateCustomKeyStore", `{"CustomKeyStoreId":"cks-1","XksProxyConnectivity":"PUBLIC_ENDPOINT"}`},
		{"CreateKey", `{"Origin":"EXTERNAL_KEY_STORE","CustomKeyStoreId":"cks-1","XksKeyId":"k"}`},
		{"Decrypt", `{"CiphertextBlob":"AQ=="}`},
		{"Decrypt", `{"CiphertextBlob":"AjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA=="}`},
		{"ReEncrypt", `{"CiphertextBlob":"AQ==","DestinationKeyId":"x"}`},
		{"GenerateRandom", `{"NumberOfBytes":1024}`},
		{"ScheduleKeyDeletion", `{"KeyId":"arn:aws:kms:us-east-1:111122223333:alias/x"}`},
		{"GenerateDataKey", `{"KeyId":"x","NumberOfBytes":1,"KeySpec":"AES_128"}`},
		{"Nope", `{`},
	}
	for _, s := range seeds {
		f.Add(s.op, []byte(s.body))
	}
	e, err := New(Options{Clock: NewFakeClock(timeZero), DisableControl: true})
	if err != nil {
		f.Fatal(err)
	}
	_ = e.PutCluster(NewHealthyCluster("cluster-abcdefghijk", "x", "1234567"))
	h := e.Handler()
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", "TrentService."+op)
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("%s %q took %v", op, body, d)
		}
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %s", op, body, rec.Code, rec.Body)
		}
		if rec.Code != 200 && rec.Header().Get("X-Amzn-ErrorType") == "" {
			t.Fatalf("%s: error without type: %d", op, rec.Code)
		}
		if rec.Header().Get("X-Amzn-RequestId") == "" {
			t.Fatal("no request id")
		}
	})
}
