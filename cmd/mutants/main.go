// Command mutants measures the suite: it runs the rapid state machine (in
// process) and the conformance suite (`kmsconform run`, one process per
// mutant) against every mutant of the embedded emulator and prints which
// check killed each one, how fast, and how short rapid shrank the failing
// sequence. It exits 1 when a mutant survives: a survivor is a hole in the
// suite.
//
//	go run ./cmd/mutants [-checks 300] [-only name,name] [-suite=false] [-shrinktime 2m] [-show]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"pgregory.net/rapid"

	"github.com/kmsconform/kmsconform/drive"
	"github.com/kmsconform/kmsconform/fuzz"
	"github.com/kmsconform/kmsconform/reports"
	"github.com/kmsconform/kmsconform/targets"
	"github.com/kmsconform/kmsconform/targets/emulator"
)

type result struct {
	name        string
	rapidKilled bool
	rapidTime   time.Duration
	shrunk      int // actions of the shrunk sequence
	shrunkSteps int // its model-checked steps (calls and settles)
	rapidMsg    string
	suiteKilled bool
	suiteTime   time.Duration
	suiteFails  []string
	suiteErr    string
}

func main() {
	testing.Init() // rapid reads testing's flags
	checks := flag.Int("checks", 300, "rapid test cases per mutant (a kill ends the search early)")
	only := flag.String("only", "", "comma-separated mutant names (default: all)")
	suite := flag.Bool("suite", true, "also run the conformance suite (kmsconform run) against each mutant")
	bin := flag.String("bin", "", "a built kmsconform binary (default: build one)")
	verbose := flag.Bool("show", false, "print each mutant's shrunk program")
	shrinkTime := flag.Duration("shrinktime", 2*time.Minute, "the longest rapid may shrink one mutant's failing case")
	flag.Parse()
	_ = flag.Set("rapid.checks", fmt.Sprint(*checks))
	_ = flag.Set("rapid.nofailfile", "true")
	_ = flag.Set("rapid.shrinktime", shrinkTime.String())

	names := emulator.MutantNames()
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	cfg, err := targets.LoadConfig(drive.FindConfig())
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(2)
	}
	tmp, err := os.MkdirTemp("", "kmsconform-mutants-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(2)
	}
	defer os.RemoveAll(tmp)
	if *suite && *bin == "" {
		*bin = filepath.Join(tmp, "kmsconform")
		out, err := exec.Command("go", "build", "-o", *bin, "./cmd/kmsconform").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "mutants: building kmsconform: %v\n%s", err, out)
			os.Exit(2)
		}
	}
	var results []result
	for _, n := range names {
		r := result{name: n}
		began := time.Now()
		runRapid(&r, cfg)
		if *suite {
			runSuite(&r, *bin, filepath.Join(tmp, n))
		}
		fmt.Fprintf(os.Stderr, "%-38s rapid %-5v suite %-5v (%s)\n", n, r.rapidKilled, r.suiteKilled, time.Since(began).Round(100*time.Millisecond))
		if *verbose && r.rapidMsg != "" {
			fmt.Fprintln(os.Stderr, r.rapidMsg)
		}
		results = append(results, r)
	}
	survivors := printTable(os.Stdout, results)
	if survivors > 0 {
		os.Exit(1)
	}
}

// runRapid runs the state machine against the mutant in process.
func runRapid(r *result, cfg *targets.Config) {
	ctx := context.Background()
	tgt, err := emulator.NewMutantTarget(ctx, cfg, r.name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(2)
	}
	defer tgt.Close(ctx)
	runner := &fuzz.Runner{Target: tgt}
	tb := &quietTB{name: "mutant-" + r.name}
	start := time.Now()
	runner.FirstFailure = func() {
		if r.rapidTime == 0 {
			r.rapidTime = time.Since(start)
		}
	}
	rapid.Check(tb, runner.Run)
	if tb.Failed() {
		r.rapidKilled = true
		r.shrunk = runner.Actions()
		r.shrunkSteps = len(runner.Last())
		r.rapidMsg = strings.Join(tb.msgs, "\n")
	}
}

