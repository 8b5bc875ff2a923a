package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
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
// must be the only failures.
func TestGateMoto(t *testing.T) {
	url := startMoto(t)
	t.Setenv("KMSCONFORM_SKIP_BROWSER", "1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	// The checked-in expectations list moto's 13 known deviations, so the
	// gate passes; the picture below shows they are the only fails.
	expect := filepath.Join("..", "..", "reports", "expectations", "moto.yml")
	code := dispatch([]string{"run", "--target", "endpoint", "--endpoint", url, "--region", "us-east-1", "--report-dir", dir,
		"--expect", expect}, &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), "gate passed: 0 unexpected failures, 13 known deviations persist") {
		t.Fatalf("exit %d, want 0 (moto's fails are all expected)\n%s\n%s", code, out.String(), errOut.String())
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
}
