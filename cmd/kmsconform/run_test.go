package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/reports"
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
			// 24 matrix cells and 8 validation cells match the filter.
			if ran != 32 || len(c.Scenarios) != 14 || c.Summary.Pass != ran+14 {
				t.Errorf("ran %d cells and %d scenarios: %+v", ran, len(c.Scenarios), c.Summary)
			}
			if !strings.Contains(out, "pass 46 · skipped 456") {
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
		{"run", "--target", "endpoint", "--config", filepath.Join(t.TempDir(), "none.yml")},
	} {
		t.Setenv("AWS_ENDPOINT_URL_KMS", "")
		code, _, errOut := runCLI(t, args...)
		if code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.HasPrefix(errOut, "kmsconform run: ") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", args, code, errOut)
		}
	}
}
