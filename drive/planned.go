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
	"github.com/kmsconform/kmsconform/targets"
)

// PlannedRun is what following the plan of one store type gave.
type PlannedRun struct {
	Cells []CellResult
	// Replans counts the times the target answered otherwise than the
	// model and the walk was re-planned from the state observed.
	Replans int
	// Retries counts the re-plans after a transient cell whose brackets
	// did not prove the state (the transition ended too soon).
	Retries int
	// LowerBound is the planner's bound on the transitions of a walk that
	// covers the same cells (Plan.LowerBound).
	LowerBound int
	// Retained counts the stores the walk could not delete (they hold keys
	// pending deletion); Connected says a store of the walk reached
	// CONNECTED (on CloudHSM, KMS then rotated the kmsuser password).
	Retained  int
	Connected bool
	// Finding is what the walk learnt of the target that is a finding of
	// its own ("" for none): a target never seen in a transient state.
	Finding string
	// final is the model's world where the walk ended, m its mapper (for
	// a scenario that adopts the store the walk left).
	final *model.World
	m     *Mapper
	// Transitions counts the state changes the run made, as planned.
	Transitions int
	// Stopped is why the run ended early ("" when it did not): a limit of
	// the aws target's guard, a cancelled context.
	Stopped string
}

// maxReplans bounds the re-planning of one walk: a target that diverges
// at every step would otherwise make it walk for ever. Missed brackets
// (below) have their own bound.
const maxReplans = 8

// maxBracketTries bounds the tries at one transient cell: each miss costs
// a transition to come back to the state.
const maxBracketTries = 3

// PlanOptionsFor is what a target can do for store type st, as the planner
// sees it. Transient states are always in reach: a target that can hold a
// transition holds it; on any other the walk calls right after the
// transition starts, between two observations (see RunPlanned). The
// backing is controlled where the target offers it (clusters for CloudHSM;
// the proxy, even through a kmsconform xks-proxy's control API alone, for
// external key stores); otherwise the walk uses the one cluster or proxy it
// was given.
func PlanOptionsFor(t targets.Target, st model.StoreType) model.PlanOptions {
	offer := OfferOf(t)
	o := model.PlanOptions{Transient: true}
	if s := t.Backing().Second; s != nil {
		o.SecondBacking = st == model.CloudHSM && s.ClusterID != "" || st == model.External && s.XksEndpoint != ""
	}
	if st == model.CloudHSM {
		o.BackingControl, o.OneBacking = offer.Clusters, !offer.Clusters
	} else {
		o.BackingControl, o.OneBacking = offer.OneProxy, !offer.Proxies
	}
	return o
}

// canHold reports whether the target holds transitions.
func canHold(t targets.Target) bool {
	_, ok := t.(targets.TransitionHolder)
	return ok
}

// RunPlanned follows the planned walk of store type t on the target: one
// store (and its re-creations) goes through the states with the fewest
// transitions, and every cell is checked when the walk reaches its state.
// A cell's verdict is its answer against the model's allowed outcomes; the
// state a call leaves is checked by the steps that follow (a settle to
// another state than planned is a divergence). When the target answers
// otherwise than the plan expects, the run records it, re-observes the
// store's state and re-plans the remaining cells from there instead of
// aborting. Cells the walk cannot reach are recorded as unreachable.
func (h *Driver) RunPlanned(ctx context.Context, t model.StoreType) PlannedRun {
	return h.RunPlannedCells(ctx, t, nil)
}

// RunPlannedCells is RunPlanned for the cells whose ids are in only (all
// of the type when only is nil).
func (h *Driver) RunPlannedCells(ctx context.Context, t model.StoreType, only map[string]bool) PlannedRun {
	return h.RunWalk(ctx, t, only, nil, nil)
}

// walked records a cell's result in a walk's run and, with WalkProgress,
// reports it.
func (h *Driver) walked(run *PlannedRun, res CellResult) {
	run.Cells = append(run.Cells, res)
	if h.WalkProgress {
		h.Done(res.Cell.ID, res.Verdict)
	}
}

