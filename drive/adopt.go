package drive

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/wait"
)

// On a target that shares its backing, a store that holds a key keeps its
// cluster or proxy URI for the 7 days of the key's deletion window, so a
// scenario that starts by creating a store there cannot. It can adopt the
// store instead: the store the walk (or the scenario before) left, with
// the same configuration, disconnected and renamed, its keys pending
// deletion carried into the scenario's world. The scenario then runs from
// its second step, followed by the model as always.

// adoption is what a scenario needs to run on an adopted store.
type adoption struct {
	world   model.World       // the world after the scenario's first step, the adopted keys in it
	sid     string            // the model id of the store the first step creates
	storeID string            // the adopted store's id on the target
	keys    map[string]string // model key id → target key id, for the adopted keys
	xksKey  string            // the external key the model's first key stands for ("" to keep the run's)
	xksKey2 string            // the one its second key stands for, when the scenario names it
	// reconfigure: set the store's XKS credential and path as the first
	// step has them.
	reconfigure bool
	// lent: the store goes back to the walk as the scenario leaves it (its
	// sweep does not touch it).
	lent bool
}

// adopt prepares the adoption of the store the lane left for scenario s,
// or says why it cannot ("" reason with a non-nil adoption).
func (h *Driver) adopt(ctx context.Context, t model.StoreType, s Scenario, keep *kept) (*adoption, string) {
	if keep == nil || keep.storeID == "" {
		return nil, "no store is left to adopt"
	}
	if len(s.Steps) == 0 || s.Steps[0].Op != model.OpCreateCustomKeyStore {
		return nil, "its first step does not create a store"
	}
	outs := model.Step(model.NewWorld(), s.Steps[0])
	if len(outs) != 1 || outs[0].Error != model.Success || len(outs[0].Worlds) != 1 {
		return nil, "its first step does not create a store"
	}
	w, sid := outs[0].Worlds[0], outs[0].StoreID
	ns, _ := w.Store(sid)
	ks := keep.store
	// A scenario whose store gets the kmsuser password the run was given
	// adopts a store KMS can log in with (the password KMS holds for it);
	// one whose store gets another password (a wrong one) adopts a store
	// with that password on a cluster whose kmsuser password KMS has not
	// rotated, as its own store would be.
	otherPassword := ks.Type == model.CloudHSM && ns.Password != model.KmsuserPassword
	if otherPassword {
		if cl, ok := keep.world.Cluster(ks.ClusterID); !ok || cl.Password != model.KmsuserPassword || ks.Password != ns.Password {
			return nil, "the store left does not have the kmsuser password its first step gives, on a cluster whose password KMS has not rotated"
		}
	}
	if ks.Type != ns.Type || ks.ClusterID != ns.ClusterID || ks.Endpoint != ns.Endpoint ||
		ks.Connectivity != ns.Connectivity || ks.VpcService != ns.VpcService {
		return nil, "the store left is not configured as its first step asks"
	}
	// The scenario's world: its new store as the one left (the password KMS
	// holds for it, the cluster as KMS left it), with the keys it holds.
	a := &adoption{storeID: keep.storeID, sid: sid, keys: map[string]string{},
		// An XKS store's credential and path may have moved (a rotation
		// cell): the adoption updates them back while it is disconnected.
		reconfigure: ks.Type == model.External && (ks.Credential != ns.Credential || ks.Path != ns.Path)}
	n := w.Clone()
	for i := range n.Stores {
		if n.Stores[i].ID == sid {
			n.Stores[i].Password = ks.Password
		}
	}
	for i := range n.Clusters {
		if cl, ok := keep.world.Cluster(n.Clusters[i].ID); ok && n.Clusters[i].ID == ks.ClusterID {
			n.Clusters[i] = cl
		}
	}
	for i, k := range keep.keys {
		id := fmt.Sprintf("adopted-%d", i+1)
		ak := model.Key{ID: id, Store: sid, State: k.State}
		if k.XksKeyID != "" {
			ak.XksKeyID = "adopted-" + k.XksKeyID // not the scenario's: it gets one of its own
		}
		n.Keys = append(n.Keys, ak)
		a.keys[id] = keep.targetKeys[i]
	}
	// It must be able to connect again (unless the scenario makes it fail
	// on purpose).
	conn := model.Step(n, model.Call{Op: model.OpConnectCustomKeyStore, StoreID: &sid})
	ok := len(conn) == 1 && conn[0].Error == model.Success
	if ok && !otherPassword {
		for _, so := range model.Step(conn[0].Worlds[0], model.Call{Op: model.OpSettle, StoreID: &sid}) {
			for _, sw := range so.Worlds {
				if st, _ := sw.Store(sid); st.State != model.Connected {
					ok = false
				}
			}
		}
	}
	if !ok {
		return nil, "the store left cannot connect again (the walk broke its kmsuser password for good)"
	}
	if t == model.External {
		key, ok := h.spareXksKey()
		if !ok {
			return nil, "it needs an external key no key of the store left uses: list more in KMSCONFORM_XKS_KEY_ID, or set KMSCONFORM_XKS_CONTROL_URL"
		}
		a.xksKey = key
		if namesXksKey2(s) {
			// The store left holds keys on the run's external keys: the
			// scenario's second key needs a fresh one too.
			if a.xksKey2, ok = h.spareXksKey(); !ok {
				return nil, "it needs two external keys no key of the store left uses: list more in KMSCONFORM_XKS_KEY_ID, or set KMSCONFORM_XKS_CONTROL_URL"
			}
		}
	}
	a.world = n
	return a, ""
}

