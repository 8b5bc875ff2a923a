package fuzz

import (
	"context"
	"testing"

	"pgregory.net/rapid"

	"github.com/kmsconform/kmsconform/targets/emulator"
)

// BenchmarkModelVsTarget reports model-checked steps per second of the
// rapid machine against the in-process emulator (each step: a call or a
// settling, the model's outcome sets over the set of worlds, and the
// observations of what the step may have changed; every case ends with a
// full observation). One iteration is 100 rapid cases.
func BenchmarkModelVsTarget(b *testing.B) {
	tgt, err := emulator.NewTarget(context.Background(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tgt.Close(context.Background())
	r := &Runner{Target: tgt}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rapid.Check(b, r.Run)
	}
	b.ReportMetric(float64(r.Steps())/b.Elapsed().Seconds(), "steps/s")
}

// BenchmarkLoad reports the operations per second of 16 concurrent clients
// and the time porcupine takes to check their history.
func BenchmarkLoad(b *testing.B) {
	tgt, err := emulator.NewTarget(context.Background(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tgt.Close(context.Background())
	var ops int
	var issue, check float64
	for i := 0; i < b.N; i++ {
		res, err := Load(context.Background(), LoadConfig{Target: tgt, Ops: 400, Seed: uint64(i), ReportDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		if res.Result != "Ok" || len(res.Lost) > 0 {
			b.Fatalf("porcupine %s, %d losses", res.Result, len(res.Lost))
		}
		ops += res.Ops
		issue += res.Elapsed.Seconds()
		check += res.CheckTime.Seconds()
	}
	b.ReportMetric(float64(ops)/issue, "ops/s")
	b.ReportMetric(check/float64(b.N), "porcupine-s/run")
}
