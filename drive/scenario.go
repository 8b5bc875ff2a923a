package drive

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/wait"
)

// Scenario is an end-to-end workflow: a sequence of model calls (API calls,
// environment changes, settling) run on the target while the model follows.
type Scenario struct {
	Name  string
	Steps []model.Call
	// Check, when set, runs after the steps with the scenario's mapper (for
	// what the model does not describe, such as pagination).
	Check func(ctx context.Context, client *kms.Client, m *Mapper) error
}

// Needs returns what the scenario needs of a target beyond the API.
func (s Scenario) Needs() []model.Need {
	for _, c := range s.Steps {
		if c.Op.IsEnv() && c.Op != model.OpSettle {
			return []model.Need{model.NeedBackingControl}
		}
	}
	return nil
}

// RunScenario runs a scenario. The model keeps the set of worlds consistent
// with every answer so far: each API answer must be one the model allows in
// one of them, each settled state one the model reaches, each key state one
// it shows; the scenario fails the moment the set is empty.
func (h *Driver) RunScenario(ctx context.Context, s Scenario) (res ScenarioResult) {
	res, _, _ = h.runScenario(ctx, s, nil)
	return res
}

// runScenario runs a scenario; with an adoption, on a store it adopts
// instead of the one its first step creates. It also returns the model's
// world where the scenario ended (nil unless it passed) and its mapper.
func (h *Driver) runScenario(ctx context.Context, s Scenario, a *adoption) (res ScenarioResult, final *model.World, m *Mapper) {
	start := time.Now()
	res.Name = s.Name
	r := &cellRun{h: h, client: h.Target.KMS(), tgt: h.Target, route: "api"}
	r.m = NewMapper(h.nextPrefix(), h.Target.Backing()).Strict(OfferOf(h.Target))
	defer func() {
		res.Seconds = time.Since(start).Seconds()
		res.Detail = r.m.redact(res.Detail)
		h.addCalls(r.m.Calls)
		r.cleanup(context.WithoutCancel(ctx))
	}()
	m = r.m
	log := &settleLog{}
	ctx = context.WithValue(ctx, settleLogKey{}, log)
	var err error
	if a != nil {
		err = r.adoptedScenario(ctx, s, a)
	} else {
		err = r.scenario(ctx, s)
	}
	if err == nil && len(r.finalWorlds) == 1 {
		final = &r.finalWorlds[0]
	}
	var ve *verdictError
	switch {
	case err == nil:
		res.Verdict = Pass
		res.Detail = fmt.Sprintf("%d steps", len(s.Steps))
		if len(log.settled) > 0 {
			// Name what the settle steps checked, so that a reader of
			// compat.json sees each state and code the scenario asserted.
			res.Detail += "; settled " + strings.Join(log.settled, ", then ")
		}
	case errors.As(err, &ve):
		res.Verdict, res.Detail = ve.verdict, ve.detail
	default:
		res.Verdict, res.Detail = Indeterminate, err.Error()
	}
	return res, final, m
}

func (r *cellRun) scenario(ctx context.Context, s Scenario) error {
	if why := r.lacks(s); why != "" {
		return endWith(Unreachable, "the scenario %s", why)
	}
	if r.resets() {
		if err := r.resetter().Reset(ctx); err != nil {
			return endWith(Indeterminate, "resetting the target: %v", err)
		}
		if err := r.putBacking(ctx, model.NewWorld()); err != nil {
			return err
		}
	} else if err := r.mendProxy(ctx); err != nil {
		return err
	}
	return r.scenarioSteps(ctx, s, []model.World{model.NewWorld()}, 0)
}

