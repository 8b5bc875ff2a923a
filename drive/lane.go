package drive

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/targets"
)

// A target that cannot reset itself and hold every transition (anything
// but the embedded emulator: an endpoint, real KMS) shares the backing it
// was given, one cluster and one proxy, between every cell and scenario of
// a store type, and a store that holds a key keeps that backing for the 7
// days of the key's deletion window. So on such a target the cells and
// scenarios of a store type run in one lane, in one order, whatever order
// Ginkgo runs their specs in: the first spec of the lane runs it all, every
// spec records its own result.
//
//  1. the validation cells and scenarios that leave the backing as they
//     found it, each on a store of its own that it deletes;
//  2. the planned walk: one store through every state (the transient ones
//     caught between two observations) for the matrix and for the
//     validation cells that need a store with a key or a connected
//     CloudHSM store;
//  3. the scenarios that keep the backing (a key, whose deletion takes 7
//     days; a CloudHSM connect, after which KMS has rotated the kmsuser
//     password), while it is free; once it is not, they are unreachable
//     with the reason and what would reach them.

// lane is the run of one store type's lane.
type lane struct {
	once      sync.Once
	cells     map[string]CellResult
	scenarios map[string]ScenarioResult
}

// UsesLanes reports whether the harness runs cells and scenarios in lanes
// (see above) rather than one route each from a reset target.
func (h *Driver) UsesLanes() bool { return !h.FullControl() }

// FullControl reports whether the target has every capability: it resets,
// holds transitions, controls clusters, proxies and time. Every cell is
// reachable on it, one route each.
func (h *Driver) FullControl() bool { return targets.Full(h.Target) }

// StoreType is the type of the store a scenario creates first ("" when it
// creates none).
func (s Scenario) StoreType() model.StoreType {
	for _, c := range s.Steps {
		if c.Op == model.OpCreateCustomKeyStore && c.Create != nil {
			if c.Create.Type != nil {
				return model.StoreType(*c.Create.Type)
			}
			return model.CloudHSM
		}
	}
	return ""
}

// LaneOf returns the lane type of a cell ("" when it runs on its own): the
// matrix cells of a type, and the validation cells whose route creates a
// store.
func LaneOf(c model.Cell) model.StoreType {
	if strings.HasPrefix(c.ID, "validation/") && len(c.Route) == 0 && c.Op != model.OpCreateCustomKeyStore {
		return ""
	}
	return c.StoreType
}

// ShardKey is what decides the process a cell runs in under --procs: its
// lane when it has one, else its id.
func (h *Driver) ShardKey(c model.Cell) string {
	if h.UsesLanes() {
		if t := LaneOf(c); t != "" {
			return "lane/" + string(t)
		}
	}
	return c.ID
}

func (h *Driver) laneFor(t model.StoreType) *lane {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lanes == nil {
		h.lanes = map[model.StoreType]*lane{}
	}
	l := h.lanes[t]
	if l == nil {
		l = &lane{cells: map[string]CellResult{}, scenarios: map[string]ScenarioResult{}}
		h.lanes[t] = l
	}
	return l
}

// LaneCell returns a cell's result from its lane, running the lane first
// if no spec of it has.
func (h *Driver) LaneCell(ctx context.Context, c model.Cell) CellResult {
	l := h.laneFor(c.StoreType)
	l.once.Do(func() { h.runLane(ctx, c.StoreType, l) })
	if res, ok := l.cells[c.ID]; ok {
		return res
	}
	res := CellResult{Cell: c}
	res.Verdict, res.Evidence.Detail = Unreachable, "the lane of its store type did not reach it"
	return res
}

// LaneScenario returns a scenario's result from its lane.
func (h *Driver) LaneScenario(ctx context.Context, s Scenario) ScenarioResult {
	l := h.laneFor(s.StoreType())
	l.once.Do(func() { h.runLane(ctx, s.StoreType(), l) })
	if res, ok := l.scenarios[s.Name]; ok {
		return res
	}
	return ScenarioResult{Name: s.Name, Verdict: Unreachable, Detail: "the lane of its store type did not reach it"}
}

