package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/reports"
	"github.com/kmsconform/kmsconform/targets/emulator"
)

func writeCompat(t *testing.T, dir, name string, c *reports.Compat) string {
	t.Helper()
	c.Finish()
	p := filepath.Join(dir, name)
	if err := c.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func unitRun(verdict reports.Verdict, observed string) *reports.Compat {
	return &reports.Compat{Schema: reports.Schema, ModelRevision: model.Revision(), Target: reports.Target{Name: "unit", Kind: "endpoint"},
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Cells: []reports.Cell{
			{ID: "AWS_CLOUDHSM/NO_SUCH_STORE/CreateKey", StoreType: "AWS_CLOUDHSM", State: reports.NonexistentState, Operation: "CreateKey",
				Variant: "CreateKey", Provenance: "D", Rules: []string{"createkey.store-not-found"},
				Expected: []string{"CustomKeyStoreNotFoundException"}, Observed: observed, Verdict: verdict},
			{ID: "AWS_CLOUDHSM/CONNECTED/DescribeKey", StoreType: "AWS_CLOUDHSM", State: "CONNECTED", Operation: "DescribeKey",
				Variant: "DescribeKey", Provenance: "D", Expected: []string{"success"}, Observed: "success", Verdict: reports.Pass},
		}}
}

func cli(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := dispatch(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestReportRender(t *testing.T) {
	dir := t.TempDir()
	path := writeCompat(t, dir, "compat.json", unitRun(reports.Fail, "success"))
	c, err := reports.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range reports.Formats {
		want, err := reports.Render(c, f)
		if err != nil {
			t.Fatal(err)
		}
		// Flags after or before the file, to stdout or to a file: the same
		// bytes every time.
		code, out, errOut := cli("report", "render", path, "--format", string(f))
		if code != 0 || out != string(want) {
			t.Errorf("%s: exit %d, %d bytes (want %d): %s", f, code, len(out), len(want), errOut)
		}
		o := filepath.Join(dir, "out."+string(f))
		if code, _, errOut := cli("report", "render", "--format", string(f), "-o", o, path); code != 0 {
			t.Errorf("%s -o: exit %d %s", f, code, errOut)
		}
		if got, _ := os.ReadFile(o); !bytes.Equal(got, want) {
			t.Errorf("%s -o: the file differs from stdout", f)
		}
	}
}

func TestReportDiffAndGate(t *testing.T) {
	dir := t.TempDir()
	old := writeCompat(t, dir, "old.json", unitRun(reports.Pass, "CustomKeyStoreNotFoundException"))
	new := writeCompat(t, dir, "new.json", unitRun(reports.Fail, "success"))
	if code, out, _ := cli("report", "diff", old, new); code != 1 || !strings.Contains(out, "1 regressions") ||
		!strings.Contains(out, "AWS_CLOUDHSM/NO_SUCH_STORE/CreateKey: pass (CustomKeyStoreNotFoundException) -> fail (success)") {
		t.Errorf("regression: exit %d\n%s", code, out)
	}
	if code, out, _ := cli("report", "diff", "--format", "md", new, old); code != 0 || !strings.Contains(out, "### Fixes") {
		t.Errorf("fix: exit %d\n%s", code, out)
	}

	expect := func(body string) string {
		p := filepath.Join(dir, "expect.yml")
		if err := os.WriteFile(p, []byte("schema: kmsconform/expectations/v1\ntarget: unit\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	none := expect("deviations: []\n")
	if code, out, _ := cli("report", "gate", new, "--expect", none); code != 1 || !strings.Contains(out, "FAIL AWS_CLOUDHSM/NO_SUCH_STORE/CreateKey") {
		t.Errorf("unlisted fail: exit %d\n%s", code, out)
	}
	listed := expect("deviations:\n  - id: AWS_CLOUDHSM/NO_SUCH_STORE/CreateKey\n    observed: success\n    reason: ignores the id\n    issue: https://example.com/issues/1\n")
	if code, out, _ := cli("report", "gate", new, "--expect", listed); code != 0 || !strings.Contains(out, "gate passed") {
		t.Errorf("listed fail: exit %d\n%s", code, out)
	}
	if code, out, _ := cli("report", "gate", old, "--expect", listed, "--format", "md"); code != 0 ||
		!strings.Contains(out, "### Fixed — remove from expectations") {
		t.Errorf("listed and fixed: exit %d\n%s", code, out)
	}
	other := expect("deviations:\n  - id: AWS_CLOUDHSM/NO_SUCH_STORE/CreateKey\n    observed: KMSInternalException\n    reason: x\n")
	if code, out, _ := cli("report", "gate", new, "--expect", other); code != 1 {
		t.Errorf("listed with another outcome: exit %d\n%s", code, out)
	}
}

func TestReportErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeCompat(t, dir, "good.json", unitRun(reports.Pass, "CustomKeyStoreNotFoundException"))
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	raw, _ := os.ReadFile(good)
	wrongSchema := file("v0.json", strings.Replace(string(raw), reports.Schema, "kmsconform/compat/v0", 1))
	badSummary := file("sum.json", strings.Replace(string(raw), `"pass": 2`, `"pass": 3`, 1))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report"}, "Usage"},
		{[]string{"report", "frob"}, "unknown subcommand"},
		{[]string{"report", "render", file("junk.json", "{not json")}, "junk.json: compat.json: invalid character"},
		{[]string{"report", "render", wrongSchema}, `schema is "kmsconform/compat/v0"`},
		{[]string{"report", "render", badSummary}, "does not match the cells"},
		{[]string{"report", "render", file("extra.json", `{"schema":"kmsconform/compat/v1","colour":1}`)}, `unknown field "colour"`},
		{[]string{"report", "render", filepath.Join(dir, "missing.json")}, "no such file"},
		{[]string{"report", "render", good, "--format", "pdf"}, `--format "pdf"`},
		{[]string{"report", "render", good, good}, "want one compat.json"},
		{[]string{"report", "diff", good}, "want OLD.json and NEW.json"},
		{[]string{"report", "diff", good, wrongSchema}, "v0.json"},
		{[]string{"report", "gate", good}, "--expect FILE is required"},
		{[]string{"report", "gate", good, "--expect", file("e.yml", "schema: nope\n")}, `schema is "nope"`},
		{[]string{"report", "gate", good, "--expect", file("e2.yml", "schema: kmsconform/expectations/v1\nfoo: 1\n")}, "field foo not found"},
		{[]string{"run", "--expect", file("e3.yml", "schema: kmsconform/expectations/v1\ndeviations:\n  - id: a\n")}, "a reason is required"},
	} {
		code, _, errOut := cli(tc.args...)
		lines := strings.Count(strings.TrimSpace(errOut), "\n")
		if code != 2 || !strings.Contains(errOut, tc.want) || (tc.want != "Usage" && lines != 0) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line naming %q", tc.args[1:], code, errOut, tc.want)
		}
	}
}

// TestSecretsNeverReachAReport feeds known secrets through two real runs —
// the embedded emulator with the fixture secrets of the model, and an
// endpoint run against an emulator with the backing secrets and AWS
// credentials from the environment — and greps every output for them: every
// file the runs wrote (compat.json, Markdown, HTML, JUnit, badge, gate), the
// terminal, and the diff and gate renderings.
func TestSecretsNeverReachAReport(t *testing.T) {
	const (
		awsAKID    = "AKIAKMSCONFORMTEST01"
		awsSecret  = "awsSecretKmsconform/Test+0123456789abcdefgh"
		kmsuserPwd = "kmsuserSecret77"
		xksAKID    = "KMSCONFORMXKSTESTAKID"
		xksSecret  = "kmsconformXksSecretTestValue0123456789abcdefgh"
	)
	secrets := []string{awsSecret, kmsuserPwd, xksSecret, model.CredentialA.Secret, model.CredentialB.Secret,
		model.KmsuserPassword, model.WrongKmsuserPassword}
	for _, v := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS"} {
		t.Setenv(v, "")
	}
	home := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", awsAKID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", awsSecret)
	// The screenshot is the browser test's business (reports); a PNG holds
	// no text to grep.
	t.Setenv("KMSCONFORM_SKIP_BROWSER", "1")
	expect := filepath.Join(home, "expect.yml")
	if err := os.WriteFile(expect, []byte("schema: kmsconform/expectations/v1\ntarget: secrets test\ndeviations: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	filter := "op:CreateCustomKeyStore || op:UpdateCustomKeyStore || op:ConnectCustomKeyStore || validation || scenario"
	var terminal strings.Builder

	emuDir := t.TempDir()
	code, out, errOut := runCLI(t, "run", "--report-dir", emuDir, "--label-filter", filter, "--expect", expect)
	terminal.WriteString(out + errOut)
	if code != 0 {
		t.Fatalf("emulator run: exit %d\n%s%s", code, out, errOut)
	}

	// An endpoint run against an emulator that checks SigV4 with the AWS
	// secret, with the backing's secrets from the environment.
	emu, err := emulator.New(emulator.Options{Credentials: map[string]string{awsAKID: awsSecret}})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close(context.Background()) })
	// A cluster to create stores on (the run sends no cluster it was not
	// given); the XKS endpoint has no proxy behind it, but the creates on
	// it carry the credential all the same.
	anchor := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("the secrets test's trust anchor")}))
	if err := emu.PutCluster(emulator.NewHealthyCluster("cluster-secretstest1", anchor, kmsuserPwd)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KMSCONFORM_CLOUDHSM_CLUSTER_ID", "cluster-secretstest1")
	t.Setenv("KMSCONFORM_CLOUDHSM_TRUST_ANCHOR", anchor)
	t.Setenv("KMSCONFORM_XKS_URI_ENDPOINT", "https://xks.secrets-test.example")
	t.Setenv("KMSCONFORM_XKS_URI_PATH", "/kms/xks/v1")
	t.Setenv("KMSCONFORM_CLOUDHSM_KMSUSER_PASSWORD", kmsuserPwd)
	t.Setenv("KMSCONFORM_XKS_ACCESS_KEY_ID", xksAKID)
	t.Setenv("KMSCONFORM_XKS_SECRET_ACCESS_KEY", xksSecret)
	endDir := t.TempDir()
	code, out, errOut = runCLI(t, "run", "--target", "endpoint", "--endpoint", emu.URL(), "--region", "us-east-1",
		"--report-dir", endDir, "--label-filter", filter, "--expect", expect)
	terminal.WriteString(out + errOut)
	if code == 2 {
		t.Fatalf("endpoint run: exit %d\n%s%s", code, out, errOut)
	}

	// The secrets did go through the runs: stores were created.
	for _, dir := range []string{emuDir, endDir} {
		c, err := reports.ReadFile(filepath.Join(dir, "compat.json"))
		if err != nil {
			t.Fatal(err)
		}
		created := 0
		for _, cell := range c.Cells {
			if cell.Operation == "CreateCustomKeyStore" && cell.Observed != "" {
				created++
			}
		}
		if created == 0 {
			t.Fatalf("%s: no CreateCustomKeyStore was called: %+v", c.Target.Kind, c.Summary)
		}
		for _, name := range []string{"compat.json", "compat.md", "compat.html", "junit.xml", "badge.svg", GateFileName} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Errorf("%s: %v", c.Target.Kind, err)
			}
		}
	}
	outputs := map[string][]byte{"terminal": []byte(terminal.String())}
	for _, dir := range []string{emuDir, endDir} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			outputs[filepath.Join(filepath.Base(dir), e.Name())] = data
		}
	}
	for _, args := range [][]string{
		{"report", "diff", "--format", "md", filepath.Join(emuDir, "compat.json"), filepath.Join(endDir, "compat.json")},
		{"report", "diff", filepath.Join(endDir, "compat.json"), filepath.Join(emuDir, "compat.json")},
		{"report", "gate", "--format", "md", "--expect", expect, filepath.Join(endDir, "compat.json")},
		{"report", "gate", "--expect", expect, filepath.Join(endDir, "compat.json")},
	} {
		_, out, errOut := cli(args...)
		outputs[strings.Join(args[:2], " ")+" "+args[len(args)-1]] = []byte(out + errOut)
	}
	if len(outputs) < 14 {
		t.Errorf("only %d outputs to check", len(outputs))
	}
	for name, data := range outputs {
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s contains a secret (%d characters)", name, len(s))
			}
		}
	}
}

