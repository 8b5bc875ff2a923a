package emulator

import (
	"fmt"
	"net/http"
)

// apiError is an error the emulator answers in the awsJson1_1 error format.
// Every failure that reaches a client goes through this type, so that no
// path can leak a Go error string (which might carry a secret) or answer in
// another format.
type apiError struct {
	Code    string
	Message string
	Status  int
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// Real KMS answers every client fault with HTTP 400, although the Smithy
// model declares 404 for NotFoundException and 409 for KMSInvalidState and
// Disabled (spec C-5). The emulator follows the wire, not the model.
func clientErr(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func internalErr(format string, args ...any) *apiError {
	return &apiError{Code: "KMSInternalException", Message: fmt.Sprintf(format, args...), Status: http.StatusInternalServerError}
}

// Exception names used in more than one place.
const (
	errValidation          = "ValidationException"
	errSerialization       = "SerializationException"
	errUnknownOperation    = "UnknownOperationException"
	errStoreNotFound       = "CustomKeyStoreNotFoundException"
	errStoreInvalidState   = "CustomKeyStoreInvalidStateException"
	errStoreNameInUse      = "CustomKeyStoreNameInUseException"
	errStoreHasCMKs        = "CustomKeyStoreHasCMKsException"
	errLimitExceeded       = "LimitExceededException"
	errUnsupported         = "UnsupportedOperationException"
	errNotFound            = "NotFoundException"
	errKMSInvalidState     = "KMSInvalidStateException"
	errDisabled            = "DisabledException"
	errInvalidCiphertext   = "InvalidCiphertextException"
	errIncorrectKey        = "IncorrectKeyException"
	errInvalidMarker       = "InvalidMarkerException"
	errInvalidArn          = "InvalidArnException"
	errClusterNotFound     = "CloudHsmClusterNotFoundException"
	errClusterNotActive    = "CloudHsmClusterNotActiveException"
	errClusterInUse        = "CloudHsmClusterInUseException"
	errClusterInvalidConf  = "CloudHsmClusterInvalidConfigurationException"
	errClusterNotRelated   = "CloudHsmClusterNotRelatedException"
	errIncorrectTrust      = "IncorrectTrustAnchorException"
	errXksUriInUse         = "XksProxyUriInUseException"
	errXksEndpointInUse    = "XksProxyUriEndpointInUseException"
	errXksVpcSvcInUse      = "XksProxyVpcEndpointServiceInUseException"
	errXksVpcSvcNotFound   = "XksProxyVpcEndpointServiceNotFoundException"
	errXksVpcSvcInvalid    = "XksProxyVpcEndpointServiceInvalidConfigurationException"
	errXksIncorrectCred    = "XksProxyIncorrectAuthenticationCredentialException"
	errXksInvalidConf      = "XksProxyInvalidConfigurationException"
	errXksUnreachable      = "XksProxyUriUnreachableException"
	errXksInvalidResponse  = "XksProxyInvalidResponseException"
	errXksKeyInvalidConf   = "XksKeyInvalidConfigurationException"
	errXksKeyNotFound      = "XksKeyNotFoundException"
	errXksKeyAlreadyInUse  = "XksKeyAlreadyInUseException"
	errMissingAuthToken    = "MissingAuthenticationTokenException"
	errIncompleteSignature = "IncompleteSignatureException"
	errInvalidSignature    = "InvalidSignatureException"
	errUnrecognizedClient  = "UnrecognizedClientException"
)

func storeNotFound() *apiError {
	return clientErr(errStoreNotFound, "Custom key store not found.")
}
