package model

import (
	"strings"
	"testing"
)

// must runs calls that the model must accept one by one.
func must(t *testing.T, w World, calls ...Call) World {
	t.Helper()
	w, err := Run(w, calls)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// answers returns the Short names of an outcome set, in order.
func answers(outs []Outcome) string { return Summary(outs) }

func wantAnswers(t *testing.T, outs []Outcome, want string) {
	t.Helper()
	if got := answers(outs); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func storeState(t *testing.T, w World, id string) (ConnectionState, ConnectionErrorCode) {
	t.Helper()
	s, found := w.Store(id)
	if !found {
		t.Fatalf("store %s not found", id)
	}
	return s.State, s.ErrorCode
}

var sid = Ptr(SubjectStoreID)

// leaveFailed disconnects a FAILED subject store and lets it settle.
func leaveFailed(t *testing.T, w World) World {
	t.Helper()
	outs := Step(w, Call{Op: OpDisconnectCustomKeyStore, StoreID: sid})
	wantAnswers(t, outs, "200")
	for _, n := range outs[0].Worlds {
		if st, _ := storeState(t, n, SubjectStoreID); st == Disconnected {
			return n
		}
	}
	t.Fatal("Disconnect of a FAILED store cannot end DISCONNECTED")
	return w
}

func connectCalls() []Call {
	return []Call{{Op: OpConnectCustomKeyStore, StoreID: sid}, {Op: OpSettle, StoreID: sid}}
}

func disconnectCalls() []Call {
	return []Call{{Op: OpDisconnectCustomKeyStore, StoreID: sid}, {Op: OpSettle, StoreID: sid}}
}

func TestCloudHSMIdempotentCreate(t *testing.T) {
	create := subjectCreate(CloudHSM, KmsuserPassword)
	w := must(t, NewWorld(), create)
	outs := Step(w, create)
	wantAnswers(t, outs, "200")
	if outs[0].StoreID != SubjectStoreID || len(outs[0].Worlds[0].Stores) != 1 {
		t.Fatalf("re-create returned %q with %d stores; want the existing id and no new store", outs[0].StoreID, len(outs[0].Worlds[0].Stores))
	}
	// Any property that differs makes it a collision (name, cluster in use).
	other := create
	other.Create = CreateCloudHSMInput(SubjectStoreName, ClusterA, TrustAnchorA, "anotherPass7")
	wantAnswers(t, Step(w, other), "CustomKeyStoreNameInUse | CloudHsmClusterInUse")
	// Only a DISCONNECTED store makes it idempotent, even when all else matches
	// (the stored password is unchanged while CONNECTING).
	w = must(t, w, Call{Op: OpConnectCustomKeyStore, StoreID: sid})
	wantAnswers(t, Step(w, create), "CustomKeyStoreNameInUse | CloudHsmClusterInUse")
}

func TestConnectFastFailStaysDisconnected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(*Cluster)
		want   string
	}{
		{"not initialized", func(c *Cluster) { c.Initialized = false }, "CloudHsmClusterNotActive"},
		{"network misconfigured", func(c *Cluster) { c.NetworkOK = false }, "CloudHsmClusterInvalidConfiguration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := must(t, NewWorld(), subjectCreate(CloudHSM, KmsuserPassword))
			cl, _ := w.Cluster(ClusterA)
			tc.break_(&cl)
			w = must(t, w, Call{Op: OpSetCluster, Cluster: &cl})
			outs := Step(w, Call{Op: OpConnectCustomKeyStore, StoreID: sid})
			wantAnswers(t, outs, tc.want)
			if st, _ := storeState(t, outs[0].Worlds[0], SubjectStoreID); st != Disconnected {
				t.Fatalf("store is %s after a fast failure, want DISCONNECTED", st)
			}
		})
	}
	// C-11: no active HSM may fail fast or fail later.
	w := must(t, NewWorld(), subjectCreate(CloudHSM, KmsuserPassword))
	cl, _ := w.Cluster(ClusterA)
	cl.ActiveHSMs = 0
	w = must(t, w, Call{Op: OpSetCluster, Cluster: &cl})
	outs := Step(w, Call{Op: OpConnectCustomKeyStore, StoreID: sid})
	wantAnswers(t, outs, "CloudHsmClusterInvalidConfiguration | 200")
	settled := Step(outs[1].Worlds[0], Call{Op: OpSettle, StoreID: sid})
	if st, code := storeState(t, settled[0].Worlds[0], SubjectStoreID); st != Failed || code != ErrCodeInsufficientCloudHsmHsms {
		t.Fatalf("settled to %s %s, want FAILED INSUFFICIENT_CLOUDHSM_HSMS", st, code)
	}
}

