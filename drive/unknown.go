package drive

import (
	"fmt"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/targets"
)

// UnknownBackingError is the error of a call that was not sent: it names a
// cluster, proxy, credential or key of the model's fixtures that the run
// neither was given nor can create on the target. What the target would
// answer depends on a fact the run does not know (does this cluster exist?
// is this made-up proxy reachable?), so a cell that needs it is unreachable,
// never failed.
type UnknownBackingError struct {
	What string // what the call would name
	Need string // what would reach it: the variable to set or the capability
}

func (e *UnknownBackingError) Error() string {
	return fmt.Sprintf("the call names %s, which the run was not given (%s)", e.What, e.Need)
}

// Offer says which of the model's fixtures a target can make real beyond
// the backing it was given: a control plane that creates clusters, one
// that runs proxies at any endpoint, or control of the one proxy behind
// the target (its keys and credentials).
type Offer struct {
	Clusters, Proxies, OneProxy bool
}

// OfferOf reads a target's offer from its capabilities.
func OfferOf(t targets.Target) Offer {
	var o Offer
	_, o.Clusters = t.(targets.ClusterControl)
	_, o.Proxies = t.(targets.ProxyFleet)
	_, o.OneProxy = t.(targets.ProxyControl)
	o.OneProxy = o.OneProxy || o.Proxies
	return o
}

// fixtureNeeds maps a fixture value to the kind of backing it stands for
// and what would let the run use it.
type fixtureNeed struct {
	what, need string
	offered    func(Offer) bool
}

func fixtureNeeds() map[string]fixtureNeed {
	clusters := func(o Offer) bool { return o.Clusters }
	proxies := func(o Offer) bool { return o.Proxies }
	oneProxy := func(o Offer) bool { return o.OneProxy }
	return map[string]fixtureNeed{
		model.ClusterA:                {"a CloudHSM cluster", "set " + targets.EnvCloudHSMClusterID, clusters},
		model.ClusterARelated:         {"a cluster restored from a backup of the first", "needs control of CloudHSM clusters", clusters},
		model.ClusterB:                {"a second CloudHSM cluster", "set " + targets.EnvCloudHSMClusterID + targets.SecondSuffix + " with its trust anchor and kmsuser password, or give control of clusters", clusters},
		model.ClusterC:                {"a third CloudHSM cluster", "needs control of CloudHSM clusters", clusters},
		model.TrustAnchorA:            {"the cluster's trust anchor", "set " + targets.EnvCloudHSMTrustAnchorFile, clusters},
		model.KmsuserPassword:         {"the kmsuser password", "set " + targets.EnvCloudHSMKmsuserPassword, clusters},
		model.EndpointA:               {"an XKS proxy endpoint", "set " + targets.EnvXKSURIEndpoint, proxies},
		model.EndpointB:               {"a second XKS proxy", "set " + targets.EnvXKSURIEndpoint + targets.SecondSuffix + " with its path and credential, or give control of proxies at any endpoint", proxies},
		model.EndpointC:               {"a third XKS proxy", "needs control of XKS proxies at any endpoint", proxies},
		model.PathV1:                  {"the XKS proxy's URI path", "set " + targets.EnvXKSURIPath, proxies},
		model.PathAlt:                 {"a second URI path on the XKS proxy", "needs control of XKS proxies at any endpoint", proxies},
		model.CredentialA.AccessKeyID: {"the XKS proxy credential", "set " + targets.EnvXKSAccessKeyID, proxies},
		model.CredentialB.AccessKeyID: {"a second XKS proxy credential", "needs control of the XKS proxy (set KMSCONFORM_XKS_CONTROL_URL)", oneProxy},
		model.XksKey1:                 {"an external key on the proxy", "set KMSCONFORM_XKS_KEY_ID or KMSCONFORM_XKS_CONTROL_URL", oneProxy},
		model.XksKey2:                 {"a second external key on the proxy", "set a second id in KMSCONFORM_XKS_KEY_ID or KMSCONFORM_XKS_CONTROL_URL", oneProxy},
		model.VpcServiceA:             {"a VPC endpoint service", "set " + targets.EnvXKSVpcEndpointService, proxies},
		model.VpcServiceB:             {"a second VPC endpoint service", "needs control of VPC endpoint services", proxies},
	}
}

