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
	// outside checks only the values outside the range: a value inside
	// has an answer the model does not decide (a Marker the target never
	// gave is InvalidMarkerException, or not).
	outside bool
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

// vpcServiceName makes a VPC endpoint service name of n characters in a
// region: short ones (too short to hold the prefix) are filler, the rest
// the prefix padded with digit.
func vpcServiceName(region, filler, digit string) func(int) string {
	head := "com.amazonaws.vpce." + region + ".vpce-svc-"
	return func(n int) string {
		if n < len(head)+1 {
			return rep(filler, n)
		}
		return head + rep(digit, n-len(head))
	}
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
		gen: vpcServiceName("us-east-1", "v", "0"),
		bad: "org.amazonaws.vpce.us-east-1.vpce-svc-0", col: m.NoSuchStore,
		call: createVPC(func(in *m.CreateStoreInput, v string) { in.VpcService = &v })},
	{op: "CreateCustomKeyStore", param: "XksProxyVpcEndpointServiceOwner", typ: m.External, min: 12, max: 12,
		gen: func(n int) string { return rep("1", n) }, bad: "12345678901a", col: m.NoSuchStore,
		call: createVPC(func(in *m.CreateStoreInput, v string) { in.VpcOwner = &v })},
	{op: "ConnectCustomKeyStore", param: "CustomKeyStoreId", typ: m.CloudHSM, min: 1, max: 64, gen: storeID, col: m.NoSuchStore,
		call: func(v string) m.Call { return m.Call{Op: m.OpConnectCustomKeyStore, StoreID: &v} }},
	{op: "DisconnectCustomKeyStore", param: "CustomKeyStoreId", typ: m.CloudHSM, min: 1, max: 64, gen: storeID, col: m.NoSuchStore,
		call: func(v string) m.Call { return m.Call{Op: m.OpDisconnectCustomKeyStore, StoreID: &v} }},
	{op: "UpdateCustomKeyStore", param: "CustomKeyStoreId", typ: m.CloudHSM, min: 1, max: 64, gen: storeID, col: m.NoSuchStore,
		call: func(v string) m.Call {
			return m.Call{Op: m.OpUpdateCustomKeyStore, StoreID: &v, Update: &m.UpdateStoreInput{NewName: m.Ptr("kmsconform-renamed")}}
		}},
	{op: "DescribeCustomKeyStores", param: "CustomKeyStoreId", typ: m.CloudHSM, min: 1, max: 64, gen: storeID, col: m.NoSuchStore,
		call: func(v string) m.Call { return m.Call{Op: m.OpDescribeCustomKeyStores, StoreID: &v} }},
	{op: "CreateKey", param: "CustomKeyStoreId", typ: m.CloudHSM, min: 1, max: 64, gen: storeID, col: m.NoSuchStore,
		call: func(v string) m.Call {
			return m.Call{Op: m.OpCreateKey, StoreID: &v, CreateKey: m.CreateKeyFor(m.CloudHSM, "")}
		}},
	{op: "GenerateRandom", param: "CustomKeyStoreId", typ: m.CloudHSM, min: 1, max: 64, gen: storeID, col: m.NoSuchStore,
		call: func(v string) m.Call { return m.Call{Op: m.OpGenerateRandom, StoreID: &v, NumberOfBytes: m.Ptr(32)} }},
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
		bad: "/kms/xks/v1/", col: m.Column(m.Disconnected), call: update(func(u *m.UpdateStoreInput, v string) { u.Path = &v })},
	{op: "UpdateCustomKeyStore", param: "CloudHsmClusterId", typ: m.CloudHSM, min: 19, max: 24, gen: func(n int) string { return "cluster-" + rep("y", n-8) },
		bad: "cluster-1111111111111", col: m.Column(m.Disconnected), call: update(func(u *m.UpdateStoreInput, v string) { u.ClusterID = &v })},
	{op: "UpdateCustomKeyStore", param: "XksProxyUriEndpoint", typ: m.External, min: 10, max: 128, gen: func(n int) string { return "https://" + rep("u", n-8) },
		bad: "https://xks.example/path", col: m.Column(m.Disconnected), call: update(func(u *m.UpdateStoreInput, v string) { u.Endpoint = &v })},
	{op: "UpdateCustomKeyStore", param: "XksProxyAuthenticationCredential.AccessKeyId", typ: m.External, min: 20, max: 30,
		gen: func(n int) string { return rep("B", n) }, bad: rep("B", 19) + "1", col: m.Column(m.Disconnected),
		call: update(func(u *m.UpdateStoreInput, v string) {
			u.Credential = &m.Credential{AccessKeyID: v, Secret: m.CredentialA.Secret}
		})},
	{op: "UpdateCustomKeyStore", param: "XksProxyAuthenticationCredential.RawSecretAccessKey", typ: m.External, min: 43, max: 64,
		gen: func(n int) string { return rep("t", n) }, bad: rep("t", 42) + "-", col: m.Column(m.Disconnected),
		call: update(func(u *m.UpdateStoreInput, v string) {
			u.Credential = &m.Credential{AccessKeyID: m.CredentialA.AccessKeyID, Secret: v}
		})},
	{op: "UpdateCustomKeyStore", param: "XksProxyVpcEndpointServiceName", typ: m.External, min: 20, max: 64, minOK: 39,
		gen: vpcServiceName("us-west-2", "w", "1"),
		bad: "com.amazonaws.vpce.us-west-2.vpce-svc-X", col: m.Column(m.Disconnected),
		call: update(func(u *m.UpdateStoreInput, v string) {
			u.Connectivity, u.VpcService = m.Ptr(string(m.VpcEndpointService)), &v
		})},
	{op: "UpdateCustomKeyStore", param: "XksProxyVpcEndpointServiceOwner", typ: m.External, min: 12, max: 12,
		gen: func(n int) string { return rep("2", n) }, bad: "2222222222 2", col: m.Column(m.Disconnected),
		call: update(func(u *m.UpdateStoreInput, v string) {
			u.Connectivity, u.VpcService, u.VpcOwner = m.Ptr(string(m.VpcEndpointService)), m.Ptr(m.VpcServiceA), &v
		})},
	{op: "DescribeCustomKeyStores", param: "CustomKeyStoreName", typ: m.CloudHSM, min: 1, max: 256, gen: func(n int) string { return rep("d", n) },
		col: m.NoSuchStore, call: func(v string) m.Call { return m.Call{Op: m.OpDescribeCustomKeyStores, StoreName: &v} }},
	{op: "DescribeCustomKeyStores", param: "Limit", typ: m.CloudHSM, min: 1, max: 1000, gen: itoa, col: m.NoSuchStore,
		call: intCall(func(n int) m.Call { return m.Call{Op: m.OpDescribeCustomKeyStores, Limit: &n} })},
	{op: "DescribeCustomKeyStores", param: "Marker", typ: m.CloudHSM, min: 1, max: 1024, gen: func(n int) string { return rep("m", n) },
		bad: "kmsconform-marker-\u0100", outside: true, col: m.NoSuchStore,
		call: func(v string) m.Call { return m.Call{Op: m.OpDescribeCustomKeyStores, Marker: &v} }},
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
	{op: "Encrypt", param: "Plaintext", typ: m.External, min: 1, max: 4096, gen: itoa, col: m.Column(m.Connected),
		call: intCall(func(n int) m.Call {
			return m.Call{Op: m.OpEncrypt, KeyID: m.SubjectKeyID, PlaintextBytes: &n}
		})},
}