// TestFailedRecovery walks the documented recovery: FAILED is left only by
// Disconnect, which clears the code; fix the cause; connect again (spec §4.1).
func TestFailedRecovery(t *testing.T) {
	w := must(t, NewWorld(), subjectCreate(CloudHSM, WrongKmsuserPassword))
	w = must(t, w, connectCalls()...)
	if st, code := storeState(t, w, SubjectStoreID); st != Failed || code != ErrCodeInvalidCredentials {
		t.Fatalf("got %s %s, want FAILED INVALID_CREDENTIALS", st, code)
	}
	for _, c := range []Call{
		{Op: OpConnectCustomKeyStore, StoreID: sid},
		{Op: OpUpdateCustomKeyStore, StoreID: sid, Update: &UpdateStoreInput{Password: Ptr(KmsuserPassword)}},
		{Op: OpUpdateCustomKeyStore, StoreID: sid, Update: &UpdateStoreInput{NewName: Ptr("renamed")}},
		{Op: OpDeleteCustomKeyStore, StoreID: sid},
		{Op: OpCreateKey, StoreID: sid, CreateKey: CreateKeyFor(CloudHSM, "")},
	} {
		wantAnswers(t, Step(w, c), "ICS")
	}
	outs := Step(w, Call{Op: OpDisconnectCustomKeyStore, StoreID: sid})
	wantAnswers(t, outs, "200")
	for _, n := range outs[0].Worlds {
		if _, code := storeState(t, n, SubjectStoreID); code != "" {
			t.Fatalf("Disconnect kept ConnectionErrorCode %s", code)
		}
	}
	w = leaveFailed(t, w)
	w = must(t, w, Call{Op: OpUpdateCustomKeyStore, StoreID: sid, Update: &UpdateStoreInput{Password: Ptr(KmsuserPassword)}})
	w = must(t, w, connectCalls()...)
	if st, _ := storeState(t, w, SubjectStoreID); st != Connected {
		t.Fatalf("after the fix, connect ends %s", st)
	}
	// KMS rotated the kmsuser password: the user's old one no longer matches.
	cl, _ := w.Cluster(ClusterA)
	if cl.Password == KmsuserPassword {
		t.Fatal("connect did not rotate the kmsuser password")
	}
}

