package reports

import (
	"fmt"
	"strings"
)

// maxSummaryCauses is how many root causes the terminal summary shows.
const maxSummaryCauses = 8

// TerminalSummary renders a run for a terminal in one screen: the target,
// the count per verdict, the largest root causes of what did not pass, and
// the first failing cells.
//
// The document's strings are shown through PrintableLine, each on its line
// (see SummaryHead).
func TerminalSummary(c *Compat, path string) string {
	c = c.MapStrings(PrintableLine)
	var b strings.Builder
	b.WriteString(SummaryHead(c, 0))
	shown := 0
	for _, cell := range c.Cells {
		if cell.Verdict != Fail {
			continue
		}
		if shown == 15 {
			fmt.Fprintf(&b, "  … and %d more failing cells\n", c.Summary.Fail-shown)
			break
		}
		fmt.Fprintf(&b, "  FAIL %s [%s]: %s\n", cell.ID, cell.Provenance, cell.Evidence.Detail)
		shown++
	}
	for _, s := range c.Scenarios {
		if s.Verdict == Fail {
			fmt.Fprintf(&b, "  FAIL scenario %s: %s\n", s.Name, s.Detail)
		}
	}
	b.WriteString(ResultsLine(path))
	return Printable(b.String())
}

// SummaryHead is the top of TerminalSummary: what was checked, the verdict
// counts (with known of the fails named as known deviations, when a gate
// knows them), the findings and the largest root causes.
//
// A compat.json may be someone else's: its strings are shown through
// PrintableLine, so none can send a control sequence to the terminal or
// start a line of its own; the whole text goes through Printable once more,
// so that a string added later without PrintableLine can at worst start a
// line.
func SummaryHead(c *Compat, known int) string {
	c = c.MapStrings(PrintableLine)
	var b strings.Builder
	fmt.Fprintf(&b, "\nkmsconform: %s (%s) against model %s: %d cells, %d scenarios in %.1fs, %d API calls\n",
		c.Target.Name, c.Target.Kind, c.ModelRevision, len(c.Cells), len(c.Scenarios), c.DurationSeconds, c.APICalls)
	var parts []string
	for _, v := range Verdicts {
		if n := c.Summary.Count(v); n > 0 {
			part := fmt.Sprintf("%s %d", v, n)
			if v == Fail && known > 0 {
				part += fmt.Sprintf(" (%d known deviations)", known)
			}
			parts = append(parts, part)
		}
	}
	fmt.Fprintf(&b, "  %s\n", strings.Join(parts, " · "))
	for _, f := range c.Findings {
		fmt.Fprintf(&b, "  FINDING %s\n", f)
	}
	causes := RootCauses(c)
	for i, rc := range causes {
		if i == maxSummaryCauses {
			fmt.Fprintf(&b, "  … and %d more root causes (compat.md lists them all)\n", len(causes)-i)
			break
		}
		fmt.Fprintf(&b, "  %s: %s\n", rc.What(), rc.Reason)
	}
	return Printable(b.String())
}

// ResultsLine is the last line of TerminalSummary: where compat.json is
// ("" when it was not written).
func ResultsLine(path string) string {
	if path == "" {
		return ""
	}
	return fmt.Sprintf("  results: %s\n", path)
}
