package model

// AdaptCell returns cell c as a run with options opt can make it, and what
// that changes ("" when c is returned as it is). A run with one cluster, one
// proxy and one proxy credential, and no control of them, cannot send some
// cells' calls as the matrix writes them (they name a second cluster,
// proxy or credential); two of them keep their point when sent on the
// backing the run has, and their expected outcomes are computed again for
// the call that is sent:
//
//   - UpdateCustomKeyStore/xks-credential: the credential the store already
//     has. KMS checks the store's state as for any credential; what is not
//     checked is that a new credential takes effect.
//   - CreateCustomKeyStore/duplicate-name: the subject's cluster (or proxy
//     URI). The store of that name holds it, so KMS may answer for the
//     name or for the backing: which check comes first is not documented
//     (spec §3.3), and both answers are allowed. The CloudHSM call gives
//     another kmsuser password, so that it is never the idempotent
//     re-create of a DISCONNECTED store.
//
// Every other cell is returned as it is.
func AdaptCell(c Cell, opt PlanOptions) (Cell, string) {
	call, route, note := c.Call, c.Route, ""
	switch {
	case c.StoreType == External && !opt.BackingControl && c.Call.Op == OpUpdateCustomKeyStore &&
		c.Call.Update != nil && c.Call.Update.Credential != nil && *c.Call.Update.Credential == CredentialB:
		u := *c.Call.Update
		u.Credential = &CredentialA
		call.Update = &u
		route = nil
		for _, r := range c.Route {
			if r.Op == OpSetProxy && r.Proxy != nil && len(r.Proxy.Accepted) == 2 {
				continue // the rotation's first step: the proxy accepts the new credential too
			}
			route = append(route, r)
		}
		note = "sent with the credential the store already has (the run has one XKS proxy credential and no control of the proxy): " +
			"checks in which states KMS takes a credential update, not that a new credential takes effect"
	case c.Variant == "CreateCustomKeyStore/duplicate-name" && opt.OneBacking && !opt.SecondBacking && c.Column != NoSuchStore:
		if c.StoreType == CloudHSM {
			call.Create = CreateCloudHSMInput(SubjectStoreName, ClusterA, TrustAnchorA, WrongKmsuserPassword)
		} else {
			call.Create = CreateXksInput(SubjectStoreName, EndpointA, PathV1, CredentialA)
		}
		note = "sent on the run's one cluster or proxy URI, which the store of that name holds (the run has no second one): " +
			"the answer may be for the name or for the backing, as which check KMS makes first is not documented"
	default:
		return c, ""
	}
	a, err := BuildCell(c.ID, c.StoreType, c.Column, c.Variant, route, call)
	if err != nil {
		return c, ""
	}
	return a, note
}
