package fuzz

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/targets/emulator"
)

var compileRepro = flag.Bool("fuzz.compile", false, "also compile the printed program (make fuzz; slow: it builds the SDK)")

// recordTB is a rapid.TB that records a failure instead of failing the
// test, so a test can look at what rapid shrank.
type recordTB struct {
	testing.TB
	failed bool
}

func (r *recordTB) Errorf(string, ...any) { r.failed = true }
func (r *recordTB) Error(...any)          { r.failed = true }
func (r *recordTB) Fatalf(string, ...any) { r.failed = true }
func (r *recordTB) Fatal(...any)          { r.failed = true }
func (r *recordTB) Fail()                 { r.failed = true }
func (r *recordTB) FailNow()              {}
func (r *recordTB) Failed() bool          { return r.failed }
func (r *recordTB) Logf(string, ...any)   {}
func (r *recordTB) Log(...any)            {}

// TestShrunkProgram runs the machine against a mutant that accepts a
// duplicate store name: rapid must find it, shrink it to a handful of
// steps, and the printer must make a Go program of it that compiles and
// holds no secret.
func TestShrunkProgram(t *testing.T) {
	tgt, err := emulator.NewMutantTarget(context.Background(), nil, "create-duplicate-name")
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close(context.Background())
	_ = flag.Set("rapid.nofailfile", "true")
	defer func() { _ = flag.Set("rapid.nofailfile", "false") }()
	r := &Runner{Target: tgt}
	tb := &recordTB{TB: t}
	rapid.Check(tb, r.Run)
	if !tb.failed {
		t.Fatal("the machine did not notice a duplicate store name")
	}
	steps := r.Last()
	if len(steps) == 0 || len(steps) > 6 {
		t.Fatalf("shrunk to %d steps", len(steps))
	}
	prog := Program(steps)
	for _, secret := range []string{model.KmsuserPassword, model.WrongKmsuserPassword, model.CredentialA.Secret, model.CredentialB.Secret} {
		if strings.Contains(prog, secret) {
			t.Fatalf("the program shows a secret:\n%s", prog)
		}
	}
	if !strings.Contains(prog, "client.CreateCustomKeyStore(") || !strings.Contains(prog, `os.Getenv("KMSCONFORM_SECRET_1")`) {
		t.Fatalf("the program does not replay the creates:\n%s", prog)
	}
	if !*compileRepro {
		return
	}
	// It must compile: build it inside the module, where the SDK resolves.
	dir, err := os.MkdirTemp("testdata", "repro-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "vet", "./"+filepath.ToSlash(dir)).CombinedOutput()
	if err != nil {
		t.Fatalf("the program does not compile: %v\n%s\n%s", err, out, numbered(prog))
	}
}

func numbered(s string) string {
	var b strings.Builder
	for i, l := range strings.Split(s, "\n") {
		fmt.Fprintf(&b, "%3d %s\n", i+1, l)
	}
	return b.String()
}

// TestShrinksDeepDefect runs the machine against the mutant whose defect
// lies deepest (the kmsuser lock-out is never counted, so it shows only
// after a store has failed to log in five times): rapid must find it and
// shrink it to at most 6 actions. The seed is fixed so that the test is
// the same on every run; `make mutants` measures every mutant on fresh
// seeds.
func TestShrinksDeepDefect(t *testing.T) {
	tgt, err := emulator.NewMutantTarget(context.Background(), nil, "kmsuser-lockout-not-counted")
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close(context.Background())
	for name, value := range map[string]string{"rapid.nofailfile": "true", "rapid.seed": "7", "rapid.checks": "300"} {
		old := flag.Lookup(name).Value.String()
		_ = flag.Set(name, value)
		defer func() { _ = flag.Set(name, old) }()
	}
	r := &Runner{Target: tgt}
	tb := &recordTB{TB: t}
	rapid.Check(tb, r.Run)
	if !tb.failed {
		t.Fatal("the machine did not notice the lock-out is never counted")
	}
	if n := r.Actions(); n == 0 || n > 6 {
		t.Fatalf("shrunk to %d actions (%d steps):\n%s", n, len(r.Last()), Program(r.Last()))
	}
	last := r.Last()[len(r.Last())-1]
	if !strings.Contains(last.Failure, "USER_LOCKED_OUT") {
		t.Fatalf("the shrunk sequence fails for another reason: %s", last.Failure)
	}
}