// scenarioSteps runs the scenario's steps from the first-th on, from the
// worlds ws.
func (r *cellRun) scenarioSteps(ctx context.Context, s Scenario, ws []model.World, first int) error {
	for i, c := range s.Steps {
		if i < first {
			continue
		}
		next, err := r.scenarioStep(ctx, ws, c)
		if err != nil {
			var ve *verdictError
			if errors.As(err, &ve) {
				ve.detail = fmt.Sprintf("step %d (%s): %s", i+1, c.Op, ve.detail)
			}
			return err
		}
		ws = model.Distinct(next)
		if c.Op == model.OpSettle && len(ws) > 0 {
			if st, ok := ws[0].Store(c.Store()); ok {
				logSettle(ctx, st)
			}
		}
	}
	r.finalWorlds = ws
	if s.Check != nil {
		return s.Check(ctx, r.client, r.m)
	}
	return nil
}

func (r *cellRun) scenarioStep(ctx context.Context, ws []model.World, c model.Call) ([]model.World, error) {
	switch {
	case c.Op == model.OpSettle && !r.m.made(c.Store()):
		// No store of the target stands for it (the create that would have
		// made it was refused): settling it changes nothing, in the model
		// only where the store does not exist either.
		var next []model.World
		for _, w := range ws {
			if _, found := w.Store(c.Store()); !found {
				next = append(next, w)
			}
		}
		if len(next) == 0 {
			return nil, endWith(Fail, "the store was not made, but the model has it")
		}
		return next, nil
	case c.Op == model.OpSettle:
		id := r.m.StoreID(c.Store())
		if th := r.holder(); th != nil {
			if err := th.Settle(ctx, id); err != nil {
				return nil, endWith(Indeterminate, "settling: %v", err)
			}
		}
		state, code, err := r.waitStable(ctx, id)
		if err != nil {
			return nil, err
		}
		var next []model.World
		var allowed []string
		for _, w := range ws {
			for _, o := range model.Step(w, c) {
				for _, n := range o.Worlds {
					st, _ := n.Store(c.Store())
					allowed = append(allowed, strings.TrimSpace(string(st.State)+" "+string(st.ErrorCode)))
					if st.State == state && st.ErrorCode == code {
						next = append(next, n)
					}
				}
			}
		}
		if len(next) == 0 {
			for _, w := range ws {
				if st, ok := w.Store(c.Store()); ok {
					for _, o := range model.Step(w, c) {
						if ns, ok := o.Worlds[0].Store(st.ID); ok {
							if why := r.h.stalePassword(ns, state, code); why != "" {
								return nil, endWith(Unreachable, "%s", why)
							}
						}
					}
				}
			}
			return nil, endWith(Fail, "the store settled to %s; the model allows %s",
				strings.TrimSpace(string(state)+" "+string(code)), strings.Join(slices.Compact(allowed), " or "))
		}
		if state == model.Connected {
			if st, ok := next[0].Store(c.Store()); ok && st.Type == model.CloudHSM {
				r.h.noteCloudHSMConnect()
			}
		}
		return r.observeKeys(ctx, next)
	case c.Op.IsEnv():
		if err := r.applyEnv(ctx, c); err != nil {
			var ve *verdictError
			if errors.As(err, &ve) && ve.verdict == Unreachable {
				// The capability is there but cannot make this change (a
				// proxy's control API asked for a path or fault its proxy
				// has no equivalent of): still a lack of control.
				ve.detail = "the target's control cannot make this change: " + ve.detail
			}
			return nil, err
		}
		var next []model.World
		for _, w := range ws {
			for _, o := range model.Step(w, c) {
				next = append(next, o.Worlds...)
			}
		}
		return next, nil
	}
	var store, key string
	for _, o := range model.Step(ws[0], c) {
		if o.Error == model.Success {
			store, key = o.StoreID, o.KeyID
		}
	}
	ans, err := r.invoke(ctx, c, store, key)
	obs := Classify(err)
	if obs.Unknown != "" {
		return nil, endWith(Unreachable, "%s", obs.Unknown)
	}
	var next []model.World
	var allowed []string
	for _, w := range ws {
		for _, o := range model.Step(w, c) {
			name := string(o.Error)
			if o.Error == model.Success {
				name = SuccessCode
			}
			allowed = append(allowed, name)
			if name == obs.Code {
				next = append(next, o.Worlds...)
			}
		}
	}
	if len(next) == 0 {
		switch {
		case obs.Transport:
			return nil, endWith(Indeterminate, "no answer: %s", obs.Message)
		case obs.NotImplemented:
			return nil, endWith(Unsupported, "%s is not implemented (%s)", c.Op, obs.describe())
		}
		slices.Sort(allowed)
		return nil, endWith(Fail, "answered %s (%s); the model allows %s", orNone(obs.Code), obs.Message, strings.Join(slices.Compact(allowed), " or "))
	}
	if err := checkBody(c.Op, obs.Code == SuccessCode, ans, r.m); err != nil {
		return nil, err
	}
	switch c.Op {
	case model.OpCreateKey, model.OpEnableKey, model.OpDisableKey, model.OpScheduleKeyDeletion, model.OpCancelKeyDeletion:
		return r.observeKeys(ctx, next)
	case model.OpUpdateCustomKeyStore:
		if obs.Code == SuccessCode && c.StoreID != nil {
			return r.observeStore(ctx, next, *c.StoreID)
		}
	}
	return next, nil
}

