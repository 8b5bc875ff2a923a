package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// A compat.json may be someone else's (a contributed recording, a target's
// own answers): every string in it is data, and no rendering may let it
// break a table, open HTML, start a heading or emphasis that runs on, or
// send a control sequence to the terminal that prints it.

// hostileLabel holds, in one string, what breaks each format: a table
// separator and an escaped one, a line break followed by a heading, HTML,
// emphasis, code, a link, strikethrough, math, a list marker after a line
// break, terminal sequences (clear screen, set the window title), C1's CSI,
// DEL, NUL, a carriage return that would rewrite the line, bidi overrides
// and isolates, a line separator and bytes that are not UTF-8.
const hostileLabel = "x | y \\| z\n# INJECTED heading\r\n<script>alert(1)</script> <b>b</b> *em* _u_ `code " +
	"[link](http://e.com) ~~s~~ $m$ &amp; \x1b[2J\x1b]0;title\x07 \u202eevil\u202c \u2066iso\u2069 \u009b31m \x7f\x00" +
	"\rINJECTED rewrite\u2028INJECTED ls\n- - -\n1. INJECTED list \xff\x9b end\\"

// hostileRun is a document whose every string is hostileLabel (made unique
// where it must be), with verdicts that reach every section of every
// rendering: failing and indeterminate cells (listed in full), root causes,
// findings, scenarios, validation cells, adapted calls, a store type and a
// state the model does not know.
func hostileRun() *Compat {
	h := hostileLabel
	c := &Compat{Schema: Schema, ModelRevision: "r1-" + h, Target: Target{Name: h, Kind: h, Endpoint: h},
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), DurationSeconds: 1, APICalls: 3, Findings: []string{h, "- " + h}}
	ev := Evidence{HTTPStatus: 400, Message: h, RequestID: h, Route: h, Detail: h, Adapted: h}
	for i, v := range []Verdict{Fail, Fail, Indeterminate, Pass, Unsupported, Informational} {
		c.Cells = append(c.Cells, Cell{ID: fmt.Sprintf("%s/%d", h, i), StoreType: "AWS_CLOUDHSM", State: h, Operation: h,
			Variant: h + fmt.Sprint(i%2), Provenance: "D", Rules: []string{h, "input.validation"}, Expected: []string{h, "success"},
			Observed: h, Verdict: v, Evidence: ev, Seconds: 0.1})
	}
	c.Cells = append(c.Cells,
		Cell{ID: h + "/type", StoreType: h, State: "CONNECTED", Operation: "CreateKey", Variant: h, Provenance: "D",
			Expected: []string{"success"}, Observed: h, Verdict: Fail, Evidence: ev},
		Cell{ID: ValidationPrefix + h + "/" + h, StoreType: "AWS_CLOUDHSM", State: "DISCONNECTED", Operation: h, Variant: h,
			Provenance: "D", Expected: []string{h}, Observed: h, Verdict: Fail, Evidence: ev})
	c.Scenarios = []Scenario{{Name: h, Verdict: Fail, Detail: h}, {Name: h + "2", Verdict: Unreachable, Detail: h}}
	c.Finish()
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c
}

// hostileExpectations lists one failing cell with the outcome it answered
// (known), one with another (unexpected), a passing cell (fixed) and an id
// the run does not have (not checked), each with a hostile reason.
func hostileExpectations(c *Compat) *Expectations {
	h := hostileLabel
	var fails, passes []string
	for _, cell := range c.Cells {
		switch cell.Verdict {
		case Fail:
			fails = append(fails, cell.ID)
		case Pass:
			passes = append(passes, cell.ID)
		}
	}
	if len(fails) < 2 || len(passes) < 1 {
		panic("hostileExpectations needs two failing cells and a passing one")
	}
	return &Expectations{Schema: ExpectationsSchema, Target: h, Deviations: []Deviation{
		{ID: fails[0], Observed: h, Reason: h, Issue: "https://e.com/" + h},
		{ID: fails[1], Observed: "other" + h, Reason: h},
		{ID: passes[0], Observed: h, Reason: h},
		{ID: h + "/absent", Observed: h, Reason: h},
		{ID: h, Reason: h},
	}}
}

