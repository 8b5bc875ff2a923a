package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kmsconform/kmsconform/targets/emulator"
)

// Verdicts of one mutant.
const (
	vKilled    = "killed"
	vTimeout   = "timeout" // killed by the per-mutant timeout
	vSurvived  = "survived"
	vNotViable = "not-viable"
	vError     = "error" // the build failed for a reason that is not the mutant's

	vInterrupted = "interrupted" // cut short by an interrupt: not run
)

type result struct {
	ID       string        `json:"id"`
	Pos      string        `json:"pos"`
	Verdict  string        `json:"verdict"`
	Exit     int           `json:"exit"`
	Duration time.Duration `json:"duration"`
	Detail   string        `json:"detail,omitempty"`
}

// workspace is one private copy of the module: mutants are written into it,
// built and run there, and the file is restored afterwards.
type workspace struct {
	root string // the worker's temporary directory: the binary, the reports
	dir  string // the module's copy, root/mod
	n    int    // the mutants it ran, for the report directories
}

// skipped are left out of the copy: history, results and built binaries.
var skipped = map[string]bool{".git": true, "reports/out": true, ".bin": true, "kmsconform": true}

// copyModule copies the module at root into dst.
func copyModule(root, dst string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if skipped[filepath.ToSlash(rel)] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		case !d.Type().IsRegular():
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		info, err := in.Stat()
		if err != nil {
			return err
		}
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

func (w *workspace) bin() string { return filepath.Join(w.root, "kmsconform") }

// build builds kmsconform in the workspace; the output is the compiler's.
func (w *workspace) build(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags=-s -w", "-o", w.bin(), "./cmd/kmsconform")
	cmd.Dir = w.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// run runs the conformance, scenario and validation suites against the
// embedded emulator; it returns the exit code, or timedOut.
func (w *workspace) run(ctx context.Context, timeout time.Duration) (exit int, timedOut bool, tail string, err error) {
	w.n++
	out := filepath.Join(w.root, fmt.Sprintf("out-%d", w.n))
	defer os.RemoveAll(out)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin(), "run", "--target", "emulator", "--report-dir", out)
	cmd.Dir = w.dir
	cmd.Env = withoutEnv(os.Environ(), emulator.MutantEnv)
	// The run starts its own processes (--procs, the XKS proxy): a timeout
	// ends the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var buf tailBuffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err = cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return -1, true, buf.String(), nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), false, buf.String(), nil
	}
	if err != nil {
		return -1, false, buf.String(), err
	}
	return 0, false, buf.String(), nil
}

// try writes the mutant into the workspace, builds and runs it, and
// restores the file whatever happens.
func (w *workspace) try(ctx context.Context, m mutant, src *source, timeout time.Duration) (r result) {
	start := time.Now()
	r = result{ID: m.ID, Pos: position(m)}
	defer func() {
		r.Duration = time.Since(start)
		if ctx.Err() != nil {
			r.Verdict = vInterrupted
		}
	}()
	path := filepath.Join(w.dir, filepath.FromSlash(src.rel))
	mut, err := m.apply(src.src)
	if err != nil {
		r.Verdict, r.Detail = vError, err.Error()
		return r
	}
	if err := os.WriteFile(path, mut, 0o644); err != nil {
		r.Verdict, r.Detail = vError, err.Error()
		return r
	}
	defer func() {
		if err := os.WriteFile(path, src.src, 0o644); err != nil {
			panic(fmt.Sprintf("restoring %s: %v", path, err))
		}
	}()
	bctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	out, err := w.build(bctx)
	cancel()
	if err != nil {
		r.Detail = firstLine(out)
		// A compile error names the mutated file; anything else is not the
		// mutant's doing.
		if strings.Contains(out, filepath.Base(src.rel)+":") {
			r.Verdict = vNotViable
		} else {
			r.Verdict = vError
			if r.Detail == "" {
				r.Detail = err.Error()
			}
		}
		return r
	}
	exit, timedOut, tail, err := w.run(ctx, timeout)
	r.Exit = exit
	switch {
	case err != nil:
		r.Verdict, r.Detail = vError, err.Error()
	case timedOut:
		r.Verdict = vTimeout
	case exit != 0:
		r.Verdict, r.Detail = vKilled, lastLines(tail, 3)
	default:
		r.Verdict = vSurvived
	}
	return r
}

func position(m mutant) string {
	return fmt.Sprintf("%s:%d:%d", m.Pos.Filename, m.Pos.Line, m.Pos.Column)
}

func withoutEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return ""
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " | ")
}

// tailBuffer keeps the last 64 KiB written to it.
type tailBuffer struct{ b bytes.Buffer }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b.Write(p)
	if t.b.Len() > 64<<10 {
		keep := append([]byte(nil), t.b.Bytes()[t.b.Len()-32<<10:]...)
		t.b.Reset()
		t.b.Write(keep)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return t.b.String() }