// TestKeysFollowTheStore: keys are Unavailable while the store is not
// CONNECTED (unless PendingDeletion), changes made meanwhile are deferred, and
// reconnecting restores each key's own state (spec §2.10, §5).
func TestKeysFollowTheStore(t *testing.T) {
	for _, typ := range StoreTypes {
		t.Run(typ.Short(), func(t *testing.T) {
			w := must(t, NewWorld(), subjectCreate(typ, KmsuserPassword))
			w = must(t, w, connectCalls()...)
			w = must(t, w, Call{Op: OpCreateKey, StoreID: sid, CreateKey: CreateKeyFor(typ, XksKey1)},
				Call{Op: OpCreateKey, StoreID: sid, CreateKey: CreateKeyFor(typ, XksKey2)})
			a, b := KeyIDFor(0), KeyIDFor(1)
			w = must(t, w, Call{Op: OpDisableKey, KeyID: a}, Call{Op: OpScheduleKeyDeletion, KeyID: b, PendingWindowDays: Ptr(7)})
			w = must(t, w, disconnectCalls()...)
			shows := func(w World, id string) KeyState { k, _ := w.Key(id); return w.ShownKeyState(k) }
			if shows(w, a) != KeyUnavailable || shows(w, b) != KeyPendingDeletion {
				t.Fatalf("disconnected: keys show %s and %s, want Unavailable and PendingDeletion", shows(w, a), shows(w, b))
			}
			wantAnswers(t, Step(w, Call{Op: OpEncrypt, KeyID: a}), "KMSInvalidState")
			// Enable while Unavailable: accepted, shown only after reconnecting.
			w = must(t, w, Call{Op: OpEnableKey, KeyID: a}, Call{Op: OpCancelKeyDeletion, KeyID: b})
			if shows(w, a) != KeyUnavailable || shows(w, b) != KeyUnavailable {
				t.Fatalf("still disconnected: keys show %s and %s, want Unavailable", shows(w, a), shows(w, b))
			}
			w = must(t, w, connectCalls()...)
			if shows(w, a) != KeyEnabled || shows(w, b) != KeyDisabled {
				t.Fatalf("reconnected: keys show %s and %s, want Enabled and Disabled", shows(w, a), shows(w, b))
			}
			wantAnswers(t, Step(w, Call{Op: OpEncrypt, KeyID: a}), "200")
			wantAnswers(t, Step(w, Call{Op: OpEncrypt, KeyID: b}), "Disabled")
		})
	}
}

// TestDeleteNeedsNoKeys: a store is deleted only when DISCONNECTED and empty;
// a PendingDeletion key still counts until its waiting period ends (spec §2.5).
func TestDeleteNeedsNoKeys(t *testing.T) {
	w := must(t, NewWorld(), subjectCreate(External, ""))
	w = must(t, w, connectCalls()...)
	w = must(t, w, Call{Op: OpCreateKey, StoreID: sid, CreateKey: CreateKeyFor(External, XksKey1)},
		Call{Op: OpScheduleKeyDeletion, KeyID: SubjectKeyID})
	w = must(t, w, disconnectCalls()...)
	del := Call{Op: OpDeleteCustomKeyStore, StoreID: sid}
	wantAnswers(t, Step(w, del), "CustomKeyStoreHasCMKs")
	w = must(t, w, Call{Op: OpExpireKeyDeletion, KeyID: SubjectKeyID})
	outs := Step(w, del)
	wantAnswers(t, outs, "200")
	if _, found := outs[0].Worlds[0].Store(SubjectStoreID); found {
		t.Fatal("the store survived its deletion")
	}
	if _, found := outs[0].Worlds[0].Proxy(EndpointA); !found {
		t.Fatal("deleting the store removed its proxy")
	}
}

func TestQuota(t *testing.T) {
	w := NewWorld()
	for i := 0; i < StoreQuota; i++ {
		p := HealthyProxy(fillerEndpoint(i))
		w = must(t, w, Call{Op: OpSetProxy, Proxy: &p},
			Call{Op: OpCreateCustomKeyStore, Create: CreateXksInput(fillerEndpoint(i)[8:], fillerEndpoint(i), PathV1, CredentialA)})
	}
	for _, typ := range StoreTypes {
		wantAnswers(t, Step(w, freshCreate(typ, "eleventh")), "LimitExceeded")
	}
	// Both store types and every state count: delete one and there is room.
	w = must(t, w, Call{Op: OpDeleteCustomKeyStore, StoreID: Ptr(StoreIDFor(3))})
	wantAnswers(t, Step(w, freshCreate(CloudHSM, "eleventh")), "200")
}

