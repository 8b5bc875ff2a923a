package scenarios

import (
	"github.com/kmsconform/kmsconform/drive"
	m "github.com/kmsconform/kmsconform/model"
)

// The scenarios of this file drive the documented cause of an exception
// that no matrix cell provokes (the matrix varies the store's state, these
// vary what the store stands on), so that every (operation, exception)
// pair of the operations' documented error lists that the model can
// produce is asserted somewhere (TestEveryDocumentedExceptionIsAsserted).
// Each is named exception/<operation>/<cause>.

// madeUpCluster is a cluster id no fixture names: on a target that
// controls its clusters it does not exist.
const madeUpCluster = "cluster-zzzzzzzzzzz"

func cause(op m.Op, name string, steps ...[]m.Call) drive.Scenario {
	return drive.Scenario{Name: "exception/" + string(op) + "/" + name, Steps: seq(steps...)}
}

// clusterAt is a healthy cluster id with its anchor, changed by change.
func clusterAt(id, anchor string, change func(*m.Cluster)) []m.Call {
	c := m.HealthyCluster(id, anchor)
	change(&c)
	return one(m.Call{Op: m.OpSetCluster, Cluster: &c})
}

func notActive(c *m.Cluster) { c.Initialized = false }
func oneHSM(c *m.Cluster)    { c.ActiveHSMs = 1 }

// otherStore creates a second store that collides with nothing the
// subject holds: an external key store when the subject is a CloudHSM
// store and the reverse, so one cluster and one proxy suffice.
func otherStore(subject m.StoreType, name string) []m.Call {
	if subject == m.CloudHSM {
		return one(m.Call{Op: m.OpCreateCustomKeyStore, Create: m.CreateXksInput(name, m.EndpointA, m.PathV1, m.CredentialA)})
	}
	return one(m.Call{Op: m.OpCreateCustomKeyStore, Create: m.CreateCloudHSMInput(name, m.ClusterA, m.TrustAnchorA, m.KmsuserPassword)})
}

// vpcCreate is a create of an external key store with VPC endpoint service
// connectivity.
func vpcCreate(name, endpoint, service string) m.Call {
	return vpcCreateAt(name, endpoint, m.PathV1, service)
}

func vpcCreateAt(name, endpoint, path, service string) m.Call {
	return m.Call{Op: m.OpCreateCustomKeyStore, Create: &m.CreateStoreInput{Name: name, Type: m.Ptr(string(m.External)),
		Connectivity: m.Ptr(string(m.VpcEndpointService)), Endpoint: m.Ptr(endpoint), Path: m.Ptr(path),
		Credential: &m.CredentialA, VpcService: m.Ptr(service)}}
}

// otherID is the model's id of the second store a scenario creates.
var otherID = m.StoreIDFor(1)

// connectOther connects the second store and lets it settle.
func connectOther() []m.Call {
	return []m.Call{{Op: m.OpConnectCustomKeyStore, StoreID: m.Ptr(otherID)}, {Op: m.OpSettle, StoreID: m.Ptr(otherID)}}
}

// otherAccount owns no VPC endpoint service of the model's world.
const otherAccount = "999999999999"

// vpcOwnedBy is the subject's VPC create naming owner as the service's.
func vpcOwnedBy(owner string) m.Call {
	c := vpcCreate(m.SubjectStoreName, m.EndpointA, m.VpcServiceA)
	c.Create.VpcOwner = m.Ptr(owner)
	return c
}

// alt makes the proxy at endpoint A serve the second path.
func alt() []m.Call { return proxyAt(func(p *m.Proxy) { p.Path = m.PathAlt }) }

// extKey gives the external key XksKey1 of the proxy at EndpointA status
// st; the proxy is otherwise healthy.
func extKey(st m.ExternalKeyStatus) []m.Call {
	return proxyOn(m.EndpointA, func(p *m.Proxy) { p.Keys[0].Status = st })
}

func proxyOn(endpoint string, change func(*m.Proxy)) []m.Call {
	p := m.HealthyProxy(endpoint)
	change(&p)
	return one(m.Call{Op: m.OpSetProxy, Proxy: &p})
}

// keyOpsOn calls every operation on a key that leaves the key as it is.
func keyOpsOn() []m.Call {
	var cs []m.Call
	for _, op := range append(append([]m.Op{m.OpDescribeKey}, m.CryptoOps...), m.UnsupportedKeyOps...) {
		cs = append(cs, m.Call{Op: op, KeyID: m.SubjectKeyID})
	}
	return cs
}

