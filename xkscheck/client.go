package xkscheck

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// ServiceName is the SigV4 service KMS signs proxy requests for (§7.3).
const ServiceName = "kms-xks-proxy"

// Budget is how long KMS waits for a proxy answer (§4.3, §7.4).
const Budget = 250 * time.Millisecond

// maxAnswerBytes bounds what the client reads of an answer: KMS's answers
// are a few KiB; a proxy that sends more is not trusted with memory.
const maxAnswerBytes = 1 << 20

// Credential is the store's XksProxyAuthenticationCredential.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
}

// String never shows the secret.
func (c Credential) String() string { return "Credential{" + c.AccessKeyID + ", secret hidden}" }

// client sends requests to one proxy as KMS does.
type client struct {
	endpoint string // https://host[:port]
	path     string // the XksProxyUriPath
	region   string
	cred     Credential
	hc       *http.Client
	calls    atomic.Int64 // requests sent to the proxy's API
}

// signing says how one request is signed; the zero value signs it as KMS
// does.
type signing struct {
	unsigned bool
	cred     *Credential
	service  string
	region   string
	skew     time.Duration
}

// answer is what the proxy said to one request.
type answer struct {
	status  int
	body    []byte
	header  http.Header
	err     error // transport error: no answer
	latency time.Duration
}

// xksError is the XKS error body (§7.4).
type xksError struct {
	Name    string `json:"errorName"`
	Message string `json:"errorMessage"`
}

func (a answer) errorName() string {
	var e xksError
	if json.Unmarshal(a.body, &e) != nil {
		return ""
	}
	return e.Name
}

// observed names the answer for a report: "success", "<errorName> <status>",
// "HTTP <status>" or the transport error.
func (a answer) observed() string {
	switch {
	case a.err != nil:
		return "transport error: " + oneLine(a.err.Error())
	case a.status == http.StatusOK:
		return "success"
	case a.errorName() != "":
		return fmt.Sprintf("%s %d", a.errorName(), a.status)
	}
	return fmt.Sprintf("HTTP %d", a.status)
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// do sends body (already JSON, or raw bytes) to suffix below the URI path
// ("/health", "/keys/k/encrypt") with method, signed as sg says.
func (c *client) do(ctx context.Context, method, uriPath string, body []byte, sg signing) answer {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+uriPath, bytes.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	if !sg.unsigned {
		cred := c.cred
		if sg.cred != nil {
			cred = *sg.cred
		}
		service, region := ServiceName, c.region
		if sg.service != "" {
			service = sg.service
		}
		if sg.region != "" {
			region = sg.region
		}
		sum := sha256.Sum256(body)
		err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey},
			req, hex.EncodeToString(sum[:]), service, region, time.Now().Add(sg.skew))
		if err != nil {
			return answer{err: err}
		}
	}
	c.calls.Add(1)
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{err: err, latency: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	lat := time.Since(start)
	if err != nil {
		return answer{err: err, latency: lat}
	}
	return answer{status: resp.StatusCode, body: b, header: resp.Header, latency: lat}
}

// post sends v as JSON to the API suffix below the URI path.
func (c *client) post(ctx context.Context, suffix string, v any, sg signing) answer {
	var body []byte
	switch b := v.(type) {
	case []byte:
		body = b
	default:
		var err error
		if body, err = json.Marshal(v); err != nil {
			return answer{err: err}
		}
	}
	return c.do(ctx, http.MethodPost, c.path+suffix, body, sg)
}

// ---- request shapes, as KMS sends them (§7.2) ----

// Illustrative identities of the caller KMS acts for: a proxy must not
// depend on them being real (it may authorize on them, which is its own
// configuration).
const (
	principalArn = "arn:aws:iam::111122223333:role/kmsconform-xks-check"
	keyArnPrefix = "arn:aws:kms:%s:111122223333:key/"
)

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
}

// healthMetadata is the requestMetadata of GetHealthStatus.
func healthMetadata(kmsOperation string) map[string]any {
	return map[string]any{"kmsRequestId": requestID(), "kmsOperation": kmsOperation}
}

// keyMetadata is the requestMetadata of a key API: Encrypt and Decrypt add
// kmsKeyArn.
func (c *client) keyMetadata(kmsOperation string, withKeyArn bool) map[string]any {
	m := map[string]any{"awsPrincipalArn": principalArn, "kmsOperation": kmsOperation, "kmsRequestId": requestID()}
	if withKeyArn {
		m["kmsKeyArn"] = fmt.Sprintf(keyArnPrefix, c.region) + "1234abcd-12ab-34cd-56ef-1234567890ab"
	}
	return m
}

func healthBody(kmsOperation string) map[string]any {
	return map[string]any{"requestMetadata": healthMetadata(kmsOperation)}
}

func (c *client) metadataBody(kmsOperation string) map[string]any {
	return map[string]any{"requestMetadata": c.keyMetadata(kmsOperation, false)}
}

func (c *client) encryptBody(kmsOperation string, pt, aad []byte, cdiv bool) map[string]any {
	b := map[string]any{"requestMetadata": c.keyMetadata(kmsOperation, true), "plaintext": pt, "encryptionAlgorithm": "AES_GCM"}
	if aad != nil {
		b["additionalAuthenticatedData"] = aad
	}
	if cdiv {
		b["ciphertextDataIntegrityValueAlgorithm"] = "SHA_256"
	}
	return b
}

// sealed is an Encrypt answer.
type sealed struct {
	Ciphertext                   []byte `json:"ciphertext"`
	CiphertextMetadata           []byte `json:"ciphertextMetadata,omitempty"`
	InitializationVector         []byte `json:"initializationVector"`
	AuthenticationTag            []byte `json:"authenticationTag"`
	CiphertextDataIntegrityValue []byte `json:"ciphertextDataIntegrityValue,omitempty"`
}

func (c *client) decryptBody(kmsOperation string, s sealed, aad []byte) map[string]any {
	b := map[string]any{"requestMetadata": c.keyMetadata(kmsOperation, true), "ciphertext": s.Ciphertext,
		"encryptionAlgorithm": "AES_GCM", "initializationVector": s.InitializationVector, "authenticationTag": s.AuthenticationTag}
	if s.CiphertextMetadata != nil {
		b["ciphertextMetadata"] = s.CiphertextMetadata
	}
	if aad != nil {
		b["additionalAuthenticatedData"] = aad
	}
	return b
}

func keyPath(id, api string) string { return "/keys/" + id + "/" + api }

// cdiv is the ciphertextDataIntegrityValue (§7.2): SHA-256 over AAD,
// ciphertextMetadata, IV, ciphertext and tag.
func cdiv(aad []byte, s sealed) []byte {
	h := sha256.New()
	for _, p := range [][]byte{aad, s.CiphertextMetadata, s.InitializationVector, s.Ciphertext, s.AuthenticationTag} {
		h.Write(p)
	}
	return h.Sum(nil)
}

var errNotJSON = errors.New("the answer is not a JSON object")

// decodeStrict decodes a JSON object answer; absent fields stay absent
// (the caller checks presence on the map).
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, errNotJSON
	}
	return m, nil
}