// TestEveryConnectionErrorCode reaches each of the eighteen codes from a
// backing fault, and checks it applies to the store type (spec §4.2, §7.4).
func TestEveryConnectionErrorCode(t *testing.T) {
	hsm := func(f func(*Cluster)) func(World) World {
		return func(w World) World {
			cl, _ := w.Cluster(ClusterA)
			f(&cl)
			return must(t, w, Call{Op: OpSetCluster, Cluster: &cl})
		}
	}
	proxy := func(f ProxyFault) func(World) World {
		return func(w World) World {
			p := HealthyProxy(EndpointA)
			p.Fault = f
			return must(t, w, Call{Op: OpSetProxy, Proxy: &p})
		}
	}
	cases := []struct {
		typ   StoreType
		vpc   bool
		fault func(World) World
		want  []ConnectionErrorCode
	}{
		{CloudHSM, false, func(w World) World { return must(t, w, Call{Op: OpDeleteCluster, ClusterID: ClusterA}) }, []ConnectionErrorCode{ErrCodeClusterNotFound}},
		{CloudHSM, false, hsm(func(c *Cluster) { c.Password = "changedByUser1" }), []ConnectionErrorCode{ErrCodeInvalidCredentials}},
		{CloudHSM, false, hsm(func(c *Cluster) { c.Kmsuser = KmsuserLockedOut }), []ConnectionErrorCode{ErrCodeUserLockedOut}},
		{CloudHSM, false, hsm(func(c *Cluster) { c.Kmsuser = KmsuserLoggedIn }), []ConnectionErrorCode{ErrCodeUserLoggedIn}},
		{CloudHSM, false, hsm(func(c *Cluster) { c.Kmsuser = KmsuserMissing }), []ConnectionErrorCode{ErrCodeUserNotFound}},
		{CloudHSM, false, hsm(func(c *Cluster) { c.Fault = ClusterNoFreeAddresses }), []ConnectionErrorCode{ErrCodeInsufficientFreeAddresses}},
		{CloudHSM, false, hsm(func(c *Cluster) { c.Fault = ClusterSubnetDeleted }), []ConnectionErrorCode{ErrCodeSubnetNotFound}},
		{CloudHSM, false, hsm(func(c *Cluster) { c.Fault = ClusterNetworkError }), []ConnectionErrorCode{ErrCodeNetworkErrors}},
		{CloudHSM, false, hsm(func(c *Cluster) { c.Fault = ClusterInternalError }), []ConnectionErrorCode{ErrCodeInternalError}},
		{External, false, proxy(ProxyUnreachable), []ConnectionErrorCode{ErrCodeXksProxyNotReachable}},
		{External, false, func(w World) World { return must(t, w, Call{Op: OpDeleteProxy, Endpoint: EndpointA}) }, []ConnectionErrorCode{ErrCodeXksProxyNotReachable}},
		{External, false, proxy(ProxyEKMUnavailable), []ConnectionErrorCode{ErrCodeXksProxyNotReachable}},
		{External, false, proxy(ProxySlow), []ConnectionErrorCode{ErrCodeXksProxyTimedOut}},
		{External, false, proxy(ProxyTLSInvalid), []ConnectionErrorCode{ErrCodeXksProxyInvalidTLS}},
		{External, false, proxy(ProxyMalformed), []ConnectionErrorCode{ErrCodeXksProxyInvalidResponse}},
		{External, false, proxy(ProxyNetworkError), []ConnectionErrorCode{ErrCodeNetworkErrors}},
		{External, false, proxy(ProxyKMSInternalError), []ConnectionErrorCode{ErrCodeInternalError}},
		{External, false, proxy(ProxyDenyAll), []ConnectionErrorCode{ErrCodeXksProxyAccessDenied}},
		{External, false, func(w World) World { return must(t, w, proxyAccepting(CredentialB)) }, []ConnectionErrorCode{ErrCodeInvalidCredentials}},
		{External, false, func(w World) World {
			p := HealthyProxy(EndpointA)
			p.Path = PathAlt
			return must(t, w, Call{Op: OpSetProxy, Proxy: &p})
		}, []ConnectionErrorCode{ErrCodeXksProxyInvalidConfiguration}},
		{External, false, proxy(ProxyInternal), []ConnectionErrorCode{ErrCodeXksProxyNotReachable, ErrCodeXksProxyTimedOut, ErrCodeXksProxyInvalidResponse, ErrCodeInternalError}},
		{External, true, func(w World) World { return must(t, w, Call{Op: OpDeleteVpcService, VpcServiceName: VpcServiceA}) }, []ConnectionErrorCode{ErrCodeXksVpcEndpointServiceNotFound}},
		{External, true, func(w World) World {
			return must(t, w, Call{Op: OpSetVpcService, VpcServiceSpec: &VpcService{Name: VpcServiceA, Status: VpcServiceInvalidConfig}})
		}, []ConnectionErrorCode{ErrCodeXksVpcServiceInvalidConfig}},
		{CloudHSM, false, func(w World) World {
			w = hsm(func(c *Cluster) { c.ActiveHSMs = 0 })(w)
			return w
		}, []ConnectionErrorCode{ErrCodeInsufficientCloudHsmHsms}},
	}
	reached := map[ConnectionErrorCode]bool{}
	for _, tc := range cases {
		create := subjectCreate(tc.typ, KmsuserPassword)
		if tc.vpc {
			create.Create = &CreateStoreInput{Name: SubjectStoreName, Type: Ptr(string(External)), Connectivity: Ptr(string(VpcEndpointService)),
				Endpoint: Ptr(EndpointA), Path: Ptr(PathV1), Credential: &CredentialA, VpcService: Ptr(VpcServiceA)}
		}
		w := tc.fault(must(t, NewWorld(), create))
		outs := Step(w, Call{Op: OpConnectCustomKeyStore, StoreID: sid})
		var started World
		for _, o := range outs {
			if o.Error == Success {
				started = o.Worlds[0]
			}
		}
		settled := Step(started, Call{Op: OpSettle, StoreID: sid})
		var got []string
		for _, n := range settled[0].Worlds {
			st, code := storeState(t, n, SubjectStoreID)
			if st != Failed {
				t.Errorf("%v: settled to %s, want FAILED", tc.want, st)
				continue
			}
			s, _ := n.Store(SubjectStoreID)
			if !code.AppliesTo(s.Type, s.Connectivity) {
				t.Errorf("code %s does not apply to %s %s", code, s.Type, s.Connectivity)
			}
			got = append(got, string(code))
			reached[code] = true
		}
		var want []string
		for _, c := range tc.want {
			want = append(want, string(c))
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("connect settled to %v, want %v", got, want)
		}
	}
	for code := range ConnectionErrorCodes {
		if !reached[code] {
			t.Errorf("no backing fault leads to %s", code)
		}
	}
}

