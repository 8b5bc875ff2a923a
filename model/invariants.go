package model

import (
	"errors"
	"fmt"
)

// CheckWorld checks the invariants every reachable world keeps (spec §1,
// §2.5, §4.2, §5, §8). It returns every violation found, joined.
func CheckWorld(w World) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(w.Stores) > StoreQuota {
		bad("%d stores exceed the quota of %d", len(w.Stores), StoreQuota)
	}
	ids, names, anchors, uris, vpcs := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	vpcEndpoints, publicEndpoints := map[string]int{}, map[string]bool{}
	for _, s := range w.Stores {
		if ids[s.ID] {
			bad("store id %s twice", s.ID)
		}
		ids[s.ID] = true
		if names[s.Name] {
			bad("store name %q twice", s.Name)
		}
		names[s.Name] = true
		if (s.ErrorCode != "") != (s.State == Failed) {
			bad("store %s is %s with ConnectionErrorCode %q: the code is present exactly in FAILED", s.ID, s.State, s.ErrorCode)
		}
		if s.ErrorCode != "" && !s.ErrorCode.AppliesTo(s.Type, s.Connectivity) {
			bad("store %s (%s %s) has ConnectionErrorCode %s of another store type", s.ID, s.Type, s.Connectivity, s.ErrorCode)
		}
		switch s.Type {
		case CloudHSM:
			if s.ClusterID == "" || s.TrustAnchor == "" || s.Endpoint != "" {
				bad("CloudHSM store %s has the wrong properties", s.ID)
			}
			if anchors[s.TrustAnchor] {
				bad("two CloudHSM stores share a cluster backup history (store %s)", s.ID)
			}
			anchors[s.TrustAnchor] = true
		case External:
			if s.Endpoint == "" || s.Path == "" || s.ClusterID != "" {
				bad("external key store %s has the wrong properties", s.ID)
			}
			if (s.VpcService != "") != (s.Connectivity == VpcEndpointService) {
				bad("external key store %s: VPC endpoint service %q with connectivity %s", s.ID, s.VpcService, s.Connectivity)
			}
			u := s.Endpoint + s.Path
			if uris[u] {
				bad("two external key stores use %s", u)
			}
			uris[u] = true
			if s.Connectivity == VpcEndpointService {
				vpcEndpoints[s.Endpoint]++
				if vpcs[s.VpcService] {
					bad("two external key stores use VPC endpoint service %s", s.VpcService)
				}
				vpcs[s.VpcService] = true
			} else {
				publicEndpoints[s.Endpoint] = true
			}
		default:
			bad("store %s has type %q", s.ID, s.Type)
		}
	}
	for e, n := range vpcEndpoints {
		if n > 1 || publicEndpoints[e] {
			bad("endpoint %s is shared by a VPC store and another store", e)
		}
	}
	keyIDs, xksIDs := map[string]bool{}, map[string]bool{}
	for _, k := range w.Keys {
		if keyIDs[k.ID] {
			bad("key id %s twice", k.ID)
		}
		keyIDs[k.ID] = true
		s, found := w.Store(k.Store)
		if !found {
			bad("key %s is in store %s, which does not exist", k.ID, k.Store)
			continue
		}
		switch k.State {
		case KeyEnabled, KeyDisabled, KeyPendingDeletion:
		default:
			bad("key %s has own state %s", k.ID, k.State)
		}
		if (s.Type == External) != (k.XksKeyID != "") {
			bad("key %s: XksKeyId %q in a %s store", k.ID, k.XksKeyID, s.Type)
		}
		if k.XksKeyID != "" {
			id := k.Store + "/" + k.XksKeyID
			if xksIDs[id] {
				bad("two keys of store %s use external key %s", k.Store, k.XksKeyID)
			}
			xksIDs[id] = true
		}
	}
	return errors.Join(errs...)
}

