package model

import "strconv"

// StoreQuota is the number of custom key stores an account may have in a
// Region, counting both types and every state (spec §8).
const StoreQuota = 10

// World is the abstract account the model reasons about: its custom key
// stores and keys, and the backing they depend on. The backing fields are the
// conditions a target may control (a CloudHSM cluster's health and its kmsuser
// password; a proxy's reachability, credentials, latency, answers and TLS).
//
// A World is a value: Step never modifies its argument, and the slices of a
// world returned by Step are not shared with the input.
type World struct {
	Stores      []Store
	Keys        []Key
	Clusters    []Cluster
	Proxies     []Proxy
	VpcServices []VpcService
	// Counters that make fresh ids deterministic.
	NextStore, NextKey int
}

// Store is one custom key store as KMS holds it.
type Store struct {
	ID        string
	Name      string
	Type      StoreType
	State     ConnectionState
	ErrorCode ConnectionErrorCode // set only while FAILED

	// CloudHSM key stores.
	ClusterID   string
	TrustAnchor string
	Password    string // the KeyStorePassword KMS holds for kmsuser

	// External key stores.
	Connectivity XksConnectivity
	Endpoint     string // XksProxyUriEndpoint, "https://host"
	Path         string // XksProxyUriPath
	Credential   Credential
	VpcService   string
	VpcOwner     string
}

// Credential is an XKS proxy authentication credential.
type Credential struct {
	AccessKeyID string
	Secret      string
}

// Key is a KMS key in a custom key store. State is the key's own state
// (Enabled, Disabled or PendingDeletion); the KeyState KMS shows also depends
// on the store's connection state: see World.ShownKeyState.
type Key struct {
	ID    string
	Store string
	State KeyState
	// XksKeyID is the external key's id (external key stores only).
	XksKeyID string
	// MaterialDeleted records that the key material was deleted from the
	// CloudHSM cluster behind KMS's back (spec §5: the KeyState does not change;
	// cryptographic operations fail).
	MaterialDeleted bool
}

// KmsuserStatus is the condition of the kmsuser crypto user in a cluster.
type KmsuserStatus string

const (
	KmsuserReady     KmsuserStatus = "ready"
	KmsuserLoggedIn  KmsuserStatus = "logged-in"
	KmsuserLockedOut KmsuserStatus = "locked-out"
	KmsuserMissing   KmsuserStatus = "missing"
)

// KmsuserLockoutAttempts is the number of consecutive failed logins after
// which CloudHSM locks a crypto user out.
const KmsuserLockoutAttempts = 5

// ClusterFault is a condition of a CloudHSM cluster's surroundings that only
// shows when KMS connects (each maps to one ConnectionErrorCode, spec §4.2).
type ClusterFault string

const (
	ClusterHealthy         ClusterFault = ""
	ClusterNoFreeAddresses ClusterFault = "no-free-addresses"
	ClusterSubnetDeleted   ClusterFault = "subnet-deleted"
	ClusterNetworkError    ClusterFault = "network-error"
	ClusterInternalError   ClusterFault = "internal-error"
)

// Cluster is a CloudHSM cluster visible to the account. A cluster that is not
// in World.Clusters does not exist.
type Cluster struct {
	ID string
	// TrustAnchor is the certificate of the cluster's backup history:
	// clusters with the same one are "related" (spec §2.1, §2.4).
	TrustAnchor string
	Initialized bool // initialized and active
	ActiveHSMs  int  // active HSMs in distinct availability zones
	NetworkOK   bool // private subnets in ≥2 AZs and the 2223-2225 security-group rules
	Kmsuser     KmsuserStatus
	Password    string // the kmsuser password in the cluster
	// FailedLogins counts consecutive failed kmsuser logins by KMS.
	FailedLogins int
	Fault        ClusterFault
}

// ProxyFault is a condition an XKS proxy (or the path to it) can be put in.
type ProxyFault string

