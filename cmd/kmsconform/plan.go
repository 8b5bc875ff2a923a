package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/targets"
)

func init() {
	register("plan", command{
		summary: "print a planned run's walk: its calls, transitions, worst-case time, stores",
		run:     runPlan,
	})
}

// planOptionsFor is what a kind of target can do, as the planner sees it:
// real KMS leaves a store in CONNECTING and DISCONNECTING for minutes (so
// the cells there are reachable by calling at once) but has no control of
// the backing; the embedded emulator holds transitions and breaks proxies;
// another endpoint does neither as far as the suite knows, and its
// transient states are caught between two observations like real KMS's.
// Without a control plane a target offers one cluster and one proxy (its
// backing). (drive.PlanOptionsFor says the same of an opened target, with
// what its backing variables add: a proxy's control API, a second cluster.)
func planOptionsFor(k targets.Kind) model.PlanOptions {
	if k == targets.KindEmulator {
		return model.PlanOptions{Transient: true, BackingControl: true}
	}
	return model.PlanOptions{Transient: true, OneBacking: true}
}

var helpPlan = helpPage{
	Usage: []string{"kmsconform plan [--target aws|emulator|endpoint] [--store-type TYPE] [--summary]"},
	About: "Prints, before anything runs, the walk that 'kmsconform run --planned' makes per store type: every " +
		"call in order (the cell it exercises, the state change it makes), the number of state transitions " +
		"against a lower bound and against a fresh store per cell, the worst-case duration from the " +
		"documented timings (a CloudHSM connect takes up to 20 minutes, an XKS one about 5), and the stores " +
		"and keys it creates. Nothing is called.",
}

func runPlan(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	target := fs.String("target", "aws", "the target the plan is for: aws, emulator or endpoint")
	storeType := fs.String("store-type", "", "plan one store type only: AWS_CLOUDHSM or EXTERNAL_KEY_STORE (default: both)")
	summary := fs.Bool("summary", false, "print the figures only, not every call")
	if code, done := parseFlags(fs, helpPlan, args, stdout, stderr); done {
		return code
	}
	if code, done := unexpectedArgs(fs, stderr); done {
		return code
	}
	kind := targets.Kind(*target)
	if kind != targets.KindAWS && kind != targets.KindEmulator && kind != targets.KindEndpoint {
		fmt.Fprintf(stderr, "kmsconform plan: --target %q: want aws, emulator or endpoint\n", *target)
		return 2
	}
	types := model.StoreTypes
	if *storeType != "" {
		types = nil
		for _, t := range model.StoreTypes {
			if string(t) == *storeType {
				types = []model.StoreType{t}
			}
		}
		if types == nil {
			fmt.Fprintf(stderr, "kmsconform plan: --store-type %q: want AWS_CLOUDHSM or EXTERNAL_KEY_STORE\n", *storeType)
			return 2
		}
	}
	opt := planOptionsFor(kind)
	var total time.Duration
	for i, t := range types {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		p := model.PlanFor(t, opt)
		writePlan(stdout, p, !*summary)
		total += p.WorstCase()
	}
	if len(types) > 1 {
		fmt.Fprintf(stdout, "\nBoth walks, one after the other: at most %s of transitions (they use separate stores, so they may also run side by side).\n", hours(total))
	}
	return 0
}

