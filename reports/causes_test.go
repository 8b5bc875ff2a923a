package reports

import (
	"fmt"
	"strings"
	"testing"
)

// sdkRefused is the SDK's error, as the harness records it, for a call to
// an endpoint nothing listens on.
func sdkRefused(op, url string) string {
	return "operation error KMS: " + op + ", exceeded maximum number of attempts, 1, https response error StatusCode: 0, RequestID: , " +
		`request send failed, Post "` + url + `/": dial tcp 127.0.0.1:5059: connect: connection refused`
}

func TestRootReason(t *testing.T) {
	refused := "connection refused: http://127.0.0.1:5059"
	for _, tc := range []struct{ detail, want string }{
		// A dead endpoint: one cause, whatever the step, the operation and
		// the path of the URL.
		{"route step 1 (CreateCustomKeyStore): no answer: " + sdkRefused("CreateCustomKeyStore", "http://127.0.0.1:5059"), refused},
		{"no answer: " + sdkRefused("DescribeCustomKeyStores", "http://127.0.0.1:5059/some/path"), refused},
		{"step 3 (Encrypt): no answer: " + sdkRefused("Encrypt", "http://127.0.0.1:5059"), refused},
		{"no answer: operation error KMS: CreateKey, https response error StatusCode: 0, RequestID: , canceled, context deadline exceeded",
			"canceled, context deadline exceeded"},
		{"no answer: operation error KMS: CreateKey, exceeded maximum number of attempts, 1, https response error StatusCode: 0, RequestID: , " +
			`request send failed, Post "https://kms.example:443/": dial tcp: lookup kms.example on 127.0.0.53:53: no such host`,
			"lookup kms.example: no such host: https://kms.example:443"},
		{"no answer: operation error KMS: CreateKey, exceeded maximum number of attempts, 1, https response error StatusCode: 0, RequestID: , " +
			`request send failed, Post "http://10.0.0.1:4566/": read tcp 10.0.0.2:50122->10.0.0.1:4566: read: connection reset by peer`,
			"connection reset by peer: http://10.0.0.1:4566"},

		// The harness's prefixes and the step numbers go.
		{"route step 1: CreateCustomKeyStore is not implemented (HTTP 500, not a KMS error)", "CreateCustomKeyStore is not implemented (HTTP 500, not a KMS error)"},
		{"step 1 (CreateCustomKeyStore): CreateCustomKeyStore is not implemented (HTTP 500, not a KMS error)", "CreateCustomKeyStore is not implemented (HTTP 500, not a KMS error)"},
		{"route step 4 (ConnectCustomKeyStore) answered XksProxyUriUnreachableException no proxy; the model expects success",
			"ConnectCustomKeyStore answered XksProxyUriUnreachableException no proxy; the model expects success"},
		{"step 2 (Encrypt): answered KMSInvalidStateException (the key is Unavailable); the model allows success",
			"Encrypt: answered KMSInvalidStateException (the key is Unavailable); the model allows success"},
		{"not in the planned walk: needs control of the proxy behind KMS — set KMSCONFORM_XKS_CONTROL_URL",
			"needs control of the proxy behind KMS — set KMSCONFORM_XKS_CONTROL_URL"},
		{"after a divergence, the re-planned walk cannot reach it: needs a store held in CONNECTING", "needs a store held in CONNECTING"},
		{"setting up: the store is still CONNECTING after 30.012s", "the store is still CONNECTING after <duration>"},
		{"setting up: the store is still CONNECTING after 1m2.5s", "the store is still CONNECTING after <duration>"},

		// Ids of the run become placeholders.
		{"settling store cks-0a1b2c3d4e5f67890: timed out", "settling store cks-<id>: timed out"},
		{"holding store cks-1234567890abcdef0: the control plane said no", "holding store cks-<id>: the control plane said no"},
		{"DescribeKey of 1234abcd-12ab-34cd-56ef-1234567890ab answered NotFoundException", "DescribeKey of <uuid> answered NotFoundException"},
		{"key arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab is gone", "key arn:aws:kms:us-east-1:<account>:key/mrk-<id> is gone"},
		{"the store kmsconform-x7k2-p1-c42-name was renamed", "the store kmsconform-<run>-name was renamed"},
		{"request failed, RequestID: 5f3a9c1e-aaaa-bbbb-cccc-000011112222", "request failed, RequestID: <uuid>"},
		{"request failed, RequestID: XYZ123", "request failed, RequestID: <id>"},
		{"checksum deadbeef00112233 does not match", "checksum <hex> does not match"},

		// What must stay: HTTP statuses, counts, words.
		{"DescribeCustomKeyStores by id returned 2 stores", "DescribeCustomKeyStores by id returned 2 stores"},
		{"answered  the answer  is\tnot JSON", "answered the answer is not JSON"},
		{"", "(no detail)"},
	} {
		if got := rootReason(tc.detail); got != tc.want {
			t.Errorf("rootReason(%q)\n got %q\nwant %q", tc.detail, got, tc.want)
		}
	}
}

