package scenarios

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	. "github.com/onsi/ginkgo/v2"

	"github.com/kmsconform/kmsconform/drive"
	m "github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/suites/harness"
)

var sid = m.Ptr(m.SubjectStoreID)

func connect() []m.Call {
	return []m.Call{{Op: m.OpConnectCustomKeyStore, StoreID: sid}, {Op: m.OpSettle, StoreID: sid}}
}

func disconnect() []m.Call {
	return []m.Call{{Op: m.OpDisconnectCustomKeyStore, StoreID: sid}, {Op: m.OpSettle, StoreID: sid}}
}

func create(t m.StoreType, password string) m.Call {
	if t == m.CloudHSM {
		return m.Call{Op: m.OpCreateCustomKeyStore, Create: m.CreateCloudHSMInput(m.SubjectStoreName, m.ClusterA, m.TrustAnchorA, password)}
	}
	return m.Call{Op: m.OpCreateCustomKeyStore, Create: m.CreateXksInput(m.SubjectStoreName, m.EndpointA, m.PathV1, m.CredentialA)}
}

func seq(parts ...[]m.Call) []m.Call {
	var s []m.Call
	for _, p := range parts {
		s = append(s, p...)
	}
	return s
}

func one(c m.Call) []m.Call { return []m.Call{c} }

func key(op m.Op) []m.Call { return one(m.Call{Op: op, KeyID: m.SubjectKeyID}) }

func createKey(t m.StoreType) []m.Call {
	return one(m.Call{Op: m.OpCreateKey, StoreID: sid, CreateKey: m.CreateKeyFor(t, m.XksKey1)})
}

func proxy(fault m.ProxyFault, creds ...m.Credential) []m.Call {
	p := m.HealthyProxy(m.EndpointA)
	p.Fault = fault
	if len(creds) > 0 {
		p.Accepted = creds
	}
	return one(m.Call{Op: m.OpSetProxy, Proxy: &p})
}

func cluster(change func(*m.Cluster)) []m.Call {
	c := m.HealthyCluster(m.ClusterA, m.TrustAnchorA)
	// The kmsuser password stays as KMS rotated it (see drive.ToTargetCluster).
	c.Password = m.RotatedPassword(m.SubjectStoreID)
	change(&c)
	return one(m.Call{Op: m.OpSetCluster, Cluster: &c})
}

// healthyCluster is cluster A as a user who knows its kmsuser password
// (KmsuserPassword) sets it up, changed by change.
func healthyCluster(change func(*m.Cluster)) []m.Call {
	c := m.HealthyCluster(m.ClusterA, m.TrustAnchorA)
	change(&c)
	return one(m.Call{Op: m.OpSetCluster, Cluster: &c})
}

// proxyAt is a healthy proxy at endpoint A, changed by change.
func proxyAt(change func(*m.Proxy)) []m.Call {
	p := m.HealthyProxy(m.EndpointA)
	change(&p)
	return one(m.Call{Op: m.OpSetProxy, Proxy: &p})
}

// createVpc creates the subject store as an external key store with VPC
// endpoint service connectivity (endpoint service A).
func createVpc() m.Call {
	return m.Call{Op: m.OpCreateCustomKeyStore, Create: &m.CreateStoreInput{Name: m.SubjectStoreName, Type: m.Ptr(string(m.External)),
		Connectivity: m.Ptr(string(m.VpcEndpointService)), Endpoint: m.Ptr(m.EndpointA), Path: m.Ptr(m.PathV1),
		Credential: &m.CredentialA, VpcService: m.Ptr(m.VpcServiceA)}}
}

func vpcService(st m.VpcServiceStatus) []m.Call {
	return one(m.Call{Op: m.OpSetVpcService, VpcServiceSpec: &m.VpcService{Name: m.VpcServiceA, Status: st}})
}

