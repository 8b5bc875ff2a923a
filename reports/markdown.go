package reports

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/kmsconform/kmsconform/model"
)

// Symbols is the one-character mark of each verdict in the Markdown matrix.
var Symbols = map[Verdict]string{
	Pass:          "✅",
	Fail:          "❌",
	Unsupported:   "🚫",
	Unreachable:   "🔒",
	Indeterminate: "❓",
	Skipped:       "⏭️",
	Informational: "ℹ️",
}

// noCell marks a matrix position the model has no cell for.
const noCell = "·"

// Markdown renders a run for a GitHub job summary or a pull-request comment:
// the headline and the three totals, the root causes of what did not pass
// (those of failures first), how to read the report (provenance, verdicts
// and the matrix legend, the AWS pages behind the rules), per store type the
// matrix of verdicts, the validation constraints, the scenarios, and every
// failing cell with what was expected, what was observed and the rule's
// source in the documentation. The output depends only on the document.
func Markdown(c *Compat) []byte {
	var b bytes.Buffer
	t := TotalsOf(c)
	fmt.Fprintf(&b, "## kmsconform: %s\n\n", mdText(c.Target.Name))
	kind, endpoint := targetWhere(c.Target)
	fmt.Fprintf(&b, "**%d of %d documented cells passing** (%d%%) · target kind %s", t.Passing, t.Documented,
		Percent(t.Passing, t.Documented), mdText(kind))
	if endpoint != "" {
		fmt.Fprintf(&b, ", at %s", mdText(endpoint))
	}
	fmt.Fprintf(&b, " · model `%s` · %s · %.1f s\n\n", mdCode(c.ModelRevision),
		c.StartedAt.UTC().Format("2006-01-02 15:04 UTC"), c.DurationSeconds)
	writeTotals(&b, c, t)
	writeRootCauses(&b, c)
	writeAdapted(&b, c)
	writeExplanation(&b, c)

	for _, m := range Matrices(c) {
		fmt.Fprintf(&b, "\n### %s\n\n| operation |", mdText(m.StoreType))
		for _, col := range m.Columns {
			fmt.Fprintf(&b, " %s |", mdText(ColumnLabel(col)))
		}
		b.WriteString("\n|---|")
		for range m.Columns {
			b.WriteString(":-:|")
		}
		b.WriteString("\n")
		for i, row := range m.Rows {
			fmt.Fprintf(&b, "| %s |", mdText(row))
			for _, cell := range m.Cells[i] {
				if cell == nil {
					fmt.Fprintf(&b, " %s |", noCell)
				} else {
					fmt.Fprintf(&b, " %s |", Symbols[cell.Verdict])
				}
			}
			b.WriteString("\n")
		}
	}

	if groups := ValidationGroups(c); len(groups) > 0 {
		b.WriteString("\n### Input validation\n\n| operation and parameter | values checked |\n|---|---|\n")
		for _, g := range groups {
			var vals []string
			for _, cell := range g.Cells {
				vals = append(vals, fmt.Sprintf("%s %s", mdText(ValidationValue(cell)), Symbols[cell.Verdict]))
			}
			fmt.Fprintf(&b, "| %s | %s |\n", mdText(g.Name), strings.Join(vals, " · "))
		}
	}

	if len(c.Scenarios) > 0 {
		b.WriteString("\n### Scenarios\n\n| scenario | verdict | detail |\n|---|:-:|---|\n")
		for _, s := range c.Scenarios {
			fmt.Fprintf(&b, "| %s | %s %s | %s |\n", mdText(s.Name), Symbols[s.Verdict], mdText(string(s.Verdict)), mdText(s.Detail))
		}
	}

	writeCellList(&b, c, Fail, "Failing cells")
	writeCellList(&b, c, Indeterminate, "Indeterminate cells (the outcome is unknown)")
	// Every string of the document went through mdText or mdCode; this
	// pass only makes sure that one added later without them can break the
	// layout but never send a control character.
	return []byte(Printable(b.String()))
}

