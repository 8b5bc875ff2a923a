package xksproxy

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Request is what the proxy recorded of one API request: enough to check
// what KMS sent (metadata, algorithms, AAD, signature scope) but never a
// secret or a plaintext.
//
// Only a request whose signature was valid is recorded in full, and even
// then every field is cut to a cap (listed in Truncated), so that one
// record is at most MaxRecordedEntryBytes. Any other request (refused for
// its path, method, body size or signature) keeps only a summary
// (SummaryOnly): time, method, path, operation and key id from the path,
// body size, the access key id it claimed, the authentication failure,
// the answer. Nothing from its body or the rest of its headers is kept:
// whoever can reach the port could otherwise fill the proxy's memory.
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

	// SummaryOnly marks the record of a request whose signature was not
	// found valid: only the fields named in the type's doc are kept.
	SummaryOnly bool `json:"summaryOnly,omitempty"`
	// BodyBytes is the length of the body the proxy read, or of the one
	// announced in Content-Length if it answered before reading it (-1:
	// unknown). The body itself is never recorded.
	BodyBytes int64 `json:"bodyBytes"`
	// Truncated lists the fields cut to their cap, each with its length;
	// strings end in a "...[truncated from N bytes]" marker, byte fields
	// keep their first bytes.
	Truncated []string `json:"truncated,omitempty"`
}

