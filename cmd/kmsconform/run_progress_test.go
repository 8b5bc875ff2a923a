package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kmsconform/kmsconform/drive"
)

// fakeProgress is a progress on a clock the test moves.
func fakeProgress(quiet, verbose bool) (*progress, *bytes.Buffer, *time.Time) {
	var buf bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newProgress(&buf, quiet)
	p.verbose = verbose
	p.now = func() time.Time { return now }
	return p, &buf, &now
}

func lines(b *bytes.Buffer) []string {
	s := strings.TrimRight(b.String(), "\n")
	b.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestProgressLines: done / total, elapsed, an estimate of the time left,
// the fails so far and the wait in progress (what, for how long, for how
// long at most), on lines of their own, no more often than the interval.
func TestProgressLines(t *testing.T) {
	p, out, now := fakeProgress(false, false)
	p.Start(10)
	if got := lines(out); len(got) != 1 || got[0] != "kmsconform: 10 specs to run" {
		t.Fatalf("start: %q", got)
	}
	// A fast target: no line per spec.
	p.CellDone("AWS_CLOUDHSM/CONNECTED/CreateKey", drive.Pass)
	*now = now.Add(time.Second)
	p.CellDone("AWS_CLOUDHSM/CONNECTED/Encrypt", drive.Fail)
	if got := lines(out); len(got) != 0 {
		t.Fatalf("a line within the interval: %q", got)
	}
	*now = now.Add(5 * time.Second)
	p.CellDone("AWS_CLOUDHSM/CONNECTED/Decrypt", drive.Unsupported)
	want := "kmsconform: 3/10 done · 6s elapsed · about 14s left · 1 fail · last: AWS_CLOUDHSM/CONNECTED/Decrypt unsupported"
	if got := lines(out); len(got) != 1 || got[0] != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	// A wait: named with how long it has lasted and may last.
	what := "waiting for cks-1234 CONNECTING → CONNECTED"
	p.Waiting(what, now.Add(20*time.Minute))
	*now = now.Add(4*time.Minute + 12*time.Second)
	p.Waiting(what, now.Add(15*time.Minute+48*time.Second))
	want = "kmsconform: 3/10 done · 4m18s elapsed · about 10m02s left · 1 fail · " + what + ", 4m12s (at most 15m48s more)"
	if got := lines(out); len(got) != 1 || got[0] != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	// Past 10 minutes, a line a minute at most.
	*now = now.Add(10 * time.Minute)
	p.CellDone("x", drive.Pass)
	lines(out)
	for i := 0; i < 11; i++ {
		*now = now.Add(5 * time.Second)
		p.Waiting(what, now.Add(time.Hour))
	}
	if got := lines(out); len(got) != 0 {
		t.Errorf("lines within a minute of the last, past 10 minutes: %q", got)
	}
	*now = now.Add(5 * time.Second)
	p.Waiting(what, now.Add(2*time.Hour))
	if got := lines(out); len(got) != 1 || !strings.HasSuffix(got[0], what+", 55s (at most 2h00m more)") {
		t.Errorf("after a minute: %q", got)
	}
}

// TestProgressQuietAndVerbose: a shard's progress is silent (its parent
// speaks); -v adds a line per cell and scenario.
func TestProgressQuietAndVerbose(t *testing.T) {
	p, out, now := fakeProgress(true, false)
	p.Start(3)
	*now = now.Add(time.Hour)
	p.CellDone("a", drive.Fail)
	p.Waiting("waiting for the store to settle", now.Add(time.Minute))
	if out.Len() != 0 {
		t.Errorf("a quiet progress printed %q", out.String())
	}
	p, out, _ = fakeProgress(false, true)
	p.Start(3)
	p.CellDone("a", drive.Pass)
	p.CellDone("scenario b", drive.Fail)
	got := lines(out)
	if len(got) != 3 || got[1] != "kmsconform: 1/3 a pass" || got[2] != "kmsconform: 2/3 scenario b fail" {
		t.Errorf("verbose: %q", got)
	}
	// The shape TestRunNothingChecked accepts on stderr.
	if !regexp.MustCompile(`^kmsconform: \d+/\d+ `).MatchString(got[1]) {
		t.Errorf("%q", got[1])
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 400 * time.Millisecond: "0s", 59*time.Second + 600*time.Millisecond: "1m00s",
		4*time.Minute + 12*time.Second: "4m12s", 2*time.Hour + 5*time.Minute + 20*time.Second: "2h05m", -time.Second: "0s",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
}

// TestProgressHostile: a store id comes from the target's answer, and a
// hostile target's id reaches the progress line; it is shown with its
// control characters as escapes, on the line.
func TestProgressHostile(t *testing.T) {
	const id = "cks-\x1b[2J\x1b]0;title\x07\u202eevil\r\nINJECTED\u009b31m"
	p, out, now := fakeProgress(false, true)
	p.Start(3)
	p.CellDone("AWS_CLOUDHSM/CONNECTED/"+id, drive.Fail)
	*now = now.Add(10 * time.Second)
	p.Waiting("waiting for "+id+" CONNECTING → CONNECTED", now.Add(time.Minute))
	s := out.String()
	for i, r := range s {
		if r != '\n' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e)) {
			t.Fatalf("%U at %d: %q", r, i, s)
		}
	}
	got := lines(out)
	if len(got) != 3 || !strings.Contains(got[1], `cks-\x1b[2J\x1b]0;title\x07\u202eevil INJECTED\u009b31m fail`) ||
		!strings.Contains(got[2], `waiting for cks-\x1b[2J`) {
		t.Errorf("%q", got)
	}
}
