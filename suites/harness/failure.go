package harness

import (
	"fmt"
	"strings"

	"github.com/kmsconform/kmsconform/reports"
)

// FailureText is how a failing cell reads on a console: its id and
// provenance, what the target answered, what the model allows, the verdict's
// detail, and every rule the cell rests on with its AWS pages. It is what a
// maintainer acts on, so it names the documentation, never a line of the
// harness. The first line starts "FAIL <cell id>".
func FailureText(c reports.Cell) string {
	var b strings.Builder
	fmt.Fprintf(&b, "FAIL %s [%s]\n", c.ID, c.Provenance)
	answered := c.Observed
	if answered == "" {
		answered = "nothing (the call was not made)"
	}
	if c.Evidence.HTTPStatus != 0 {
		answered += fmt.Sprintf(" (HTTP %d)", c.Evidence.HTTPStatus)
	}
	fmt.Fprintf(&b, "  answered:         %s\n", answered)
	if c.Evidence.Message != "" {
		fmt.Fprintf(&b, "  message:          %s\n", c.Evidence.Message)
	}
	fmt.Fprintf(&b, "  the model allows: %s\n", strings.Join(c.Expected, " or "))
	if why := beyondOutcomes(c); why != "" {
		fmt.Fprintf(&b, "  why:              %s\n", why)
	}
	if c.Evidence.Adapted != "" {
		fmt.Fprintf(&b, "  call adapted:     %s\n", c.Evidence.Adapted)
	}
	if c.Evidence.RequestID != "" {
		fmt.Fprintf(&b, "  request id:       %s\n", c.Evidence.RequestID)
	}
	for _, r := range reports.Sources(&c) {
		fmt.Fprintf(&b, "  rule %s [%s]", r.ID, r.Status)
		if r.Text != "" {
			fmt.Fprintf(&b, ": %s", r.Text)
		}
		if r.Source != "" {
			fmt.Fprintf(&b, " (%s)", r.Source)
		}
		b.WriteString("\n")
		for _, l := range r.Links {
			fmt.Fprintf(&b, "    %s: %s\n", l.Title, l.URL)
		}
	}
	return b.String()
}

// beyondOutcomes is what a cell's detail says beyond "answered X; the model
// allows Y", which FailureText has said already.
func beyondOutcomes(c reports.Cell) string {
	d := c.Evidence.Detail
	rest, ok := strings.CutPrefix(d, "answered "+c.Observed+"; the model allows ")
	if !ok {
		return d
	}
	_, why, _ := strings.Cut(rest, ": ")
	return why
}

// ScenarioFailureText is FailureText for a scenario: its name and what went
// wrong (a scenario spans many rules; its cells name them).
func ScenarioFailureText(s reports.Scenario) string {
	return fmt.Sprintf("FAIL scenario %s\n  why: %s\n", s.Name, s.Detail)
}

// KnownDeviation returns the deviation of e that a failing cell is: listed,
// and with the outcome it answered. The gate's own judgement decides, so the
// spec and the gate cannot disagree.
func KnownDeviation(e *reports.Expectations, c reports.Cell) *reports.Deviation {
	if e == nil || c.Verdict != reports.Fail {
		return nil
	}
	return known(reports.Gate(&reports.Compat{Cells: []reports.Cell{c}}, e))
}

// KnownScenarioDeviation is KnownDeviation for a scenario.
func KnownScenarioDeviation(e *reports.Expectations, s reports.Scenario) *reports.Deviation {
	if e == nil || s.Verdict != reports.Fail {
		return nil
	}
	return known(reports.Gate(&reports.Compat{Scenarios: []reports.Scenario{s}}, e))
}

func known(g *reports.GateResult) *reports.Deviation {
	if len(g.Known) == 1 {
		return g.Known[0].Deviation
	}
	return nil
}