func (r Request) clone() Request {
	r.AAD = slices.Clone(r.AAD)
	r.CiphertextMetadata = slices.Clone(r.CiphertextMetadata)
	r.SignedHeaders = slices.Clone(r.SignedHeaders)
	r.Truncated = slices.Clone(r.Truncated)
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

// Caps on what the proxy records. The ring holds at most MaxRecorded
// requests (default DefaultMaxRecorded) and MaxRecordedBytes of them
// (default DefaultMaxRecordedBytes), evicting the oldest; one record is at
// most MaxRecordedEntryBytes.
const (
	DefaultMaxRecorded = 10000
	// DefaultMaxRecordedBytes holds 10,000 ordinary KMS requests (under
	// 1 KiB each) with room to spare, or over 500 at the entry cap.
	DefaultMaxRecordedBytes = 16 << 20
	// MaxRecordedEntryBytes bounds one record, as accounted (the sum of
	// the fixed part and every string and byte field).
	MaxRecordedEntryBytes = 32 << 10
)

// Field caps. Each keeps every value a valid XKS request can carry except
// the AAD, of which the spec's minimum is kept.
const (
	maxRecordedShort  = 128  // method, key id, access key id, algorithms, Region, service, date, signature
	maxRecordedPath   = 300  // longest valid: 128-character URI path + /keys/ + 128-character key id + /metadata
	maxRecordedString = 2048 // request metadata: IAM ARNs are at most 2048
	maxRecordedHeader = 256  // host (a DNS name is at most 253), content type
	// maxRecordedAuthError bounds the proxy's own message, which quotes
	// its configured Region at most.
	maxRecordedAuthError = 256
	maxRecordedBinary    = 8192 // AAD: the 8 KiB the spec requires a proxy to accept; ciphertext metadata is 20 at most
	// maxRecordedSignedHeaders bounds the header names kept, all together.
	maxRecordedSignedHeaders = 1024
)

// summary is what is kept of a request whose signature was not found
// valid.
func (r Request) summary() Request {
	return Request{
		Seq: r.Seq, Time: r.Time, Method: r.Method, Path: r.Path, Operation: r.Operation, KeyID: r.KeyID,
		PlaintextLen: -1, AccessKeyID: r.AccessKeyID, AuthError: r.AuthError,
		Fault: r.Fault, Status: r.Status, ErrorName: r.ErrorName,
		SummaryOnly: true, BodyBytes: r.BodyBytes,
	}
}

// bounded is the record as kept: the summary unless the signature was
// valid, every field cut to its cap, and every string and slice copied, so
// that a record never pins a request's header or body buffers (a short
// substring of a 1 MB header keeps all of it alive).
func (r Request) bounded() Request {
	if !r.SignatureValid {
		r = r.summary()
	}
	var c capper
	r.Method = c.str("method", r.Method, maxRecordedShort)
	r.Path = c.str("path", r.Path, maxRecordedPath)
	r.KeyID = c.str("keyId", r.KeyID, maxRecordedShort)
	m := &r.Metadata
	m.AWSPrincipalARN = c.str("requestMetadata.awsPrincipalArn", m.AWSPrincipalARN, maxRecordedString)
	m.AWSSourceVPC = c.str("requestMetadata.awsSourceVpc", m.AWSSourceVPC, maxRecordedString)
	m.AWSSourceVPCE = c.str("requestMetadata.awsSourceVpce", m.AWSSourceVPCE, maxRecordedString)
	m.KMSKeyARN = c.str("requestMetadata.kmsKeyArn", m.KMSKeyARN, maxRecordedString)
	m.KMSOperation = c.str("requestMetadata.kmsOperation", m.KMSOperation, maxRecordedString)
	m.KMSRequestID = c.str("requestMetadata.kmsRequestId", m.KMSRequestID, maxRecordedString)
	m.KMSViaService = c.str("requestMetadata.kmsViaService", m.KMSViaService, maxRecordedString)
	r.EncryptionAlgorithm = c.str("encryptionAlgorithm", r.EncryptionAlgorithm, maxRecordedShort)
	r.CDIVAlgorithm = c.str("ciphertextDataIntegrityValueAlgorithm", r.CDIVAlgorithm, maxRecordedShort)
	r.AAD = c.bytes("additionalAuthenticatedData", r.AAD, maxRecordedBinary)
	r.CiphertextMetadata = c.bytes("ciphertextMetadata", r.CiphertextMetadata, maxRecordedShort)
	r.Host = c.str("host", r.Host, maxRecordedHeader)
	r.ContentType = c.str("contentType", r.ContentType, maxRecordedHeader)
	r.AmzDate = c.str("amzDate", r.AmzDate, maxRecordedShort)
	r.AccessKeyID = c.str("accessKeyId", r.AccessKeyID, maxRecordedShort)
	r.Region = c.str("region", r.Region, maxRecordedShort)
	r.Service = c.str("service", r.Service, maxRecordedShort)
	r.SignedHeaders = c.list("signedHeaders", r.SignedHeaders, maxRecordedSignedHeaders)
	r.Signature = c.str("signature", r.Signature, maxRecordedShort)
	r.AuthError = c.str("authError", r.AuthError, maxRecordedAuthError)
	r.Truncated = c.truncated
	return r
}

// capper cuts fields to their caps and notes which it cut.
type capper struct{ truncated []string }

func (c *capper) note(field string, n int) {
	c.truncated = append(c.truncated, field+": "+strconv.Itoa(n)+" bytes")
}

func (c *capper) str(field, s string, limit int) string {
	if len(s) <= limit {
		return strings.Clone(s)
	}
	c.note(field, len(s))
	return capString(s, limit)
}

// capString cuts s to at most limit bytes, at a character boundary, and
// says so; short strings come back as they are.
func capString(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "...[truncated from " + strconv.Itoa(len(s)) + " bytes]"
}

func (c *capper) bytes(field string, b []byte, limit int) []byte {
	if len(b) > limit {
		c.note(field, len(b))
		b = b[:limit]
	}
	return slices.Clone(b)
}

func (c *capper) list(field string, l []string, limit int) []string {
	if l == nil {
		return nil
	}
	out := make([]string, 0, len(l))
	kept, total := 0, 0
	for _, s := range l {
		total += len(s)
		if total <= limit {
			kept = total
			out = append(out, strings.Clone(s))
		}
	}
	if kept < total {
		c.note(field, total)
	}
	return out
}

// size is what a record accounts for in the ring: its fixed part and the
// bytes its strings and slices point to.
func (r *Request) size() int {
	n := int(unsafe.Sizeof(*r))
	m := &r.Metadata
	for _, s := range [...]string{r.Method, r.Path, string(r.Operation), r.KeyID,
		m.AWSPrincipalARN, m.AWSSourceVPC, m.AWSSourceVPCE, m.KMSKeyARN, m.KMSOperation, m.KMSRequestID, m.KMSViaService,
		r.EncryptionAlgorithm, r.CDIVAlgorithm, r.Host, r.ContentType, r.AmzDate, r.AccessKeyID, r.Region, r.Service,
		r.Signature, r.AuthError, string(r.Fault), string(r.ErrorName)} {
		n += len(s)
	}
	n += len(r.AAD) + len(r.CiphertextMetadata)
	for _, s := range r.SignedHeaders {
		n += int(unsafe.Sizeof(s)) + len(s)
	}
	for _, s := range r.Truncated {
		n += int(unsafe.Sizeof(s)) + len(s)
	}
	return n
}

// recorder keeps the last requests in a ring, within both a count and a
// byte budget, so a long-running proxy never grows without bound nor
// copies the list on every request.
type recorder struct {
	mu       sync.Mutex
	max      int
	maxBytes int64
	seq      int64
	ring     []Request // grows up to max slots
	first, n int       // the oldest record is ring[first]; n are kept
	bytes    int64     // accounted size of the n records
}

func (rc *recorder) at(i int) *Request { return &rc.ring[(rc.first+i)%len(rc.ring)] }

// add bounds r, keeps it and answers what was kept. The newest request is
// always kept, whatever its size.
func (rc *recorder) add(r Request) Request {
	r = r.bounded()
	size := int64(r.size())
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.seq++
	r.Seq = rc.seq
	if rc.n == len(rc.ring) && len(rc.ring) < rc.max {
		grown := make([]Request, min(max(2*len(rc.ring), 64), rc.max))
		for i := range rc.n {
			grown[i] = *rc.at(i)
		}
		rc.ring, rc.first = grown, 0
	}
	if rc.n == len(rc.ring) {
		rc.evictOldest()
	}
	*rc.at(rc.n) = r
	rc.n++
	rc.bytes += size
	for rc.n > 1 && rc.bytes > rc.maxBytes {
		rc.evictOldest()
	}
	return r
}

func (rc *recorder) evictOldest() {
	old := rc.at(0)
	rc.bytes -= int64(old.size())
	*old = Request{} // let its memory go now, not when the slot is reused
	rc.first = (rc.first + 1) % len(rc.ring)
	rc.n--
}

func (rc *recorder) list() []Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]Request, rc.n)
	for i := range out {
		out[i] = rc.at(i).clone()
	}
	return out
}

// stats are the number of records kept and their size, as the byte
// budget counts it.
func (rc *recorder) stats() (n int, bytes int64) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.n, rc.bytes
}

func (rc *recorder) reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.ring, rc.first, rc.n, rc.bytes = nil, 0, 0, 0
}