const (
	ProxyHealthy        ProxyFault = ""
	ProxyUnreachable    ProxyFault = "unreachable"        // no TCP connection
	ProxySlow           ProxyFault = "slow"               // answers after the 250 ms timeout
	ProxyTLSInvalid     ProxyFault = "tls-invalid"        // expired, wrong name or untrusted CA
	ProxyDenyAll        ProxyFault = "deny-all"           // 403 AccessDeniedException to every request
	ProxyThrottling     ProxyFault = "throttling"         // 429 ThrottlingException
	ProxyInternal       ProxyFault = "internal"           // 500 InternalException
	ProxyDepTimeout     ProxyFault = "dependency-timeout" // 503 DependencyTimeoutException
	ProxyMalformed      ProxyFault = "malformed"          // a non-JSON or malformed answer
	ProxyEKMUnavailable ProxyFault = "ekm-unavailable"    // every external key manager UNAVAILABLE
	ProxyEKMDegraded    ProxyFault = "ekm-degraded"       // DEGRADED: still healthy for KMS
	// ProxyBadHealthAnswer answers GetHealthStatus with a body the XKS
	// spec's response shape does not allow (fleet size missing or 0, no or
	// more than 10 key managers); its key answers are sound.
	ProxyBadHealthAnswer ProxyFault = "bad-health-answer"
	// ProxyNetworkError: the network breaks a connection to the proxy
	// after it is made (a reset), as opposed to no connection at all.
	ProxyNetworkError ProxyFault = "network-error"
	// ProxyKMSInternalError: KMS itself fails on its way to this proxy, a
	// cause no condition of the proxy explains (like ClusterInternalError).
	ProxyKMSInternalError ProxyFault = "kms-internal-error"
)

// ExternalKeyStatus is what a proxy's GetKeyMetadata says of an external key.
type ExternalKeyStatus string

const (
	ExtKeyOK         ExternalKeyStatus = "ok" // AES_256, ENCRYPT+DECRYPT, ENABLED
	ExtKeyDisabled   ExternalKeyStatus = "disabled"
	ExtKeyWrongSpec  ExternalKeyStatus = "wrong-spec"
	ExtKeyWrongUsage ExternalKeyStatus = "wrong-usage" // neither ENCRYPT nor DECRYPT
	// One of the two usages KMS needs: GetKeyMetadata fails CreateKey's
	// check, and the proxy refuses the other operation
	// (InvalidKeyUsageException).
	// ExtKeyTenUsages is sound: ten usages, ENCRYPT and DECRYPT among
	// them, the most the XKS spec allows.
	ExtKeyTenUsages   ExternalKeyStatus = "ten-usages"
	ExtKeyEncryptOnly ExternalKeyStatus = "encrypt-only"
	ExtKeyDecryptOnly ExternalKeyStatus = "decrypt-only"
	// The proxy answers GetKeyMetadata (or Encrypt) for this key with a
	// body the XKS spec's response shape does not allow; its other
	// answers are sound.
	ExtKeyBadMetadataAnswer ExternalKeyStatus = "bad-metadata-answer"
	ExtKeyBadEncryptAnswer  ExternalKeyStatus = "bad-encrypt-answer"
)

// ExternalKey is a key held by an external key manager behind a proxy. A key
// id the proxy does not list does not exist (KeyNotFoundException).
type ExternalKey struct {
	ID     string
	Status ExternalKeyStatus
}

// Proxy is an XKS proxy, found by its URI endpoint. An endpoint with no
// Proxy in World.Proxies accepts no TCP connection.
type Proxy struct {
	Endpoint string
	Path     string // the one XksProxyUriPath the proxy serves
	// Accepted holds the credentials the proxy accepts (at most two, so a
	// credential can be rotated, spec §7.3).
	Accepted []Credential
	Fault    ProxyFault
	Keys     []ExternalKey
}

// VpcServiceStatus is the condition of a VPC endpoint service.
type VpcServiceStatus string