// PauseFunc is called by a walk where it pauses (at), with the model's
// world, the subject store and key and the walk's mapper: it may run other
// work on the store, and returns the model's world after it and whether it
// did anything.
type PauseFunc func(ctx context.Context, at PauseAt, t model.StoreType, w model.World, sid, kid string, m *Mapper) (model.World, bool)

// PauseAt is where a walk pauses, once each.
type PauseAt int

const (
	// BeforeMend is the plan's Mend: a CloudHSM store DISCONNECTED with a
	// wrong kmsuser password, on a cluster whose password KMS has not
	// rotated, before the walk mends it.
	BeforeMend PauseAt = iota
	// BeforeBreak is the plan's Pause: before the last phase breaks the
	// store for good.
	BeforeBreak
)

// RunWalk is RunPlannedCells with extra cells (validation cells, say) that
// the walk covers besides the matrix's; only, when set, must name them too.
// pause, when not nil, runs at the plan's Pause.
func (h *Driver) RunWalk(ctx context.Context, t model.StoreType, only map[string]bool, extra []model.Cell, pause PauseFunc) PlannedRun {
	opt := PlanOptionsFor(h.Target, t)
	r := &cellRun{h: h, client: h.Target.KMS(), tgt: h.Target, route: "planned",
		tries: map[string]int{}, lastCell: -1, storeType: t}
	r.m = NewMapper(h.nextPrefix(), h.Target.Backing()).Strict(OfferOf(h.Target))
	// A cell whose call names backing the run was not given is never sent:
	// it stays out of the plan, unreachable with what would reach it.
	refused, adapted := map[string]string{}, map[string]string{}
	var all []model.Cell
	for _, c := range slices.Concat(model.Cells(), extra) {
		if c.StoreType == t {
			var note string
			if c, note = model.AdaptCell(c, opt); note != "" {
				adapted[c.ID] = note
			}
		}
		if err := r.m.unknown(c.Call); err != nil && c.StoreType == t {
			refused[c.ID] = err.Error()
			continue
		}
		all = append(all, c)
	}
	plan := model.PlanCells(t, opt, all)
	if only != nil {
		var ids []string
		for _, c := range all {
			if c.StoreType == t && only[c.ID] {
				ids = append(ids, c.ID)
			}
		}
		plan = model.PlanFromCells(t, opt, model.NewWorld(), "", "", ids, all)
	}
	run := PlannedRun{LowerBound: plan.LowerBound}
	cells := map[string]model.Cell{}
	for _, c := range slices.Concat(model.Cells(), extra) {
		cells[c.ID] = c
	}
	for _, c := range all {
		cells[c.ID] = c
	}

	for id, why := range refused {
		if only == nil || only[id] {
			res := CellResult{Cell: cells[id]}
			res.Verdict, res.Evidence.Detail, res.Evidence.Route = Unreachable, why, "planned"
			h.walked(&run, res)
		}
	}
	defer func() {
		h.addCalls(r.m.Calls)
		clean := context.WithoutCancel(ctx)
		r.releaseHolds(clean)
		// A target that cleans up from its own ledger (real KMS's guard)
		// does this; a sweep lists stores by name.
		if sc, ok := h.Target.(targets.SelfCleaning); !ok || !sc.CleansUpAfterRun() {
			r.m.Sweep(clean, r.client, h.Target.Timeouts().Poll)
		}
		_ = r.mendProxy(clean) // what follows the walk finds the proxy healthy
	}()
	w := model.NewWorld()
	if rs := r.resetter(); rs != nil {
		if err := rs.Reset(ctx); err != nil {
			run.Stopped = "resetting the target: " + err.Error()
			return run
		}
		if err := r.putBacking(ctx, w); err != nil {
			run.Stopped = "setting up the backing: " + err.Error()
			return run
		}
	}
	done := map[string]bool{}
	for id, why := range plan.Excluded {
		res := CellResult{Cell: cells[id]}
		res.Verdict, res.Evidence.Detail, res.Evidence.Route = Unreachable, "not in the planned walk: "+why, "planned"
		h.walked(&run, res)
		done[id] = true
	}
	steps := plan.Steps
	r.pauseAt, r.mendAt = plan.Pause, plan.Mend
	for i := 0; i < len(steps); i++ {
		if err := ctx.Err(); err != nil {
			run.Stopped = err.Error()
			break
		}
		s := steps[i]
		at := BeforeBreak
		if i == r.mendAt && pause != nil {
			r.mendAt, r.mendPaused = -1, true
			at = BeforeMend
		} else if i == r.pauseAt && pause != nil {
			r.pauseAt, r.paused = -1, true
		} else {
			at = -1
		}
		if at >= 0 {
			if nw, did := pause(ctx, at, t, w, s.Subject, s.SubjectKey, r.m); did {
				// Others used the store: re-plan from where they left it,
				// as after a divergence (not counted as one).
				w, r.lastMiss = nw, true
				i = r.replan(ctx, &w, s, &steps, t, opt, plan, all, cells, &run, done)
				continue
			}
		}
		next, diverged, stop := r.planStep(ctx, w, s, cells, &run, done)
		if stop != "" {
			run.Stopped = stop
			break
		}
		if s.Transition && !diverged {
			run.Transitions++
		}
		w = next
		if !diverged {
			continue
		}
		// Re-observe and re-plan the cells not yet done.
		if r.missed {
			r.missed = false
			run.Retries++
			if !r.sawTransient && r.misses >= 2 && opt.Transient {
				// Twice the store had left the transient state before
				// the first observation, and no observation ever showed
				// one: this target does not show CONNECTING or
				// DISCONNECTING long enough to call it there.
				opt.Transient = false
				run.Finding = "Connect and Disconnect answered 200 but the store was never observed CONNECTING or DISCONNECTING " +
					"(real KMS goes through CONNECTING for minutes on CloudHSM and about 5 minutes on XKS)"
			}
		} else if run.Replans >= maxReplans {
			run.Stopped = fmt.Sprintf("the target diverged from the plan %d times", run.Replans)
			break
		}
		i = r.replan(ctx, &w, s, &steps, t, opt, plan, all, cells, &run, done)
	}
	for _, st := range w.Stores {
		if len(w.KeysIn(st.ID)) > 0 {
			run.Retained++
		}
	}
	h.addFinding(run.Finding)
	final := w
	run.final, run.m = &final, r.m
	for _, id := range plan.Covered {
		if !done[id] {
			res := CellResult{Cell: cells[id]}
			res.Verdict, res.Evidence.Detail, res.Evidence.Route = Indeterminate, "the planned run stopped before it: "+run.Stopped, "planned"
			switch r.stopVerdict {
			case Unreachable:
				res.Verdict, res.Evidence.Detail = Unreachable, "the walk cannot go on: "+run.Stopped
			case Unsupported:
				res.Verdict, res.Evidence.Detail = Unsupported, run.Stopped
			}
			h.walked(&run, res)
		}
	}
	for i := range run.Cells {
		run.Cells[i].Evidence.Adapted = adapted[run.Cells[i].Cell.ID]
	}
	return run
}

