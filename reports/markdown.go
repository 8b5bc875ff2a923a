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
// the headline, the root causes of what did not pass, per store type the matrix of verdicts with a legend, the
// validation constraints, the scenarios, and every failing cell with what
// was expected, what was observed and the rule's source in the
// documentation. The output depends only on the document.
func Markdown(c *Compat) []byte {
	var b bytes.Buffer
	passing, total := Documented(c)
	fmt.Fprintf(&b, "## kmsconform: %s\n\n", mdText(c.Target.Name))
	fmt.Fprintf(&b, "**%d of %d documented cells passing** (%d%%) · target `%s` (%s", passing, total, Percent(passing, total),
		mdCode(c.Target.Name), mdText(c.Target.Kind))
	if c.Target.Endpoint != "" {
		fmt.Fprintf(&b, ", %s", mdText(c.Target.Endpoint))
	}
	fmt.Fprintf(&b, ") · model `%s` · %s · %d cells, %d scenarios in %.1f s\n\n",
		mdCode(c.ModelRevision), c.StartedAt.UTC().Format("2006-01-02 15:04 UTC"), len(c.Cells), len(c.Scenarios), c.DurationSeconds)
	var counts []string
	for _, v := range Verdicts {
		if n := c.Summary.Count(v); n > 0 {
			counts = append(counts, fmt.Sprintf("%s %s %d", Symbols[v], v, n))
		}
	}
	fmt.Fprintf(&b, "%s\n\n", strings.Join(counts, " · "))
	b.WriteString(legend())
	writeRootCauses(&b, c)
	writeAdapted(&b, c)

	for _, m := range Matrices(c) {
		fmt.Fprintf(&b, "\n### %s\n\n| operation |", m.StoreType)
		for _, col := range m.Columns {
			fmt.Fprintf(&b, " %s |", ColumnLabel(col))
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
			fmt.Fprintf(&b, "| %s | %s %s | %s |\n", mdText(s.Name), Symbols[s.Verdict], s.Verdict, mdText(s.Detail))
		}
	}

	writeCellList(&b, c, Fail, "Failing cells")
	writeCellList(&b, c, Indeterminate, "Indeterminate cells (the outcome is unknown)")
	return b.Bytes()
}

// writeRootCauses lists every root cause of the cells and scenarios that
// did not pass, the largest first, with a few of their ids.
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
	b.WriteString("\n### Root causes\n\n| count | verdict | reason | examples |\n|--:|---|---|---|\n")
	for _, rc := range causes {
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

func legend() string {
	var parts []string
	for _, v := range Verdicts {
		parts = append(parts, fmt.Sprintf("%s %s", Symbols[v], v))
	}
	return "Legend: " + strings.Join(parts, " · ") + " · " + noCell + " no such cell in the model\n"
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

// mdText makes target-supplied text safe inside a Markdown table or list:
// one line, no table separators, no HTML.
var mdTextReplacer = strings.NewReplacer("\r", " ", "\n", " ", "|", "\\|", "<", "&lt;", ">", "&gt;", "&", "&amp;",
	"`", "'", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]")

func mdText(s string) string { return mdTextReplacer.Replace(s) }

// mdLinks renders AWS pages as Markdown links, one after the other.
func mdLinks(links []model.Link) string {
	var out []string
	for _, l := range links {
		out = append(out, "["+mdText(l.Title)+"]("+mdURL(l.URL)+")")
	}
	return strings.Join(out, ", ")
}

// mdURL makes a URL safe as a Markdown link destination inside a table or
// list: nothing that ends the destination or the line.
var mdURLReplacer = strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "<", "%3C", ">", "%3E", "|", "%7C",
	"`", "%60", "\r", "", "\n", "")

func mdURL(s string) string { return mdURLReplacer.Replace(s) }

// mdCode makes text safe inside a code span in a table.
var mdCodeReplacer = strings.NewReplacer("\r", " ", "\n", " ", "|", "\\|", "`", "'")

func mdCode(s string) string { return mdCodeReplacer.Replace(s) }