// writeTotals prints the three totals with their names and what each
// counts, and the count per verdict of the specs.
func writeTotals(b *bytes.Buffer, c *Compat, t Totals) {
	b.WriteString("| total | count | what it counts |\n|---|--:|---|\n")
	fmt.Fprintf(b, "| %s | %d (%d passing) | %s |\n", TotalDocumented, t.Documented, t.Passing, documentedMeaning)
	fmt.Fprintf(b, "| %s | %d (%d matrix + %d validation) | %s |\n", TotalCells, t.Cells(), t.Matrix, t.Validation, cellsMeaning)
	fmt.Fprintf(b, "| %s | %d (%d cells + %d scenarios) | %s |\n\n", TotalSpecs, t.Specs(), t.Cells(), t.Scenarios, specsMeaning)
	var counts []string
	for _, v := range Verdicts {
		if n := c.Summary.Count(v); n > 0 {
			counts = append(counts, fmt.Sprintf("%s %s %d", Symbols[v], v, n))
		}
	}
	fmt.Fprintf(b, "Verdicts of the %d %s: %s\n", t.Specs(), TotalSpecs, strings.Join(counts, " · "))
}

// writeExplanation says how to read the report: what documented means and
// the other provenances, the verdicts (the matrices' legend), and where the
// AWS pages behind each cell's rules are.
func writeExplanation(b *bytes.Buffer, c *Compat) {
	b.WriteString("\n### How to read this report\n\n")
	b.WriteString("**Provenance.** Every cell's expected outcomes come from rules of the model, each tagged with how sure it is; " +
		"a cell's provenance is the least certain of its rules' tags. A *documented* cell is one of provenance D.\n\n")
	for _, p := range Provenances {
		fmt.Fprintf(b, "- **%s** %s: %s\n", p.Code, p.Name, p.Meaning)
	}
	b.WriteString("\n**Verdicts**, the legend of the matrices:\n\n| mark | verdict | meaning |\n|:-:|---|---|\n")
	for _, v := range Verdicts {
		fmt.Fprintf(b, "| %s | %s | %s |\n", Symbols[v], v, VerdictMeanings[v])
	}
	fmt.Fprintf(b, "| %s | no cell | %s |\n", noCell, noCellMeaning)
	b.WriteString("\n**Rules and AWS pages.** Each cell cites the rules behind its expected outcomes; each rule names its " +
		"source in the behaviour reference and links the AWS pages it rests on (`kmsconform model` prints every rule).")
	if c.Summary.Fail > 0 {
		b.WriteString(" The failing cells below list their rules with those links.")
	}
	if pages := AWSPages(c); len(pages) > 0 {
		var links []string
		for _, p := range pages {
			links = append(links, fmt.Sprintf("%s (%s)", mdLinks([]model.Link{p.Link}), countPhrase(p.Cells, 0)))
		}
		fmt.Fprintf(b, " The pages behind this run's cells, the most cited first: %s.", strings.Join(links, " · "))
	}
	b.WriteString("\n")
}

// writeRootCauses lists every root cause of the cells and scenarios that
// did not pass, those of failures first, then the largest first, with a few
// of their ids.
func writeRootCauses(b *bytes.Buffer, c *Compat) {
	if len(c.Findings) > 0 {
		b.WriteString("\n### Findings\n\n")
		for _, f := range c.Findings {
			fmt.Fprintf(b, "- %s\n", mdText(f))
		}
	}
	causes := RootCauses(c)
	if len(causes) == 0 {
		return
	}
	b.WriteString("\n### Root causes\n\n")
	if c.Summary.Fail > 0 {
		b.WriteString("The causes of failures first, then why the other cells and scenarios did not pass, the largest first.\n\n")
	}
	b.WriteString("| count | verdict | reason | examples |\n|--:|---|---|---|\n")
	for _, rc := range FailuresFirst(causes) {
		var ex []string
		for _, id := range rc.Examples {
			ex = append(ex, "`"+mdCode(id)+"`")
		}
		if more := rc.Count() - len(rc.Examples); more > 0 {
			ex = append(ex, fmt.Sprintf("%d more", more))
		}
		fmt.Fprintf(b, "| %s | %s %s | %s | %s |\n", countPhrase(rc.Cells, rc.Scenarios), Symbols[rc.Verdict], rc.Verdict,
			mdText(rc.Reason), strings.Join(ex, " · "))
	}
}