// planStep carries out one step. It returns the model's world after it,
// whether the target diverged from the plan, and why the run must stop
// ("" to go on).
func (r *cellRun) planStep(ctx context.Context, w model.World, s model.PlanStep, cells map[string]model.Cell, run *PlannedRun, done map[string]bool) (model.World, bool, string) {
	outs := model.Step(w, s.Call)
	switch {
	case s.Call.Op == model.OpSettle:
		return r.planSettle(ctx, w, s, outs, run)
	case s.Call.Op.IsEnv():
		if err := r.applyEnv(ctx, s.Call); err != nil {
			return w, false, "control plane: " + err.Error()
		}
		return outs[0].Worlds[0], false, ""
	}
	hold := canHold(r.h.Target)
	// Hold the subject store's transitions where the target can, so that
	// the cells of CONNECTING and DISCONNECTING find it there.
	if (s.Call.Op == model.OpConnectCustomKeyStore || s.Call.Op == model.OpDisconnectCustomKeyStore) && s.To != s.From &&
		model.ConnectionState(s.To).Transient() && hold {
		// Every time: settling a store ends its hold.
		if err := r.hold(ctx, r.m.StoreID(s.Call.Store())); err != nil {
			return w, false, err.Error()
		}
	}
	// Elsewhere a cell of a transient state is bracketed: the store must
	// be observed in the state just before the call and just after it.
	bracket := s.Cell != "" && !hold && s.From != "" && model.ConnectionState(s.From).Transient()
	sid := r.m.StoreID(s.Subject)
	if bracket {
		st, code, err := r.describeState(ctx, sid)
		if why := stopReason(err); why != "" {
			return w, false, why
		}
		r.noteState(st)
		if err != nil || st != model.ConnectionState(s.From) {
			return r.bracketMiss(w, s, cells, run, done, fmt.Sprintf("%s %s before the call", st, code))
		}
	}
	start := time.Now()
	ans, err := r.invoke(ctx, s.Call, outs[0].StoreID, outs[0].KeyID)
	obs := Classify(err)
	if why := stopReason(err); why != "" && (errors.Is(err, context.Canceled) || isGuardLimit(err)) {
		return w, false, why
	}
	switch {
	case obs.Unknown != "" && s.Cell == "":
		// A move of the walk needs backing the run was not given: the
		// cells after it cannot be reached (not a divergence of the target).
		r.stopVerdict = Unreachable
		return w, false, obs.Unknown
	case obs.NotImplemented && s.Cell == "":
		r.stopVerdict = Unsupported
		return w, false, fmt.Sprintf("%s is not implemented (%s)", s.Call.Op, obs.describe())
	case obs.Transport:
		// No answer: the outcome is unknown, and so is every later one.
		defer func() { r.stopVerdict = Indeterminate }()
	}
	var matched []model.Outcome
	for _, o := range outs {
		if o.Error == model.Success && obs.Code == SuccessCode || o.Error != model.Success && string(o.Error) == obs.Code {
			matched = append(matched, o)
		}
	}
	var after model.ConnectionState
	if bracket {
		st, code, err := r.describeState(ctx, sid)
		if why := stopReason(err); why != "" {
			return w, false, why
		}
		r.noteState(st)
		after = st
		proven := st == model.ConnectionState(s.From)
		if len(matched) > 0 && !proven {
			for _, o := range matched {
				for _, mw := range o.Worlds {
					if ms, ok := mw.Store(s.Subject); ok && ms.State == st {
						proven = true
					}
				}
			}
		}
		if err != nil || !proven {
			// The call was made, perhaps after the transition ended: follow
			// it in the model from where the store may have been, so that
			// what it did (a key made, a store renamed or deleted) is in
			// the world the walk re-plans from.
			w = r.followLate(w, s, obs, ans)
			return r.bracketMiss(w, s, cells, run, done, fmt.Sprintf("%s before the call, %s %s after it", s.From, st, code))
		}
	}
	if s.Cell != "" {
		c := cells[s.Cell]
		res := CellResult{Cell: c}
		res.Observed = obs.Code
		res.Evidence.Route = "planned"
		if bracket {
			res.Evidence.Route = fmt.Sprintf("planned, bracketed (%s before the call, %s after", s.From, after)
			if n := r.tries[s.Cell]; n > 0 {
				res.Evidence.Route += fmt.Sprintf("; try %d", n+1)
			}
			res.Evidence.Route += ")"
		}
		res.Evidence.HTTPStatus = obs.HTTPStatus
		res.Evidence.RequestID = obs.RequestID
		res.Evidence.Message = r.m.redact(obs.Message)
		switch {
		case obs.Unknown != "":
			res.Verdict, res.Evidence.Detail = Unreachable, obs.Unknown
		case obs.Transport:
			res.Verdict, res.Evidence.Detail = Indeterminate, "no answer: "+r.m.redact(obs.Message)
		case obs.NotImplemented:
			res.Verdict, res.Evidence.Detail = Unsupported, fmt.Sprintf("%s is not implemented (%s)", c.Op, obs.describe())
		case len(matched) > 0:
			res.Verdict = Pass
			if detail := r.checkReached(ctx, c, s, matched, ans); detail != "" {
				res.Verdict, res.Evidence.Detail = Fail, r.m.redact(detail)
			}
		case c.Status == model.Undocumented:
			res.Verdict, res.Evidence.Detail = Informational, "an undocumented cell answered outside the plausible set"
		default:
			res.Verdict, res.Evidence.Detail = Fail, fmt.Sprintf("answered %s; the model allows %v", orNone(obs.Code), model.OutcomeNames(c.Expected))
		}
		res.Seconds = time.Since(start).Seconds()
		r.h.walked(run, res)
		done[s.Cell] = true
		if res.Verdict == Pass && s.From != s.To && model.ConnectionState(s.To).Transient() {
			r.lastCell = len(run.Cells) - 1 // the settle that follows is this cell's too
		}
	}
	switch {
	case obs.Unknown != "":
		// Nothing was sent: re-plan without it, not counted as the
		// target's divergence.
		r.lastMiss = true
		return w, true, ""
	case obs.Transport && obs.HTTPStatus == 0:
		return w, false, "no answer: " + r.m.redact(obs.Message)
	case obs.Transport:
		// An answer that cannot be read: what the call did is unknown, so
		// re-observe and re-plan.
		return w, true, ""
	case obs.NotImplemented:
		// An operation the target lacks changes nothing: walk on.
		return w, false, ""
	case len(matched) == 0:
		return w, true, ""
	case matched[0].Error != outs[0].Error:
		// An answer the model allows, but not the one the plan followed:
		// the worlds (and the ids the plan names) part ways here.
		return matched[0].Worlds[0], true, ""
	}
	return outs[0].Worlds[0], false, ""
}