// runSuite runs `kmsconform run` against the mutant and reads compat.json.
func runSuite(r *result, bin, dir string) {
	cmd := exec.Command(bin, "run", "--target", "emulator", "--report-dir", dir)
	cmd.Env = append(os.Environ(), emulator.MutantEnv+"="+r.name)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	start := time.Now()
	err := cmd.Run()
	r.suiteTime = time.Since(start)
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		r.suiteErr = err.Error()
		return
	}
	c, rerr := reports.ReadFile(filepath.Join(dir, "compat.json"))
	if rerr != nil {
		r.suiteErr = rerr.Error()
		return
	}
	for _, cell := range c.Cells {
		if cell.Verdict != reports.Pass && cell.Verdict != reports.Informational {
			r.suiteFails = append(r.suiteFails, "cell "+cell.ID)
		}
	}
	for _, s := range c.Scenarios {
		if s.Verdict != reports.Pass {
			r.suiteFails = append(r.suiteFails, "scenario "+s.Name)
		}
	}
	r.suiteKilled = len(r.suiteFails) > 0
}

func printTable(w io.Writer, rs []result) (survivors int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "mutant\tkilled by\ttime to kill\tshrunk actions (steps)\tsuite checks failed\t")
	var kills []time.Duration
	for _, r := range rs {
		var by []string
		kill := time.Duration(0)
		if r.rapidKilled {
			by = append(by, "rapid")
			kill = r.rapidTime
		}
		if r.suiteKilled {
			first := r.suiteFails[0]
			if len(r.suiteFails) > 1 {
				first += fmt.Sprintf(" (+%d)", len(r.suiteFails)-1)
			}
			by = append(by, first)
			if kill == 0 || r.suiteTime < kill {
				kill = r.suiteTime
			}
		}
		shrunk, tk := "-", "-"
		if r.rapidKilled {
			shrunk = fmt.Sprintf("%d (%d)", r.shrunk, r.shrunkSteps)
		}
		if len(by) == 0 {
			survivors++
			by = []string{"SURVIVED"}
			if r.suiteErr != "" {
				by = append(by, "suite error: "+r.suiteErr)
			}
		} else {
			tk = kill.Round(10 * time.Millisecond).String()
			kills = append(kills, kill)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t\n", r.name, strings.Join(by, "; "), tk, shrunk, len(r.suiteFails))
	}
	_ = tw.Flush()
	sort.Slice(kills, func(i, j int) bool { return kills[i] < kills[j] })
	med := time.Duration(0)
	if len(kills) > 0 {
		med = kills[len(kills)/2]
	}
	var lens []int
	for _, r := range rs {
		if r.rapidKilled {
			lens = append(lens, r.shrunk)
		}
	}
	fmt.Fprintf(w, "\n%d mutants, %d killed, %d survived; median time to kill %s; longest shrunk sequence %d actions\n",
		len(rs), len(rs)-survivors, survivors, med.Round(10*time.Millisecond), slices.Max(append(lens, 0)))
	return survivors
}

// quietTB is the rapid.TB of a check run outside `go test`: it keeps what
// rapid reports instead of failing a test.
type quietTB struct {
	name   string
	mu     sync.Mutex
	failed bool
	msgs   []string
}

func (t *quietTB) Helper()                   {}
func (t *quietTB) Name() string              { return t.name }
func (t *quietTB) Logf(f string, a ...any)   { t.add(fmt.Sprintf(f, a...)) }
func (t *quietTB) Log(a ...any)              { t.add(fmt.Sprint(a...)) }
func (t *quietTB) Skipf(f string, a ...any)  {}
func (t *quietTB) Skip(a ...any)             {}
func (t *quietTB) SkipNow()                  {}
func (t *quietTB) Errorf(f string, a ...any) { t.fail(fmt.Sprintf(f, a...)) }
func (t *quietTB) Error(a ...any)            { t.fail(fmt.Sprint(a...)) }
func (t *quietTB) Fatalf(f string, a ...any) { t.fail(fmt.Sprintf(f, a...)) }
func (t *quietTB) Fatal(a ...any)            { t.fail(fmt.Sprint(a...)) }
func (t *quietTB) FailNow()                  {}
func (t *quietTB) Fail()                     { t.fail("") }
func (t *quietTB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *quietTB) add(s string) {
	t.mu.Lock()
	t.msgs = append(t.msgs, s)
	t.mu.Unlock()
}

func (t *quietTB) fail(s string) {
	t.mu.Lock()
	t.failed = true
	if s != "" {
		t.msgs = append(t.msgs, s)
	}
	t.mu.Unlock()
}