// A run that checked nothing fails the gate and names its largest root
// cause; one shard of a run is not judged alone (it may hold only skipped
// cells), its parent judges the merged result.
func TestReportGateNothingChecked(t *testing.T) {
	dir := t.TempDir()
	c := unitRun(reports.Indeterminate, "")
	for i := range c.Cells {
		c.Cells[i].Verdict, c.Cells[i].Observed = reports.Indeterminate, ""
		c.Cells[i].Evidence.Detail = "no answer: operation error KMS: CreateKey, exceeded maximum number of attempts, 1, https response error StatusCode: 0, " +
			`RequestID: , request send failed, Post "http://127.0.0.1:9/": dial tcp 127.0.0.1:9: connect: connection refused`
	}
	path := writeCompat(t, dir, "compat.json", c)
	none := filepath.Join(dir, "expect.yml")
	if err := os.WriteFile(none, []byte("schema: kmsconform/expectations/v1\ndeviations: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cause := "nothing was checked: 2 cells indeterminate (connection refused: http://127.0.0.1:9)"
	if code, out, _ := cli("report", "gate", path, "--expect", none); code != 1 || !strings.Contains(out, "FAIL "+cause) {
		t.Errorf("report gate: exit %d\n%s", code, out)
	}
	e, err := reports.ReadExpectationsFile(none)
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	if code := gateExit(reports.Gate(c, e), c, false, true, dir, &errOut); code != 1 || errOut.String() != "kmsconform run: "+cause+"\n" {
		t.Errorf("gateExit, whole run: %d, stderr %q", code, errOut.String())
	}
	if code := exitFor(c, false, true, &errOut); code != 1 || strings.Count(errOut.String(), "\n") != 2 {
		t.Errorf("exitFor, whole run: %d, stderr %q", code, errOut.String())
	}
	errOut.Reset()
	if gateExit(reports.Gate(c, e), c, false, false, dir, &errOut) != 0 || exitFor(c, false, false, &errOut) != 0 || errOut.Len() != 0 {
		t.Errorf("a shard judged nothing checked: stderr %q", errOut.String())
	}
	// A run that checked something is not affected.
	ok := unitRun(reports.Pass, "CustomKeyStoreNotFoundException")
	ok.Finish()
	if gateExit(reports.Gate(ok, e), ok, false, true, dir, &errOut) != 0 || exitFor(ok, false, true, &errOut) != 0 || errOut.Len() != 0 {
		t.Errorf("a passing run: stderr %q", errOut.String())
	}
}

// hostile is what a contributed compat.json could hold in any string:
// table separators, a line break and a heading, HTML, terminal sequences
// (clear the screen, set the window title), C1's CSI, a carriage return that
// would rewrite the line, bidi overrides and isolates.
const hostile = "x | y\n# INJECTED heading\r\n<script>alert(1)</script> *em* `c \x1b[2J\x1b]0;title\x07 \u202eevil\u202c \u2066iso\u2069 \u009b31m \x7f\rINJECTED rewrite"

// hostileCompat is unitRun with hostile strings wherever the schema allows
// free text: target, model revision, ids, states, outcomes, evidence,
// findings, scenarios.
func hostileCompat(verdict reports.Verdict) *reports.Compat {
	c := unitRun(verdict, hostile)
	c.ModelRevision, c.Target = "r1-"+hostile, reports.Target{Name: hostile, Kind: hostile, Endpoint: hostile}
	c.Findings = []string{hostile}
	ev := reports.Evidence{HTTPStatus: 400, Message: hostile, RequestID: hostile, Route: hostile, Detail: hostile, Adapted: hostile}
	for i := range c.Cells {
		c.Cells[i].ID, c.Cells[i].State, c.Cells[i].Variant = hostile+fmt.Sprint(i), hostile, hostile
		c.Cells[i].Rules, c.Cells[i].Expected, c.Cells[i].Evidence = []string{hostile}, []string{hostile}, ev
	}
	c.Cells[1].Verdict = reports.Fail
	c.Scenarios = []reports.Scenario{{Name: hostile, Verdict: reports.Fail, Detail: hostile}}
	return c
}

// terminalUnsafe returns the first byte or character of s a terminal acts
// on instead of showing (a control character other than a line feed or a
// tab, DEL, C1, a bidi override or isolate), as a description; "" if none.
func terminalUnsafe(s string) string {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return fmt.Sprintf("byte %#x (not UTF-8) at %d", s[i], i)
		case r == '\n' || r == '\t':
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			return fmt.Sprintf("%U at %d in %q", r, i, s[max(0, i-30):min(len(s), i+30)])
		}
		i += n
	}
	return ""
}

// injectedLine returns a line of s that the data started ("" if none).
func injectedLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimLeft(l, " "); strings.HasPrefix(t, "# INJECTED") || strings.HasPrefix(t, "INJECTED") {
			return l
		}
	}
	return ""
}