// replan re-observes the subject store and re-plans the cells not done
// from there; it returns the loop index to go on from (-1: the new plan's
// first step comes next).
func (r *cellRun) replan(ctx context.Context, w *model.World, s model.PlanStep, steps *[]model.PlanStep, t model.StoreType, opt model.PlanOptions,
	plan model.Plan, all []model.Cell, cells map[string]model.Cell, run *PlannedRun, done map[string]bool) int {
	if !r.lastMiss {
		run.Replans++
	}
	r.lastMiss = false
	*w = r.observe(ctx, *w, s.Subject)
	var left []string
	for _, id := range plan.Covered {
		if !done[id] {
			left = append(left, id)
		}
	}
	re := model.PlanFromCells(t, opt, *w, s.Subject, s.SubjectKey, left, all)
	*steps = re.Steps
	if !r.paused {
		r.pauseAt = re.Pause
	}
	if !r.mendPaused {
		r.mendAt = re.Mend
	}
	for id, why := range re.Excluded {
		if !done[id] {
			res := CellResult{Cell: cells[id]}
			if !opt.Transient && run.Finding != "" && strings.Contains(why, "held in") {
				why = run.Finding
			}
			res.Verdict, res.Evidence.Detail, res.Evidence.Route = Unreachable, "after a divergence, the re-planned walk cannot reach it: "+why, "planned"
			r.h.walked(run, res)
			done[id] = true
		}
	}
	return -1
}

