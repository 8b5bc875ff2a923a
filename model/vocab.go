package model

import "slices"

// StoreType is a custom key store's type (CustomKeyStoreType on the wire).
type StoreType string

const (
	CloudHSM StoreType = "AWS_CLOUDHSM"
	External StoreType = "EXTERNAL_KEY_STORE"
)

// StoreTypes lists both store types in a stable order.
var StoreTypes = []StoreType{CloudHSM, External}

// Short is a compact label for tables.
func (t StoreType) Short() string {
	if t == CloudHSM {
		return "CloudHSM"
	}
	return "XKS"
}

// XksConnectivity is how KMS reaches an external key store proxy.
type XksConnectivity string

const (
	PublicEndpoint     XksConnectivity = "PUBLIC_ENDPOINT"
	VpcEndpointService XksConnectivity = "VPC_ENDPOINT_SERVICE"
)

// ConnectionState is a custom key store's ConnectionState.
type ConnectionState string

const (
	Connected     ConnectionState = "CONNECTED"
	Connecting    ConnectionState = "CONNECTING"
	Disconnected  ConnectionState = "DISCONNECTED"
	Disconnecting ConnectionState = "DISCONNECTING"
	Failed        ConnectionState = "FAILED"
)

// ConnectionStates lists the five states in the order tables show them.
var ConnectionStates = []ConnectionState{Disconnected, Connecting, Connected, Disconnecting, Failed}

// Transient reports whether the state settles on its own (spec §4.1).
func (s ConnectionState) Transient() bool { return s == Connecting || s == Disconnecting }

// ConnectionErrorCode explains why a store is FAILED (spec §4.2).
type ConnectionErrorCode string

const (
	ErrCodeInternalError                 ConnectionErrorCode = "INTERNAL_ERROR"
	ErrCodeNetworkErrors                 ConnectionErrorCode = "NETWORK_ERRORS"
	ErrCodeInvalidCredentials            ConnectionErrorCode = "INVALID_CREDENTIALS"
	ErrCodeClusterNotFound               ConnectionErrorCode = "CLUSTER_NOT_FOUND"
	ErrCodeInsufficientCloudHsmHsms      ConnectionErrorCode = "INSUFFICIENT_CLOUDHSM_HSMS"
	ErrCodeInsufficientFreeAddresses     ConnectionErrorCode = "INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET"
	ErrCodeSubnetNotFound                ConnectionErrorCode = "SUBNET_NOT_FOUND"
	ErrCodeUserLockedOut                 ConnectionErrorCode = "USER_LOCKED_OUT"
	ErrCodeUserLoggedIn                  ConnectionErrorCode = "USER_LOGGED_IN"
	ErrCodeUserNotFound                  ConnectionErrorCode = "USER_NOT_FOUND"
	ErrCodeXksProxyAccessDenied          ConnectionErrorCode = "XKS_PROXY_ACCESS_DENIED"
	ErrCodeXksProxyInvalidConfiguration  ConnectionErrorCode = "XKS_PROXY_INVALID_CONFIGURATION"
	ErrCodeXksProxyInvalidResponse       ConnectionErrorCode = "XKS_PROXY_INVALID_RESPONSE"
	ErrCodeXksProxyInvalidTLS            ConnectionErrorCode = "XKS_PROXY_INVALID_TLS_CONFIGURATION"
	ErrCodeXksProxyNotReachable          ConnectionErrorCode = "XKS_PROXY_NOT_REACHABLE"
	ErrCodeXksProxyTimedOut              ConnectionErrorCode = "XKS_PROXY_TIMED_OUT"
	ErrCodeXksVpcServiceInvalidConfig    ConnectionErrorCode = "XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION"
	ErrCodeXksVpcEndpointServiceNotFound ConnectionErrorCode = "XKS_VPC_ENDPOINT_SERVICE_NOT_FOUND"
)