// TestReportHostileCompat: report diff, report gate and report render print
// no character a terminal would act on and no line of the data's own,
// whatever a compat.json or an expectations file holds; render's Markdown
// keeps every table row to its header's cells; an error naming a hostile id
// is one printable line.
func TestReportHostileCompat(t *testing.T) {
	dir := t.TempDir()
	old := writeCompat(t, dir, "old.json", hostileCompat(reports.Pass))
	newC := hostileCompat(reports.Fail)
	new := writeCompat(t, dir, "new.json", newC)
	exp, err := yaml.Marshal(&reports.Expectations{Schema: reports.ExpectationsSchema, Target: hostile, Deviations: []reports.Deviation{
		{ID: newC.Cells[0].ID, Observed: hostile, Reason: hostile},
		{ID: newC.Cells[1].ID, Observed: "other" + hostile, Reason: hostile},
		{ID: hostile + "absent", Observed: hostile, Reason: hostile},
	}})
	if err != nil {
		t.Fatal(err)
	}
	expect := filepath.Join(dir, "expect.yml")
	if err := os.WriteFile(expect, exp, 0o644); err != nil {
		t.Fatal(err)
	}
	dup := hostileCompat(reports.Fail)
	// Before any line break: the error is cut at the first.
	dup.Cells[0].ID = "\x1b]0;title\x07\x1b[2J" + hostile
	dup.Cells[1].ID = dup.Cells[0].ID
	dupPath := filepath.Join(dir, "dup.json")
	dup.Finish()
	var b bytes.Buffer
	if err := dup.Write(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dupPath, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"report", "diff", old, new}, 1},
		{[]string{"report", "diff", old, new, "--format", "md"}, 1},
		{[]string{"report", "gate", new, "--expect", expect}, 1},
		{[]string{"report", "gate", new, "--expect", expect, "--format", "md"}, 1},
		{[]string{"report", "render", new, "--format", "md"}, 0},
		{[]string{"report", "render", new, "--format", "html"}, 0},
		{[]string{"report", "render", new, "--format", "junit"}, 0},
		{[]string{"report", "render", new, "--format", "badge"}, 0},
		{[]string{"report", "render", dupPath}, 2},
		{[]string{"report", "diff", dupPath, new}, 2},
	} {
		code, out, errOut := cli(tc.args...)
		name := strings.Join(tc.args[1:2], " ") + " " + strings.Join(tc.args[3:], " ")
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d: %s", name, code, tc.code, errOut)
		}
		for what, s := range map[string]string{"stdout": out, "stderr": errOut} {
			if bad := terminalUnsafe(s); bad != "" {
				t.Errorf("%s: %s: %s", name, what, bad)
			}
			// HTML and JUnit keep a message's line breaks, inside an
			// element: a browser or a CI shows no line of the data's there.
			if l := injectedLine(s); l != "" && !strings.HasSuffix(name, "html") && !strings.HasSuffix(name, "junit") {
				t.Errorf("%s: %s: a line of the data's own: %q", name, what, l)
			}
		}
		if code == 2 && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%s: the error is not one line: %q", name, errOut)
		}
		if tc.args[len(tc.args)-1] == "md" {
			checkTables(t, name, out)
		}
	}
}