// noteState remembers that a transient state was observed.
func (r *cellRun) noteState(st model.ConnectionState) {
	if st.Transient() {
		r.sawTransient = true
	}
	if st == model.Connected && r.storeType == model.CloudHSM {
		r.h.noteCloudHSMConnect()
	}
}

// followLate returns the world after a call made around the end of the
// subject's transition: the first world, among the call's outcomes from the
// transient state or from any state it may have settled to, whose answer is
// the one observed. The ids a success returned are mapped to that
// outcome's. w is returned when no outcome matches.
func (r *cellRun) followLate(w model.World, s model.PlanStep, obs Observation, ans Answer) model.World {
	starts := []model.World{w}
	if ws, ok := w.Store(s.Subject); ok {
		for _, so := range model.Step(w, model.Call{Op: model.OpSettle, StoreID: &ws.ID}) {
			starts = append(starts, so.Worlds...)
		}
	}
	for _, start := range starts {
		for _, o := range model.Step(start, s.Call) {
			if o.Error == model.Success && obs.Code != SuccessCode || o.Error != model.Success && string(o.Error) != obs.Code {
				continue
			}
			if o.KeyID != "" && ans.KeyID != "" {
				arn := ""
				if ans.Key != nil {
					arn = aws.ToString(ans.Key.Arn)
				}
				r.m.setKey(o.KeyID, ans.KeyID, arn)
			}
			if o.StoreID != "" && ans.StoreID != "" {
				r.m.stores[o.StoreID] = ans.StoreID
			}
			return o.Worlds[0]
		}
	}
	return w
}

