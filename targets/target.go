package targets

import (
	"context"
	"errors"
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
	Capabilities() Capabilities
	// Control returns the control plane, or nil when the target has none.
	Control() Control
	// Backing returns the backing the target offers to API-only routes (a
	// CloudHSM cluster, an XKS proxy); zero fields are not available.
	Backing() Backing
	// Timeouts are the waits a suite allows this target.
	Timeouts() Timeouts
	Close(ctx context.Context) error
}

// Capabilities says what a target can do beyond the KMS API.
type Capabilities struct {
	// HoldTransition: keep a store in CONNECTING or DISCONNECTING until
	// released (Control.Hold / Release), and finish a transition at once
	// (Control.Settle).
	HoldTransition bool
	// BreakCluster: change a CloudHSM cluster behind KMS's back
	// (Control.PutCluster, DeleteCluster, DeleteKeyMaterial).
	BreakCluster bool
	// BreakProxy: run, change and break XKS proxies and VPC endpoint
	// services (Control.PutProxy, DeleteProxy, PutVpcService, DeleteVpcService).
	BreakProxy bool
	// ControlTime: end a key's deletion waiting period now
	// (Control.ExpireKeyDeletion).
	ControlTime bool
}

// Control is a target's control plane. Every method fails with an error
// wrapping ErrUnsupported when the matching capability is false.
type Control interface {
	// Reset removes every store and key and every backing the control plane
	// set up.
	Reset(ctx context.Context) error

	Hold(ctx context.Context, storeID string) error
	Release(ctx context.Context, storeID string) error
	// Settle finishes the store's pending transition now (releasing a hold)
	// and returns when the store is no longer CONNECTING or DISCONNECTING.
	Settle(ctx context.Context, storeID string) error

	// PutCluster creates or replaces (by ID) a CloudHSM cluster.
	PutCluster(ctx context.Context, c Cluster) error
	DeleteCluster(ctx context.Context, id string) error
	// DeleteKeyMaterial deletes a CloudHSM key's material from its cluster.
	DeleteKeyMaterial(ctx context.Context, keyID string) error

	// PutProxy creates or replaces (by Endpoint) the XKS proxy KMS reaches at
	// p.Endpoint, so that stores with that XksProxyUriEndpoint talk to it.
	PutProxy(ctx context.Context, p Proxy) error
	// DeleteProxy makes nothing listen at the endpoint.
	DeleteProxy(ctx context.Context, endpoint string) error
	PutVpcService(ctx context.Context, v VpcService) error
	DeleteVpcService(ctx context.Context, name string) error

	// ExpireKeyDeletion ends the waiting period of a PendingDeletion key: the
	// key is deleted.
	ExpireKeyDeletion(ctx context.Context, keyID string) error
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
)

// ExternalKeyStatus is what is wrong with an external key, if anything.
type ExternalKeyStatus string

const (
	ExternalKeyOK         ExternalKeyStatus = "ok" // also ""
	ExternalKeyDisabled   ExternalKeyStatus = "disabled"
	ExternalKeyWrongSpec  ExternalKeyStatus = "wrong-spec"
	ExternalKeyWrongUsage ExternalKeyStatus = "wrong-usage"
)

// VpcServiceStatus is the state of a VPC endpoint service.
type VpcServiceStatus string

const (
	VpcServiceOK            VpcServiceStatus = "ok" // also ""
	VpcServiceInvalidConfig VpcServiceStatus = "invalid-config"
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

// ErrUnsupported is wrapped by Control methods the target cannot perform.
var ErrUnsupported = errors.New("not supported by this target")

// Capabilities beyond the KMS API are also offered as small role
// interfaces, found by type assertion on a Target, so that a target can
// offer one without the whole Control (an endpoint whose XKS proxy is a
// `kmsconform xks-proxy` with a reachable control API can change that
// proxy, and nothing else). A Control whose capability flag is set
// satisfies the matching role too.

// ProxyControl changes the XKS proxy behind KMS. The Proxy's Endpoint,
// Path and credentials are the target's own values (not the model's
// fixtures): the caller maps them.
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
