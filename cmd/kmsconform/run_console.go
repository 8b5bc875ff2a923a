package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/onsi/ginkgo/v2/formatter"

	"github.com/kmsconform/kmsconform/reports"
	"github.com/kmsconform/kmsconform/suites/harness"
)

// The console of `kmsconform run` is kmsconform's, not Ginkgo's. Ginkgo's
// reporter counts specs and knows nothing of the gate: it printed every
// known deviation as [FAILED], each failure three times, a harness source
// line under each, and "FAIL! -- 0 Passed | 13 Failed" above "gate passed".
// So the run keeps Ginkgo's reporter off the terminal and prints, from
// compat.json, each failing cell once — its id, what it answered, what the
// model allows, its rules and their AWS pages — and each known deviation as
// known, not failed.

// GinkgoLogName is Ginkgo's own output, written next to compat.json when a
// spec failed for something compat.json does not hold (a panic, a timeout,
// an interrupt: harness.SpecProblems).
const GinkgoLogName = "ginkgo.log"

// lockedBuffer is a bytes.Buffer one goroutine reads while another writes
// it: Ginkgo's console while it is off the terminal, and in the tests what
// a child process prints.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

func (l *lockedBuffer) String() string { return string(l.Bytes()) }

// captureGinkgo points Ginkgo's console reporter (made by RunSpecs) at a
// buffer; the function it returns puts the terminal back and returns what
// Ginkgo printed.
func captureGinkgo() func() []byte {
	buf := &lockedBuffer{}
	old := formatter.ColorableStdOut
	formatter.ColorableStdOut = buf
	return func() []byte {
		formatter.ColorableStdOut = old
		return buf.Bytes()
	}
}

// noticeInterrupts says on stderr, once, that an interrupt was taken: Ginkgo,
// whose console is captured, handles it (the spec stops, cleanup runs,
// the report is written), which against real KMS takes a while.
func noticeInterrupts(stderr io.Writer) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			fmt.Fprintf(stderr, "kmsconform run: %s: stopping; cleaning up what the run created, then writing the reports\n", sig)
		case <-done:
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// reportSpecProblems says on stderr, one line each, which specs failed for
// something other than a verdict (harness.SpecProblems), and keeps Ginkgo's
// output for them in dir.
func reportSpecProblems(dir string, ginkgoLog []byte, stderr io.Writer) {
	problems := harness.SpecProblems()
	if len(problems) == 0 {
		return
	}
	for _, p := range problems {
		fmt.Fprintf(stderr, "kmsconform run: spec problem: %s\n", p)
	}
	path := filepath.Join(dir, GinkgoLogName)
	if err := os.MkdirAll(dir, 0o755); err == nil {
		if err := os.WriteFile(path, ginkgoLog, 0o644); err == nil {
			fmt.Fprintf(stderr, "kmsconform run: Ginkgo's output is in %s\n", path)
		}
	}
}

// maxFailureBlocks is how many failing cells the console shows in full;
// compat.md lists them all.
const maxFailureBlocks = 20

// consoleSummary is reports.TerminalSummary with the failures in full, each
// once (FailureText), and, in a gate (g set), the known deviations as known.
// The strings of compat.json and of the expectations are data (a target
// chose its ids and messages; either file may be someone else's): each is
// shown through reports.PrintableLine, and the whole text through
// reports.Printable once more.
func consoleSummary(c *reports.Compat, path string, g *reports.GateResult) string {
	known := 0
	if g != nil {
		known = len(g.Known)
	}
	return reports.Printable(reports.SummaryHead(c, known) + consoleFailures(c, g) + reports.ResultsLine(path))
}

// consoleFailures renders the failing cells and scenarios: in full when
// they fail the run, one line when the gate knows them.
func consoleFailures(c *reports.Compat, g *reports.GateResult) string {
	known := map[string]*reports.Deviation{}
	notes := map[string]string{}
	if g != nil {
		for _, e := range g.Known {
			known[e.ID] = e.Deviation
		}
		for _, e := range g.Unexpected {
			if e.Deviation != nil {
				notes[e.ID] = e.Note
			}
		}
	}
	// The cells and scenarios as printed; c's own are the gate's keys.
	shown := c.MapStrings(reports.PrintableLine)
	var full, knownLines strings.Builder
	blocks, more := 0, 0
	block := func(text, note string) {
		if blocks == maxFailureBlocks {
			more++
			return
		}
		blocks++
		for _, l := range strings.SplitAfter(strings.TrimRight(text, "\n")+"\n", "\n") {
			if l != "" {
				full.WriteString("  " + l)
			}
		}
		if note != "" {
			fmt.Fprintf(&full, "    gate: %s\n", reports.PrintableLine(note))
		}
	}
	knownLine := func(label, observed string, d *reports.Deviation) {
		fmt.Fprintf(&knownLines, "  known deviation %s", label)
		if observed != "" {
			fmt.Fprintf(&knownLines, ": answered %s", observed)
		}
		if reason, _, _ := strings.Cut(strings.TrimSpace(d.Reason), "\n"); reason != "" {
			fmt.Fprintf(&knownLines, " (%s)", reports.PrintableLine(reason))
		}
		knownLines.WriteString("\n")
	}
	for i, cell := range c.Cells {
		if cell.Verdict != reports.Fail {
			continue
		}
		if d := known[cell.ID]; d != nil {
			knownLine(shown.Cells[i].ID, shown.Cells[i].Observed, d)
			continue
		}
		block(harness.FailureText(shown.Cells[i]), notes[cell.ID])
	}
	for i, s := range c.Scenarios {
		if s.Verdict != reports.Fail {
			continue
		}
		if d := known[s.Name]; d != nil {
			knownLine("scenario "+shown.Scenarios[i].Name, "", d)
			continue
		}
		block(harness.ScenarioFailureText(shown.Scenarios[i]), notes[s.Name])
	}
	if more > 0 {
		fmt.Fprintf(&full, "  … and %d more failures (compat.md lists them all)\n", more)
	}
	return full.String() + knownLines.String()
}

// gateLines is the gate's judgement without its list of unexpected
// failures, which consoleSummary printed in full: the verdict line, then
// what is fixed or was not checked.
func gateLines(g *reports.GateResult) string {
	var b strings.Builder
	for i, l := range strings.SplitAfter(g.Text(), "\n") {
		if i == 0 || strings.HasPrefix(l, "  fixed") || strings.HasPrefix(l, "  not checked") {
			b.WriteString(l)
		}
	}
	return b.String()
}