// observeStore reads the DescribeCustomKeyStores entry of model store id
// after an update and keeps the worlds whose store it matches field by
// field (checkEntryFields): an update the target acknowledged must show.
func (r *cellRun) observeStore(ctx context.Context, ws []model.World, id string) ([]model.World, error) {
	r.m.Calls++
	out, err := r.client.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(r.m.StoreID(id))})
	if err != nil {
		obs := Classify(err)
		return nil, endWith(Fail, "DescribeCustomKeyStores of the updated store answered %s: %s", obs.Code, obs.Message)
	}
	if len(out.CustomKeyStores) != 1 {
		return nil, endWith(Fail, "DescribeCustomKeyStores of the updated store listed %d stores", len(out.CustomKeyStores))
	}
	var next []model.World
	var why error
	for _, w := range ws {
		s, found := w.Store(id)
		if !found {
			continue
		}
		if err := checkEntryFields(out.CustomKeyStores[0], s, r.m, r.creationDates()); err != nil {
			why = err
			continue
		}
		next = append(next, w)
	}
	if len(next) == 0 && why != nil {
		return nil, endWith(Fail, "after the update: %s", detailOf(why))
	}
	if len(next) == 0 {
		return ws, nil
	}
	return next, nil
}

// mendProxy puts the proxy the run controls through a role (not a control
// plane, which resets) back as a new world has it: healthy, accepting the
// run's credential. A walk or scenario before may have left it broken.
func (r *cellRun) mendProxy(ctx context.Context) error {
	if r.proxyControl() == nil {
		return nil
	}
	p := model.HealthyProxy(model.EndpointA)
	return r.applyEnv(ctx, model.Call{Op: model.OpSetProxy, Proxy: &p})
}

// lacks says what the scenario needs that the target cannot do ("" when
// nothing): each environment call needs its own capability.
func (r *cellRun) lacks(s Scenario) string {
	if bothTypes(s) && !r.resets() {
		return "creates stores of both types; a target that shares its backing holds a cluster and a proxy in two lanes that do not wait for each other, so only a target that resets its backing between scenarios runs it"
	}
	for _, c := range s.Steps {
		switch c.Op {
		case model.OpSetProxy, model.OpDeleteProxy:
			if r.proxyControl() == nil && r.fleet() == nil {
				return "changes the XKS proxy, which needs control of it (KMSCONFORM_XKS_CONTROL_URL or a control plane)"
			}
			if c.Proxy != nil && kmsSideFault(c.Proxy.Fault) && r.fleet() == nil {
				return fmt.Sprintf("puts the fault %s between KMS and its XKS proxy, which needs a control plane of the KMS under test (a proxy's control API cannot)", c.Proxy.Fault)
			}
		case model.OpSetCluster, model.OpDeleteCluster, model.OpDeleteKeyMaterial:
			if r.clusters() == nil {
				return "changes the CloudHSM cluster, which needs a control plane that controls clusters"
			}
		case model.OpSetVpcService, model.OpDeleteVpcService:
			if r.fleet() == nil {
				return "changes a VPC endpoint service, which needs a control plane that controls them"
			}
		case model.OpExpireKeyDeletion:
			if r.clock() == nil {
				return "ends a key's deletion window, which needs a control plane that controls time"
			}
		}
	}
	return ""
}

