package reports

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"sort"
)

// The page is one file: its style and script are inline and a Content
// Security Policy forbids any fetch, so it opens the same from a CI artifact,
// an e-mail or a laptop without network.
//
//go:embed html.tmpl
var htmlTemplate string

var htmlPage = template.Must(template.New("compat.html").Funcs(template.FuncMap{
	"label":  ColumnLabel,
	"symbol": htmlSymbol,
	"value":  ValidationValue,
}).Parse(htmlTemplate))

// htmlSymbols are plain characters (not emoji) so the heat map reads the
// same on a machine without colour-emoji fonts, a headless browser included.
var htmlSymbols = map[Verdict]string{Pass: "✓", Fail: "✗", Unsupported: "–", Unreachable: "○",
	Indeterminate: "?", Skipped: "»", Informational: "i"}

func htmlSymbol(v Verdict) string { return htmlSymbols[v] }

// htmlCell is what the page's script shows when a cell is clicked.
type htmlCell struct {
	ID         string   `json:"id"`
	Store      string   `json:"store"`
	State      string   `json:"state"`
	Operation  string   `json:"operation"`
	Variant    string   `json:"variant"`
	Verdict    Verdict  `json:"verdict"`
	Provenance string   `json:"provenance"`
	Expected   []string `json:"expected"`
	Observed   string   `json:"observed"`
	Evidence   Evidence `json:"evidence"`
	Rules      []string `json:"rules"`
}

type htmlData struct {
	Title    string
	Headline string
	Compat   *Compat
	Totals   Totals
	Percent  int
	// Kind and Endpoint say what the target is beyond its name; Endpoint is
	// empty when the name holds it, so the URL is printed once.
	Kind, Endpoint string
	// TotalNames and TotalMeanings name the three totals and say what each
	// counts, the same words as compat.md.
	TotalNames, TotalMeanings struct{ Documented, Cells, Specs string }
	Provenances               []Provenance
	Legend                    []legendEntry
	NoCellMeaning             string
	// Pages are the AWS pages the cells' rules rest on.
	Pages      []AWSPage
	Counts     []verdictCount
	Matrices   []Matrix
	Validation []ValidationGroup
	Operations []string
	States     []string
	Cells      []htmlCell
	Rules      map[string]RuleSource
	// RuleList is Rules in id order, for the page's list of the rules its
	// cells cite with their AWS pages.
	RuleList    []RuleSource
	Verdicts    []Verdict
	StartedAt   string
	DurationSec string
	// Causes are the largest root causes; MoreCauses the rest, folded.
	Causes, MoreCauses []RootCause
}

type legendEntry struct {
	Verdict Verdict
	Meaning string
}

type verdictCount struct {
	Verdict Verdict
	Count   int
}

// HTML renders a run as one self-contained page: the headline and the three
// totals, the root causes of what did not pass (those of failures first),
// how to read the page (provenance, the verdicts' legend with the hatched
// square of a position the model has no cell for, the AWS pages behind the
// rules), the matrices as a heat map coloured by verdict, the validation
// constraints and the scenarios, a filter by verdict, operation and state,
// a panel that
// shows a clicked cell's expected and observed outcomes, evidence and rules
// with their provenance and links to the AWS pages they rest on, and the
// list of every rule the cells cite, with the same links. The links are the
// page's only URLs besides the target's endpoint: nothing is fetched. Every cell element carries data-id and
// data-verdict, so a browser test (or a scraper) can read the page back.
//
// The filter and the selected cell can be given in the URL fragment
// (#verdict=fail&op=CreateKey&state=FAILED&cell=<id>), so a link can point at
// a view.
//
// html/template escapes every string for its context (text, attribute,
// the JSON the script reads); the document is first copied through
// Printable, so a control or bidi character of the data shows as an escape
// rather than reaching the browser (or the terminal `report render` prints
// to).
func HTML(c *Compat) ([]byte, error) {
	c = c.MapStrings(Printable)
	t := TotalsOf(c)
	d := htmlData{
		Title:         "kmsconform: " + c.Target.Name,
		Headline:      headline(c),
		Compat:        c,
		Totals:        t,
		Percent:       Percent(t.Passing, t.Documented),
		Provenances:   Provenances,
		NoCellMeaning: noCellMeaning,
		Pages:         AWSPages(c),
		Matrices:      Matrices(c),
		Validation:    ValidationGroups(c),
		Verdicts:      Verdicts,
		StartedAt:     c.StartedAt.UTC().Format("2006-01-02 15:04 UTC"),
		DurationSec:   fmt.Sprintf("%.1f", c.DurationSeconds),
		Rules:         map[string]RuleSource{},
	}
	d.Kind, d.Endpoint = targetWhere(c.Target)
	d.TotalNames.Documented, d.TotalNames.Cells, d.TotalNames.Specs = TotalDocumented, TotalCells, TotalSpecs
	d.TotalMeanings.Documented, d.TotalMeanings.Cells, d.TotalMeanings.Specs = documentedMeaning, cellsMeaning, specsMeaning
	for _, v := range Verdicts {
		d.Legend = append(d.Legend, legendEntry{v, VerdictMeanings[v]})
		if n := c.Summary.Count(v); n > 0 {
			d.Counts = append(d.Counts, verdictCount{v, n})
		}
	}
	d.Causes = FailuresFirst(RootCauses(c))
	if len(d.Causes) > maxSummaryCauses {
		d.Causes, d.MoreCauses = d.Causes[:maxSummaryCauses], d.Causes[maxSummaryCauses:]
	}
	ops, states := map[string]bool{}, map[string]bool{}
	for i := range c.Cells {
		cell := &c.Cells[i]
		ops[cell.Operation] = true
		states[cell.State] = true
		d.Cells = append(d.Cells, htmlCell{ID: cell.ID, Store: cell.StoreType, State: cell.State, Operation: cell.Operation,
			Variant: cell.Variant, Verdict: cell.Verdict, Provenance: cell.Provenance, Expected: cell.Expected,
			Observed: outcome(cell.Observed), Evidence: cell.Evidence, Rules: cell.Rules})
		// The rules are listed once for the page, not per cell: most cells
		// share a handful of them.
		for _, r := range Sources(cell) {
			d.Rules[r.ID] = r
		}
	}
	for _, id := range sortedRuleIDs(d.Rules) {
		d.RuleList = append(d.RuleList, d.Rules[id])
	}
	d.Operations = sortedKeys(ops)
	for _, s := range columns() {
		if states[s] {
			d.States = append(d.States, s)
			delete(states, s)
		}
	}
	d.States = append(d.States, sortedKeys(states)...)
	var b bytes.Buffer
	if err := htmlPage.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("html: %w", err)
	}
	return b.Bytes(), nil
}

func sortedRuleIDs(m map[string]RuleSource) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
