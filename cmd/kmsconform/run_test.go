package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/reports"
	"github.com/kmsconform/kmsconform/suites/harness"
	"github.com/kmsconform/kmsconform/targets"
	"github.com/kmsconform/kmsconform/targets/emulator"
)

// Ginkgo runs one suite per process, so the run command's tests run the
// test binary again as the CLI.
func TestMain(m *testing.M) {
	if os.Getenv("KMSCONFORM_TEST_AS_CLI") == "1" {
		os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	// The browser test covers the screenshot; these tests need not wait for one.
	cmd.Env = append(os.Environ(), "KMSCONFORM_TEST_AS_CLI=1", "KMSCONFORM_SKIP_BROWSER=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

func TestRunAgainstTheEmulator(t *testing.T) {
	for _, procs := range []string{"1", "2"} {
		t.Run("procs="+procs, func(t *testing.T) {
			dir := t.TempDir()
			code, out, errOut := runCLI(t, "run", "--procs", procs, "--report-dir", dir,
				"--label-filter", "store:EXTERNAL_KEY_STORE && (op:UpdateCustomKeyStore || op:ConnectCustomKeyStore) || scenario")
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			c, err := reports.ReadFile(filepath.Join(dir, "compat.json"))
			if err != nil {
				t.Fatal(err)
			}
			ran := 0
			for _, cell := range c.Cells {
				selected := cell.StoreType == string(model.External) &&
					(cell.Operation == "UpdateCustomKeyStore" || cell.Operation == "ConnectCustomKeyStore")
				switch {
				case selected && cell.Verdict != reports.Pass:
					t.Errorf("%s: %s %s", cell.ID, cell.Verdict, cell.Evidence.Detail)
				case !selected && cell.Verdict != reports.Skipped:
					t.Errorf("%s: %s, but the label filter left it out", cell.ID, cell.Verdict)
				}
				if selected {
					ran++
				}
			}
			// 24 matrix cells and 36 validation cells match the filter.
			if ran != 60 || len(c.Scenarios) != 87 || c.Summary.Pass != ran+87 {
				t.Errorf("ran %d cells and %d scenarios: %+v", ran, len(c.Scenarios), c.Summary)
			}
			if !strings.Contains(out, "pass 147 · skipped 523") {
				t.Errorf("the terminal summary lacks the counts:\n%s", out)
			}
			raw, _ := os.ReadFile(filepath.Join(dir, "compat.json"))
			for _, secret := range []string{model.CredentialA.Secret, model.CredentialB.Secret, model.KmsuserPassword, model.WrongKmsuserPassword} {
				if bytes.Contains(raw, []byte(secret)) || strings.Contains(out+errOut, secret) {
					t.Errorf("a secret reached the report or the terminal")
				}
			}
		})
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--target", "nope"},
		{"run", "--procs", "0"},
		{"run", "extra"},
		{"run", "--nope"},
		{"run", "--procs"},
		{"run", "--target", "endpoint", "--config", filepath.Join(t.TempDir(), "none.yml")},
	} {
		t.Setenv("AWS_ENDPOINT_URL_KMS", "")
		code, _, errOut := runCLI(t, args...)
		if code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.HasPrefix(errOut, "kmsconform run: ") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", args, code, errOut)
		}
	}
}

// A run that checked nothing — an endpoint nothing listens on, a web
// server that answers 404 to everything — exits 1 with one line naming the
// largest root cause, with or without --expect, in one process or several,
// and on the planned walk.
func TestRunNothingChecked(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	notFound := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "404 page not found", http.StatusNotFound)
	}))
	defer notFound.Close()

	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_ENDPOINT_URL_KMS", "")
	expect := filepath.Join(t.TempDir(), "expect.yml")
	if err := os.WriteFile(expect, []byte("schema: kmsconform/expectations/v1\ndeviations: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	progress := regexp.MustCompile(`^kmsconform: \d+/\d+ done[ ;]`)
	line := regexp.MustCompile(`^kmsconform run: nothing was checked: \d+ cells( and \d+ scenarios?)? (indeterminate|unsupported) \((.+)\)$`)
	for _, tc := range []struct {
		name, endpoint, cause string
		args                  []string
	}{
		{"dead", dead, "connection refused: " + dead, nil},
		{"dead/expect", dead, "connection refused: " + dead, []string{"--expect", expect}},
		{"dead/procs=2", dead, "connection refused: " + dead, []string{"--procs", "2"}},
		{"dead/procs=2/expect", dead, "connection refused: " + dead, []string{"--procs", "2", "--expect", expect}},
		// Which operation is named depends on which cells the endpoint
		// target can set up without backing; the answer does not.
		{"404", notFound.URL, " is not implemented (HTTP 404, not a KMS error)", nil},
		{"404/expect", notFound.URL + "/wrong/path", " is not implemented (HTTP 404, not a KMS error)", []string{"--expect", expect}},
		{"dead/planned", dead, "", []string{"--planned"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"run", "--target", "endpoint", "--endpoint", tc.endpoint, "--report-dir", dir}, tc.args...)
			code, out, errOut := runCLI(t, args...)
			var ours []string
			for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
				switch {
				case strings.HasPrefix(l, "kmsconform: ") && strings.Contains(l, " specs to run"),
					progress.MatchString(l), // printed every few seconds on a slow machine
					strings.HasPrefix(l, "kmsconform run: ") && strings.Contains(l, " walk: "),
					strings.HasPrefix(l, "kmsconform run: the planned run stopped: "):
					// Progress, and the planned walk's account of itself.
				case strings.HasPrefix(l, "kmsconform run: "):
					ours = append(ours, l)
				default:
					t.Errorf("unexpected line on stderr: %q", l)
				}
			}
			if code != 1 || len(ours) != 1 || !line.MatchString(ours[0]) {
				t.Fatalf("exit %d, lines %q; want 1 and one line\nstdout:\n%s\nstderr:\n%s", code, ours, out, errOut)
			}
			if cause := line.FindStringSubmatch(ours[0])[3]; !strings.HasSuffix(cause, tc.cause) {
				t.Errorf("cause %q, want it to end %q", cause, tc.cause)
			}
			// The reports are still written, and the summary names the cause.
			c, err := reports.ReadFile(filepath.Join(dir, "compat.json"))
			if err != nil {
				t.Fatal(err)
			}
			if nothing, why := c.NothingChecked(); !nothing || !strings.HasSuffix(ours[0], why) {
				t.Errorf("compat.json: nothing checked %v, %q", nothing, why)
			}
			if causes := reports.RootCauses(c); !strings.Contains(out, fmt.Sprintf("  %s: %s\n", causes[0].What(), causes[0].Reason)) {
				t.Errorf("the terminal summary lacks the largest root cause:\n%s", out)
			}
			if strings.Contains(strings.Join(tc.args, " "), "--expect") && !strings.Contains(out, "gate FAILED") {
				t.Errorf("the gate passed:\n%s", out)
			}
		})
	}
}

