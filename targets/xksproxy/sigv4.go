package xksproxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ServiceName is the SigV4 service KMS signs XKS requests for.
const ServiceName = "kms-xks-proxy"

// ControlServiceName is the SigV4 service of the control endpoints. It
// differs from ServiceName so that the two planes' signatures are never
// interchangeable.
const ControlServiceName = "kmsconform-control"

// DefaultClockSkew is how far a request's X-Amz-Date may be from the
// proxy's clock (spec: 5 minutes).
const DefaultClockSkew = 5 * time.Minute

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	amzDate      = "20060102T150405Z"
	scopeDate    = "20060102"
)

// authInfo is what the proxy learned from the Authorization header. It
// holds no secret, so it can be recorded and logged.
type authInfo struct {
	AccessKeyID   string
	Date          string
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

// verifier checks SigV4 signatures against a credential lookup.
type verifier struct {
	service string
	region  string // empty: any region
	skew    time.Duration
	now     func() time.Time
	secret  func(accessKeyID string) (string, bool)
}

// verify authenticates r whose body is body. The returned authInfo is
// filled as far as the header could be parsed, even on failure, so the
// recorder shows what the client sent.
func (v *verifier) verify(r *http.Request, body []byte) (authInfo, *Error) {
	var ai authInfo
	h := r.Header.Get("Authorization")
	if h == "" {
		return ai, xksErr(ErrAuthenticationFailed, "missing Authorization header")
	}
	rest, ok := strings.CutPrefix(h, sigAlgorithm+" ")
	if !ok {
		return ai, xksErr(ErrAuthenticationFailed, "Authorization is not "+sigAlgorithm)
	}
	var cred, signed string
	for _, part := range strings.Split(rest, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = val
		case "SignedHeaders":
			signed = val
		case "Signature":
			ai.Signature = val
		}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || scope[0] == "" {
		return ai, xksErr(ErrAuthenticationFailed, "malformed Credential scope")
	}
	ai.AccessKeyID, ai.Date, ai.Region, ai.Service = scope[0], scope[1], scope[2], scope[3]
	if signed == "" || ai.Signature == "" {
		return ai, xksErr(ErrAuthenticationFailed, "SignedHeaders and Signature are required")
	}
	ai.SignedHeaders = strings.Split(signed, ";")

	if ai.Service != v.service {
		return ai, xksErr(ErrAuthenticationFailed, "credential scope service must be "+v.service)
	}
	if v.region != "" && ai.Region != v.region {
		return ai, xksErr(ErrAuthenticationFailed, "credential scope region must be "+v.region)
	}
	if !sort.StringsAreSorted(ai.SignedHeaders) {
		return ai, xksErr(ErrAuthenticationFailed, "SignedHeaders must be sorted")
	}
	if !contains(ai.SignedHeaders, "host") || !contains(ai.SignedHeaders, "x-amz-date") {
		return ai, xksErr(ErrAuthenticationFailed, "SignedHeaders must include host and x-amz-date")
	}
	dateHdr := r.Header.Get("X-Amz-Date")
	t, err := time.Parse(amzDate, dateHdr)
	if err != nil {
		return ai, xksErr(ErrAuthenticationFailed, "X-Amz-Date is missing or not yyyymmddThhmmssZ")
	}
	if t.Format(scopeDate) != ai.Date {
		return ai, xksErr(ErrAuthenticationFailed, "credential scope date differs from X-Amz-Date")
	}
	if d := v.now().Sub(t); d > v.skew || d < -v.skew {
		return ai, xksErr(ErrAuthenticationFailed, "X-Amz-Date is more than "+v.skew.String()+" from the proxy clock")
	}
	secret, known := v.secret(ai.AccessKeyID)
	if !known {
		return ai, xksErr(ErrAuthenticationFailed, "unknown access key id")
	}
	payload := sha256.Sum256(body)
	payloadHex := hex.EncodeToString(payload[:])
	if ph := r.Header.Get("X-Amz-Content-Sha256"); ph != "" && ph != payloadHex {
		return ai, xksErr(ErrAuthenticationFailed, "X-Amz-Content-Sha256 does not match the body")
	}

	canonical := strings.Join([]string{
		r.Method,
		escapePath(r.URL.EscapedPath()),
		canonicalQuery(r.URL.Query()),
		canonicalHeaders(r, ai.SignedHeaders),
		signed,
		payloadHex,
	}, "\n")
	credScope := strings.Join(scope[1:], "/")
	creq := sha256.Sum256([]byte(canonical))
	stringToSign := sigAlgorithm + "\n" + dateHdr + "\n" + credScope + "\n" + hex.EncodeToString(creq[:])

	k := hmacSHA256([]byte("AWS4"+secret), ai.Date)
	k = hmacSHA256(k, ai.Region)
	k = hmacSHA256(k, ai.Service)
	k = hmacSHA256(k, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(k, stringToSign))
	if !hmac.Equal([]byte(want), []byte(ai.Signature)) {
		// The expected signature is never disclosed: it would let a
		// client test guesses offline.
		return ai, xksErr(ErrAuthenticationFailed, "signature does not match")
	}
	return ai, nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// canonicalHeaders follows the SDK signer: trimmed values with inner runs
// of spaces collapsed, repeated headers joined by commas.
func canonicalHeaders(r *http.Request, names []string) string {
	var b strings.Builder
	for _, n := range names {
		var vals []string
		switch n {
		case "host":
			vals = []string{r.Host}
		case "content-length":
			vals = r.Header.Values("Content-Length")
			if len(vals) == 0 && r.ContentLength >= 0 {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		default:
			vals = r.Header.Values(n)
		}
		b.WriteString(n)
		b.WriteByte(':')
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.Join(strings.Fields(v), " "))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func canonicalQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, uriEncode(k, true)+"="+uriEncode(v, true))
		}
	}
	return strings.Join(parts, "&")
}

// escapePath encodes an already escaped path once more, as SigV4 does for
// every service but S3.
func escapePath(p string) string {
	if p == "" {
		return "/"
	}
	return uriEncode(p, false)
}

func uriEncode(s string, encodeSlash bool) string {
	const hexdigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexdigits[c>>4])
			b.WriteByte(hexdigits[c&15])
		}
	}
	return b.String()
}

func itoa(n int) string { return strconv.Itoa(n) }
