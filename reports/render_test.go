package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kmsconform/kmsconform/model"
)

// hostile is a target message that would break every format if it were
// pasted raw: a table separator, HTML, a script end, a newline.
const hostile = "bad | </script><script>alert(1)</script> & <b>x</b>\nsecond line ]]>"

// unitEndpoint is fullRun's target URL; its name holds it, as a run's does.
const unitEndpoint = "http://127.0.0.1:1"

// fullRun builds a document with every cell of the model and a validation
// section, each verdict in turn, so the renderers see every case.
func fullRun() *Compat {
	c := &Compat{Schema: Schema, ModelRevision: model.Revision(), Target: Target{Name: "endpoint " + unitEndpoint, Kind: "endpoint", Endpoint: unitEndpoint},
		StartedAt: time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC), DurationSeconds: 12.5}
	for i, mc := range model.Cells() {
		state := string(mc.Column)
		if mc.Column == model.NoSuchStore {
			state = NonexistentState
		}
		var expected []string
		for _, o := range mc.Expected {
			name := string(o.Error)
			if name == "" {
				name = "success"
			}
			expected = append(expected, name)
		}
		var rules []string
		for _, r := range mc.Rules {
			rules = append(rules, r.ID)
		}
		v := Verdicts[i%len(Verdicts)]
		observed := "success"
		if v == Unsupported || v == Unreachable || v == Skipped {
			observed = ""
		}
		c.Cells = append(c.Cells, Cell{ID: mc.ID, StoreType: string(mc.StoreType), State: state, Operation: string(mc.Op),
			Variant: mc.Variant, Provenance: string(mc.Status), Rules: rules, Expected: expected, Observed: observed, Verdict: v,
			Evidence: Evidence{HTTPStatus: 200, RequestID: fmt.Sprintf("req-%d", i), Route: "api", Detail: "detail of " + mc.ID},
			Seconds:  float64(i%5) / 100})
	}
	for i, val := range []string{"0", "1", "65", "9"} {
		c.Cells = append(c.Cells, Cell{ID: "validation/ConnectCustomKeyStore/CustomKeyStoreId/" + val, StoreType: "AWS_CLOUDHSM",
			State: "DISCONNECTED", Operation: "ConnectCustomKeyStore", Variant: "validation:CustomKeyStoreId=" + val, Provenance: "D",
			Rules: []string{"input.validation"}, Expected: []string{"ValidationException"}, Observed: "ValidationException",
			Verdict: []Verdict{Pass, Fail, Informational, Pass}[i], Evidence: Evidence{HTTPStatus: 400, Message: hostile}})
	}
	c.Scenarios = []Scenario{{Name: "lifecycle/CloudHSM", Verdict: Pass, Detail: "9 steps"}, {Name: "quota", Verdict: Fail, Detail: hostile}}
	c.Finish()
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c
}

func TestRenderDeterministic(t *testing.T) {
	for _, f := range Formats {
		a, err := Render(fullRun(), f)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Render(fullRun(), f)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two renderings of the same run differ", f)
		}
		if len(a) == 0 {
			t.Errorf("%s: empty", f)
		}
	}
	if _, err := Render(fullRun(), "pdf"); err == nil || !strings.Contains(err.Error(), "pdf") {
		t.Errorf("unknown format: %v", err)
	}
}