// writeAdapted lists the cells whose call the run sent on the backing it
// had rather than as the matrix writes it, grouped by what changed.
func writeAdapted(b *bytes.Buffer, c *Compat) {
	var notes []string
	byNote := map[string][]string{}
	for _, cell := range c.Cells {
		if n := cell.Evidence.Adapted; n != "" {
			if _, seen := byNote[n]; !seen {
				notes = append(notes, n)
			}
			byNote[n] = append(byNote[n], cell.ID)
		}
	}
	if len(notes) == 0 {
		return
	}
	b.WriteString("\n### Cells sent on the run's backing\n\nThe allowed outcomes are the model's for the call sent.\n\n| count | what the call sent differs in | examples |\n|--:|---|---|\n")
	for _, n := range notes {
		ids := byNote[n]
		var ex []string
		for _, id := range ids[:min(3, len(ids))] {
			ex = append(ex, "`"+mdCode(id)+"`")
		}
		fmt.Fprintf(b, "| %d | %s | %s |\n", len(ids), mdText(n), strings.Join(ex, " · "))
	}
}

// writeCellList lists the cells of one verdict with their expected and
// observed outcomes, evidence and rules.
func writeCellList(b *bytes.Buffer, c *Compat, v Verdict, title string) {
	first := true
	for i := range c.Cells {
		cell := &c.Cells[i]
		if cell.Verdict != v {
			continue
		}
		if first {
			fmt.Fprintf(b, "\n### %s\n", title)
			first = false
		}
		fmt.Fprintf(b, "\n#### %s `%s`\n\n", Symbols[v], mdCode(cell.ID))
		fmt.Fprintf(b, "- expected: %s; observed: `%s`", codeList(cell.Expected), mdCode(outcome(cell.Observed)))
		if cell.Evidence.HTTPStatus != 0 {
			fmt.Fprintf(b, " (HTTP %d)", cell.Evidence.HTTPStatus)
		}
		b.WriteString("\n")
		if cell.Evidence.Detail != "" {
			fmt.Fprintf(b, "- detail: %s\n", mdText(cell.Evidence.Detail))
		}
		if cell.Evidence.Message != "" {
			fmt.Fprintf(b, "- message: %s\n", mdText(cell.Evidence.Message))
		}
		if cell.Evidence.RequestID != "" {
			fmt.Fprintf(b, "- request id: `%s`\n", mdCode(cell.Evidence.RequestID))
		}
		fmt.Fprintf(b, "- provenance %s", mdText(cell.Provenance))
		if cell.Evidence.Route != "" {
			fmt.Fprintf(b, "; state reached by %s", mdText(cell.Evidence.Route))
		}
		b.WriteString("\n")
		for _, r := range Sources(cell) {
			fmt.Fprintf(b, "- rule `%s`", mdCode(r.ID))
			if r.Status != "" {
				fmt.Fprintf(b, " [%s]", r.Status)
			}
			fmt.Fprintf(b, ", source %s", mdText(r.Source))
			if len(r.Links) > 0 {
				fmt.Fprintf(b, " (%s)", mdLinks(r.Links))
			}
			if r.Text != "" {
				fmt.Fprintf(b, ": %s", mdText(r.Text))
			}
			b.WriteString("\n")
		}
	}
}

func codeList(ss []string) string {
	var out []string
	for _, s := range ss {
		out = append(out, "`"+mdCode(s)+"`")
	}
	return strings.Join(out, " or ")
}
