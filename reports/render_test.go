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

// fullRun builds a document with every cell of the model and a validation
// section, each verdict in turn, so the renderers see every case.
func fullRun() *Compat {
	c := &Compat{Schema: Schema, ModelRevision: model.Revision(), Target: Target{Name: "unit", Kind: "endpoint", Endpoint: "http://127.0.0.1:1"},
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
		"## kmsconform: unit",
		fmt.Sprintf("**%d of %d documented cells passing**", passing, total),
		"model `" + model.Revision() + "`", "2026-11-22 10:30 UTC",
		"### AWS_CLOUDHSM", "### EXTERNAL_KEY_STORE", "### Input validation", "### Scenarios", "### Failing cells",
		"| operation | DISCONNECTED | CONNECTING | CONNECTED | DISCONNECTING | FAILED | no such store |",
		"Legend: ✅ pass · ❌ fail",
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