// failedCloudHSM is the recovery of a CloudHSM store whose connect fails
// with the code the broken cluster causes (spec §4.2): the store settles
// FAILED with it, Disconnect clears it, and once the cluster is mended
// (and, where the documentation asks for it, the store updated) the store
// connects.
func failedCloudHSM(name string, breakIt, mend []m.Call) drive.Scenario {
	return drive.Scenario{Name: "failed-recovery/CloudHSM-" + name, Steps: seq(
		one(create(m.CloudHSM, m.KmsuserPassword)), breakIt, connect(), disconnect(), mend, connect(),
	)}
}

// failedXks is failedCloudHSM for an external key store on proxy A.
func failedXks(name string, breakIt, mend []m.Call) drive.Scenario {
	return drive.Scenario{Name: "failed-recovery/XKS-" + name, Steps: seq(
		one(create(m.External, "")), breakIt, connect(), disconnect(), mend, connect(),
	)}
}

// connectionErrors are the scenarios that drive the documented cause of
// each ConnectionErrorCode the others do not (spec §4.2, §7.4).
func connectionErrors() []drive.Scenario {
	healthy := healthyCluster(func(*m.Cluster) {})
	newPassword := update(m.UpdateStoreInput{Password: m.Ptr(m.KmsuserPassword)})
	return []drive.Scenario{
		failedCloudHSM("internal-error", healthyCluster(func(c *m.Cluster) { c.Fault = m.ClusterInternalError }), healthy),
		failedCloudHSM("network-errors", healthyCluster(func(c *m.Cluster) { c.Fault = m.ClusterNetworkError }), healthy),
		failedCloudHSM("cluster-not-found", one(m.Call{Op: m.OpDeleteCluster, ClusterID: m.ClusterA}), healthy),
		// C-11: a target may refuse the connect at once instead
		// (CloudHsmClusterInvalidConfiguration); the code is then not seen.
		failedCloudHSM("no-active-hsms", healthyCluster(func(c *m.Cluster) { c.ActiveHSMs = 0 }), healthy),
		failedCloudHSM("no-free-addresses", healthyCluster(func(c *m.Cluster) { c.Fault = m.ClusterNoFreeAddresses }), healthy),
		// The documented fix: a cluster made from a recent backup (a
		// related one), associated with the store.
		failedCloudHSM("subnet-deleted", healthyCluster(func(c *m.Cluster) { c.Fault = m.ClusterSubnetDeleted }),
			update(m.UpdateStoreInput{ClusterID: m.Ptr(m.ClusterARelated)})),
		// The documented fix for both: the kmsuser password set anew (or
		// the user created) in the cluster, then the store's updated.
		failedCloudHSM("kmsuser-locked-out", healthyCluster(func(c *m.Cluster) { c.Kmsuser = m.KmsuserLockedOut }), seq(healthy, newPassword)),
		// The lock-out that failed logins cause (spec §4.2): connects with a
		// wrong password until the cluster locks kmsuser out. Undoing it
		// takes the cluster's crypto officer, so only a target that
		// controls its clusters runs it.
		{Name: "failed-recovery/CloudHSM-locked-out-by-failed-logins", Steps: seq(
			one(create(m.CloudHSM, m.WrongKmsuserPassword)),
			connect(), disconnect(), connect(), disconnect(), connect(), disconnect(),
			connect(), disconnect(), connect(), disconnect(), connect(), disconnect(),
			healthy, newPassword, connect(),
		)},
		failedCloudHSM("kmsuser-missing", healthyCluster(func(c *m.Cluster) { c.Kmsuser = m.KmsuserMissing }), seq(healthy, newPassword)),

		failedXks("wrong-credential", proxy(m.ProxyHealthy, m.CredentialB), update(m.UpdateStoreInput{Credential: &m.CredentialB})),
		failedXks("access-denied", proxy(m.ProxyDenyAll), proxy(m.ProxyHealthy)),
		failedXks("wrong-uri-path", proxyAt(func(p *m.Proxy) { p.Path = m.PathAlt }), update(m.UpdateStoreInput{Path: m.Ptr(m.PathAlt)})),
		failedXks("invalid-response", proxy(m.ProxyMalformed), proxy(m.ProxyHealthy)),
		failedXks("invalid-tls", proxy(m.ProxyTLSInvalid), proxy(m.ProxyHealthy)),
		failedXks("network-error", proxy(m.ProxyNetworkError), proxy(m.ProxyHealthy)),
		failedXks("kms-internal-error", proxy(m.ProxyKMSInternalError), proxy(m.ProxyHealthy)),
		{Name: "failed-recovery/XKS-vpc-service-not-found", Steps: seq(
			one(createVpc()), one(m.Call{Op: m.OpDeleteVpcService, VpcServiceName: m.VpcServiceA}), connect(),
			disconnect(), vpcService(m.VpcServiceOK), connect(),
		)},
		// C: either VPC code (rule xks.vpc-kms-not-allowed).
		{Name: "failed-recovery/XKS-vpc-service-kms-not-allowed", Steps: seq(
			one(createVpc()), vpcService(m.VpcServiceKMSNotAllowed), connect(),
			disconnect(), vpcService(m.VpcServiceOK), connect(),
		)},
		{Name: "failed-recovery/XKS-vpc-service-private-dns-unverified", Steps: seq(
			one(createVpc()), vpcService(m.VpcServicePrivateDNSUnverified), connect(),
			disconnect(), vpcService(m.VpcServiceOK), connect(),
		)},
		{Name: "failed-recovery/XKS-vpc-service-private-dns-other-host", Steps: seq(
			one(createVpc()), vpcService(m.VpcServicePrivateDNSOtherHost), connect(),
			disconnect(), vpcService(m.VpcServiceOK), connect(),
		)},
		{Name: "failed-recovery/XKS-vpc-service-invalid", Steps: seq(
			one(createVpc()), vpcService(m.VpcServiceInvalidConfig), connect(),
			disconnect(), vpcService(m.VpcServiceOK), connect(),
		)},
	}
}

