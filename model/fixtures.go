package model

import (
	"fmt"
	"strings"
)

// Fixture values: valid inputs (they satisfy every constraint of spec §1.1)
// that cells, walks and suites share, so a cell's world can be rebuilt on a
// target with the same names.
const (
	ClusterA        = "cluster-aaaaaaaaaaa" // behind the CloudHSM subject store
	ClusterARelated = "cluster-aaaaaaaaaab" // same backup history as ClusterA
	ClusterB        = "cluster-bbbbbbbbbbb" // free, unrelated
	ClusterC        = "cluster-ccccccccccc" // free, unrelated

	TrustAnchorA = "-----BEGIN CERTIFICATE-----\nMIIBkmsconformA\n-----END CERTIFICATE-----"
	TrustAnchorB = "-----BEGIN CERTIFICATE-----\nMIIBkmsconformB\n-----END CERTIFICATE-----"
	TrustAnchorC = "-----BEGIN CERTIFICATE-----\nMIIBkmsconformC\n-----END CERTIFICATE-----"

	KmsuserPassword      = "kmsuserPass1"
	WrongKmsuserPassword = "notThePassword9"

	EndpointA = "https://xks-a.kmsconform.example"
	EndpointB = "https://xks-b.kmsconform.example"
	EndpointC = "https://xks-c.kmsconform.example"
	PathV1    = "/kms/xks/v1"
	PathAlt   = "/alt/kms/xks/v1"

	VpcServiceA = "com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d4e5f60001"
	VpcServiceB = "com.amazonaws.vpce.us-east-1.vpce-svc-0a1b2c3d4e5f60002"

	XksKey1 = "xks-key-1"
	XksKey2 = "xks-key-2"
)

// Fixture credentials for XKS proxies.
var (
	CredentialA = Credential{AccessKeyID: "KMSCONFORMACCESSKEYA", Secret: "kmsconformSecretAaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}
	CredentialB = Credential{AccessKeyID: "KMSCONFORMACCESSKEYB", Secret: "kmsconformSecretBbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}
)

// HealthyCluster returns an initialized cluster with two active HSMs in
// different AZs, a sound network and a ready kmsuser.
func HealthyCluster(id, anchor string) Cluster {
	return Cluster{ID: id, TrustAnchor: anchor, Initialized: true, ActiveHSMs: 2, NetworkOK: true,
		Kmsuser: KmsuserReady, Password: KmsuserPassword}
}

// HealthyProxy returns a proxy at endpoint serving PathV1, accepting
// CredentialA, with two enabled AES-256 external keys.
func HealthyProxy(endpoint string) Proxy {
	return Proxy{Endpoint: endpoint, Path: PathV1, Accepted: []Credential{CredentialA},
		Keys: []ExternalKey{{ID: XksKey1, Status: ExtKeyOK}, {ID: XksKey2, Status: ExtKeyOK}}}
}

// NewWorld returns an account with no custom key store and a healthy
// backing: clusters A (with a related cluster), B and C; proxies at
// endpoints A, B and C; VPC endpoint services A and B.
func NewWorld() World {
	return World{
		Clusters: []Cluster{HealthyCluster(ClusterA, TrustAnchorA), HealthyCluster(ClusterARelated, TrustAnchorA),
			HealthyCluster(ClusterB, TrustAnchorB), HealthyCluster(ClusterC, TrustAnchorC)},
		Proxies:     []Proxy{HealthyProxy(EndpointA), HealthyProxy(EndpointB), HealthyProxy(EndpointC)},
		VpcServices: []VpcService{{Name: VpcServiceA, Status: VpcServiceOK}, {Name: VpcServiceB, Status: VpcServiceOK}},
	}
}

// CloudHSMStore returns a DISCONNECTED CloudHSM store record on a cluster.
func CloudHSMStore(id, name, cluster, anchor string) Store {
	return Store{ID: id, Name: name, Type: CloudHSM, State: Disconnected, ClusterID: cluster, TrustAnchor: anchor,
		Password: KmsuserPassword}
}

// XksStore returns a DISCONNECTED public-endpoint external key store record.
func XksStore(id, name, endpoint string) Store {
	return Store{ID: id, Name: name, Type: External, State: Disconnected, Connectivity: PublicEndpoint,
		Endpoint: endpoint, Path: PathV1, Credential: CredentialA}
}

// AddStore appends a store record and advances the id counter past it.
func (w World) AddStore(s Store) World {
	n := w.Clone()
	n.Stores = append(n.Stores, s)
	n.NextStore++
	return n
}

// rotatedPrefix starts the kmsuser password KMS sets at a connect of
// store (RotatedPassword).
const rotatedPrefix = "kms-rotated:"

// RotatedPassword is, in the model, the kmsuser password KMS chose at a
// connect of the store: a value no caller knows (spec §2.2).
func RotatedPassword(storeID string) string { return rotatedPrefix + storeID }

// IsRotated reports whether a kmsuser password is one KMS chose
// (RotatedPassword), which a control plane leaves as the target rotated it.
func IsRotated(password string) bool { return strings.HasPrefix(password, rotatedPrefix) }

// CreateCloudHSMInput is a valid CloudHSM create for a cluster.
func CreateCloudHSMInput(name, cluster, anchor, password string) *CreateStoreInput {
	return &CreateStoreInput{Name: name, ClusterID: Ptr(cluster), TrustAnchor: Ptr(anchor), Password: Ptr(password)}
}

// CreateXksInput is a valid public-endpoint XKS create.
func CreateXksInput(name, endpoint, path string, cred Credential) *CreateStoreInput {
	return &CreateStoreInput{Name: name, Type: Ptr(string(External)), Connectivity: Ptr(string(PublicEndpoint)),
		Endpoint: Ptr(endpoint), Path: Ptr(path), Credential: &cred}
}

// CreateKeyFor is a valid CreateKey input for a store of this type.
func CreateKeyFor(t StoreType, xksKeyID string) *CreateKeyInput {
	in := &CreateKeyInput{Origin: Ptr(string(OriginFor(t)))}
	if t == External {
		in.XksKeyID = Ptr(xksKeyID)
	}
	return in
}

func fillerEndpoint(i int) string { return fmt.Sprintf("https://filler-%d.kmsconform.example", i) }
