package validation

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	m "github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/suites/harness"
)

// bound is one constrained parameter.
type bound struct {
	op, param string
	typ       m.StoreType
	// min and max are the lengths (or values) the constraint allows; gen
	// makes a value of a length that satisfies the pattern, for min-1 ≤ n ≤
	// max+1 (for n outside the range it need only have that length).
	min, max int
	gen      func(n int) string
	// minOK is the shortest length the pattern can match, when it is above
	// min (a path needs "/kms/xks/v1"): the inside check starts there.
	minOK int
	// bad, when set, is a value of a valid length that breaks the pattern.
	bad string
	// col is the state of the subject store the call is made on.
	col  m.Column
	call func(v string) m.Call
}

func rep(c string, n int) string {
	if n < 0 {
		n = 0
	}
	return strings.Repeat(c, n)
}

var sid = m.Ptr(m.SubjectStoreID)

func createHSM(mod func(*m.CreateStoreInput)) func(string) m.Call {
	return func(v string) m.Call {
		// The account holds no store: the subject's backing is free, and
		// the only one a target without a control plane offers.
		in := m.CreateCloudHSMInput("kmsconform-fresh", m.ClusterA, m.TrustAnchorA, m.KmsuserPassword)
		mod(in)
		return m.Call{Op: m.OpCreateCustomKeyStore, Create: in}
	}
}

func createXKS(mod func(*m.CreateStoreInput, string)) func(string) m.Call {
	return func(v string) m.Call {
		in := m.CreateXksInput("kmsconform-fresh", m.EndpointA, m.PathV1, m.CredentialA)
		mod(in, v)
		return m.Call{Op: m.OpCreateCustomKeyStore, Create: in}
	}
}

func createVPC(mod func(*m.CreateStoreInput, string)) func(string) m.Call {
	return createXKS(func(in *m.CreateStoreInput, v string) {
		in.Connectivity = m.Ptr(string(m.VpcEndpointService))
		in.VpcService = m.Ptr(m.VpcServiceA)
		mod(in, v)
	})
}

func intCall(f func(n int) m.Call) func(string) m.Call {
	return func(v string) m.Call {
		var n int
		fmt.Sscan(v, &n)
		return f(n)
	}
}

func itoa(n int) string { return fmt.Sprint(n) }

