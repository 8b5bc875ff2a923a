package fuzz

import (
	"context"
	"flag"
	"testing"

	"pgregory.net/rapid"

	"github.com/kmsconform/kmsconform/drive"
	"github.com/kmsconform/kmsconform/targets"
)

// openTarget opens the target the environment names, as `kmsconform run`
// does (KMSCONFORM_TARGET, KMSCONFORM_ENDPOINT, KMSCONFORM_REGION,
// KMSCONFORM_CONFIG); the embedded emulator by default.
func openTarget(t testing.TB) targets.Target {
	t.Helper()
	spec := drive.SpecFromEnv()
	tgt, err := drive.Open(context.Background(), spec)
	if err != nil {
		t.Fatalf("opening the %s target: %v", spec.Kind, err)
	}
	t.Cleanup(func() { _ = tgt.Close(context.Background()) })
	return tgt
}

// TestModelVsTarget is the rapid state machine: random sequences of every
// model operation and control-plane action, each answer checked against the
// set of worlds the model allows. `go test -rapid.checks=2000` runs it long.
func TestModelVsTarget(t *testing.T) {
	if !explicit("rapid.checks") {
		// make test: a short run; make fuzz sets -rapid.checks.
		_ = flag.Set("rapid.checks", "25")
		defer func() { _ = flag.Set("rapid.checks", "100") }()
	}
	tgt := openTarget(t)
	r := &Runner{Target: tgt}
	rapid.Check(t, r.Run)
	t.Logf("%d model-checked steps against %s", r.Steps(), tgt.Name())
}

// explicit reports whether a flag was set on the command line.
func explicit(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}