// keyStates walks a key of a store of type t through Disabled and
// PendingDeletion, each in a connected and a disconnected store, calling
// every key operation in each (the key-state table, spec §5).
func keyStates(t m.StoreType) drive.Scenario {
	schedule := one(m.Call{Op: m.OpScheduleKeyDeletion, KeyID: m.SubjectKeyID, PendingWindowDays: m.Ptr(7)})
	return drive.Scenario{Name: "key-states/" + t.Short(), Steps: seq(
		one(create(t, m.KmsuserPassword)), connect(), createKey(t),
		key(m.OpDisableKey), keyOpsOn(), disconnect(), keyOpsOn(), connect(), key(m.OpEnableKey),
		schedule, keyOpsOn(), key(m.OpDisableKey), key(m.OpEnableKey), schedule,
		disconnect(), keyOpsOn(), key(m.OpCancelKeyDeletion),
	)}
}

// cutShort decrypts every proper prefix of a key's ciphertext, with the
// key usable and then unavailable.
func cutShort(t m.StoreType) drive.Scenario {
	decrypt := one(m.Call{Op: m.OpDecrypt, KeyID: m.SubjectKeyID, CutShort: true})
	return drive.Scenario{Name: "exception/Decrypt/ciphertext-cut-short/" + t.Short(), Steps: seq(
		one(create(t, m.KmsuserPassword)), connect(), createKey(t), decrypt, key(m.OpDecrypt), disconnect(), decrypt)}
}

// unknownKey calls every operation on a key with a key id that no key has.
func unknownKey() drive.Scenario {
	var cs []m.Call
	for _, op := range append(append([]m.Op{m.OpDescribeKey, m.OpEnableKey, m.OpDisableKey, m.OpCancelKeyDeletion},
		m.CryptoOps...), m.UnsupportedKeyOps...) {
		if op == m.OpDecrypt || op == m.OpReEncrypt {
			// They find their key in the ciphertext, and no ciphertext of
			// a key that does not exist can be made (see outOfScope).
			continue
		}
		cs = append(cs, m.Call{Op: op, KeyID: m.UnknownKeyID})
	}
	cs = append(cs, m.Call{Op: m.OpScheduleKeyDeletion, KeyID: m.UnknownKeyID, PendingWindowDays: m.Ptr(7)})
	return drive.Scenario{Name: "exception/key-operations/unknown-key", Steps: cs}
}

