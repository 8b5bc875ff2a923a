package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// chromium returns the browser, installing Debian's chromium when none is
// there: CI machines start without it. Without root or network the test
// fails and says why, unless KMSCONFORM_SKIP_BROWSER=1.
func chromium(t *testing.T) string {
	t.Helper()
	if os.Getenv("KMSCONFORM_SKIP_BROWSER") == "1" {
		t.Skip("KMSCONFORM_SKIP_BROWSER=1: the HTML report is not checked in a browser")
	}
	installOnce.Do(func() {
		if _, err := Browser(); err == nil {
			return
		}
		if os.Geteuid() != 0 {
			installErr = fmt.Errorf("chromium is not installed and this test is not root, so it cannot apt-get install it; " +
				"install Debian's chromium, or set KMSCONFORM_SKIP_BROWSER=1 to skip the browser test")
			return
		}
		env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		for _, args := range [][]string{
			{"-o", "DPkg::Lock::Timeout=600", "update"},
			{"-o", "DPkg::Lock::Timeout=600", "install", "-y", "--no-install-recommends", "chromium"},
		} {
			cmd := exec.Command("apt-get", args...)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				lines := strings.Split(strings.TrimSpace(string(out)), "\n")
				installErr = fmt.Errorf("apt-get %s: %v: %s (set KMSCONFORM_SKIP_BROWSER=1 to skip the browser test)",
					strings.Join(args[2:], " "), err, lines[len(lines)-1])
				return
			}
		}
	})
	if installErr != nil {
		t.Fatal(installErr)
	}
	b, err := Browser()
	if err != nil {
		t.Fatalf("chromium was installed but is not on the PATH: %v", err)
	}
	return b
}

var (
	installOnce sync.Once
	installErr  error
)

var (
	tagRE  = regexp.MustCompile(`<(td|body|aside)\b[^>]*>`)
	attrRE = regexp.MustCompile(`([a-z-]+)="([^"]*)"`)
)

// domElements reads the attributes of every td, body and aside element of a
// DOM dump (Chromium serialises attributes with double quotes and escapes
// the ones inside).
func domElements(dom []byte, tag string) []map[string]string {
	var out []map[string]string
	for _, m := range tagRE.FindAllSubmatch(dom, -1) {
		if string(m[1]) != tag {
			continue
		}
		attrs := map[string]string{}
		for _, a := range attrRE.FindAllSubmatch(m[0], -1) {
			attrs[string(a[1])] = strings.NewReplacer("&amp;", "&", "&quot;", `"`, "&lt;", "<", "&gt;", ">").Replace(string(a[2]))
		}
		out = append(out, attrs)
	}
	return out
}