var needs = fixtureNeeds()

// unknown returns the error for a call that names a fixture the run can
// neither substitute nor make real, nil when the call may be sent.
func (m *Mapper) unknown(c model.Call) error {
	if !m.strict || model.Invalid(c) {
		// A call that breaks an input constraint is answered
		// ValidationException whatever it names.
		return nil
	}
	var vals []*string
	if in := c.Create; in != nil {
		vals = append(vals, in.ClusterID, in.TrustAnchor, in.Password, in.Endpoint, in.Path, in.VpcService)
		if in.Credential != nil {
			vals = append(vals, &in.Credential.AccessKeyID)
		}
	}
	if u := c.Update; u != nil {
		vals = append(vals, u.ClusterID, u.Password, u.Endpoint, u.Path, u.VpcService)
		if u.Credential != nil {
			vals = append(vals, &u.Credential.AccessKeyID)
		}
	}
	if k := c.CreateKey; k != nil && m.ownStore(c.StoreID) {
		vals = append(vals, k.XksKeyID)
	}
	if u := c.Update; u != nil && u.Endpoint != nil && *u.Endpoint == model.EndpointB && u.Credential == nil && m.subst2 != nil &&
		m.subst2[model.CredentialA.AccessKeyID] != m.v(model.CredentialA.AccessKeyID) {
		// KMS checks the new proxy with the store's credential, the first
		// proxy's: whether the second proxy accepts it is not known.
		return &UnknownBackingError{What: "the second XKS proxy with the first proxy's credential",
			Need: "the model's second proxy accepts it; give both proxies the same credential to reach it"}
	}
	if err := m.madeUp(c); err != nil {
		return err
	}
	for _, v := range vals {
		if v == nil {
			continue
		}
		n, fixture := needs[*v]
		if !fixture || n.offered(m.offer) {
			continue
		}
		if _, ok := m.subst[*v]; ok {
			continue
		}
		return &UnknownBackingError{What: n.what, Need: n.need}
	}
	return nil
}

// madeUp refuses a valid call that names a cluster, proxy endpoint, VPC
// endpoint service or external key that is no fixture at all (a boundary
// value of the validation suite, say) on a target that cannot make it
// real: whether it exists, or answers, is not known to the run. A call
// that breaks an input constraint is answered ValidationException whatever
// it names, so it may be sent.
func (m *Mapper) madeUp(c model.Call) error {
	if model.Invalid(c) {
		return nil
	}
	type value struct {
		p       *string
		what    string
		offered bool
	}
	var vals []value
	if in := c.Create; in != nil {
		vals = append(vals, value{in.ClusterID, "a made-up CloudHSM cluster id", m.offer.Clusters},
			value{in.Endpoint, "a made-up XKS proxy endpoint", m.offer.Proxies},
			value{in.VpcService, "a made-up VPC endpoint service", m.offer.Proxies})
	}
	if u := c.Update; u != nil {
		vals = append(vals, value{u.ClusterID, "a made-up CloudHSM cluster id", m.offer.Clusters},
			value{u.Endpoint, "a made-up XKS proxy endpoint", m.offer.Proxies},
			value{u.VpcService, "a made-up VPC endpoint service", m.offer.Proxies})
	}
	if k := c.CreateKey; k != nil && m.ownStore(c.StoreID) {
		vals = append(vals, value{k.XksKeyID, "a made-up external key id", m.offer.OneProxy})
	}
	for _, v := range vals {
		if v.p == nil || v.offered {
			continue
		}
		if _, fixture := needs[*v.p]; fixture {
			continue
		}
		return &UnknownBackingError{What: v.what, Need: "whether it exists or answers is not known to the run; a target that controls its backing reaches it"}
	}
	return nil
}

// ownStore reports whether a CustomKeyStoreId names a store this mapper
// created. A CreateKey in a store that does not exist is answered
// CustomKeyStoreNotFoundException whatever external key it names.
func (m *Mapper) ownStore(id *string) bool {
	if id == nil {
		return false
	}
	_, ok := m.stores[*id]
	return ok
}
