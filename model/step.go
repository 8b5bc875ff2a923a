package model

import "fmt"

// Outcome is one answer the documentation allows for a call: success or one
// exception, with every world it may lead to.
type Outcome struct {
	Error  Exception
	Worlds []World // at least one
	// Rules allow this outcome; the first is the rule that produced it, any
	// further one qualifies it (precedence, a contradiction).
	Rules []*Rule
	// StoreID is the CustomKeyStoreId a successful CreateCustomKeyStore
	// returns; KeyID the KeyId a successful CreateKey returns.
	StoreID, KeyID string
	// Note explains the outcome for people (a validation message, the cause
	// of a failure). It never holds a secret.
	Note string
}

// Status is the weakest status among the outcome's rules.
func (o Outcome) Status() Status {
	ss := make([]Status, len(o.Rules))
	for i, r := range o.Rules {
		ss[i] = r.Status
	}
	return Weakest(ss...)
}

// Step returns the outcomes the documentation allows for call c in world w.
// It never returns an empty set and never modifies w.
func Step(w World, c Call) []Outcome {
	if c.Op.IsEnv() {
		return stepEnv(w, c)
	}
	if v := validate(c); len(v) > 0 {
		return []Outcome{{Error: ErrValidation, Worlds: []World{w}, Rules: []*Rule{rValidation}, Note: v.message()}}
	}
	switch c.Op {
	case OpCreateCustomKeyStore:
		return stepCreate(w, c)
	case OpConnectCustomKeyStore:
		return stepConnect(w, c)
	case OpDisconnectCustomKeyStore:
		return stepDisconnect(w, c)
	case OpUpdateCustomKeyStore:
		return stepUpdate(w, c)
	case OpDeleteCustomKeyStore:
		return stepDelete(w, c)
	case OpDescribeCustomKeyStores:
		return stepDescribe(w, c)
	case OpCreateKey:
		return stepCreateKey(w, c)
	case OpGenerateRandom:
		return stepGenerateRandom(w, c)
	}
	if isKeyOp(c.Op) {
		return stepKeyOp(w, c)
	}
	return []Outcome{fail(w, "UnknownOperationException", rUnknownOp)}
}

func isKeyOp(op Op) bool {
	switch op {
	case OpDescribeKey, OpEnableKey, OpDisableKey, OpScheduleKeyDeletion, OpCancelKeyDeletion:
		return true
	}
	for _, o := range CryptoOps {
		if o == op {
			return true
		}
	}
	for _, o := range UnsupportedKeyOps {
		if o == op {
			return true
		}
	}
	return false
}

func fail(w World, e Exception, rs ...*Rule) Outcome {
	return Outcome{Error: e, Worlds: []World{w}, Rules: rs}
}

func ok(rs []*Rule, ws ...World) Outcome {
	return Outcome{Error: Success, Worlds: ws, Rules: rs}
}

func rulesOf(r ...*Rule) []*Rule { return r }

// finding is one failed content check (spec §3.3 step 6).
type finding struct {
	err  Exception
	rule *Rule
	// maybe marks a check KMS may postpone: the call can also succeed.
	maybe bool
}

// resolve turns the findings of the content checks into outcomes: success
// when there are none (or only postponable ones), the one exception when
// there is one, and each of them when there are several (precedence U).
func resolve(w World, fs []finding, success Outcome) []Outcome {
	if len(fs) == 0 {
		return []Outcome{success}
	}
	var out []Outcome
	allMaybe := true
	// Several checks failing at once leave the order to KMS (precedence);
	// one check with several documented answers does not.
	competing := false
	for _, f := range fs {
		competing = competing || f.rule != fs[0].rule
	}
	for _, f := range fs {
		o := fail(w, f.err, f.rule)
		if competing {
			o.Rules = append(o.Rules, rPrecedence)
		}
		out = append(out, o)
		allMaybe = allMaybe && f.maybe
	}
	if allMaybe {
		out = append(out, success)
	}
	return dedupe(out)
}

// dedupe merges outcomes with the same exception, so that a set never lists
// one answer twice.
func dedupe(out []Outcome) []Outcome {
	var res []Outcome
	for _, o := range out {
		merged := false
		for i := range res {
			if res[i].Error == o.Error && o.Error != Success {
				for _, r := range o.Rules {
					if !hasRule(res[i].Rules, r) {
						res[i].Rules = append(res[i].Rules, r)
					}
				}
				merged = true
				break
			}
		}
		if !merged {
			res = append(res, o)
		}
	}
	return res
}