// TestHTMLInBrowser opens the HTML report in headless Chromium, checks
// through the DOM (dumped after the page's script ran) that every cell of the
// input is there with its verdict, that the filter and the cell panel work,
// that the explanation names the totals and has the hatched square in its
// legend, that the validation chips stay inside their table (by the boxes
// the browser laid out), and leaves the page and its screenshot in out/browser-test/ (that is
// reports/out, not committed).
func TestHTMLInBrowser(t *testing.T) {
	browser := chromium(t)
	c := fullRun()
	// The page and its screenshot are made in a directory of this test's
	// own, then copied to out/browser-test/ atomically: other people's test
	// runs on the same checkout may do the same at the same time.
	dir := t.TempDir()
	keep := filepath.Join("out", "browser-test")
	page := filepath.Join(dir, "compat.html")
	data, err := HTML(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(page, data); err != nil {
		t.Fatal(err)
	}
	// No time limit on the machine's speed: only a hung browser is stopped.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dump := func(fragment string) []byte {
		t.Helper()
		u, err := FileURL(page, fragment)
		if err != nil {
			t.Fatal(err)
		}
		dom, err := Headless(ctx, browser, u, "--dump-dom")
		if err != nil {
			t.Fatal(err)
		}
		return dom
	}

	t.Run("every cell with its verdict", func(t *testing.T) {
		dom := dump("")
		body := domElements(dom, "body")
		if len(body) != 1 || body[0]["data-ready"] != "1" {
			t.Fatalf("the page's script did not run: body %v", body)
		}
		got := map[string]string{}
		for _, td := range domElements(dom, "td") {
			if id := td["data-id"]; id != "" {
				if _, dup := got[id]; dup {
					t.Errorf("%s: twice in the page", id)
				}
				got[id] = td["data-verdict"]
				if td["data-match"] != "1" {
					t.Errorf("%s: hidden without a filter", id)
				}
			}
		}
		for _, cell := range c.Cells {
			if v, ok := got[cell.ID]; !ok {
				t.Errorf("%s: not in the page", cell.ID)
			} else if v != string(cell.Verdict) {
				t.Errorf("%s: verdict %s in the page, %s in the run", cell.ID, v, cell.Verdict)
			}
			delete(got, cell.ID)
		}
		if len(got) != 0 {
			t.Errorf("cells the run does not have: %v", got)
		}
		if body[0]["data-shown"] != fmt.Sprint(len(c.Cells)) {
			t.Errorf("shown %s of %d", body[0]["data-shown"], len(c.Cells))
		}
	})

	t.Run("filter and cell panel", func(t *testing.T) {
		var failing *Cell
		fails := 0
		for i := range c.Cells {
			if c.Cells[i].Verdict == Fail && c.Cells[i].Operation == "CreateKey" {
				fails++
				if failing == nil && len(c.Cells[i].Rules) > 0 {
					failing = &c.Cells[i]
				}
			}
		}
		if failing == nil {
			t.Fatal("the sample has no failing CreateKey cell")
		}
		dom := dump("verdict=fail&op=CreateKey&cell=" + failing.ID)
		shown := 0
		for _, td := range domElements(dom, "td") {
			if td["data-id"] == "" {
				continue
			}
			match := td["data-verdict"] == "fail" && td["data-op"] == "CreateKey"
			if (td["data-match"] == "1") != match {
				t.Errorf("%s (%s %s): data-match %q", td["data-id"], td["data-verdict"], td["data-op"], td["data-match"])
			}
			if td["data-match"] == "1" {
				shown++
			}
		}
		if shown != fails {
			t.Errorf("%d cells shown, want the %d failing CreateKey cells", shown, fails)
		}
		aside := domElements(dom, "aside")
		if len(aside) != 1 || aside[0]["data-selected"] != failing.ID {
			t.Fatalf("the panel does not show %s: %v", failing.ID, aside)
		}
		panel := string(dom[bytes.Index(dom, []byte(`<div id="detail-body">`)):])
		panel = panel[:strings.Index(panel, "</aside>")]
		want := []string{failing.ID, "<dt>expected</dt><dd>" + strings.Join(failing.Expected, " or ") + "</dd>",
			"<dt>observed</dt><dd>" + failing.Observed + "</dd>", "<dt>request id</dt><dd>" + failing.Evidence.RequestID + "</dd>",
			"<dt>provenance</dt><dd>" + failing.Provenance + "</dd>"}
		links := 0
		for _, r := range Sources(failing) {
			want = append(want, "<code>"+r.ID+"</code> ["+r.Status+"]")
			// The rule's AWS pages are links in the panel.
			for _, l := range r.Links {
				want = append(want, `<a href="`+l.URL+`" target="_blank" rel="noopener noreferrer">`+l.Title+`</a>`)
				links++
			}
		}
		if links == 0 {
			t.Errorf("the rules of %s have no AWS page", failing.ID)
		}
		for _, w := range want {
			if !strings.Contains(panel, w) {
				t.Errorf("the panel lacks %q:\n%s", w, panel)
			}
		}
	})

	t.Run("explanation and layout", func(t *testing.T) {
		m := measure(t, ctx, browser, dir, wideValidation(fullRun()))
		tot := TotalsOf(wideValidation(fullRun()))
		// The three totals are named, with their numbers.
		want := map[string]string{
			"documented": fmt.Sprintf("documented cells|%d (%d passing)", tot.Documented, tot.Passing),
			"cells":      fmt.Sprintf("cells|%d (%d matrix + %d validation)", tot.Cells(), tot.Matrix, tot.Validation),
			"specs":      fmt.Sprintf("specs|%d (%d cells + %d scenarios)", tot.Specs(), tot.Cells(), tot.Scenarios),
		}
		for k, w := range want {
			if m.Totals[k] != w {
				t.Errorf("total %s reads %q, want %q", k, m.Totals[k], w)
			}
		}
		if m.EndpointCount != 1 {
			t.Errorf("the target URL is shown %d times, want once", m.EndpointCount)
		}
		// The legend has the hatched square of the matrix, drawn the same.
		if !strings.Contains(m.NoneCell, "repeating-linear-gradient") {
			t.Fatalf("a matrix position without a cell is not hatched: %q", m.NoneCell)
		}
		if m.LegendNone != m.NoneCell || m.FilterNone != m.NoneCell {
			t.Errorf("the legend's no-cell squares (%q, %q) are not the matrix's (%q)", m.LegendNone, m.FilterNone, m.NoneCell)
		}
		if m.LegendSize[0] < 10 || m.LegendSize[1] < 10 {
			t.Errorf("the legend's hatched square is %vx%v px", m.LegendSize[0], m.LegendSize[1])
		}
		if len(m.Legend) != len(Verdicts)+1 {
			t.Errorf("legend entries %v", m.Legend)
		}
		// Every validation chip is inside its table, and the table inside
		// its column (not under the cell panel).
		if m.Chips == 0 {
			t.Fatal("no validation chip measured")
		}
		for _, o := range m.Outside {
			t.Errorf("outside the validation table's box: %s", o)
		}
		// The explanation and the root causes come before the first matrix.
		if !(m.CausesTop < m.ExplainTop && m.ExplainTop < m.MatrixTop) {
			t.Errorf("root causes at %v, explanation at %v, first matrix at %v px", m.CausesTop, m.ExplainTop, m.MatrixTop)
		}
	})

	t.Run("the explanation's link opens the rules", func(t *testing.T) {
		if dom := dump("rules-cited"); !regexp.MustCompile(`<details id="rules-cited" open=""`).Match(dom) {
			t.Error("the link to the list of rules leaves it folded")
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		png := filepath.Join(dir, ScreenshotName)
		if err := Screenshot(ctx, browser, page, png); err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 8)
		f, err := os.Open(png)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Read(head); err != nil || !bytes.Equal(head, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("%s is not a PNG: %q %v", png, head, err)
		}
		if err := os.MkdirAll(keep, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"compat.html", ScreenshotName} {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err == nil {
				err = writeAtomic(filepath.Join(keep, name), data)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}

// wideValidation adds validation groups as wide as real runs have (six
// values, a long case name) to a document: the chips of such rows once ran
// out of the table.
func wideValidation(c *Compat) *Compat {
	add := func(id string, v Verdict) {
		c.Cells = append(c.Cells, Cell{ID: id, StoreType: "EXTERNAL_KEY_STORE", State: "DISCONNECTED", Operation: "CreateCustomKeyStore",
			Variant: "validation", Provenance: "D", Rules: []string{"input.validation"}, Expected: []string{"ValidationException"},
			Observed: "ValidationException", Verdict: v})
	}
	for i, val := range []string{"42", "43", "64", "65", "missing", "pattern"} {
		add("validation/CreateCustomKeyStore/XksProxyAuthenticationCredential.RawSecretAccessKey/"+val, Verdicts[i%3+1])
		add("validation/UpdateCustomKeyStore/XksProxyAuthenticationCredential.AccessKeyId/"+val, Verdicts[i%2])
	}
	add("validation/wrong-type/CreateCustomKeyStore/CloudHSM-with-XKS-parameters", Unreachable)
	c.Finish()
	return c
}

// measurement is what measureScript reads of the laid-out page.
type measurement struct {
	Totals        map[string]string `json:"totals"`
	EndpointCount int               `json:"endpointCount"`
	NoneCell      string            `json:"noneCell"`
	LegendNone    string            `json:"legendNone"`
	FilterNone    string            `json:"filterNone"`
	LegendSize    [2]float64        `json:"legendSize"`
	Legend        []string          `json:"legend"`
	Chips         int               `json:"chips"`
	Outside       []string          `json:"outside"`
	CausesTop     float64           `json:"causesTop"`
	ExplainTop    float64           `json:"explainTop"`
	MatrixTop     float64           `json:"matrixTop"`
}

// measureScript runs after the page's own script and leaves what it measured
// as JSON in a pre element of the dumped DOM: element boxes and computed
// styles exist only in a browser.
const measureScript = `<script>
(function () {
  var out = { totals: {}, legend: [], outside: [], chips: 0 };
  document.querySelectorAll("#totals tr[data-total]").forEach(function (tr) {
    out.totals[tr.dataset.total] = tr.querySelector("th").textContent + "|" + tr.querySelector("td").textContent;
  });
  var text = document.body.innerText, ep = document.body.dataset.endpoint;
  out.endpointCount = text.split(ep).length - 1;
  var bg = function (e) { return e ? getComputedStyle(e).backgroundImage : "(none)"; };
  out.noneCell = bg(document.querySelector("table.matrix td.none"));
  var sq = document.querySelector("#legend tr[data-legend=none] td.mark");
  out.legendNone = bg(sq);
  if (sq) { var r = sq.getBoundingClientRect(); out.legendSize = [r.width, r.height]; }
  out.filterNone = bg(document.querySelector("#filters [data-legend=none] .sw"));
  document.querySelectorAll("#legend tr[data-legend]").forEach(function (tr) { out.legend.push(tr.dataset.legend); });
  var table = document.querySelector("table.validation"), col = document.querySelector(".tables");
  if (table) {
    var tb = table.getBoundingClientRect(), cb = col.getBoundingClientRect();
    if (tb.right > cb.right + 0.5) out.outside.push("the table (right " + tb.right + ") runs out of its column (right " + cb.right + ")");
    table.querySelectorAll("td.cell").forEach(function (td) {
      out.chips++;
      var b = td.getBoundingClientRect();
      if (b.left < tb.left - 0.5 || b.right > tb.right + 0.5 || b.top < tb.top - 0.5 || b.bottom > tb.bottom + 0.5) {
        out.outside.push(td.dataset.id + " [" + b.left + "," + b.right + "] in [" + tb.left + "," + tb.right + "]");
      }
    });
  }
  var top = function (sel) { var e = document.querySelector(sel); return e ? e.getBoundingClientRect().top + window.scrollY : -1; };
  out.causesTop = top("#causes");
  out.explainTop = top("#explain");
  out.matrixTop = top("table.matrix");
  var pre = document.createElement("pre");
  pre.id = "measured";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
</body>`

// measure lays a document's page out in the browser at the screenshot's
// window size and returns what measureScript read of it.
func measure(t *testing.T, ctx context.Context, browser, dir string, c *Compat) measurement {
	t.Helper()
	data, err := HTML(c)
	if err != nil {
		t.Fatal(err)
	}
	// The script needs the endpoint; the page is the report's plus the script.
	page := strings.Replace(string(data), "<body>", `<body data-endpoint="`+template.HTMLEscapeString(c.Target.Endpoint)+`">`, 1)
	page = strings.Replace(page, "</body>", measureScript, 1)
	path := filepath.Join(dir, "measure.html")
	if err := writeAtomic(path, []byte(page)); err != nil {
		t.Fatal(err)
	}
	u, err := FileURL(path, "")
	if err != nil {
		t.Fatal(err)
	}
	dom, err := Headless(ctx, browser, u, "--window-size=1400,2400", "--dump-dom")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`<pre id="measured">([^<]*)</pre>`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the measuring script left nothing (did the page's script fail?)")
	}
	var out measurement
	js := strings.NewReplacer("&amp;", "&", "&quot;", `"`, "&lt;", "<", "&gt;", ">").Replace(string(m[1]))
	if err := json.Unmarshal([]byte(js), &out); err != nil {
		t.Fatalf("%v: %s", err, js)
	}
	return out
}
