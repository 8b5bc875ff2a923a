package emulator

import (
	"fmt"
	"slices"
	"strings"
)

// Mutant is a deliberate defect the emulator can be started with: a single,
// realistic departure from the documented behaviour, of the kind other
// emulators show. Mutants exist to measure the suite — a mutant no spec,
// scenario or state machine notices is a hole in the suite — and are off
// unless Options.Mutant names one. `kmsconform serve` has no way to set it.
type Mutant struct {
	Name string
	// Op, StoreType and State say where the departure lies (State "any"
	// when it does not depend on one).
	Op, StoreType, State string
	Description          string
}

// Mutant names. Each is checked by one hook, e.mut(name), in the code it
// changes.
const (
	mutCreateDuplicateName     = "create-duplicate-name"
	mutCreateXksDuplicateName  = "create-xks-duplicate-name"
	mutCreateClusterInUse      = "create-cluster-in-use-ignored"
	mutCreateTrustAnchor       = "create-trust-anchor-unchecked"
	mutQuotaIgnored            = "quota-ignored"
	mutQuotaOffByOne           = "quota-off-by-one"
	mutNameLengthOffByOne      = "name-length-off-by-one"
	mutPasswordLengthOffByOne  = "password-length-off-by-one"
	mutConnectFromFailed       = "connect-from-failed"
	mutConnectDisconnecting    = "connect-while-disconnecting"
	mutConnectSkipsConnecting  = "connect-skips-connecting"
	mutConnectWrongException   = "connect-failed-wrong-exception"
	mutCloudHSMFailedNoCode    = "cloudhsm-failed-without-code"
	mutXksFailedNoCode         = "xks-failed-without-code"
	mutDisconnectLeavesFailed  = "disconnect-leaves-failed"
	mutDisconnectTwice         = "disconnect-while-disconnected"
	mutDisconnectSkips         = "disconnect-skips-disconnecting"
	mutDeleteWhileConnected    = "delete-while-connected"
	mutDeleteWithKeys          = "delete-with-keys"
	mutUpdatePasswordLive      = "update-password-while-connected"
	mutUpdateRenameCollides    = "update-rename-collides"
	mutUpdateXksCredential     = "update-xks-credential-unchecked"
	mutStoreNotFoundName       = "store-not-found-wrong-exception"
	mutKeysEnabledOffline      = "keys-enabled-while-disconnected"
	mutCryptoOffline           = "crypto-while-disconnected"
	mutReconnectResetsKeys     = "reconnect-resets-key-state"
	mutReconnectLosesKeys      = "reconnect-loses-keys"
	mutCreateKeyDisconnected   = "createkey-while-disconnected"
	mutGenerateRandomOffline   = "generate-random-while-disconnected"
	mutCancelDeletionEnabled   = "cancel-deletion-enables"
	mutLockoutNotCounted       = "kmsuser-lockout-not-counted"
	mutCreationDateNow         = "creation-date-is-now"
	mutDeletionDateDisabled    = "deletion-date-on-disabled-keys"
	mutConnectAnswersBody      = "connect-answers-a-body"
	mutDescribeLeaksPassword   = "describe-leaks-kmsuser-password"
	mutXksUnreachableTimedOut  = "xks-unreachable-settles-timed-out"
	mutXksNetworkUnreachable   = "xks-network-error-settles-not-reachable"
	mutRandomStoreIDAnyLength  = "generate-random-store-id-any-length"
	mutXksKeyIDPattern         = "createkey-xks-key-id-pattern-unchecked"
	mutCloudHSMNetworkInternal = "cloudhsm-network-error-settles-internal-error"
	mutDisconnectIDAnyLength   = "disconnect-store-id-any-length"
	mutUpdateUriPathUnchecked  = "update-xks-uri-path-pattern-unchecked"
	mutDescribeAnyMarker       = "describe-accepts-any-marker"
	mutDescribeIgnoresLimit    = "describe-ignores-limit"
	mutEncryptAnswersKeyID     = "encrypt-answers-key-id"
	mutXksEncryptUnchecked     = "xks-encrypt-answer-unchecked"
	mutShortCiphertextInternal = "short-ciphertext-internal-error"
)

