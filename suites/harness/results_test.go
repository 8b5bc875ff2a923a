package harness

import (
	"slices"
	"testing"

	"github.com/kmsconform/kmsconform/drive"
	"github.com/kmsconform/kmsconform/reports"
)

// TestVerdictsMatch keeps drive's verdicts and compat.json's one list:
// CellReport converts one into the other by type, so a value either side
// lacks would pass the compiler and land in a report unknown to it.
func TestVerdictsMatch(t *testing.T) {
	ds := []drive.Verdict{drive.Pass, drive.Fail, drive.Unsupported, drive.Unreachable, drive.Indeterminate, drive.Skipped, drive.Informational}
	if len(ds) != len(reports.Verdicts) {
		t.Fatalf("drive has %d verdicts, compat.json %d", len(ds), len(reports.Verdicts))
	}
	for _, v := range ds {
		if !slices.Contains(reports.Verdicts, reports.Verdict(v)) {
			t.Errorf("drive's verdict %q is not one of compat.json's %v", v, reports.Verdicts)
		}
	}
}
