package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