const (
	VpcServiceOK            VpcServiceStatus = "ok"
	VpcServiceInvalidConfig VpcServiceStatus = "invalid-config"
	// VpcServiceKMSNotAllowed is a service whose allowed principals lack
	// KMS's (cks.kms.<region>.amazonaws.com): rule xks.vpc-kms-not-allowed.
	VpcServiceKMSNotAllowed VpcServiceStatus = "kms-not-allowed"
	// VpcServicePrivateDNSUnverified is a service whose private DNS name is
	// not verified: one of the requirements (rule xks.vpc-service-checks).
	VpcServicePrivateDNSUnverified VpcServiceStatus = "private-dns-unverified"
	// VpcServicePrivateDNSOtherHost is a service whose verified private
	// DNS name is another host than the store's XksProxyUriEndpoint (the
	// API reference: for VPC connectivity the endpoint is "https://
	// followed by the private DNS name of the VPC endpoint service").
	VpcServicePrivateDNSOtherHost VpcServiceStatus = "private-dns-other-host"
)

// misconfigured reports whether a VPC endpoint service fails one of the
// requirements for an external key store.
func (s VpcServiceStatus) misconfigured() bool {
	return s == VpcServiceInvalidConfig || s == VpcServicePrivateDNSUnverified || s == VpcServicePrivateDNSOtherHost
}

// VpcService is a VPC endpoint service in front of a proxy. A name not in
// World.VpcServices is not found (or KMS lacks permission to it).
type VpcService struct {
	Name string
	// Owner is the account that owns the service; "" is the account making
	// the calls (XksProxyVpcEndpointServiceOwner's default).
	Owner  string
	Status VpcServiceStatus
}

// Store returns the store with this id.
func (w World) Store(id string) (Store, bool) {
	i := w.storeIndex(id)
	if i < 0 {
		return Store{}, false
	}
	return w.Stores[i], true
}

func (w World) storeIndex(id string) int {
	return indexOf(w.Stores, func(x Store) bool { return x.ID == id })
}

// indexOf returns the index of the first element that matches, or -1.
func indexOf[T any](xs []T, match func(T) bool) int {
	for i := range xs {
		if match(xs[i]) {
			return i
		}
	}
	return -1
}

// StoreByName returns the store with this name.
func (w World) StoreByName(name string) (Store, bool) {
	for _, s := range w.Stores {
		if s.Name == name {
			return s, true
		}
	}
	return Store{}, false
}

// Key returns the key with this id.
func (w World) Key(id string) (Key, bool) {
	i := w.keyIndex(id)
	if i < 0 {
		return Key{}, false
	}
	return w.Keys[i], true
}

func (w World) keyIndex(id string) int {
	return indexOf(w.Keys, func(x Key) bool { return x.ID == id })
}

// KeysIn returns the keys of a store, PendingDeletion keys included.
func (w World) KeysIn(storeID string) []Key {
	var ks []Key
	for _, k := range w.Keys {
		if k.Store == storeID {
			ks = append(ks, k)
		}
	}
	return ks
}

// Cluster returns the cluster with this id.
func (w World) Cluster(id string) (Cluster, bool) {
	i := w.clusterIndex(id)
	if i < 0 {
		return Cluster{}, false
	}
	return w.Clusters[i], true
}

func (w World) clusterIndex(id string) int {
	return indexOf(w.Clusters, func(x Cluster) bool { return x.ID == id })
}

// Proxy returns the proxy at this URI endpoint.
func (w World) Proxy(endpoint string) (Proxy, bool) {
	i := w.proxyIndex(endpoint)
	if i < 0 {
		return Proxy{}, false
	}
	return w.Proxies[i], true
}

func (w World) proxyIndex(endpoint string) int {
	return indexOf(w.Proxies, func(x Proxy) bool { return x.Endpoint == endpoint })
}

// VpcService returns the VPC endpoint service with this name owned by the
// calling account.
func (w World) VpcService(name string) (VpcService, bool) { return w.vpcServiceOf(name, "") }

// vpcServiceOf returns the service with this name and owner ("" is the
// calling account).
func (w World) vpcServiceOf(name, owner string) (VpcService, bool) {
	for _, v := range w.VpcServices {
		if v.Name == name && v.Owner == owner {
			return v, true
		}
	}
	return VpcService{}, false
}

