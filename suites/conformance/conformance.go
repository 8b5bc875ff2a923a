package conformance

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/suites/harness"
)

var cells = model.Cells()

func init() { harness.ExpectCells(append(harness.ExpectedCells(), cells...)) }

var _ = Describe("conformance", func() {
	entries := make([]TableEntry, 0, len(cells))
	for _, c := range cells {
		entries = append(entries, Entry(c.ID, harness.CellLabels(c, false), c))
	}
	DescribeTable("cell", harness.CellSpec, entries)
})
