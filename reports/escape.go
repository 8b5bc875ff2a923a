package reports

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kmsconform/kmsconform/model"
)

// A compat.json is data from outside: a contributed recording, or a run
// whose target chose its own store ids, messages and error names. No string
// of it is trusted by a rendering:
//
//   - printed to a terminal (the run's summary, report diff, report gate,
//     errors naming an id), a string goes through PrintableLine: control and
//     bidi characters shown as escapes, on one line;
//   - in Markdown (compat.md, the diff's and the gate's), through mdText or
//     mdCode, which also keep it inside its table cell, list item or code
//     span;
//   - in HTML, JUnit XML, the badge and compat.json, the format's encoder
//     escapes it (html/template, encoding/xml, html.EscapeString,
//     encoding/json), and the document is first copied through Printable
//     (MapStrings), so what a browser or a `cat` shows holds no control
//     character either.

// Printable returns s with every character a terminal acts on instead of
// showing written as a visible escape: the C0 controls but line feed and tab
// (ESC as \x1b, BEL as \x07, a carriage return, which would let the text
// rewrite its line, as \r), DEL (\x7f), the C1 controls (\u009b: some
// terminals read U+009B as CSI), the Unicode bidi controls (U+061C, U+200E,
// U+200F, U+202A–U+202E, U+2066–U+2069: they reorder what follows on the
// line) and the line and paragraph separators (U+2028, U+2029), and each
// byte that is not UTF-8 (\xff). A CR LF becomes a LF. The result holds no
// byte below 0x20 but \n and \t, no DEL and no ESC; Printable of it is
// itself.
func Printable(s string) string { return printable(s, false) }

// PrintableLine is Printable for a string printed within a line: line breaks
// (LF, CR LF, CR) and tabs become spaces as well, so the data can neither
// start a line of its own nor rewrite one.
func PrintableLine(s string) string { return printable(s, true) }