// causes returns the scenarios of this file.
func causes() []drive.Scenario {
	opCreate, opUpdate, opConnect := m.OpCreateCustomKeyStore, m.OpUpdateCustomKeyStore, m.OpConnectCustomKeyStore
	hsm := one(createHSMStore(m.SubjectStoreName, m.ClusterA, m.TrustAnchorA))
	xks := one(createXksStore(m.SubjectStoreName, m.EndpointA))
	ss := []drive.Scenario{
		// CloudHSM: the cluster's checks (spec §2.1, §2.2, §2.4, §2.7, §2.8).
		cause(opCreate, "cluster-not-found", one(createHSMStore(m.SubjectStoreName, madeUpCluster, m.TrustAnchorA))),
		cause(opCreate, "cluster-not-active", clusterAt(m.ClusterA, m.TrustAnchorA, notActive), hsm),
		cause(opCreate, "cluster-invalid-configuration", clusterAt(m.ClusterA, m.TrustAnchorA, oneHSM), hsm),
		cause(opCreate, "cluster-network-invalid", clusterAt(m.ClusterA, m.TrustAnchorA, func(c *m.Cluster) { c.NetworkOK = false }), hsm),
		cause(opConnect, "cluster-not-active", hsm, clusterAt(m.ClusterA, m.TrustAnchorA, notActive),
			one(m.Call{Op: m.OpConnectCustomKeyStore, StoreID: sid})),
		cause(opUpdate, "cluster-not-found", hsm, update(m.UpdateStoreInput{ClusterID: m.Ptr(madeUpCluster)})),
		cause(opUpdate, "cluster-not-related", hsm, update(m.UpdateStoreInput{ClusterID: m.Ptr(m.ClusterB)})),
		cause(opUpdate, "cluster-not-active", hsm, clusterAt(m.ClusterARelated, m.TrustAnchorA, notActive),
			update(m.UpdateStoreInput{ClusterID: m.Ptr(m.ClusterARelated)})),
		cause(opUpdate, "cluster-invalid-configuration", hsm, clusterAt(m.ClusterARelated, m.TrustAnchorA, oneHSM),
			update(m.UpdateStoreInput{ClusterID: m.Ptr(m.ClusterARelated)})),
		// A key made while the cluster was sound, then the HSMs go: one
		// left refuses a new key, none refuses the key's use and
		// GenerateRandom (spec §2.7, §2.8, §2.9).
		cause(m.OpCreateKey, "cluster-loses-hsms", hsm, connect(), createKey(m.CloudHSM),
			clusterAt(m.ClusterA, m.TrustAnchorA, oneHSM), one(m.Call{Op: m.OpCreateKey, StoreID: sid, CreateKey: m.CreateKeyFor(m.CloudHSM, m.XksKey1)}),
			key(m.OpEncrypt), clusterAt(m.ClusterA, m.TrustAnchorA, func(c *m.Cluster) { c.ActiveHSMs = 0 }),
			one(m.Call{Op: m.OpGenerateRandom, StoreID: sid, NumberOfBytes: m.Ptr(32)}), key(m.OpEncrypt), key(m.OpDecrypt), disconnect()),
		cause(opCreate, "cluster-in-use", hsm,
			one(m.Call{Op: m.OpCreateCustomKeyStore, Create: m.CreateCloudHSMInput("kmsconform-other", m.ClusterA, m.TrustAnchorA, m.KmsuserPassword)})),
		cause(opCreate, "related-cluster-in-use", hsm,
			one(m.Call{Op: m.OpCreateCustomKeyStore, Create: m.CreateCloudHSMInput("kmsconform-other", m.ClusterARelated, m.TrustAnchorA, m.KmsuserPassword)})),
		// The documented fix for a deleted cluster: a cluster made from a
		// backup of it, associated with the store (spec §2.4).
		cause(opUpdate, "related-cluster-after-the-original-is-deleted", hsm, one(m.Call{Op: m.OpDeleteCluster, ClusterID: m.ClusterA}),
			update(m.UpdateStoreInput{ClusterID: m.Ptr(m.ClusterARelated)})),
		// A connected store whose cluster is deleted still disconnects.
		cause(m.OpDisconnectCustomKeyStore, "cluster-deleted", hsm, connect(), one(m.Call{Op: m.OpDeleteCluster, ClusterID: m.ClusterA}), disconnect()),
		cause(m.OpDisconnectCustomKeyStore, "kmsuser-deleted", hsm, connect(),
			clusterAt(m.ClusterA, m.TrustAnchorA, func(c *m.Cluster) { c.Kmsuser = m.KmsuserMissing }), disconnect()),
		// Keys in another store do not hold this one (spec §2.5).
		cause(m.OpDeleteCustomKeyStore, "while-another-store-holds-keys", xks, otherStore(m.External, "kmsconform-other"),
			connectOther(), one(m.Call{Op: m.OpCreateKey, StoreID: m.Ptr(otherID), CreateKey: m.CreateKeyFor(m.CloudHSM, "")}),
			one(m.Call{Op: m.OpDeleteCustomKeyStore, StoreID: sid})),
		// The name of another store, of the other type.
		cause(opUpdate, "name-in-use", hsm, otherStore(m.CloudHSM, "kmsconform-other"),
			update(m.UpdateStoreInput{NewName: m.Ptr("kmsconform-other")})),

		// External key stores: the proxy's answers to the health check of
		// Create and Update (spec §2.1, §2.4, §7.4).
		cause(opCreate, "proxy-invalid-response", proxyOn(m.EndpointA, func(p *m.Proxy) { p.Fault = m.ProxyMalformed }), xks),
		// Health answers of the wrong shape: the proxy breaks the next rule
		// at each answer, so four creates meet all four.
		cause(opCreate, "proxy-bad-health-answer", proxyOn(m.EndpointA, func(p *m.Proxy) { p.Fault = m.ProxyBadHealthAnswer }), xks, xks, xks, xks),
		cause(opUpdate, "proxy-invalid-response", xks, proxyOn(m.EndpointB, func(p *m.Proxy) { p.Fault = m.ProxyMalformed }),
			update(m.UpdateStoreInput{Endpoint: m.Ptr(m.EndpointB)})),
		cause(opUpdate, "proxy-unreachable", xks, proxyOn(m.EndpointB, func(p *m.Proxy) { p.Fault = m.ProxyUnreachable }),
			update(m.UpdateStoreInput{Endpoint: m.Ptr(m.EndpointB)})),
		cause(opUpdate, "proxy-wrong-path", xks, update(m.UpdateStoreInput{Path: m.Ptr(m.PathAlt)})),
		cause(opUpdate, "proxy-wrong-credential", xks, update(m.UpdateStoreInput{Credential: &m.CredentialB})),
		// What other external key stores hold (spec §2.1, §2.4).
		cause(opUpdate, "uri-in-use", xks, one(createXksStore("kmsconform-other", m.EndpointB)),
			update(m.UpdateStoreInput{Endpoint: m.Ptr(m.EndpointB)})),
		// The proxy serves the second path, so that its health check at the
		// public create finds nothing wrong: only the shared endpoint is.
		cause(opCreate, "uri-endpoint-in-use", one(vpcCreate(m.SubjectStoreName, m.EndpointA, m.VpcServiceA)), alt(),
			one(m.Call{Op: m.OpCreateCustomKeyStore, Create: m.CreateXksInput("kmsconform-other", m.EndpointA, m.PathAlt, m.CredentialA)})),
		cause(opCreate, "uri-endpoint-in-use-by-a-public-store", xks, alt(), one(vpcCreateAt("kmsconform-other", m.EndpointA, m.PathAlt, m.VpcServiceA))),
		cause(opUpdate, "uri-endpoint-in-use", one(vpcCreate(m.SubjectStoreName, m.EndpointA, m.VpcServiceA)),
			one(vpcCreate("kmsconform-other", m.EndpointB, m.VpcServiceB)),
			update(m.UpdateStoreInput{Endpoint: m.Ptr(m.EndpointB), Path: m.Ptr(m.PathAlt)})),
		// Two public stores may share an endpoint on other paths (spec §2.1).
		cause(opCreate, "uri-endpoint-shared-by-public-stores", xks, alt(),
			one(m.Call{Op: m.OpCreateCustomKeyStore, Create: m.CreateXksInput("kmsconform-other", m.EndpointA, m.PathAlt, m.CredentialA)})),
		// From a public endpoint to VPC endpoint service connectivity.
		cause(opUpdate, "public-to-vpc", xks, update(m.UpdateStoreInput{Connectivity: m.Ptr(string(m.VpcEndpointService)),
			Endpoint: m.Ptr(m.EndpointB), VpcService: m.Ptr(m.VpcServiceA)})),
		// Back from VPC endpoint service connectivity to a public endpoint.
		cause(opUpdate, "vpc-to-public", one(vpcCreate(m.SubjectStoreName, m.EndpointA, m.VpcServiceA)),
			update(m.UpdateStoreInput{Connectivity: m.Ptr(string(m.PublicEndpoint)), Endpoint: m.Ptr(m.EndpointB)})),
		// A VPC endpoint service of another account than the one named
		// (XksProxyVpcEndpointServiceOwner) is not found: at Create, or at
		// the Connect that follows (spec §2.1).
		cause(opCreate, "vpc-service-of-another-owner", one(vpcOwnedBy(otherAccount)), connect()),
		cause(opCreate, "vpc-service-in-use", one(vpcCreate(m.SubjectStoreName, m.EndpointA, m.VpcServiceA)),
			one(vpcCreate("kmsconform-other", m.EndpointB, m.VpcServiceA))),
		cause(opUpdate, "vpc-service-in-use", one(vpcCreate(m.SubjectStoreName, m.EndpointA, m.VpcServiceA)),
			one(vpcCreate("kmsconform-other", m.EndpointB, m.VpcServiceB)), update(m.UpdateStoreInput{VpcService: m.Ptr(m.VpcServiceB)})),
		// A VPC endpoint service may be found wanting at Create or Update,
		// or only at the next Connect (spec §2.1): the model allows both.
		cause(opCreate, "vpc-service-invalid-configuration", vpcService(m.VpcServiceInvalidConfig),
			one(vpcCreate(m.SubjectStoreName, m.EndpointA, m.VpcServiceA))),
		cause(opUpdate, "vpc-service-invalid-configuration", one(vpcCreate(m.SubjectStoreName, m.EndpointA, m.VpcServiceA)),
			one(m.Call{Op: m.OpSetVpcService, VpcServiceSpec: &m.VpcService{Name: m.VpcServiceB, Status: m.VpcServiceInvalidConfig}}),
			update(m.UpdateStoreInput{VpcService: m.Ptr(m.VpcServiceB)})),
		// An update that names no part of the store's VPC connection (here
		// its path) does not look at the VPC endpoint service; one that
		// names the endpoint may.
		cause(opUpdate, "vpc-service-invalid-configuration-unnamed", one(vpcCreate(m.SubjectStoreName, m.EndpointA, m.VpcServiceA)),
			one(m.Call{Op: m.OpSetVpcService, VpcServiceSpec: &m.VpcService{Name: m.VpcServiceA, Status: m.VpcServiceInvalidConfig}}),
			update(m.UpdateStoreInput{Path: m.Ptr(m.PathAlt)}), update(m.UpdateStoreInput{Endpoint: m.Ptr(m.EndpointB)})),
		cause(opUpdate, "vpc-service-not-found", one(vpcCreate(m.SubjectStoreName, m.EndpointA, m.VpcServiceA)),
			one(m.Call{Op: m.OpDeleteVpcService, VpcServiceName: m.VpcServiceB}), update(m.UpdateStoreInput{VpcService: m.Ptr(m.VpcServiceB)})),
		// The external key behind a new KMS key (spec §2.7).
		// Another external key is free (the rule is per external key).
		cause(m.OpCreateKey, "xks-key-already-in-use", xks, connect(), createKey(m.External), createKey(m.External),
			one(m.Call{Op: m.OpCreateKey, StoreID: sid, CreateKey: m.CreateKeyFor(m.External, m.XksKey2)}), disconnect()),
		cause(m.OpCreateKey, "xks-key-invalid-configuration", xks,
			proxyOn(m.EndpointA, func(p *m.Proxy) { p.Keys[0].Status = m.ExtKeyWrongSpec }), connect(), createKey(m.External), disconnect()),
		// Each usage KMS needs, missing, fails the check, and so does a
		// disabled key; ten usages (the most allowed) pass it.
		cause(m.OpCreateKey, "xks-key-usage", xks, connect(),
			extKey(m.ExtKeyEncryptOnly), createKey(m.External), extKey(m.ExtKeyDecryptOnly), createKey(m.External),
			extKey(m.ExtKeyWrongUsage), createKey(m.External), extKey(m.ExtKeyDisabled), createKey(m.External),
			extKey(m.ExtKeyTenUsages), createKey(m.External), disconnect()),
		// GetKeyMetadata answers of the wrong shape: the proxy breaks the
		// next rule at each answer, so four creates meet all four.
		cause(m.OpCreateKey, "xks-proxy-bad-metadata-answer", xks, connect(), extKey(m.ExtKeyBadMetadataAnswer),
			createKey(m.External), createKey(m.External), createKey(m.External), createKey(m.External), disconnect()),
		// A key whose external key loses one usage: the operations that
		// need the other fail at the proxy (InvalidKeyUsageException).
		cause(m.OpEncrypt, "xks-key-one-usage", xks, connect(), createKey(m.External),
			extKey(m.ExtKeyEncryptOnly), key(m.OpEncrypt), key(m.OpGenerateDataKey), key(m.OpDecrypt), key(m.OpReEncrypt),
			extKey(m.ExtKeyDecryptOnly), key(m.OpDecrypt), key(m.OpEncrypt), key(m.OpGenerateDataKeyWithoutPlaintext), key(m.OpReEncrypt),
			disconnect()),
		// Encrypt answers of the wrong shape: five encrypts meet all five
		// breaks; Decrypt still works.
		cause(m.OpEncrypt, "xks-proxy-bad-encrypt-answer", xks, connect(), createKey(m.External), extKey(m.ExtKeyBadEncryptAnswer),
			key(m.OpEncrypt), key(m.OpEncrypt), key(m.OpEncrypt), key(m.OpEncrypt), key(m.OpEncrypt),
			key(m.OpGenerateDataKey), key(m.OpReEncrypt), key(m.OpDecrypt), disconnect()),
		unknownKey(),
	}
	for _, t := range m.StoreTypes {
		ss = append(ss, keyStates(t), cutShort(t))
	}
	return ss
}

func createHSMStore(name, cluster, anchor string) m.Call {
	return m.Call{Op: m.OpCreateCustomKeyStore, Create: m.CreateCloudHSMInput(name, cluster, anchor, m.KmsuserPassword)}
}

func createXksStore(name, endpoint string) m.Call {
	return m.Call{Op: m.OpCreateCustomKeyStore, Create: m.CreateXksInput(name, endpoint, m.PathV1, m.CredentialA)}
}