// A label filter that selects nothing checks nothing either.
func TestRunNothingSelected(t *testing.T) {
	code, _, errOut := runCLI(t, "run", "--report-dir", t.TempDir(), "--label-filter", "op:NoSuchOperation")
	want := "kmsconform run: nothing was checked: 583 cells skipped (not selected (label filter))"
	if code != 1 || !strings.Contains(errOut, want+"\n") {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, errOut, want)
	}
}

// TestRunTakesTheMutantFromTheEnvironment: the mutation driver starts
// `kmsconform run` with emulator.MutantEnv set; run passes it on
// explicitly, so its emulator target is that mutant.
func TestRunTakesTheMutantFromTheEnvironment(t *testing.T) {
	name := emulator.Mutants[0].Name
	t.Setenv(emulator.MutantEnv, name)
	f, err := parseRunFlags(nil, io.Discard)
	if err != nil || f.mutant != name {
		t.Fatalf("mutant %q, %v", f.mutant, err)
	}
	ctx := context.Background()
	tgt, err := harness.Open(ctx, harness.Options{Target: targets.KindEmulator, Mutant: f.mutant})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close(ctx)
	if !strings.Contains(tgt.Name(), name) {
		t.Fatalf("the target is %q, not the mutant", tgt.Name())
	}
}

