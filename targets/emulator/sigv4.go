package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

const sigv4MaxSkew = 5 * time.Minute

// kmsSignedHeaders are the headers a KMS request's signature must cover
// besides host. The body is always covered (its hash is part of the
// signature), but the operation is not in it: a signature that leaves
// X-Amz-Target out lets a captured GenerateRandom be replayed as CreateKey
// with the same body within the five minutes of skew. Every AWS SDK signs
// both (Go v2 and the JS SDK v3 sign every header but a short list of
// hop-by-hop ones; botocore, under boto3 and the AWS CLI, likewise).
var kmsSignedHeaders = []string{"content-type", "x-amz-target"}

// verifySigV4 checks a request the way AWS front ends do, with the errors
// they answer. The check uses wall time, not the emulator's clock: the
// client signs with wall time.
func (e *Emulator) verifySigV4(r *http.Request, body []byte) *apiError {
	return e.verifySigV4For(r, body, "kms", kmsSignedHeaders...)
}

// verifySigV4For checks a signature scoped to service (kms, sts in the
// AWS-like mode, or ControlServiceName) whose SignedHeaders include host
// and every header named in mustSign (lower case).
func (e *Emulator) verifySigV4For(r *http.Request, body []byte, service string, mustSign ...string) *apiError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return clientErr(errMissingAuthToken, "Missing Authentication Token")
	}
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return clientErr(errIncompleteSignature, "Authorization header requires the AWS4-HMAC-SHA256 algorithm.")
	}
	parts := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok {
			parts[k] = v
		}
	}
	cred, signedHeaders, sig := parts["Credential"], parts["SignedHeaders"], parts["Signature"]
	if cred == "" || signedHeaders == "" || sig == "" {
		return clientErr(errIncompleteSignature, "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.")
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return clientErr(errIncompleteSignature, "The Credential parameter of the Authorization header is malformed.")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return clientErr(errIncompleteSignature, "Authorization header requires existence of either an 'X-Amz-Date' or a 'Date' header.")
	}
	secret, known := e.opts.Credentials[scope[0]]
	if !known {
		return clientErr(errUnrecognizedClient, "The security token included in the request is invalid.")
	}
	if d := time.Since(t); d > sigv4MaxSkew || d < -sigv4MaxSkew {
		return clientErr(errInvalidSignature, "Signature expired: %s is now earlier than %s.", amzDate, time.Now().Add(-sigv4MaxSkew).UTC().Format("20060102T150405Z"))
	}
	if scope[1] != amzDate[:8] || scope[2] != e.opts.Region || scope[3] != service {
		return clientErr(errInvalidSignature, "Credential should be scoped to a valid Region and to the service '%s'.", service)
	}
	names := strings.Split(signedHeaders, ";")
	hasHost := false
	var canon strings.Builder
	for _, n := range names {
		var v string
		switch n {
		case "host":
			hasHost = true
			v = r.Host
		case "content-length":
			v = r.Header.Get("Content-Length")
			if v == "" && r.ContentLength >= 0 {
				v = itoa(r.ContentLength)
			}
		default:
			vals := r.Header.Values(http.CanonicalHeaderKey(n))
			for i := range vals {
				vals[i] = strings.Join(strings.Fields(vals[i]), " ")
			}
			v = strings.Join(vals, ",")
		}
		canon.WriteString(n + ":" + v + "\n")
	}
	if !hasHost || !sort.StringsAreSorted(names) {
		return clientErr(errIncompleteSignature, "The SignedHeaders parameter must be sorted and include 'host'.")
	}
	for _, h := range mustSign {
		if !slices.Contains(names, h) {
			return clientErr(errIncompleteSignature, "The SignedHeaders parameter must include '%s': the signature has to cover it.", h)
		}
	}
	payload := sha256.Sum256(body)
	creq := strings.Join([]string{r.Method, canonicalURI(r.URL), canonicalQuery(r.URL), canon.String(), signedHeaders, hex.EncodeToString(payload[:])}, "\n")
	h := sha256.Sum256([]byte(creq))
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + strings.Join(scope[1:], "/") + "\n" + hex.EncodeToString(h[:])
	k := hmacSHA256([]byte("AWS4"+secret), scope[1])
	k = hmacSHA256(k, scope[2])
	k = hmacSHA256(k, scope[3])
	k = hmacSHA256(k, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(k, sts))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return clientErr(errInvalidSignature, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return p
}

func canonicalQuery(u *url.URL) string {
	q := u.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := q[k]
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, url.QueryEscape(k)+"="+strings.ReplaceAll(url.QueryEscape(v), "+", "%20"))
		}
	}
	return strings.Join(parts, "&")
}

func itoa(n int64) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{digits[n%10]}, b...)
		n /= 10
	}
	return string(b)
}
