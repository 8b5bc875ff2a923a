package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ControlPrefix is the path prefix of the control plane. Real KMS serves
// only POST /, so nothing under this prefix can collide with the API.
const ControlPrefix = "/_kmsconform/"

type opFunc func(ctx context.Context, body []byte) (any, *apiError)

func (e *Emulator) operations() map[string]opFunc {
	return map[string]opFunc{
		"CreateCustomKeyStore":                e.opCreateCustomKeyStore,
		"ConnectCustomKeyStore":               e.opConnectCustomKeyStore,
		"DisconnectCustomKeyStore":            e.opDisconnectCustomKeyStore,
		"UpdateCustomKeyStore":                e.opUpdateCustomKeyStore,
		"DeleteCustomKeyStore":                e.opDeleteCustomKeyStore,
		"DescribeCustomKeyStores":             e.opDescribeCustomKeyStores,
		"CreateKey":                           e.opCreateKey,
		"DescribeKey":                         e.opDescribeKey,
		"ListKeys":                            e.opListKeys,
		"EnableKey":                           e.opEnableDisableKey(true),
		"DisableKey":                          e.opEnableDisableKey(false),
		"ScheduleKeyDeletion":                 e.opScheduleKeyDeletion,
		"CancelKeyDeletion":                   e.opCancelKeyDeletion,
		"Encrypt":                             e.opEncrypt,
		"Decrypt":                             e.opDecrypt,
		"ReEncrypt":                           e.opReEncrypt,
		"GenerateDataKey":                     e.opGenerateDataKey(true),
		"GenerateDataKeyWithoutPlaintext":     e.opGenerateDataKey(false),
		"GenerateDataKeyPair":                 e.opGenerateDataKeyPair,
		"GenerateDataKeyPairWithoutPlaintext": e.opGenerateDataKeyPair,
		"GenerateRandom":                      e.opGenerateRandom,
		"EnableKeyRotation":                   e.opKeyAdmin("EnableKeyRotation"),
		"DisableKeyRotation":                  e.opKeyAdmin("DisableKeyRotation"),
		"GetKeyRotationStatus":                e.opKeyAdmin("GetKeyRotationStatus"),
		"RotateKeyOnDemand":                   e.opKeyAdmin("RotateKeyOnDemand"),
		"GetParametersForImport":              e.opKeyAdmin("GetParametersForImport"),
		"ImportKeyMaterial":                   e.opKeyAdmin("ImportKeyMaterial"),
		"DeleteImportedKeyMaterial":           e.opKeyAdmin("DeleteImportedKeyMaterial"),
		"ReplicateKey":                        e.opKeyAdmin("ReplicateKey"),
	}
}

// Handler returns the HTTP handler: the KMS API at "/" and, unless
// disabled, the control plane under ControlPrefix.
func (e *Emulator) Handler() http.Handler {
	ops := e.operations()
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.serveAPI(w, r, ops) })
	if e.opts.DisableControl {
		return api
	}
	mux := http.NewServeMux()
	mux.Handle(ControlPrefix, e.controlHandler())
	mux.Handle("/", api)
	return mux
}

func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request, ops map[string]opFunc) {
	start := time.Now()
	reqID := newUUID()
	op := "-"
	status := http.StatusOK
	code := ""
	defer func() {
		// Never a dropped connection: a panic in an operation is a bug, but
		// the client still gets a well-formed server fault.
		if p := recover(); p != nil {
			e.log.Error("panic in operation", "op", op, "panic", p)
			status, code = http.StatusInternalServerError, "KMSInternalException"
			writeError(w, reqID, &apiError{Code: code, Message: "An internal error occurred.", Status: status})
		}
		e.log.Info("request", "op", op, "status", status, "error", code, "latency", time.Since(start).Round(time.Microsecond), "requestId", reqID)
	}()
	fail := func(err *apiError) {
		status, code = err.Status, err.Code
		writeError(w, reqID, err)
	}
	if r.Method != http.MethodPost || (r.URL.Path != "/" && r.URL.Path != "") {
		// KMS has a single resource; any other method or path is not an
		// operation it knows (U: the exact AWS answer varies by front end).
		fail(clientErr(errUnknownOperation, "KMS accepts only POST requests to /."))
		return
	}
	target := r.Header.Get("X-Amz-Target")
	name, ok := strings.CutPrefix(target, "TrentService.")
	if ok {
		// The header is read before the request is authenticated: the
		// log keeps no more of it than the longest operation name needs.
		op = logTruncate(name, maxLoggedOp)
	}
	if r.ContentLength > e.opts.MaxBodyBytes {
		fail(tooLarge(e.opts.MaxBodyBytes))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, e.opts.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(tooLarge(e.opts.MaxBodyBytes))
			return
		}
		fail(clientErr(errSerialization, "The request body could not be read."))
		return
	}
	if len(e.opts.Credentials) > 0 {
		if err := e.verifySigV4(r, body); err != nil {
			fail(err)
			return
		}
	}
	fn := ops[name]
	if !ok || fn == nil {
		fail(clientErr(errUnknownOperation, "The operation %q is not supported.", truncate(target, 128)))
		return
	}
	out, aerr := fn(r.Context(), body)
	if aerr != nil && aerr.Code == errStoreNotFound && e.mut(mutStoreNotFoundName) {
		aerr = clientErr(errNotFound, "%s", aerr.Message)
	}
	if aerr != nil {
		fail(aerr)
		return
	}
	raw, merr := json.Marshal(out)
	if merr != nil {
		fail(internalErr("The response could not be encoded."))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", reqID)
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(raw)
}

