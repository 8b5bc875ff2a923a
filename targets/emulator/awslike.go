package emulator

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The AWS-like mode lets the code of the aws target (its guardrails, its
// cleanup, its planned runs) be tested without an AWS account: the emulator
// then answers like an account of real KMS as far as that code can tell —
// every request must be signed (SigV4, with the one credential), STS
// GetCallerIdentity answers on the same endpoint with a fixed account id,
// there is no control plane, and transitions last as long as the
// documentation says, on a clock that runs faster than real time.

// AWSLikeAccount is the account id of the AWS-like mode.
const AWSLikeAccount = "123456789012"

// AWSLikeConnectDuration is how long CONNECTING and DISCONNECTING last in
// the AWS-like mode, in emulator time: an XKS connect takes about 5
// minutes (spec §4.3). (A CloudHSM connect takes up to 20; the emulator
// has one duration for both types, and the shorter one keeps tests short.)
const AWSLikeConnectDuration = 5 * time.Minute

// AWSLikeOptions returns the options of the AWS-like mode: account
// AWSLikeAccount in region, SigV4 required with the credential
// accessKeyID/secret, documented transition times, and a clock that runs
// speedup times faster than real time (30,000 makes 5 minutes 10 ms).
func AWSLikeOptions(region, accessKeyID, secret string, speedup float64) Options {
	return Options{
		Region:             region,
		AccountID:          AWSLikeAccount,
		Credentials:        map[string]string{accessKeyID: secret},
		Clock:              NewScaledClock(time.Now(), speedup),
		ConnectDuration:    AWSLikeConnectDuration,
		DisconnectDuration: AWSLikeConnectDuration,
		DisableControl:     true,
	}
}

// ScaledClock is a Clock that runs speedup times faster than real time
// from a starting instant: documented durations, compressed.
type ScaledClock struct {
	start   time.Time
	speedup float64
}

// NewScaledClock returns a clock that shows start now and then runs
// speedup times faster than real time (a speedup below 1 counts as 1).
func NewScaledClock(start time.Time, speedup float64) *ScaledClock {
	if speedup < 1 {
		speedup = 1
	}
	return &ScaledClock{start: start, speedup: speedup}
}

// Now implements Clock.
func (c *ScaledClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.start)) * c.speedup))
}

// AWSLikeHandler serves the KMS API (as Handler does) and STS's
// GetCallerIdentity on the same endpoint, so that a client configured
// with AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL_KMS pointing at the
// emulator finds both. STS requests are those in the Query protocol (a
// form body with an Action). Calls counts every request by operation.
func (e *Emulator) AWSLikeHandler() *AWSLikeHandler {
	return &AWSLikeHandler{e: e, api: e.Handler(), calls: map[string]int{}}
}

// AWSLikeHandler is the handler of the AWS-like mode.
type AWSLikeHandler struct {
	e   *Emulator
	api http.Handler

	mu    sync.Mutex
	calls map[string]int
}

// Calls returns how many requests each operation received, STS ones as
// "sts:<Action>", KMS ones by name, whether they succeeded or not.
func (h *AWSLikeHandler) Calls() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.calls))
	for k, v := range h.calls {
		out[k] = v
	}
	return out
}

func (h *AWSLikeHandler) count(op string) {
	h.mu.Lock()
	h.calls[op]++
	h.mu.Unlock()
}

// ServeHTTP implements http.Handler.
func (h *AWSLikeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
		h.count(op)
		h.api.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeSTSError(w, http.StatusBadRequest, "InvalidRequest", "The request body could not be read.")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeSTSError(w, http.StatusBadRequest, "InvalidRequest", "The request body is not a form.")
		return
	}
	action := form.Get("Action")
	h.count("sts:" + action)
	if len(h.e.opts.Credentials) > 0 {
		if aerr := h.e.verifySigV4For(r, body, "sts"); aerr != nil {
			code := aerr.Code
			if code == errUnrecognizedClient {
				code = "InvalidClientTokenId"
			}
			writeSTSError(w, http.StatusForbidden, code, aerr.Message)
			return
		}
	}
	if action != "GetCallerIdentity" {
		writeSTSError(w, http.StatusBadRequest, "InvalidAction", "Could not find operation "+truncate(action, 64)+" for version "+truncate(form.Get("Version"), 16)+".")
		return
	}
	type result struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	}
	type response struct {
		XMLName   xml.Name `xml:"GetCallerIdentityResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Result    result   `xml:"GetCallerIdentityResult"`
		RequestID string   `xml:"ResponseMetadata>RequestId"`
	}
	acct := h.e.opts.AccountID
	out, _ := xml.Marshal(response{Xmlns: "https://sts.amazonaws.com/doc/2011-06-15/",
		Result:    result{Arn: h.e.iamArn("user/kmsconform"), UserID: "AIDAKMSCONFORMEMULATOR", Account: acct},
		RequestID: newUUID()})
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write(out)
}

func writeSTSError(w http.ResponseWriter, status int, code, msg string) {
	type e struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	type resp struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Error     e        `xml:"Error"`
		RequestID string   `xml:"RequestId"`
	}
	out, _ := xml.Marshal(resp{Xmlns: "https://sts.amazonaws.com/doc/2011-06-15/", Error: e{"Sender", code, msg}, RequestID: newUUID()})
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}