func TestMarkdown(t *testing.T) {
	c := fullRun()
	md := string(Markdown(c))
	passing, total := Documented(c)
	if total == 0 || passing == 0 || passing == total {
		t.Fatalf("the sample should pass some documented cells: %d of %d", passing, total)
	}
	for _, want := range []string{
		"## kmsconform: endpoint " + unitEndpoint + "\n",
		fmt.Sprintf("**%d of %d documented cells passing**", passing, total),
		"model `" + model.Revision() + "`", "2026-11-22 10:30 UTC",
		"### AWS_CLOUDHSM", "### EXTERNAL_KEY_STORE", "### Input validation", "### Scenarios", "### Failing cells",
		"| operation | DISCONNECTED | CONNECTING | CONNECTED | DISCONNECTING | FAILED | no such store |",
		"| ✅ | pass | " + VerdictMeanings[Pass] + " |\n| ❌ | fail | ",
		"| ConnectCustomKeyStore CustomKeyStoreId | 0 ✅ · 1 ❌ · 9 ✅ · 65 ℹ️ |", // numeric order
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	// Every matrix row has one symbol per column, and the symbol of each
	// cell is its verdict's.
	for _, m := range Matrices(c) {
		for i, row := range m.Rows {
			var syms []string
			for _, cell := range m.Cells[i] {
				if cell == nil {
					syms = append(syms, noCell)
				} else {
					syms = append(syms, Symbols[cell.Verdict])
				}
			}
			line := "| " + mdText(row) + " | " + strings.Join(syms, " | ") + " |"
			if !strings.Contains(md, line+"\n") {
				t.Errorf("%s: row %q not rendered as %q", m.StoreType, row, line)
			}
		}
	}
	// Every failing cell is listed with expected, observed and its rules'
	// sources.
	for _, cell := range c.Cells {
		if cell.Verdict != Fail {
			continue
		}
		i := strings.Index(md, "#### ❌ `"+cell.ID+"`")
		if i < 0 {
			t.Errorf("failing cell %s not listed", cell.ID)
			continue
		}
		block := md[i:]
		if j := strings.Index(block[1:], "\n#### "); j >= 0 {
			block = block[:j+1]
		}
		for _, r := range Sources(&cell) {
			want := "rule `" + r.ID + "` [" + r.Status + "], source " + mdText(r.Source) + " (" + mdLinks(r.Links) + ")"
			if len(r.Links) == 0 || !strings.Contains(block, want) {
				t.Errorf("%s: rule %s's source and AWS pages missing (%q) in\n%s", cell.ID, r.ID, want, block)
			}
		}
		if !strings.Contains(block, "- expected: `") || !strings.Contains(block, "; observed: `"+outcome(cell.Observed)+"`") {
			t.Errorf("%s: expected/observed missing in\n%s", cell.ID, block)
		}
	}
	// A cited rule's AWS pages are Markdown links.
	if want := "[API Reference: ConnectCustomKeyStore](https://docs.aws.amazon.com/kms/latest/APIReference/API_ConnectCustomKeyStore.html)"; !strings.Contains(md, want) {
		t.Errorf("markdown lacks %q", want)
	}
	if strings.Contains(md, "<script>") || strings.Contains(md, "bad | <") || strings.Contains(md, "\nsecond line") {
		t.Error("a target message reached the Markdown unescaped")
	}
	// The cells sent on the run's backing are listed, by what changed.
	if strings.Contains(md, "### Cells sent on the run's backing") {
		t.Error("a run that adapted nothing lists adapted cells")
	}
	c.Cells[0].Evidence.Adapted, c.Cells[1].Evidence.Adapted = "with the store's own credential", "with the store's own credential"
	md = string(Markdown(c))
	if want := "| 2 | with the store's own credential | `" + c.Cells[0].ID + "` · `" + c.Cells[1].ID + "` |"; !strings.Contains(md, "### Cells sent on the run's backing") || !strings.Contains(md, want) {
		t.Errorf("markdown lacks the adapted cells (%q)", want)
	}
}

func TestMatricesLayout(t *testing.T) {
	c := fullRun()
	n := 0
	for _, m := range Matrices(c) {
		if m.Columns[len(m.Columns)-1] != NonexistentState || m.Rows[0] != "ConnectCustomKeyStore" {
			t.Errorf("%s: columns %v, first row %s", m.StoreType, m.Columns, m.Rows[0])
		}
		for i := range m.Rows {
			for j, cell := range m.Cells[i] {
				if cell != nil {
					n++
					if cell.Variant != m.Rows[i] || cell.State != m.Columns[j] || cell.StoreType != m.StoreType {
						t.Errorf("%s at %s/%s", cell.ID, m.Rows[i], m.Columns[j])
					}
				}
			}
		}
	}
	if want := len(model.Cells()); n != want {
		t.Errorf("%d cells in the matrices, want %d", n, want)
	}
	if g := ValidationGroups(c); len(g) != 1 || len(g[0].Cells) != 4 {
		t.Errorf("validation groups %+v", g)
	}
}

func TestJUnit(t *testing.T) {
	c := fullRun()
	data, err := JUnit(c)
	if err != nil {
		t.Fatal(err)
	}
	var root junitSuites
	if err := xml.Unmarshal(data, &root); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	want := map[string]Verdict{}
	cells := map[string]*Cell{}
	for i, cell := range c.Cells {
		want[cell.ID] = cell.Verdict
		cells[cell.ID] = &c.Cells[i]
	}
	for _, s := range c.Scenarios {
		want[s.Name] = s.Verdict
	}
	var fails, skips, errs int
	for _, s := range root.Suites {
		for _, tc := range s.Cases {
			v, ok := want[tc.Name]
			if !ok {
				t.Errorf("testcase %s is not in the run", tc.Name)
				continue
			}
			delete(want, tc.Name)
			got := "pass"
			switch {
			case tc.Failure != nil:
				got, fails = "failure", fails+1
			case tc.Error != nil:
				got, errs = "error", errs+1
			case tc.Skipped != nil:
				got, skips = "skipped", skips+1
			}
			wantKind := map[Verdict]string{Pass: "pass", Informational: "pass", Fail: "failure", Indeterminate: "error",
				Unsupported: "skipped", Unreachable: "skipped", Skipped: "skipped"}[v]
			if got != wantKind {
				t.Errorf("%s (%s) is a %s testcase, want %s", tc.Name, v, got, wantKind)
			}
			if tc.Failure != nil && tc.Classname != "kmsconform.scenarios" && !strings.Contains(tc.Failure.Body, "expected: ") {
				t.Errorf("%s: failure body %q", tc.Name, tc.Failure.Body)
			}
			// A failure names the AWS pages of the rules behind the cell.
			if cell, ok := cells[tc.Name]; ok && tc.Failure != nil {
				for _, r := range Sources(cell) {
					for _, l := range r.Links {
						if !strings.Contains(tc.Failure.Body, "  see "+l.Title+": "+l.URL+"\n") {
							t.Errorf("%s: failure body lacks %s for rule %s:\n%s", tc.Name, l.URL, r.ID, tc.Failure.Body)
						}
					}
				}
			}
		}
	}
	// XML escaping keeps a hostile message intact.
	if !bytes.Contains(data, []byte("&lt;/script&gt;")) {
		t.Error("a target message was not escaped")
	}
	if len(want) != 0 {
		t.Errorf("%d cells have no testcase", len(want))
	}
	s := c.Summary
	if root.Tests != len(c.Cells)+len(c.Scenarios) || root.Failures != s.Fail || fails != s.Fail || root.Errors != s.Indeterminate ||
		errs != s.Indeterminate || root.Skipped != s.Unsupported+s.Unreachable+s.Skipped || skips != root.Skipped {
		t.Errorf("totals %d/%d/%d/%d, summary %+v", root.Tests, root.Failures, root.Errors, root.Skipped, s)
	}
}

// TestMarkdownLinkEscaping: a link's title and URL cannot end the link,
// the list item or the table cell they are in.
func TestMarkdownLinkEscaping(t *testing.T) {
	got := mdLinks([]model.Link{{Title: "a] | <b>", URL: "https://example.com/x (y)|z\n"}, {Title: "t", URL: "https://e.com/"}})
	want := `[a\] \| &lt;b&gt;](https://example.com/x%20%28y%29%7Cz), [t](https://e.com/)`
	if got != want {
		t.Errorf("mdLinks = %q, want %q", got, want)
	}
}

func TestBadge(t *testing.T) {
	c := fullRun()
	passing, total := Documented(c)
	svg := string(Badge(c))
	want := fmt.Sprintf("%d%% conformant", passing*100/total)
	if !strings.Contains(svg, ">"+want+"</text>") || !strings.Contains(svg, ">custom key stores</text>") {
		t.Errorf("badge lacks %q:\n%s", want, svg)
	}
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Errorf("badge is not XML: %v", err)
	}
	for i := range c.Cells {
		c.Cells[i].Verdict = Pass
	}
	c.Finish()
	if svg := string(Badge(c)); !strings.Contains(svg, "100% conformant") || !strings.Contains(svg, `fill="#4c1"`) {
		t.Errorf("all passing: %s", svg)
	}
	// One failing documented cell is never shown as 100%.
	for i := range c.Cells {
		if c.Cells[i].Provenance == "D" {
			c.Cells[i].Verdict = Fail
			break
		}
	}
	c.Finish()
	if svg := string(Badge(c)); !strings.Contains(svg, "99% conformant") {
		t.Errorf("one failing cell: %s", regexp.MustCompile(`\d+% conformant`).FindString(svg))
	}
}