// CheckOutcomes checks one Step: the outcome set is not empty, every outcome
// has a world and a rule, a failed call changes nothing, and every change of
// a store or a key is one the documentation allows for this call (spec §3,
// §4.1, §5).
func CheckOutcomes(w World, c Call, outs []Outcome) error {
	if len(outs) == 0 {
		return fmt.Errorf("%s: no outcome allowed", c.Op)
	}
	var errs []error
	for _, o := range outs {
		if len(o.Worlds) == 0 {
			errs = append(errs, fmt.Errorf("%s → %s: no world", c.Op, o.Error.Short()))
		}
		if len(o.Rules) == 0 {
			errs = append(errs, fmt.Errorf("%s → %s: no rule allows it", c.Op, o.Error.Short()))
		}
		for _, n := range o.Worlds {
			if err := checkTransition(w, c, o, n); err != nil {
				errs = append(errs, fmt.Errorf("%s → %s: %w", c.Op, o.Error.Short(), err))
			}
		}
	}
	if c.Op == OpGenerateRandom && c.StoreID != nil {
		if s, found := w.Store(*c.StoreID); found && s.Type == External {
			if len(outs) != 1 || outs[0].Error != ErrUnsupportedOperation {
				errs = append(errs, errors.New("GenerateRandom with an external key store must be UnsupportedOperationException"))
			}
		}
	}
	return errors.Join(errs...)
}

func checkTransition(w World, c Call, o Outcome, n World) error {
	if o.Error != Success {
		if !identical(n, w) && n.Fingerprint() != w.Fingerprint() {
			return errors.New("a failed call changed the world")
		}
		return nil
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	target := deref(c.StoreID)
	for _, s := range w.Stores {
		t, found := n.Store(s.ID)
		if !found {
			if c.Op != OpDeleteCustomKeyStore || target != s.ID || s.State != Disconnected || len(w.KeysIn(s.ID)) > 0 {
				bad("store %s vanished", s.ID)
			}
			continue
		}
		if t.State == s.State {
			continue
		}
		if s.ID != target {
			bad("store %s changed state although the call named %q", s.ID, target)
		}
		from, to := s.State, t.State
		legal := false
		switch c.Op {
		case OpConnectCustomKeyStore:
			legal = from == Disconnected && to == Connecting
		case OpDisconnectCustomKeyStore:
			legal = (from == Connected || from == Connecting) && to == Disconnecting ||
				from == Failed && (to == Disconnecting || to == Disconnected)
		case OpSettle:
			legal = from == Connecting && (to == Connected || to == Failed) || from == Disconnecting && to == Disconnected
		}
		if !legal {
			bad("store %s went %s → %s on %s", s.ID, from, to, c.Op)
		}
	}
	added := 0
	for _, t := range n.Stores {
		if _, found := w.Store(t.ID); !found {
			added++
			if c.Op != OpCreateCustomKeyStore || t.State != Disconnected || t.ID != o.StoreID {
				bad("store %s appeared in %s on %s", t.ID, t.State, c.Op)
			}
		}
	}
	if added > 1 {
		bad("%d stores appeared", added)
	}
	if c.Op == OpCreateCustomKeyStore && o.StoreID == "" {
		bad("a successful create returned no store id")
	}
	keyOp := c.Op == OpEnableKey || c.Op == OpDisableKey || c.Op == OpScheduleKeyDeletion || c.Op == OpCancelKeyDeletion
	for _, k := range w.Keys {
		m, found := n.Key(k.ID)
		if !found {
			if c.Op != OpExpireKeyDeletion || k.State != KeyPendingDeletion {
				bad("key %s vanished", k.ID)
			}
			continue
		}
		if m.State != k.State && !(keyOp && c.KeyID == k.ID) {
			bad("key %s's own state changed %s → %s on %s: connection changes must keep it, to restore it on reconnect", k.ID, k.State, m.State, c.Op)
		}
	}
	for _, m := range n.Keys {
		if _, found := w.Key(m.ID); !found && (c.Op != OpCreateKey || m.State != KeyEnabled || m.ID != o.KeyID) {
			bad("key %s appeared on %s", m.ID, c.Op)
		}
	}
	return errors.Join(errs...)
}
