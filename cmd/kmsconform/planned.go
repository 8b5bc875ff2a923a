package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kmsconform/kmsconform/drive"
	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/reports"
	"github.com/kmsconform/kmsconform/suites/harness"
	"github.com/kmsconform/kmsconform/targets"
)

// runPlanned is `kmsconform run --planned`: the planned walk of each store
// type instead of one route per cell. On a targets.Guarded target (real
// KMS) the walk runs inside its guard (cleanup always; SIGINT/SIGTERM stop
// the run, a second one the cleanup), and a targets.Recorded target's
// compat.json is normalised into a recording.
func runPlanned(f runFlags, stdout, stderr io.Writer) int {
	switch {
	case f.procs > 1 || f.shards > 1:
		fmt.Fprintln(stderr, "kmsconform run: --planned walks one store per type in one process; drop --procs")
		return 2
	case f.labelFilter != "":
		fmt.Fprintln(stderr, "kmsconform run: --planned covers every cell it can reach; drop --label-filter")
		return 2
	}
	ctx := context.Background()
	opts := harness.Options{Target: targets.Kind(f.target), Endpoint: f.endpoint, Region: f.region,
		ConfigPath: f.config, ReportDir: f.reportDir, ConfirmAccount: f.confirmAccount, Mutant: f.mutant}
	tgt, err := harness.Open(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "kmsconform run: %v\n", oneLine(err))
		return 2
	}
	defer tgt.Close(ctx)
	h := drive.New(tgt, 1)
	// Progress on stderr: a planned run against real KMS lasts hours.
	prog := newProgress(stderr, false)
	prog.Start(len(model.Cells()))
	h.Progress, h.WalkProgress = prog, true
	start := time.Now()
	var cells []reports.Cell
	walk := func(ctx context.Context) error {
		for _, st := range model.StoreTypes {
			run := h.RunPlanned(ctx, st)
			cells = append(cells, harness.CellReports(run.Cells)...)
			fmt.Fprintf(stderr, "kmsconform run: %s walk: %d cells, %d transitions (lower bound %d), %d re-plans, %d retries at transient cells\n",
				st, len(run.Cells), run.Transitions, run.LowerBound, run.Replans, run.Retries)
			if run.Stopped != "" {
				return errors.New(run.Stopped)
			}
		}
		return nil
	}
	forced := false
	if g, ok := tgt.(targets.Guarded); ok {
		forced, err = g.RunGuarded(ctx, h.RunPrefix(), stderr, f.reportDir, walk)
	} else {
		sctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
		err = walk(sctx)
		stop()
	}
	if err != nil {
		fmt.Fprintf(stderr, "kmsconform run: the planned run stopped: %s\n", oneLine(err))
	}
	c := &reports.Compat{Schema: reports.Schema, ModelRevision: model.Revision(), StartedAt: start.UTC(),
		DurationSeconds: time.Since(start).Seconds(), Cells: cells, Scenarios: []reports.Scenario{}, APICalls: h.Calls(),
		Target: reports.Target{Name: tgt.Name(), Kind: string(tgt.Kind()), Endpoint: tgt.Endpoint()}, Findings: h.Findings()}
	c.Finish()
	path := filepath.Join(f.reportDir, "compat.json")
	if werr := writePlannedCompat(c, path, tgt); werr != nil {
		fmt.Fprintf(stderr, "kmsconform run: writing %s: %v\n", path, oneLine(werr))
		return 2
	}
	var g *reports.GateResult
	if f.expectations != nil {
		g = reports.Gate(c, f.expectations)
	}
	fmt.Fprint(stdout, consoleSummary(c, path, g))
	switch {
	case forced:
		return 130
	case f.expectations != nil && err == nil:
		return runGateExit(f, c, false, true, stdout, stderr)
	case c.Summary.Count(reports.Fail) > 0:
		return 1
	case nothingChecked(c, stderr):
		// Before the stop's 2: a walk that checked nothing (a target that
		// is down diverges from every plan) is the finding.
		return 1
	case err != nil:
		return 2
	}
	return 0
}

// writePlannedCompat writes compat.json; for a targets.Recorded target
// (real KMS), normalised into a recording of it (account and resource ids
// normalised, the backing's secrets and the caller's scrubbed).
func writePlannedCompat(c *reports.Compat, path string, tgt targets.Target) error {
	rec, ok := tgt.(targets.Recorded)
	if !ok {
		return c.WriteFile(path)
	}
	var buf bytes.Buffer
	if err := c.Write(&buf); err != nil {
		return err
	}
	raw, err := rec.NormalizeRecording(buf.Bytes())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}