func TestHTMLStatic(t *testing.T) {
	c := fullRun()
	page, err := HTML(c)
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	// The only URLs allowed are the SVG namespace (none here), the target's
	// endpoint, shown as text, and the AWS pages of the model's rules, as
	// links: nothing the page loads.
	s2 := strings.ReplaceAll(s, c.Target.Endpoint, "")
	for _, r := range model.Rules() {
		for _, l := range r.Links() {
			s2 = strings.ReplaceAll(s2, l.URL, "")
		}
	}
	for _, bad := range []string{"http://", "https://", "src=", "@import", "url(http", "url(", "<link"} {
		if strings.Contains(s2, bad) {
			t.Errorf("the page references %q: it must need no network", bad)
		}
	}
	// Every rule a cell cites is listed once with its source and its AWS
	// pages as links (the panel shows the same, built by the page's script
	// from the rules' JSON).
	cited := map[string]bool{}
	for i := range c.Cells {
		for _, r := range Sources(&c.Cells[i]) {
			if cited[r.ID] {
				continue
			}
			cited[r.ID] = true
			want := `<li data-rule="` + r.ID + `"><code>` + r.ID + `</code> [` + r.Status + `] ` + template.HTMLEscapeString(r.Source)
			if !strings.Contains(s, want) {
				t.Errorf("rule %s is not listed as %q", r.ID, want)
			}
			if len(r.Links) == 0 {
				t.Errorf("rule %s has no AWS page", r.ID)
			}
			for _, l := range r.Links {
				a := `<a href="` + l.URL + `" target="_blank" rel="noopener noreferrer">` + template.HTMLEscapeString(l.Title) + `</a>`
				if !strings.Contains(s, a) {
					t.Errorf("rule %s: the page lacks %s", r.ID, a)
				}
			}
		}
	}
	if !strings.Contains(s, `<a href="https://docs.aws.amazon.com/kms/latest/APIReference/API_ConnectCustomKeyStore.html"`) {
		t.Error("the page does not link to ConnectCustomKeyStore's API Reference page")
	}
	if strings.Contains(s, "<script>alert(1)") || strings.Contains(s, "<b>x</b>") {
		t.Error("a target message reached the page unescaped")
	}
	for _, cell := range c.Cells {
		if !strings.Contains(s, `data-id="`+cell.ID+`" data-verdict="`+string(cell.Verdict)+`"`) {
			t.Errorf("%s: no element with its verdict", cell.ID)
		}
	}
}