// namesXksKey2 reports whether a scenario creates a key on the model's
// second external key.
func namesXksKey2(s Scenario) bool {
	for _, c := range s.Steps {
		if c.CreateKey != nil && c.CreateKey.XksKeyID != nil && *c.CreateKey.XksKeyID == model.XksKey2 {
			return true
		}
	}
	return false
}

// spareXksKey returns an external key for an adopting scenario: a new one
// the run creates through its control of the proxy, else the next of the
// KMSCONFORM_XKS_KEY_ID keys past the first two (which stand for the
// model's keys).
func (h *Driver) spareXksKey() (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.spares++
	if OfferOf(h.Target).OneProxy {
		return fmt.Sprintf("kmsconform-%s-x%d", h.runID, h.spares), true
	}
	ids := h.Target.Backing().XksKeyIDs
	if i := 1 + h.spares; i < len(ids) {
		return ids[i], true
	}
	return "", false
}

// kept is the store a walk or scenario left on the lane's backing, as the
// model knows it.
type kept struct {
	world      model.World
	store      model.Store
	storeID    string
	keys       []model.Key
	targetKeys []string
}

// keptAfter finds, in the final world of a walk or an adopting scenario,
// the store of type t still on the target (id leftID), with its keys. The
// sweep that ended the walk or scenario scheduled every key of it for
// deletion: they are PendingDeletion.
func keptAfter(w *model.World, m *Mapper, t model.StoreType, leftID string) *kept {
	if w == nil || m == nil || leftID == "" {
		return nil
	}
	for _, s := range w.Stores {
		if s.Type != t || m.StoreID(s.ID) != leftID {
			continue
		}
		k := &kept{world: *w, store: s, storeID: leftID}
		for _, key := range w.KeysIn(s.ID) {
			key.State = model.KeyPendingDeletion
			k.keys = append(k.keys, key)
			k.targetKeys = append(k.targetKeys, m.KeyID(key.ID))
		}
		return k
	}
	return nil
}

// adoptedScenario runs scenario s on an adopted store: it brings the store
// to DISCONNECTED, renames it as the scenario names its store, and runs
// the steps after the first from the adoption's world.
func (r *cellRun) adoptedScenario(ctx context.Context, s Scenario, a *adoption) error {
	if a.lent {
		r.m.borrowed = map[string]bool{a.storeID: true}
	}
	if why := r.lacks(s); why != "" {
		return endWith(Unreachable, "the scenario %s", why)
	}
	if a.xksKey != "" {
		r.m.subst[model.XksKey1] = a.xksKey
	}
	if a.xksKey2 != "" {
		r.m.subst[model.XksKey2] = a.xksKey2
	}
	if err := r.mendProxy(ctx); err != nil {
		return err
	}
	to := r.h.Target.Timeouts()
	limit := max(to.Connect, to.Disconnect)
	opts := wait.Options{Timeout: limit, Poll: max(to.Poll, 1)}
	obs, err := wait.Settled(ctx, r.client, a.storeID, opts)
	if err != nil {
		return endWith(Indeterminate, "adopting store %s: %v", a.storeID, err)
	}
	if obs.State != "DISCONNECTED" {
		r.m.Calls++
		if _, err := r.client.DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(a.storeID)}); err != nil {
			return endWith(Indeterminate, "adopting store %s: DisconnectCustomKeyStore answered %s", a.storeID, Classify(err).Code)
		}
		if obs, err = wait.Settled(ctx, r.client, a.storeID, opts); err != nil || obs.State != "DISCONNECTED" {
			return endWith(Indeterminate, "adopting store %s: it did not settle DISCONNECTED (%s %v)", a.storeID, obs.State, err)
		}
	}
	ns, _ := a.world.Store(a.sid)
	in := &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(a.storeID), NewCustomKeyStoreName: aws.String(r.m.Name(ns.Name))}
	if a.reconfigure {
		in.XksProxyAuthenticationCredential = r.m.cred(&ns.Credential)
		in.XksProxyUriPath = aws.String(r.m.v(ns.Path))
	}
	r.m.Calls++
	if _, err := r.client.UpdateCustomKeyStore(ctx, in); err != nil {
		return endWith(Indeterminate, "adopting store %s: renaming it answered %s", a.storeID, Classify(err).Code)
	}
	r.m.stores[a.sid] = a.storeID
	for id, target := range a.keys {
		r.m.setKey(id, target, "")
	}
	r.route = "api, on an adopted store"
	return r.scenarioSteps(ctx, s, []model.World{a.world}, 1)
}

