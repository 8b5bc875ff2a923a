package model

import (
	"fmt"
	"hash/maphash"
)

// Calls returns the calls an exploration tries in world w: every operation
// of the model on every store and key of w, creates that succeed and that
// collide, and the environment changes a target's control plane can make
// (settling a transition, breaking and fixing a cluster or a proxy, ending a
// deletion window). Inputs come from the fixture values, so the set is finite
// and depends only on w.
func Calls(w World) []Call {
	var cs []Call
	add := func(c Call) { cs = append(cs, c) }
	// Creates: a fresh store of each type, and a name collision.
	fresh := fmt.Sprintf("store-%d", w.NextStore)
	add(Call{Op: OpCreateCustomKeyStore, Create: CreateCloudHSMInput(fresh, ClusterC, TrustAnchorC, KmsuserPassword)})
	add(Call{Op: OpCreateCustomKeyStore, Create: CreateXksInput(fresh, EndpointC, PathV1, CredentialA)})
	if len(w.Stores) > 0 {
		s := w.Stores[0]
		add(Call{Op: OpCreateCustomKeyStore, Create: CreateCloudHSMInput(s.Name, ClusterC, TrustAnchorC, KmsuserPassword)})
		if s.Type == CloudHSM {
			// The idempotent retry, or a collision when the store is not DISCONNECTED.
			add(Call{Op: OpCreateCustomKeyStore, Create: CreateCloudHSMInput(s.Name, s.ClusterID, s.TrustAnchor, s.Password)})
		}
	}
	add(Call{Op: OpDescribeCustomKeyStores})
	add(Call{Op: OpDescribeCustomKeyStores, StoreID: Ptr(StoreIDFor(999))})
	for _, s := range w.Stores {
		id := Ptr(s.ID)
		if s.State.Transient() {
			add(Call{Op: OpSettle, StoreID: id})
		}
		add(Call{Op: OpConnectCustomKeyStore, StoreID: id})
		add(Call{Op: OpDisconnectCustomKeyStore, StoreID: id})
		add(Call{Op: OpDeleteCustomKeyStore, StoreID: id})
		add(Call{Op: OpDescribeCustomKeyStores, StoreID: id})
		add(Call{Op: OpDescribeCustomKeyStores, StoreName: Ptr(s.Name)})
		add(Call{Op: OpUpdateCustomKeyStore, StoreID: id, Update: &UpdateStoreInput{NewName: Ptr(s.Name + "-renamed")}})
		add(Call{Op: OpCreateKey, StoreID: id, CreateKey: CreateKeyFor(s.Type, XksKey1)})
		add(Call{Op: OpGenerateRandom, StoreID: id, NumberOfBytes: Ptr(32)})
		if s.Type == CloudHSM {
			pw := WrongKmsuserPassword
			if s.Password == WrongKmsuserPassword {
				pw = KmsuserPassword
			}
			add(Call{Op: OpUpdateCustomKeyStore, StoreID: id, Update: &UpdateStoreInput{Password: Ptr(pw)}})
		} else {
			cred := CredentialB
			if s.Credential == CredentialB {
				cred = CredentialA
			}
			add(Call{Op: OpUpdateCustomKeyStore, StoreID: id, Update: &UpdateStoreInput{Credential: &cred}})
		}
	}
	for _, k := range w.Keys {
		for _, op := range []Op{OpEncrypt, OpDescribeKey, OpEnableKey, OpDisableKey, OpScheduleKeyDeletion,
			OpCancelKeyDeletion, OpGenerateDataKeyPair, OpEnableKeyRotation} {
			add(Call{Op: op, KeyID: k.ID})
		}
		if k.State == KeyPendingDeletion {
			add(Call{Op: OpExpireKeyDeletion, KeyID: k.ID})
		}
	}
	// The backing: break and mend cluster A and proxy A.
	if cl, found := w.Cluster(ClusterA); found {
		broken := cl
		if cl.Password == KmsuserPassword {
			broken.Password = "changedByUser1"
		} else {
			broken.Password = KmsuserPassword
		}
		add(Call{Op: OpSetCluster, Cluster: &broken})
		zero := cl
		zero.ActiveHSMs = 2 - cl.ActiveHSMs
		add(Call{Op: OpSetCluster, Cluster: &zero})
	}
	if p, found := w.Proxy(EndpointA); found {
		flip := p
		flip.Fault = ProxyUnreachable
		if p.Fault != ProxyHealthy {
			flip.Fault = ProxyHealthy
		}
		add(Call{Op: OpSetProxy, Proxy: &flip})
		rotated := p
		rotated.Accepted = []Credential{CredentialB}
		if len(p.Accepted) == 1 && p.Accepted[0] == CredentialB {
			rotated.Accepted = []Credential{CredentialA, CredentialB}
		}
		add(Call{Op: OpSetProxy, Proxy: &rotated})
	}
	return cs
}

// WalkStats counts what a walk explored.
type WalkStats struct {
	Worlds      int // distinct worlds reached, the start included
	Transitions int // (world, call, outcome world) triples checked
	Calls       int // Step calls made
	Depth       int
}

// Walk explores breadth-first every world reachable from start within depth
// calls drawn from next, and calls check on every step (before the outcome
// worlds are queued). It stops at the first error check returns.
func Walk(start World, depth int, next func(World) []Call, check func(w World, c Call, outs []Outcome) error) (WalkStats, error) {
	// Worlds are remembered by a 128-bit digest of their fingerprint: a
	// walk holds hundreds of thousands, and the texts would take gigabytes.
	s1, s2 := maphash.MakeSeed(), maphash.MakeSeed()
	digest := func(w World) [2]uint64 {
		f := w.Fingerprint()
		return [2]uint64{maphash.String(s1, f), maphash.String(s2, f)}
	}
	seen := map[[2]uint64]bool{digest(start): true}
	frontier := []World{start}
	st := WalkStats{Worlds: 1}
	for d := 0; d < depth && len(frontier) > 0; d++ {
		var nextFrontier []World
		for _, w := range frontier {
			for _, c := range next(w) {
				outs := Step(w, c)
				st.Calls++
				if err := check(w, c, outs); err != nil {
					return st, fmt.Errorf("depth %d, %s in world %s: %w", d+1, c.Op, w.Fingerprint(), err)
				}
				for _, o := range outs {
					for _, n := range o.Worlds {
						st.Transitions++
						if identical(n, w) {
							continue
						}
						f := digest(n)
						if !seen[f] {
							seen[f] = true
							nextFrontier = append(nextFrontier, n)
						}
					}
				}
			}
		}
		frontier = nextFrontier
		st.Worlds = len(seen)
		st.Depth = d + 1
	}
	return st, nil
}