func cell(id string, v Verdict, detail string) Cell {
	return Cell{ID: id, StoreType: "AWS_CLOUDHSM", State: "CONNECTED", Operation: "CreateKey", Provenance: "D",
		Expected: []string{"success"}, Verdict: v, Evidence: Evidence{Detail: detail}}
}

func TestRootCausesGroupAndOrder(t *testing.T) {
	c := &Compat{Schema: Schema, ModelRevision: "r1-test", Target: Target{Name: "t", Kind: "endpoint"},
		Cells: []Cell{
			// Two details that differ by a store id and a step number: one cause.
			cell("a/1", Unreachable, "route step 2 (ConnectCustomKeyStore) answered CustomKeyStoreInvalidStateException cks-0000000000000000a is busy; the model expects success"),
			cell("a/2", Unreachable, "route step 3 (ConnectCustomKeyStore) answered CustomKeyStoreInvalidStateException cks-1111111111111111b is busy; the model expects success"),
			cell("a/3", Unreachable, "route step 1 (ConnectCustomKeyStore) answered CustomKeyStoreInvalidStateException cks-2222222222222222c is busy; the model expects success"),
			cell("a/4", Unreachable, "route step 1 (ConnectCustomKeyStore) answered CustomKeyStoreInvalidStateException cks-3333333333333333d is busy; the model expects success"),
			// Another reason, with the same verdict: its own cause.
			cell("b/1", Unreachable, "needs a store held in CONNECTING"),
			cell("b/2", Unreachable, "not in the planned walk: needs a store held in CONNECTING"),
			// The same reason under another verdict: its own cause.
			cell("c/1", Indeterminate, "needs a store held in CONNECTING"),
			cell("c/2", Indeterminate, "needs a store held in CONNECTING"),
			// Ties on count: by reason.
			cell("d/1", Fail, "zzz"),
			cell("e/1", Fail, "aaa"),
			// Passes are no cause.
			cell("p/1", Pass, ""),
			cell("p/2", Pass, "9 steps"),
		},
		Scenarios: []Scenario{
			{Name: "s1", Verdict: Unreachable, Detail: "step 1 (ConnectCustomKeyStore): needs a store held in CONNECTING"},
			{Name: "s2", Verdict: Pass, Detail: "9 steps"},
		},
	}
	c.Finish()
	got := RootCauses(c)
	var lines []string
	for _, rc := range got {
		lines = append(lines, fmt.Sprintf("%d+%d %s: %s %v", rc.Cells, rc.Scenarios, rc.Verdict, rc.Reason, rc.Examples))
	}
	want := []string{
		"4+0 unreachable: ConnectCustomKeyStore answered CustomKeyStoreInvalidStateException cks-<id> is busy; the model expects success [a/1 a/2 a/3]",
		// The same count and reason: in the order of Verdicts.
		"2+0 unreachable: needs a store held in CONNECTING [b/1 b/2]",
		"2+0 indeterminate: needs a store held in CONNECTING [c/1 c/2]",
		// Byte order: upper case first.
		"0+1 unreachable: ConnectCustomKeyStore: needs a store held in CONNECTING [s1]",
		"1+0 fail: aaa [e/1]",
		"1+0 fail: zzz [d/1]",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("root causes:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if got[0].What() != "4 cells unreachable" {
		t.Errorf("What: %q", got[0].What())
	}
	if len(RootCauses(sample())) != 2 {
		t.Errorf("sample: %+v", RootCauses(sample()))
	}
}

// deadRun is a run against an endpoint nothing listens on: every cell
// indeterminate or unreachable.
func deadRun() *Compat {
	c := &Compat{Schema: Schema, ModelRevision: "r1-test", Target: Target{Name: "dead", Kind: "endpoint", Endpoint: "http://127.0.0.1:5059"}}
	for i := 0; i < 5; i++ {
		c.Cells = append(c.Cells, cell(fmt.Sprintf("x/%d", i), Indeterminate,
			fmt.Sprintf("route step %d (CreateCustomKeyStore): no answer: %s", i+1, sdkRefused("CreateCustomKeyStore", "http://127.0.0.1:5059"))))
	}
	c.Cells = append(c.Cells, cell("y/0", Unreachable, "the route changes the backing (an XKS proxy), which needs a target with a control plane"),
		cell("y/1", Unsupported, "GenerateRandom is not implemented (HTTP 404, not a KMS error)"), cell("y/2", Skipped, "not selected (label filter)"))
	c.Scenarios = []Scenario{{Name: "s", Verdict: Indeterminate, Detail: "step 1 (CreateCustomKeyStore): no answer: " + sdkRefused("CreateCustomKeyStore", "http://127.0.0.1:5059")}}
	c.Finish()
	return c
}

func TestNothingChecked(t *testing.T) {
	c := deadRun()
	nothing, why := c.NothingChecked()
	if want := "5 cells and 1 scenario indeterminate (connection refused: http://127.0.0.1:5059)"; !nothing || why != want {
		t.Errorf("dead: %v %q, want %q", nothing, why, want)
	}
	// One verdict that judged an answer is a check: pass, fail, informational.
	for _, v := range []Verdict{Pass, Fail, Informational} {
		c := deadRun()
		c.Cells[6].Verdict = v
		c.Finish()
		if nothing, why := c.NothingChecked(); nothing || why != "" {
			t.Errorf("one cell %s: %v %q", v, nothing, why)
		}
		c = deadRun()
		c.Scenarios[0].Verdict = v
		c.Finish()
		if nothing, _ := c.NothingChecked(); nothing {
			t.Errorf("one scenario %s: nothing checked", v)
		}
	}
	// Every other verdict is not.
	for _, v := range []Verdict{Unsupported, Unreachable, Indeterminate, Skipped} {
		c := deadRun()
		for i := range c.Cells {
			c.Cells[i].Verdict = v
		}
		c.Scenarios[0].Verdict = v
		c.Finish()
		if nothing, why := c.NothingChecked(); !nothing || !strings.Contains(why, " "+string(v)+" (") {
			t.Errorf("all %s: %v %q", v, nothing, why)
		}
	}
	// The cells that asked the target say more than the ones that could
	// not be set up without it.
	c = deadRun()
	for i := 0; i < 9; i++ {
		c.Cells = append(c.Cells, cell(fmt.Sprintf("u/%d", i), Unreachable,
			"route step 1 (CreateCustomKeyStore): the call names a CloudHSM cluster, which the run was not given (set KMSCONFORM_CLOUDHSM_CLUSTER_ID)"))
	}
	c.Finish()
	if _, why := c.NothingChecked(); why != "5 cells and 1 scenario indeterminate (connection refused: http://127.0.0.1:5059)" {
		t.Errorf("with more unreachable cells: %q", why)
	}
	for i := range c.Cells {
		if c.Cells[i].Verdict == Indeterminate || c.Cells[i].Verdict == Unsupported {
			c.Cells[i].Verdict = Skipped
		}
	}
	c.Scenarios[0].Verdict = Skipped
	c.Finish()
	if _, why := c.NothingChecked(); !strings.HasPrefix(why, "9 cells unreachable (CreateCustomKeyStore: the call names a CloudHSM cluster") {
		t.Errorf("nothing asked the target: %q", why)
	}
	empty := &Compat{}
	if nothing, why := empty.NothingChecked(); !nothing || why == "" {
		t.Errorf("empty: %v %q", nothing, why)
	}
	// The gate says the same, with the cause.
	g := Gate(deadRun(), &Expectations{Schema: ExpectationsSchema})
	if !g.Failed() || !strings.Contains(g.Text(), "nothing was checked: 5 cells and 1 scenario indeterminate (connection refused: http://127.0.0.1:5059)") ||
		!strings.Contains(g.Markdown(), "nothing was checked: 5 cells and 1 scenario indeterminate") {
		t.Errorf("gate:\n%s\n%s", g.Text(), g.Markdown())
	}
	if g := Gate(sample(), &Expectations{Schema: ExpectationsSchema, Deviations: []Deviation{{ID: "a", Observed: "success", Reason: "r"}}}); g.Failed() || g.NothingChecked {
		t.Errorf("sample gate: %s", g.Text())
	}
}

func TestSummaryRootCauses(t *testing.T) {
	out := TerminalSummary(deadRun(), "")
	want := "  unsupported 1 · unreachable 1 · indeterminate 6 · skipped 1\n" +
		"  5 cells and 1 scenario indeterminate: connection refused: http://127.0.0.1:5059\n" +
		"  1 cell unsupported: GenerateRandom is not implemented (HTTP 404, not a KMS error)\n" +
		"  1 cell skipped: not selected (label filter)\n" +
		"  1 cell unreachable: the route changes the backing (an XKS proxy), which needs a target with a control plane\n"
	if !strings.Contains(out, want) {
		t.Errorf("summary:\n%s\nwant it to hold:\n%s", out, want)
	}
	// At most eight causes, then how many more.
	c := deadRun()
	for i := 0; i < 12; i++ {
		c.Cells = append(c.Cells, cell(fmt.Sprintf("z/%02d", i), Fail, fmt.Sprintf("reason %c", 'a'+i)))
	}
	c.Finish()
	out = TerminalSummary(c, "")
	if n := strings.Count(out, " cell fail: reason "); n != 5 || !strings.Contains(out, "  … and 8 more root causes") {
		t.Errorf("%d causes of fail shown:\n%s", n, out)
	}
	// The failing cells are still listed after the causes.
	if i, j := strings.Index(out, "… and 8 more root causes"), strings.Index(out, "  FAIL z/00"); i < 0 || j < i {
		t.Errorf("failing cells not after the causes:\n%s", out)
	}
	// All pass: no cause.
	c = sample()
	c.Cells[0].Verdict, c.Scenarios[0].Verdict = Pass, Pass
	c.Finish()
	if out := TerminalSummary(c, ""); strings.Count(out, "\n") != 3 {
		t.Errorf("an all-pass summary grew:\n%s", out)
	}
}

func TestMarkdownRootCauses(t *testing.T) {
	md := string(Markdown(deadRun()))
	i := strings.Index(md, "\n### Root causes\n")
	if i < 0 {
		t.Fatalf("no root causes section:\n%s", md)
	}
	if j := strings.Index(md, "\n### Scenarios"); j < i {
		t.Error("the root causes are not near the top")
	}
	for _, want := range []string{
		"| count | verdict | reason | examples |\n|--:|---|---|---|\n" +
			"| 5 cells and 1 scenario | ❓ indeterminate | connection refused: http://127.0.0.1:5059 | `x/0` · `x/1` · `x/2` · 3 more |\n" +
			"| 1 cell | 🚫 unsupported | GenerateRandom is not implemented (HTTP 404, not a KMS error) | `y/1` |\n" +
			"| 1 cell | ⏭️ skipped | not selected (label filter) | `y/2` |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks\n%s\nin\n%s", want, md)
		}
	}
	// A placeholder and a table separator in a reason are escaped.
	c := deadRun()
	c.Cells[5].Evidence.Detail = "settling store cks-0a1b2c3d4e5f67890: a | b"
	md = string(Markdown(c))
	if !strings.Contains(md, "| settling store cks-&lt;id&gt;: a \\| b |") {
		t.Errorf("reason not escaped:\n%s", md)
	}
	// Every cause of the full run is listed, the same way twice.
	full := fullRun()
	md = string(Markdown(full))
	for _, rc := range RootCauses(full) {
		if !strings.Contains(md, "| "+mdText(rc.Reason)+" |") {
			t.Errorf("cause %q not listed", rc.Reason)
		}
	}
	html, err := HTML(deadRun())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "<h2>Root causes</h2>") ||
		!strings.Contains(string(html), "5 cells and 1 scenario indeterminate: connection refused: http://127.0.0.1:5059</li>") {
		t.Errorf("the page lacks the root causes")
	}
}

// TestFindings: findings survive a merge once each and show in the
// terminal summary and in compat.md.
func TestFindings(t *testing.T) {
	a := &Compat{Schema: Schema, ModelRevision: "r", Target: Target{Name: "t", Kind: "endpoint"}, Cells: []Cell{}, Scenarios: []Scenario{},
		Findings: []string{"never observed CONNECTING"}}
	b := *a
	b.Findings = []string{"never observed CONNECTING", "another"}
	m, err := Merge(a, &b)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Findings) != 2 {
		t.Fatalf("merged findings %q", m.Findings)
	}
	if s := TerminalSummary(m, ""); !strings.Contains(s, "FINDING never observed CONNECTING") {
		t.Errorf("summary: %s", s)
	}
	if md := string(Markdown(m)); !strings.Contains(md, "### Findings") || !strings.Contains(md, "- another") {
		t.Errorf("markdown: %s", md)
	}
}
