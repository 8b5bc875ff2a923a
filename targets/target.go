package targets

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// Kind names a kind of target.
type Kind string

const (
	KindEmulator Kind = "emulator"
	KindEndpoint Kind = "endpoint"
	KindAWS      Kind = "aws"
)

// Target is one KMS under test.
type Target interface {
	// Name is a short human name ("emulator", "moto at http://127.0.0.1:5000").
	Name() string
	Kind() Kind
	// Endpoint is the URL calls go to ("" for real KMS's default endpoint).
	Endpoint() string
	// KMS returns a client for conformance calls: RetryMaxAttempts = 1, the
	// HTTP client set on kms.Options.HTTPClient.
	KMS() *kms.Client
	// Backing returns the backing the target offers to API-only routes (a
	// CloudHSM cluster, an XKS proxy); zero fields are not available.
	Backing() Backing
	// Timeouts are the waits a suite allows this target.
	Timeouts() Timeouts
	Close(ctx context.Context) error
}

// Cluster is a simulated CloudHSM cluster. String fields that hold an
// enumeration use the reference model's values.
type Cluster struct {
	ID          string
	TrustAnchor string // PEM of the cluster's backup history
	Initialized bool   // initialized and active
	ActiveHSMs  int    // active HSMs, each in its own availability zone
	NetworkOK   bool   // subnets in ≥2 AZs and the 2223-2225 security-group rules
	Kmsuser     KmsuserState
	// Password is the kmsuser password; "" leaves the target's current one
	// (which KMS rotated at its last connect) unchanged.
	Password     string
	FailedLogins int
	Fault        ClusterFault
}

// Credential is an XKS proxy authentication credential.
type Credential struct {
	AccessKeyID string
	Secret      string
}

// Proxy is an XKS proxy.
type Proxy struct {
	Endpoint string // "https://host", as in XksProxyUriEndpoint
	Path     string // the XksProxyUriPath it serves
	Accepted []Credential
	Fault    ProxyFault
	Keys     []ExternalKey
}

// ExternalKey is a key behind a proxy.
type ExternalKey struct {
	ID     string
	Status ExternalKeyStatus
}

// VpcService is a VPC endpoint service.
type VpcService struct {
	Name   string
	Status VpcServiceStatus
}

// The values of the backing's states and faults across the target
// boundary. Their strings are the reference model's, so a runner converts
// a model value with a plain conversion; a target maps each onto its own.

// KmsuserState is the state of a cluster's kmsuser crypto user.
type KmsuserState string

const (
	KmsuserReady     KmsuserState = "ready" // also ""
	KmsuserLoggedIn  KmsuserState = "logged-in"
	KmsuserLockedOut KmsuserState = "locked-out"
	KmsuserMissing   KmsuserState = "missing"
)

// ClusterFault is trouble of a cluster that no other attribute explains.
type ClusterFault string

const (
	ClusterHealthy         ClusterFault = ""
	ClusterNoFreeAddresses ClusterFault = "no-free-addresses"
	ClusterSubnetDeleted   ClusterFault = "subnet-deleted"
	ClusterNetworkError    ClusterFault = "network-error"
	ClusterInternalError   ClusterFault = "internal-error"
)

// ProxyFault is a condition an XKS proxy (or the path to it) is in.
type ProxyFault string

const (
	ProxyHealthy           ProxyFault = ""
	ProxyUnreachable       ProxyFault = "unreachable"
	ProxySlow              ProxyFault = "slow"
	ProxyTLSInvalid        ProxyFault = "tls-invalid"
	ProxyDenyAll           ProxyFault = "deny-all"
	ProxyThrottling        ProxyFault = "throttling"
	ProxyInternal          ProxyFault = "internal"
	ProxyDependencyTimeout ProxyFault = "dependency-timeout"
	ProxyMalformed         ProxyFault = "malformed"
	ProxyEKMUnavailable    ProxyFault = "ekm-unavailable"
	ProxyEKMDegraded       ProxyFault = "ekm-degraded"
	ProxyBadHealthAnswer   ProxyFault = "bad-health-answer"
	// ProxyNetworkError: the network resets a connection to the proxy
	// after it is made (NETWORK_ERRORS at a connect).
	ProxyNetworkError ProxyFault = "network-error"
	// ProxyKMSInternalError: KMS fails internally on its way to the proxy
	// (INTERNAL_ERROR at a connect); only a KMS emulator can inject it.
	ProxyKMSInternalError ProxyFault = "kms-internal-error"
)