// bracketMiss handles a transient cell whose observations do not prove the
// state at the call: the walk re-plans from where the store is (and comes
// back to the state), up to maxBracketTries times; then the cell is
// unreachable with the tries as evidence.
func (r *cellRun) bracketMiss(w model.World, s model.PlanStep, cells map[string]model.Cell, run *PlannedRun, done map[string]bool, seen string) (model.World, bool, string) {
	r.tries[s.Cell]++
	r.misses++
	r.missed, r.lastMiss = true, true
	if r.tries[s.Cell] >= maxBracketTries {
		res := CellResult{Cell: cells[s.Cell]}
		res.Verdict = Unreachable
		res.Evidence.Route = "planned, bracketed"
		res.Evidence.Detail = fmt.Sprintf("the store did not stay %s around the call on %d tries (last: %s): the transition ends sooner than two DescribeCustomKeyStores and a call",
			s.From, r.tries[s.Cell], seen)
		r.h.walked(run, res)
		done[s.Cell] = true
	}
	return w, true, ""
}

// planSettle waits for the subject store to finish its transition. Where
// it ends is checked against every world the model allows, not just the
// one the plan follows: another allowed end is a divergence (re-plan); an
// end the model does not allow fails the cell whose call started the
// transition (a Connect that ends FAILED without a ConnectionErrorCode,
// say).
func (r *cellRun) planSettle(ctx context.Context, w model.World, s model.PlanStep, outs []model.Outcome, run *PlannedRun) (model.World, bool, string) {
	planned := outs[0].Worlds[0]
	ps, _ := planned.Store(s.Call.Store())
	id := r.m.StoreID(ps.ID)
	if th := r.holder(); th != nil {
		if err := th.Settle(ctx, id); err != nil {
			return w, true, fmt.Sprintf("settling store %s: %v", id, err)
		}
	}
	state, code, err := r.waitStable(ctx, id)
	if err != nil {
		var ve *verdictError
		if errors.As(err, &ve) && ve.verdict == Indeterminate {
			return w, false, ve.detail
		}
		return w, true, ""
	}
	cellIdx := r.lastCell
	r.lastCell = -1
	if state == model.Connected {
		run.Connected = true
		if ps.Type == model.CloudHSM {
			r.h.noteCloudHSMConnect()
		}
	}
	if why := r.h.stalePassword(ps, state, code); why != "" {
		// Not the target's fault: the password the run was given is not
		// the cluster's any more. Nothing on the cluster can connect.
		if cellIdx >= 0 && cellIdx < len(run.Cells) {
			run.Cells[cellIdx].Verdict, run.Cells[cellIdx].Evidence.Detail = Unreachable, why
		}
		r.stopVerdict = Unreachable
		return w, false, why
	}
	if state == ps.State && code == ps.ErrorCode {
		return planned, false, r.checkKeysAfter(ctx, planned, s, run, cellIdx)
	}
	var allowed []string
	for _, o := range outs {
		for _, n := range o.Worlds {
			st, _ := n.Store(ps.ID)
			allowed = append(allowed, strings.TrimSpace(string(st.State)+" "+string(st.ErrorCode)))
			if st.State == state && st.ErrorCode == code {
				return n, true, ""
			}
		}
	}
	if cellIdx >= 0 && cellIdx < len(run.Cells) {
		c := &run.Cells[cellIdx]
		c.Verdict = Fail
		c.Evidence.Detail = fmt.Sprintf("the store settled to %s; the model allows %s",
			strings.TrimSpace(string(state)+" "+string(code)), strings.Join(slices.Compact(allowed), " or "))
	}
	return w, true, ""
}

