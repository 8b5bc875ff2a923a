package reports

import (
	"bytes"
	"fmt"
	"html"
)

// BadgeLabel is the left half of the badge.
const BadgeLabel = "custom key stores"

// Badge renders an SVG badge "custom key stores | 87% conformant" in the
// shields.io flat style, for a README. The percentage is of the documented
// cells that pass, rounded down (see Documented).
func Badge(c *Compat) []byte {
	passing, total := Documented(c)
	pct := Percent(passing, total)
	value := fmt.Sprintf("%d%% conformant", pct)
	color := "#e05d44" // red
	switch {
	case pct == 100:
		color = "#4c1" // bright green
	case pct >= 90:
		color = "#97ca00"
	case pct >= 75:
		color = "#dfb317"
	case pct >= 50:
		color = "#fe7d37"
	}
	lw, vw := textWidth(BadgeLabel)+10, textWidth(value)+10
	w := lw + vw
	// The target's name and the revision are data: one printable line
	// (XML forbids most control characters), then escaped for XML.
	title := fmt.Sprintf("%s: %s (%d of %d documented cells pass on %s, model %s)",
		BadgeLabel, value, passing, total, PrintableLine(c.Target.Name), PrintableLine(c.ModelRevision))
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="%s">`+"\n",
		w, html.EscapeString(BadgeLabel+": "+value))
	fmt.Fprintf(&b, "  <title>%s</title>\n", html.EscapeString(title))
	b.WriteString(`  <linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>` + "\n")
	fmt.Fprintf(&b, `  <clipPath id="r"><rect width="%d" height="20" rx="3" fill="#fff"/></clipPath>`+"\n", w)
	fmt.Fprintf(&b, `  <g clip-path="url(#r)"><rect width="%d" height="20" fill="#555"/><rect x="%d" width="%d" height="20" fill="%s"/><rect width="%d" height="20" fill="url(#s)"/></g>`+"\n",
		lw, lw, vw, color, w)
	b.WriteString(`  <g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">` + "\n")
	for _, t := range []struct {
		x    int
		text string
	}{{lw / 2, BadgeLabel}, {lw + vw/2, value}} {
		fmt.Fprintf(&b, `    <text x="%d" y="15" fill="#010101" fill-opacity=".3">%s</text><text x="%d" y="14">%s</text>`+"\n",
			t.x, html.EscapeString(t.text), t.x, html.EscapeString(t.text))
	}
	b.WriteString("  </g>\n</svg>\n")
	return b.Bytes()
}

// textWidth estimates the width in pixels of text in 11px Verdana, from
// per-character advance widths (rounded), so the badge needs no font at
// render time.
func textWidth(s string) int {
	w := 0.0
	for _, r := range s {
		switch {
		case r == ' ':
			w += 3.9
		case r == 'i' || r == 'l' || r == 'j' || r == 't' || r == 'f' || r == 'r':
			w += 4.3
		case r == 'm' || r == 'w' || r == '%' || r == 'M' || r == 'W':
			w += 10.5
		case r >= '0' && r <= '9':
			w += 7.0
		case r >= 'A' && r <= 'Z':
			w += 7.6
		default:
			w += 6.9
		}
	}
	return int(w + 0.5)
}
