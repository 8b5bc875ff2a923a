package model

// The backing as KMS sees it: the checks a CloudHSM cluster must pass, the
// answers an XKS proxy may give to a request of KMS, how a connect ends on
// either, and the environment calls that change the backing behind KMS's
// back (and settle a transition). The operations in step.go ask these.

// clusterHealthFindings are the checks Create and Update make of any
// cluster they are given: initialized and active, 2 HSMs, a sound network.
func clusterHealthFindings(cl Cluster) []finding {
	var fs []finding
	if !cl.Initialized {
		fs = append(fs, finding{err: ErrCloudHsmClusterNotActive, rule: rClusterNotActive})
	}
	if cl.ActiveHSMs < 2 || !cl.NetworkOK {
		fs = append(fs, finding{err: ErrCloudHsmClusterInvalidConfig, rule: rClusterInvalidConfig})
	}
	return fs
}

// ---- the XKS proxy, as KMS sees it ----

// proxyAnswer is how one proxy request ends, as far as KMS can tell.
type proxyAnswer int

const (
	pxOK proxyAnswer = iota
	pxNoTCP
	pxTimeout
	pxTLS
	pxAuth           // 401
	pxPath           // 404 InvalidUriPath
	pxDenied         // 403
	pxThrottled      // 429
	pxInternal       // 500
	pxDepTimeout     // 503
	pxMalformed      // not JSON
	pxEKMUnavailable // health: every key manager UNAVAILABLE
	pxKeyNotFound
	pxKeyInvalid // DISABLED, wrong spec or usage
	pxNetwork    // the connection is made, then broken by the network
	pxKMSInternal
	pxBadShape // 200, with a body the XKS spec's response shape does not allow
)

// proxyAPI is the proxy API a request of KMS calls (XKS spec §7.2).
type proxyAPI int

const (
	apiHealth proxyAPI = iota
	apiMetadata
	apiEncrypt
	apiDecrypt
)

// keyAnswer is how a request about an external key with status st ends,
// when nothing at the proxy's level failed first.
func keyAnswer(st ExternalKeyStatus, api proxyAPI) proxyAnswer {
	switch st {
	case ExtKeyOK, ExtKeyTenUsages:
		return pxOK
	case ExtKeyEncryptOnly, ExtKeyDecryptOnly:
		if st == ExtKeyEncryptOnly && api == apiEncrypt || st == ExtKeyDecryptOnly && api == apiDecrypt {
			return pxOK
		}
	case ExtKeyBadMetadataAnswer, ExtKeyBadEncryptAnswer:
		if st == ExtKeyBadMetadataAnswer && api == apiMetadata || st == ExtKeyBadEncryptAnswer && api == apiEncrypt {
			return pxBadShape
		}
		return pxOK
	}
	return pxKeyInvalid
}

// proxyRequest returns the possible answers to one request from KMS to the
// proxy of store s, to API api for the external key xksKeyID (empty: the
// health check).
// Transport failures come first and exclude everything else; HTTP-level
// refusals may come in any order (which one a proxy checks first is its own
// affair), so all of them are possible.
func proxyRequest(w World, s Store, api proxyAPI, xksKeyID string) []proxyAnswer {
	p, found := w.Proxy(s.Endpoint)
	if !found {
		return []proxyAnswer{pxNoTCP}
	}
	switch p.Fault {
	case ProxyKMSInternalError:
		return []proxyAnswer{pxKMSInternal}
	case ProxyUnreachable:
		return []proxyAnswer{pxNoTCP}
	case ProxyNetworkError:
		return []proxyAnswer{pxNetwork}
	case ProxySlow:
		return []proxyAnswer{pxTimeout}
	case ProxyTLSInvalid:
		return []proxyAnswer{pxTLS}
	}
	var as []proxyAnswer
	if p.Path != s.Path {
		as = append(as, pxPath)
	}
	if !accepts(p, s.Credential) {
		as = append(as, pxAuth)
	}
	switch p.Fault {
	case ProxyDenyAll:
		as = append(as, pxDenied)
	case ProxyThrottling:
		as = append(as, pxThrottled)
	case ProxyInternal:
		as = append(as, pxInternal)
	case ProxyDepTimeout:
		as = append(as, pxDepTimeout)
	case ProxyMalformed:
		as = append(as, pxMalformed)
	}
	if len(as) > 0 {
		return as
	}
	if p.Fault == ProxyBadHealthAnswer && api == apiHealth {
		return []proxyAnswer{pxBadShape}
	}
	if p.Fault == ProxyEKMUnavailable {
		if xksKeyID == "" {
			return []proxyAnswer{pxEKMUnavailable}
		}
		// With no key manager to do the work, a key request times out
		// behind the proxy.
		return []proxyAnswer{pxDepTimeout}
	}
	if xksKeyID == "" {
		return []proxyAnswer{pxOK}
	}
	for _, k := range p.Keys {
		if k.ID == xksKeyID {
			return []proxyAnswer{keyAnswer(k.Status, api)}
		}
	}
	return []proxyAnswer{pxKeyNotFound}
}

