package fuzz

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/kmsconform/kmsconform/targets/emulator"
)

var loadOps = flag.Int("load.ops", 0, "operations of TestLoadLinearizable (default 150; make fuzz runs more)")

// TestLoadLinearizable runs 16 concurrent clients on two shared stores of
// the embedded emulator and checks the history with porcupine against the
// model, and that no key or ciphertext was lost.
func TestLoadLinearizable(t *testing.T) {
	tgt, err := emulator.NewTarget(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close(context.Background())
	ops := 150
	if *loadOps > 0 {
		ops = *loadOps
	}
	res, err := Load(context.Background(), LoadConfig{Target: tgt, Ops: ops, Seed: 7, ReportDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d operations by 16 clients in %v; porcupine: %s in %v", res.Ops, res.Elapsed, res.Result, res.CheckTime)
	if res.Result != porcupine.Ok {
		t.Fatalf("the history is %s against the model; visualisation: %s", res.Result, res.Visualization)
	}
	for _, l := range res.Lost {
		t.Error(l)
	}
}

// TestLoadCatchesALostKey gives the load test a mutant that loses a store's
// keys on reconnect: the history or the loss check must say so.
func TestLoadCatchesALostKey(t *testing.T) {
	tgt, err := emulator.NewMutantTarget(context.Background(), nil, "reconnect-loses-keys")
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close(context.Background())
	// The loss check is what must catch it; porcupine may give up on a
	// history this wrong (Unknown), which bounds the test's time.
	res, err := Load(context.Background(), LoadConfig{Target: tgt, Ops: 150, Seed: 7, ReportDir: t.TempDir(), CheckTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Result == porcupine.Ok && len(res.Lost) == 0 {
		t.Fatal("a target that loses keys on reconnect passed the load test")
	}
	if res.Result == porcupine.Illegal && res.Visualization == "" {
		t.Fatal("no visualisation was written for a history that is not linearizable")
	}
	t.Logf("porcupine: %s; %d losses; %s", res.Result, len(res.Lost), res.Visualization)
}