// The connection bounds of Serve (Options can change each). Without them
// a trickled body or an idle keep-alive holds a connection, and its file
// descriptor, for ever.
const (
	// DefaultReadHeaderTimeout: every SDK writes its headers at once.
	DefaultReadHeaderTimeout = 5 * time.Second
	// DefaultReadTimeout bounds headers and body together: a body is at
	// most MaxBodyBytes (1 MiB by default), seconds on the slowest link.
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout runs from the end of the headers to the end of
	// the answer: the body (DefaultReadTimeout), the longest wait a
	// request may make (a control-plane settle, 30 s; an API call makes a
	// few XKS calls of Options.XKSTimeout, 250 ms like KMS) and the
	// answer. serverWriteTimeout lengthens it for a long XKSTimeout.
	DefaultWriteTimeout = 75 * time.Second
	// DefaultIdleTimeout is longer than the Go SDK's own idle timeout
	// (90 s; boto3 and the JS SDK v3 keep none and check a connection
	// before reuse), so a client never reuses a connection the emulator
	// has just closed, and an abandoned one is still closed.
	DefaultIdleTimeout = 120 * time.Second
)

// httpServer is the server Serve runs: the handler, the bounds above, and
// a header limit (a body larger than MaxBodyBytes is refused by the
// handler; the server must still read the headers of huge requests).
func (e *Emulator) httpServer() *http.Server {
	or := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	write := e.opts.WriteTimeout
	if write <= 0 {
		write = max(DefaultWriteTimeout, settleLimit+4*e.opts.XKSTimeout+15*time.Second)
	}
	return &http.Server{
		Handler:           e.Handler(),
		ReadHeaderTimeout: or(e.opts.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       or(e.opts.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      write,
		IdleTimeout:       or(e.opts.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    64 << 10,
	}
}

func tooLarge(max int64) *apiError {
	// 413 with an AWS-style body: the SDK reads the code from the header,
	// and the status says exactly what went wrong (U: the AWS front end's
	// own answer is not documented).
	return &apiError{Code: "RequestEntityTooLargeException", Message: "The request body is larger than " + strconv.FormatInt(max, 10) + " bytes.", Status: http.StatusRequestEntityTooLarge}
}

// maxLoggedOp is how much of an operation name a log line keeps (the
// longest, GenerateDataKeyPairWithoutPlaintext, has 35 bytes).
const maxLoggedOp = 64

// logTruncate cuts s to at most n bytes at a rune boundary and says how
// long it was.
func logTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func writeError(w http.ResponseWriter, reqID string, err *apiError) {
	raw, _ := json.Marshal(map[string]string{"__type": err.Code, "message": err.Message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", reqID)
	w.Header().Set("X-Amzn-ErrorType", err.Code)
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(err.Status)
	_, _ = w.Write(raw)
}

// epochTime marshals as epoch seconds with a fraction, as awsJson1_1 sends
// timestamps (spec §6.1).
type epochTime time.Time

func (t epochTime) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)), nil
}

func (t *epochTime) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*t = epochTime(time.UnixMilli(int64(f * 1000)))
	return nil
}

func asErr[T any](err error, target *T) bool { return errors.As(err, target) }