// unprintable returns the first character of s a terminal would act on
// rather than show (a C0 control other than a line feed or a tab, DEL, a C1
// control, a bidi control, a line or paragraph separator) or a byte that is
// not UTF-8, and where it is; ok is false when there is none.
func unprintable(s string) (what string, at int, ok bool) {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return fmt.Sprintf("byte %#x", s[i]), i, true
		case r == '\n' || r == '\t':
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f),
			r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069),
			r == 0x2028 || r == 0x2029:
			return fmt.Sprintf("%U", r), i, true
		}
		i += n
	}
	return "", 0, false
}

func checkPrintable(t *testing.T, name, s string) {
	t.Helper()
	if what, at, ok := unprintable(s); ok {
		t.Errorf("%s: %s at byte %d: %q", name, what, at, s[max(0, at-40):min(len(s), at+40)])
	}
}

// checkNoInjectedLine fails when a line of s starts with what hostileLabel
// puts after a line break: data that started a line of its own.
func checkNoInjectedLine(t *testing.T, name, s string) {
	t.Helper()
	for i, l := range strings.Split(s, "\n") {
		l = strings.TrimLeft(l, " ")
		if strings.HasPrefix(l, "# INJECTED") || strings.HasPrefix(l, "INJECTED") || strings.HasPrefix(l, "1. INJECTED") ||
			strings.HasPrefix(l, "- - -") || strings.HasPrefix(l, "<script") {
			t.Errorf("%s: line %d is the data's: %q", name, i+1, l)
		}
	}
}

// gfmCells counts the cells of a GitHub table row as GitHub splits it: at
// every pipe not escaped by a backslash (a backslash escapes the character
// after it, a backslash included), code spans or not.
func gfmCells(row string) int {
	row = strings.TrimSpace(row)
	n, esc := 0, false
	for i := 0; i < len(row); i++ {
		switch {
		case esc:
			esc = false
		case row[i] == '\\':
			esc = true
		case row[i] == '|':
			n++
		}
	}
	return n - 1 // the leading and trailing pipes bound n-1 cells
}

// openCodeSpan reports whether a line ends inside a code span.
func openCodeSpan(line string) bool {
	_, in := codeSpans(line)
	return in
}

// outsideCodeSpans is the text of md outside its code spans, line by line.
func outsideCodeSpans(md string) string {
	var out []string
	for _, l := range strings.Split(md, "\n") {
		s, _ := codeSpans(l)
		out = append(out, s)
	}
	return strings.Join(out, "\n")
}

// codeSpans splits a line as Markdown reads code spans (a backtick opens
// one and the next closes it; outside one a backslash escapes the next
// character, inside one it does not): the text outside them, and whether
// the line ends inside one.
func codeSpans(line string) (outside string, in bool) {
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '`':
			in = !in
		case in:
		case line[i] == '\\' && i+1 < len(line):
			b.WriteString(line[i : i+2])
			i++
		default:
			b.WriteByte(line[i])
		}
	}
	return b.String(), in
}

// checkMarkdown checks a Markdown rendering of hostile data: nothing a
// terminal acts on, no line of the data's own, no HTML, every table row with
// its header's number of cells, every code span closed on its line, and
// every heading one of the renderer's.
func checkMarkdown(t *testing.T, name, md string) {
	t.Helper()
	checkPrintable(t, name, md)
	checkNoInjectedLine(t, name, md)
	// Markdown shows a code span's content as it is: only outside them is
	// a < or > markup.
	if s := outsideCodeSpans(md); strings.ContainsAny(s, "<>") {
		i := strings.IndexAny(s, "<>")
		t.Errorf("%s: raw %q (HTML from the data): %q", name, s[i], s[max(0, i-40):min(len(s), i+40)])
	}
	header := -1
	for i, l := range strings.Split(md, "\n") {
		if !strings.HasPrefix(l, "|") {
			header = -1
		} else if header < 0 {
			header = gfmCells(l)
		} else if n := gfmCells(l); n != header {
			t.Errorf("%s: line %d has %d cells, its table %d: %q", name, i+1, n, header, l)
		}
		if openCodeSpan(l) {
			t.Errorf("%s: line %d has an unclosed code span: %q", name, i+1, l)
		}
		if strings.HasPrefix(l, "#") && !regexp.MustCompile(`^#{2,4} \S`).MatchString(l) {
			t.Errorf("%s: line %d is a heading the renderer did not write: %q", name, i+1, l)
		}
	}
}