// update is an UpdateCustomKeyStore of the subject store.
func update(mod func(*m.UpdateStoreInput, string)) func(string) m.Call {
	return func(v string) m.Call {
		u := &m.UpdateStoreInput{}
		mod(u, v)
		return m.Call{Op: m.OpUpdateCustomKeyStore, StoreID: sid, Update: u}
	}
}

// madeUpStore is a store id no target holds: a call that breaks a
// constraint is answered ValidationException before the id is looked up
// (spec §3.3), so the cells below need no store and run on every target.
var madeUpStore = m.Ptr("cks-" + rep("0", 17))

// madeUpCredential is no fixture: sent with a missing member, it names no
// backing the run must have.
var madeUpCredential = m.Credential{AccessKeyID: rep("C", 20), Secret: rep("c", 43)}

// choice is one enumeration with a value outside it, or one required
// member left out.
type choice struct {
	op, param, label string
	typ              m.StoreType // the store type the member belongs to
	call             m.Call
}

var choices = []choice{
	{"CreateCustomKeyStore", "CustomKeyStoreType", "enum", m.CloudHSM, m.Call{Op: m.OpCreateCustomKeyStore,
		Create: &m.CreateStoreInput{Name: "kmsconform-fresh", Type: m.Ptr("CLOUDHSM")}}},
	{"CreateCustomKeyStore", "XksProxyConnectivity", "enum", m.External, m.Call{Op: m.OpCreateCustomKeyStore,
		Create: &m.CreateStoreInput{Name: "kmsconform-fresh", Type: m.Ptr(string(m.External)), Connectivity: m.Ptr("PRIVATE_ENDPOINT")}}},
	{"UpdateCustomKeyStore", "XksProxyConnectivity", "enum", m.External, m.Call{Op: m.OpUpdateCustomKeyStore, StoreID: madeUpStore,
		Update: &m.UpdateStoreInput{Connectivity: m.Ptr("VPC_ENDPOINT")}}},
	{"CreateKey", "Origin", "enum", m.CloudHSM, m.Call{Op: m.OpCreateKey, CreateKey: &m.CreateKeyInput{Origin: m.Ptr("CLOUDHSM")}}},

	{"CreateCustomKeyStore", "CustomKeyStoreName", "missing", m.CloudHSM, m.Call{Op: m.OpCreateCustomKeyStore, Omit: m.OmitName,
		Create: &m.CreateStoreInput{Name: "kmsconform-fresh"}}},
	{"CreateCustomKeyStore", "XksProxyAuthenticationCredential.AccessKeyId", "missing", m.External, m.Call{Op: m.OpCreateCustomKeyStore, Omit: m.OmitAccessKeyID,
		Create: &m.CreateStoreInput{Name: "kmsconform-fresh", Type: m.Ptr(string(m.External)), Credential: &madeUpCredential}}},
	{"CreateCustomKeyStore", "XksProxyAuthenticationCredential.RawSecretAccessKey", "missing", m.External, m.Call{Op: m.OpCreateCustomKeyStore, Omit: m.OmitSecret,
		Create: &m.CreateStoreInput{Name: "kmsconform-fresh", Type: m.Ptr(string(m.External)), Credential: &madeUpCredential}}},
	{"UpdateCustomKeyStore", "XksProxyAuthenticationCredential.AccessKeyId", "missing", m.External, m.Call{Op: m.OpUpdateCustomKeyStore, Omit: m.OmitAccessKeyID,
		StoreID: madeUpStore, Update: &m.UpdateStoreInput{Credential: &madeUpCredential}}},
	{"UpdateCustomKeyStore", "XksProxyAuthenticationCredential.RawSecretAccessKey", "missing", m.External, m.Call{Op: m.OpUpdateCustomKeyStore, Omit: m.OmitSecret,
		StoreID: madeUpStore, Update: &m.UpdateStoreInput{Credential: &madeUpCredential}}},
	{"ConnectCustomKeyStore", "CustomKeyStoreId", "missing", m.CloudHSM, m.Call{Op: m.OpConnectCustomKeyStore}},
	{"DisconnectCustomKeyStore", "CustomKeyStoreId", "missing", m.CloudHSM, m.Call{Op: m.OpDisconnectCustomKeyStore}},
	{"UpdateCustomKeyStore", "CustomKeyStoreId", "missing", m.CloudHSM, m.Call{Op: m.OpUpdateCustomKeyStore,
		Update: &m.UpdateStoreInput{NewName: m.Ptr("kmsconform-renamed")}}},
	{"DeleteCustomKeyStore", "CustomKeyStoreId", "missing", m.CloudHSM, m.Call{Op: m.OpDeleteCustomKeyStore}},
	// A member the service requires and the Go SDK sends without (it checks
	// only the members its model marks required).
	{"GenerateRandom", "NumberOfBytes", "missing", m.CloudHSM, m.Call{Op: m.OpGenerateRandom}},
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
		if b.outside {
			vals = []value{vals[0], vals[3]}
		}
		if b.bad != "" {
			vals = append(vals, value{"pattern", b.bad})
		}
		key := m.KeyState("")
		if b.op == "ScheduleKeyDeletion" || b.op == "Encrypt" {
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
	// An invalid enumeration value, a required member left out.
	for _, ch := range choices {
		c, err := m.BuildCell(fmt.Sprintf("validation/%s/%s/%s", ch.op, ch.param, ch.label), ch.typ, m.NoSuchStore,
			"validation:"+ch.param+"="+ch.label, nil, ch.call)
		if err != nil {
			panic(err)
		}
		cs = append(cs, c)
	}
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
