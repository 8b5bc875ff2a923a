package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/reports"
	"github.com/kmsconform/kmsconform/targets"
)

// PlannedRun is what following the plan of one store type gave.
type PlannedRun struct {
	Cells []reports.Cell
	// Replans counts the times the target answered otherwise than the
	// model and the walk was re-planned from the state observed.
	Replans int
	// Transitions counts the state changes the run made, as planned.
	Transitions int
	// Stopped is why the run ended early ("" when it did not): a limit of
	// the aws target's guard, a cancelled context.
	Stopped string
}

// maxReplans bounds the re-planning of one walk: a target that diverges
// at every step would otherwise make it walk for ever.
const maxReplans = 8

// PlanOptionsFor is what a target can do, as the planner sees it. Real KMS
// leaves a store in CONNECTING and DISCONNECTING for minutes, so the cells
// there are reachable by calling at once; a target with a control plane
// holds transitions and, if it can, breaks proxies; one without offers
// the one cluster and proxy of its backing.
func PlanOptionsFor(t targets.Target) model.PlanOptions {
	caps := t.Capabilities()
	o := model.PlanOptions{BackingControl: t.Control() != nil && caps.BreakProxy}
	o.Transient = t.Kind() == targets.KindAWS || t.Control() != nil && caps.HoldTransition
	o.OneBacking = t.Control() == nil
	return o
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
func (h *Harness) RunPlanned(ctx context.Context, t model.StoreType) PlannedRun {
	opt := PlanOptionsFor(h.Target)
	plan := model.PlanFor(t, opt)
	var run PlannedRun
	cells := map[string]model.Cell{}
	for _, c := range model.Cells() {
		cells[c.ID] = c
	}
	r := &cellRun{h: h, client: h.Target.KMS(), ctl: h.Target.Control(), caps: h.Target.Capabilities(), route: "planned"}
	r.m = NewMapper(h.nextPrefix(), h.Target.Backing())
	defer func() {
		h.addCalls(r.m.Calls)
		clean := context.WithoutCancel(ctx)
		if r.ctl != nil {
			r.releaseHolds(clean)
		}
		// On real KMS the guard's cleanup, which works from its ledger,
		// does this; a sweep lists stores by name.
		if h.Target.Kind() != targets.KindAWS {
			Sweep(clean, r.client, r.m.Prefix(), r.m.TargetKeys(), h.Target.Timeouts().Poll)
		}
	}()
	w := model.NewWorld()
	if r.ctl != nil {
		if err := r.ctl.Reset(ctx); err != nil {
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
		res := CellResultBase(cells[id])
		res.Verdict, res.Evidence.Detail, res.Evidence.Route = reports.Unreachable, "not in the planned walk: "+why, "planned"
		run.Cells = append(run.Cells, res)
		done[id] = true
	}
	steps := plan.Steps
	for i := 0; i < len(steps); i++ {
		if err := ctx.Err(); err != nil {
			run.Stopped = err.Error()
			break
		}
		s := steps[i]
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
		if run.Replans >= maxReplans {
			run.Stopped = fmt.Sprintf("the target diverged from the plan %d times", run.Replans)
			break
		}
		run.Replans++
		w = r.observe(ctx, w, s.Subject)
		var left []string
		for _, id := range plan.Covered {
			if !done[id] {
				left = append(left, id)
			}
		}
		re := model.PlanFrom(t, opt, w, s.Subject, s.SubjectKey, left)
		steps, i = re.Steps, -1
		for id, why := range re.Excluded {
			if !done[id] {
				res := CellResultBase(cells[id])
				res.Verdict, res.Evidence.Detail, res.Evidence.Route = reports.Unreachable, "after a divergence, the re-planned walk cannot reach it: "+why, "planned"
				run.Cells = append(run.Cells, res)
				done[id] = true
			}
		}
	}
	for _, id := range plan.Covered {
		if !done[id] {
			res := CellResultBase(cells[id])
			res.Verdict, res.Evidence.Detail, res.Evidence.Route = reports.Indeterminate, "the planned run stopped before it: "+run.Stopped, "planned"
			run.Cells = append(run.Cells, res)
		}
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
		next := outs[0].Worlds[0]
		st, _ := next.Store(s.Call.Store())
		if err := r.settleTo(ctx, r.m.StoreID(st.ID), st.State, st.ErrorCode); err != nil {
			return w, true, stopReason(err)
		}
		return next, false, ""
	case s.Call.Op.IsEnv():
		if err := r.applyEnv(ctx, s.Call); err != nil {
			return w, false, "control plane: " + err.Error()
		}
		return outs[0].Worlds[0], false, ""
	}
	// Hold the subject store's transitions where the target can, so that
	// the cells of CONNECTING and DISCONNECTING find it there.
	if (s.Call.Op == model.OpConnectCustomKeyStore || s.Call.Op == model.OpDisconnectCustomKeyStore) && s.To != s.From &&
		model.ConnectionState(s.To).Transient() && r.ctl != nil && r.caps.HoldTransition {
		// Every time: settling a store ends its hold.
		if err := r.hold(ctx, r.m.StoreID(s.Call.Store())); err != nil {
			return w, false, err.Error()
		}
	}
	start := time.Now()
	_, err := r.m.Invoke(ctx, r.client, s.Call, outs[0].StoreID, outs[0].KeyID)
	obs := Classify(err)
	if why := stopReason(err); why != "" && (errors.Is(err, context.Canceled) || isGuardLimit(err)) {
		return w, false, why
	}
	var matched []model.Outcome
	for _, o := range outs {
		if o.Error == model.Success && obs.Code == SuccessCode || o.Error != model.Success && string(o.Error) == obs.Code {
			matched = append(matched, o)
		}
	}
	if s.Cell != "" {
		c := cells[s.Cell]
		res := CellResultBase(c)
		res.Observed = obs.Code
		res.Seconds = time.Since(start).Seconds()
		res.Evidence.Route = "planned"
		res.Evidence.HTTPStatus = obs.HTTPStatus
		res.Evidence.RequestID = obs.RequestID
		res.Evidence.Message = r.m.redact(obs.Message)
		switch {
		case obs.Transport:
			res.Verdict, res.Evidence.Detail = reports.Indeterminate, "no answer: "+r.m.redact(obs.Message)
		case obs.NotImplemented:
			res.Verdict, res.Evidence.Detail = reports.Unsupported, "not implemented: "+obs.describe()
		case len(matched) > 0:
			res.Verdict = reports.Pass
		case c.Status == model.Undocumented:
			res.Verdict, res.Evidence.Detail = reports.Informational, "an undocumented cell answered outside the plausible set"
		default:
			res.Verdict, res.Evidence.Detail = reports.Fail, fmt.Sprintf("answered %s; the model allows %v", obs.Code, expectedNames(c.Expected))
		}
		run.Cells = append(run.Cells, res)
		done[s.Cell] = true
	}
	switch {
	case len(matched) == 0:
		return w, true, ""
	case matched[0].Error != outs[0].Error:
		// An answer the model allows, but not the one the plan followed:
		// the worlds (and the ids the plan names) part ways here.
		return matched[0].Worlds[0], true, ""
	}
	return outs[0].Worlds[0], false, ""
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
	if errors.As(err, &ve) && ve.verdict == reports.Indeterminate {
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