func printable(s string, line bool) string {
	clean := true
	for i := 0; i < len(s) && clean; i++ {
		c := s[i]
		clean = c >= 0x20 && c < 0x7f || !line && (c == '\n' || c == '\t')
		if c >= 0x80 {
			// Only a few characters beyond ASCII need a look.
			r, n := utf8.DecodeRuneInString(s[i:])
			clean = !unprintableRune(r, n)
			i += n - 1
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\r' && i+1 < len(s) && s[i+1] == '\n':
			// CR LF is a line break: its LF is written next.
		case line && (r == '\n' || r == '\r' || r == '\t'):
			b.WriteByte(' ')
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unprintableRune(r, n):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unprintableRune reports whether a character beyond ASCII is one Printable
// shows as an escape (n is its length in bytes, 1 for a byte that is not
// UTF-8).
func unprintableRune(r rune, n int) bool {
	switch {
	case r == utf8.RuneError && n == 1:
		return true
	case r >= 0x80 && r <= 0x9f: // C1
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // bidi
		return true
	case r == 0x2028, r == 0x2029:
		return true
	}
	return false
}

// MapStrings returns a copy of the document with f applied to every string
// in it (ids, states, outcomes, evidence, findings, scenarios, the target,
// verdicts included); the cells and scenarios keep their order, so the i-th
// of the copy is the i-th of c. Renderers whose encoder escapes for the
// format but not for the eye start from c.MapStrings(Printable); a console
// from c.MapStrings(PrintableLine).
func (c *Compat) MapStrings(f func(string) string) *Compat {
	m := *c
	m.Schema, m.ModelRevision = f(c.Schema), f(c.ModelRevision)
	m.Target = Target{Name: f(c.Target.Name), Kind: f(c.Target.Kind), Endpoint: f(c.Target.Endpoint)}
	m.Findings = mapAll(c.Findings, f)
	if c.Cells != nil {
		m.Cells = make([]Cell, len(c.Cells))
		for i := range c.Cells {
			m.Cells[i] = c.Cells[i].MapStrings(f)
		}
	}
	if c.Scenarios != nil {
		m.Scenarios = make([]Scenario, len(c.Scenarios))
		for i, s := range c.Scenarios {
			m.Scenarios[i] = Scenario{Name: f(s.Name), Verdict: Verdict(f(string(s.Verdict))), Detail: f(s.Detail), Seconds: s.Seconds}
		}
	}
	return &m
}

// MapStrings returns a copy of the cell with f applied to every string in
// it.
func (c Cell) MapStrings(f func(string) string) Cell {
	m := c
	m.ID, m.StoreType, m.State, m.Operation, m.Variant = f(c.ID), f(c.StoreType), f(c.State), f(c.Operation), f(c.Variant)
	m.Provenance, m.Observed, m.Verdict = f(c.Provenance), f(c.Observed), Verdict(f(string(c.Verdict)))
	m.Rules, m.Expected = mapAll(c.Rules, f), mapAll(c.Expected, f)
	e := c.Evidence
	m.Evidence = Evidence{HTTPStatus: e.HTTPStatus, Message: f(e.Message), RequestID: f(e.RequestID), Route: f(e.Route),
		Detail: f(e.Detail), Adapted: f(e.Adapted)}
	return m
}

func mapAll(ss []string, f func(string) string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

// escapeJSON writes the characters encoding/json leaves raw and Printable
// would not (DEL, C1, bidi controls) as \u escapes. In JSON text such a
// character can only be inside a string, where the escape reads back as the
// same character: compat.json stays the same document, and `cat` of it
// sends nothing a terminal acts on.
func escapeJSON(b []byte) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == 0x7f || r >= 0x80 && unprintableRune(r, n) && !(r == utf8.RuneError && n == 1) {
			out = append(out, b[last:i]...)
			out = fmt.Appendf(out, `\u%04x`, r)
			last = i + n
		}
		i += n
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// mdText makes a string of the data plain text in (GitHub) Markdown, safe in
// a table cell, a list item, a heading or after other text on a line:
//
//   - PrintableLine: one line, control and bidi characters shown as
//     escapes; then white space at either end trimmed (indented, the start
//     of a list item would be code);
//   - each character Markdown gives a meaning within a line escaped with a
//     backslash: \ ` * _ ~ [ ] | # $ (an escape, code, emphasis,
//     strikethrough, a link or an image, a table cell's end, a heading,
//     math), but an underscore between two letters or digits, which
//     Markdown leaves as it is;
//   - <, > and & written as entities (&lt; &gt; &amp;): no HTML, no
//     autolink, no entity of the data's own;
//   - a marker that would open a block at the start of a list item escaped:
//     -, + and a number followed by . or ) (a list, a thematic break).
//
// GitHub shows the result as PrintableLine wrote it.
func mdText(s string) string {
	s = strings.TrimSpace(PrintableLine(s))
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '`', '*', '~', '[', ']', '|', '#', '$':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '_':
			// An underscore between two letters or digits can neither open
			// nor close emphasis: AWS_CLOUDHSM stays as it is.
			if !intraword(s, i) {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteByte(c)
		}
	}
	s = b.String()
	if m := mdBlockStart.FindStringIndex(s); m != nil {
		s = s[:m[1]-1] + `\` + s[m[1]-1:]
	}
	return s
}

// intraword reports whether s[i] has a letter or a digit on either side.
func intraword(s string, i int) bool {
	before, _ := utf8.DecodeLastRuneInString(s[:i])
	after, _ := utf8.DecodeRuneInString(s[i+1:])
	alnum := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	return i > 0 && i+1 < len(s) && alnum(before) && alnum(after)
}

// mdBlockStart matches a list marker at the start of a text; its last
// character is the one to escape.
var mdBlockStart = regexp.MustCompile(`^(?:[-+]|[0-9]{1,9}[.)])`)

// mdCode makes a string of the data the content of a code span in a table
// cell or a list item, where Markdown shows everything as it is (<, &, *
// included) and backslashes escape nothing: PrintableLine; a backtick,
// which would end the span, becomes '; a pipe is escaped for the table
// (GitHub splits a row at an unescaped pipe, code span or not, and drops
// the backslash of \|), and the backslashes just before it are doubled so
// that they do not escape its escape.
func mdCode(s string) string {
	s = strings.ReplaceAll(PrintableLine(s), "`", "'")
	return mdCodePipe.ReplaceAllStringFunc(s, func(m string) string {
		return strings.Repeat(`\`, 2*(len(m)-1)) + `\|`
	})
}

var mdCodePipe = regexp.MustCompile(`\\*\|`)

// mdLinks renders AWS pages as Markdown links, one after the other.
func mdLinks(links []model.Link) string {
	var out []string
	for _, l := range links {
		out = append(out, "["+mdText(l.Title)+"]("+mdURL(l.URL)+")")
	}
	return strings.Join(out, ", ")
}

// mdURL makes a URL (the model's AWS pages) safe as a Markdown link
// destination inside a table or list: nothing that ends the destination or
// the line.
var mdURLReplacer = strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "<", "%3C", ">", "%3E", "|", "%7C",
	"`", "%60", "\r", "", "\n", "")

func mdURL(s string) string {
	return mdURLReplacer.Replace(PrintableLine(strings.NewReplacer("\r", "", "\n", "").Replace(s)))
}
