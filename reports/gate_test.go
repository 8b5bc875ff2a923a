package reports

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestReadExpectationsRejects(t *testing.T) {
	for name, tc := range map[string]struct{ doc, want string }{
		"empty":     {"", "empty"},
		"schema":    {"schema: kmsconform/expectations/v0\n", "schema"},
		"unknown":   {"schema: kmsconform/expectations/v1\ndeviatons: []\n", "deviatons"},
		"no id":     {"schema: kmsconform/expectations/v1\ndeviations:\n  - observed: success\n    reason: x\n", "id is required"},
		"no reason": {"schema: kmsconform/expectations/v1\ndeviations:\n  - id: a\n    observed: success\n", "reason"},
		"twice":     {"schema: kmsconform/expectations/v1\ndeviations:\n  - {id: a, observed: success, reason: x}\n  - {id: a, observed: success, reason: y}\n", "twice"},
		"issue":     {"schema: kmsconform/expectations/v1\ndeviations:\n  - {id: a, observed: success, reason: x, issue: 'see #12'}\n", "not an http"},
		"not yaml":  {"schema: [\n", "expectations: "},
	} {
		_, err := ReadExpectations(strings.NewReader(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line naming %q", name, err, tc.want)
		}
	}
}

func TestGate(t *testing.T) {
	c := sample() // a fails with success; b passes; scenario lifecycle unreachable
	c.Cells = append(c.Cells, Cell{ID: "c", StoreType: "AWS_CLOUDHSM", State: "FAILED", Operation: "DescribeKey", Provenance: "D",
		Expected: []string{"success"}, Observed: "KMSInternalException", Verdict: Fail, Evidence: Evidence{Detail: "boom"}},
		Cell{ID: "d", StoreType: "AWS_CLOUDHSM", State: "FAILED", Operation: "DescribeKey", Provenance: "D",
			Expected: []string{"success"}, Verdict: Skipped})
	c.Finish()
	e := &Expectations{Schema: ExpectationsSchema, Target: "unit", Deviations: []Deviation{
		{ID: "a", Observed: "success", Reason: "ignores the id"},
		{ID: "b", Observed: "KMSInternalException", Reason: "was broken"},
		{ID: "d", Observed: "success", Reason: "not run"},
		{ID: "zz", Observed: "success", Reason: "typo"},
	}}
	g := Gate(c, e)
	if !g.Failed() || len(g.Unexpected) != 1 || g.Unexpected[0].ID != "c" || len(g.Known) != 1 || g.Known[0].ID != "a" ||
		len(g.Fixed) != 1 || g.Fixed[0].ID != "b" || len(g.Unchecked) != 2 {
		t.Fatalf("gate %+v", g)
	}
	text := g.Text()
	for _, want := range []string{"gate FAILED: 1 unexpected failures, 1 known deviations persist, 1 fixed, 2 not checked",
		"FAIL c: KMSInternalException — boom", "fixed — remove from expectations: b (now pass)", "not checked: zz"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if md := g.Markdown(); !strings.Contains(md, "❌ failed") || !strings.Contains(md, "ignores the id") {
		t.Errorf("markdown:\n%s", md)
	}

	// Listing c with its outcome passes the gate; listing it with another
	// outcome does not: a different deviation is a new one.
	e.Deviations = append(e.Deviations, Deviation{ID: "c", Observed: "DependencyTimeoutException", Reason: "slow"})
	if g := Gate(c, e); !g.Failed() || !strings.Contains(g.Unexpected[0].Note, "the expectations list DependencyTimeoutException") {
		t.Errorf("another outcome: %+v", g.Unexpected)
	}
	e.Deviations[len(e.Deviations)-1].Observed = "KMSInternalException"
	if g := Gate(c, e); g.Failed() || len(g.Known) != 2 || !strings.Contains(g.Text(), "gate passed") {
		t.Errorf("all listed: %s", g.Text())
	}

	// A target that is down answers nothing: every cell indeterminate. The
	// gate must not pass that.
	for i := range c.Cells {
		c.Cells[i].Verdict, c.Cells[i].Observed = Indeterminate, ""
	}
	c.Finish()
	if g := Gate(c, &Expectations{Schema: ExpectationsSchema}); !g.Failed() || !strings.Contains(g.Text(), "nothing was checked") {
		t.Errorf("nothing checked: %s", g.Text())
	}
}

// The moto expectations file parses and lists exactly the 13 cells that
// TestGateMoto (cmd/kmsconform) finds failing: four matrix cells and nine
// validation cells of CreateKey and GenerateRandom.
func TestMotoExpectationsFile(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "expectations", "moto.yml")
	e, err := ReadExpectationsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Deviations) != 13 {
		t.Errorf("%d deviations", len(e.Deviations))
	}
	for _, d := range e.Deviations {
		validation := strings.HasPrefix(d.ID, "validation/CreateKey/") || strings.HasPrefix(d.ID, "validation/GenerateRandom/")
		if !strings.Contains(d.ID, "/NO_SUCH_STORE/") && !validation || d.Observed != "success" {
			t.Errorf("%+v", d)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