// TestRunPrintsARealFailureOnce: against an emulator mutant (the emulator
// answers NotFoundException for an unknown store), each failing cell is on
// the console once, in full — what it answered, what the model allows, its
// rule and the rule's AWS page — with exit 1, and none of Ginkgo's blocks,
// totals or source lines.
func TestRunPrintsARealFailureOnce(t *testing.T) {
	t.Setenv(emulator.MutantEnv, "store-not-found-wrong-exception")
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "run", "--report-dir", dir, "--label-filter", "op:DescribeCustomKeyStores && state:NO_SUCH_STORE")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	c, err := reports.ReadFile(filepath.Join(dir, "compat.json"))
	if err != nil {
		t.Fatal(err)
	}
	fails := 0
	for _, cell := range c.Cells {
		if cell.Verdict == reports.Fail {
			fails++
			checkFailurePrintedOnce(t, out, errOut, cell)
		}
	}
	if fails == 0 {
		t.Fatalf("the mutant failed no cell:\n%s", out)
	}
	if n := strings.Count(out+errOut, "FAIL "); n != fails {
		t.Errorf("FAIL %d times for %d failing cells:\n%s%s", n, fails, out, errOut)
	}
	if !strings.Contains(out, "https://docs.aws.amazon.com/kms/latest/APIReference/API_DescribeCustomKeyStores.html") {
		t.Errorf("no AWS page:\n%s", out)
	}
}

// TestRunHelp: run -h, -help and --help print run's page on stdout and exit
// 0; the page lists every environment variable run reads and none of the
// flags only run itself passes (--shard, --shards) nor the mutation
// driver's variable.
func TestRunHelp(t *testing.T) {
	var page string
	for _, h := range []string{"-h", "-help", "--help"} {
		var out, errOut bytes.Buffer
		if code := dispatch([]string{"run", "--procs", "4", h}, &out, &errOut); code != 0 || errOut.Len() != 0 {
			t.Fatalf("run %s: exit %d, stderr %q", h, code, errOut.String())
		}
		page = out.String()
	}
	flags, env, ok := strings.Cut(page, "\nEnvironment:\n")
	if !ok || !strings.Contains(flags, "\nFlags:\n") {
		t.Fatalf("no Flags and Environment sections:\n%s", page)
	}
	for _, f := range []string{"-target", "-endpoint", "-expect", "-label-filter", "-procs int", "-v\t"} {
		if !strings.Contains(flags, "  "+f) {
			t.Errorf("the page lacks %s:\n%s", f, page)
		}
	}
	// The default, not the value parsed before -h.
	if !strings.Contains(flags, "run the cells in this many processes (default 1)") {
		t.Errorf("-procs does not show its default:\n%s", page)
	}
	for _, f := range []string{"-shard ", "-shards ", "internal"} {
		if strings.Contains(flags, f) {
			t.Errorf("the page shows the hidden %q:\n%s", f, page)
		}
	}
	for _, v := range runEnvironment(t) {
		if !strings.Contains(env, v) {
			t.Errorf("the page does not list %s:\n%s", v, env)
		}
	}
	if !strings.Contains(env, targets.SecondSuffix) {
		t.Errorf("the page does not say the %s variables:\n%s", targets.SecondSuffix, env)
	}
	if strings.Contains(page, emulator.MutantEnv) {
		t.Errorf("the page lists the mutation driver's %s", emulator.MutantEnv)
	}
}