// runLane runs the lane of store type t, for the specs the label filter
// selects.
func (h *Driver) runLane(ctx context.Context, t model.StoreType, l *lane) {
	var valid []model.Cell
	matrix := map[string]bool{}
	all := true
	for _, c := range h.Cells {
		if LaneOf(c) != t {
			continue
		}
		validation := strings.HasPrefix(c.ID, "validation/")
		sel := h.SelectCell == nil || h.SelectCell(c)
		switch {
		case validation && sel:
			valid = append(valid, c)
		case !validation && sel:
			matrix[c.ID] = true
		case !validation:
			all = false
		}
	}
	var ss []Scenario
	for _, s := range h.Scenarios {
		if s.StoreType() == t && (h.SelectScenario == nil || h.SelectScenario(s)) {
			ss = append(ss, s)
		}
	}
	// 0. A store this run did not make that holds the backing keeps it from
	// every item of the lane (KMS allows one store per cluster and per
	// proxy URI): say so rather than fail each item on it.
	if held := h.heldByOther(ctx, t); held != "" {
		for _, c := range valid {
			res := CellResult{Cell: c}
			res.Verdict, res.Evidence.Detail = Unreachable, held
			l.cells[c.ID] = res
			h.Done(res.Cell.ID, res.Verdict)
		}
		for _, c := range h.Cells {
			if matrix[c.ID] {
				res := CellResult{Cell: c}
				res.Verdict, res.Evidence.Detail = Unreachable, held
				l.cells[c.ID] = res
				h.Done(res.Cell.ID, res.Verdict)
			}
		}
		for _, s := range ss {
			l.scenarios[s.Name] = ScenarioResult{Name: s.Name, Verdict: Unreachable, Detail: held}
			h.Done("scenario "+s.Name, Unreachable)
		}
		return
	}
	// 1. Validation cells and scenarios that leave the backing as they found
	// it, each on a store of its own.
	var walkValid []model.Cell
	for _, c := range valid {
		if cellBinds(c) {
			walkValid = append(walkValid, c)
			continue
		}
		res := h.RunCell(ctx, c)
		l.cells[c.ID] = res
		h.Done(res.Cell.ID, res.Verdict)
	}
	var later []Scenario
	for _, s := range ss {
		if binds(t, s.Steps) {
			later = append(later, s)
			continue
		}
		res := h.RunScenario(ctx, s)
		l.scenarios[s.Name] = res
		h.Done("scenario "+res.Name, res.Verdict)
	}
	// 2. The walk: the matrix and the validation cells that need a store
	// with a key (or, on CloudHSM, a connected one), all on its store.
	var bound string
	var keep *kept
	if len(matrix)+len(walkValid) > 0 {
		only := maps.Clone(matrix)
		for _, c := range walkValid {
			only[c.ID] = true
		}
		if all {
			only = nil
		}
		var pause PauseFunc
		if t == model.CloudHSM && !OfferOf(h.Target).Clusters {
			// The CloudHSM scenarios that keep the backing adopt the walk's
			// store before its last phase breaks it for good.
			pause = h.atPause(later, l.scenarios)
		}
		run := h.RunWalk(ctx, t, only, walkValid, pause)
		for _, res := range run.Cells {
			if _, mine := l.cells[res.Cell.ID]; !mine && (matrix[res.Cell.ID] || strings.HasPrefix(res.Cell.ID, "validation/")) {
				l.cells[res.Cell.ID] = res
				h.Done(res.Cell.ID, res.Verdict)
			}
		}
		var left string
		bound, left = h.boundAfterWalk(ctx, t)
		if bound != "" {
			if left == "" {
				left = h.leftover(ctx, t)
			}
			keep = keptAfter(run.final, run.m, t, left)
		}
	}
	// 3. The scenarios that keep the backing (a key, a CloudHSM connect):
	// while it is free, on a store of their own; then each adopts the store
	// the walk or the scenario before left, where it can.
	for _, s := range later {
		if _, ran := l.scenarios[s.Name]; ran {
			continue // at the walk's pause
		}
		var res ScenarioResult
		var final *model.World
		var m *Mapper
		switch {
		case bound == "":
			res, final, m = h.runScenario(ctx, s, nil)
			if res.Verdict != Unreachable && res.Verdict != Unsupported {
				bound = boundAfterScenario(t, s, res)
			}
		default:
			probe := &cellRun{h: h, tgt: h.Target}
			if why := probe.lacks(s); why != "" {
				res = ScenarioResult{Name: s.Name, Verdict: Unreachable, Detail: "the scenario " + why}
				break
			}
			a, why := h.adopt(ctx, t, s, keep)
			if a == nil {
				res = ScenarioResult{Name: s.Name, Verdict: Unreachable, Detail: bound + "; it cannot adopt that store: " + why}
				break
			}
			res, final, m = h.runScenario(ctx, s, a)
		}
		if final != nil && bound != "" {
			left := ""
			if keep != nil {
				left = keep.storeID // an adopted store stays the one left
			} else {
				left = h.leftover(ctx, t)
			}
			if k := keptAfter(final, m, t, left); k != nil {
				keep = k
			}
		}
		l.scenarios[s.Name] = res
		h.Done("scenario "+res.Name, res.Verdict)
	}
}

// binds reports whether calls on a store of type t keep the backing from
// the next store: a key (its deletion takes 7 days, and the store stays
// until then) or, on CloudHSM, a connect (KMS rotates the kmsuser password
// and counts failed logins).
func cellBinds(c model.Cell) bool {
	if binds(c.StoreType, c.Route) {
		return true
	}
	if c.Call.Op == model.OpCreateKey {
		// Only a key that is made keeps the backing.
		for _, o := range c.Expected {
			if o.Error == model.Success {
				return true
			}
		}
		return false
	}
	return binds(c.StoreType, []model.Call{c.Call})
}