// TestKmsuserLockout: each failed login counts; the fifth locks kmsuser out.
func TestKmsuserLockout(t *testing.T) {
	w := must(t, NewWorld(), subjectCreate(CloudHSM, WrongKmsuserPassword))
	for i := 1; i <= 4; i++ {
		w = must(t, w, connectCalls()...)
		w = leaveFailed(t, w)
	}
	w = must(t, w, Call{Op: OpConnectCustomKeyStore, StoreID: sid})
	settled := Step(w, Call{Op: OpSettle, StoreID: sid})
	var codes []string
	for _, n := range settled[0].Worlds {
		_, code := storeState(t, n, SubjectStoreID)
		codes = append(codes, string(code))
		if cl, _ := n.Cluster(ClusterA); cl.Kmsuser != KmsuserLockedOut {
			t.Errorf("after 5 failed logins kmsuser is %s", cl.Kmsuser)
		}
	}
	if strings.Join(codes, ",") != "INVALID_CREDENTIALS,USER_LOCKED_OUT" {
		t.Errorf("the fifth failed connect settles to %v", codes)
	}
}

// TestXksHealthCheckAtCreate maps each proxy condition to the exception a
// public-endpoint create gets (spec §2.1, §7.4).
func TestXksHealthCheckAtCreate(t *testing.T) {
	for _, tc := range []struct {
		fault ProxyFault
		want  string
	}{
		{ProxyHealthy, "200"},
		{ProxyEKMDegraded, "200"},
		{ProxyBadHealthAnswer, "XksProxyInvalidResponse"},
		{ProxyUnreachable, "XksProxyUriUnreachable"},
		{ProxySlow, "XksProxyUriUnreachable"},
		{ProxyTLSInvalid, "XksProxyUriUnreachable | XksProxyInvalidConfiguration"}, // C: the XKS spec against the Developer Guide
		{ProxyThrottling, "XksProxyUriUnreachable"},
		{ProxyDepTimeout, "XksProxyUriUnreachable"},
		{ProxyEKMUnavailable, "XksProxyUriUnreachable"},
		{ProxyMalformed, "XksProxyInvalidResponse"},
		{ProxyInternal, "XksProxyInvalidResponse"},
		{ProxyNetworkError, "XksProxyUriUnreachable"},
		{ProxyKMSInternalError, "KMSInternal"},
	} {
		p := HealthyProxy(EndpointA)
		p.Fault = tc.fault
		w := must(t, NewWorld(), Call{Op: OpSetProxy, Proxy: &p})
		if got := answers(Step(w, subjectCreate(External, ""))); got != tc.want {
			t.Errorf("proxy %q: create gets %s, want %s", tc.fault, got, tc.want)
		}
	}
	w := NewWorld()
	bad := subjectCreate(External, "")
	bad.Create.Credential = &CredentialB
	wantAnswers(t, Step(w, bad), "XksProxyIncorrectAuthenticationCredential")
	bad = subjectCreate(External, "")
	bad.Create.Path = Ptr(PathAlt)
	wantAnswers(t, Step(w, bad), "XksProxyInvalidConfiguration")
	// A VPC store is not health-checked at create.
	vpc := &CreateStoreInput{Name: "vpc", Type: Ptr(string(External)), Connectivity: Ptr(string(VpcEndpointService)),
		Endpoint: Ptr("https://nothing-listens.example"), Path: Ptr(PathV1), Credential: &CredentialB, VpcService: Ptr(VpcServiceA)}
	wantAnswers(t, Step(w, Call{Op: OpCreateCustomKeyStore, Create: vpc}), "200")
}