// checkKeysAfter checks, after a settle, that the subject key shows the
// state the model says (keys follow their store: Unavailable while it is
// not connected); a departure fails the cell whose call started the
// transition.
func (r *cellRun) checkKeysAfter(ctx context.Context, w model.World, s model.PlanStep, run *PlannedRun, cellIdx int) string {
	k, ok := w.Key(s.SubjectKey)
	if !ok || s.SubjectKey == "" {
		return ""
	}
	want := w.ShownKeyState(k)
	r.m.Calls++
	out, err := r.client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(r.m.KeyID(k.ID))})
	if why := stopReason(err); why != "" {
		return why
	}
	got := model.KeyState("")
	if err == nil && out.KeyMetadata != nil {
		got = model.KeyState(out.KeyMetadata.KeyState)
	}
	if got != want && cellIdx >= 0 && cellIdx < len(run.Cells) {
		c := &run.Cells[cellIdx]
		c.Verdict = Fail
		c.Evidence.Detail = fmt.Sprintf("after the store settled, its key shows %s; the model expects %s", orNone(string(got)), want)
	}
	return ""
}

// checkReached checks a walk's cell as deeply as one built from scratch:
// after an allowed answer, the store's state and ConnectionErrorCode and
// the key's state must be what one of the matched worlds shows (a
// transient state may already have moved on to one of its ends). It
// returns why the cell fails ("" when it holds).
func (r *cellRun) checkReached(ctx context.Context, c model.Cell, s model.PlanStep, matched []model.Outcome, ans Answer) string {
	if err := checkBody(c.Op, matched[0].Error == model.Success, ans, r.m); err != nil {
		return detailOf(err)
	}
	if s.Subject == "" || c.Column == model.NoSuchStore {
		return ""
	}
	var worlds []model.World
	for _, o := range matched {
		for _, w := range o.Worlds {
			worlds = append(worlds, w)
			if ms, ok := w.Store(s.Subject); ok && ms.State.Transient() {
				for _, so := range model.Step(w, model.Call{Op: model.OpSettle, StoreID: &ms.ID}) {
					worlds = append(worlds, so.Worlds...)
				}
			}
		}
	}
	id := r.m.StoreID(s.Subject)
	state, code, err := r.describeState(ctx, id)
	var de *describeError
	deleted := errors.As(err, &de) && de.obs.Code == string(model.ErrCustomKeyStoreNotFound)
	if err != nil && !deleted {
		return ""
	}
	var fits []model.World
	var allowed []string
	for _, w := range worlds {
		ms, found := w.Store(s.Subject)
		switch {
		case deleted && !found, !deleted && found && ms.State == state && ms.ErrorCode == code:
			fits = append(fits, w)
		}
		if found {
			allowed = append(allowed, strings.TrimSpace(string(ms.State)+" "+string(ms.ErrorCode)))
		} else {
			allowed = append(allowed, "deleted")
		}
	}
	if len(fits) == 0 {
		got := strings.TrimSpace(string(state) + " " + string(code))
		if deleted {
			got = "deleted"
		}
		slices.Sort(allowed)
		return fmt.Sprintf("the answer is allowed, but the store is then %s; the model allows %s", got, strings.Join(slices.Compact(allowed), " or "))
	}
	if c.Op == model.OpDescribeCustomKeyStores && matched[0].Error == model.Success && !deleted {
		if ms, ok := fits[0].Store(s.Subject); ok && ms.State == state {
			for _, e := range ans.Stores {
				if aws.ToString(e.CustomKeyStoreId) == id {
					if err := r.checkEntry(e, renameSubject(fits[0], s.Subject)); err != nil {
						return detailOf(err)
					}
				}
			}
		}
	}
	kid := s.SubjectKey
	if kid == "" {
		return ""
	}
	if _, had := fits[0].Key(kid); !had {
		return ""
	}
	if state.Transient() {
		// The key is read after the store: the transition may have ended
		// in between.
		for _, w := range slices.Clone(fits) {
			if ms, ok := w.Store(s.Subject); ok {
				for _, so := range model.Step(w, model.Call{Op: model.OpSettle, StoreID: &ms.ID}) {
					fits = append(fits, so.Worlds...)
				}
			}
		}
	}
	r.m.Calls++
	out, err := r.client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(r.m.KeyID(kid))})
	if err != nil || out.KeyMetadata == nil {
		return ""
	}
	got := model.KeyState(out.KeyMetadata.KeyState)
	var want []string
	for _, w := range fits {
		if k, ok := w.Key(kid); ok {
			if w.ShownKeyState(k) == got {
				ks, _ := w.Store(k.Store)
				if err := checkKeyFields(out.KeyMetadata, k, ks, got, r.m); err != nil {
					return detailOf(err)
				}
				return ""
			}
			want = append(want, string(w.ShownKeyState(k)))
		}
	}
	slices.Sort(want)
	return fmt.Sprintf("the key shows %s; the model expects %s", got, strings.Join(slices.Compact(want), " or "))
}

