package reports

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmsconform/kmsconform/model"
)

func sample() *Compat {
	c := &Compat{Schema: Schema, ModelRevision: "r1-test", Target: Target{Name: "emulator", Kind: "emulator"},
		StartedAt: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC),
		Cells: []Cell{
			{ID: "b", StoreType: "AWS_CLOUDHSM", State: "CONNECTED", Operation: "ConnectCustomKeyStore", Provenance: "C", Expected: []string{"success"}, Observed: "success", Verdict: Pass},
			{ID: "a", StoreType: "EXTERNAL_KEY_STORE", State: NonexistentState, Operation: "CreateKey", Provenance: "D", Expected: []string{"CustomKeyStoreNotFoundException"}, Observed: "success", Verdict: Fail},
		},
		Scenarios: []Scenario{{Name: "lifecycle", Verdict: Unreachable}},
	}
	c.Finish()
	return c
}

func TestRoundTripAndSummary(t *testing.T) {
	c := sample()
	if c.Cells[0].ID != "a" || c.Summary.Pass != 1 || c.Summary.Fail != 1 || c.Summary.Unreachable != 1 {
		t.Fatalf("Finish: %+v %+v", c.Cells, c.Summary)
	}
	var buf bytes.Buffer
	if err := c.Write(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if back.Summary != c.Summary || len(back.Cells) != 2 || back.Cells[1].Expected[0] != "success" {
		t.Fatalf("read back %+v", back)
	}
	out := TerminalSummary(back, "reports/out/compat.json")
	for _, want := range []string{"pass 1 · fail 1 · unreachable 1", "FAIL a [D]", "reports/out/compat.json"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	for name, mutate := range map[string]func(*Compat){
		"schema":     func(c *Compat) { c.Schema = "kmsconform/compat/v0" },
		"verdict":    func(c *Compat) { c.Cells[0].Verdict = "passed" },
		"provenance": func(c *Compat) { c.Cells[0].Provenance = "X" },
		"duplicate":  func(c *Compat) { c.Cells[1].ID = c.Cells[0].ID },
		"summary":    func(c *Compat) { c.Summary.Pass = 7 },
		"expected":   func(c *Compat) { c.Cells[0].Expected = nil },
		"revision":   func(c *Compat) { c.ModelRevision = "" },
	} {
		c := sample()
		mutate(c)
		var buf bytes.Buffer
		_ = c.Write(&buf)
		if _, err := Read(&buf); err == nil {
			t.Errorf("%s: an invalid document was accepted", name)
		}
	}
	if _, err := Read(strings.NewReader(`{"schema":"kmsconform/compat/v1","unknown":1}`)); err == nil {
		t.Error("an unknown field was accepted")
	}
}

func TestMerge(t *testing.T) {
	a, b := sample(), sample()
	b.Cells = []Cell{{ID: "c", StoreType: "AWS_CLOUDHSM", State: "FAILED", Operation: "DescribeKey", Provenance: "D", Expected: []string{"success"}, Observed: "success", Verdict: Pass}}
	b.Scenarios = nil
	b.APICalls, a.APICalls = 5, 7
	b.Finish()
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Cells) != 3 || m.Summary.Pass != 2 || m.APICalls != 12 {
		t.Fatalf("merged %+v", m.Summary)
	}
	b.ModelRevision = "r2"
	if _, err := Merge(a, b); err == nil {
		t.Error("parts of different model revisions were merged")
	}
}

// TestCellFor: every model cell becomes a cell compat.json accepts, its
// state NONEXISTENT where the call names no store, its expected outcomes
// named once each.
func TestCellFor(t *testing.T) {
	c := &Compat{Schema: Schema, ModelRevision: model.Revision(), Target: Target{Name: "unit", Kind: "emulator"}}
	nonexistent, success := 0, 0
	for _, mc := range model.Cells() {
		cell := CellFor(mc)
		cell.Verdict = Pass
		if (mc.Column == model.NoSuchStore) != (cell.State == NonexistentState) {
			t.Errorf("%s: state %q for column %q", mc.ID, cell.State, mc.Column)
		}
		if cell.State == NonexistentState {
			nonexistent++
		}
		if slices.Contains(cell.Expected, SuccessName) {
			success++
		}
		if len(slices.Compact(slices.Sorted(slices.Values(cell.Expected)))) != len(cell.Expected) {
			t.Errorf("%s: expected %v names an outcome twice", mc.ID, cell.Expected)
		}
		if len(cell.Rules) != len(mc.Rules) {
			t.Errorf("%s: rules %v", mc.ID, cell.Rules)
		}
		c.Cells = append(c.Cells, cell)
	}
	c.Finish()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if nonexistent == 0 || success == 0 {
		t.Fatalf("%d NONEXISTENT cells, %d that may succeed", nonexistent, success)
	}
}