// TestXksCreateKey maps GetKeyMetadata answers to CreateKey exceptions (spec §2.7).
func TestXksCreateKey(t *testing.T) {
	base := must(t, NewWorld(), subjectCreate(External, ""))
	base = must(t, base, connectCalls()...)
	withKey := func(status ExternalKeyStatus) World {
		p := HealthyProxy(EndpointA)
		p.Keys = []ExternalKey{{ID: XksKey1, Status: status}}
		return must(t, base, Call{Op: OpSetProxy, Proxy: &p})
	}
	ck := Call{Op: OpCreateKey, StoreID: sid, CreateKey: CreateKeyFor(External, XksKey1)}
	wantAnswers(t, Step(withKey(ExtKeyOK), ck), "200")
	wantAnswers(t, Step(withKey(ExtKeyTenUsages), ck), "200")
	for _, st := range []ExternalKeyStatus{ExtKeyDisabled, ExtKeyWrongSpec, ExtKeyWrongUsage, ExtKeyEncryptOnly, ExtKeyDecryptOnly} {
		wantAnswers(t, Step(withKey(st), ck), "XksKeyInvalidConfiguration")
	}
	// A GetKeyMetadata answer of the wrong shape is an invalid response.
	wantAnswers(t, Step(withKey(ExtKeyBadMetadataAnswer), ck), "ICS")
	// Once the key exists, each operation needs its own proxy API.
	made := must(t, withKey(ExtKeyOK), ck)
	for st, want := range map[ExternalKeyStatus][4]string{
		//                       Encrypt, GenerateDataKey, Decrypt, ReEncrypt
		ExtKeyEncryptOnly:       {"200", "200", "KMSInvalidState", "KMSInvalidState"},
		ExtKeyDecryptOnly:       {"KMSInvalidState", "KMSInvalidState", "200", "KMSInvalidState"},
		ExtKeyBadEncryptAnswer:  {"KMSInvalidState", "KMSInvalidState", "200", "KMSInvalidState"},
		ExtKeyBadMetadataAnswer: {"200", "200", "200", "200"},
	} {
		p := HealthyProxy(EndpointA)
		p.Keys = []ExternalKey{{ID: XksKey1, Status: st}}
		w := must(t, made, Call{Op: OpSetProxy, Proxy: &p})
		for i, op := range []Op{OpEncrypt, OpGenerateDataKey, OpDecrypt, OpReEncrypt} {
			wantAnswers(t, Step(w, Call{Op: op, KeyID: SubjectKeyID}), want[i])
		}
	}
	// A ciphertext cut short: InvalidCiphertext, or for an external key
	// store the proxy's refusal; on an unusable key the failure may come
	// first.
	cut := Call{Op: OpDecrypt, KeyID: SubjectKeyID, CutShort: true}
	wantAnswers(t, Step(made, cut), "InvalidCiphertext | KMSInvalidState")
	disabled := must(t, made, Call{Op: OpDisableKey, KeyID: SubjectKeyID})
	wantAnswers(t, Step(disabled, cut), "Disabled | InvalidCiphertext")
	missing := ck
	missing.CreateKey = CreateKeyFor(External, "no-such-key")
	wantAnswers(t, Step(base, missing), "XksKeyNotFound")
	w := must(t, base, ck)
	wantAnswers(t, Step(w, ck), "XksKeyAlreadyInUse")
	// A broken proxy leaves the store CONNECTED (spec §4.1); operations fail.
	w = must(t, w, Call{Op: OpSetProxy, Proxy: &Proxy{Endpoint: EndpointA, Fault: ProxyUnreachable}})
	other := ck
	other.CreateKey = CreateKeyFor(External, XksKey2)
	wantAnswers(t, Step(w, other), "ICS")
	wantAnswers(t, Step(w, Call{Op: OpEncrypt, KeyID: SubjectKeyID}), "KMSInvalidState")
	wantAnswers(t, Step(w, Call{Op: OpSettle, StoreID: sid}), "200")
	if st, _ := storeState(t, w, SubjectStoreID); st != Connected {
		t.Fatalf("a broken proxy moved the store to %s", st)
	}
}