// CodeScope says which stores a ConnectionErrorCode can describe.
type CodeScope struct {
	CloudHSM bool
	External bool
	VPCOnly  bool // external key stores with VPC_ENDPOINT_SERVICE connectivity only
}

// ConnectionErrorCodes maps each of the eighteen codes to the stores it
// applies to (spec §4.2).
var ConnectionErrorCodes = map[ConnectionErrorCode]CodeScope{
	ErrCodeInternalError:                 {CloudHSM: true, External: true},
	ErrCodeNetworkErrors:                 {CloudHSM: true, External: true},
	ErrCodeInvalidCredentials:            {CloudHSM: true, External: true},
	ErrCodeClusterNotFound:               {CloudHSM: true},
	ErrCodeInsufficientCloudHsmHsms:      {CloudHSM: true},
	ErrCodeInsufficientFreeAddresses:     {CloudHSM: true},
	ErrCodeSubnetNotFound:                {CloudHSM: true},
	ErrCodeUserLockedOut:                 {CloudHSM: true},
	ErrCodeUserLoggedIn:                  {CloudHSM: true},
	ErrCodeUserNotFound:                  {CloudHSM: true},
	ErrCodeXksProxyAccessDenied:          {External: true},
	ErrCodeXksProxyInvalidConfiguration:  {External: true},
	ErrCodeXksProxyInvalidResponse:       {External: true},
	ErrCodeXksProxyInvalidTLS:            {External: true},
	ErrCodeXksProxyNotReachable:          {External: true},
	ErrCodeXksProxyTimedOut:              {External: true},
	ErrCodeXksVpcServiceInvalidConfig:    {External: true, VPCOnly: true},
	ErrCodeXksVpcEndpointServiceNotFound: {External: true, VPCOnly: true},
}

// AppliesTo reports whether the code can describe a store of this type and
// connectivity (connectivity is ignored for CloudHSM stores).
func (c ConnectionErrorCode) AppliesTo(t StoreType, conn XksConnectivity) bool {
	s, ok := ConnectionErrorCodes[c]
	if !ok {
		return false
	}
	if t == CloudHSM {
		return s.CloudHSM
	}
	return s.External && (!s.VPCOnly || conn == VpcEndpointService)
}

// KeyState is a KMS key's KeyState.
type KeyState string

const (
	KeyEnabled                KeyState = "Enabled"
	KeyDisabled               KeyState = "Disabled"
	KeyPendingDeletion        KeyState = "PendingDeletion"
	KeyUnavailable            KeyState = "Unavailable"
	KeyCreating               KeyState = "Creating"
	KeyPendingImport          KeyState = "PendingImport"
	KeyPendingReplicaDeletion KeyState = "PendingReplicaDeletion"
	KeyUpdating               KeyState = "Updating"
)

// KeyStates lists every KeyState KMS defines. Only the first four can occur
// for a key in a custom key store (spec §5).
var KeyStates = []KeyState{KeyEnabled, KeyDisabled, KeyPendingDeletion, KeyUnavailable,
	KeyCreating, KeyPendingImport, KeyPendingReplicaDeletion, KeyUpdating}

// Origin is a KMS key's Origin.
type Origin string

const (
	OriginAwsKms           Origin = "AWS_KMS"
	OriginExternal         Origin = "EXTERNAL"
	OriginAwsCloudHSM      Origin = "AWS_CLOUDHSM"
	OriginExternalKeyStore Origin = "EXTERNAL_KEY_STORE"
)

// OriginFor is the Origin a key in a store of this type must have (spec §2.7).
func OriginFor(t StoreType) Origin {
	if t == CloudHSM {
		return OriginAwsCloudHSM
	}
	return OriginExternalKeyStore
}

// Exception is the error code a target answers with (the `__type` of the
// awsJson1_1 error, which the SDK's ErrorCode() returns). The empty Exception
// means success (HTTP 200).
type Exception string

// Success is the outcome of a call that returns HTTP 200.
const Success Exception = ""

