package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/kmsconform/kmsconform/reports"
	_ "github.com/kmsconform/kmsconform/suites/conformance"
	"github.com/kmsconform/kmsconform/suites/harness"
	_ "github.com/kmsconform/kmsconform/suites/scenarios"
	_ "github.com/kmsconform/kmsconform/suites/validation"
	"github.com/kmsconform/kmsconform/targets"
	awstarget "github.com/kmsconform/kmsconform/targets/aws"
	"github.com/kmsconform/kmsconform/targets/emulator"
)

func init() {
	register("run", command{
		summary: "check a target against the model: every cell, scenario and constraint; write compat.json",
		run:     runRun,
	})
}

type runFlags struct {
	target, endpoint, region, labelFilter, reportDir, config string
	procs, shard, shards                                     int
	confirmAccount                                           string
	planned                                                  bool
	verbose                                                  bool
	// mutant is emulator.MutantEnv: the emulator mutant the mutation
	// driver (cmd/mutants) starts this run against.
	mutant string
	// expect is the --expect file; expectations its content, read before
	// the run.
	expect       string
	expectations *reports.Expectations
}

func parseRunFlags(args []string, _ io.Writer) (runFlags, error) {
	f, _, err := parseRunFlagSet(args)
	return f, err
}

// parseRunFlagSet parses run's flags and returns the flag set too, for
// runHelp.
func parseRunFlagSet(args []string) (runFlags, *flag.FlagSet, error) {
	var f runFlags
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&f.target, "target", "emulator", "what to check: emulator (in-process, the default), endpoint (any KMS-compatible URL) or aws (real KMS; must be enabled in ginkgo.yml)")
	fs.StringVar(&f.endpoint, "endpoint", "", "the endpoint URL for --target endpoint (default: AWS_ENDPOINT_URL_KMS)")
	fs.StringVar(&f.region, "region", "", "the AWS Region to sign for (default: the configuration's, else us-east-1)")
	fs.StringVar(&f.labelFilter, "label-filter", "", "run only the specs whose labels match, e.g. 'store:EXTERNAL_KEY_STORE && provenance:D'")
	fs.StringVar(&f.reportDir, "report-dir", filepath.Join("reports", "out"), "where compat.json is written")
	fs.StringVar(&f.config, "config", "", "the harness configuration (default: ginkgo.yml in this folder or a parent)")
	fs.IntVar(&f.procs, "procs", 1, "run the cells in this many processes")
	fs.StringVar(&f.expect, "expect", "", "gate on this expectations file (YAML): exit 1 only on a failing cell it does not list")
	fs.BoolVar(&f.verbose, "v", false, "print every cell and scenario as it ends (on stderr, with the progress)")
	fs.BoolVar(&f.planned, "planned", false, "follow the planned walk (kmsconform plan): one store per type through its states with the fewest transitions; the mode for real KMS")
	fs.StringVar(&f.confirmAccount, "confirm-account", "", "with --target aws: the sandbox account id, confirming that the run may create (and pay for) stores and keys there")
	fs.IntVar(&f.shard, "shard", 0, "internal: the shard this process runs (with --shards)")
	fs.IntVar(&f.shards, "shards", 1, "internal: the number of shards")
	// -h prints runHelp on stdout (runRun); a flag error is one line on
	// stderr, like every other usage error.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return f, fs, err
		}
		return f, fs, fmt.Errorf("%v (run 'kmsconform run -h' for the flags)", err)
	}
	switch {
	case fs.NArg() > 0:
		return f, fs, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case f.target != string(targets.KindEmulator) && f.target != string(targets.KindEndpoint) && f.target != string(targets.KindAWS):
		return f, fs, fmt.Errorf("--target %q: want emulator, endpoint or aws", f.target)
	case f.procs < 1 || f.procs > 64:
		return f, fs, fmt.Errorf("--procs %d: want 1 to 64", f.procs)
	case f.shards < 1 || f.shard < 0 || f.shard >= f.shards:
		return f, fs, fmt.Errorf("--shard %d of --shards %d is out of range", f.shard, f.shards)
	case f.target == string(targets.KindAWS) && (f.procs > 1 || f.shards > 1):
		// The guard's limits (live stores, keys) and its ledger are the
		// run's: processes of their own would each allow the limits.
		return f, fs, fmt.Errorf("--procs %d: --target aws runs in one process (its limits and its ledger are the run's)", f.procs)
	}
	f.mutant = os.Getenv(emulator.MutantEnv)
	var err error
	f.expectations, err = loadExpectations(f.expect)
	return f, fs, err
}

func runRun(args []string, stdout, stderr io.Writer) int {
	f, fs, err := parseRunFlagSet(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		runHelp(stdout, fs)
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "kmsconform run: %v\n", err)
		return 2
	}
	if f.planned {
		return runPlanned(f, stdout, stderr)
	}
	if f.procs > 1 {
		return runSharded(f, args, stdout, stderr)
	}
	return runSpecs(f, stdout, stderr)
}