func update(u m.UpdateStoreInput) []m.Call {
	return one(m.Call{Op: m.OpUpdateCustomKeyStore, StoreID: sid, Update: &u})
}

// fillers creates n more stores (external key stores on their own proxies).
func fillers(n int) []m.Call {
	var cs []m.Call
	for i := 1; i <= n; i++ {
		ep := fmt.Sprintf("https://filler-%d.kmsconform.example", i)
		p := m.HealthyProxy(ep)
		cs = append(cs, m.Call{Op: m.OpSetProxy, Proxy: &p},
			m.Call{Op: m.OpCreateCustomKeyStore, Create: m.CreateXksInput(fmt.Sprintf("filler-%d", i), ep, m.PathV1, m.CredentialA)})
	}
	return cs
}

// Scenarios returns every scenario, per store type where both apply.
func Scenarios() []drive.Scenario {
	var ss []drive.Scenario
	for _, t := range m.StoreTypes {
		ss = append(ss,
			drive.Scenario{Name: "lifecycle/" + t.Short(), Steps: seq(
				one(create(t, m.KmsuserPassword)), connect(), createKey(t), key(m.OpEncrypt),
				disconnect(), key(m.OpEncrypt), key(m.OpDecrypt), key(m.OpDescribeKey),
				connect(), key(m.OpDecrypt), key(m.OpEncrypt), key(m.OpReEncrypt), key(m.OpGenerateDataKey),
			)},
			drive.Scenario{Name: "delete-needs-keys-gone/" + t.Short(), Steps: seq(
				one(create(t, m.KmsuserPassword)), connect(), createKey(t),
				one(m.Call{Op: m.OpScheduleKeyDeletion, KeyID: m.SubjectKeyID, PendingWindowDays: m.Ptr(7)}),
				disconnect(), one(m.Call{Op: m.OpDeleteCustomKeyStore, StoreID: sid}),
				one(m.Call{Op: m.OpExpireKeyDeletion, KeyID: m.SubjectKeyID}),
				one(m.Call{Op: m.OpDeleteCustomKeyStore, StoreID: sid}),
				one(m.Call{Op: m.OpDescribeCustomKeyStores, StoreID: sid}),
			)},
			// A deletion window ends while a second, newer key stays: only
			// the pending key goes.
			drive.Scenario{Name: "deletion-window-ends/" + t.Short(), Steps: seq(
				one(create(t, m.KmsuserPassword)), connect(), createKey(t),
				one(m.Call{Op: m.OpCreateKey, StoreID: sid, CreateKey: m.CreateKeyFor(t, m.XksKey2)}),
				one(m.Call{Op: m.OpScheduleKeyDeletion, KeyID: m.SubjectKeyID, PendingWindowDays: m.Ptr(7)}),
				one(m.Call{Op: m.OpExpireKeyDeletion, KeyID: m.SubjectKeyID}),
				key(m.OpDescribeKey), one(m.Call{Op: m.OpEncrypt, KeyID: m.KeyIDFor(1)}),
			)},
			drive.Scenario{Name: "keys-follow-the-store/" + t.Short(), Steps: seq(
				one(create(t, m.KmsuserPassword)), connect(), createKey(t), key(m.OpDisableKey),
				disconnect(), key(m.OpEnableKey), key(m.OpEncrypt), connect(), key(m.OpEncrypt),
				key(m.OpScheduleKeyDeletion), disconnect(), key(m.OpCancelKeyDeletion), connect(), key(m.OpEncrypt),
			)},
		)
	}
	ss = append(ss,
		drive.Scenario{Name: "failed-recovery/CloudHSM-wrong-password", Steps: seq(
			one(create(m.CloudHSM, m.WrongKmsuserPassword)), connect(),
			one(m.Call{Op: m.OpConnectCustomKeyStore, StoreID: sid}),
			disconnect(), update(m.UpdateStoreInput{Password: m.Ptr(m.KmsuserPassword)}), connect(),
		)},
		drive.Scenario{Name: "failed-recovery/CloudHSM-kmsuser-logged-in", Steps: seq(
			one(create(m.CloudHSM, m.KmsuserPassword)), connect(), disconnect(),
			cluster(func(c *m.Cluster) { c.Kmsuser = m.KmsuserLoggedIn }), connect(),
			disconnect(), cluster(func(c *m.Cluster) {}), connect(),
		)},
		drive.Scenario{Name: "failed-recovery/XKS-proxy-unreachable", Steps: seq(
			one(create(m.External, "")), proxy(m.ProxyUnreachable), connect(),
			disconnect(), proxy(m.ProxyHealthy), connect(), createKey(m.External), key(m.OpEncrypt),
		)},
		drive.Scenario{Name: "failed-recovery/XKS-proxy-timeout", Steps: seq(
			one(create(m.External, "")), proxy(m.ProxySlow), connect(),
			disconnect(), proxy(m.ProxyHealthy), connect(),
		)},
		// A Disconnect while a Connect is under way and the proxy answers
		// late, then new Connects: each settles as its own proxy answer
		// decides (whether the first health check had started when the
		// Disconnect came is up to the target's timing).
		drive.Scenario{Name: "xks-reconnect-during-health-check", Steps: seq(
			one(create(m.External, "")), proxy(m.ProxySlow),
			one(m.Call{Op: m.OpConnectCustomKeyStore, StoreID: sid}), disconnect(), connect(), disconnect(),
			proxy(m.ProxyHealthy), connect(),
		)},
		drive.Scenario{Name: "xks-credential-rotation", Steps: seq(
			one(create(m.External, "")), connect(), createKey(m.External), key(m.OpEncrypt),
			proxy(m.ProxyHealthy, m.CredentialA, m.CredentialB), key(m.OpEncrypt),
			update(m.UpdateStoreInput{Credential: &m.CredentialB}), key(m.OpEncrypt),
			proxy(m.ProxyHealthy, m.CredentialB), key(m.OpEncrypt), key(m.OpDecrypt),
		)},
		drive.Scenario{Name: "cloudhsm-kmsuser-password-rotated-on-connect", Steps: seq(
			// After a connect KMS holds a new kmsuser password: the one the
			// user gave no longer works.
			one(create(m.CloudHSM, m.KmsuserPassword)), connect(), disconnect(),
			update(m.UpdateStoreInput{Password: m.Ptr(m.KmsuserPassword)}), connect(),
		)},
		drive.Scenario{Name: "store-quota", Steps: seq(
			one(create(m.External, "")), fillers(m.StoreQuota-1),
			one(m.Call{Op: m.OpCreateCustomKeyStore, Create: m.CreateCloudHSMInput("eleventh", m.ClusterB, m.TrustAnchorB, m.KmsuserPassword)}),
			one(m.Call{Op: m.OpDeleteCustomKeyStore, StoreID: sid}),
			one(m.Call{Op: m.OpCreateCustomKeyStore, Create: m.CreateCloudHSMInput("eleventh", m.ClusterB, m.TrustAnchorB, m.KmsuserPassword)}),
		)},
		// The quota holds for a VPC endpoint service store too, checked
		// after the service.
		drive.Scenario{Name: "store-quota-vpc", Steps: seq(
			one(create(m.External, "")), fillers(m.StoreQuota-1),
			one(vpcCreate("eleventh", m.EndpointB, m.VpcServiceA)),
			one(m.Call{Op: m.OpDeleteCustomKeyStore, StoreID: sid}),
			one(vpcCreate("eleventh", m.EndpointB, m.VpcServiceA)),
		)},
		// A key made between the stores: the listing is of stores only.
		drive.Scenario{Name: "describe-pagination", Steps: seq(one(create(m.External, "")), connect(), createKey(m.External), fillers(4)),
			Check: checkPagination},
	)
	ss = append(ss, connectionErrors()...)
	ss = append(ss, causes()...)
	return ss
}

