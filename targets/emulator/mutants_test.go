package emulator

import (
	"context"
	"strings"
	"testing"
)

func TestMutantsAreNamedAndOffByDefault(t *testing.T) {
	if len(Mutants) < 25 {
		t.Fatalf("%d mutants; the mutation score needs at least 25", len(Mutants))
	}
	seen := map[string]bool{}
	for _, m := range Mutants {
		if seen[m.Name] || m.Name == "" || m.Description == "" || m.Op == "" {
			t.Fatalf("mutant %+v: duplicate or undescribed", m)
		}
		seen[m.Name] = true
	}
	if _, err := New(Options{Mutant: "no-such-mutant"}); err == nil || !strings.Contains(err.Error(), "unknown mutant") {
		t.Fatalf("an unknown mutant was accepted: %v", err)
	}
	e, err := New(Options{})
	if err != nil || e.opts.Mutant != "" {
		t.Fatalf("the zero Options run a mutant: %q %v", e.opts.Mutant, err)
	}
	// The production constructor never runs a mutant, whatever the
	// environment says: only an explicit NewMutantTarget does.
	t.Setenv(MutantEnv, Mutants[0].Name)
	tgt, err := NewTarget(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close(context.Background())
	if tgt.Name() != "emulator" {
		t.Fatalf("target name %q", tgt.Name())
	}
	mt, err := NewMutantTarget(context.Background(), nil, Mutants[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	defer mt.Close(context.Background())
	if !strings.Contains(mt.Name(), Mutants[0].Name) {
		t.Fatalf("a mutant target must say so in its name: %q", mt.Name())
	}
}
