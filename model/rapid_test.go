package model

import (
	"testing"

	"pgregory.net/rapid"
)

// faultCalls are the backing changes the random walks add to Calls: every
// cluster fault and kmsuser condition on cluster A, every proxy fault on
// proxy A, and a VPC store create.
func faultCalls(w World) []Call {
	var cs []Call
	if cl, found := w.Cluster(ClusterA); found {
		for _, f := range []ClusterFault{ClusterHealthy, ClusterNoFreeAddresses, ClusterSubnetDeleted, ClusterNetworkError, ClusterInternalError} {
			c := cl
			c.Fault = f
			cs = append(cs, Call{Op: OpSetCluster, Cluster: &c})
		}
		for _, k := range []KmsuserStatus{KmsuserReady, KmsuserLoggedIn, KmsuserLockedOut, KmsuserMissing} {
			c := cl
			c.Kmsuser = k
			cs = append(cs, Call{Op: OpSetCluster, Cluster: &c})
		}
	}
	for _, f := range []ProxyFault{ProxyHealthy, ProxyUnreachable, ProxySlow, ProxyTLSInvalid, ProxyDenyAll, ProxyThrottling,
		ProxyInternal, ProxyDepTimeout, ProxyMalformed, ProxyEKMUnavailable, ProxyEKMDegraded, ProxyBadHealthAnswer, ProxyNetworkError, ProxyKMSInternalError} {
		p := HealthyProxy(EndpointA)
		p.Fault = f
		cs = append(cs, Call{Op: OpSetProxy, Proxy: &p})
	}
	vpc := &CreateStoreInput{Name: "vpc-store", Type: Ptr(string(External)), Connectivity: Ptr(string(VpcEndpointService)),
		Endpoint: Ptr(EndpointC), Path: Ptr(PathV1), Credential: &CredentialA, VpcService: Ptr(VpcServiceA)}
	cs = append(cs, Call{Op: OpCreateCustomKeyStore, Create: vpc},
		Call{Op: OpDeleteVpcService, VpcServiceName: VpcServiceA},
		Call{Op: OpSetVpcService, VpcServiceSpec: &VpcService{Name: VpcServiceA, Status: VpcServiceInvalidConfig}})
	for _, k := range w.Keys {
		cs = append(cs, Call{Op: OpDeleteKeyMaterial, KeyID: k.ID})
		for _, op := range append(append([]Op{}, CryptoOps...), UnsupportedKeyOps...) {
			cs = append(cs, Call{Op: op, KeyID: k.ID})
		}
	}
	return cs
}

// TestRandomWalks follows long random paths through the model — every call
// of Calls plus every backing fault, and any outcome and world the model
// allows — and checks the same invariants as the exhaustive walk, far beyond
// its depth (kmsuser lock-outs, repeated failures and recoveries).
func TestRandomWalks(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := NewWorld()
		if rapid.Bool().Draw(t, "start with four stores") {
			w = walkStart()
		}
		steps := rapid.IntRange(1, 80).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			cs := append(Calls(w), faultCalls(w)...)
			c := rapid.SampledFrom(cs).Draw(t, "call")
			outs := Step(w, c)
			if err := checkStep(w, c, outs); err != nil {
				t.Fatalf("%s: %v", c.Op, err)
			}
			o := rapid.SampledFrom(outs).Draw(t, "outcome")
			w = rapid.SampledFrom(o.Worlds).Draw(t, "world")
		}
	})
}
