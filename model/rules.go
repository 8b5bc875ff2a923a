package model

import (
	"crypto/sha256"
	"fmt"
	"sort"
)

// Status says how sure a rule is (the tags of spec/custom-key-stores.md).
type Status string

const (
	// Documented: the AWS documentation says so. Suites assert it everywhere.
	Documented Status = "D"
	// Inferred: follows from the documentation; real KMS should confirm it.
	Inferred Status = "I"
	// Contradictory: the sources disagree; every reading is allowed.
	Contradictory Status = "C"
	// Undocumented: nothing says; every plausible outcome is allowed, and
	// suites never assert the cell against real KMS.
	Undocumented Status = "U"
)

// weaker reports whether s is less certain than t (D > I > C > U).
func (s Status) weaker(t Status) bool { return statusRank[s] > statusRank[t] }

var statusRank = map[Status]int{Documented: 0, Inferred: 1, Contradictory: 2, Undocumented: 3}

// Weakest returns the least certain of the statuses (Documented for none).
func Weakest(ss ...Status) Status {
	w := Documented
	for _, s := range ss {
		if s.weaker(w) {
			w = s
		}
	}
	return w
}

// Rule is one rule of the model with its provenance.
type Rule struct {
	ID     string
	Status Status
	// Source points into spec/custom-key-stores.md (section, contradiction
	// number) and the AWS page or model file the spec cites.
	Source string
	Text   string
}

var rules []*Rule

func rule(id string, st Status, source, text string) *Rule {
	r := &Rule{ID: id, Status: st, Source: source, Text: text}
	rules = append(rules, r)
	return r
}

// Rules returns every rule of the model, in declaration order.
func Rules() []*Rule { return append([]*Rule(nil), rules...) }

// RevisionBase is bumped by hand when the model's structure changes in a way
// the rule table does not show (the World or Call types, say).
const RevisionBase = "r3"

// Revision identifies the rule set: the base plus a digest of every rule's
// id, status, source and text. A report names the revision it was checked
// against, so a changed rule is never silently compared with an old result.
func Revision() string {
	h := sha256.New()
	rs := Rules()
	sort.Slice(rs, func(i, j int) bool { return rs[i].ID < rs[j].ID })
	for _, r := range rs {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x01", r.ID, r.Status, r.Source, r.Text)
	}
	return fmt.Sprintf("%s-%x", RevisionBase, h.Sum(nil)[:4])
}

