package conformance

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/suites/harness"
)

var cells = model.Cells()

func init() { harness.ExpectCells(append(harness.ExpectedCells(), cells...)) }

// CellLabels returns a cell's Ginkgo labels.
func CellLabels(c model.Cell) Labels {
	ls := Labels{"op:" + string(c.Op), "state:" + string(c.Column), "store:" + string(c.StoreType), "provenance:" + string(c.Status)}
	if _, v, ok := strings.Cut(c.Variant, "/"); ok {
		ls = append(ls, "variant:"+v)
	}
	for _, n := range c.Needs {
		ls = append(ls, "needs:"+string(n))
	}
	return ls
}

var _ = Describe("conformance", func() {
	entries := make([]TableEntry, 0, len(cells))
	for _, c := range cells {
		entries = append(entries, Entry(c.ID, CellLabels(c), c))
	}
	DescribeTable("cell", harness.CellSpec, entries)
})