// renameSubject returns w with the store sid under the id checkEntry reads
// (model.SubjectStoreID).
func renameSubject(w model.World, sid string) model.World {
	if sid == model.SubjectStoreID {
		return w
	}
	n := w.Clone()
	for i := range n.Stores {
		if n.Stores[i].ID == sid {
			n.Stores[i].ID = model.SubjectStoreID
		}
	}
	return n
}

// observe reads the subject store's state from the target and puts it
// into the model's world, so a re-plan starts where the target is.
func (r *cellRun) observe(ctx context.Context, w model.World, sid string) model.World {
	if sid == "" {
		return w
	}
	s, ok := w.Store(sid)
	if !ok {
		return w
	}
	st, code, err := r.describeState(ctx, r.m.StoreID(sid))
	r.noteState(st)
	if err == nil && s.State.Transient() && !st.Transient() {
		// The transition ended: let the model end it, so that what it does
		// besides the state (KMS rotating the kmsuser password, say) is in
		// the world too.
		for _, o := range model.Step(w, model.Call{Op: model.OpSettle, StoreID: &s.ID}) {
			for _, n := range o.Worlds {
				if ns, ok := n.Store(s.ID); ok && ns.State == st && ns.ErrorCode == code {
					return n
				}
			}
		}
	}
	var de *describeError
	n := w.Clone()
	for i := range n.Stores {
		if n.Stores[i].ID != s.ID {
			continue
		}
		switch {
		case errors.As(err, &de) && de.obs.Code == "CustomKeyStoreNotFoundException":
			n.Stores = append(n.Stores[:i], n.Stores[i+1:]...)
		case err == nil:
			n.Stores[i].State, n.Stores[i].ErrorCode = st, code
		}
		break
	}
	return n
}

// stopReason is why a failed call ends a planned run: a limit of the aws
// target's guard, or a cancelled run ("" for anything else).
func stopReason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "the run was stopped: " + err.Error()
	case isGuardLimit(err):
		return err.Error()
	}
	var ve *verdictError
	if errors.As(err, &ve) && ve.verdict == Indeterminate {
		return ve.detail
	}
	return ""
}

// isGuardLimit reports a refusal of the aws target's guard for a limit
// (its type is not imported: targets/aws depends on nothing here, and the
// harness depends on targets only through their interface).
func isGuardLimit(err error) bool {
	var le interface{ GuardLimit() bool }
	return errors.As(err, &le) && le.GuardLimit()
}