// specT is the GinkgoTestingT of a run outside `go test`.
type specT struct{ failed bool }

func (t *specT) Fail() { t.failed = true }

func runSpecs(f runFlags, stdout, stderr io.Writer) int {
	prog := newProgress(stderr, f.shards > 1)
	prog.verbose = f.verbose
	opts := harness.Options{Target: targets.Kind(f.target), Endpoint: f.endpoint, Region: f.region,
		ConfigPath: f.config, ReportDir: f.reportDir, Progress: prog, Shard: f.shard, Shards: f.shards, ConfirmAccount: f.confirmAccount,
		Mutant: f.mutant, Expectations: f.expectations}
	ctx := context.Background()
	tgt, err := harness.Open(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "kmsconform run: %v\n", oneLine(err))
		return 2
	}
	defer tgt.Close(ctx)
	opts.Opened = tgt
	harness.Configure(opts)
	suiteConfig, reporterConfig := GinkgoConfiguration()
	suiteConfig.LabelFilter = f.labelFilter
	suiteConfig.Timeout = 24 * time.Hour
	// Ginkgo's console is captured (run_console.go): the run prints its
	// own verdicts. -v adds kmsconform's line per cell, not Ginkgo's
	// stream, whose totals count specs.
	reporterConfig.Succinct = true
	reporterConfig.Verbose = false
	reporterConfig.SilenceSkips = true
	reporterConfig.NoColor = true
	gomega.RegisterFailHandler(Fail)
	t := &specT{}
	ginkgoLog := captureGinkgo()
	forced := false
	if g, ok := tgt.(signalGuarded); ok {
		// Real KMS: the whole run inside the target's guard, which keeps
		// the ledger on disk as the run goes and cleans up from it after
		// Ginkgo has (every way the run ends: SIGHUP and SIGQUIT too).
		ran := false
		sigs, stopRelay := relayStopSignals()
		var gerr error
		forced, gerr = g.RunGuardedOn(ctx, sigs, "kmsconform-", stderr, f.reportDir, func(context.Context) error {
			ran = true
			RunSpecs(t, "kmsconform", suiteConfig, reporterConfig)
			return nil
		})
		stopRelay()
		if !ran {
			ginkgoLog()
			fmt.Fprintf(stderr, "kmsconform run: %v\n", oneLine(gerr))
			return 2
		}
		if gerr != nil && !errors.Is(gerr, context.Canceled) && !forced {
			fmt.Fprintf(stderr, "kmsconform run: %v\n", oneLine(gerr))
		}
	} else {
		stopNotice := noticeInterrupts(stderr)
		RunSpecs(t, "kmsconform", suiteConfig, reporterConfig)
		stopNotice()
	}
	reportSpecProblems(f.reportDir, ginkgoLog(), stderr)
	path := filepath.Join(f.reportDir, harness.CompatFileName(harness.CurrentOptions()))
	c, err := reports.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "kmsconform run: no result: %v\n", err)
		return 2
	}
	// A shard is part of a run: whether the run checked anything is the
	// parent's judgement, on the merged result.
	whole := f.shards == 1
	if whole {
		if err := printResult(f, c, path, stdout, stderr); err != nil {
			return 2
		}
	}
	if forced {
		return 130
	}
	if f.expectations != nil {
		return runGateExit(f, c, t.failed, whole, stdout, stderr)
	}
	// t.failed: a spec failed without a failing cell, a verdict the target
	// kind does not excuse (see harness.Conclude), or a suite error.
	return exitFor(c, t.failed, whole, stderr)
}

// signalGuarded is a target that runs a run inside a guard of its own on
// the signals it is given (the aws target: see targets.Guarded).
type signalGuarded interface {
	RunGuardedOn(ctx context.Context, sigs <-chan os.Signal, prefix string, w io.Writer, dir string, fn func(context.Context) error) (forced bool, err error)
}

// relayStopSignals relays the signals that stop a guarded run
// (awstarget.StopSignals) to the guard. Ginkgo stops a run on SIGINT and
// SIGTERM only (it hears those itself), so a SIGQUIT, and the first signal
// if it is a SIGHUP, is passed on to it as a SIGTERM to this process, whose
// echo the guard does not hear twice; a later SIGHUP is not (a dropped
// session often sends two, and a second interrupt makes Ginkgo skip its
// cleanup). From then on a hangup or a closed stderr does not kill the
// process (awstarget.SurviveHangups).
func relayStopSignals() (<-chan os.Signal, func()) {
	awstarget.SurviveHangups()
	in := make(chan os.Signal, 8)
	signal.Notify(in, awstarget.StopSignals...)
	out := make(chan os.Signal, 8)
	done := make(chan struct{})
	go func() {
		echoes, first := 0, true
		for {
			select {
			case s := <-in:
				if s == syscall.SIGTERM && echoes > 0 {
					echoes--
					continue
				}
				if s == syscall.SIGQUIT || s == syscall.SIGHUP && first {
					echoes++
					_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
				}
				first = false
				select {
				case out <- s:
				default:
				}
			case <-done:
				return
			}
		}
	}()
	return out, func() { signal.Stop(in); close(done) }
}