// bothTypes reports whether a scenario creates stores of both types.
func bothTypes(s Scenario) bool {
	seen := map[model.StoreType]bool{}
	for _, c := range s.Steps {
		if c.Op == model.OpCreateCustomKeyStore && c.Create != nil {
			t := model.CloudHSM
			if c.Create.Type != nil && *c.Create.Type == string(model.External) {
				t = model.External
			}
			seen[t] = true
		}
	}
	return len(seen) == 2
}

// resets reports whether the target runs each scenario from a reset
// backing of its own (see scenario).
func (r *cellRun) resets() bool {
	return r.resetter() != nil && r.holder() != nil && r.clusters() != nil && r.fleet() != nil
}

// kmsSideFault reports whether a proxy fault lies on KMS's side of the
// connection (its network path or KMS itself), where no proxy can put it.
func kmsSideFault(f model.ProxyFault) bool {
	return f == model.ProxyNetworkError || f == model.ProxyKMSInternalError
}

// waitStable waits (package wait) for a store to be neither CONNECTING nor
// DISCONNECTING, and returns where it ended.
func (r *cellRun) waitStable(ctx context.Context, id string) (model.ConnectionState, model.ConnectionErrorCode, error) {
	to := r.h.Target.Timeouts()
	limit := max(to.Connect, to.Disconnect)
	deadline := time.Now().Add(limit)
	obs, err := wait.Settled(ctx, r.client, id, wait.Options{Timeout: limit, Poll: max(to.Poll, time.Millisecond),
		Observe: func(o wait.Observation) {
			r.m.Calls++
			if model.ConnectionState(o.State).Transient() {
				r.h.waiting(fmt.Sprintf("waiting for %s %s to settle", id, o.State), deadline)
			}
		}})
	state, code := model.ConnectionState(obs.State), model.ConnectionErrorCode(obs.ErrorCode)
	switch {
	case err == nil:
		return state, code, nil
	case errors.Is(err, wait.ErrTimeout):
		return "", "", endWith(Indeterminate, "the store is still %s after %s", state, limit)
	case ctx.Err() != nil:
		return "", "", ctx.Err()
	}
	o := Classify(err)
	switch {
	case o.Transport:
		return "", "", endWith(Indeterminate, "DescribeCustomKeyStores: no answer: %s", o.Message)
	case o.NotImplemented:
		return "", "", endWith(Unsupported, "DescribeCustomKeyStores is not implemented (%s)", o.describe())
	case o.Code != "":
		return "", "", endWith(Fail, "DescribeCustomKeyStores answered %s: %s", o.Code, o.Message)
	}
	return "", "", endWith(Fail, "%v", err)
}

