package harness

import (
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/kmsconform/kmsconform/drive"
	"github.com/kmsconform/kmsconform/model"
)

// CellLabels returns the Ginkgo labels of a matrix cell's spec, or of a
// validation cell's (validation set). Every suite takes its labels from
// here, so a lane selects the same specs the label filter does.
func CellLabels(c model.Cell, validation bool) Labels {
	if validation {
		return Labels{"validation", "op:" + string(c.Op), "store:" + string(c.StoreType), "provenance:" + string(c.Status)}
	}
	ls := Labels{"op:" + string(c.Op), "state:" + string(c.Column), "store:" + string(c.StoreType), "provenance:" + string(c.Status)}
	if _, v, ok := strings.Cut(c.Variant, "/"); ok {
		ls = append(ls, "variant:"+v)
	}
	for _, n := range c.Needs {
		ls = append(ls, "needs:"+string(n))
	}
	return ls
}

// ScenarioLabels returns the Ginkgo labels of a scenario's spec.
func ScenarioLabels(s drive.Scenario) Labels {
	ls := Labels{"scenario"}
	if slices.Contains(s.Needs(), model.NeedBackingControl) {
		ls = append(ls, "needs:"+string(model.NeedBackingControl))
	}
	return ls
}