// ExternalKeyStatus is what is wrong with an external key, if anything.
type ExternalKeyStatus string

const (
	ExternalKeyOK          ExternalKeyStatus = "ok" // also ""
	ExternalKeyDisabled    ExternalKeyStatus = "disabled"
	ExternalKeyWrongSpec   ExternalKeyStatus = "wrong-spec"
	ExternalKeyWrongUsage  ExternalKeyStatus = "wrong-usage" // neither ENCRYPT nor DECRYPT
	ExternalKeyTenUsages   ExternalKeyStatus = "ten-usages"  // sound: the most usages allowed
	ExternalKeyEncryptOnly ExternalKeyStatus = "encrypt-only"
	ExternalKeyDecryptOnly ExternalKeyStatus = "decrypt-only"
	// The proxy's answers about the key break the XKS spec's response
	// shape: GetKeyMetadata's (a field missing, too many usages), or
	// Encrypt's (IV, tag, metadata or ciphertext length, integrity value).
	ExternalKeyBadMetadataAnswer ExternalKeyStatus = "bad-metadata-answer"
	ExternalKeyBadEncryptAnswer  ExternalKeyStatus = "bad-encrypt-answer"
)

// VpcServiceStatus is the state of a VPC endpoint service.
type VpcServiceStatus string

const (
	VpcServiceOK            VpcServiceStatus = "ok" // also ""
	VpcServiceInvalidConfig VpcServiceStatus = "invalid-config"
	// VpcServiceKMSNotAllowed does not allow KMS's service principal.
	VpcServiceKMSNotAllowed VpcServiceStatus = "kms-not-allowed"
	// VpcServicePrivateDNSUnverified has a private DNS name not verified.
	VpcServicePrivateDNSUnverified VpcServiceStatus = "private-dns-unverified"
	// VpcServicePrivateDNSOtherHost has a verified private DNS name that
	// is not the store's endpoint host.
	VpcServicePrivateDNSOtherHost VpcServiceStatus = "private-dns-other-host"
)

// Backing is what a target without a control plane offers for routes made
// of API calls alone: an existing cluster and an existing proxy.
type Backing struct {
	ClusterID       string
	TrustAnchor     string // PEM
	KmsuserPassword string
	XksEndpoint     string
	XksPath         string
	XksCredential   Credential
	XksVpcService   string // for VPC_ENDPOINT_SERVICE connectivity
	// XksControlURL is the control API of the proxy at XksEndpoint when it
	// is a `kmsconform xks-proxy` (its --control-addr); "" when it is not.
	XksControlURL string
	// Second is a second cluster and a second proxy (the *_2 variables),
	// nil when none is given.
	Second *Backing
	// XksKeyIDs are external keys the proxy holds, usable for CreateKey
	// (AES-256, encrypt and decrypt): the model's first and second keys.
	XksKeyIDs []string
}

// Timeouts are the waits a suite allows a target.
type Timeouts struct {
	Connect    time.Duration // a connect settling to CONNECTED or FAILED
	Disconnect time.Duration // a disconnect settling to DISCONNECTED
	Poll       time.Duration // between two DescribeCustomKeyStores
	Settle     time.Duration // how long an allowed state must hold (MustPassRepeatedly spacing)
	Call       time.Duration // one API call
}

// ErrUnsupported is wrapped by a capability's method when the target
// cannot do what was asked of it (an endpoint's ProxyControl asked for a
// fault its proxy has no equivalent of).
var ErrUnsupported = errors.New("not supported by this target")