// observeKeys reads the KeyState of every key the scenario made and keeps
// the worlds that show the same.
func (r *cellRun) observeKeys(ctx context.Context, ws []model.World) ([]model.World, error) {
	if len(ws) == 0 || len(ws[0].Keys) == 0 {
		return ws, nil
	}
	got := map[string]model.KeyState{}
	for _, k := range ws[0].Keys {
		r.m.Calls++
		out, err := r.client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(r.m.KeyID(k.ID))})
		if err != nil {
			obs := Classify(err)
			if obs.Code == string(model.ErrNotFound) {
				continue
			}
			return nil, endWith(Fail, "DescribeKey answered %s", obs.Code)
		}
		got[k.ID] = model.KeyState(out.KeyMetadata.KeyState)
	}
	var next []model.World
	var shown []string
	for _, w := range ws {
		ok := true
		for _, k := range w.Keys {
			want := w.ShownKeyState(k)
			shown = append(shown, k.ID[len(k.ID)-4:]+"="+string(want))
			if got[k.ID] != want {
				ok = false
			}
		}
		if ok {
			next = append(next, w)
		}
	}
	if len(next) == 0 {
		var g []string
		for id, st := range got {
			g = append(g, id[len(id)-4:]+"="+string(st))
		}
		slices.Sort(g)
		return nil, endWith(Fail, "keys show %s; the model expects %s", strings.Join(g, ","), strings.Join(slices.Compact(shown), ","))
	}
	return next, nil
}

// settleLog collects what a scenario's settle steps observed (and the
// model allowed): "FAILED with <code>" or the state.
type settleLog struct{ settled []string }

type settleLogKey struct{}

func logSettle(ctx context.Context, st model.Store) {
	l, _ := ctx.Value(settleLogKey{}).(*settleLog)
	if l == nil {
		return
	}
	d := string(st.State)
	if st.ErrorCode != "" {
		d += " with " + string(st.ErrorCode)
	}
	l.settled = append(l.settled, d)
}

// CodeCheck is a ConnectionErrorCode a scenario asserts for a store type.
type CodeCheck struct {
	Type model.StoreType
	Code model.ConnectionErrorCode
}

// AssertedCodes returns the ConnectionErrorCodes the scenario checks
// exactly, found by following the model alone: a settle step where, given
// the answers of the steps before it, the model allows only FAILED with
// that code (the settle step compares state and code exactly). Where the
// documentation lets an earlier answer differ (a contradiction), the code
// is asserted on the branch that reaches the settle step.
func (s Scenario) AssertedCodes() []CodeCheck {
	paths := [][]model.World{{model.NewWorld()}}
	var out []CodeCheck
	for _, c := range s.Steps {
		var next [][]model.World
		for _, ws := range paths {
			groups := map[string][]model.World{}
			var order []string
			add := func(k string, w ...model.World) {
				if _, ok := groups[k]; !ok {
					order = append(order, k)
				}
				groups[k] = append(groups[k], w...)
			}
			for _, w := range ws {
				for _, o := range model.Step(w, c) {
					switch {
					case c.Op == model.OpSettle:
						for _, n := range o.Worlds {
							st, _ := n.Store(c.Store())
							add(string(st.State)+" "+string(st.ErrorCode), n)
						}
					case c.Op.IsEnv():
						add("", o.Worlds...)
					default:
						add(string(o.Error), o.Worlds...)
					}
				}
			}
			if c.Op == model.OpSettle && len(order) == 1 {
				if st, ok := groups[order[0]][0].Store(c.Store()); ok && st.State == model.Failed {
					cc := CodeCheck{Type: st.Type, Code: st.ErrorCode}
					if !slices.Contains(out, cc) {
						out = append(out, cc)
					}
				}
			}
			for _, k := range order {
				next = append(next, model.Distinct(groups[k]))
			}
		}
		// Paths that reach the same worlds go on as one: answers that
		// change nothing (an exception, a read) would otherwise double the
		// paths at each step that allows two of them.
		paths = paths[:0]
		seen := map[string]bool{}
		for _, ws := range next {
			fps := make([]string, len(ws))
			for i, w := range ws {
				fps[i] = fmt.Sprint(w.Fingerprint())
			}
			slices.Sort(fps)
			if k := strings.Join(fps, "|"); !seen[k] {
				seen[k] = true
				paths = append(paths, ws)
			}
		}
	}
	return out
}
