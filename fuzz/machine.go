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

	"github.com/kmsconform/kmsconform/drive"
	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/targets"
	"github.com/kmsconform/kmsconform/wait"
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
	// Action numbers the machine's action the step belongs to, from 1: a
	// connect and the settling after it, or a whole reconnect, are one
	// action.
	Action int
}

// Expect is a store's expected state after a step.
type Expect struct {
	TargetID string
	State    string // "FAILED USER_LOCKED_OUT", "CONNECTED", …
}

// Last returns the steps of the last case run: after a failed rapid.Check,
// the shrunk sequence.
func (r *Runner) Last() []Step { return r.last }

// Actions returns the number of the machine's actions in the last case
// run: after a failed rapid.Check, the length of the shrunk sequence.
func (r *Runner) Actions() int { return actions(r.last) }

// Steps returns the number of model-checked steps run so far.
func (r *Runner) Steps() int64 { return r.steps.Load() }

// machine is the state of one test case.
type machine struct {
	r      *Runner
	ctx    context.Context
	client *kms.Client // observations
	rec    *recorder   // the recording client for the steps themselves
	// holder is the target's, nil when it holds no transitions: then the
	// machine lets transitions end on their own.
	holder targets.TransitionHolder
	m      *drive.Mapper
	ws     []model.World
	trace  []Step
	action int
	t      *rapid.T
	// failure is set when a step leaves the model; failedCall is the call.
	failure    error
	failedCall model.Call
}

// Run runs one test case: it resets the target (where it can), then lets
// rapid draw a sequence of actions, and at the end observes every store
// and key once more. Call it from rapid.Check.
func (r *Runner) Run(t *rapid.T) {
	ctx := context.Background()
	mc := &machine{r: r, ctx: ctx, client: r.Target.KMS()}
	mc.holder, _ = r.Target.(targets.TransitionHolder)
	mc.rec = newRecorder(mc.client)
	mc.m = drive.NewMapper(fmt.Sprintf("fz%06x-", time.Now().UnixNano()&0xffffff), r.Target.Backing())
	mc.ws = []model.World{model.NewWorld()}
	defer func() { r.last = mc.trace }()
	if rs, ok := r.Target.(targets.Resetter); ok {
		if err := rs.Reset(ctx); err != nil {
			t.Fatalf("resetting the target: %v", err)
		}
		if err := drive.PutBacking(ctx, r.Target, mc.m, model.NewWorld()); err != nil {
			t.Fatalf("putting the backing on the target: %v", err)
		}
	} else {
		defer mc.sweep()
	}
	mc.t = t
	for mc.failure == nil {
		a := actionGen.Draw(t, "action")
		if !a.More {
			mc.finalCheck()
			break
		}
		mc.act(a)
	}
	mc.check(t)
}

// action is what rapid draws for one action of the machine. Its fields are
// raw numbers that act reads against the model's current world, so a
// drawn action keeps its meaning when shrinking removes actions before it.
type action struct {
	More    bool // false ends the case
	Op      int  // a position in opOrder
	Subject int  // a store or key, by its place in the world
	Variant int  // one of the inputs the model offers for them
	Stay    bool // leave a transition unsettled
	Rounds  int  // opReconnect's rounds, 1–6
}

// actionGen draws an action from single bits. rapid's own integer
// generators add a 53-bit float to each draw for their bias, and
// minimising those floats bit by bit costs rapid thousands of replays of
// the case per shrink; a bit is minimised in one. One draw per action also
// makes each action one group, which rapid's shrinker removes whole. A
// case has 31 actions on average: it ends when five bits are all zero.
var actionGen = rapid.Custom(func(t *rapid.T) action {
	return action{
		More:    bitsInt(t, 5) != 0,
		Op:      bitsInt(t, 5),
		Subject: bitsInt(t, 3),
		Variant: bitsInt(t, 3),
		Stay:    bitsInt(t, 1) == 1,
		Rounds:  1 + bitsInt(t, 3)%6,
	}
})

