package drive

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/kmsconform/kmsconform/model"
)

// Observation is a target's answer, classified.
type Observation struct {
	// Code is the error code (smithy.APIError.ErrorCode()), "success", or
	// "" when there was no answer.
	Code       string
	HTTPStatus int
	Message    string
	RequestID  string
	// Transport is set when no answer arrived (connection refused, timeout)
	// or none that can be read (not an AWS error, and not an emulator's
	// "not implemented"): the outcome is unknown.
	Transport bool
	// NotImplemented is set when the answer has the shape of an emulator's
	// "operation not implemented" (spec/emulators.md), not of a KMS error.
	NotImplemented bool
	// Unknown is set when the call was not sent: it names backing the run
	// does not know (see UnknownBackingError); the text says what would
	// reach it.
	Unknown string
}

// SuccessCode is the observed code of a call that succeeded.
const SuccessCode = model.SuccessName

// notImplementedCodes are error codes emulators send for an operation they
// lack. Real KMS never sends them for a well-formed custom key store call.
var notImplementedCodes = map[string]bool{
	"InternalFailure":           true, // LocalStack, HTTP 501
	"UnknownOperationException": true, // cloudemu, older gopherstack
	"InvalidAction":             true, // ministack, kumo
	"UnsupportedOperation":      true, // floci (no "Exception" suffix)
	"NotImplemented":            true,
	"UnknownError":              true, // aws-in-a-box, HTTP 404 and an empty body
}

// Classify turns the error of an SDK call into an Observation.
func Classify(err error) Observation {
	if err == nil {
		return Observation{Code: SuccessCode, HTTPStatus: 200}
	}
	var o Observation
	var ub *UnknownBackingError
	if errors.As(err, &ub) {
		o.Unknown = ub.Error()
		o.Message = o.Unknown
		return o
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		o.HTTPStatus = re.HTTPStatusCode()
		o.RequestID = re.ServiceRequestID()
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		o.Code = api.ErrorCode()
		o.Message = api.ErrorMessage()
		var generic *smithy.GenericAPIError
		isGeneric := errors.As(err, &generic)
		o.NotImplemented = notImplementedCodes[o.Code] || o.HTTPStatus == 501 ||
			// moto: HTTP 500 with an HTML page the SDK reads as an unknown error.
			(isGeneric && o.HTTPStatus >= 500 && o.Code != "KMSInternalException" && o.Code != "DependencyTimeoutException")
		return o
	}
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		// local-kms answers 501 with plain text; moto 500 with HTML.
		o.Message = fmt.Sprintf("the answer (HTTP %d) is not an awsJson1_1 error: %s", o.HTTPStatus, firstLine(de.Error()))
		o.NotImplemented = o.HTTPStatus == 404 || o.HTTPStatus == 500 || o.HTTPStatus == 501
		// An answer that cannot be read says nothing of the outcome: the
		// verdict is indeterminate, as with no answer at all.
		o.Transport = !o.NotImplemented
		return o
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || o.HTTPStatus == 0 {
		o.Transport = true
		o.Message = firstLine(err.Error())
		return o
	}
	o.Message = firstLine(err.Error())
	o.NotImplemented = o.HTTPStatus == 404 || o.HTTPStatus == 500 || o.HTTPStatus == 501
	o.Transport = !o.NotImplemented // no error code to judge by
	return o
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// describe renders the answer's status and code for a verdict's detail.
func (o Observation) describe() string {
	if o.Code == "" {
		return fmt.Sprintf("HTTP %d, not a KMS error", o.HTTPStatus)
	}
	return fmt.Sprintf("HTTP %d %s", o.HTTPStatus, o.Code)
}
