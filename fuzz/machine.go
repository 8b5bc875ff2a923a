package fuzz

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"pgregory.net/rapid"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/suites/harness"
	"github.com/kmsconform/kmsconform/targets"
)

// MaxWorlds bounds the set of worlds a run follows. Forks come from
// transient states and undocumented cells; observations narrow them again,
// so the bound is only reached by a target that answers nothing the model
// can pin down, which is itself worth a failure.
const MaxWorlds = 512

// Runner checks a target against the model with random sequences of calls:
// each Run is one rapid test case. It keeps the last case's trace, which
// after a failed rapid.Check is the shrunk one.
type Runner struct {
	Target targets.Target
	// CallTimeout bounds one step's API calls and control-plane actions
	// (zero: the target's Timeouts().Call, at least 10 s).
	CallTimeout time.Duration
	// FirstFailure, when set, is called when a case first fails, before
	// rapid shrinks it: a mutation driver's time to kill.
	FirstFailure func()

	last  []Step
	steps atomic.Int64
}

// Step is one model call of a run and what the target answered.
type Step struct {
	Call model.Call
	// Allowed is the set of answers the model allowed in some world
	// ("success" or an exception name); Observed is the target's.
	Allowed  []string
	Observed string
	// Failure is set on the step where the target left the model.
	Failure string
	// TargetStore is the target's id of the store the call names.
	TargetStore string
	// Expect is the state (and ConnectionErrorCode) the model expects of
	// each store after the step, in the first world of the set.
	Expect []Expect
	// SDK holds the SDK calls the step made, with their inputs and
	// outputs, for the program printer.
	SDK []SDKCall
}

// Expect is a store's expected state after a step.
type Expect struct {
	TargetID string
	State    string // "FAILED USER_LOCKED_OUT", "CONNECTED", …
}

// Last returns the steps of the last case run: after a failed rapid.Check,
// the shrunk sequence.
func (r *Runner) Last() []Step { return r.last }

// Steps returns the number of model-checked steps run so far.
func (r *Runner) Steps() int64 { return r.steps.Load() }

// machine is the state of one test case.
type machine struct {
	r      *Runner
	ctx    context.Context
	client *kms.Client // observations
	rec    *recorder   // the recording client for the steps themselves
	ctl    targets.Control
	caps   targets.Capabilities
	hold   bool
	m      *harness.Mapper
	ws     []model.World
	trace  []Step
}

// Run runs one test case: it resets the target (where it can), then lets
// rapid draw a sequence of actions. Call it from rapid.Check.
func (r *Runner) Run(t *rapid.T) {
	ctx := context.Background()
	mc := &machine{r: r, ctx: ctx, client: r.Target.KMS(), ctl: r.Target.Control(), caps: r.Target.Capabilities()}
	mc.hold = mc.ctl != nil && mc.caps.HoldTransition
	mc.rec = newRecorder(mc.client)
	mc.m = harness.NewMapper(fmt.Sprintf("fz%06x-", time.Now().UnixNano()&0xffffff), r.Target.Backing())
	mc.ws = []model.World{model.NewWorld()}
	defer func() { r.last = mc.trace }()
	if mc.ctl != nil {
		if err := mc.ctl.Reset(ctx); err != nil {
			t.Fatalf("resetting the target: %v", err)
		}
		if err := harness.PutBacking(ctx, r.Target, mc.m, model.NewWorld()); err != nil {
			t.Fatalf("putting the backing on the target: %v", err)
		}
	} else {
		defer mc.sweep()
	}
	t.Repeat(map[string]func(*rapid.T){
		"create":   mc.action(classCreate),
		"store":    mc.action(classStore),
		"key":      mc.action(classKey),
		"backing":  mc.action(classBacking),
		"settle":   mc.action(classSettle),
		"describe": mc.action(classDescribe),
		"cycle":    mc.cycle,
	})
}

type class int

const (
	classCreate class = iota
	classStore
	classKey
	classBacking
	classSettle
	classDescribe
)

