package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/targets"
)

func TestPlanPrintsBothStoreTypes(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := dispatch([]string{"plan", "--target", "aws"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	text := out.String()
	for _, st := range model.StoreTypes {
		p := model.PlanFor(st, planOptionsFor(targets.KindAWS))
		for _, want := range []string{
			"Plan for " + string(st) + " stores",
			fmt.Sprintf("state transitions:  %d to cover them", p.Transitions),
			fmt.Sprintf("lower bound:        %d", p.LowerBound),
			fmt.Sprintf("naive plan:         %d", p.Naive),
			"worst-case time:    " + hours(p.WorstCase()),
			fmt.Sprintf("creates:            %d custom key stores", p.Stores),
		} {
			if !strings.Contains(text, want) {
				t.Fatalf("%q missing:\n%s", want, text)
			}
		}
		// Every call is printed, each cell of the walk once.
		for _, id := range p.Covered {
			if strings.Count(text, "cell "+id+"\n") != 1 {
				t.Fatalf("cell %s printed %d times", id, strings.Count(text, "cell "+id+"\n"))
			}
		}
	}
	if !strings.Contains(text, "Both walks, one after the other") {
		t.Fatal("no total")
	}
	// The fixtures' secrets are placeholders, but the rule holds for them
	// too: a plan shows what a secret is, never its value.
	for _, secret := range []string{model.KmsuserPassword, model.WrongKmsuserPassword, model.CredentialA.Secret, model.CredentialB.Secret} {
		if strings.Contains(text, secret) {
			t.Fatalf("a secret in the plan: %q", secret)
		}
	}
	// Without backing control, no control-plane call is planned.
	if strings.Contains(text, "control plane") {
		t.Fatal("the aws plan uses a control plane")
	}
}

func TestPlanSummaryAndTargets(t *testing.T) {
	var full, sum, emu, errOut bytes.Buffer
	if dispatch([]string{"plan", "--store-type", "EXTERNAL_KEY_STORE"}, &full, &errOut) != 0 ||
		dispatch([]string{"plan", "--store-type", "EXTERNAL_KEY_STORE", "--summary"}, &sum, &errOut) != 0 ||
		dispatch([]string{"plan", "--store-type", "EXTERNAL_KEY_STORE", "--target", "emulator"}, &emu, &errOut) != 0 {
		t.Fatalf("exit: %s", errOut.String())
	}
	if strings.Contains(full.String(), "AWS_CLOUDHSM") || strings.Contains(sum.String(), "cell EXTERNAL") || len(sum.String()) >= len(full.String()) {
		t.Fatalf("summary:\n%s", sum.String())
	}
	// The emulator can break a proxy: its plan covers the FAILED cells too.
	if !strings.Contains(emu.String(), "cell EXTERNAL_KEY_STORE/FAILED/") || strings.Contains(full.String(), "cell EXTERNAL_KEY_STORE/FAILED/") {
		t.Fatal("FAILED cells: the emulator's plan should have them, the aws one not")
	}
}

func TestPlanUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"plan", "--target", "moto"},
		{"plan", "--store-type", "HSM"},
		{"plan", "extra"},
		{"plan", "--nope"},
	} {
		var out, errOut bytes.Buffer
		if code := dispatch(args, &out, &errOut); code != 2 {
			t.Fatalf("%q: exit %d", args, code)
		}
		if args[1] != "--nope" && strings.Count(strings.TrimSpace(errOut.String()), "\n") != 0 {
			t.Fatalf("%q: not one line: %q", args, errOut.String())
		}
	}
}
