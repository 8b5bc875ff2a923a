package xksproxy

import (
	"encoding/json"
	"net/http"
	"strings"
)

// ErrorName is an errorName of the XKS Proxy API error table. KMS maps the
// name (never the message) to the exception its caller sees, so tests
// compare names, not messages.
type ErrorName string

// The error names of the XKS Proxy API v1.
const (
	ErrValidation           ErrorName = "ValidationException"
	ErrInvalidState         ErrorName = "InvalidStateException"
	ErrInvalidCiphertext    ErrorName = "InvalidCiphertextException"
	ErrInvalidKeyUsage      ErrorName = "InvalidKeyUsageException"
	ErrAuthenticationFailed ErrorName = "AuthenticationFailedException"
	ErrAccessDenied         ErrorName = "AccessDeniedException"
	ErrKeyNotFound          ErrorName = "KeyNotFoundException"
	ErrInvalidURIPath       ErrorName = "InvalidUriPathException"
	ErrThrottling           ErrorName = "ThrottlingException"
	ErrUnsupportedOperation ErrorName = "UnsupportedOperationException"
	ErrDependencyTimeout    ErrorName = "DependencyTimeoutException"
	ErrInternal             ErrorName = "InternalException"
)

// Status is the HTTP status the spec assigns to the error name.
func (n ErrorName) Status() int {
	switch n {
	case ErrValidation, ErrInvalidState, ErrInvalidCiphertext, ErrInvalidKeyUsage:
		return http.StatusBadRequest
	case ErrAuthenticationFailed:
		return http.StatusUnauthorized
	case ErrAccessDenied:
		return http.StatusForbidden
	case ErrKeyNotFound, ErrInvalidURIPath:
		return http.StatusNotFound
	case ErrThrottling:
		return http.StatusTooManyRequests
	case ErrUnsupportedOperation:
		return http.StatusNotImplemented
	case ErrDependencyTimeout:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// Error is an XKS error answer: {"errorName":…, "errorMessage":…}.
type Error struct {
	Name    ErrorName `json:"errorName"`
	Message string    `json:"errorMessage,omitempty"`
	// status overrides Name.Status(); only the 405 answer needs it.
	status int
}

func (e *Error) Error() string { return string(e.Name) + ": " + e.Message }

// HTTPStatus is the status the proxy answers this error with.
func (e *Error) HTTPStatus() int {
	if e.status != 0 {
		return e.status
	}
	return e.Name.Status()
}

func xksErr(name ErrorName, msg string) *Error {
	return &Error{Name: name, Message: sanitizeMessage(msg)}
}

// maxMessage is the spec's bound: an errorMessage is shorter than 512
// printable ASCII characters.
const maxMessage = 511

// sanitizeMessage keeps messages inside the spec's alphabet even when they
// quote client input (a decoder error can contain any byte).
func sanitizeMessage(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < maxMessage; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own response types reach here; they always marshal.
		status = http.StatusInternalServerError
		body = []byte(`{"errorName":"InternalException","errorMessage":"response encoding failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.HTTPStatus(), e)
}