// Mutants lists every mutant, for `make mutants` and for the check of
// Options.Mutant.
var Mutants = []Mutant{
	{mutCreateDuplicateName, "CreateCustomKeyStore", typeCloudHSM, "any", "a CloudHSM store may take a name already in use"},
	{mutCreateXksDuplicateName, "CreateCustomKeyStore", typeXKS, "any", "an external key store may take a name already in use"},
	{mutCreateClusterInUse, "CreateCustomKeyStore", typeCloudHSM, "any", "a cluster already behind a store may back a second one"},
	{mutCreateTrustAnchor, "CreateCustomKeyStore", typeCloudHSM, "NO_SUCH_STORE", "the trust anchor is not compared with the cluster's"},
	{mutQuotaIgnored, "CreateCustomKeyStore", "both", "any", "the 10-store quota is not enforced"},
	{mutQuotaOffByOne, "CreateCustomKeyStore", "both", "any", "the quota refuses the 10th store (>= 9)"},
	{mutNameLengthOffByOne, "CreateCustomKeyStore", "both", "NO_SUCH_STORE", "CustomKeyStoreName is limited to 255 characters, not 256"},
	{mutPasswordLengthOffByOne, "CreateCustomKeyStore", typeCloudHSM, "NO_SUCH_STORE", "KeyStorePassword needs 8 characters, not 7"},
	{mutConnectFromFailed, "ConnectCustomKeyStore", "both", stateFailed, "a FAILED store connects again without a disconnect"},
	{mutConnectDisconnecting, "ConnectCustomKeyStore", "both", stateDisconnecting, "Connect while DISCONNECTING answers success and does nothing"},
	{mutConnectSkipsConnecting, "ConnectCustomKeyStore", typeCloudHSM, stateDisconnected, "a CloudHSM store goes straight to CONNECTED, skipping CONNECTING"},
	{mutConnectWrongException, "ConnectCustomKeyStore", "both", stateFailed, "Connect while FAILED answers KMSInvalidStateException"},
	{mutCloudHSMFailedNoCode, "ConnectCustomKeyStore", typeCloudHSM, stateConnecting, "a failed CloudHSM connect leaves no ConnectionErrorCode"},
	{mutXksFailedNoCode, "ConnectCustomKeyStore", typeXKS, stateConnecting, "a failed XKS connect leaves no ConnectionErrorCode"},
	{mutDisconnectLeavesFailed, "DisconnectCustomKeyStore", "both", stateFailed, "Disconnect of a FAILED store answers success and leaves it FAILED"},
	{mutDisconnectTwice, "DisconnectCustomKeyStore", "both", stateDisconnected, "Disconnect while DISCONNECTED answers success"},
	{mutDisconnectSkips, "DisconnectCustomKeyStore", "both", stateConnected, "a store goes straight to DISCONNECTED, skipping DISCONNECTING"},
	{mutDeleteWhileConnected, "DeleteCustomKeyStore", "both", stateConnected, "Delete goes through while CONNECTED"},
	{mutDeleteWithKeys, "DeleteCustomKeyStore", "both", stateDisconnected, "a store with keys can be deleted"},
	{mutUpdatePasswordLive, "UpdateCustomKeyStore", typeCloudHSM, stateConnected, "the KeyStorePassword changes while CONNECTED"},
	{mutUpdateRenameCollides, "UpdateCustomKeyStore", "both", "any", "a store may be renamed to another store's name"},
	{mutUpdateXksCredential, "UpdateCustomKeyStore", typeXKS, "any", "a new XKS credential is not checked with the proxy"},
	{mutStoreNotFoundName, "DescribeCustomKeyStores", "both", "NO_SUCH_STORE", "an unknown store answers NotFoundException, not CustomKeyStoreNotFoundException"},
	{mutKeysEnabledOffline, "DescribeKey", "both", stateDisconnected, "keys stay Enabled while their store is not connected"},
	{mutCryptoOffline, "Encrypt", "both", stateDisconnected, "keys encrypt and decrypt while their store is not connected"},
	{mutReconnectResetsKeys, "ConnectCustomKeyStore", typeCloudHSM, stateConnecting, "a reconnect enables the store's disabled keys"},
	{mutReconnectLosesKeys, "ConnectCustomKeyStore", typeXKS, stateConnecting, "a reconnect loses the store's keys"},
	{mutCreateKeyDisconnected, "CreateKey", typeCloudHSM, stateDisconnected, "CreateKey succeeds in a store that is not connected"},
	{mutGenerateRandomOffline, "GenerateRandom", typeCloudHSM, stateDisconnected, "GenerateRandom succeeds with a store that is not connected"},
	{mutCancelDeletionEnabled, "CancelKeyDeletion", "both", "any", "a key whose deletion is cancelled comes back Enabled, not Disabled"},
	{mutLockoutNotCounted, "ConnectCustomKeyStore", typeCloudHSM, stateConnecting, "failed kmsuser logins are not counted: no USER_LOCKED_OUT"},
	{mutCreationDateNow, "DescribeCustomKeyStores", "both", "any", "a store's CreationDate is the time of each DescribeCustomKeyStores"},
	{mutDeletionDateDisabled, "DescribeKey", "both", "any", "a disabled key carries a DeletionDate"},
	{mutConnectAnswersBody, "ConnectCustomKeyStore", "both", stateDisconnected, "Connect answers the store's id and state, not an empty object"},
	{mutDescribeLeaksPassword, "DescribeCustomKeyStores", typeCloudHSM, "any", "a CloudHSM store is listed with its KeyStorePassword"},
	{mutXksUnreachableTimedOut, "ConnectCustomKeyStore", typeXKS, stateConnecting, "an external key store whose proxy cannot be reached settles FAILED with XKS_PROXY_TIMED_OUT, not XKS_PROXY_NOT_REACHABLE"},
	{mutXksNetworkUnreachable, "ConnectCustomKeyStore", typeXKS, stateConnecting, "an external key store whose network resets the connection settles FAILED with XKS_PROXY_NOT_REACHABLE, not NETWORK_ERRORS"},
	{mutRandomStoreIDAnyLength, "GenerateRandom", typeCloudHSM, "NO_SUCH_STORE", "GenerateRandom takes a CustomKeyStoreId of any length (not 1-64)"},
	{mutXksKeyIDPattern, "CreateKey", typeXKS, stateConnected, "CreateKey takes an XksKeyId that breaks its pattern ^[a-zA-Z0-9-_.]+$"},
	{mutCloudHSMNetworkInternal, "ConnectCustomKeyStore", typeCloudHSM, stateConnecting, "a CloudHSM store whose cluster has a network fault settles FAILED with INTERNAL_ERROR, not NETWORK_ERRORS"},
	{mutDisconnectIDAnyLength, "DisconnectCustomKeyStore", "both", "NO_SUCH_STORE", "DisconnectCustomKeyStore takes a CustomKeyStoreId of any length (not 1-64)"},
	{mutUpdateUriPathUnchecked, "UpdateCustomKeyStore", typeXKS, "any", "UpdateCustomKeyStore skips the XksProxyUriPath pattern"},
	{mutDescribeAnyMarker, "DescribeCustomKeyStores", "both", "any", "DescribeCustomKeyStores takes a Marker it never returned (from the start) instead of InvalidMarkerException"},
	{mutDescribeIgnoresLimit, "DescribeCustomKeyStores", "both", "any", "DescribeCustomKeyStores ignores Limit: a page holds up to 100 stores"},
	{mutEncryptAnswersKeyID, "Encrypt", "both", stateConnected, "Encrypt's answer names the key by its id, not by its key ARN"},
	{mutXksEncryptUnchecked, "Encrypt", typeXKS, stateConnected, "the lengths in the XKS proxy's Encrypt answer (IV, tag, metadata, ciphertext) are not checked"},
	{mutShortCiphertextInternal, "Decrypt", "both", stateConnected, "a ciphertext too short to name its key answers 500 KMSInternalException, not InvalidCiphertextException"},
}