func healthCheck(w World, s Store) []proxyAnswer { return proxyRequest(w, s, apiHealth, "") }

func accepts(p Proxy, c Credential) bool {
	for _, a := range p.Accepted {
		if a == c {
			return true
		}
	}
	return false
}

// healthFindings maps health-check answers to the exceptions of Create and
// Update (spec §2.1, §7.4).
func healthFindings(as []proxyAnswer) []finding {
	var fs []finding
	for _, a := range as {
		r := rXksHealthCreate
		if len(as) > 1 {
			r = rXksHealthAmbiguous
		}
		switch a {
		case pxOK:
		case pxNoTCP, pxTimeout, pxThrottled, pxDepTimeout, pxEKMUnavailable:
			fs = append(fs, finding{err: ErrXksProxyUriUnreachable, rule: r})
		case pxNetwork:
			fs = append(fs, finding{err: ErrXksProxyUriUnreachable, rule: rXksNetwork})
		case pxKMSInternal:
			fs = append(fs, finding{err: ErrKMSInternal, rule: rXksKMSInternal})
		case pxTLS:
			fs = append(fs, finding{err: ErrXksProxyUriUnreachable, rule: rXksHealthTLS},
				finding{err: ErrXksProxyInvalidConfiguration, rule: rXksHealthTLS})
		case pxAuth:
			fs = append(fs, finding{err: ErrXksProxyIncorrectAuthCredential, rule: r})
		case pxPath:
			fs = append(fs, finding{err: ErrXksProxyInvalidConfiguration, rule: r})
		case pxMalformed, pxInternal:
			fs = append(fs, finding{err: ErrXksProxyInvalidResponse, rule: r})
		case pxBadShape:
			fs = append(fs, finding{err: ErrXksProxyInvalidResponse, rule: rXksAnswerShape})
		case pxDenied:
			for _, e := range []Exception{ErrXksProxyIncorrectAuthCredential, ErrXksProxyInvalidResponse, ErrXksProxyUriUnreachable} {
				fs = append(fs, finding{err: e, rule: rXksHealthDenied})
			}
		}
	}
	return fs
}

func cloudHSMConnect(w World, s Store) []connectResult {
	cl, found := w.Cluster(s.ClusterID)
	if !found {
		return []connectResult{{ErrCodeClusterNotFound, rSettleFailedCloudHSM}}
	}
	var rs []connectResult
	add := func(code ConnectionErrorCode, r *Rule) { rs = append(rs, connectResult{code, r}) }
	if cl.ActiveHSMs == 0 {
		add(ErrCodeInsufficientCloudHsmHsms, rSettleFailedCloudHSM)
	} else if !cl.Initialized {
		add(ErrCodeInsufficientCloudHsmHsms, rSettleFailedLate)
	}
	if !cl.NetworkOK {
		add(ErrCodeNetworkErrors, rSettleFailedLate)
	}
	switch cl.Fault {
	case ClusterNoFreeAddresses:
		add(ErrCodeInsufficientFreeAddresses, rSettleFailedCloudHSM)
	case ClusterSubnetDeleted:
		add(ErrCodeSubnetNotFound, rSettleFailedCloudHSM)
	case ClusterNetworkError:
		add(ErrCodeNetworkErrors, rSettleFailedCloudHSM)
	case ClusterInternalError:
		add(ErrCodeInternalError, rSettleFailedCloudHSM)
	}
	switch cl.Kmsuser {
	case KmsuserMissing:
		add(ErrCodeUserNotFound, rSettleFailedCloudHSM)
	case KmsuserLockedOut:
		add(ErrCodeUserLockedOut, rSettleFailedCloudHSM)
	case KmsuserLoggedIn:
		add(ErrCodeUserLoggedIn, rSettleFailedCloudHSM)
	default:
		if s.Password != cl.Password {
			add(ErrCodeInvalidCredentials, rSettleFailedCloudHSM)
			if cl.FailedLogins+1 >= KmsuserLockoutAttempts {
				add(ErrCodeUserLockedOut, rKmsuserLockout)
			}
		}
	}
	if len(rs) == 0 {
		return []connectResult{{"", rSettleConnected}}
	}
	return dedupeResults(rs)
}