// checkPagination pages through DescribeCustomKeyStores one and then two
// at a time and requires every store the scenario made, once each.
func checkPagination(ctx context.Context, client *kms.Client, mp *drive.Mapper) error {
	for _, limit := range []int32{1, 2} {
		if err := pageThrough(ctx, client, mp, limit); err != nil {
			return err
		}
	}
	return nil
}

func pageThrough(ctx context.Context, client *kms.Client, mp *drive.Mapper, limit int32) error {
	want := mp.TargetStores()
	var got []string
	var marker *string
	for page := 0; page < 100; page++ {
		out, err := client.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{Limit: aws.Int32(limit), Marker: marker})
		if err != nil {
			return drive.Failf("Limit %d, page %d: %v", limit, page+1, drive.Classify(err).Code)
		}
		if len(out.CustomKeyStores) > int(limit) {
			return drive.Failf("page %d holds %d stores with Limit %d", page+1, len(out.CustomKeyStores), limit)
		}
		for _, s := range out.CustomKeyStores {
			got = append(got, aws.ToString(s.CustomKeyStoreId))
		}
		if !out.Truncated {
			// A last page may carry a NextMarker: the documentation says
			// only that a Truncated one does.
			break
		}
		if out.NextMarker == nil {
			return drive.Failf("Limit %d: page %d is Truncated without a NextMarker", limit, page+1)
		}
		marker = out.NextMarker
	}
	for _, id := range want {
		if n := count(got, id); n != 1 {
			return drive.Failf("Limit %d: store %s appears %d times across the pages", limit, id, n)
		}
	}
	return nil
}

func count(ss []string, s string) int {
	n := 0
	for _, x := range ss {
		if x == s {
			n++
		}
	}
	return n
}

func init() { harness.ExpectScenarios(Scenarios()) }

var _ = Describe("scenarios", func() {
	for _, s := range Scenarios() {
		It(s.Name, harness.ScenarioLabels(s), func(ctx SpecContext) { harness.ScenarioSpec(ctx, s) })
	}
})