// printResult prints a whole run's result (consoleSummary: each failure
// once, in full) and writes its renderings. An error is said on stderr.
func printResult(f runFlags, c *reports.Compat, path string, stdout, stderr io.Writer) error {
	var g *reports.GateResult
	if f.expectations != nil {
		g = reports.Gate(c, f.expectations)
	}
	fmt.Fprint(stdout, consoleSummary(c, path, g))
	if err := writeFormats(f.reportDir, c, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "kmsconform run: %v\n", oneLine(err))
		return err
	}
	return nil
}

// runGateExit is gateExit (its exit code, its gate.md) with the judgement
// printed by gateLines: the unexpected failures are already on the console,
// in full, once.
func runGateExit(f runFlags, c *reports.Compat, specFailed, whole bool, stdout, stderr io.Writer) int {
	g := reports.Gate(c, f.expectations)
	code := gateExit(g, c, specFailed, whole, f.reportDir, stderr)
	if whole && code != 2 {
		fmt.Fprint(stdout, gateLines(g))
	}
	return code
}

func oneLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// exitFor is the exit code of a run without --expect: 1 when a cell or
// scenario fails or a spec failed, or, for a whole run (not one shard of
// it), when nothing was checked; else 0.
func exitFor(c *reports.Compat, specFailed, whole bool, stderr io.Writer) int {
	code := 0
	if c.Summary.Fail > 0 || specFailed {
		code = 1
	}
	if whole && nothingChecked(c, stderr) {
		code = 1
	}
	return code
}

// nothingChecked reports whether the run checked nothing (no cell or
// scenario ended pass, fail or informational: a target that is down, a
// plain web server, a wrong URL path) and then says so in one line on
// stderr, with the largest root cause.
func nothingChecked(c *reports.Compat, stderr io.Writer) bool {
	nothing, why := c.NothingChecked()
	if nothing {
		fmt.Fprintf(stderr, "kmsconform run: nothing was checked: %s\n", why)
	}
	return nothing
}

// runSharded starts one child process per shard and merges their results.
func runSharded(f runFlags, args []string, stdout, stderr io.Writer) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "kmsconform run: %v\n", err)
		return 2
	}
	start := time.Now()
	var wg sync.WaitGroup
	codes := make([]int, f.procs)
	for i := 0; i < f.procs; i++ {
		childArgs := append([]string{"run"}, args...)
		childArgs = append(childArgs, "--procs", "1", "--shard", strconv.Itoa(i), "--shards", strconv.Itoa(f.procs))
		cmd := exec.Command(self, childArgs...)
		cmd.Stderr = stderr
		cmd.Stdout = io.Discard
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := cmd.Run(); err != nil {
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					codes[i] = ee.ExitCode()
				} else {
					codes[i] = 2
				}
			}
		}(i)
	}
	wg.Wait()
	var parts []*reports.Compat
	for i := 0; i < f.procs; i++ {
		if codes[i] == 2 {
			fmt.Fprintf(stderr, "kmsconform run: process %d of %d could not run\n", i+1, f.procs)
			return 2
		}
		c, err := reports.ReadFile(filepath.Join(f.reportDir, fmt.Sprintf("compat.%d.json", i)))
		if err != nil {
			fmt.Fprintf(stderr, "kmsconform run: process %d: %v\n", i+1, err)
			return 2
		}
		parts = append(parts, c)
	}
	merged, err := reports.Merge(parts...)
	if err != nil {
		fmt.Fprintf(stderr, "kmsconform run: %v\n", err)
		return 2
	}
	merged.DurationSeconds = time.Since(start).Seconds()
	path := filepath.Join(f.reportDir, "compat.json")
	if err := merged.WriteFile(path); err != nil {
		fmt.Fprintf(stderr, "kmsconform run: %v\n", err)
		return 2
	}
	for i := 0; i < f.procs; i++ {
		os.Remove(filepath.Join(f.reportDir, fmt.Sprintf("compat.%d.json", i)))
	}
	if err := printResult(f, merged, path, stdout, stderr); err != nil {
		return 2
	}
	var code int
	if f.expectations != nil {
		code = runGateExit(f, merged, false, true, stdout, stderr)
	} else {
		code = exitFor(merged, false, true, stderr)
	}
	for _, c := range codes {
		code = max(code, c)
	}
	return code
}