func binds(t model.StoreType, calls []model.Call) bool {
	for _, c := range calls {
		if c.Op == model.OpCreateKey || t == model.CloudHSM && c.Op == model.OpConnectCustomKeyStore {
			return true
		}
	}
	return false
}

func (h *Driver) Done(id string, v Verdict) {
	if h.Progress != nil {
		h.Progress.CellDone(id, v)
	}
}

// boundAfterWalk says why the backing of store type t is no longer free
// for a new store after the walk ("" when it is): on CloudHSM the walk
// connected a store (KMS rotated the kmsuser password the run was given)
// or failed logins on purpose; on XKS a store of the run is still there (it
// holds keys pending deletion, and keeps the proxy URI). It also returns the
// id of that XKS store when it looked it up.
func (h *Driver) boundAfterWalk(ctx context.Context, t model.StoreType) (bound, left string) {
	o := OfferOf(h.Target)
	if o.Clusters && t == model.CloudHSM || o.Proxies && t == model.External {
		return "", ""
	}
	if t == model.CloudHSM {
		return "needs a CloudHSM cluster whose kmsuser password KMS has not rotated, but the walk connected a store on the only one " +
			"(and made failed logins on purpose); a second cluster, or control of the cluster, would reach it", ""
	}
	if left = h.leftover(ctx, t); left != "" {
		return "needs the XKS proxy URI free, but the walk's store " + left + " keeps it: it holds keys pending deletion (7 days); " +
			"a second proxy, or control of proxies, would reach it", left
	}
	return "", ""
}

// heldByOther says which store, not of this run, holds the backing the run
// was given for store type t ("" when none does, or when the target
// controls that backing).
func (h *Driver) heldByOther(ctx context.Context, t model.StoreType) string {
	o, b := OfferOf(h.Target), h.Target.Backing()
	if t == model.CloudHSM && (o.Clusters || b.ClusterID == "") || t == model.External && (o.Proxies || b.XksEndpoint == "") {
		return ""
	}
	var held string
	eachStore(ctx, h.Target.KMS(), func(s types.CustomKeyStoresListEntry) bool {
		name := aws.ToString(s.CustomKeyStoreName)
		switch {
		case strings.HasPrefix(name, h.RunPrefix()):
		case t == model.CloudHSM && aws.ToString(s.CloudHsmClusterId) == b.ClusterID:
			held = fmt.Sprintf("the CloudHSM cluster %s is associated with store %s (%q), which this run did not create; "+
				"KMS allows one store per cluster: delete that store once it holds no key (or give another cluster) to reach it", b.ClusterID, aws.ToString(s.CustomKeyStoreId), name)
		case t == model.External && s.XksProxyConfiguration != nil && aws.ToString(s.XksProxyConfiguration.UriEndpoint) == b.XksEndpoint &&
			(b.XksPath == "" || aws.ToString(s.XksProxyConfiguration.UriPath) == b.XksPath):
			held = fmt.Sprintf("the XKS proxy URI %s%s is used by store %s (%q), which this run did not create; "+
				"KMS allows one store per proxy URI: delete that store once it holds no key (or give another proxy) to reach it", b.XksEndpoint, b.XksPath, aws.ToString(s.CustomKeyStoreId), name)
		}
		return held == ""
	})
	return held
}

// leftover returns the id of a store of type t this run made that is still
// there ("" for none).
func (h *Driver) leftover(ctx context.Context, t model.StoreType) string {
	var id string
	eachStore(ctx, h.Target.KMS(), func(s types.CustomKeyStoresListEntry) bool {
		typ := model.StoreType(s.CustomKeyStoreType)
		if typ == "" {
			typ = model.CloudHSM
		}
		if strings.HasPrefix(aws.ToString(s.CustomKeyStoreName), h.RunPrefix()) && typ == t {
			id = aws.ToString(s.CustomKeyStoreId)
		}
		return id == ""
	})
	return id
}

// boundAfterScenario is boundAfterWalk for a scenario that ran.
func boundAfterScenario(t model.StoreType, s Scenario, res ScenarioResult) string {
	if res.Verdict == Unreachable || res.Verdict == Unsupported {
		return ""
	}
	for _, c := range s.Steps {
		if c.Op == model.OpCreateKey {
			return "needs the backing free, but scenario " + s.Name + " left a store holding a key pending deletion (7 days) on it"
		}
		if t == model.CloudHSM && c.Op == model.OpConnectCustomKeyStore {
			return "needs a kmsuser password KMS has not rotated, but scenario " + s.Name + " connected a store on the cluster"
		}
	}
	return ""
}