func xksConnect(w World, s Store) []connectResult {
	if s.Connectivity == VpcEndpointService {
		// KMS creates the interface endpoint before it can reach the proxy.
		v, found := w.vpcServiceOf(s.VpcService, s.VpcOwner)
		if !found {
			return []connectResult{{ErrCodeXksVpcEndpointServiceNotFound, rSettleFailedXks}}
		}
		if v.Status.misconfigured() {
			return []connectResult{{ErrCodeXksVpcServiceInvalidConfig, rSettleFailedXks}}
		}
		if v.Status == VpcServiceKMSNotAllowed {
			return []connectResult{{ErrCodeXksVpcEndpointServiceNotFound, rXksVpcKMSNotAllowed},
				{ErrCodeXksVpcServiceInvalidConfig, rXksVpcKMSNotAllowed}}
		}
	}
	var rs []connectResult
	as := healthCheck(w, s)
	for _, a := range as {
		switch a {
		case pxOK:
			rs = append(rs, connectResult{"", rSettleConnected})
		case pxNoTCP, pxEKMUnavailable:
			rs = append(rs, connectResult{ErrCodeXksProxyNotReachable, rSettleFailedXks})
		case pxTimeout:
			rs = append(rs, connectResult{ErrCodeXksProxyTimedOut, rSettleFailedXks})
		case pxNetwork:
			rs = append(rs, connectResult{ErrCodeNetworkErrors, rXksNetwork})
		case pxKMSInternal:
			rs = append(rs, connectResult{ErrCodeInternalError, rXksKMSInternal})
		case pxTLS:
			rs = append(rs, connectResult{ErrCodeXksProxyInvalidTLS, rSettleFailedXks})
		case pxAuth:
			rs = append(rs, connectResult{ErrCodeInvalidCredentials, rSettleFailedXks})
		case pxMalformed:
			rs = append(rs, connectResult{ErrCodeXksProxyInvalidResponse, rSettleFailedXks})
		case pxBadShape:
			rs = append(rs, connectResult{ErrCodeXksProxyInvalidResponse, rXksAnswerShape})
		case pxPath:
			rs = append(rs, connectResult{ErrCodeXksProxyInvalidConfiguration, rSettleFailedXksInferred})
		case pxDenied:
			rs = append(rs, connectResult{ErrCodeXksProxyAccessDenied, rSettleFailedXksInferred})
		case pxThrottled, pxDepTimeout, pxInternal:
			for _, code := range []ConnectionErrorCode{ErrCodeXksProxyNotReachable, ErrCodeXksProxyTimedOut,
				ErrCodeXksProxyInvalidResponse, ErrCodeInternalError} {
				rs = append(rs, connectResult{code, rSettleFailedXksU})
			}
		}
	}
	return dedupeResults(rs)
}

func dedupeResults(rs []connectResult) []connectResult {
	return dedupeBy(rs, func(r connectResult) ConnectionErrorCode { return r.code })
}

// ---- environment operations ----

func stepEnv(w World, c Call) []Outcome {
	n := w.Clone()
	switch c.Op {
	case OpSettle:
		s, found := w.Store(deref(c.StoreID))
		switch {
		case !found || !s.State.Transient():
			return []Outcome{ok(rulesOf(rSettleNoop), w)}
		case s.State == Disconnecting:
			s.State = Disconnected
			return []Outcome{ok(rulesOf(rSettleDisconnected), setStore(w, s))}
		}
		return []Outcome{settleConnecting(w, s)}
	case OpSetCluster:
		if c.Cluster != nil {
			if i := n.clusterIndex(c.Cluster.ID); i >= 0 {
				n.Clusters[i] = *c.Cluster
			} else {
				n.Clusters = append(n.Clusters, *c.Cluster)
			}
		}
	case OpDeleteCluster:
		if i := n.clusterIndex(c.ClusterID); i >= 0 {
			n.Clusters = append(n.Clusters[:i], n.Clusters[i+1:]...)
		}
	case OpSetProxy:
		if c.Proxy != nil {
			p := *c.Proxy
			p.Accepted = append([]Credential(nil), p.Accepted...)
			p.Keys = append([]ExternalKey(nil), p.Keys...)
			if i := n.proxyIndex(p.Endpoint); i >= 0 {
				n.Proxies[i] = p
			} else {
				n.Proxies = append(n.Proxies, p)
			}
		}
	case OpDeleteProxy:
		if i := n.proxyIndex(c.Endpoint); i >= 0 {
			n.Proxies = append(n.Proxies[:i], n.Proxies[i+1:]...)
		}
	case OpSetVpcService:
		if c.VpcServiceSpec != nil {
			replaced := false
			for i := range n.VpcServices {
				if n.VpcServices[i].Name == c.VpcServiceSpec.Name && n.VpcServices[i].Owner == c.VpcServiceSpec.Owner {
					n.VpcServices[i], replaced = *c.VpcServiceSpec, true
				}
			}
			if !replaced {
				n.VpcServices = append(n.VpcServices, *c.VpcServiceSpec)
			}
		}
	case OpDeleteVpcService:
		for i := range n.VpcServices {
			if n.VpcServices[i].Name == c.VpcServiceName {
				n.VpcServices = append(n.VpcServices[:i], n.VpcServices[i+1:]...)
				break
			}
		}
	case OpExpireKeyDeletion:
		if i := n.keyIndex(c.KeyID); i >= 0 && n.Keys[i].State == KeyPendingDeletion {
			n.Keys = append(n.Keys[:i], n.Keys[i+1:]...)
			return []Outcome{ok(rulesOf(rExpire), n)}
		}
		return []Outcome{ok(rulesOf(rExpire), w)}
	case OpDeleteKeyMaterial:
		if i := n.keyIndex(c.KeyID); i >= 0 {
			if s, _ := n.Store(n.Keys[i].Store); s.Type == CloudHSM {
				n.Keys[i].MaterialDeleted = true
			}
		}
	default:
		return []Outcome{fail(w, "UnknownOperationException", rUnknownOp)}
	}
	return []Outcome{ok(rulesOf(rEnv), n)}
}