func hasRule(rs []*Rule, r *Rule) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// withRule appends a qualifying rule to every outcome.
func withRule(out []Outcome, r *Rule) []Outcome {
	for i := range out {
		if !hasRule(out[i].Rules, r) {
			out[i].Rules = append(append([]*Rule(nil), out[i].Rules...), r)
		}
	}
	return out
}

// lookupStore finds the store named by c.StoreID, or returns the NotFound
// outcome.
func lookupStore(w World, c Call, notFound *Rule) (Store, []Outcome) {
	s, found := w.Store(deref(c.StoreID))
	if !found {
		return Store{}, []Outcome{fail(w, ErrCustomKeyStoreNotFound, notFound)}
	}
	return s, nil
}

// setStore returns a copy of w in which the store with s.ID is replaced by s.
func setStore(w World, s Store) World {
	n := w.Clone()
	n.Stores[n.storeIndex(s.ID)] = s
	return n
}

// StoreIDFor is the id the model gives the n-th store created (the format of
// real ids: "cks-" and 17 hex digits).
func StoreIDFor(n int) string { return fmt.Sprintf("cks-%017x", n) }

// KeyIDFor is the id the model gives the n-th key created.
func KeyIDFor(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012x", n) }

// ---- CreateCustomKeyStore ----

func stepCreate(w World, c Call) []Outcome {
	in := *c.Create
	typ := CloudHSM
	if in.Type != nil {
		typ = StoreType(*in.Type)
	}
	if !createShapeOK(typ, in) {
		return []Outcome{fail(w, ErrValidation, rParamShape)}
	}
	if typ == CloudHSM {
		// The idempotent retry beats every content check (spec §3.3).
		for _, s := range w.Stores {
			if s.Type == CloudHSM && s.State == Disconnected && s.Name == in.Name && s.ClusterID == *in.ClusterID &&
				s.TrustAnchor == *in.TrustAnchor && s.Password == *in.Password {
				o := ok(rulesOf(rCreateIdempotent), w)
				o.StoreID = s.ID
				return []Outcome{o}
			}
		}
	}
	var fs []finding
	if len(w.Stores) >= StoreQuota {
		fs = append(fs, finding{err: ErrLimitExceeded, rule: rCreateQuota})
	}
	if _, used := w.StoreByName(in.Name); used {
		fs = append(fs, finding{err: ErrCustomKeyStoreNameInUse, rule: rNameInUse})
	}
	n := Store{ID: StoreIDFor(w.NextStore), Name: in.Name, Type: typ, State: Disconnected}
	if typ == CloudHSM {
		n.ClusterID, n.TrustAnchor, n.Password = *in.ClusterID, *in.TrustAnchor, *in.Password
		fs = append(fs, clusterChecksCreate(w, n)...)
	} else {
		n.Connectivity = XksConnectivity(*in.Connectivity)
		n.Endpoint, n.Path, n.Credential = *in.Endpoint, *in.Path, *in.Credential
		if n.Connectivity == VpcEndpointService {
			n.VpcService = *in.VpcService
			n.VpcOwner = deref(in.VpcOwner) // empty: the caller's account
		}
		// KMS health-checks a public endpoint at create; a VPC store's proxy is
		// first contacted at connect (spec §2.1).
		fs = append(fs, xksConfigChecks(w, n, n.Connectivity == PublicEndpoint, true)...)
	}
	nw := w.Clone()
	nw.Stores = append(nw.Stores, n)
	nw.NextStore++
	success := ok(rulesOf(rCreateNew), nw)
	success.StoreID = n.ID
	return resolve(w, fs, success)
}

func createShapeOK(typ StoreType, in CreateStoreInput) bool {
	hsm := in.ClusterID != nil || in.TrustAnchor != nil || in.Password != nil
	xks := in.Connectivity != nil || in.Endpoint != nil || in.Path != nil || in.Credential != nil ||
		in.VpcService != nil || in.VpcOwner != nil
	if typ == CloudHSM {
		return !xks && in.ClusterID != nil && in.TrustAnchor != nil && in.Password != nil
	}
	if hsm || in.Connectivity == nil || in.Endpoint == nil || in.Path == nil || in.Credential == nil {
		return false
	}
	if XksConnectivity(*in.Connectivity) == VpcEndpointService {
		return in.VpcService != nil
	}
	return in.VpcService == nil && in.VpcOwner == nil
}

// clusterChecksCreate is the cluster part of CreateCustomKeyStore (spec §2.1).
func clusterChecksCreate(w World, n Store) []finding {
	cl, found := w.Cluster(n.ClusterID)
	if !found {
		return []finding{{err: ErrCloudHsmClusterNotFound, rule: rClusterNotFound}}
	}
	fs := clusterHealthFindings(cl)
	for _, s := range w.Stores {
		if s.Type != CloudHSM || s.ID == n.ID {
			continue
		}
		if s.ClusterID == cl.ID || s.TrustAnchor == cl.TrustAnchor {
			fs = append(fs, finding{err: ErrCloudHsmClusterInUse, rule: rClusterInUse})
			break
		}
	}
	if n.TrustAnchor != cl.TrustAnchor {
		fs = append(fs, finding{err: ErrIncorrectTrustAnchor, rule: rTrustAnchor})
	}
	return fs
}

// xksConfigChecks checks an external key store configuration n against the
// other stores and, when health is set, the proxy (spec §2.1, §2.4).
// vpcChanged says whether the call names the VPC endpoint service's part
// of the configuration (a create always does).
func xksConfigChecks(w World, n Store, health, vpcChanged bool) []finding {
	var fs []finding
	for _, s := range w.Stores {
		if s.Type != External || s.ID == n.ID {
			continue
		}
		if s.Endpoint == n.Endpoint && s.Path == n.Path {
			fs = append(fs, finding{err: ErrXksProxyUriInUse, rule: rXksUriInUse})
		} else if s.Endpoint == n.Endpoint && (s.Connectivity == VpcEndpointService || n.Connectivity == VpcEndpointService) {
			fs = append(fs, finding{err: ErrXksProxyUriEndpointInUse, rule: rXksEndpointInUse})
		}
		if n.Connectivity == VpcEndpointService && s.Connectivity == VpcEndpointService && s.VpcService == n.VpcService {
			fs = append(fs, finding{err: ErrXksProxyVpcServiceInUse, rule: rXksVpcInUse})
		}
	}
	if n.Connectivity == VpcEndpointService && vpcChanged {
		if v, found := w.vpcServiceOf(n.VpcService, n.VpcOwner); !found {
			fs = append(fs, finding{err: ErrXksProxyVpcServiceNotFound, rule: rXksVpcChecks, maybe: true})
		} else if v.Status.misconfigured() {
			fs = append(fs, finding{err: ErrXksProxyVpcServiceInvalidConfig, rule: rXksVpcChecks, maybe: true})
		} else if v.Status == VpcServiceKMSNotAllowed {
			fs = append(fs, finding{err: ErrXksProxyVpcServiceNotFound, rule: rXksVpcKMSNotAllowed, maybe: true},
				finding{err: ErrXksProxyVpcServiceInvalidConfig, rule: rXksVpcKMSNotAllowed, maybe: true})
		}
	}
	if health {
		fs = append(fs, healthFindings(healthCheck(w, n))...)
	}
	return dedupeFindings(fs)
}

func dedupeFindings(fs []finding) []finding {
	return dedupeBy(fs, func(f finding) Exception { return f.err })
}

// dedupeBy keeps the first of the elements that share a key, in order.
func dedupeBy[T any, K comparable](xs []T, key func(T) K) []T {
	var res []T
	seen := map[K]bool{}
	for _, x := range xs {
		if k := key(x); !seen[k] {
			seen[k] = true
			res = append(res, x)
		}
	}
	return res
}

// ---- ConnectCustomKeyStore and the settling of CONNECTING ----

func stepConnect(w World, c Call) []Outcome {
	s, nf := lookupStore(w, c, rStoreNotFound)
	if nf != nil {
		return nf
	}
	switch s.State {
	case Connecting, Connected:
		return []Outcome{ok(rulesOf(rConnectWhileUp), w), fail(w, ErrCustomKeyStoreInvalidState, rConnectWhileUp)}
	case Disconnecting, Failed:
		return []Outcome{fail(w, ErrCustomKeyStoreInvalidState, rConnectInvalidState)}
	}
	connecting := s
	connecting.State = Connecting
	started := ok(rulesOf(rConnectStarts), setStore(w, connecting))
	if s.Type == External {
		return []Outcome{started}
	}
	cl, found := w.Cluster(s.ClusterID)
	if !found {
		return []Outcome{started} // reported as CLUSTER_NOT_FOUND when it settles
	}
	var fast []Outcome
	if !cl.Initialized {
		fast = append(fast, fail(w, ErrCloudHsmClusterNotActive, rConnectFastFail))
	}
	if !cl.NetworkOK {
		fast = append(fast, fail(w, ErrCloudHsmClusterInvalidConfig, rConnectFastFail))
	}
	if len(fast) > 1 {
		fast = withRule(fast, rPrecedence)
	}
	if len(fast) > 0 {
		return fast
	}
	if cl.ActiveHSMs == 0 {
		return []Outcome{fail(w, ErrCloudHsmClusterInvalidConfig, rConnectZeroHSMs), ok(rulesOf(rConnectStarts, rConnectZeroHSMs), setStore(w, connecting))}
	}
	return []Outcome{started}
}

// connectResult is one way a CONNECTING store can settle.
type connectResult struct {
	code ConnectionErrorCode // empty: CONNECTED
	rule *Rule
}

func settleConnecting(w World, s Store) Outcome {
	var rs []connectResult
	if s.Type == CloudHSM {
		rs = cloudHSMConnect(w, s)
	} else {
		rs = xksConnect(w, s)
	}
	out := Outcome{Error: Success}
	for _, r := range rs {
		n := w.Clone()
		st := s
		if r.code == "" {
			st.State = Connected
			if s.Type == CloudHSM {
				// KMS rotates the kmsuser password and keeps the new one (spec §2.2).
				i := n.clusterIndex(s.ClusterID)
				n.Clusters[i].Password = RotatedPassword(s.ID)
				n.Clusters[i].FailedLogins = 0
				st.Password = n.Clusters[i].Password
			}
		} else {
			st.State, st.ErrorCode = Failed, r.code
			if s.Type == CloudHSM && (r.code == ErrCodeInvalidCredentials || r.rule == rKmsuserLockout) {
				i := n.clusterIndex(s.ClusterID)
				if n.Clusters[i].FailedLogins < KmsuserLockoutAttempts {
					n.Clusters[i].FailedLogins++
				}
				if n.Clusters[i].FailedLogins >= KmsuserLockoutAttempts {
					n.Clusters[i].Kmsuser = KmsuserLockedOut
				}
			}
		}
		n.Stores[n.storeIndex(s.ID)] = st
		out.Worlds = append(out.Worlds, n)
		if !hasRule(out.Rules, r.rule) {
			out.Rules = append(out.Rules, r.rule)
		}
	}
	if len(rs) > 1 && !hasRule(out.Rules, rPrecedence) {
		out.Rules = append(out.Rules, rPrecedence)
	}
	return out
}

// ---- DisconnectCustomKeyStore ----

func stepDisconnect(w World, c Call) []Outcome {
	s, nf := lookupStore(w, c, rStoreNotFound)
	if nf != nil {
		return nf
	}
	n := s
	n.ErrorCode = ""
	switch s.State {
	case Connected, Connecting:
		r := rDisconnect
		if s.State == Connecting {
			r = rDisconnectConnecting
		}
		n.State = Disconnecting
		return []Outcome{ok(rulesOf(r), setStore(w, n))}
	case Failed:
		n.State = Disconnecting
		w1 := setStore(w, n)
		n.State = Disconnected
		return []Outcome{ok(rulesOf(rDisconnectFailed), w1, setStore(w, n))}
	}
	return []Outcome{fail(w, ErrCustomKeyStoreInvalidState, rDisconnectInvalid)}
}

// ---- UpdateCustomKeyStore ----

func stepUpdate(w World, c Call) []Outcome {
	s, nf := lookupStore(w, c, rStoreNotFound)
	if nf != nil {
		return nf
	}
	u := c.Update
	if u == nil {
		u = &UpdateStoreInput{}
	}
	if !updateShapeOK(s, u) {
		return []Outcome{fail(w, ErrValidation, rParamShape)}
	}
	v := u.Variant()
	if v == UpdateNone {
		return []Outcome{fail(w, ErrValidation, rUpdateNothing), ok(rulesOf(rUpdateNothing), w)}
	}
	allowed, ambiguous := updateAllowed(s.Type, s.State, v)
	if !allowed {
		return []Outcome{fail(w, ErrCustomKeyStoreInvalidState, rUpdateInvalid)}
	}
	out := updateContent(w, s, u)
	if ambiguous != nil {
		out = withRule(append(out, fail(w, ErrCustomKeyStoreInvalidState, rUpdateInvalid)), ambiguous)
	}
	return dedupe(out)
}

// updateShapeOK rejects parameters of the other store type and the
// connectivity changes spec §2.4 forbids.
func updateShapeOK(s Store, u *UpdateStoreInput) bool {
	hsm := u.Password != nil || u.ClusterID != nil
	xks := u.Credential != nil || u.Path != nil || u.Connectivity != nil || u.Endpoint != nil ||
		u.VpcService != nil || u.VpcOwner != nil
	if s.Type == CloudHSM {
		return !xks
	}
	if hsm {
		return false
	}
	conn := s.Connectivity
	if u.Connectivity != nil {
		conn = XksConnectivity(*u.Connectivity)
		if conn != s.Connectivity && u.Endpoint == nil {
			return false // a change of connectivity needs a new endpoint
		}
		if conn == VpcEndpointService && s.Connectivity != VpcEndpointService && u.VpcService == nil {
			return false
		}
	}
	if conn == PublicEndpoint && (deref(u.VpcService) != "" || u.VpcOwner != nil) {
		return false
	}
	return true
}

// updateAllowed says whether the state accepts the update: allowed and
// certain, allowed with a contradiction (the rule), or refused.
func updateAllowed(t StoreType, st ConnectionState, v UpdateVariant) (allowed bool, ambiguous *Rule) {
	if st == Disconnected {
		return true, nil
	}
	if v == UpdateOther {
		return false, nil
	}
	if t == CloudHSM {
		if st == Connected && v == UpdateName {
			return true, rUpdateC2
		}
		return false, nil
	}
	if st == Connected && v == UpdateName {
		return true, nil
	}
	return true, rUpdateC1
}

// updateContent runs the content checks of an update the state accepts and
// applies it (spec §2.4).
func updateContent(w World, s Store, u *UpdateStoreInput) []Outcome {
	var fs []finding
	n := s
	if u.NewName != nil {
		if *u.NewName == s.Name {
			fs = append(fs, finding{err: ErrCustomKeyStoreNameInUse, rule: rRenameToSelf, maybe: true})
		} else if _, used := w.StoreByName(*u.NewName); used {
			fs = append(fs, finding{err: ErrCustomKeyStoreNameInUse, rule: rNameInUse})
		}
		n.Name = *u.NewName
	}
	if s.Type == CloudHSM {
		if u.Password != nil {
			n.Password = *u.Password // KMS checks it only at the next connect
		}
		if u.ClusterID != nil && *u.ClusterID != s.ClusterID {
			n.ClusterID = *u.ClusterID
			fs = append(fs, clusterChecksUpdate(w, n)...)
		}
	} else {
		if u.Credential != nil {
			n.Credential = *u.Credential
		}
		if u.Path != nil {
			n.Path = *u.Path
		}
		if u.Endpoint != nil {
			n.Endpoint = *u.Endpoint
		}
		if u.Connectivity != nil {
			n.Connectivity = XksConnectivity(*u.Connectivity)
		}
		// An update that names part of a VPC store's connection to its
		// proxy (the service, its owner, the endpoint, the connectivity)
		// may have KMS check the VPC endpoint service (maybe findings); one
		// that names none of them (a name, path or credential) does not.
		vpcChanged := false
		if n.Connectivity == PublicEndpoint {
			n.VpcService, n.VpcOwner = "", ""
		} else {
			vpcChanged = u.VpcService != nil || u.VpcOwner != nil || u.Endpoint != nil || u.Connectivity != nil
			if u.VpcService != nil {
				n.VpcService = *u.VpcService
			}
			if u.VpcOwner != nil {
				n.VpcOwner = *u.VpcOwner
			}
		}
		configChanged := u.Credential != nil || u.Path != nil || u.Endpoint != nil || u.Connectivity != nil ||
			u.VpcService != nil || u.VpcOwner != nil
		// The health check runs where KMS can reach the proxy: always for a
		// public endpoint, and for a VPC store only while its interface
		// endpoint exists (CONNECTED) (spec §2.4; the VPC part is I).
		health := configChanged && (n.Connectivity == PublicEndpoint || s.State == Connected)
		fs = append(fs, xksConfigChecks(w, n, health, vpcChanged)...)
	}
	return resolve(w, fs, ok(rulesOf(rUpdateAllowed, rUpdateApplied), setStore(w, n)))
}

func clusterChecksUpdate(w World, n Store) []finding {
	cl, found := w.Cluster(n.ClusterID)
	if !found {
		return []finding{{err: ErrCloudHsmClusterNotFound, rule: rClusterNotFound}}
	}
	var fs []finding
	if cl.TrustAnchor != n.TrustAnchor {
		fs = append(fs, finding{err: ErrCloudHsmClusterNotRelated, rule: rClusterNotRelated})
	}
	return append(fs, clusterHealthFindings(cl)...)
}

// ---- DeleteCustomKeyStore ----

func stepDelete(w World, c Call) []Outcome {
	s, nf := lookupStore(w, c, rStoreNotFound)
	if nf != nil {
		return nf
	}
	hasKeys := len(w.KeysIn(s.ID)) > 0
	switch {
	case s.State != Disconnected && hasKeys:
		return []Outcome{fail(w, ErrCustomKeyStoreInvalidState, rDeleteBoth), fail(w, ErrCustomKeyStoreHasCMKs, rDeleteBoth)}
	case s.State != Disconnected:
		return []Outcome{fail(w, ErrCustomKeyStoreInvalidState, rDeleteInvalid)}
	case hasKeys:
		return []Outcome{fail(w, ErrCustomKeyStoreHasCMKs, rDeleteHasKeys)}
	}
	n := w.Clone()
	i := n.storeIndex(s.ID)
	n.Stores = append(n.Stores[:i], n.Stores[i+1:]...)
	return []Outcome{ok(rulesOf(rDelete), n)}
}

// ---- DescribeCustomKeyStores ----

func stepDescribe(w World, c Call) []Outcome {
	if c.StoreID != nil && c.StoreName != nil {
		return []Outcome{fail(w, ErrValidation, rDescribeBoth), ok(rulesOf(rDescribeBoth), w),
			fail(w, ErrCustomKeyStoreNotFound, rDescribeBoth)}
	}
	if c.StoreID != nil {
		if _, found := w.Store(*c.StoreID); !found {
			return []Outcome{fail(w, ErrCustomKeyStoreNotFound, rStoreNotFound)}
		}
	}
	if c.StoreName != nil {
		if _, found := w.StoreByName(*c.StoreName); !found {
			return []Outcome{fail(w, ErrCustomKeyStoreNotFound, rStoreNotFound)}
		}
	}
	if c.Marker != nil && *c.Marker == MadeUpMarker {
		return []Outcome{fail(w, ErrInvalidMarker, rInvalidMarker)}
	}
	if c.Limit != nil || c.Marker != nil {
		return []Outcome{ok(rulesOf(rDescribe, rDescribePages), w)}
	}
	return []Outcome{ok(rulesOf(rDescribe), w)}
}

// ---- CreateKey ----

func stepCreateKey(w World, c Call) []Outcome {
	in := CreateKeyInput{}
	if c.CreateKey != nil {
		in = *c.CreateKey
	}
	origin := Origin(deref(in.Origin))
	if origin == "" {
		origin = OriginAwsKms
	}
	if c.StoreID == nil {
		if origin == OriginAwsCloudHSM || origin == OriginExternalKeyStore || in.XksKeyID != nil {
			return []Outcome{fail(w, ErrValidation, rParamShape), fail(w, ErrUnsupportedOperation, rParamShape)}
		}
		return []Outcome{ok(rulesOf(rPlainKey), w)}
	}
	s, nf := lookupStore(w, c, rCreateKeyNotFound)
	if nf != nil {
		return nf
	}
	shapeOK := origin == OriginFor(s.Type) && (s.Type == External) == (in.XksKeyID != nil)
	if !shapeOK {
		return []Outcome{fail(w, ErrValidation, rParamShape), fail(w, ErrUnsupportedOperation, rParamShape)}
	}
	if (in.KeySpec != nil && *in.KeySpec != "SYMMETRIC_DEFAULT") || (in.KeyUsage != nil && *in.KeyUsage != "ENCRYPT_DECRYPT") || in.MultiRegion {
		return []Outcome{fail(w, ErrUnsupportedOperation, rCreateKeyShape), fail(w, ErrValidation, rCreateKeyShape)}
	}
	if s.State != Connected {
		return []Outcome{fail(w, ErrCustomKeyStoreInvalidState, rCreateKeyState)}
	}
	var fs []finding
	k := Key{ID: KeyIDFor(w.NextKey), Store: s.ID, State: KeyEnabled}
	if s.Type == CloudHSM {
		cl, found := w.Cluster(s.ClusterID)
		switch {
		case !found || cl.Fault == ClusterNetworkError || cl.Fault == ClusterInternalError:
			for _, e := range []Exception{ErrCustomKeyStoreInvalidState, ErrCloudHsmClusterInvalidConfig, ErrKMSInternal} {
				fs = append(fs, finding{err: e, rule: rCreateKeyClusterGone})
			}
		case cl.ActiveHSMs < 2:
			fs = append(fs, finding{err: ErrCloudHsmClusterInvalidConfig, rule: rCreateKeyHSMs})
		}
	} else {
		k.XksKeyID = *in.XksKeyID
		for _, o := range w.KeysIn(s.ID) {
			if o.XksKeyID == k.XksKeyID {
				fs = append(fs, finding{err: ErrXksKeyAlreadyInUse, rule: rXksKeyInUse})
				break
			}
		}
		as := proxyRequest(w, s, apiMetadata, k.XksKeyID)
		for _, a := range as {
			switch a {
			case pxOK:
			case pxBadShape:
				fs = append(fs, finding{err: ErrCustomKeyStoreInvalidState, rule: rXksAnswerShape})
			case pxKeyNotFound:
				fs = append(fs, finding{err: ErrXksKeyNotFound, rule: rCreateKeyXks})
			case pxKeyInvalid:
				fs = append(fs, finding{err: ErrXksKeyInvalidConfiguration, rule: rCreateKeyXks})
			case pxDenied:
				fs = append(fs, finding{err: ErrCustomKeyStoreInvalidState, rule: rCreateKeyXksDenied})
			default:
				fs = append(fs, finding{err: ErrCustomKeyStoreInvalidState, rule: rCreateKeyXks})
			}
		}
		fs = dedupeFindings(fs)
	}
	n := w.Clone()
	n.Keys = append(n.Keys, k)
	n.NextKey++
	success := ok(rulesOf(rCreateKey), n)
	success.KeyID = k.ID
	return resolve(w, fs, success)
}

// ---- GenerateRandom ----

func stepGenerateRandom(w World, c Call) []Outcome {
	if c.NumberOfBytes == nil {
		return []Outcome{fail(w, ErrValidation, rRandomBytesRequired)}
	}
	if c.StoreID == nil {
		return []Outcome{ok(rulesOf(rRandom), w)}
	}
	s, nf := lookupStore(w, c, rStoreNotFound)
	if nf != nil {
		return nf
	}
	if s.Type == External {
		return []Outcome{fail(w, ErrUnsupportedOperation, rRandomXks)}
	}
	if s.State != Connected {
		return []Outcome{fail(w, ErrCustomKeyStoreInvalidState, rRandomState)}
	}
	if cl, found := w.Cluster(s.ClusterID); !found || cl.ActiveHSMs == 0 || cl.Fault == ClusterNetworkError || cl.Fault == ClusterInternalError {
		return []Outcome{fail(w, ErrCustomKeyStoreInvalidState, rRandomBacking), fail(w, ErrKMSInternal, rRandomBacking),
			fail(w, ErrDependencyTimeout, rRandomBacking)}
	}
	return []Outcome{ok(rulesOf(rRandom), w)}
}

// ---- operations on a key ----

func stepKeyOp(w World, c Call) []Outcome {
	k, found := w.Key(c.KeyID)
	if !found {
		return []Outcome{fail(w, ErrNotFound, rKeyNotFound)}
	}
	s, _ := w.Store(k.Store)
	shown := w.ShownKeyState(k)
	setKey := func(st KeyState) World {
		n := w.Clone()
		n.Keys[n.keyIndex(k.ID)].State = st
		return n
	}
	switch c.Op {
	case OpDescribeKey:
		if s.State.Transient() && shown == KeyUnavailable {
			return []Outcome{ok(rulesOf(rDescribeKeyTransient), w)}
		}
		return []Outcome{ok(rulesOf(rDescribeKey), w)}
	case OpEnableKey, OpDisableKey:
		if shown == KeyPendingDeletion {
			return []Outcome{fail(w, ErrKMSInvalidState, rEnableDisablePending)}
		}
		st := KeyEnabled
		if c.Op == OpDisableKey {
			st = KeyDisabled
		}
		return []Outcome{ok(rulesOf(rEnableDisable), setKey(st))}
	case OpScheduleKeyDeletion:
		if d := c.PendingWindowDays; d != nil && (*d < 7 || *d > 30) {
			return []Outcome{fail(w, ErrValidation, rScheduleWindow)}
		}
		if shown == KeyPendingDeletion {
			return []Outcome{fail(w, ErrKMSInvalidState, rSchedulePending)}
		}
		return []Outcome{ok(rulesOf(rSchedule), setKey(KeyPendingDeletion))}
	case OpCancelKeyDeletion:
		if shown != KeyPendingDeletion {
			return []Outcome{fail(w, ErrKMSInvalidState, rCancelNotPending)}
		}
		return []Outcome{ok(rulesOf(rCancel), setKey(KeyDisabled))}
	}
	for _, o := range UnsupportedKeyOps {
		if o == c.Op {
			return unsupportedKeyOp(w, c.Op, shown)
		}
	}
	outs := cryptoOp(w, c.Op, s, k, shown)
	if c.CutShort && c.Op == OpDecrypt {
		return cutShort(w, s, outs)
	}
	return outs
}

// cutShort is what a Decrypt of a ciphertext cut short gets instead of
// outs, the answers to the whole one: InvalidCiphertextException where the
// whole one would decrypt (for an external key store KMSInvalidStateException
// too, when the cut reaches the part the proxy decrypts, spec §7.4); where
// it would not, either that failure or InvalidCiphertextException (which
// check comes first is not documented).
func cutShort(w World, s Store, outs []Outcome) []Outcome {
	var res []Outcome
	decrypts := false
	for _, o := range outs {
		if o.Error == Success {
			decrypts = true
			continue
		}
		res = append(res, o)
	}
	res = append(res, fail(w, ErrInvalidCiphertext, rCutShort))
	if decrypts && s.Type == External {
		res = append(res, fail(w, ErrKMSInvalidState, rCutShort))
	}
	return res
}

func unsupportedKeyOp(w World, op Op, shown KeyState) []Outcome {
	r := rUnsupportedDoc
	switch op {
	case OpGenerateDataKeyPair, OpGenerateDataKeyPairWithoutPlain, OpRotateKeyOnDemand, OpReplicateKey:
		r = rUnsupportedInf
	}
	out := []Outcome{fail(w, ErrUnsupportedOperation, r)}
	if shown == KeyUnavailable {
		switch op {
		case OpEnableKeyRotation, OpDisableKeyRotation, OpGetKeyRotationStatus,
			OpGetParametersForImport, OpImportKeyMaterial, OpDeleteImportedKeyMaterial:
			return []Outcome{fail(w, ErrUnsupportedOperation, rUnsupportedUnavailable)}
		case OpGenerateDataKeyPair, OpGenerateDataKeyPairWithoutPlain:
			return []Outcome{fail(w, ErrKMSInvalidState, rUnsupportedUnavailable)}
		}
	}
	switch shown {
	case KeyEnabled:
		return out
	case KeyDisabled, KeyPendingDeletion:
		switch op {
		case OpGetKeyRotationStatus, OpGetParametersForImport, OpImportKeyMaterial, OpDeleteImportedKeyMaterial:
			// DisabledException is not among their documented errors.
			out = append(out, fail(w, ErrKMSInvalidState, rUnsupportedState))
		default:
			out = append(out, fail(w, ErrDisabled, rUnsupportedState), fail(w, ErrKMSInvalidState, rUnsupportedState))
		}
	default:
		out = append(out, fail(w, ErrKMSInvalidState, rUnsupportedState))
	}
	return withRule(out, rUnsupportedState)
}

func cryptoOp(w World, op Op, s Store, k Key, shown KeyState) []Outcome {
	switch shown {
	case KeyUnavailable:
		if s.State.Transient() {
			return []Outcome{fail(w, ErrKMSInvalidState, rCryptoUnavailableTransient)}
		}
		return []Outcome{fail(w, ErrKMSInvalidState, rCryptoUnavailable)}
	case KeyPendingDeletion:
		return []Outcome{fail(w, ErrKMSInvalidState, rCryptoPending), fail(w, ErrDisabled, rCryptoPending)}
	case KeyDisabled:
		return []Outcome{fail(w, ErrDisabled, rCryptoDisabled)}
	}
	if s.Type == CloudHSM {
		cl, found := w.Cluster(s.ClusterID)
		switch {
		case !found || cl.ActiveHSMs == 0 || k.MaterialDeleted:
			return []Outcome{fail(w, ErrKMSInvalidState, rCryptoBacking)}
		case cl.Fault == ClusterNetworkError || cl.Fault == ClusterInternalError:
			return []Outcome{fail(w, ErrKMSInvalidState, rCryptoTransient), fail(w, ErrKMSInternal, rCryptoTransient)}
		case cl.Fault == ClusterSubnetDeleted:
			return []Outcome{ok(rulesOf(rCryptoSubnet), w), fail(w, ErrKMSInvalidState, rCryptoSubnet)}
		}
		return []Outcome{ok(rulesOf(rCryptoOK), w)}
	}
	// Decrypt calls the proxy's Decrypt; ReEncrypt its Decrypt (source)
	// and then its Encrypt (destination); the others its Encrypt.
	apis := []proxyAPI{apiEncrypt}
	switch op {
	case OpDecrypt:
		apis = []proxyAPI{apiDecrypt}
	case OpReEncrypt:
		apis = []proxyAPI{apiDecrypt, apiEncrypt}
	}
	for _, api := range apis {
		for _, a := range proxyRequest(w, s, api, k.XksKeyID) {
			switch a {
			case pxOK:
			case pxBadShape:
				return []Outcome{fail(w, ErrKMSInvalidState, rXksAnswerShape)}
			default:
				return []Outcome{fail(w, ErrKMSInvalidState, rCryptoBacking)}
			}
		}
	}
	return []Outcome{ok(rulesOf(rCryptoOK), w)}
}
