// Command mutate measures the suites with mutants nobody chose: it parses
// the emulator's behaviour files, makes every one-token mutant of a fixed
// set of operators (negated and shifted comparisons, && and || swapped, a
// dropped !, swapped arithmetic on numbers, ++ and -- swapped), and runs
// `kmsconform run --target emulator` against each in a private copy of the
// module. A mutant the run does not fail on survives: either it changes
// nothing the KMS API shows (then equivalent.txt says so, with the reason)
// or it is a hole in the suites.
//
//	go run ./cmd/mutate [-list] [-only substring] [-again file.jsonl] [-sample N -seed S] [-shuffle] [-j N] [-timeout d] [-results file.jsonl]
//	go run ./cmd/mutate -rescore file.jsonl
//
// It exits 1 when a mutant that is not listed as equivalent survives (or a
// build failed for a reason that was not the mutant's), 2 on a setup error.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	os.Exit(mainErr())
}

func mainErr() int {
	jobs := flag.Int("j", 1, "mutants run in parallel (each worker has its own copy of the module)")
	only := flag.String("only", "", "run only the mutants whose id contains this substring")
	sample := flag.Int("sample", 0, "run a random sample of this many mutants (after -only)")
	seed := flag.Uint64("seed", 1, "the seed of -sample")
	shuffle := flag.Bool("shuffle", false, "run the mutants in a random order (by -seed), so a run cut short leaves a uniform sample")
	list := flag.Bool("list", false, "print the mutants (id, position, mutated line) and their counts; run nothing")
	timeout := flag.Duration("timeout", 0, "the longest one mutant's run may take; a timeout counts as killed (default: 60s + 6 × the unmutated run)")
	eqFile := flag.String("equivalent", "", "the equivalent mutants (default: cmd/mutate/equivalent.txt)")
	resultsFile := flag.String("results", "", "append each mutant's result to this file (JSON lines)")
	rescore := flag.String("rescore", "", "print the score of an earlier -results file against the current mutants and equivalent list; run nothing")
	again := flag.String("again", "", "run only the mutants this earlier -results file does not record as killed (survivors, and mutants it never ran)")
	flag.Parse()
	if *jobs < 1 {
		*jobs = 1
	}

	root, err := moduleRoot()
	if err != nil {
		return fail(err)
	}
	all, srcs, err := load(root)
	if err != nil {
		return fail(err)
	}
	if *eqFile == "" {
		*eqFile = filepath.Join(root, "cmd", "mutate", "equivalent.txt")
	}
	eq, err := readEquivalent(*eqFile)
	if err != nil {
		return fail(err)
	}
	ids := map[string]bool{}
	for _, m := range all {
		if ids[m.ID] {
			return fail(fmt.Errorf("two mutants share the id %s", m.ID))
		}
		ids[m.ID] = true
	}
	var stale []string
	for id := range eq {
		if !ids[id] {
			stale = append(stale, id)
		}
	}
	sort.Strings(stale)

	sel := all
	if *only != "" {
		sel = slices.DeleteFunc(slices.Clone(sel), func(m mutant) bool { return !strings.Contains(m.ID, *only) })
	}
	if *again != "" {
		earlier, err := readResults(*again)
		if err != nil {
			return fail(err)
		}
		sel = slices.DeleteFunc(slices.Clone(sel), func(m mutant) bool { return earlier[m.ID].Verdict == vKilled })
	}
	if *sample > 0 && *sample < len(sel) {
		r := rand.New(rand.NewPCG(*seed, 0x6d75746174650a))
		picked := r.Perm(len(sel))[:*sample]
		sort.Ints(picked)
		var s []mutant
		for _, i := range picked {
			s = append(s, sel[i])
		}
		sel = s
	}

	if *list {
		fmt.Print(counts(all))
		fmt.Println()
		for _, m := range sel {
			mark := ""
			if _, ok := eq[m.ID]; ok {
				mark = "  [equivalent]"
			}
			fmt.Printf("%s  %s%s\n    %s\n", m.ID, position(m), mark, m.line(srcs[m.File].src))
		}
		fmt.Printf("\n%d mutants (%d selected) in %d files\n", len(all), len(sel), len(behaviourFiles))
		printStale(os.Stdout, stale)
		return 0
	}

	var toRun, equivalent []mutant
	for _, m := range sel {
		if _, ok := eq[m.ID]; ok {
			equivalent = append(equivalent, m)
		} else {
			toRun = append(toRun, m)
		}
	}

	if *rescore != "" {
		results, err := readResults(*rescore)
		if err != nil {
			return fail(err)
		}
		var got []result
		var notRun int
		for _, m := range toRun {
			if r, ok := results[m.ID]; ok {
				got = append(got, r)
			} else {
				notRun++
			}
		}
		return summary(os.Stdout, sel, got, equivalent, eq, srcs, stale, notRun, 0)
	}

	if *shuffle {
		r := rand.New(rand.NewPCG(*seed, 0x73687566666c65))
		r.Shuffle(len(toRun), func(i, j int) { toRun[i], toRun[j] = toRun[j], toRun[i] })
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	began := time.Now()
	tmp, err := os.MkdirTemp("", "mutate-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintf(os.Stderr, "mutate: %d mutants, %d selected, %d of them equivalent (not run); %d workers in %s\n",
		len(all), len(sel), len(equivalent), *jobs, tmp)
	var workers []*workspace
	for i := range *jobs {
		w := &workspace{root: filepath.Join(tmp, fmt.Sprintf("w%d", i))}
		w.dir = filepath.Join(w.root, "mod")
		if err := copyModule(root, w.dir); err != nil {
			return fail(fmt.Errorf("copying the module: %w", err))
		}
		workers = append(workers, w)
	}

	// The unmutated copy must pass, or every mutant would count as killed.
	t0 := time.Now()
	if out, err := workers[0].build(ctx); err != nil {
		return fail(fmt.Errorf("the unmutated module does not build; nothing was mutated:\n%s", out))
	}
	exit, _, tail, err := workers[0].run(ctx, 30*time.Minute)
	if err != nil {
		return fail(err)
	}
	if exit != 0 {
		return fail(fmt.Errorf("the unmutated emulator fails `kmsconform run --target emulator` (exit %d), so no mutant can be judged; fix that first. Its last lines:\n%s",
			exit, lastLines(tail, 15)))
	}
	base := time.Since(t0)
	if *timeout == 0 {
		*timeout = 60*time.Second + 6*base
	}
	fmt.Fprintf(os.Stderr, "mutate: the unmutated copy passes (build and run %s); per-mutant timeout %s\n",
		base.Round(100*time.Millisecond), timeout.Round(time.Second))

	var rf io.Writer
	if *resultsFile != "" {
		f, err := os.OpenFile(*resultsFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		rf = f
	}

	work := make(chan mutant)
	done := make(chan result)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range work {
				done <- w.try(ctx, m, srcs[m.File], *timeout)
			}
		}()
	}
	go func() {
		defer close(work)
		for _, m := range toRun {
			select {
			case work <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(done) }()

	var results []result
	for r := range done {
		if r.Verdict == vInterrupted {
			continue // counted as not run
		}
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "[%*d/%d] %-10s %6.1fs  %s  %s\n", len(fmt.Sprint(len(toRun))), len(results), len(toRun),
			r.Verdict, r.Duration.Seconds(), r.ID, r.Pos)
		if rf != nil {
			b, _ := json.Marshal(r)
			fmt.Fprintf(rf, "%s\n", b)
		}
	}
	notRun := len(toRun) - len(results)
	if ctx.Err() != nil {
		fmt.Fprintf(os.Stderr, "mutate: interrupted; %d mutants not run\n", notRun)
	}
	return summary(os.Stdout, sel, results, equivalent, eq, srcs, stale, notRun, time.Since(began))
}

// summary prints the score and the survivors; it returns the exit code.
func summary(w io.Writer, sel []mutant, results []result, equivalent []mutant, reasons map[string]string,
	srcs map[string]*source, stale []string, notRun int, wall time.Duration) int {
	byID := map[string]mutant{}
	for _, m := range sel {
		byID[m.ID] = m
	}
	n := map[string]int{}
	var survivors, errs []result
	for _, r := range results {
		n[r.Verdict]++
		switch r.Verdict {
		case vSurvived:
			survivors = append(survivors, r)
		case vError:
			errs = append(errs, r)
		}
	}
	killed := n[vKilled] + n[vTimeout]
	viable := killed + n[vSurvived]
	pct := 0.0
	if viable > 0 {
		pct = 100 * float64(killed) / float64(viable)
	}
	fmt.Fprintf(w, "\nscore: %d killed / %d viable = %.1f%% (%d of the kills by timeout); %d not viable; %d equivalent (excluded, not run)",
		killed, viable, pct, n[vTimeout], n[vNotViable], len(equivalent))
	if len(errs) > 0 {
		fmt.Fprintf(w, "; %d errors", len(errs))
	}
	if notRun > 0 {
		fmt.Fprintf(w, "; %d not run", notRun)
	}
	if wall > 0 {
		fmt.Fprintf(w, "; wall time %s", wall.Round(time.Second))
	}
	fmt.Fprintln(w)
	if len(equivalent) > 0 {
		fmt.Fprintf(w, "\nequivalent (%d):\n", len(equivalent))
		for _, m := range equivalent {
			fmt.Fprintf(w, "  %s  %s\n    %s\n", m.ID, position(m), reasons[m.ID])
		}
	}
	for _, r := range errs {
		fmt.Fprintf(w, "\nerror: %s  %s: %s\n", r.ID, r.Pos, r.Detail)
	}
	sort.Slice(survivors, func(i, j int) bool {
		return order(byID[survivors[i].ID].File) < order(byID[survivors[j].ID].File) ||
			byID[survivors[i].ID].File == byID[survivors[j].ID].File && byID[survivors[i].ID].Offset < byID[survivors[j].ID].Offset
	})
	if len(survivors) > 0 {
		fmt.Fprintf(w, "\nsurvivors (%d):\n", len(survivors))
		for _, r := range survivors {
			m := byID[r.ID]
			fmt.Fprintf(w, "  %s  %s\n    %s\n", r.ID, position(m), m.line(srcs[m.File].src))
		}
	}
	printStale(w, stale)
	if len(survivors) > 0 || len(errs) > 0 {
		return 1
	}
	return 0
}

func printStale(w io.Writer, stale []string) {
	if len(stale) == 0 {
		return
	}
	fmt.Fprintf(w, "\nstale: %d ids in equivalent.txt match no mutant (remove them or update their ids):\n", len(stale))
	for _, id := range stale {
		fmt.Fprintf(w, "  %s\n", id)
	}
}

// readEquivalent reads the equivalent mutants: one a line, the id, a space
// and the reason; blank lines and lines starting with # are skipped.
func readEquivalent(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	eq := map[string]string{}
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		id, reason, _ := strings.Cut(l, " ")
		if reason = strings.TrimSpace(reason); reason == "" {
			return nil, fmt.Errorf("%s:%d: %s has no reason", path, ln, id)
		}
		if _, dup := eq[id]; dup {
			return nil, fmt.Errorf("%s:%d: %s is listed twice", path, ln, id)
		}
		eq[id] = reason
	}
	return eq, sc.Err()
}

func readResults(path string) (map[string]result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]result{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out[r.ID] = r // a later line wins
	}
	return out, sc.Err()
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the kmsconform module")
	}
	return filepath.Dir(gomod), nil
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "mutate:", err)
	return 2
}