// checkTables fails when a row of a Markdown table has another number of
// cells than its header, counted as GitHub splits a row: at each pipe not
// escaped by a backslash.
func checkTables(t *testing.T, name, md string) {
	t.Helper()
	cells := func(row string) int {
		n, esc := 0, false
		for _, c := range strings.TrimSpace(row) {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '|':
				n++
			}
		}
		return n - 1
	}
	header := -1
	for i, l := range strings.Split(md, "\n") {
		switch {
		case !strings.HasPrefix(l, "|"):
			header = -1
		case header < 0:
			header = cells(l)
		case cells(l) != header:
			t.Errorf("%s: line %d has %d cells, its header %d: %q", name, i+1, cells(l), header, l)
		}
	}
}

// TestConsoleHostile: the summary `kmsconform run` prints from compat.json
// (each failing cell in full, the known deviations, the gate's lines) shows
// control characters as escapes and keeps each string on its line.
func TestConsoleHostile(t *testing.T) {
	c := hostileCompat(reports.Fail)
	c.Finish()
	e := &reports.Expectations{Schema: reports.ExpectationsSchema, Target: hostile, Deviations: []reports.Deviation{
		{ID: c.Cells[0].ID, Observed: hostile, Reason: hostile},
		{ID: c.Scenarios[0].Name, Reason: hostile},
		{ID: hostile + "absent", Observed: hostile, Reason: hostile},
	}}
	g := reports.Gate(c, e)
	if len(g.Known) != 2 || len(g.Unexpected) != 1 || len(g.Unchecked) != 1 {
		t.Fatalf("gate %+v", g)
	}
	for name, s := range map[string]string{
		"summary":         consoleSummary(c, filepath.Join("out", "compat.json"), nil),
		"summary in gate": consoleSummary(c, "compat.json", g),
		"gate lines":      gateLines(g),
	} {
		if bad := terminalUnsafe(s); bad != "" {
			t.Errorf("%s: %s", name, bad)
		}
		if l := injectedLine(s); l != "" {
			t.Errorf("%s: a line of the data's own: %q", name, l)
		}
		if name != "gate lines" && !strings.Contains(s, `\x1b[2J`) {
			t.Errorf("%s: the escape sequence is not shown as text:\n%s", name, s)
		}
	}
	var errOut bytes.Buffer
	for i := range c.Cells {
		c.Cells[i].Verdict = reports.Indeterminate
		c.Cells[i].Evidence.Detail = "\x1b[2J" + hostile
	}
	c.Scenarios = nil
	c.Finish()
	if !nothingChecked(c, &errOut) {
		t.Fatal("nothing was checked, nothingChecked says otherwise")
	}
	if bad := terminalUnsafe(errOut.String()); bad != "" || strings.Count(errOut.String(), "\n") != 1 {
		t.Errorf("nothing checked: %q (%s)", errOut.String(), bad)
	}
}