func TestValidation(t *testing.T) {
	w := NewWorld()
	for _, tc := range []struct {
		call Call
		msg  string
	}{
		{Call{Op: OpCreateCustomKeyStore, Create: &CreateStoreInput{Name: ""}},
			"1 validation error detected: Value '' at 'customKeyStoreName' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{Call{Op: OpCreateCustomKeyStore, Create: CreateCloudHSMInput("x", "cluster-1", TrustAnchorA, KmsuserPassword)},
			"Value 'cluster-1' at 'cloudHsmClusterId' failed to satisfy constraint: Member must have length greater than or equal to 19"},
		{Call{Op: OpCreateCustomKeyStore, Create: CreateCloudHSMInput("x", ClusterA, TrustAnchorA, "short")},
			"Value at 'keyStorePassword' failed to satisfy constraint: Member must have length greater than or equal to 7"},
		{Call{Op: OpCreateCustomKeyStore, Create: CreateXksInput("x", "https://xks.example:443", PathV1, CredentialA)},
			"at 'xksProxyUriEndpoint' failed to satisfy constraint: Member must satisfy regular expression pattern"},
		{Call{Op: OpCreateCustomKeyStore, Create: CreateXksInput("x", EndpointA, "/kms/xks/v1/", CredentialA)},
			"at 'xksProxyUriPath' failed to satisfy constraint"},
		{Call{Op: OpGenerateRandom, NumberOfBytes: Ptr(1025)},
			"Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"},
		{Call{Op: OpDescribeCustomKeyStores, Limit: Ptr(0)}, "at 'limit'"},
		{Call{Op: OpConnectCustomKeyStore, StoreID: Ptr(strings.Repeat("c", 65))}, "at 'customKeyStoreId'"},
		{Call{Op: OpConnectCustomKeyStore}, "Value null at 'customKeyStoreId'"},
		{Call{Op: OpCreateCustomKeyStore, Create: &CreateStoreInput{Name: "x", Type: Ptr("HSM")}}, "enum value set"},
	} {
		outs := Step(w, tc.call)
		if answers(outs) != "Validation" || !strings.Contains(outs[0].Note, tc.msg) {
			t.Errorf("%s: got %s %q, want ValidationException with %q", tc.call.Op, answers(outs), outs[0].Note, tc.msg)
		}
	}
	// A secret never shows in a message.
	cred := Credential{AccessKeyID: "KMSCONFORMACCESSKEYA", Secret: "tooShort$ecret"}
	outs := Step(w, Call{Op: OpCreateCustomKeyStore, Create: CreateXksInput("x", EndpointA, PathV1, cred)})
	if strings.Contains(outs[0].Note, cred.Secret) || strings.Contains(outs[0].Note, cred.AccessKeyID) {
		t.Errorf("a validation message shows a secret: %q", outs[0].Note)
	}
}

