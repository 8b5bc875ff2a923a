package model

import (
	"strings"
	"testing"
	"time"
)

var planOptions = []PlanOptions{{Transient: true, BackingControl: true}, {Transient: true}, {Transient: true, OneBacking: true}, {}, {OneBacking: true}}

// TestPlanCoversWhatItClaims replays every plan on the model from an empty
// account: each step that names a cell must have, in the walk's world, the
// very outcomes (exceptions, rules, resulting states) the cell has in its
// own world, and every other step must be a plain success.
func TestPlanCoversWhatItClaims(t *testing.T) {
	byID := map[string]Cell{}
	for _, c := range Cells() {
		byID[c.ID] = c
	}
	for _, opt := range planOptions {
		for _, st := range StoreTypes {
			p := PlanFor(st, opt)
			w := NewWorld()
			seen := map[string]bool{}
			transitions := 0
			for i, s := range p.Steps {
				outs := Step(w, s.Call)
				if s.Cell != "" {
					c, ok := byID[s.Cell]
					if !ok || seen[s.Cell] {
						t.Fatalf("%s %+v: step %d names %q (known %v, twice %v)", st, opt, i, s.Cell, ok, seen[s.Cell])
					}
					seen[s.Cell] = true
					c, _ = AdaptCell(c, opt)
					if got, want := outcomeSig(outs, s.Subject, s.SubjectKey), cellSig(c); got != want {
						t.Fatalf("%s %+v: step %d (%s): %s, the cell allows %s", st, opt, i, s.Cell, got, want)
					}
				} else if outs[0].Error != Success {
					t.Fatalf("%s %+v: move %d (%s) fails in the model: %s", st, opt, i, s.Call.Op, Summary(outs))
				}
				if !opt.BackingControl && s.Call.Op.IsEnv() && s.Call.Op != OpSettle {
					t.Fatalf("%s %+v: step %d uses the backing (%s)", st, opt, i, s.Call.Op)
				}
				if s.Transition {
					transitions++
				}
				w = outs[0].Worlds[0]
			}
			if transitions != p.Transitions+p.TeardownTransitions {
				t.Fatalf("%s: %d transitions counted, %d+%d reported", st, transitions, p.Transitions, p.TeardownTransitions)
			}
			if len(seen) != len(p.Covered) {
				t.Fatalf("%s: %d cells in steps, %d covered", st, len(seen), len(p.Covered))
			}
			// Every cell of the type is covered or excluded with a reason.
			n := 0
			for _, c := range Cells() {
				if c.StoreType != st {
					continue
				}
				n++
				if why, ex := p.Excluded[c.ID]; seen[c.ID] == ex || ex && why == "" {
					t.Fatalf("%s %+v: %s covered %v, excluded %q", st, opt, c.ID, seen[c.ID], why)
				}
				if strings.HasPrefix(p.Excluded[c.ID], "no walk") {
					t.Errorf("%s %+v: %s is reachable in principle but the walk missed it", st, opt, c.ID)
				}
			}
			if len(p.Covered)+len(p.Excluded) != n {
				t.Fatalf("%s: %d covered + %d excluded of %d", st, len(p.Covered), len(p.Excluded), n)
			}
			// The teardown leaves only the stores that hold keys.
			if len(w.Stores) != len(p.Retained) {
				t.Fatalf("%s: %d stores left, %d reported", st, len(w.Stores), len(p.Retained))
			}
			for _, s := range w.Stores {
				if s.State != Disconnected {
					t.Fatalf("%s: store %s left %s", st, s.ID, s.State)
				}
				for _, k := range w.KeysIn(s.ID) {
					if k.State != KeyPendingDeletion {
						t.Fatalf("%s: key %s left %s", st, k.ID, k.State)
					}
				}
			}
		}
	}
}

