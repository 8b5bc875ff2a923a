package harness

import (
	"strings"
	"testing"

	"github.com/kmsconform/kmsconform/reports"
)

func failingCell() reports.Cell {
	return reports.Cell{ID: "AWS_CLOUDHSM/NO_SUCH_STORE/CreateKey", Provenance: "D", Rules: []string{"createkey.store-not-found"},
		Expected: []string{"CustomKeyStoreNotFoundException"}, Observed: "success", Verdict: reports.Fail,
		Evidence: reports.Evidence{HTTPStatus: 200, Detail: "answered success; the model allows [CustomKeyStoreNotFoundException]"}}
}

// TestFailureText: a failing cell reads as its id, what it answered, what
// the model allows and its rules with their AWS pages; the detail only
// where it says more than that.
func TestFailureText(t *testing.T) {
	c := failingCell()
	got := FailureText(c)
	for _, w := range []string{
		"FAIL AWS_CLOUDHSM/NO_SUCH_STORE/CreateKey [D]\n",
		"  answered:         success (HTTP 200)\n",
		"  the model allows: CustomKeyStoreNotFoundException\n",
		"  rule createkey.store-not-found [D]: ",
		"    API Reference: CreateKey: https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html\n",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "why:") {
		t.Errorf("repeats the outcomes as why:\n%s", got)
	}
	c.Evidence.Detail = "answered success; the model allows ValidationException: the CustomKeyStoreId was silently ignored"
	if got := FailureText(c); !strings.Contains(got, "  why:              the CustomKeyStoreId was silently ignored\n") {
		t.Errorf("the detail beyond the outcomes is missing:\n%s", got)
	}
	c.Evidence.Detail = "the store went to FAILED; the model allows CONNECTED"
	if got := FailureText(c); !strings.Contains(got, "  why:              "+c.Evidence.Detail+"\n") {
		t.Errorf("another detail is missing:\n%s", got)
	}
}

// TestKnownDeviation: a failing cell is known when the expectations list it
// with the outcome it answered, as the gate judges.
func TestKnownDeviation(t *testing.T) {
	c := failingCell()
	e := &reports.Expectations{Schema: reports.ExpectationsSchema, Deviations: []reports.Deviation{{ID: c.ID, Observed: "success", Reason: "ignored"}}}
	if d := KnownDeviation(e, c); d == nil || d.Reason != "ignored" {
		t.Errorf("listed: %v", d)
	}
	if KnownDeviation(nil, c) != nil {
		t.Error("known without expectations")
	}
	c.Observed = "ValidationException"
	if KnownDeviation(e, c) != nil {
		t.Error("known with another outcome than listed")
	}
	c.Observed, c.Verdict = "success", reports.Pass
	if KnownDeviation(e, c) != nil {
		t.Error("a pass is a known deviation")
	}
	s := reports.Scenario{Name: "connect-twice", Verdict: reports.Fail}
	e.Deviations = append(e.Deviations, reports.Deviation{ID: s.Name, Reason: "r"})
	if KnownScenarioDeviation(e, s) == nil || KnownScenarioDeviation(e, reports.Scenario{Name: "other", Verdict: reports.Fail}) != nil {
		t.Error("scenario deviations")
	}
}
