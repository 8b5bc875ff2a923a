package reports

import (
	"fmt"
	"sort"
	"strings"
)

// Side is a cell or scenario as one of two runs saw it.
type Side struct {
	Verdict  Verdict
	Observed string // "" for a scenario, or a call not made
}

func (s *Side) String() string {
	if s == nil {
		return "absent"
	}
	if s.Observed == "" {
		return PrintableLine(string(s.Verdict))
	}
	return PrintableLine(fmt.Sprintf("%s (%s)", s.Verdict, s.Observed))
}

// Change is one cell (or scenario) that differs between two runs.
type Change struct {
	ID       string
	Scenario bool
	Old, New *Side // nil when the run does not have it
}

// DiffResult is what changed from one run to another.
type DiffResult struct {
	Old, New *Compat
	// Regressions: a cell that now fails and did not; or one that passed and
	// now cannot be checked (unsupported, unreachable, indeterminate).
	Regressions []Change
	// Fixes: a cell that passes now and failed or could not be checked.
	Fixes []Change
	// Changes: every other difference of verdict or observed outcome, and
	// cells only one run has.
	Changes []Change
}

// Diff compares two runs cell by cell (by id) and scenario by scenario (by
// name). Use it for two versions of an emulator, or for an emulator (new)
// against a recording of real KMS (old).
func Diff(old, new *Compat) *DiffResult {
	d := &DiffResult{Old: old, New: new}
	type pair struct{ old, new *Side }
	cells, scenarios := map[string]*pair{}, map[string]*pair{}
	get := func(m map[string]*pair, id string) *pair {
		if m[id] == nil {
			m[id] = &pair{}
		}
		return m[id]
	}
	for _, c := range old.Cells {
		get(cells, c.ID).old = &Side{c.Verdict, c.Observed}
	}
	for _, c := range new.Cells {
		get(cells, c.ID).new = &Side{c.Verdict, c.Observed}
	}
	for _, s := range old.Scenarios {
		get(scenarios, s.Name).old = &Side{Verdict: s.Verdict}
	}
	for _, s := range new.Scenarios {
		get(scenarios, s.Name).new = &Side{Verdict: s.Verdict}
	}
	classify := func(m map[string]*pair, scenario bool) {
		ids := make([]string, 0, len(m))
		for id := range m {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			p := m[id]
			ch := Change{ID: id, Scenario: scenario, Old: p.old, New: p.new}
			switch {
			case p.old != nil && p.new != nil && *p.old == *p.new:
			case p.old == nil || p.new == nil:
				// A cell one run lacks is a change of the matrix, not of the
				// target — unless the new run has it failing.
				if p.new != nil && p.new.Verdict == Fail {
					d.Regressions = append(d.Regressions, ch)
				} else {
					d.Changes = append(d.Changes, ch)
				}
			case isRegression(p.old.Verdict, p.new.Verdict):
				d.Regressions = append(d.Regressions, ch)
			case isFix(p.old.Verdict, p.new.Verdict):
				d.Fixes = append(d.Fixes, ch)
			default:
				d.Changes = append(d.Changes, ch)
			}
		}
	}
	classify(cells, false)
	classify(scenarios, true)
	return d
}

// unchecked verdicts say the target could not be checked on a cell.
func unchecked(v Verdict) bool { return v == Unsupported || v == Unreachable || v == Indeterminate }

func isRegression(old, new Verdict) bool {
	return (new == Fail && old != Fail) || (old == Pass && unchecked(new))
}

func isFix(old, new Verdict) bool {
	return new == Pass && (old == Fail || unchecked(old))
}

// HasRegression reports whether the new run is worse somewhere.
func (d *DiffResult) HasRegression() bool { return len(d.Regressions) > 0 }

func (d *DiffResult) groups() []struct {
	title string
	list  []Change
} {
	return []struct {
		title string
		list  []Change
	}{{"Regressions", d.Regressions}, {"Fixes", d.Fixes}, {"Changes", d.Changes}}
}

func runLabel(c *Compat) string {
	return fmt.Sprintf("%s (%s, model %s, %s)", c.Target.Name, c.Target.Kind, c.ModelRevision, c.StartedAt.UTC().Format("2006-01-02 15:04 UTC"))
}

func (d *DiffResult) modelNote() string {
	if d.Old.ModelRevision != d.New.ModelRevision {
		return fmt.Sprintf("the runs were checked against different model revisions (%s, %s): a change may be the model's, not the target's",
			d.Old.ModelRevision, d.New.ModelRevision)
	}
	return ""
}

func (ch Change) label() string {
	if ch.Scenario {
		return "scenario " + ch.ID
	}
	return ch.ID
}

// Text renders the diff for a terminal. The runs' strings (target, model
// revision, ids, outcomes) are shown through PrintableLine: a compat.json
// may be someone else's, and none of its strings may send a control
// sequence to the terminal or start a line of its own.
func (d *DiffResult) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "old: %s\nnew: %s\n", PrintableLine(runLabel(d.Old)), PrintableLine(runLabel(d.New)))
	if n := d.modelNote(); n != "" {
		fmt.Fprintf(&b, "note: %s\n", PrintableLine(n))
	}
	fmt.Fprintf(&b, "%d regressions, %d fixes, %d other changes\n", len(d.Regressions), len(d.Fixes), len(d.Changes))
	for _, g := range d.groups() {
		if len(g.list) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s:\n", g.title)
		for _, ch := range g.list {
			fmt.Fprintf(&b, "  %s: %s -> %s\n", PrintableLine(ch.label()), ch.Old, ch.New)
		}
	}
	return Printable(b.String())
}

// Markdown renders the diff for a pull-request comment; the runs' strings
// go through mdText or mdCode.
func (d *DiffResult) Markdown() string {
	var b strings.Builder
	b.WriteString("## kmsconform diff\n\n")
	fmt.Fprintf(&b, "- old: %s\n- new: %s\n", mdText(runLabel(d.Old)), mdText(runLabel(d.New)))
	if n := d.modelNote(); n != "" {
		fmt.Fprintf(&b, "- note: %s\n", mdText(n))
	}
	fmt.Fprintf(&b, "\n**%d regressions**, %d fixes, %d other changes\n", len(d.Regressions), len(d.Fixes), len(d.Changes))
	for _, g := range d.groups() {
		if len(g.list) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n### %s\n\n| cell | old | new |\n|---|---|---|\n", g.title)
		for _, ch := range g.list {
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", mdCode(ch.label()), sideMarkdown(ch.Old), sideMarkdown(ch.New))
		}
	}
	return Printable(b.String())
}

func sideMarkdown(s *Side) string {
	if s == nil {
		return "absent"
	}
	out := Symbols[s.Verdict] + " " + mdText(string(s.Verdict))
	if s.Observed != "" {
		out += " `" + mdCode(s.Observed) + "`"
	}
	return out
}
