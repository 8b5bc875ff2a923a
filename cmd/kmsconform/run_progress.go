package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/kmsconform/kmsconform/drive"
	"github.com/kmsconform/kmsconform/reports"
)

// progress tells a person watching a long run (real KMS takes hours) how
// far it is, on stderr, one line at a time:
//
//	kmsconform: 213/639 done · 14m05s elapsed · about 28m left · 2 fail · waiting for the store to settle, 1m12s (at most 18m48s more)
//
// A line comes at most every progressInterval (longer as the run goes on),
// never one per spec on a fast target. The -v flag adds a line for every
// cell and scenario as it ends. Nothing it prints comes from a request or a
// response but a store id, so no secret can reach it; a target chooses its
// store ids, so cell ids and waits are shown through reports.PrintableLine.
type progress struct {
	w       io.Writer
	quiet   bool
	verbose bool
	now     func() time.Time

	mu     sync.Mutex
	start  time.Time
	last   time.Time // the last line printed
	done   int
	total  int
	failed int
	lastID string
	lastV  drive.Verdict
	waits  map[string]*waitSeen
}

// waitSeen is one thing the run waits for: since when, and when it was last
// reported (drive reports a wait at every poll).
type waitSeen struct {
	since, seen, until time.Time
}

func newProgress(w io.Writer, quiet bool) *progress {
	now := time.Now
	return &progress{w: w, quiet: quiet, now: now, start: now(), last: now(), waits: map[string]*waitSeen{}}
}

// progressInterval is the least time between two lines: short while a run
// is young (a person is watching it start), longer for a run of hours (a
// CI log reads them afterwards).
func progressInterval(elapsed time.Duration) time.Duration {
	switch {
	case elapsed < time.Minute:
		return 5 * time.Second
	case elapsed < 10*time.Minute:
		return 15 * time.Second
	default:
		return time.Minute
	}
}

func (p *progress) Start(total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = total
	p.start, p.last = p.now(), p.now()
	if !p.quiet {
		fmt.Fprintf(p.w, "kmsconform: %d specs to run\n", total)
	}
}

func (p *progress) CellDone(id string, v drive.Verdict) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if v == drive.Fail {
		p.failed++
	}
	p.lastID, p.lastV = reports.PrintableLine(id), v
	// The wait that held this cell is over.
	clear(p.waits)
	if p.quiet {
		return
	}
	if p.verbose {
		fmt.Fprintf(p.w, "kmsconform: %d/%d %s %s\n", p.done, p.total, p.lastID, v)
	}
	p.maybePrint("")
}

func (p *progress) Waiting(what string, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	w := p.waits[what]
	if w == nil {
		w = &waitSeen{since: now}
		p.waits[what] = w
	}
	w.seen, w.until = now, until
	// A wait not reported for a while has ended.
	for k, o := range p.waits {
		if now.Sub(o.seen) > time.Minute {
			delete(p.waits, k)
		}
	}
	if !p.quiet {
		p.maybePrint(what)
	}
}

// maybePrint prints a line when the last one is old enough; what, when set,
// is the wait to name.
func (p *progress) maybePrint(what string) {
	now := p.now()
	elapsed := now.Sub(p.start)
	if now.Sub(p.last) < progressInterval(elapsed) {
		return
	}
	p.last = now
	fmt.Fprintln(p.w, p.line(now, what))
}

// line is one progress line at now.
func (p *progress) line(now time.Time, what string) string {
	elapsed := now.Sub(p.start)
	parts := []string{fmt.Sprintf("%d/%d done", p.done, p.total), shortDuration(elapsed) + " elapsed"}
	if p.done > 0 && p.done < p.total {
		left := time.Duration(float64(elapsed) / float64(p.done) * float64(p.total-p.done))
		parts = append(parts, "about "+shortDuration(left)+" left")
	}
	if p.failed > 0 {
		parts = append(parts, fmt.Sprintf("%d fail", p.failed))
	}
	if w := p.waits[what]; what != "" && w != nil {
		s := fmt.Sprintf("%s, %s", reports.PrintableLine(what), shortDuration(now.Sub(w.since)))
		if more := w.until.Sub(now); more > 0 {
			s += fmt.Sprintf(" (at most %s more)", shortDuration(more))
		}
		parts = append(parts, s)
	} else if p.lastID != "" {
		parts = append(parts, fmt.Sprintf("last: %s %s", p.lastID, p.lastV))
	}
	return "kmsconform: " + strings.Join(parts, " · ")
}

// shortDuration is d to the second under an hour (4m12s, 45s), to the
// minute above (2h05m).
func shortDuration(d time.Duration) string {
	d = max(d, 0).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	default:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
}