// TestHostileMarkdown: compat.md, the diff's and the gate's Markdown keep
// their structure whatever the strings of the documents hold.
func TestHostileMarkdown(t *testing.T) {
	c := hostileRun()
	md := string(Markdown(c))
	checkMarkdown(t, "compat.md", md)
	if !strings.Contains(md, "### Failing cells") || !strings.Contains(md, "### Root causes") || !strings.Contains(md, "### Findings") ||
		!strings.Contains(md, "### Scenarios") || !strings.Contains(md, "### Input validation") || !strings.Contains(md, "### Cells sent on the run's backing") {
		t.Errorf("the hostile run misses a section:\n%s", md)
	}
	old := hostileRun()
	old.ModelRevision = "r0-" + hostileLabel
	for i := range old.Cells {
		old.Cells[i].Verdict, old.Cells[i].Observed = Pass, "other"+hostileLabel
	}
	old.Cells = old.Cells[1:]
	old.Finish()
	d := Diff(old, c)
	if !d.HasRegression() || len(d.Changes) == 0 {
		t.Fatalf("the hostile diff should have regressions and changes: %+v", d)
	}
	checkMarkdown(t, "diff", d.Markdown())
	g := Gate(c, hostileExpectations(c))
	if len(g.Unexpected) == 0 || len(g.Known) == 0 || len(g.Fixed) == 0 || len(g.Unchecked) == 0 {
		t.Fatalf("the hostile gate should fill every section: %+v", g)
	}
	checkMarkdown(t, "gate", g.Markdown())
	nothing := hostileRun()
	for i := range nothing.Cells {
		nothing.Cells[i].Verdict = Indeterminate
	}
	nothing.Scenarios = nil
	nothing.Finish()
	if g := Gate(nothing, hostileExpectations(hostileRun())); !g.NothingChecked {
		t.Fatal("nothing checked, the gate says otherwise")
	} else {
		checkMarkdown(t, "gate, nothing checked", g.Markdown())
	}
}