// SuccessName names success among exception names (in reports, say).
const SuccessName = "success"

// OutcomeNames names an outcome set: its exceptions, and SuccessName for
// success, each once, in order.
func OutcomeNames(outs []Outcome) []string {
	var names []string
	for _, o := range outs {
		n := string(o.Error)
		if o.Error == Success {
			n = SuccessName
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

const (
	ErrCloudHsmClusterInUse            Exception = "CloudHsmClusterInUseException"
	ErrCloudHsmClusterInvalidConfig    Exception = "CloudHsmClusterInvalidConfigurationException"
	ErrCloudHsmClusterNotActive        Exception = "CloudHsmClusterNotActiveException"
	ErrCloudHsmClusterNotFound         Exception = "CloudHsmClusterNotFoundException"
	ErrCloudHsmClusterNotRelated       Exception = "CloudHsmClusterNotRelatedException"
	ErrCustomKeyStoreHasCMKs           Exception = "CustomKeyStoreHasCMKsException"
	ErrCustomKeyStoreInvalidState      Exception = "CustomKeyStoreInvalidStateException"
	ErrCustomKeyStoreNameInUse         Exception = "CustomKeyStoreNameInUseException"
	ErrCustomKeyStoreNotFound          Exception = "CustomKeyStoreNotFoundException"
	ErrIncorrectTrustAnchor            Exception = "IncorrectTrustAnchorException"
	ErrXksKeyAlreadyInUse              Exception = "XksKeyAlreadyInUseException"
	ErrXksKeyInvalidConfiguration      Exception = "XksKeyInvalidConfigurationException"
	ErrXksKeyNotFound                  Exception = "XksKeyNotFoundException"
	ErrXksProxyIncorrectAuthCredential Exception = "XksProxyIncorrectAuthenticationCredentialException"
	ErrXksProxyInvalidConfiguration    Exception = "XksProxyInvalidConfigurationException"
	ErrXksProxyInvalidResponse         Exception = "XksProxyInvalidResponseException"
	ErrXksProxyUriEndpointInUse        Exception = "XksProxyUriEndpointInUseException"
	ErrXksProxyUriInUse                Exception = "XksProxyUriInUseException"
	ErrXksProxyUriUnreachable          Exception = "XksProxyUriUnreachableException"
	ErrXksProxyVpcServiceInUse         Exception = "XksProxyVpcEndpointServiceInUseException"
	ErrXksProxyVpcServiceInvalidConfig Exception = "XksProxyVpcEndpointServiceInvalidConfigurationException"
	ErrXksProxyVpcServiceNotFound      Exception = "XksProxyVpcEndpointServiceNotFoundException"
	ErrLimitExceeded                   Exception = "LimitExceededException"
	ErrKMSInternal                     Exception = "KMSInternalException"
	ErrKMSInvalidState                 Exception = "KMSInvalidStateException"
	ErrDisabled                        Exception = "DisabledException"
	ErrNotFound                        Exception = "NotFoundException"
	ErrUnsupportedOperation            Exception = "UnsupportedOperationException"
	ErrInvalidMarker                   Exception = "InvalidMarkerException"
	ErrInvalidCiphertext               Exception = "InvalidCiphertextException"
	ErrDependencyTimeout               Exception = "DependencyTimeoutException"

	// Not modeled by the SDK; real KMS sends it for constraint violations (spec §1.1, §6.3).
	ErrValidation Exception = "ValidationException"
)

// Short is a compact label for tables; the full name is the wire name.
func (e Exception) Short() string {
	switch e {
	case Success:
		return "200"
	case ErrCustomKeyStoreInvalidState:
		return "ICS"
	case ErrCustomKeyStoreNotFound:
		return "CKSNotFound"
	}
	const suffix = "Exception"
	if n := len(e) - len(suffix); n > 0 && string(e[n:]) == suffix {
		return string(e[:n])
	}
	return string(e)
}