// writePlan prints one walk: its figures, then (when calls) every call.
func writePlan(w io.Writer, p model.Plan, calls bool) {
	fmt.Fprintf(w, "Plan for %s stores\n", p.StoreType)
	ratio := func(a, b int) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f×", float64(a)/float64(b))
	}
	fmt.Fprintf(w, "  cells covered:      %d (%d left out, listed below)\n", len(p.Covered), len(p.Excluded))
	fmt.Fprintf(w, "  state transitions:  %d to cover them, +%d to clean up\n", p.Transitions, p.TeardownTransitions)
	fmt.Fprintf(w, "  lower bound:        %d (the walk is %s of it)\n", p.LowerBound, ratio(p.Transitions, p.LowerBound))
	fmt.Fprintf(w, "  naive plan:         %d (a fresh store per cell; the walk makes %s fewer)\n", p.Naive, ratio(p.Naive, p.Transitions))
	fmt.Fprintf(w, "  calls:              %d\n", len(p.Steps))
	fmt.Fprintf(w, "  worst-case time:    %s (each settle of CONNECTING or DISCONNECTING at the documented %s)\n", hours(p.WorstCase()), model.ConnectDuration[p.StoreType])
	fmt.Fprintf(w, "  creates:            %d custom key stores (at most %d alive at once), %d keys\n", p.Stores, p.MaxLive, p.Keys)
	if len(p.Retained) > 0 {
		fmt.Fprintf(w, "  left after cleanup: %d store(s) holding keys pending deletion (7 days, the minimum); delete them after\n", len(p.Retained))
	}
	if calls {
		fmt.Fprintln(w)
		names := newPlanNames()
		for i, s := range p.Steps {
			line := fmt.Sprintf("  %3d  %s", i+1, names.call(s.Call))
			if s.Transition {
				from, to := string(s.From), string(s.To)
				if from == "" {
					from = "no store"
				}
				if to == "" {
					to = "no store"
				}
				line += "   [" + from + " → " + to + "]"
			}
			if s.Cell != "" {
				line += "   cell " + s.Cell
			}
			fmt.Fprintln(w, line)
		}
	}
	if len(p.Excluded) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "  Left out:")
		why := map[string][]string{}
		for id, reason := range p.Excluded {
			why[reason] = append(why[reason], id)
		}
		reasons := make([]string, 0, len(why))
		for r := range why {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			fmt.Fprintf(w, "    %d cells: %s\n", len(why[r]), r)
		}
	}
}

func hours(d time.Duration) string {
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// planNames gives the model's store and key ids short names (S1, K1) in
// order of appearance: the real ids exist only once the run creates them.
type planNames struct {
	ids map[string]string
	n   map[byte]int
}

func newPlanNames() *planNames { return &planNames{ids: map[string]string{}, n: map[byte]int{}} }

func (p *planNames) name(kind byte, id string) string {
	if id == model.UnknownStoreID {
		return "<a store id that names nothing>"
	}
	if n, ok := p.ids[id]; ok {
		return n
	}
	p.n[kind]++
	n := fmt.Sprintf("%c%d", kind, p.n[kind])
	p.ids[id] = n
	return n
}

// call renders a call on one line; secrets appear as what they are, never
// as values.
func (p *planNames) call(c model.Call) string {
	var parts []string
	if c.StoreID != nil {
		parts = append(parts, "store "+p.name('S', *c.StoreID))
	}
	if c.StoreName != nil {
		parts = append(parts, "name "+*c.StoreName)
	}
	if c.KeyID != "" {
		parts = append(parts, "key "+p.name('K', c.KeyID))
	}
	if in := c.Create; in != nil {
		parts = append(parts, "name "+in.Name)
		if in.ClusterID != nil {
			parts = append(parts, "cluster "+*in.ClusterID, "kmsuser password "+passwordKind(in.Password))
		}
		if in.Endpoint != nil {
			parts = append(parts, "proxy "+*in.Endpoint)
		}
	}
	if u := c.Update; u != nil {
		if u.NewName != nil {
			parts = append(parts, "new name "+*u.NewName)
		}
		if u.Password != nil {
			parts = append(parts, "kmsuser password "+passwordKind(u.Password))
		}
		if u.Credential != nil {
			parts = append(parts, "new proxy credential "+u.Credential.AccessKeyID)
		}
		if u.Endpoint != nil {
			parts = append(parts, "proxy "+*u.Endpoint)
		}
	}
	if c.CreateKey != nil && c.CreateKey.MultiRegion {
		parts = append(parts, "multi-Region")
	}
	if c.PendingWindowDays != nil {
		parts = append(parts, fmt.Sprintf("%d days", *c.PendingWindowDays))
	}
	if c.Proxy != nil {
		var ids []string
		for _, a := range c.Proxy.Accepted {
			ids = append(ids, a.AccessKeyID)
		}
		parts = append(parts, "proxy "+c.Proxy.Endpoint+" accepts "+strings.Join(ids, ", "))
	}
	op := string(c.Op)
	switch c.Op {
	case model.OpSettle:
		op = "wait for the transition (DescribeCustomKeyStores until it settles)"
	case model.OpSetProxy:
		op = "control plane: set proxy"
	}
	if len(parts) == 0 {
		return op
	}
	return op + " (" + strings.Join(parts, ", ") + ")"
}

func passwordKind(p *string) string {
	if p != nil && *p == model.WrongKmsuserPassword {
		return "<a wrong one>"
	}
	return "<the kmsuser password>"
}