// atPause returns the walk's pause (a PauseFunc) for a CloudHSM lane: the
// scenarios ss adopt the walk's store, one after the other; their results
// go to results. Those whose store starts with a wrong kmsuser password
// adopt it before the walk mends its wrong password (BeforeMend: KMS has
// not rotated the cluster's password yet, and the store is lent to them:
// their sweep leaves it); the others while it can still connect, before
// the walk breaks its password for good (BeforeBreak). The walk then goes
// on from the world they left: its own keys and theirs pending deletion
// (their sweeps scheduled them), the password and cluster as the last
// scenario left them, the store renamed back.
func (h *Driver) atPause(ss []Scenario, results map[string]ScenarioResult) PauseFunc {
	// A scenario that sets the kmsuser password the run was given breaks
	// the store for what follows: those go last.
	var first, last, wrong []Scenario
	for _, s := range ss {
		if c := s.Steps[0]; c.Op == model.OpCreateCustomKeyStore && c.Create != nil && c.Create.Password != nil &&
			*c.Create.Password != model.KmsuserPassword {
			wrong = append(wrong, s)
			continue
		}
		setsPassword := false
		for _, c := range s.Steps {
			if c.Op == model.OpUpdateCustomKeyStore && c.Update != nil && c.Update.Password != nil {
				setsPassword = true
			}
		}
		if setsPassword {
			last = append(last, s)
		} else {
			first = append(first, s)
		}
	}
	return func(ctx context.Context, at PauseAt, t model.StoreType, w model.World, sid, kid string, m *Mapper) (model.World, bool) {
		order := append(first, last...)
		if at == BeforeMend {
			order = wrong
		}
		subj, ok := w.Store(sid)
		if !ok || len(order) == 0 {
			return w, false
		}
		keep := &kept{world: w, store: subj, storeID: m.StoreID(sid)}
		for _, k := range w.KeysIn(sid) {
			keep.keys = append(keep.keys, k)
			keep.targetKeys = append(keep.targetKeys, m.KeyID(k.ID))
		}
		ran := false
		var last *model.World
		var lastM *Mapper
		for _, s := range order {
			probe := &cellRun{h: h, tgt: h.Target}
			if probe.lacks(s) != "" {
				continue
			}
			a, _ := h.adopt(ctx, t, s, keep)
			if a == nil {
				continue
			}
			a.lent = at == BeforeMend
			res, final, sm := h.runScenario(ctx, s, a)
			results[s.Name] = res
			h.Done("scenario "+res.Name, res.Verdict)
			ran = true
			if final == nil {
				break // where it left the store is not known: the walk re-observes
			}
			if k := keptAfter(final, sm, t, keep.storeID); k != nil {
				keep, last, lastM = k, final, sm
			} else {
				break
			}
		}
		if !ran {
			return w, false
		}
		r := &cellRun{h: h, client: h.Target.KMS(), m: m}
		r.m.Calls++
		_, _ = r.client.UpdateCustomKeyStore(ctx, &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(keep.storeID),
			NewCustomKeyStoreName: aws.String(m.Name(subj.Name))})
		n := w.Clone()
		for i := range n.Keys {
			if n.Keys[i].Store == sid {
				n.Keys[i].State = model.KeyPendingDeletion
			}
		}
		if last != nil {
			for _, fs := range last.Stores {
				if lastM.StoreID(fs.ID) != keep.storeID {
					continue
				}
				for i := range n.Stores {
					if n.Stores[i].ID == sid {
						n.Stores[i].Password = fs.Password
					}
				}
				if cl, ok := last.Cluster(fs.ClusterID); ok {
					for i := range n.Clusters {
						if n.Clusters[i].ID == cl.ID {
							n.Clusters[i] = cl
						}
					}
				}
				walkKeys := map[string]bool{}
				for _, k := range w.KeysIn(sid) {
					walkKeys[m.KeyID(k.ID)] = true
				}
				for _, k := range last.KeysIn(fs.ID) {
					target := lastM.KeyID(k.ID)
					if walkKeys[target] {
						continue
					}
					id := fmt.Sprintf("scenario-key-%d", len(n.Keys)+1)
					n.Keys = append(n.Keys, model.Key{ID: id, Store: sid, State: model.KeyPendingDeletion})
					m.setKey(id, target, "")
				}
			}
		}
		return n, true
	}
}