// The rules. Each is cited by the outcomes of Step that it allows.
var (
	rValidation = rule("input.validation", Documented, "§1.1 [B]; §6.3",
		"An input that violates a length, pattern, enum or range constraint gets ValidationException before any other check.")
	rUnknownOp = rule("input.unknown-operation", Inferred, "§6.1",
		"An operation the service does not define gets UnknownOperationException.")
	rParamShape = rule("input.wrong-type-parameters", Undocumented, "§2.1, §2.4, §2.7, C-16",
		"Parameters for the other store type, a missing conditional parameter, or an Origin/XksKeyId that does not fit the store: the exception is undocumented (probably ValidationException).")
	rStoreNotFound = rule("store.not-found", Documented, "§3 'no such store'; §2.6 [DG:delete-xks]",
		"An unknown CustomKeyStoreId (or name, for DescribeCustomKeyStores) gets CustomKeyStoreNotFoundException, never an empty list.")
	rKeyNotFound = rule("key.not-found", Documented, "[M:api_op_DescribeKey.go] errors",
		"An unknown KeyId gets NotFoundException.")
	rPrecedence = rule("precedence.content", Inferred, "§3.3",
		"When several content checks fail at once, KMS reports one of them; which one is undocumented, so each is allowed.")

	rCreateNew = rule("create.new-store", Documented, "§1 [DG:create-keystore], [DG:create-xks-keystore]",
		"CreateCustomKeyStore with valid, unique inputs answers 200 with a new CustomKeyStoreId; the store starts DISCONNECTED.")
	rCreateIdempotent = rule("create.cloudhsm-idempotent", Documented, "§2.1, §3.3",
		"A CloudHSM create whose every property matches an existing DISCONNECTED CloudHSM store returns that store's id and creates nothing; this beats NameInUse and ClusterInUse.")
	rCreateQuota = rule("create.quota", Documented, "§8 [DG:resource-limits]",
		"An account may hold 10 custom key stores of both types in any state; the 11th create gets LimitExceededException.")
	rNameInUse = rule("name.in-use", Documented, "§2.1, §2.4, §3.1",
		"A name another store of the account has gets CustomKeyStoreNameInUseException.")
	rRenameToSelf = rule("update.rename-to-own-name", Undocumented, "§2.4 U",
		"Renaming a store to its current name: undocumented; success or CustomKeyStoreNameInUseException.")
	rClusterNotFound = rule("cloudhsm.cluster-not-found", Documented, "§2.1, §2.4",
		"An unknown cluster id gets CloudHsmClusterNotFoundException.")
	rClusterNotActive = rule("cloudhsm.cluster-not-active", Documented, "§2.1, §2.4",
		"A cluster that is not initialized and active gets CloudHsmClusterNotActiveException.")
	rClusterInUse = rule("cloudhsm.cluster-in-use", Documented, "§2.1",
		"A cluster already behind a CloudHSM store of the account, or sharing its backup history (certificate) with one, gets CloudHsmClusterInUseException.")
	rTrustAnchor = rule("cloudhsm.incorrect-trust-anchor", Documented, "§2.1",
		"A TrustAnchorCertificate that is not the cluster's gets IncorrectTrustAnchorException.")
	rClusterInvalidConfig = rule("cloudhsm.cluster-invalid-configuration", Documented, "§2.1, §2.4, §2.7",
		"A cluster with fewer than 2 active HSMs in different AZs or a broken network set-up gets CloudHsmClusterInvalidConfigurationException (Create, Update, CreateKey).")
	rClusterNotRelated = rule("cloudhsm.cluster-not-related", Documented, "§2.4",
		"Update to a cluster without the original's backup history (certificate) gets CloudHsmClusterNotRelatedException.")
	rXksUriInUse = rule("xks.uri-in-use", Documented, "§2.1",
		"An endpoint+path another external key store uses gets XksProxyUriInUseException.")
	rXksEndpointInUse = rule("xks.uri-endpoint-in-use", Documented, "§2.1",
		"A PUBLIC and a VPC store sharing an endpoint, or two VPC stores sharing one, gets XksProxyUriEndpointInUseException.")
	rXksVpcInUse = rule("xks.vpc-service-in-use", Documented, "§2.1",
		"A VPC endpoint service another external key store uses gets XksProxyVpcEndpointServiceInUseException.")
	rXksVpcChecks = rule("xks.vpc-service-checks", Documented, "§2.1 'can fail at Create, Connect or Update'",
		"A missing or misconfigured VPC endpoint service may be reported at Create or Update (XksProxyVpcEndpointService{NotFound,InvalidConfiguration}Exception) or only at Connect; both are allowed.")
	rXksVpcKMSNotAllowed = rule("xks.vpc-kms-not-allowed", Contradictory,
		"§4.2 XKS_VPC_ENDPOINT_SERVICE_NOT_FOUND against XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION; [DG:create-xks-keystore]",
		"A VPC endpoint service whose allowed principals lack KMS's: the SDK names the missing permission under XKS_VPC_ENDPOINT_SERVICE_NOT_FOUND, while allowing KMS's principal is one of the requirements whose failure is XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION; at Connect both codes are allowed, at Create or Update either exception (or none, until Connect).")
	rXksHealthCreate = rule("xks.health-check", Documented, "§2.1, §2.4, §7.4 [DG:xks-troubleshooting]",
		"Create (PUBLIC) and Update send GetHealthStatus with the new values: bad SigV4 → XksProxyIncorrectAuthenticationCredential; bad path → XksProxyInvalidConfiguration; no TCP, timeout, throttling, DependencyTimeout or every key manager UNAVAILABLE → XksProxyUriUnreachable; malformed answer or proxy InternalException → XksProxyInvalidResponse.")
	rXksHealthTLS = rule("xks.health-check-tls", Contradictory, "§7.4 (TLS row) against [DG:xks-troubleshooting] (XKS_PROXY_INVALID_TLS_CONFIGURATION)",
		"A TLS failure at the health check of Create or Update: the XKS proxy spec's table gives XksProxyUriUnreachableException, the Developer Guide XksProxyInvalidConfigurationException; both are allowed.")
	rXksHealthDenied = rule("xks.health-check-access-denied", Undocumented, "§7.4 (403 row: '–' for Create/Update)",
		"A proxy that answers the health check with 403: the Create/Update exception is undocumented; any of the health-check exceptions is allowed.")
	rXksHealthAmbiguous = rule("xks.proxy-precedence", Undocumented, "§7.4",
		"A proxy that fails in two ways at once (bad path and bad credential, or an injected error besides): which answer it gives first is up to the proxy; each is allowed.")

	rConnectStarts = rule("connect.starts", Documented, "§2.2, §3",
		"Connect on a DISCONNECTED store answers 200 at once and moves it to CONNECTING; the outcome is only seen by polling.")
	rConnectFastFail = rule("connect.cloudhsm-fast-fail", Documented, "§2.2 [DG:fix-keystore]",
		"Easily detected CloudHSM cluster errors come back from Connect synchronously as CloudHsmClusterNotActive or CloudHsmClusterInvalidConfiguration; the store stays DISCONNECTED.")
	rConnectZeroHSMs = rule("connect.cloudhsm-zero-hsms", Contradictory, "C-11",
		"A cluster with no active HSM at Connect: synchronous CloudHsmClusterInvalidConfigurationException (store stays DISCONNECTED) or 200 and later FAILED with INSUFFICIENT_CLOUDHSM_HSMS; both are allowed.")
	rConnectWhileUp = rule("connect.while-connecting-or-connected", Contradictory, "§3, C-3",
		"Connect on a CONNECTING or CONNECTED store: valid per the exception doc (200, no change), invalid per the DG ('must be DISCONNECTED'); both are allowed.")
	rConnectInvalidState = rule("connect.invalid-state", Documented, "§3, §4.1",
		"Connect on a DISCONNECTING or FAILED store gets CustomKeyStoreInvalidStateException; FAILED is left only by Disconnect.")

	rSettleConnected = rule("settle.connected", Documented, "§2.2, §4.1",
		"CONNECTING settles to CONNECTED when the backing is sound (CloudHSM: KMS logs in as kmsuser and rotates its password).")
	rSettleFailedCloudHSM = rule("settle.failed-cloudhsm", Documented, "§4.2 [DG:fix-keystore]",
		"CONNECTING settles to FAILED with the code of the CloudHSM fault: CLUSTER_NOT_FOUND, INSUFFICIENT_CLOUDHSM_HSMS, INVALID_CREDENTIALS (KeyStorePassword ≠ kmsuser password), USER_LOCKED_OUT, USER_LOGGED_IN, USER_NOT_FOUND, INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET, SUBNET_NOT_FOUND, NETWORK_ERRORS, INTERNAL_ERROR.")
	rSettleFailedLate = rule("settle.failed-cloudhsm-late", Inferred, "§4.2",
		"A cluster that stopped being initialized or lost its network set-up while the store was CONNECTING: FAILED with INSUFFICIENT_CLOUDHSM_HSMS or NETWORK_ERRORS.")
	rKmsuserLockout = rule("settle.kmsuser-lockout", Inferred, "§4.2 USER_LOCKED_OUT",
		"Each failed kmsuser login counts; after 5 in a row CloudHSM locks kmsuser out, so the attempt that locks may already report USER_LOCKED_OUT.")
	rSettleFailedXks = rule("settle.failed-xks", Documented, "§4.2, §7.4 [DG:xks-troubleshooting]",
		"CONNECTING settles to FAILED with the code of the proxy fault: XKS_PROXY_NOT_REACHABLE (no TCP, or every key manager UNAVAILABLE, C-6), XKS_PROXY_TIMED_OUT, XKS_PROXY_INVALID_TLS_CONFIGURATION, INVALID_CREDENTIALS, XKS_PROXY_INVALID_RESPONSE (malformed answer), XKS_VPC_ENDPOINT_SERVICE_NOT_FOUND / _INVALID_CONFIGURATION.")
	rSettleFailedXksInferred = rule("settle.failed-xks-inferred", Documented, "§7.4; the SDK's ConnectionErrorCode: XKS_PROXY_ACCESS_DENIED \"KMS requests are denied access to the external key store proxy\", XKS_PROXY_INVALID_CONFIGURATION \"Verify the value of the XksProxyUriPath\"",
		"A proxy answering 404 InvalidUriPath fails the connect with XKS_PROXY_INVALID_CONFIGURATION; 403 with XKS_PROXY_ACCESS_DENIED.")
	rSettleFailedXksU = rule("settle.failed-xks-undocumented", Undocumented, "§7.4 (U rows)",
		"A proxy answering 429, 500 or 503 to the connect's health check: the code is undocumented; XKS_PROXY_NOT_REACHABLE, XKS_PROXY_TIMED_OUT, XKS_PROXY_INVALID_RESPONSE or INTERNAL_ERROR are allowed.")
	rXksNetwork = rule("xks.network-error", Inferred, "§4.2, §7.4; the SDK's ConnectionErrorCode lists NETWORK_ERRORS for all custom key stores: \"Network errors are preventing KMS from connecting the custom key store to its backing key store\"; [DG:xks-troubleshooting] lists it among the external key store codes",
		"A connection to the proxy that is made and then broken by the network (reset): a connect fails with NETWORK_ERRORS (XKS_PROXY_NOT_REACHABLE is for no TCP connection at all, §7.4); Create and Update get XksProxyUriUnreachableException as for any transport failure. Which network errors give NETWORK_ERRORS rather than XKS_PROXY_NOT_REACHABLE is not documented: inferred.")
	rXksKMSInternal = rule("xks.kms-internal-error", Documented, "§4.2, §3.2; the SDK's ConnectionErrorCode lists INTERNAL_ERROR for all custom key stores: \"KMS could not complete the request due to an internal error. Retry the request. For ConnectCustomKeyStore requests, disconnect the custom key store before trying to connect again\"; KMSInternalException: \"The request was rejected because an internal exception occurred\"",
		"An internal error of KMS on its way to an external key store's proxy: a connect fails with INTERNAL_ERROR; Create and Update get KMSInternalException.")
	rSettleDisconnected = rule("settle.disconnected", Documented, "§2.3",
		"DISCONNECTING settles to DISCONNECTED.")
	rSettleNoop = rule("settle.stable", Documented, "§4.1",
		"DISCONNECTED, CONNECTED and FAILED do not change on their own: a CONNECTED store with a broken backing stays CONNECTED.")

	rDisconnect = rule("disconnect.connected", Documented, "§2.3, §3",
		"Disconnect on a CONNECTED store answers 200 and moves it to DISCONNECTING, then DISCONNECTED.")
	rDisconnectConnecting = rule("disconnect.connecting", Documented, "§3; the SDK's CustomKeyStoreInvalidStateException: Disconnect \"is valid for all other ConnectionState values\"; DisconnectCustomKeyStore: \"its ConnectionState changes to Disconnected\"",
		"Disconnect on a CONNECTING store answers 200 and abandons the connect: DISCONNECTING, then DISCONNECTED.")
	rDisconnectFailed = rule("disconnect.failed", Documented, "§3, §4.1; Disconnect \"is valid for all other ConnectionState values\", \"its ConnectionState changes to Disconnected\", and a ConnectionErrorCode appears only when the state is FAILED",
		"Disconnect on a FAILED store answers 200; the store becomes DISCONNECTED (possibly through DISCONNECTING) and the ConnectionErrorCode is cleared.")
	rDisconnectInvalid = rule("disconnect.invalid-state", Documented, "§3",
		"Disconnect on a DISCONNECTED or DISCONNECTING store gets CustomKeyStoreInvalidStateException.")

	rUpdateAllowed = rule("update.allowed-state", Documented, "§2.4, §3",
		"Update is accepted in DISCONNECTED for every property; in CONNECTED for the name (XKS) only.")
	rUpdateInvalid = rule("update.invalid-state", Documented, "§2.4, §3 (exception text)",
		"Update of a property the state does not allow gets CustomKeyStoreInvalidStateException.")
	rUpdateC1 = rule("update.xks-any-state", Contradictory, "C-1",
		"XKS name, credential and path: the exception text allows only a rename in CONNECTED; the op doc also allows credential and path in CONNECTED; the DG says 'any connection state'. Where they disagree, both 200 and CustomKeyStoreInvalidStateException are allowed.")
	rUpdateC2 = rule("update.cloudhsm-rename-connected", Contradictory, "C-2",
		"Renaming a CONNECTED CloudHSM store: allowed by the current API doc, refused by the 2023 DG; both are allowed.")
	rUpdateNothing = rule("update.no-parameters", Undocumented, "§2.4 U",
		"Update with no optional parameter: undocumented; ValidationException or a 200 that changes nothing.")
	rUpdateApplied = rule("update.applied", Documented, "§2.4 [DG:update-xks-keystore]",
		"A successful Update changes the store at once (Describe shows the new values), without changing its ConnectionState.")

	rDelete = rule("delete.ok", Documented, "§2.5",
		"Delete of a DISCONNECTED store with no keys answers 200 and removes it; the cluster, proxy and external keys are untouched.")
	rDeleteHasKeys = rule("delete.has-keys", Documented, "§2.5 (PendingDeletion keys count: I)",
		"Delete of a store that still has keys, PendingDeletion ones included, gets CustomKeyStoreHasCMKsException.")
	rDeleteInvalid = rule("delete.invalid-state", Documented, "§2.5, §3",
		"Delete of a store that is not DISCONNECTED gets CustomKeyStoreInvalidStateException.")
	rDeleteBoth = rule("delete.invalid-state-with-keys", Inferred, "§3.3 (which one: U)",
		"Delete of a store that is not DISCONNECTED and has keys: CustomKeyStoreInvalidState or CustomKeyStoreHasCMKs; which one is undocumented.")

	rDescribe = rule("describe.ok", Documented, "§2.6, §3",
		"DescribeCustomKeyStores works in every state: by id, by name, or all stores ([] when there are none); ConnectionErrorCode only for FAILED stores; no secret is ever returned.")
	rDescribePages = rule("describe.pages", Documented, "§2.6; DescribeCustomKeyStores: Limit, Marker, NextMarker, Truncated",
		"With Limit n, a page lists at most n stores (\"KMS does not return more than the specified number of items, but it might return fewer\"); a Truncated page has a NextMarker, to send as Marker for the next page (\"When Truncated is true, this element is present\"); the pages list every store once.")
	rInvalidMarker = rule("describe.invalid-marker", Inferred, "§2.6; DescribeCustomKeyStores: Marker is \"the value of NextMarker from the truncated response\"; InvalidMarkerException",
		"A Marker that is no NextMarker KMS returned gets InvalidMarkerException (the error is documented; that a made-up marker is \"not valid\" is inferred).")
	rDescribeBoth = rule("describe.id-and-name", Inferred, "§2.6; DescribeCustomKeyStores: \"use either the CustomKeyStoreName or CustomKeyStoreId parameter (but not both)\"",
		"DescribeCustomKeyStores with both an id and a name: the documentation forbids it but does not say the answer; ValidationException, an answer for one of them, or CustomKeyStoreNotFound are allowed.")

	rCreateKey = rule("createkey.ok", Documented, "§2.7",
		"CreateKey in a CONNECTED store answers 200; the key is Enabled with CustomKeyStoreId and CloudHsmClusterId or XksKeyConfiguration.")
	rCreateKeyState = rule("createkey.invalid-state", Documented, "§2.7, §3",
		"CreateKey in a store that is not CONNECTED gets CustomKeyStoreInvalidStateException.")
	rCreateKeyNotFound = rule("createkey.store-not-found", Documented, "§3",
		"CreateKey with an unknown CustomKeyStoreId gets CustomKeyStoreNotFoundException.")
	rCreateKeyShape = rule("createkey.unsupported-key", Undocumented, "§2.7, §2.10 (exception U)",
		"A key a custom key store cannot hold (not SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT, multi-Region): documented as impossible, exception undocumented (probably UnsupportedOperationException).")
	rCreateKeyHSMs = rule("createkey.cloudhsm-hsms", Documented, "§2.7",
		"CreateKey in a CloudHSM store whose cluster has fewer than 2 active HSMs in different AZs gets CloudHsmClusterInvalidConfigurationException.")
	rCreateKeyClusterGone = rule("createkey.cloudhsm-cluster-gone", Undocumented, "§2.7",
		"CreateKey in a CONNECTED CloudHSM store whose cluster is gone or unreachable: undocumented.")
	rCreateKeyXks = rule("createkey.xks-metadata", Documented, "§2.7, §7.4",
		"CreateKey in an external key store calls GetKeyMetadata: KeyNotFound → XksKeyNotFound; wrong spec or usage, or DISABLED → XksKeyInvalidConfiguration; proxy, transport or auth failure → CustomKeyStoreInvalidState.")
	rCreateKeyXksDenied = rule("createkey.xks-access-denied", Contradictory, "C-7",
		"A proxy answering 403 to GetKeyMetadata: the XKS spec's table gives KMSInvalidStateException, which CreateKey's documented errors do not list; the Developer Guide's convention (CustomKeyStoreInvalidStateException for CreateKey, KMSInvalidStateException for cryptographic operations) decides.")
	rCutShort = rule("crypto.invalid-ciphertext", Documented, "§2.9, §7.4; InvalidCiphertextException",
		"Decrypt of a ciphertext cut short gets InvalidCiphertextException (\"the specified ciphertext ... is corrupted, missing, or otherwise invalid\"); in an external key store a cut inside the part the proxy decrypts may come back as KMSInvalidStateException (the proxy's InvalidCiphertextException, XKS spec table). On a key that could not decrypt the whole ciphertext either, which failure comes first is not documented.")
	rXksAnswerShape = rule("xks.answer-shape", Inferred, "§7.2, §7.4",
		"A proxy answer that breaks the XKS spec's response shape (GetHealthStatus without xksProxyFleetSize or with 0, or with no or more than 10 ekmFleetDetails; GetKeyMetadata without keySpec, keyStatus or keyUsage, or with more than 10 usages; Encrypt with an IV of neither 12 nor 16 bytes, a tag of other than 16 bytes, more than 20 bytes of ciphertextMetadata, a ciphertext longer than the plaintext, or a wrong ciphertextDataIntegrityValue) is an invalid response: Create and Update get XksProxyInvalidResponseException, a Connect settles FAILED with XKS_PROXY_INVALID_RESPONSE, CreateKey gets CustomKeyStoreInvalidStateException, a cryptographic operation KMSInvalidStateException. The spec fixes the shapes and says KMS checks the integrity value; that KMS refuses each other break is inferred.")
	rXksKeyInUse = rule("createkey.xks-key-in-use", Documented, "§2.7",
		"An XksKeyId already used by a key of the same store gets XksKeyAlreadyInUseException (PendingDeletion keys still use it: I).")

	rRandom = rule("random.ok", Documented, "§2.8",
		"GenerateRandom with a CONNECTED CloudHSM store (or with no store) answers 200.")
	rRandomBytesRequired = rule("random.bytes-required", Documented, "aws-recorded (GenerateRandom[None]); the SDK's NumberOfBytes: \"This parameter is required.\"",
		"GenerateRandom without NumberOfBytes gets ValidationException (\"NumberOfBytes is required.\"), before the store is looked at.")
	rRandomXks = rule("random.xks-unsupported", Documented, "§2.8 (before the state check: I)",
		"GenerateRandom with an external key store gets UnsupportedOperationException, whatever its state.")
	rRandomState = rule("random.invalid-state", Documented, "§2.8, §3",
		"GenerateRandom with a CloudHSM store that is not CONNECTED gets CustomKeyStoreInvalidStateException.")
	rRandomBacking = rule("random.cloudhsm-backing", Undocumented, "§2.8",
		"GenerateRandom with a CONNECTED CloudHSM store whose cluster is gone or has no HSM: undocumented.")

	rCryptoOK = rule("crypto.ok", Documented, "§2.9 [DG:use-cmk-keystore], [DG:use-xks-key], C-4",
		"Encrypt, Decrypt, ReEncrypt, GenerateDataKey and GenerateDataKeyWithoutPlaintext on an Enabled key of a CONNECTED store with a sound backing answer 200.")
	rCryptoUnavailable = rule("crypto.unavailable", Documented, "§3, §5 key-state table",
		"A cryptographic operation on an Unavailable key (store DISCONNECTED or FAILED) gets KMSInvalidStateException.")
	rCryptoUnavailableTransient = rule("crypto.unavailable-transient", Documented, "§3; DisconnectCustomKeyStore: the keys \"become unusable right away (subject to eventual consistency)\"; while a store is not connected \"all attempts ... to use existing KMS keys in cryptographic operations will fail\"",
		"A cryptographic operation on a key whose store is CONNECTING or DISCONNECTING gets KMSInvalidStateException.")
	rCryptoDisabled = rule("crypto.disabled", Documented, "§5",
		"A cryptographic operation on a Disabled key gets DisabledException.")
	rCryptoPending = rule("crypto.pending-deletion", Documented, "§5; the key-state table's PendingDeletion column: \"[2] or [3]\" (KMSInvalidStateException or DisabledException)",
		"A cryptographic operation on a PendingDeletion key gets KMSInvalidStateException or DisabledException.")
	rCryptoBacking = rule("crypto.backing-failure", Documented, "§2.9, §5",
		"A cryptographic operation whose backing fails (no HSM, key material gone, proxy or external key failure) gets KMSInvalidStateException, the cause only in the message.")
	rCryptoTransient = rule("crypto.cloudhsm-transient", Documented, "§2.9",
		"While KMS cannot talk to the cluster: KMSInvalidStateException, or a retryable KMSInternalException.")
	rCryptoSubnet = rule("crypto.cloudhsm-subnet-deleted", Undocumented, "§4.2",
		"A CONNECTED store whose subnet was deleted: undocumented whether operations still work.")
	rUnsupportedDoc = rule("keyop.unsupported", Documented, "§2.10 key-state footnotes 7 and 9",
		"Rotation (Enable/DisableKeyRotation, GetKeyRotationStatus) and import (GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial) on a custom-key-store key get UnsupportedOperationException.")
	rUnsupportedInf = rule("keyop.unsupported-inferred", Inferred, "§2.9, §2.10",
		"GenerateDataKeyPair(WithoutPlaintext), RotateKeyOnDemand and ReplicateKey are documented as impossible for a custom-key-store key; the exception is probably UnsupportedOperationException.")
	rUnsupportedUnavailable = rule("keyop.unsupported-unavailable", Documented, "key-state table, Unavailable column: footnotes 7, 9 and 11",
		"On an Unavailable key, rotation (Enable/DisableKeyRotation, GetKeyRotationStatus) and import (GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial) get UnsupportedOperationException, and GenerateDataKeyPair(WithoutPlaintext) gets KMSInvalidStateException (\"<key ARN> is unavailable.\").")
	rUnsupportedState = rule("keyop.unsupported-vs-state", Undocumented, "§2.10",
		"An unsupported operation on a key that is not Enabled: UnsupportedOperationException or the key-state exception (DisabledException, KMSInvalidStateException); which wins is undocumented.")
	rDescribeKey = rule("describekey.ok", Documented, "§2.10",
		"DescribeKey always works; KeyState is Unavailable while the store is not CONNECTED, unless PendingDeletion.")
	rDescribeKeyTransient = rule("describekey.transient", Inferred, "§3 (Key state shown: Unavailable (I) in CONNECTING and DISCONNECTING)",
		"While the store is CONNECTING or DISCONNECTING, DescribeKey shows a key that is not PendingDeletion as Unavailable: the sources document DISCONNECTED and FAILED stores only.")
	rEnableDisable = rule("enable-disable.ok", Documented, "§2.10 (footnote 12)",
		"EnableKey and DisableKey answer 200; on an Unavailable key the change shows only after the store reconnects.")
	rEnableDisablePending = rule("enable-disable.pending-deletion", Documented, "§5 key-state table",
		"EnableKey or DisableKey on a PendingDeletion key gets KMSInvalidStateException.")
	rSchedule = rule("schedule-deletion.ok", Documented, "§2.10",
		"ScheduleKeyDeletion on an Enabled, Disabled or Unavailable key answers 200; the key is PendingDeletion even if the store disconnects.")
	rSchedulePending = rule("schedule-deletion.pending", Documented, "§5 key-state table",
		"ScheduleKeyDeletion on a PendingDeletion key gets KMSInvalidStateException.")
	rScheduleWindow = rule("schedule-deletion.window", Contradictory, "C-12",
		"A waiting period within the model's 1-365 but outside the documented 7-30 days: ValidationException.")
	rCancel = rule("cancel-deletion.ok", Documented, "§2.10 (shown Unavailable while disconnected: I)",
		"CancelKeyDeletion on a PendingDeletion key answers 200, even if the store is disconnected; the key becomes Disabled.")
	rCancelNotPending = rule("cancel-deletion.not-pending", Documented, "§2.10 (footnote 4)",
		"CancelKeyDeletion on a key that is not PendingDeletion gets KMSInvalidStateException.")
	rPlainKey = rule("out-of-scope.plain-key", Inferred, "—",
		"CreateKey without a custom key store, or with a non-custom-key-store origin, makes an ordinary KMS key: outside the model; allowed and not tracked.")

	rEnv = rule("env.change", Documented, "— (environment)",
		"A change of the backing or of time made through a target's control plane, not a KMS call.")
	rExpire = rule("env.deletion-window-ends", Documented, "§2.5, §2.10",
		"When its waiting period ends, a PendingDeletion key is deleted; the external key and the HSM backups are untouched.")
)
