package xksproxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func startProxy(t testing.TB, o Options) *Proxy {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// client signs requests the way KMS does, with the SDK's own signer.
type client struct {
	t       testing.TB
	p       *Proxy
	hc      *http.Client
	cred    Credential
	service string
	region  string
	when    time.Time // zero: now
	// mutate, if set, changes the request after signing.
	mutate func(*http.Request)
}

func newClient(t testing.TB, p *Proxy) *client {
	tr := p.Transport()
	t.Cleanup(tr.CloseIdleConnections)
	return &client{t: t, p: p, hc: &http.Client{Transport: tr}, cred: p.Credential(), service: ServiceName, region: "us-east-1"}
}

type result struct {
	status int
	body   []byte
	header http.Header
}

func (r result) errorName() ErrorName {
	var e Error
	_ = json.Unmarshal(r.body, &e)
	return e.Name
}

func signRequest(t testing.TB, req *http.Request, body []byte, cred Credential, service, region string, when time.Time) {
	t.Helper()
	sum := sha256.Sum256(body)
	err := v4.NewSigner().SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey},
		req, hex.EncodeToString(sum[:]), service, region, when)
	if err != nil {
		t.Fatal(err)
	}
}

func (c *client) raw(method, path string, body []byte) (result, error) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.p.URIEndpoint()+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	when := c.when
	if when.IsZero() {
		when = time.Now()
	}
	signRequest(c.t, req, body, c.cred, c.service, c.region, when)
	if c.mutate != nil {
		c.mutate(req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	return result{status: resp.StatusCode, body: b, header: resp.Header}, nil
}

func (c *client) post(path string, v any) result {
	c.t.Helper()
	var body []byte
	switch b := v.(type) {
	case []byte:
		body = b
	case string:
		body = []byte(b)
	default:
		var err error
		if body, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	r, err := c.raw(http.MethodPost, c.p.URIPath()+path, body)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	return r
}

var testMetadata = map[string]any{
	"awsPrincipalArn": "arn:aws:iam::123456789012:user/Alice",
	"kmsKeyArn":       "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	"kmsOperation":    "Encrypt",
	"kmsRequestId":    "4112f4d6-db54-4af4-ae30-c55a22a8dfae",
}

func md(kmsOp string) map[string]any {
	m := map[string]any{}
	for k, v := range testMetadata {
		m[k] = v
	}
	m["kmsOperation"] = kmsOp
	return m
}

func healthBody() map[string]any {
	return map[string]any{"requestMetadata": map[string]any{"kmsRequestId": "r-1", "kmsOperation": "KmsHealthCheck"}}
}

func encryptBody(pt, aad []byte, cdiv bool) map[string]any {
	b := map[string]any{"requestMetadata": md("Encrypt"), "plaintext": pt, "encryptionAlgorithm": "AES_GCM"}
	if aad != nil {
		b["additionalAuthenticatedData"] = aad
	}
	if cdiv {
		b["ciphertextDataIntegrityValueAlgorithm"] = "SHA_256"
	}
	return b
}

func decryptBody(e EncryptResponse, aad []byte) map[string]any {
	b := map[string]any{
		"requestMetadata":      md("Decrypt"),
		"ciphertext":           e.Ciphertext,
		"encryptionAlgorithm":  "AES_GCM",
		"initializationVector": e.InitializationVector,
		"authenticationTag":    e.AuthenticationTag,
	}
	if e.CiphertextMetadata != nil {
		b["ciphertextMetadata"] = e.CiphertextMetadata
	}
	if aad != nil {
		b["additionalAuthenticatedData"] = aad
	}
	return b
}

func mustDecode[T any](t testing.TB, r result) T {
	t.Helper()
	var v T
	if r.status != http.StatusOK {
		t.Fatalf("status %d, body %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return v
}

func wantError(t testing.TB, r result, status int, name ErrorName) {
	t.Helper()
	if r.status != status || r.errorName() != name {
		t.Fatalf("got %d %s (%s), want %d %s", r.status, r.errorName(), r.body, status, name)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q", ct)
	}
}