var bounds = []bound{
	{op: "CreateCustomKeyStore", param: "CustomKeyStoreName", typ: m.CloudHSM, min: 1, max: 256, gen: func(n int) string { return rep("n", n) },
		col: m.NoSuchStore, call: func(v string) m.Call {
			return createHSM(func(in *m.CreateStoreInput) { in.Name = v })(v)
		}},
	{op: "CreateCustomKeyStore", param: "CloudHsmClusterId", typ: m.CloudHSM, min: 19, max: 24, gen: func(n int) string { return "cluster-" + rep("z", n-8) },
		bad: "cluster-0000000000000", col: m.NoSuchStore, call: func(v string) m.Call {
			return createHSM(func(in *m.CreateStoreInput) { in.ClusterID = &v })(v)
		}},
	{op: "CreateCustomKeyStore", param: "TrustAnchorCertificate", typ: m.CloudHSM, min: 1, max: 5000, gen: func(n int) string { return rep("T", n) },
		col: m.NoSuchStore, call: func(v string) m.Call {
			return createHSM(func(in *m.CreateStoreInput) { in.TrustAnchor = &v })(v)
		}},
	{op: "CreateCustomKeyStore", param: "KeyStorePassword", typ: m.CloudHSM, min: 7, max: 32, gen: func(n int) string { return rep("p", n) },
		col: m.NoSuchStore, call: func(v string) m.Call {
			return createHSM(func(in *m.CreateStoreInput) { in.Password = &v })(v)
		}},
	{op: "CreateCustomKeyStore", param: "XksProxyUriEndpoint", typ: m.External, min: 10, max: 128, gen: func(n int) string { return "https://" + rep("e", n-8) },
		bad: "https://xks.example:443", col: m.NoSuchStore, call: createXKS(func(in *m.CreateStoreInput, v string) { in.Endpoint = &v })},
	{op: "CreateCustomKeyStore", param: "XksProxyUriPath", typ: m.External, min: 10, max: 128, minOK: 11,
		gen: func(n int) string {
			if n <= 11 {
				return "/kms/xks/v1"[:max(n, 0)]
			}
			return "/" + rep("p", n-12) + "/kms/xks/v1"
		},
		bad: "/kms/xks/v1/", col: m.NoSuchStore, call: createXKS(func(in *m.CreateStoreInput, v string) { in.Path = &v })},
	{op: "CreateCustomKeyStore", param: "XksProxyAuthenticationCredential.AccessKeyId", typ: m.External, min: 20, max: 30,
		gen: func(n int) string { return rep("A", n) }, bad: rep("a", 20), col: m.NoSuchStore,
		call: createXKS(func(in *m.CreateStoreInput, v string) {
			in.Credential = &m.Credential{AccessKeyID: v, Secret: m.CredentialA.Secret}
		})},
	{op: "CreateCustomKeyStore", param: "XksProxyAuthenticationCredential.RawSecretAccessKey", typ: m.External, min: 43, max: 64,
		gen: func(n int) string { return rep("s", n) }, bad: rep("s", 42) + "$", col: m.NoSuchStore,
		call: createXKS(func(in *m.CreateStoreInput, v string) {
			in.Credential = &m.Credential{AccessKeyID: m.CredentialA.AccessKeyID, Secret: v}
		})},
	{op: "CreateCustomKeyStore", param: "XksProxyVpcEndpointServiceName", typ: m.External, min: 20, max: 64, minOK: 39,
		gen: func(n int) string {
			const head = "com.amazonaws.vpce.us-east-1.vpce-svc-"
			if n < len(head)+1 {
				return rep("v", n)
			}
			return head + rep("0", n-len(head))
		},
		bad: "org.amazonaws.vpce.us-east-1.vpce-svc-0", col: m.NoSuchStore,
		call: createVPC(func(in *m.CreateStoreInput, v string) { in.VpcService = &v })},
	{op: "CreateCustomKeyStore", param: "XksProxyVpcEndpointServiceOwner", typ: m.External, min: 12, max: 12,
		gen: func(n int) string { return rep("1", n) }, bad: "12345678901a", col: m.NoSuchStore,
		call: createVPC(func(in *m.CreateStoreInput, v string) { in.VpcOwner = &v })},
	{op: "ConnectCustomKeyStore", param: "CustomKeyStoreId", typ: m.CloudHSM, min: 1, max: 64, gen: storeID, col: m.NoSuchStore,
		call: func(v string) m.Call { return m.Call{Op: m.OpConnectCustomKeyStore, StoreID: &v} }},
	{op: "DeleteCustomKeyStore", param: "CustomKeyStoreId", typ: m.CloudHSM, min: 1, max: 64, gen: storeID, col: m.NoSuchStore,
		call: func(v string) m.Call { return m.Call{Op: m.OpDeleteCustomKeyStore, StoreID: &v} }},
	{op: "UpdateCustomKeyStore", param: "NewCustomKeyStoreName", typ: m.External, min: 1, max: 256, gen: func(n int) string { return rep("r", n) },
		col: m.Column(m.Disconnected), call: func(v string) m.Call {
			return m.Call{Op: m.OpUpdateCustomKeyStore, StoreID: sid, Update: &m.UpdateStoreInput{NewName: &v}}
		}},
	{op: "UpdateCustomKeyStore", param: "KeyStorePassword", typ: m.CloudHSM, min: 7, max: 32, gen: func(n int) string { return rep("q", n) },
		col: m.Column(m.Disconnected), call: func(v string) m.Call {
			return m.Call{Op: m.OpUpdateCustomKeyStore, StoreID: sid, Update: &m.UpdateStoreInput{Password: &v}}
		}},
	{op: "UpdateCustomKeyStore", param: "XksProxyUriPath", typ: m.External, min: 10, max: 128, minOK: 11,
		gen: func(n int) string {
			if n <= 11 {
				return "/kms/xks/v1"[:max(n, 0)]
			}
			return "/" + rep("u", n-12) + "/kms/xks/v1"
		},
		col: m.Column(m.Disconnected), call: func(v string) m.Call {
			return m.Call{Op: m.OpUpdateCustomKeyStore, StoreID: sid, Update: &m.UpdateStoreInput{Path: &v}}
		}},
	{op: "DescribeCustomKeyStores", param: "CustomKeyStoreName", typ: m.CloudHSM, min: 1, max: 256, gen: func(n int) string { return rep("d", n) },
		col: m.NoSuchStore, call: func(v string) m.Call { return m.Call{Op: m.OpDescribeCustomKeyStores, StoreName: &v} }},
	{op: "DescribeCustomKeyStores", param: "Limit", typ: m.CloudHSM, min: 1, max: 1000, gen: itoa, col: m.NoSuchStore,
		call: intCall(func(n int) m.Call { return m.Call{Op: m.OpDescribeCustomKeyStores, Limit: &n} })},
	{op: "GenerateRandom", param: "NumberOfBytes", typ: m.CloudHSM, min: 1, max: 1024, gen: itoa, col: m.Column(m.Connected),
		call: intCall(func(n int) m.Call { return m.Call{Op: m.OpGenerateRandom, StoreID: sid, NumberOfBytes: &n} })},
	{op: "CreateKey", param: "XksKeyId", typ: m.External, min: 1, max: 128, gen: func(n int) string { return rep("k", n) },
		bad: "key/with/slashes", col: m.Column(m.Connected), call: func(v string) m.Call {
			return m.Call{Op: m.OpCreateKey, StoreID: sid, CreateKey: m.CreateKeyFor(m.External, v)}
		}},
	{op: "ScheduleKeyDeletion", param: "PendingWindowInDays", typ: m.External, min: 7, max: 30, gen: itoa, col: m.Column(m.Connected),
		call: intCall(func(n int) m.Call {
			return m.Call{Op: m.OpScheduleKeyDeletion, KeyID: m.SubjectKeyID, PendingWindowDays: &n}
		})},
}