// bitsInt draws an int below 2ⁿ, most significant bit first.
func bitsInt(t *rapid.T, n int) int {
	v := 0
	for range n {
		v <<= 1
		if rapid.Bool().Draw(t, "bit") {
			v |= 1
		}
	}
	return v
}

// opReconnect is the machine's one compound action: take a store round
// its states 1–6 times (disconnect unless DISCONNECTED, let it settle,
// connect, let it settle), every call checked like any other. Defects that
// need a store to go round several times (a lock-out after five failed
// logins, what a reconnect does to keys) are then one action deep, not
// twenty.
const opReconnect model.Op = "machine:Reconnect"

// opOrder is the order the machine draws operations in. A draw names a
// position, and the machine makes the first operation at or after it that
// the model's world offers. The order is fixed, so a draw keeps its meaning
// when shrinking removes actions before it, and shrinking, which moves
// draws towards zero, moves them towards the operations that build a
// world.
var opOrder = []model.Op{
	model.OpCreateCustomKeyStore, model.OpConnectCustomKeyStore, model.OpDisconnectCustomKeyStore, opReconnect,
	model.OpCreateKey, model.OpUpdateCustomKeyStore, model.OpDeleteCustomKeyStore, model.OpSettle,
	model.OpDisableKey, model.OpEnableKey, model.OpScheduleKeyDeletion, model.OpCancelKeyDeletion,
	model.OpEncrypt, model.OpDecrypt, model.OpReEncrypt, model.OpGenerateDataKey, model.OpGenerateDataKeyPair,
	model.OpEnableKeyRotation, model.OpGenerateRandom, model.OpDescribeCustomKeyStores, model.OpDescribeKey,
	model.OpSetCluster, model.OpSetProxy, model.OpExpireKeyDeletion, model.OpDeleteKeyMaterial,
}

