package harness

import (
	"github.com/kmsconform/kmsconform/drive"
	"github.com/kmsconform/kmsconform/reports"
)

// CellReport turns what drive learnt of a cell into compat.json's cell: the
// fields that follow from the model's cell (reports.CellFor), then the
// run's. It is the one conversion; the CLI's planned run uses it too.
func CellReport(r drive.CellResult) reports.Cell {
	c := reports.CellFor(r.Cell)
	c.Observed = r.Observed
	c.Verdict = reports.Verdict(r.Verdict)
	// A conversion, not a copy field by field: a field drive adds to its
	// evidence does not compile until compat.json has it too.
	c.Evidence = reports.Evidence(r.Evidence)
	c.Seconds = r.Seconds
	return c
}

// CellReports is CellReport for each result, in order.
func CellReports(rs []drive.CellResult) []reports.Cell {
	cells := make([]reports.Cell, 0, len(rs))
	for _, r := range rs {
		cells = append(cells, CellReport(r))
	}
	return cells
}

// ScenarioReport turns a scenario's result into compat.json's.
func ScenarioReport(r drive.ScenarioResult) reports.Scenario {
	return reports.Scenario{Name: r.Name, Verdict: reports.Verdict(r.Verdict), Detail: r.Detail, Seconds: r.Seconds}
}