// ShownKeyState is the KeyState DescribeKey reports: a key that is not
// PendingDeletion shows Unavailable while its store is not CONNECTED, and its
// own state again once the store reconnects (spec §5).
func (w World) ShownKeyState(k Key) KeyState {
	if k.State == KeyPendingDeletion {
		return KeyPendingDeletion
	}
	if s, ok := w.Store(k.Store); !ok || s.State != Connected {
		return KeyUnavailable
	}
	return k.State
}

// Clone returns a deep copy, so that a step can modify it freely.
func (w World) Clone() World {
	c := w
	c.Stores = append([]Store(nil), w.Stores...)
	c.Keys = append([]Key(nil), w.Keys...)
	c.Clusters = append([]Cluster(nil), w.Clusters...)
	c.Proxies = make([]Proxy, len(w.Proxies))
	for i, p := range w.Proxies {
		p.Accepted = append([]Credential(nil), p.Accepted...)
		p.Keys = append([]ExternalKey(nil), p.Keys...)
		c.Proxies[i] = p
	}
	c.VpcServices = append([]VpcService(nil), w.VpcServices...)
	return c
}

// Fingerprint is a canonical text of the world: two worlds are the same
// exactly when their fingerprints are equal (up to a collision of the 64-bit
// secret digests). Secrets appear only as digests, never in clear, because
// fingerprints end up in logs and failure reports.
func (w World) Fingerprint() string {
	b := make([]byte, 0, 2048)
	str := func(sep byte, ss ...string) {
		for _, s := range ss {
			b = append(b, s...)
			b = append(b, sep)
		}
	}
	num := func(n int) { b = strconv.AppendInt(b, int64(n), 10); b = append(b, ',') }
	flag := func(v bool) { b = strconv.AppendBool(b, v); b = append(b, ',') }
	secret := func(s string) { b = strconv.AppendUint(b, secretDigest(s), 36); b = append(b, ',') }
	num(w.NextStore)
	num(w.NextKey)
	for _, s := range w.Stores {
		b = append(b, 'S')
		str(',', s.ID, s.Name, string(s.Type), string(s.State), string(s.ErrorCode), s.ClusterID, s.TrustAnchor)
		secret(s.Password)
		str(',', string(s.Connectivity), s.Endpoint, s.Path, s.Credential.AccessKeyID)
		secret(s.Credential.Secret)
		str(';', s.VpcService, s.VpcOwner)
	}
	for _, k := range w.Keys {
		b = append(b, 'K')
		str(',', k.ID, k.Store, string(k.State), k.XksKeyID)
		flag(k.MaterialDeleted)
	}
	for _, c := range w.Clusters {
		b = append(b, 'C')
		str(',', c.ID, c.TrustAnchor, string(c.Kmsuser), string(c.Fault))
		flag(c.Initialized)
		flag(c.NetworkOK)
		num(c.ActiveHSMs)
		num(c.FailedLogins)
		secret(c.Password)
	}
	for _, p := range w.Proxies {
		b = append(b, 'P')
		str(',', p.Endpoint, p.Path, string(p.Fault))
		for _, a := range p.Accepted {
			str('/', a.AccessKeyID)
			secret(a.Secret)
		}
		b = append(b, '|')
		for _, k := range p.Keys {
			str(',', k.ID, string(k.Status))
		}
	}
	for _, v := range w.VpcServices {
		b = append(b, 'V')
		str(',', v.Name, v.Owner, string(v.Status))
	}
	return string(b)
}

// Distinct returns the worlds with duplicates removed, in order.
func Distinct(ws []World) []World {
	return dedupeBy(ws, World.Fingerprint)
}

// identical reports, cheaply, whether two worlds share all their storage:
// Step returns its input world unchanged for every failed or read-only call.
func identical(a, b World) bool {
	return a.NextStore == b.NextStore && a.NextKey == b.NextKey &&
		sameSlice(a.Stores, b.Stores) && sameSlice(a.Keys, b.Keys) && sameSlice(a.Clusters, b.Clusters) &&
		sameSlice(a.Proxies, b.Proxies) && sameSlice(a.VpcServices, b.VpcServices)
}

func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// secretDigest stands for a secret in text that may be logged.
func secretDigest(s string) uint64 {
	if s == "" {
		return 0
	}
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime
	}
	return h
}
