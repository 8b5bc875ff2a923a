package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// FuzzWire sends arbitrary operation names, bodies, content types and
// methods through a real HTTP server: never a panic, never a 5xx for
// client input, never a dropped connection, always an AWS-shaped answer,
// and a refused request leaves the state exactly as it was.
func FuzzWire(f *testing.F) {
	f.Add("CreateCustomKeyStore", "application/x-amz-json-1.1", "POST", []byte(`{"CustomKeyStoreName":"x","CloudHsmClusterId":"cluster-abcdefghijk","TrustAnchorCertificate":"x","KeyStorePassword":"1234567"}`))
	f.Add("DeleteCustomKeyStore", "application/x-amz-json-1.1", "POST", []byte(`{"CustomKeyStoreId":"cks-1"}`))
	f.Add("ConnectCustomKeyStore", "text/plain", "POST", []byte(`{"CustomKeyStoreId":null}`))
	f.Add("UpdateCustomKeyStore", "", "PUT", []byte(`{"CustomKeyStoreId":"cks-1","NewCustomKeyStoreName":""}`))
	f.Add("DescribeCustomKeyStores", "application/x-amz-json-1.1", "POST", []byte(`{"Limit":0,"Marker":"m0"}`))
	f.Add("CreateKey", "application/x-amz-json-1.1", "POST", bytes.Repeat([]byte("["), 4096))
	f.Add("", "", "GET", []byte{})
	f.Add("TrentService.Encrypt", "application/json", "POST", []byte("\x00\xff"))
	e, err := New(Options{Clock: NewFakeClock(timeZero), DisableControl: true})
	if err != nil {
		f.Fatal(err)
	}
	_ = e.PutCluster(NewHealthyCluster("cluster-abcdefghijk", "x", "1234567"))
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	client := srv.Client()
	snapshot := func() string {
		e.mu.Lock()
		defer e.mu.Unlock()
		b, _ := json.Marshal(e.st)
		return string(b)
	}
	f.Fuzz(func(t *testing.T, op, contentType, method string, body []byte) {
		if !validMethod(method) {
			method = http.MethodPost
		}
		if !httpguts.ValidHeaderFieldValue("TrentService."+op) || !httpguts.ValidHeaderFieldValue(contentType) {
			t.Skip("not a header value an HTTP client can send")
		}
		before := snapshot()
		req, err := http.NewRequest(method, srv.URL+"/", bytes.NewReader(body))
		if err != nil {
			t.Skip()
		}
		req.Header.Set("X-Amz-Target", "TrentService."+op)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s %q: the connection failed: %v", method, op, body, err)
		}
		var answer map[string]any
		decodeErr := json.NewDecoder(resp.Body).Decode(&answer)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s %q: %d", method, op, body, resp.StatusCode)
		}
		if resp.Header.Get("X-Amzn-RequestId") == "" || decodeErr != nil {
			t.Fatalf("%s %s: not an AWS answer (%v)", method, op, decodeErr)
		}
		if resp.StatusCode != 200 {
			if resp.Header.Get("X-Amzn-ErrorType") == "" || answer["__type"] == nil {
				t.Fatalf("%s %s: an error without its type", method, op)
			}
			if after := snapshot(); after != before {
				t.Fatalf("%s %s %q was refused (%s) but changed the state", method, op, body, answer["__type"])
			}
		}
	})
}

func validMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch:
		return true
	}
	return false
}