func storeID(n int) string {
	if n < 4 {
		return rep("c", n)
	}
	return "cks-" + rep("f", n-4)
}

// Cells returns one model cell per boundary value of every constraint, and
// the wrong-type and unknown-id checks.
func Cells() []m.Cell {
	var cs []m.Cell
	for _, b := range bounds {
		lo := b.min
		if b.minOK > lo {
			lo = b.minOK
		}
		type value struct{ label, v string }
		vals := []value{{fmt.Sprintf("%d", b.min-1), b.gen(b.min - 1)}, {fmt.Sprintf("%d", lo), b.gen(lo)},
			{fmt.Sprintf("%d", b.max), b.gen(b.max)}, {fmt.Sprintf("%d", b.max+1), b.gen(b.max + 1)}}
		if b.bad != "" {
			vals = append(vals, value{"pattern", b.bad})
		}
		key := m.KeyState("")
		if b.op == "ScheduleKeyDeletion" {
			key = m.KeyEnabled
		}
		route := m.Route(b.typ, b.col, key)
		seen := map[string]bool{}
		for _, v := range vals {
			if seen[v.label] {
				continue
			}
			seen[v.label] = true
			id := fmt.Sprintf("validation/%s/%s/%s", b.op, b.param, v.label)
			c, err := m.BuildCell(id, b.typ, b.col, "validation:"+b.param+"="+v.label, route, b.call(v.v))
			if err != nil {
				panic(err)
			}
			cs = append(cs, c)
		}
	}
	// A member the service requires and the Go SDK sends without (it checks
	// only the members its model marks required).
	missing, err := m.BuildCell("validation/GenerateRandom/NumberOfBytes/missing", m.CloudHSM, m.NoSuchStore, "validation:NumberOfBytes=missing", nil,
		m.Call{Op: m.OpGenerateRandom})
	if err != nil {
		panic(err)
	}
	cs = append(cs, missing)
	// Parameters of the other store type (undocumented: informational).
	for _, wt := range []struct {
		name string
		typ  m.StoreType
		call m.Call
	}{
		{"CreateCustomKeyStore/CloudHSM-with-XKS-parameters", m.CloudHSM, func() m.Call {
			in := m.CreateCloudHSMInput("kmsconform-fresh", m.ClusterA, m.TrustAnchorA, m.KmsuserPassword)
			in.Endpoint = m.Ptr(m.EndpointA)
			return m.Call{Op: m.OpCreateCustomKeyStore, Create: in}
		}()},
		{"UpdateCustomKeyStore/XKS-credential-on-CloudHSM", m.CloudHSM,
			m.Call{Op: m.OpUpdateCustomKeyStore, StoreID: sid, Update: &m.UpdateStoreInput{Credential: &m.CredentialA}}},
		{"CreateKey/wrong-origin", m.CloudHSM,
			m.Call{Op: m.OpCreateKey, StoreID: sid, CreateKey: &m.CreateKeyInput{Origin: m.Ptr(string(m.OriginExternalKeyStore)), XksKeyID: m.Ptr(m.XksKey1)}}},
	} {
		col := m.Column(m.Disconnected)
		if wt.call.Op == m.OpCreateKey {
			col = m.Column(m.Connected)
		}
		route := m.Route(wt.typ, col, "")
		if wt.call.Op == m.OpCreateCustomKeyStore {
			col, route = m.NoSuchStore, nil
		}
		c, err := m.BuildCell("validation/wrong-type/"+wt.name, wt.typ, col, "validation:wrong-type", route, wt.call)
		if err != nil {
			panic(err)
		}
		cs = append(cs, c)
	}
	return cs
}

var cells = Cells()

func init() { harness.ExpectCells(append(harness.ExpectedCells(), cells...)) }

var _ = Describe("validation", func() {
	for _, c := range cells {
		It(c.ID, harness.CellLabels(c, true),
			func(ctx SpecContext) { harness.CellSpec(ctx, c) })
	}
})