// MutantNames returns the names of every mutant.
func MutantNames() []string {
	names := make([]string, len(Mutants))
	for i, m := range Mutants {
		names[i] = m.Name
	}
	return names
}

// checkMutant refuses an unknown mutant name, so a typo never runs the
// real emulator under a mutant's label.
func checkMutant(name string) error {
	if name == "" || slices.Contains(MutantNames(), name) {
		return nil
	}
	return fmt.Errorf("emulator: unknown mutant %q (one of %s)", name, strings.Join(MutantNames(), ", "))
}

// mut reports whether the named mutant is on.
func (e *Emulator) mut(name string) bool { return e.opts.Mutant == name }

// MutantEnv is the environment variable through which the mutation driver
// selects a mutant of the embedded emulator target of a `kmsconform run`
// process it starts. Its name says what it does. Only `kmsconform run`
// reads it, and passes it on explicitly (drive.Spec.Mutant to
// NewMutantTarget); NewTarget and `kmsconform serve` never read it.
const MutantEnv = "KMSCONFORM_EMULATOR_MUTANT_FOR_MUTATION_TESTING"

// storeQuota is the number of stores an account may hold.
func (e *Emulator) storeQuota() int {
	switch {
	case e.mut(mutQuotaIgnored):
		return 1 << 30
	case e.mut(mutQuotaOffByOne):
		return maxStores - 1
	}
	return maxStores
}

// pick returns mutated when the mutant is on, else real.
func (e *Emulator) pick(mutant string, mutated, real int) int {
	if e.mut(mutant) {
		return mutated
	}
	return real
}