// act carries out one drawn action: an operation, its subject (a store or
// key, by its place in the model's world) and a variant of its input, read
// against the model alone. The operation is the first at or after the drawn
// position in opOrder that the world offers. A call that leaves its store
// in transition lets it settle unless the action says to stay, so a
// connect is one action, and a held transition is still reachable.
func (mc *machine) act(a action) {
	w := mc.ws[0]
	byOp := map[model.Op][]model.Call{}
	for _, c := range mc.calls(w) {
		byOp[c.Op] = append(byOp[c.Op], c)
	}
	reconnectable := len(w.Stores) > 0
	order := opOrder
	var extra []model.Op
	for op := range byOp {
		if !slices.Contains(opOrder, op) {
			extra = append(extra, op)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		order = append(slices.Clip(opOrder), extra...)
	}
	op := model.Op("")
	for k := range order {
		o := order[(a.Op+k)%len(order)]
		if len(byOp[o]) > 0 || (o == opReconnect && reconnectable) {
			op = o
			break
		}
	}
	if op == "" {
		return // the world offers nothing (never so: a create is always on offer)
	}
	mc.action++
	if op == opReconnect {
		mc.reconnect(w.Stores[a.Subject%len(w.Stores)].ID, a.Rounds)
		return
	}
	subjects := map[string][]model.Call{}
	var names []string
	for _, c := range byOp[op] {
		s := subjectOf(c)
		if subjects[s] == nil {
			names = append(names, s)
		}
		subjects[s] = append(subjects[s], c)
	}
	slices.SortStableFunc(names, func(a, b string) int { return subjectRank(w, a) - subjectRank(w, b) })
	same := subjects[names[a.Subject%len(names)]]
	c := same[a.Variant%len(same)]
	mc.do(c)
	if c.Op != model.OpSettle && c.StoreID != nil && !a.Stay {
		if s, ok := mc.ws[0].Store(*c.StoreID); ok && s.State.Transient() {
			mc.do(model.Call{Op: model.OpSettle, StoreID: c.StoreID})
		}
	}
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
	cs = append(cs, backingCalls(w)...)
	out := cs[:0]
	for _, c := range cs {
		switch c.Op {
		case model.OpSetCluster, model.OpDeleteCluster, model.OpDeleteKeyMaterial:
			if _, ok := mc.r.Target.(targets.ClusterControl); !ok {
				continue
			}
		case model.OpSetProxy, model.OpDeleteProxy, model.OpSetVpcService, model.OpDeleteVpcService:
			if _, ok := mc.r.Target.(targets.ProxyFleet); !ok {
				continue
			}
		case model.OpExpireKeyDeletion:
			if _, ok := mc.r.Target.(targets.TimeControl); !ok {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// backingCalls adds what model.Calls leaves out for the stores the machine
// makes: model.Calls breaks cluster A and proxy A, but its fresh stores use
// cluster C and proxy C, so without these no external key store would ever
// fail and no cluster fault would reach a store. It also adds a create
// that reuses an external key store's name and nothing else.
func backingCalls(w model.World) []model.Call {
	var cs []model.Call
	clusters, proxies := map[string]bool{}, map[string]bool{}
	for _, s := range w.Stores {
		switch {
		case s.Type == model.CloudHSM && s.ClusterID != model.ClusterA && !clusters[s.ClusterID]:
			clusters[s.ClusterID] = true
			if cl, found := w.Cluster(s.ClusterID); found {
				fewer := cl
				fewer.ActiveHSMs = 2 - cl.ActiveHSMs
				cs = append(cs, model.Call{Op: model.OpSetCluster, Cluster: &fewer})
			}
		case s.Type == model.External && s.Endpoint != model.EndpointA && !proxies[s.Endpoint]:
			proxies[s.Endpoint] = true
			if p, found := w.Proxy(s.Endpoint); found {
				flip := p
				flip.Fault = model.ProxyUnreachable
				if p.Fault != model.ProxyHealthy {
					flip.Fault = model.ProxyHealthy
				}
				cs = append(cs, model.Call{Op: model.OpSetProxy, Proxy: &flip})
			}
		}
		if s.Type == model.External {
			// Only the name collides: proxy B is healthy and unused.
			cs = append(cs, model.Call{Op: model.OpCreateCustomKeyStore, Create: model.CreateXksInput(s.Name, model.EndpointB, model.PathV1, model.CredentialA)})
		}
	}
	return cs
}

// subjectOf names what a call acts on: a key, a store, or nothing.
func subjectOf(c model.Call) string {
	switch {
	case c.KeyID != "":
		return "k" + c.KeyID
	case c.StoreID != nil:
		return "s" + *c.StoreID
	}
	return ""
}

// subjectRank orders subjects: none first, then the stores and the keys
// in the order the world made them, then ids the world does not hold.
func subjectRank(w model.World, s string) int {
	if s == "" {
		return 0
	}
	for i, st := range w.Stores {
		if s == "s"+st.ID {
			return 1 + i
		}
	}
	for i, k := range w.Keys {
		if s == "k"+k.ID {
			return 1 + len(w.Stores) + i
		}
	}
	return 1 + len(w.Stores) + len(w.Keys)
}

// reconnect is the opReconnect action on one store.
func (mc *machine) reconnect(id string, rounds int) {
	sid := model.Ptr(id)
	settle := func() {
		if s, ok := mc.ws[0].Store(id); ok && s.State.Transient() {
			mc.do(model.Call{Op: model.OpSettle, StoreID: sid})
		}
	}
	for range rounds {
		settle()
		if s, ok := mc.ws[0].Store(id); ok && s.State != model.Disconnected {
			mc.do(model.Call{Op: model.OpDisconnectCustomKeyStore, StoreID: sid})
			settle()
		}
		mc.do(model.Call{Op: model.OpConnectCustomKeyStore, StoreID: sid})
		settle()
	}
}

// do runs one step. When the target leaves the model, do records where
// and why, and the steps after it in the same action do nothing; check
// fails the case when the action ends.
func (mc *machine) do(c model.Call) {
	if mc.failure != nil {
		return
	}
	mc.r.steps.Add(1)
	st := Step{Call: c, Action: mc.action, TargetStore: mc.m.StoreID(c.Store())}
	err := mc.step(&st)
	if err == nil {
		st.Expect = mc.expect()
	}
	mc.trace = append(mc.trace, st)
	if err != nil {
		mc.depart(c, err)
		return
	}
	mc.t.Logf("%s → %s", Describe(c), st.Observed)
}

func (mc *machine) expect() []Expect {
	var out []Expect
	for _, s := range mc.ws[0].Stores {
		out = append(out, Expect{TargetID: mc.m.StoreID(s.ID), State: strings.TrimSpace(string(s.State) + " " + string(s.ErrorCode))})
	}
	return out
}

// depart marks the last step of the trace as where the target left the
// model, and prints the sequence.
func (mc *machine) depart(c model.Call, err error) {
	if mc.r.FirstFailure != nil {
		mc.r.FirstFailure()
	}
	st := &mc.trace[len(mc.trace)-1]
	st.Failure = mc.m.Redact(err.Error())
	mc.failure, mc.failedCall = err, c
	mc.t.Logf("step %d, %s: %s\n\nThe sequence as a Go program of SDK calls:\n\n%s",
		len(mc.trace), Describe(c), st.Failure, Program(mc.trace))
}

// check fails the case when a step, or the final observation, has left
// the model. Every failure comes from here: rapid keeps a shrunk sequence
// only when it fails at the same place in the code, and one place lets
// shrinking swap the call that shows a departure for an earlier, shorter
// one. The kinds of departure fail on lines of their own, so that
// shrinking never slips from one kind to another.
func (mc *machine) check(t *rapid.T) {
	if mc.failure == nil {
		return
	}
	msg := summary(mc.failedCall, mc.failure)
	var d *departure
	if !errors.As(mc.failure, &d) {
		t.Fatalf("%s", msg) // no answer, or the control plane failed
	}
	switch d.kind {
	case departAnswer:
		t.Fatalf("%s", msg)
	case departStores:
		t.Fatalf("%s", msg)
	default:
		t.Fatalf("%s", msg)
	}
}

// finalCheck observes every store and key at the end of a case: a step
// after which the model was sure nothing observable changed is not
// followed by an observation, so a change the target made there shows
// here (or at the next step that observes).
func (mc *machine) finalCheck() {
	if len(mc.trace) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(mc.ctx, mc.timeout())
	defer cancel()
	ws, err := mc.observeStores(ctx, mc.ws)
	if err == nil {
		ws, err = mc.observeKeys(ctx, ws)
	}
	if err != nil {
		mc.depart(model.Call{Op: opEndOfCase}, err)
		return
	}
	mc.ws = ws
}

// opEndOfCase names the final observation in failure messages.
const opEndOfCase model.Op = "machine:EndOfCase"

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
		if mc.holder != nil {
			if err := mc.holder.Settle(ctx, id); err != nil {
				return fmt.Errorf("control plane: settling: %w", err)
			}
			// Keep the store's next transition held too.
			if err := mc.holder.Hold(ctx, id); err != nil {
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
		if err := drive.ApplyEnv(ctx, mc.r.Target, mc.m, c); err != nil {
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
		obs := drive.Classify(err)
		st.Observed = obs.Code
		for _, w := range mc.ws {
			for _, o := range model.Step(w, c) {
				name := string(o.Error)
				if o.Error == model.Success {
					name = drive.SuccessCode
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
			return depart(departAnswer, fmt.Sprintf("answered %s; the model allows %s", orNone(obs.Code), strings.Join(st.Allowed, " or ")),
				"answered %s (%s); the model allows %s", orNone(obs.Code), obs.Message, strings.Join(st.Allowed, " or "))
		}
		if c.Op == model.OpCreateCustomKeyStore && ans.StoreID != "" && mc.holder != nil {
			// Hold every store from its birth, so that its transitions end
			// only when the machine settles them: the run stays
			// deterministic on a loaded machine.
			if err := mc.holder.Hold(ctx, ans.StoreID); err != nil {
				return fmt.Errorf("control plane: holding the new store: %w", err)
			}
		}
	}
	next = model.Distinct(next)
	if mc.holder == nil {
		next = settleClosure(next)
	}
	// Observe what the step may have changed. With transitions held, a
	// step after which every world agrees that the stores (or the keys)
	// show what they showed before cannot be told apart by an
	// observation; the next observation, or the one at the end of the
	// case, still sees any change the target made.
	var err error
	if mc.holder == nil || changed(mc.ws, next, storesView) {
		if next, err = mc.observeStores(ctx, next); err != nil {
			return err
		}
	}
	if needsKeys(c) && (mc.holder == nil || changed(mc.ws, next, keysView)) {
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

// departure is a target's answer or state the model does not allow. Its
// summary names the kind of departure, not ids or step numbers, which
// shrinking changes.
type departure struct {
	kind            departKind
	summary, detail string
}

type departKind int

const (
	departAnswer departKind = iota // a call's answer
	departStores                   // the stores' states
	departKeys                     // the keys' states
)

func (d *departure) Error() string { return d.detail }

func depart(kind departKind, summary, format string, args ...any) error {
	return &departure{kind: kind, summary: summary, detail: fmt.Sprintf(format, args...)}
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

// changed reports whether the worlds before and after a step may show
// different things through view: false only when all of them show one and
// the same.
func changed(before, after []model.World, view func(model.World) string) bool {
	v := view(before[0])
	for _, ws := range [][]model.World{before, after} {
		for _, w := range ws {
			if view(w) != v {
				return true
			}
		}
	}
	return false
}

// storesView is what DescribeCustomKeyStores shows of a world's stores.
func storesView(w model.World) string {
	var b strings.Builder
	for _, s := range w.Stores {
		fmt.Fprintf(&b, "%s=%s %s;", s.ID, s.State, s.ErrorCode)
	}
	return b.String()
}

// keysView is what DescribeKey shows of a world's keys.
func keysView(w model.World) string {
	var b strings.Builder
	for _, k := range w.Keys {
		fmt.Fprintf(&b, "%s=%s;", k.ID, w.ShownKeyState(k))
	}
	return b.String()
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
			o := drive.Classify(err)
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
		return nil, depart(departStores, "the stores are not where the model allows", "the stores show %s; the model allows %s", orNone(strings.Join(g, ",")), strings.Join(slices.Compact(want), " or "))
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
			o := drive.Classify(err)
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
		return nil, depart(departKeys, "the keys are not in the states the model allows", "the keys show %s; the model expects %s", strings.Join(g, ","), strings.Join(slices.Compact(want), " or "))
	}
	return keep, nil
}

// waitStable waits (package wait) for a store to be neither CONNECTING
// nor DISCONNECTING, for targets that cannot settle a transition on demand.
// A store that is gone is settled too.
func (mc *machine) waitStable(ctx context.Context, id string) error {
	to := mc.r.Target.Timeouts()
	_, err := wait.Settled(ctx, mc.client, id, wait.Options{Poll: max(to.Poll, time.Millisecond)})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil || errors.Is(err, wait.ErrTimeout):
		return errors.New("settling: the store is still in transition")
	}
	if o := drive.Classify(err); o.Code == string(model.ErrCustomKeyStoreNotFound) {
		return nil
	} else if o.Code != "" || o.Transport {
		return fmt.Errorf("settling: DescribeCustomKeyStores answered %s", orNone(o.Code))
	}
	return fmt.Errorf("settling: %v", err)
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