func TestWriteAll(t *testing.T) {
	dir := t.TempDir()
	paths, err := WriteAll(dir, fullRun())
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != len(Formats) {
		t.Fatalf("wrote %v", paths)
	}
	for _, f := range Formats {
		st, err := os.Stat(filepath.Join(dir, FileNames[f]))
		if err != nil || st.Size() == 0 || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v %v", f, st, err)
		}
	}
}

// TestExplained: both formats name the three totals with their numbers and
// what each counts, print the target's URL once, explain D/I/C/U and every
// verdict with a legend entry for the positions the model has no cell for,
// and point at the AWS pages behind the cells' rules.
func TestExplained(t *testing.T) {
	c := fullRun()
	tot := TotalsOf(c)
	if tot.Matrix != len(model.Cells()) || tot.Validation != 4 || tot.Scenarios != 2 || tot.Specs() != len(c.Cells)+len(c.Scenarios) {
		t.Fatalf("totals %+v", tot)
	}
	sum := 0
	for _, v := range Verdicts {
		sum += c.Summary.Count(v)
	}
	if sum != tot.Specs() {
		t.Fatalf("the verdict counts add up to %d, not the %d specs", sum, tot.Specs())
	}
	pages := AWSPages(c)
	if len(pages) == 0 {
		t.Fatal("no AWS page behind the cells' rules")
	}

	md := string(Markdown(c))
	for _, want := range []string{
		fmt.Sprintf("**%d of %d documented cells passing**", tot.Passing, tot.Documented),
		"| total | count | what it counts |",
		fmt.Sprintf("| documented cells | %d (%d passing) | %s |", tot.Documented, tot.Passing, documentedMeaning),
		fmt.Sprintf("| cells | %d (%d matrix + %d validation) | %s |", tot.Cells(), tot.Matrix, tot.Validation, cellsMeaning),
		fmt.Sprintf("| specs | %d (%d cells + %d scenarios) | %s |", tot.Specs(), tot.Cells(), tot.Scenarios, specsMeaning),
		fmt.Sprintf("Verdicts of the %d specs: ✅ pass %d · ❌ fail %d", tot.Specs(), c.Summary.Pass, c.Summary.Fail),
		"### How to read this report",
		"| · | no cell | " + noCellMeaning + " |",
		"The failing cells below list their rules with those links.",
		"the most cited first: " + mdLinks([]model.Link{pages[0].Link}) + " (" + countPhrase(pages[0].Cells, 0) + ")",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	for _, p := range Provenances {
		if want := "- **" + p.Code + "** " + p.Name + ": " + p.Meaning + "\n"; !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	for _, v := range Verdicts {
		if want := "| " + Symbols[v] + " | " + string(v) + " | " + VerdictMeanings[v] + " |\n"; !strings.Contains(md, want) {
			t.Errorf("markdown lacks the legend entry %q", want)
		}
	}
	for _, p := range pages {
		if !strings.Contains(md, mdLinks([]model.Link{p.Link})) {
			t.Errorf("markdown lacks the AWS page %s", p.URL)
		}
	}
	if n := strings.Count(md, unitEndpoint); n != 1 {
		t.Errorf("the target URL is in the markdown %d times, want once", n)
	}
	// The old unnamed totals ("N cells, M scenarios") are gone.
	if strings.Contains(md, fmt.Sprintf("%d cells, %d scenarios", tot.Cells(), tot.Scenarios)) {
		t.Error("the markdown still prints the cells and scenarios unnamed")
	}
	// The explanation comes before the matrices.
	if i, j := strings.Index(md, "### How to read this report"), strings.Index(md, "### AWS_CLOUDHSM"); i < 0 || j < i {
		t.Error("the explanation is not before the matrices")
	}

	page, err := HTML(c)
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	body := s[strings.Index(s, "<body>"):strings.Index(s, `<script id="cells"`)]
	if n := strings.Count(body, unitEndpoint); n != 1 {
		t.Errorf("the target URL is in the page %d times, want once", n)
	}
	for _, want := range []string{
		fmt.Sprintf(`<span class="big" id="documented">%d of %d documented cells passing`, tot.Passing, tot.Documented),
		fmt.Sprintf(`<tr data-total="documented"><th scope="row">documented cells</th><td class="num">%d (%d passing)</td><td>%s</td></tr>`,
			tot.Documented, tot.Passing, documentedMeaning),
		fmt.Sprintf(`<tr data-total="cells"><th scope="row">cells</th><td class="num">%d (%d matrix + %d validation)</td>`, tot.Cells(), tot.Matrix, tot.Validation),
		fmt.Sprintf(`<tr data-total="specs"><th scope="row">specs</th><td class="num">%d (%d cells + %d scenarios)</td>`, tot.Specs(), tot.Cells(), tot.Scenarios),
		fmt.Sprintf("Verdicts of the %d specs: ", tot.Specs()),
		`<h2 id="explain-h">How to read this report</h2>`,
		`<tr data-legend="none"><td class="mark none" title="no such cell"></td><th scope="row">no cell</th><td>` + template.HTMLEscapeString(noCellMeaning) + `</td></tr>`,
		`<span data-legend="none"><span class="sw none"></span>no such cell</span>`,
		`<a href="#rules-cited">`,
		fmt.Sprintf(`The %d AWS pages behind this run's cells`, len(pages)),
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, p := range Provenances {
		if want := `<dt data-provenance="` + p.Code + `"><b>` + p.Code + `</b> ` + p.Name + `</dt><dd>` + template.HTMLEscapeString(p.Meaning) + `</dd>`; !strings.Contains(s, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, v := range Verdicts {
		want := `<tr data-legend="` + string(v) + `"><td class="mark v-` + string(v) + `">` + htmlSymbols[v] + `</td><th scope="row">` +
			string(v) + `</th><td>` + template.HTMLEscapeString(VerdictMeanings[v]) + `</td></tr>`
		if !strings.Contains(s, want) {
			t.Errorf("the page lacks the legend entry %q", want)
		}
	}
	for _, p := range pages {
		if want := `<li><a href="` + p.URL + `" target="_blank" rel="noopener noreferrer">` + template.HTMLEscapeString(p.Title) + `</a> (`; !strings.Contains(s, want) {
			t.Errorf("the page lacks the AWS page %q", want)
		}
	}
	if i, j := strings.Index(s, `id="explain"`), strings.Index(s, `<table class="matrix"`); i < 0 || j < i {
		t.Error("the explanation is not before the matrices")
	}
}

// TestRootCausesBeforeTables: with failures, both formats show the causes
// of the failures first, before the matrices, even when far more cells
// were not checked for another reason.
func TestRootCausesBeforeTables(t *testing.T) {
	c := fullRun()
	for i := range c.Cells {
		if c.Cells[i].Verdict == Unreachable {
			c.Cells[i].Evidence.Detail = "needs a control plane"
		}
	}
	causes := RootCauses(c)
	if causes[0].Verdict == Fail {
		t.Fatalf("the largest cause is a failure: %+v", causes[0])
	}
	first := FailuresFirst(causes)
	if len(first) != len(causes) || first[0].Verdict != Fail {
		t.Fatalf("FailuresFirst: %+v", first[:2])
	}
	for i := 1; i < len(first); i++ {
		if first[i-1].Verdict != Fail && first[i].Verdict == Fail {
			t.Fatalf("a failure after another verdict at %d", i)
		}
	}

	md := string(Markdown(c))
	i, j := strings.Index(md, "\n### Root causes\n"), strings.Index(md, "\n### AWS_CLOUDHSM\n")
	if i < 0 || j < i {
		t.Fatalf("root causes at %d, the first matrix at %d", i, j)
	}
	header := "| count | verdict | reason | examples |\n|--:|---|---|---|\n"
	k := strings.Index(md[i:], header)
	if k < 0 || !strings.HasPrefix(md[i+k+len(header):], "| "+countPhrase(first[0].Cells, first[0].Scenarios)+" | ❌ fail | "+mdText(first[0].Reason)+" |") {
		t.Errorf("the first root cause is not the first failure's:\n%s", md[i:j])
	}

	page, err := HTML(c)
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	i, j = strings.Index(s, "<h2>Root causes</h2>"), strings.Index(s, `<table class="matrix"`)
	if i < 0 || j < i {
		t.Fatalf("root causes at %d, the first matrix at %d", i, j)
	}
	if want := `<ul class="causes"><li data-cause-verdict="fail">`; !strings.Contains(s[i:j], want) {
		t.Errorf("the page's first root cause is not a failure's")
	}
}