// TestPlanFigures checks the plan against its bound and the naive plan and
// logs the figures (go test -v -run TestPlanFigures ./model).
func TestPlanFigures(t *testing.T) {
	for _, opt := range planOptions {
		for _, st := range StoreTypes {
			p := PlanFor(st, opt)
			t.Logf("%s transient=%v backing=%v one-backing=%v: %d cells, %d transitions (+%d teardown), lower bound %d (%.2f×), naive %d (%.1f× fewer), worst case %s, %d stores, %d keys",
				st, opt.Transient, opt.BackingControl, opt.OneBacking, len(p.Covered), p.Transitions, p.TeardownTransitions, p.LowerBound,
				float64(p.Transitions)/float64(p.LowerBound), p.Naive, float64(p.Naive)/float64(p.Transitions), p.WorstCase(), p.Stores, p.Keys)
			if p.Transitions < p.LowerBound {
				t.Fatalf("%s: %d transitions under the bound %d: the bound is wrong", st, p.Transitions, p.LowerBound)
			}
			if p.Naive < 5*p.Transitions {
				t.Fatalf("%s: %d transitions, naive %d: not 5× fewer", st, p.Transitions, p.Naive)
			}
		}
	}
}

// TestLowerBoundOfSmallSets checks the bound on sets whose optimum is
// known by hand.
func TestLowerBoundOfSmallSets(t *testing.T) {
	find := func(id string) Cell {
		for _, c := range Cells() {
			if c.ID == id {
				return c
			}
		}
		t.Fatalf("no cell %s", id)
		return Cell{}
	}
	// Describe in DISCONNECTED: create the store (1).
	if got := lowerBound([]Cell{find("AWS_CLOUDHSM/DISCONNECTED/DescribeCustomKeyStores/all")}); got != 1 {
		t.Fatalf("one DISCONNECTED cell: %d", got)
	}
	// Disconnect in CONNECTED: create, connect, settle (3), the cell (1).
	if got := lowerBound([]Cell{find("AWS_CLOUDHSM/CONNECTED/DisconnectCustomKeyStore")}); got != 4 {
		t.Fatalf("Disconnect in CONNECTED: %d", got)
	}
}

func TestPlanWorstCase(t *testing.T) {
	p := PlanFor(External, PlanOptions{Transient: true, BackingControl: true})
	settles := 0
	for _, s := range p.Steps {
		if s.Transition && (s.From == Column(Connecting) || s.From == Column(Disconnecting)) {
			settles++
		}
	}
	if settles == 0 || p.WorstCase() != ConnectDuration[External]*time.Duration(settles) {
		t.Fatalf("%d settles, worst case %s", settles, p.WorstCase())
	}
}

// BenchmarkPlanFor measures planning one store type's walk for real KMS.
func BenchmarkPlanFor(b *testing.B) {
	for _, st := range StoreTypes {
		b.Run(string(st), func(b *testing.B) {
			for range b.N {
				PlanFor(st, PlanOptions{Transient: true, OneBacking: true})
			}
		})
	}
}

// TestExactBoundOfSmallSets checks the phase-aware bound on sets whose
// optimum is known by hand.
func TestExactBoundOfSmallSets(t *testing.T) {
	byID := map[string]Cell{}
	for _, c := range Cells() {
		byID[c.ID] = c
	}
	set := func(ids ...string) []Cell {
		var cs []Cell
		for _, id := range ids {
			c, ok := byID[id]
			if !ok {
				t.Fatalf("no cell %s", id)
			}
			cs = append(cs, c)
		}
		return cs
	}
	for _, tc := range []struct {
		cells []Cell
		want  int
	}{
		// Create the store (1).
		{set("AWS_CLOUDHSM/DISCONNECTED/DescribeCustomKeyStores/all"), 1},
		// Create, connect, settle (3), the cell (1).
		{set("AWS_CLOUDHSM/CONNECTED/DisconnectCustomKeyStore"), 4},
		// FAILED first, while the password can still be mended: create,
		// break, connect, settle FAILED, disconnect (a cell), settle, mend,
		// connect, settle CONNECTED, disconnect (a cell): 8.
		{set("AWS_CLOUDHSM/CONNECTED/DisconnectCustomKeyStore", "AWS_CLOUDHSM/FAILED/DisconnectCustomKeyStore"), 8},
	} {
		if got := exactBound(tc.cells, tc.cells[0].StoreType); got != tc.want {
			t.Errorf("%d cells: bound %d, want %d", len(tc.cells), got, tc.want)
		}
	}
}