// Capabilities beyond the KMS API are small role interfaces, found by type
// assertion on a Target: a target has a capability when it implements the
// interface. A target can so offer one without the others (an endpoint
// whose XKS proxy is a `kmsconform xks-proxy` with a reachable control API
// can change that proxy, and nothing else). A wrapper that embeds the
// Target interface hides them: embed the concrete target instead.

// Resetter is a target that can forget everything: every store and key,
// and every backing its other capabilities set up.
type Resetter interface {
	Reset(ctx context.Context) error
}

// TransitionHolder keeps a store in CONNECTING or DISCONNECTING until
// released, and finishes a transition at once.
type TransitionHolder interface {
	Hold(ctx context.Context, storeID string) error
	Release(ctx context.Context, storeID string) error
	// Settle finishes the store's pending transition now (releasing a hold)
	// and returns when the store is no longer CONNECTING or DISCONNECTING.
	Settle(ctx context.Context, storeID string) error
}

// ClusterControl changes CloudHSM clusters behind KMS's back.
type ClusterControl interface {
	// PutCluster creates or replaces (by ID) a CloudHSM cluster.
	PutCluster(ctx context.Context, c Cluster) error
	DeleteCluster(ctx context.Context, id string) error
	// DeleteKeyMaterial deletes a CloudHSM key's material from its cluster.
	DeleteKeyMaterial(ctx context.Context, keyID string) error
}

// ProxyFleet runs, changes and breaks XKS proxies at any endpoint, and VPC
// endpoint services. Its Proxy values are the model's fixtures as they
// are: the fleet makes them real. (Being able to run any proxy, it also
// satisfies ProxyControl.)
type ProxyFleet interface {
	// PutProxy creates or replaces (by Endpoint) the XKS proxy KMS reaches
	// at p.Endpoint, so that stores with that XksProxyUriEndpoint talk to it.
	PutProxy(ctx context.Context, p Proxy) error
	// DeleteProxy makes nothing listen at the endpoint.
	DeleteProxy(ctx context.Context, endpoint string) error
	PutVpcService(ctx context.Context, v VpcService) error
	DeleteVpcService(ctx context.Context, name string) error
}

// TimeControl controls the target's clock where KMS waits for days.
type TimeControl interface {
	// ExpireKeyDeletion ends the waiting period of a PendingDeletion key:
	// the key is deleted.
	ExpireKeyDeletion(ctx context.Context, keyID string) error
}

// Full reports whether t has every capability above: every cell is
// reachable on it, one route each from a reset target.
func Full(t Target) bool {
	_, r := t.(Resetter)
	_, h := t.(TransitionHolder)
	_, c := t.(ClusterControl)
	_, p := t.(ProxyFleet)
	_, tc := t.(TimeControl)
	return r && h && c && p && tc
}

// ProxyControl changes the one XKS proxy behind KMS that the target was
// given. The Proxy's Endpoint, Path and credentials are the target's own
// values (not the model's fixtures): the caller maps them.
type ProxyControl interface {
	PutProxy(ctx context.Context, p Proxy) error
	DeleteProxy(ctx context.Context, endpoint string) error
}

// SelfCleaning is a target that removes what a run created from its own
// ledger, with its own handling of interruptions (the aws target's guard):
// a runner leaves the cleanup to it instead of sweeping by name.
type SelfCleaning interface {
	CleansUpAfterRun() bool
}

// Guarded is a target that runs a whole run inside a guard of its own
// (the aws target's): the run's resources carry prefix, and whatever way
// fn ends (returned, failed, out of time, interrupted by SIGINT or
// SIGTERM) the guard then removes what the run created, printing to w and
// writing to dir what it could not. forced: a second signal cut that
// cleanup short, and the caller should exit at once.
type Guarded interface {
	RunGuarded(ctx context.Context, prefix string, w io.Writer, dir string, fn func(context.Context) error) (forced bool, err error)
}

// Recorded is a target whose results are kept as a recording of it (real
// KMS): NormalizeRecording turns a compat.json into one, with account and
// resource ids normalised and the run's secrets scrubbed.
type Recorded interface {
	NormalizeRecording(compat []byte) ([]byte, error)
}