func classOf(c model.Call) class {
	switch {
	case c.Op == model.OpSettle:
		return classSettle
	case c.Op.IsEnv():
		return classBacking
	case c.Op == model.OpCreateCustomKeyStore:
		return classCreate
	case c.Op == model.OpDescribeCustomKeyStores || c.Op == model.OpDescribeKey:
		return classDescribe
	case c.KeyID != "":
		return classKey
	}
	return classStore
}

// calls is what the machine may do in world w: the model's exploration set,
// plus the cryptographic round trips, less what the target cannot do.
func (mc *machine) calls(w model.World) []model.Call {
	cs := model.Calls(w)
	for _, k := range w.Keys {
		cs = append(cs, model.Call{Op: model.OpDecrypt, KeyID: k.ID}, model.Call{Op: model.OpGenerateDataKey, KeyID: k.ID},
			model.Call{Op: model.OpReEncrypt, KeyID: k.ID})
	}
	// A rename onto another store's name, which model.Calls never tries.
	for i, s := range w.Stores {
		if i > 0 {
			cs = append(cs, model.Call{Op: model.OpUpdateCustomKeyStore, StoreID: model.Ptr(s.ID), Update: &model.UpdateStoreInput{NewName: model.Ptr(w.Stores[0].Name)}})
		}
	}
	for _, k := range w.Keys {
		if s, _ := w.Store(k.Store); s.Type == model.CloudHSM && !k.MaterialDeleted {
			cs = append(cs, model.Call{Op: model.OpDeleteKeyMaterial, KeyID: k.ID})
		}
	}
	out := cs[:0]
	for _, c := range cs {
		switch c.Op {
		case model.OpSetCluster, model.OpDeleteCluster, model.OpDeleteKeyMaterial:
			if !mc.caps.BreakCluster || mc.ctl == nil {
				continue
			}
		case model.OpSetProxy, model.OpDeleteProxy, model.OpSetVpcService, model.OpDeleteVpcService:
			if !mc.caps.BreakProxy || mc.ctl == nil {
				continue
			}
		case model.OpExpireKeyDeletion:
			if !mc.caps.ControlTime || mc.ctl == nil {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// action returns the rapid action for one class of calls. The candidates
// come from the model alone (the first world of the set), and the action
// skips before drawing when there are none, so rapid tries another.
func (mc *machine) action(cl class) func(*rapid.T) {
	return func(t *rapid.T) {
		var cands []model.Call
		for _, c := range mc.calls(mc.ws[0]) {
			if classOf(c) == cl {
				cands = append(cands, c)
			}
		}
		if len(cands) == 0 {
			t.Skip("nothing of this kind in the model's world")
		}
		mc.do(t, cands[rapid.IntRange(0, len(cands)-1).Draw(t, "call")])
	}
}

// do runs one step and fails the case when the target leaves the model.
func (mc *machine) do(t *rapid.T, c model.Call) {
	{
		mc.r.steps.Add(1)
		st := Step{Call: c, TargetStore: mc.m.StoreID(c.Store())}
		err := mc.step(&st)
		if err == nil {
			for _, s := range mc.ws[0].Stores {
				st.Expect = append(st.Expect, Expect{TargetID: mc.m.StoreID(s.ID), State: strings.TrimSpace(string(s.State) + " " + string(s.ErrorCode))})
			}
		}
		mc.trace = append(mc.trace, st)
		if err != nil {
			if mc.r.FirstFailure != nil {
				mc.r.FirstFailure()
			}
			st.Failure = mc.m.Redact(err.Error())
			mc.trace[len(mc.trace)-1] = st
			t.Logf("step %d, %s: %s\n\nThe sequence as a Go program of SDK calls:\n\n%s",
				len(mc.trace), Describe(c), st.Failure, Program(mc.trace))
			// rapid keeps a shrunk sequence only if it fails with the same
			// message: the message names the kind of departure, not the ids
			// or the step number, which shrinking changes.
			t.Fatalf("%s", summary(c, err))
		}
		t.Logf("%s → %s", Describe(c), st.Observed)
	}
}

// cycle is one action made of several steps: (re)connect a store that is
// DISCONNECTED or FAILED and let the connection settle. Defects that need
// a store to go round its states several times (a lock-out after five
// failed logins, what a reconnect does to keys) are then a few actions
// deep, not twenty.
func (mc *machine) cycle(t *rapid.T) {
	var ids []string
	for _, s := range mc.ws[0].Stores {
		if s.State == model.Disconnected || s.State == model.Failed {
			ids = append(ids, s.ID)
		}
	}
	if len(ids) == 0 {
		t.Skip("no store to connect")
	}
	id := ids[rapid.IntRange(0, len(ids)-1).Draw(t, "store")]
	s, _ := mc.ws[0].Store(id)
	var seq []model.Call
	if s.State == model.Failed {
		seq = append(seq, model.Call{Op: model.OpDisconnectCustomKeyStore, StoreID: model.Ptr(id)})
	}
	seq = append(seq, model.Call{Op: model.OpConnectCustomKeyStore, StoreID: model.Ptr(id)}, model.Call{Op: model.OpSettle, StoreID: model.Ptr(id)})
	for _, c := range seq {
		mc.do(t, c)
	}
}

func (mc *machine) timeout() time.Duration {
	if mc.r.CallTimeout > 0 {
		return mc.r.CallTimeout
	}
	return max(mc.r.Target.Timeouts().Call, 10*time.Second)
}

// step makes one call on the target and narrows the set of worlds.
func (mc *machine) step(st *Step) error {
	ctx, cancel := context.WithTimeout(mc.ctx, mc.timeout()+max(mc.r.Target.Timeouts().Connect, mc.r.Target.Timeouts().Disconnect))
	defer cancel()
	c := st.Call
	var next []model.World
	switch {
	case c.Op == model.OpSettle:
		id := mc.m.StoreID(c.Store())
		if mc.hold {
			if err := mc.ctl.Settle(ctx, id); err != nil {
				return fmt.Errorf("control plane: settling: %w", err)
			}
			// Keep the store's next transition held too.
			if err := mc.ctl.Hold(ctx, id); err != nil {
				return fmt.Errorf("control plane: holding: %w", err)
			}
		} else if err := mc.waitStable(ctx, id); err != nil {
			return err
		}
		st.Observed = "settled"
		st.Allowed = []string{"settled"}
		for _, w := range mc.ws {
			for _, o := range model.Step(w, c) {
				next = append(next, o.Worlds...)
			}
		}
	case c.Op.IsEnv():
		if err := harness.ApplyEnv(ctx, mc.r.Target, mc.m, c); err != nil {
			return fmt.Errorf("control plane: %w", err)
		}
		st.Observed, st.Allowed = "done", []string{"done"}
		for _, w := range mc.ws {
			for _, o := range model.Step(w, c) {
				next = append(next, o.Worlds...)
			}
		}
	default:
		var store, key string
		for _, o := range model.Step(mc.ws[0], c) {
			if o.Error == model.Success {
				store, key = o.StoreID, o.KeyID
			}
		}
		mc.rec.start()
		ans, err := mc.m.Invoke(ctx, mc.rec.client, c, store, key)
		st.SDK = mc.rec.stop()
		obs := harness.Classify(err)
		st.Observed = obs.Code
		for _, w := range mc.ws {
			for _, o := range model.Step(w, c) {
				name := string(o.Error)
				if o.Error == model.Success {
					name = harness.SuccessCode
				}
				st.Allowed = append(st.Allowed, name)
				if name == obs.Code {
					next = append(next, o.Worlds...)
				}
			}
		}
		slices.Sort(st.Allowed)
		st.Allowed = slices.Compact(st.Allowed)
		if len(next) == 0 {
			if obs.Transport {
				return fmt.Errorf("no answer: %s", obs.Message)
			}
			return depart(fmt.Sprintf("answered %s; the model allows %s", orNone(obs.Code), strings.Join(st.Allowed, " or ")),
				"answered %s (%s); the model allows %s", orNone(obs.Code), obs.Message, strings.Join(st.Allowed, " or "))
		}
		if c.Op == model.OpCreateCustomKeyStore && ans.StoreID != "" && mc.hold {
			// Hold every store from its birth, so that its transitions end
			// only when the machine settles them: the run stays
			// deterministic on a loaded machine.
			if err := mc.ctl.Hold(ctx, ans.StoreID); err != nil {
				return fmt.Errorf("control plane: holding the new store: %w", err)
			}
		}
	}
	next = model.Distinct(next)
	if !mc.hold {
		next = settleClosure(next)
	}
	var err error
	if next, err = mc.observeStores(ctx, next); err != nil {
		return err
	}
	if needsKeys(c) {
		if next, err = mc.observeKeys(ctx, next); err != nil {
			return err
		}
	}
	if len(next) > MaxWorlds {
		return fmt.Errorf("the set of worlds consistent with the answers grew past %d", MaxWorlds)
	}
	mc.ws = next
	return nil
}

// departure is a failure whose summary stays the same however the sequence
// before it is shrunk.
type departure struct{ summary, detail string }

func (d *departure) Error() string { return d.detail }

func depart(summary, format string, args ...any) error {
	return &departure{summary: summary, detail: fmt.Sprintf(format, args...)}
}

func summary(c model.Call, err error) string {
	var d *departure
	if errors.As(err, &d) {
		return string(c.Op) + ": " + d.summary
	}
	return string(c.Op) + ": " + err.Error()
}

func orNone(code string) string {
	if code == "" {
		return "nothing"
	}
	return code
}

func needsKeys(c model.Call) bool {
	switch c.Op {
	case model.OpDescribeCustomKeyStores, model.OpGenerateRandom, model.OpCreateCustomKeyStore, model.OpSetVpcService, model.OpDeleteVpcService:
		return false
	}
	return true
}

// settleClosure adds, for a target that cannot hold a transition, every
// world in which some transient store has already settled on its own.
func settleClosure(ws []model.World) []model.World {
	out := ws
	frontier := ws
	for len(frontier) > 0 {
		var more []model.World
		for _, w := range frontier {
			for _, s := range w.Stores {
				if !s.State.Transient() {
					continue
				}
				for _, o := range model.Step(w, model.Call{Op: model.OpSettle, StoreID: aws.String(s.ID)}) {
					more = append(more, o.Worlds...)
				}
			}
		}
		n := len(out)
		out = model.Distinct(append(out, more...))
		frontier = out[n:]
	}
	return out
}

// observeStores lists the stores and keeps the worlds that show the same
// ones, in the same state with the same ConnectionErrorCode.
func (mc *machine) observeStores(ctx context.Context, ws []model.World) ([]model.World, error) {
	type seen struct{ state, code string }
	got := map[string]seen{}
	var marker *string
	for {
		out, err := mc.client.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{Marker: marker})
		if err != nil {
			o := harness.Classify(err)
			return nil, fmt.Errorf("observing: DescribeCustomKeyStores answered %s (%s)", orNone(o.Code), o.Message)
		}
		for _, s := range out.CustomKeyStores {
			got[aws.ToString(s.CustomKeyStoreId)] = seen{string(s.ConnectionState), string(s.ConnectionErrorCode)}
		}
		if !out.Truncated || out.NextMarker == nil {
			break
		}
		marker = out.NextMarker
	}
	mine := mc.m.TargetStores()
	var keep []model.World
	var want []string
	for _, w := range ws {
		ok := true
		present := map[string]bool{}
		var desc []string
		for _, s := range w.Stores {
			tid := mc.m.StoreID(s.ID)
			present[tid] = true
			desc = append(desc, shortID(s.ID)+"="+strings.TrimSpace(string(s.State)+" "+string(s.ErrorCode)))
			g, found := got[tid]
			if !found || g.state != string(s.State) || g.code != string(s.ErrorCode) {
				ok = false
			}
		}
		for _, tid := range mine {
			if _, listed := got[tid]; listed && !present[tid] {
				ok = false
			}
		}
		want = append(want, strings.Join(desc, ","))
		if ok {
			keep = append(keep, w)
		}
	}
	if len(keep) == 0 {
		var g []string
		for _, w := range ws[:1] {
			for _, s := range w.Stores {
				if o, found := got[mc.m.StoreID(s.ID)]; found {
					g = append(g, shortID(s.ID)+"="+strings.TrimSpace(o.state+" "+o.code))
				} else {
					g = append(g, shortID(s.ID)+"=gone")
				}
			}
		}
		for _, tid := range mine {
			if o, found := got[tid]; found && !slices.ContainsFunc(ws[0].Stores, func(s model.Store) bool { return mc.m.StoreID(s.ID) == tid }) {
				g = append(g, tid+"="+o.state+" (the model has no such store)")
			}
		}
		slices.Sort(want)
		return nil, depart("the stores are not where the model allows", "the stores show %s; the model allows %s", orNone(strings.Join(g, ",")), strings.Join(slices.Compact(want), " or "))
	}
	return keep, nil
}

// observeKeys reads every key the run made and keeps the worlds whose
// shown key states match; a key the model deleted must be gone.
func (mc *machine) observeKeys(ctx context.Context, ws []model.World) ([]model.World, error) {
	ids := map[string]bool{}
	for _, w := range ws {
		for _, k := range w.Keys {
			ids[k.ID] = true
		}
	}
	got := map[string]string{}
	for id := range ids {
		out, err := mc.client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(mc.m.KeyID(id))})
		if err != nil {
			o := harness.Classify(err)
			if o.Code == string(model.ErrNotFound) {
				got[id] = "gone"
				continue
			}
			return nil, fmt.Errorf("observing: DescribeKey answered %s (%s)", orNone(o.Code), o.Message)
		}
		got[id] = string(out.KeyMetadata.KeyState)
	}
	var keep []model.World
	var want []string
	for _, w := range ws {
		ok := true
		var desc []string
		for id := range ids {
			shown := "gone"
			if k, found := w.Key(id); found {
				shown = string(w.ShownKeyState(k))
			}
			desc = append(desc, shortID(id)+"="+shown)
			if got[id] != shown {
				ok = false
			}
		}
		slices.Sort(desc)
		want = append(want, strings.Join(desc, ","))
		if ok {
			keep = append(keep, w)
		}
	}
	if len(keep) == 0 {
		var g []string
		for id, s := range got {
			g = append(g, shortID(id)+"="+s)
		}
		slices.Sort(g)
		slices.Sort(want)
		return nil, depart("the keys are not in the states the model allows", "the keys show %s; the model expects %s", strings.Join(g, ","), strings.Join(slices.Compact(want), " or "))
	}
	return keep, nil
}

// waitStable polls a store until it is neither CONNECTING nor
// DISCONNECTING, for targets that cannot settle a transition on demand.
func (mc *machine) waitStable(ctx context.Context, id string) error {
	to := mc.r.Target.Timeouts()
	for {
		out, err := mc.client.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
		if err != nil {
			o := harness.Classify(err)
			if o.Code == string(model.ErrCustomKeyStoreNotFound) {
				return nil
			}
			return fmt.Errorf("settling: DescribeCustomKeyStores answered %s", orNone(o.Code))
		}
		if len(out.CustomKeyStores) != 1 || !model.ConnectionState(out.CustomKeyStores[0].ConnectionState).Transient() {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.New("settling: the store is still in transition")
		case <-time.After(max(to.Poll, time.Millisecond)):
		}
	}
}

// sweep removes what a case made on a target without a control plane.
func (mc *machine) sweep() {
	ctx, cancel := context.WithTimeout(context.Background(), mc.r.Target.Timeouts().Disconnect+10*time.Second)
	defer cancel()
	for _, k := range mc.m.TargetKeys() {
		_, _ = mc.client.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(k), PendingWindowInDays: aws.Int32(7)})
	}
	for _, id := range mc.m.TargetStores() {
		_, _ = mc.client.DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
		_ = mc.waitStable(ctx, id)
		_, _ = mc.client.DeleteCustomKeyStore(ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	}
}

// shortID keeps the distinctive tail of a model id for messages.
func shortID(id string) string {
	if len(id) > 6 {
		return id[len(id)-6:]
	}
	return id
}
