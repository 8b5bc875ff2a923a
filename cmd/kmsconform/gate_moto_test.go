package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmsconform/kmsconform/reports"
)

// startMoto runs moto_server (on the machine image) on a free loopback port
// and stops it, by its PID, when the test ends.
func startMoto(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Skip("moto_server is not installed; the moto gate needs it")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get(url + "/moto-api/"); err == nil {
			resp.Body.Close()
			return url
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("moto_server did not answer within a minute")
	return ""
}

// TestGateMoto runs the whole suite against moto and checks the picture the
// documentation predicts for it: moto has no custom key store operations
// (unsupported, or unreachable where a control plane is needed), and it
// silently accepts a CustomKeyStoreId on CreateKey and GenerateRandom, which
// must be the only failures. The run is the CLI as CI starts it (a process
// of its own), so the console checked is all of it, Ginkgo's included: a
// passing gate prints no FAIL, each known deviation once as known, and no
// total that contradicts the verdicts.
func TestGateMoto(t *testing.T) {
	url := startMoto(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	dir := t.TempDir()
	// The checked-in expectations list moto's 13 known deviations, so the
	// gate passes; the picture below shows they are the only fails.
	expect := filepath.Join("..", "..", "reports", "expectations", "moto.yml")
	args := []string{"run", "--target", "endpoint", "--endpoint", url, "--region", "us-east-1", "--report-dir", dir}
	code, out, errOut := runCLI(t, append(args, "--expect", expect)...)
	if code != 0 || !strings.Contains(out, "\ngate passed: 0 unexpected failures, 13 known deviations persist") {
		t.Fatalf("exit %d, want 0 (moto's fails are all expected)\n%s\n%s", code, out, errOut)
	}
	console := out + errOut
	for _, bad := range []string{"FAIL", "[FAILED]", "Passed |", "Summarizing", "ginkgo.go:", "spec problem"} {
		if strings.Contains(console, bad) {
			t.Errorf("a passing gate's console contains %q:\n%s%s", bad, out, errOut)
		}
	}
	if !strings.Contains(out, "  fail 13 (13 known deviations) · ") {
		t.Errorf("the counts do not say the fails are known:\n%s", out)
	}
	c, err := reports.ReadFile(filepath.Join(dir, "compat.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Target.Kind != "endpoint" || c.Target.Endpoint != url {
		t.Errorf("target %+v", c.Target)
	}
	e, err := reports.ReadExpectationsFile(expect)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, d := range e.Deviations {
		known[d.ID] = true
		if n := strings.Count(out, "  known deviation "+d.ID+": answered "+d.Observed+" ("); n != 1 {
			t.Errorf("known deviation %s printed %d times, want once", d.ID, n)
		}
	}
	fails := 0
	for _, cell := range c.Cells {
		silentStore := cell.State == reports.NonexistentState && (cell.Operation == "CreateKey" || cell.Operation == "GenerateRandom") &&
			(!strings.HasPrefix(cell.ID, "validation/") || known[cell.ID])
		switch {
		case silentStore:
			if cell.Verdict != reports.Fail || cell.Observed != "success" {
				t.Errorf("%s: %s (observed %s), want fail: moto ignores the CustomKeyStoreId", cell.ID, cell.Verdict, cell.Observed)
			}
			fails++
		case cell.Verdict == reports.Unsupported || cell.Verdict == reports.Unreachable:
		default:
			t.Errorf("%s: %s (%s), want unsupported or unreachable", cell.ID, cell.Verdict, cell.Evidence.Detail)
		}
	}
	if fails != 13 {
		t.Errorf("%d silent-CustomKeyStoreId cells, want 13", fails)
	}
	for _, s := range c.Scenarios {
		if s.Verdict != reports.Unsupported && s.Verdict != reports.Unreachable {
			t.Errorf("scenario %s: %s (%s)", s.Name, s.Verdict, s.Detail)
		}
	}
	t.Logf("moto: %+v", c.Summary)

	// Without one of the deviations the gate fails on exactly that cell.
	g := reports.Gate(c, &reports.Expectations{Schema: e.Schema, Deviations: e.Deviations[1:]})
	if !g.Failed() || len(g.Unexpected) != 1 || g.Unexpected[0].ID != e.Deviations[0].ID {
		t.Errorf("gate without %s: %s", e.Deviations[0].ID, g.Text())
	}

	// And the CLI says so: exit 1, that cell printed once, in full — what
	// moto answered, what the model allows, the rule and its AWS page —
	// the others still known, and no harness source line.
	fewer := filepath.Join(t.TempDir(), "fewer.yml")
	var y strings.Builder
	fmt.Fprintf(&y, "schema: %s\ntarget: %q\ndeviations:\n", e.Schema, e.Target)
	for _, d := range e.Deviations[1:] {
		fmt.Fprintf(&y, "  - id: %q\n    observed: %q\n    reason: %q\n", d.ID, d.Observed, d.Reason)
	}
	if err := os.WriteFile(fewer, []byte(y.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, append(args, "--report-dir", t.TempDir(), "--expect", fewer)...)
	id := e.Deviations[0].ID
	var cell reports.Cell
	for _, cl := range c.Cells {
		if cl.ID == id {
			cell = cl
		}
	}
	if code != 1 || !strings.Contains(out, "\ngate FAILED: 1 unexpected failures, 12 known deviations persist") {
		t.Fatalf("without %s: exit %d, want 1\n%s\n%s", id, code, out, errOut)
	}
	checkFailurePrintedOnce(t, out, errOut, cell)
	if n := strings.Count(out+errOut, "FAIL"); n != 2 {
		t.Errorf("FAIL %d times, want twice (the cell, the gate's verdict):\n%s%s", n, out, errOut)
	}
}

// checkFailurePrintedOnce checks that a failing cell is on the console once,
// in full: its id, what it answered, what the model allows, each rule it
// rests on with its AWS pages; and that nothing of Ginkgo's is.
func checkFailurePrintedOnce(t *testing.T, out, errOut string, cell reports.Cell) {
	t.Helper()
	if cell.ID == "" || cell.Verdict != reports.Fail {
		t.Fatalf("not a failing cell: %+v", cell)
	}
	// stdout: a progress line on stderr may name the cell last done.
	if n := strings.Count(out, cell.ID); n != 1 {
		t.Errorf("%s is on stdout %d times, want once:\n%s", cell.ID, n, out)
	}
	i := strings.Index(out, "  FAIL "+cell.ID+" ["+cell.Provenance+"]\n")
	if i < 0 {
		t.Fatalf("no failure block for %s:\n%s", cell.ID, out)
	}
	block := out[i:]
	if j := strings.Index(block[1:], "\n  FAIL "); j >= 0 {
		block = block[:j+1]
	}
	want := []string{"    answered:         " + cell.Observed, "    the model allows: " + strings.Join(cell.Expected, " or ")}
	srcs := reports.Sources(&cell)
	if len(srcs) == 0 {
		t.Fatalf("%s cites no rule", cell.ID)
	}
	for _, r := range srcs {
		want = append(want, "    rule "+r.ID+" ["+r.Status+"]")
		if len(r.Links) == 0 {
			t.Errorf("rule %s has no AWS page", r.ID)
		}
		for _, l := range r.Links {
			want = append(want, l.URL)
		}
	}
	for _, w := range want {
		if !strings.Contains(block, w) {
			t.Errorf("the failure block lacks %q:\n%s", w, block)
		}
	}
	for _, bad := range []string{"[FAILED]", "[FAIL]", "Summarizing", "Passed |", "harness/", ".go:"} {
		if strings.Contains(out+errOut, bad) {
			t.Errorf("the console contains %q:\n%s%s", bad, out, errOut)
		}
	}
}
