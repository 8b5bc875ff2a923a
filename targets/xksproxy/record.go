package xksproxy

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"sync"
	"time"
)

// Request is what the proxy recorded of one API request: enough to check
// what KMS sent (metadata, algorithms, AAD, signature scope) but never a
// secret or a plaintext.
type Request struct {
	Seq    int64     `json:"seq"`
	Time   time.Time `json:"time"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	// Operation is empty when the path was not one of the API URIs.
	Operation Operation       `json:"operation,omitempty"`
	KeyID     string          `json:"keyId,omitempty"`
	Metadata  RequestMetadata `json:"requestMetadata"`

	EncryptionAlgorithm string `json:"encryptionAlgorithm,omitempty"`
	CDIVAlgorithm       string `json:"ciphertextDataIntegrityValueAlgorithm,omitempty"`
	AAD                 []byte `json:"additionalAuthenticatedData,omitempty"`
	CiphertextMetadata  []byte `json:"ciphertextMetadata,omitempty"`
	// PlaintextLen is the decoded plaintext length of an Encrypt, -1 if
	// none was readable. The plaintext itself is never kept.
	PlaintextLen int `json:"plaintextLength"`

	Host        string `json:"host"`
	ContentType string `json:"contentType,omitempty"`
	AmzDate     string `json:"amzDate,omitempty"`

	AccessKeyID    string   `json:"accessKeyId,omitempty"`
	Region         string   `json:"region,omitempty"`
	Service        string   `json:"service,omitempty"`
	SignedHeaders  []string `json:"signedHeaders,omitempty"`
	Signature      string   `json:"signature,omitempty"`
	SignatureValid bool     `json:"signatureValid"`
	AuthError      string   `json:"authError,omitempty"`

	// Fault is the injected fault that shaped the answer, if any.
	Fault     Fault     `json:"fault,omitempty"`
	Status    int       `json:"status"`
	ErrorName ErrorName `json:"errorName,omitempty"`
}

func (r Request) clone() Request {
	r.AAD = slices.Clone(r.AAD)
	r.CiphertextMetadata = slices.Clone(r.CiphertextMetadata)
	r.SignedHeaders = slices.Clone(r.SignedHeaders)
	return r
}

// fillFromBody reads what it can from a body that may be invalid: a
// request refused for its signature is still worth seeing.
func (r *Request) fillFromBody(body []byte) {
	r.PlaintextLen = -1
	var w wireRequest
	if json.Unmarshal(body, &w) != nil {
		return
	}
	if w.RequestMetadata != nil {
		r.Metadata = *w.RequestMetadata
	}
	if w.EncryptionAlgorithm != nil {
		r.EncryptionAlgorithm = *w.EncryptionAlgorithm
	}
	if w.CiphertextDataIntegrityValueAlgorithm != nil {
		r.CDIVAlgorithm = *w.CiphertextDataIntegrityValueAlgorithm
	}
	if w.AdditionalAuthenticatedData != nil {
		r.AAD, _ = base64.StdEncoding.DecodeString(*w.AdditionalAuthenticatedData)
	}
	if w.CiphertextMetadata != nil {
		r.CiphertextMetadata, _ = base64.StdEncoding.DecodeString(*w.CiphertextMetadata)
	}
	if w.Plaintext != nil {
		if pt, err := base64.StdEncoding.DecodeString(*w.Plaintext); err == nil {
			r.PlaintextLen = len(pt)
			clear(pt)
		}
	}
}

// recorder keeps the last max requests in a ring, so a long-running proxy
// neither grows without bound nor copies the list on every request.
type recorder struct {
	mu   sync.Mutex
	max  int
	seq  int64
	reqs []Request
	next int // once full, the slot to overwrite: the oldest request
}

func (rc *recorder) add(r Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.seq++
	r.Seq = rc.seq
	if len(rc.reqs) < rc.max {
		rc.reqs = append(rc.reqs, r)
		return
	}
	rc.reqs[rc.next] = r
	rc.next = (rc.next + 1) % rc.max
}

func (rc *recorder) list() []Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]Request, 0, len(rc.reqs))
	for i := range rc.reqs {
		out = append(out, rc.reqs[(rc.next+i)%len(rc.reqs)].clone())
	}
	return out
}

func (rc *recorder) reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.reqs, rc.next = nil, 0
}