// TestMarkdownEscape: what mdText and mdCode make of each character
// Markdown gives a meaning, and that the text reads back as it was.
func TestMarkdownEscape(t *testing.T) {
	for in, want := range map[string]string{
		"a | b":                `a \| b`,
		`a \| b`:               `a \\\| b`,
		"<b>&amp;":             "&lt;b&gt;&amp;amp;",
		"*e* _u_ ~s~ `c`":      "\\*e\\* \\_u\\_ \\~s\\~ \\`c\\`",
		"[l](u) ![i](u)":       `\[l\](u) !\[i\](u)`,
		"# h":                  `\# h`,
		"$x$":                  `\$x\$`,
		"- - -":                `\- - -`,
		"+ x":                  `\+ x`,
		"12. x":                `12\. x`,
		"3) x":                 `3\) x`,
		"a\nb\r\nc\rd\te":      "a b c d e",
		"  lead":               "lead",
		"esc \x1b[2J":          `esc \\x1b\[2J`,
		"rlo \u202eevil":       `rlo \\u202eevil`,
		"plain-id.v2/Op=1":     "plain-id.v2/Op=1",
		"AWS_CLOUDHSM/FAILED":  "AWS_CLOUDHSM/FAILED",
		"_x_ a_ _b snake_case": `\_x\_ a\_ \_b snake_case`,
	} {
		if got := mdText(in); got != want {
			t.Errorf("mdText(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"a|b":          `a\|b`,
		`a\|b`:         `a\\\|b`,
		`a\b`:          `a\b`,
		"a`b":          "a'b",
		"a\nb":         "a b",
		"<x> & *y*":    "<x> & *y*", // a code span shows them as they are
		"esc \x1b[31m": `esc \x1b[31m`,
	} {
		if got := mdCode(in); got != want {
			t.Errorf("mdCode(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHostileHTML: html/template escapes the data for its context; the page
// also shows control and bidi characters as escapes rather than passing them
// to the browser (or to the terminal `report render` prints to).
func TestHostileHTML(t *testing.T) {
	page, err := HTML(hostileRun())
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	checkPrintable(t, "compat.html", s)
	// The page's own: two JSON islands and its script.
	if n := strings.Count(s, "<script"); n != 3 {
		t.Errorf("%d script elements, want the page's 3", n)
	}
	for _, bad := range []string{"<script>alert", "<b>b</b>", "</script> <b>"} {
		if strings.Contains(s, bad) {
			t.Errorf("the data's %q reached the page as markup", bad)
		}
	}
	if !strings.Contains(s, `\\x1b[2J`) && !strings.Contains(s, `\x1b[2J`) {
		t.Error("the page does not show the escape sequence as text")
	}
}

// TestHostileJUnitJSONBadge: the XML and JSON encoders escape the data; the
// renderings carry no character a terminal acts on either, and compat.json
// reads back as it was written.
func TestHostileJUnitJSONBadge(t *testing.T) {
	c := hostileRun()
	junit, err := JUnit(c)
	if err != nil {
		t.Fatal(err)
	}
	checkPrintable(t, "junit.xml", string(junit))
	var root junitSuites
	if err := xml.Unmarshal(junit, &root); err != nil || root.Tests != len(c.Cells)+len(c.Scenarios) {
		t.Errorf("junit.xml does not read back: %v, %d tests", err, root.Tests)
	}
	badge := Badge(c)
	checkPrintable(t, "badge.svg", string(badge))
	if err := xml.Unmarshal(badge, new(struct{})); err != nil {
		t.Errorf("badge.svg is not XML: %v", err)
	}
	var b bytes.Buffer
	if err := c.Write(&b); err != nil {
		t.Fatal(err)
	}
	checkPrintable(t, "compat.json", b.String())
	back, err := Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	// Bytes that are not UTF-8 read back as U+FFFD, as encoding/json makes
	// them; everything else as it was.
	if want := string([]rune(hostileLabel)); back.Target.Name != want || back.Cells[0].Evidence.Message != want {
		t.Errorf("compat.json did not read back: %q", back.Target.Name)
	}
}

// TestHostileTerminal: what reports prints for a terminal (the run's
// summary, the diff, the gate) holds no character a terminal acts on, and
// every string of the data stays on its line.
func TestHostileTerminal(t *testing.T) {
	c := hostileRun()
	old := hostileRun()
	old.ModelRevision = "r0-" + hostileLabel
	for i := range old.Cells {
		old.Cells[i].Verdict = Pass
	}
	old.Finish()
	nothing := hostileRun()
	for i := range nothing.Cells {
		nothing.Cells[i].Verdict = Indeterminate
	}
	nothing.Scenarios = nil
	nothing.Finish()
	_, why := nothing.NothingChecked()
	for name, s := range map[string]string{
		"TerminalSummary":     TerminalSummary(c, "out/compat.json"),
		"SummaryHead":         SummaryHead(c, 1),
		"diff":                Diff(old, c).Text(),
		"gate":                Gate(c, hostileExpectations(c)).Text(),
		"gate, nothing":       Gate(nothing, hostileExpectations(hostileRun())).Text(),
		"NothingChecked":      why,
		"root cause":          RootCauses(c)[0].Reason,
		"expectations errors": expectationsError(),
	} {
		checkPrintable(t, name, s)
		checkNoInjectedLine(t, name, s)
	}
	if s := TerminalSummary(c, ""); !strings.Contains(s, `\x1b[2J`) || !strings.Contains(s, `\u202e`) {
		t.Errorf("the summary hides the control characters instead of showing them:\n%s", s)
	}
}

// expectationsError is the error of an expectations file that lists a
// hostile id twice, and of a compat.json with a duplicate hostile id.
func expectationsError() string {
	h := hostileLabel
	_, err := ReadExpectations(strings.NewReader(fmt.Sprintf("schema: %s\ndeviations:\n  - {id: %q, observed: x, reason: x}\n  - {id: %q, observed: x, reason: y}\n",
		ExpectationsSchema, h, h)))
	c := hostileRun()
	c.Cells = append(c.Cells, c.Cells[0])
	c.Finish()
	var b bytes.Buffer
	_ = c.Write(&b)
	_, err2 := Read(&b)
	return fmt.Sprint(err) + "\n" + fmt.Sprint(err2)
}

// TestPrintable: what Printable and PrintableLine show for each kind of
// character a terminal acts on, and that they leave everything else as it
// is.
func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, text, line string }{
		{"plain ascii, ünïcödé, emoji ✅ ⏭️", "plain ascii, ünïcödé, emoji ✅ ⏭️", "plain ascii, ünïcödé, emoji ✅ ⏭️"},
		{"a\nb\tc", "a\nb\tc", "a b c"},
		{"a\r\nb\rc", "a\nb\\rc", "a b c"},
		{"\x1b[2J\x1b]0;t\x07\x00\x7f", `\x1b[2J\x1b]0;t\x07\x00\x7f`, `\x1b[2J\x1b]0;t\x07\x00\x7f`},
		{"\u009b31m\u0085", `\u009b31m\u0085`, `\u009b31m\u0085`},
		{"\u202eevil\u202c \u2066i\u2069 \u200f\u061c", `\u202eevil\u202c \u2066i\u2069 \u200f\u061c`, `\u202eevil\u202c \u2066i\u2069 \u200f\u061c`},
		{"ls\u2028ps\u2029", `ls\u2028ps\u2029`, `ls\u2028ps\u2029`},
		{"bad \xff\x9b utf-8, real \uFFFD", `bad \xff\x9b utf-8, real ` + "\uFFFD", `bad \xff\x9b utf-8, real ` + "\uFFFD"},
	} {
		if got := Printable(tc.in); got != tc.text {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.text)
		}
		if got := PrintableLine(tc.in); got != tc.line {
			t.Errorf("PrintableLine(%q) = %q, want %q", tc.in, got, tc.line)
		}
		if Printable(tc.text) != tc.text || PrintableLine(tc.line) != tc.line {
			t.Errorf("%q: not a fixed point", tc.in)
		}
	}
	checkPrintable(t, "Printable(hostileLabel)", Printable(hostileLabel))
	if s := PrintableLine(hostileLabel); strings.Contains(s, "\n") || strings.Contains(s, "\t") {
		t.Errorf("PrintableLine keeps a line break: %q", s)
	}
}

// TestMapStringsCoversEveryString: MapStrings reaches every string of a
// document, so a field added to the schema cannot slip past the renderers
// that start from it. Every string (and string slice) field is filled by
// reflection, so the test needs no change when one is added.
func TestMapStringsCoversEveryString(t *testing.T) {
	const mark = "\x1b"
	c := &Compat{}
	fill(reflect.ValueOf(c).Elem(), mark)
	m := c.MapStrings(func(s string) string { return strings.ReplaceAll(s, mark, "ok") })
	var missed []string
	walkStrings(reflect.ValueOf(m).Elem(), "Compat", func(path, s string) {
		if strings.Contains(s, mark) {
			missed = append(missed, path)
		}
	})
	if len(missed) > 0 {
		t.Errorf("MapStrings leaves %s", strings.Join(missed, ", "))
	}
	if c.Cells[0].ID != mark {
		t.Error("MapStrings changed the original")
	}
}

// fill sets every string in v to s, giving every slice one element.
func fill(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), s)
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), s)
	}
}

// walkStrings calls f with every string in v and its path.
func walkStrings(v reflect.Value, path string, f func(path, s string)) {
	switch v.Kind() {
	case reflect.String:
		f(path, v.String())
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				walkStrings(v.Field(i), path+"."+v.Type().Field(i).Name, f)
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkStrings(v.Index(i), fmt.Sprintf("%s[%d]", path, i), f)
		}
	}
}