// TestUpdateVariants checks the variant a call falls in (spec §2.4).
func TestUpdateVariants(t *testing.T) {
	for _, tc := range []struct {
		u    *UpdateStoreInput
		want UpdateVariant
	}{
		{nil, UpdateNone},
		{&UpdateStoreInput{}, UpdateNone},
		{&UpdateStoreInput{NewName: Ptr("n")}, UpdateName},
		{&UpdateStoreInput{NewName: Ptr("n"), Path: Ptr(PathAlt)}, UpdateXksCreds},
		{&UpdateStoreInput{Credential: &CredentialB}, UpdateXksCreds},
		{&UpdateStoreInput{Credential: &CredentialB, Endpoint: Ptr(EndpointB)}, UpdateOther},
		{&UpdateStoreInput{Password: Ptr(KmsuserPassword)}, UpdateOther},
	} {
		if got := tc.u.Variant(); got != tc.want {
			t.Errorf("%+v: variant %s, want %s", tc.u, got, tc.want)
		}
	}
}

func TestCellsAreWellFormed(t *testing.T) {
	cs := Cells()
	ids := map[string]bool{}
	perStatus := map[Status]int{}
	for _, c := range cs {
		if ids[c.ID] {
			t.Errorf("cell %s twice", c.ID)
		}
		ids[c.ID] = true
		perStatus[c.Status]++
		if err := CheckOutcomes(c.Setup, c.Call, c.Expected); err != nil {
			t.Errorf("%s: %v", c.ID, err)
		}
		if err := CheckWorld(c.Setup); err != nil {
			t.Errorf("%s: setup world: %v", c.ID, err)
		}
	}
	for _, typ := range StoreTypes {
		for _, col := range Columns {
			n := 0
			for _, c := range cs {
				if c.StoreType == typ && c.Column == col {
					n++
				}
			}
			if n == 0 {
				t.Errorf("no cell for %s in column %s", typ, col)
			}
		}
	}
	t.Logf("conformance matrix: %d cells (D %d, I %d, C %d, U %d), %d rules, model revision %s",
		len(cs), perStatus[Documented], perStatus[Inferred], perStatus[Contradictory], perStatus[Undocumented], len(Rules()), Revision())
}
