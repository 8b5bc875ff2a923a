package drive

import "github.com/kmsconform/kmsconform/model"

// Verdict is how a cell or scenario ended. Its values are compat.json's
// (package reports), so the suites' harness converts one with a plain type
// conversion; drive does not import reports.
type Verdict string

const (
	Pass          Verdict = "pass"
	Fail          Verdict = "fail"
	Unsupported   Verdict = "unsupported"   // the target does not implement the operation
	Unreachable   Verdict = "unreachable"   // the target cannot be put in the needed state
	Indeterminate Verdict = "indeterminate" // timeout or transport error: the outcome is unknown
	Skipped       Verdict = "skipped"       // a guard or a label filter
	Informational Verdict = "informational" // an undocumented cell answered outside the plausible set
)

// CellResult is what checking a cell learnt. What follows from the cell
// alone (its id, state label, expected outcomes, rules) is not repeated:
// the report derives it from Cell.
type CellResult struct {
	Cell     model.Cell
	Observed string // an exception name, SuccessCode, or "" when the call was not made
	Verdict  Verdict
	Evidence Evidence
	Seconds  float64
}

// Evidence is what the target answered, and how the cell's state was
// reached.
type Evidence struct {
	HTTPStatus int
	Message    string
	RequestID  string
	// Route says how the state was reached ("api", "api+control", …).
	Route string
	// Detail explains a verdict other than pass (what failed, what was
	// unreachable and why).
	Detail string
	// Adapted says how the call sent differs from the matrix's, when the
	// run sent it on the backing it had and computed the allowed outcomes
	// for that call (model.AdaptCell).
	Adapted string
}

// ScenarioResult is how a scenario ended.
type ScenarioResult struct {
	Name    string
	Verdict Verdict
	Detail  string
	Seconds float64
}