// runEnvironment is every variable run reads, from the source: the
// targets.Env* constants, and each os.Getenv("…") of a package run uses,
// but the variables of `go test` and `ginkgo` runs that run's flags stand
// for, and serve's.
func runEnvironment(t *testing.T) []string {
	t.Helper()
	notRun := map[string]bool{
		// drive.SpecFromEnv and harness.optionsFromEnv: run sets each by a
		// flag (harness.Configure).
		"KMSCONFORM_TARGET": true, "KMSCONFORM_ENDPOINT": true, "KMSCONFORM_REGION": true, "KMSCONFORM_CONFIG": true,
		"KMSCONFORM_CONFIRM_ACCOUNT": true, "KMSCONFORM_REPORT_DIR": true, "KMSCONFORM_SHARD": true, "KMSCONFORM_SHARDS": true,
	}
	getenv := regexp.MustCompile(`os\.(?:Getenv|LookupEnv)\("([A-Z0-9_]+)"\)`)
	constant := regexp.MustCompile(`(?m)^\s*Env\w+\s*=\s*"([A-Z0-9_]+)"`)
	var vars []string
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case ".git", "fuzz", filepath.Join("cmd", "mutate"), filepath.Join("cmd", "mutants"), "clients":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
			strings.HasPrefix(rel, filepath.Join("cmd", "kmsconform", "serve")) || strings.HasPrefix(rel, filepath.Join("cmd", "kmsconform", "xksproxy")) {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range getenv.FindAllStringSubmatch(string(src), -1) {
			if !notRun[m[1]] && !slices.Contains(vars, m[1]) {
				vars = append(vars, m[1])
			}
		}
		if rel == filepath.Join("targets", "config.go") {
			for _, m := range constant.FindAllStringSubmatch(string(src), -1) {
				vars = append(vars, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(vars) < 15 {
		t.Fatalf("found only %v", vars)
	}
	return vars
}

// TestRunSaysSpecProblems: a spec that fails for something other than its
// cell's verdict — here a cell the emulator, which has every capability,
// could not be put into (a mutant that skips CONNECTING) — is one line on
// stderr naming it, without a harness source line, with Ginkgo's own output
// kept in ginkgo.log; exit 1.
func TestRunSaysSpecProblems(t *testing.T) {
	t.Setenv(emulator.MutantEnv, "connect-skips-connecting")
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "run", "--report-dir", dir, "--label-filter", "state:CONNECTING && store:AWS_CLOUDHSM && op:DescribeCustomKeyStores")
	problem := regexp.MustCompile(`^kmsconform run: spec problem: AWS_CLOUDHSM/CONNECTING/DescribeCustomKeyStores/\S+ failed: unreachable on a target with every capability: .+ not CONNECTING$`)
	n := 0
	for _, l := range strings.Split(errOut, "\n") {
		if strings.Contains(l, "spec problem") {
			if !problem.MatchString(l) || strings.Contains(l, ".go:") {
				t.Errorf("problem line %q", l)
			}
			n++
		}
	}
	if code != 1 || n == 0 || !strings.Contains(errOut, "kmsconform run: Ginkgo's output is in "+filepath.Join(dir, GinkgoLogName)+"\n") {
		t.Fatalf("exit %d, %d problem lines\n%s\n%s", code, n, out, errOut)
	}
	if raw, err := os.ReadFile(filepath.Join(dir, GinkgoLogName)); err != nil || !bytes.Contains(raw, []byte("[FAILED]")) {
		t.Errorf("ginkgo.log: %v\n%s", err, raw)
	}
}

// TestRunInterrupted: Ctrl-C during a run is said at once on stderr (Ginkgo,
// which handles it, is off the console); the run cleans up, writes its
// reports with the cells it did not run marked so, and exits 1.
func TestRunInterrupted(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "run", "--report-dir", dir)
	cmd.Env = append(os.Environ(), "KMSCONFORM_TEST_AS_CLI=1", "KMSCONFORM_SKIP_BROWSER=1")
	var out, errOut lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; !strings.Contains(errOut.String(), " specs to run\n"); i++ {
		if i == 600 {
			_ = cmd.Process.Kill()
			t.Fatalf("the run did not start:\n%s", errOut.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	_ = cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("%v, want exit 1\n%s\n%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(errOut.String(), "kmsconform run: interrupt: stopping; cleaning up what the run created, then writing the reports\n") {
		t.Errorf("no notice of the interrupt:\n%s", errOut.String())
	}
	if !strings.Contains(out.String(), "cells skipped: not run: the run was interrupted\n") {
		t.Errorf("the summary does not say what was not run:\n%s", out.String())
	}
}
