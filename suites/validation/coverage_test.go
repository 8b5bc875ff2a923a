package validation

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	m "github.com/kmsconform/kmsconform/model"
)

// constrained lists, per operation, the input members whose constraints
// the suite checks; nil means all of them.
var constrained = map[string][]string{
	"CreateCustomKeyStore":     nil,
	"ConnectCustomKeyStore":    nil,
	"DisconnectCustomKeyStore": nil,
	"UpdateCustomKeyStore":     nil,
	"DeleteCustomKeyStore":     nil,
	"DescribeCustomKeyStores":  nil,
	"CreateKey":                {"CustomKeyStoreId", "Origin", "XksKeyId"},
	"GenerateRandom":           {"NumberOfBytes", "CustomKeyStoreId"},
}

type member struct {
	Required bool              `json:"required"`
	Min      *int              `json:"min"`
	Max      *int              `json:"max"`
	Pattern  *string           `json:"pattern"`
	Enum     []string          `json:"enum"`
	Members  map[string]member `json:"members"`
}

// triple is one constraint of one member of one operation, with the label
// of the cell that breaks it.
type triple struct{ op, member, constraint, label string }

func (t triple) id() string { return fmt.Sprintf("validation/%s/%s/%s", t.op, t.member, t.label) }

// extractTriples reads the AWS model extract the suite is pinned to.
func extractTriples(t *testing.T) []triple {
	t.Helper()
	raw, err := os.ReadFile("../../model/testdata/aws-kms-operations.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Operations map[string]struct {
			Input map[string]member `json:"input"`
		} `json:"operations"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var ts []triple
	var walk func(op, path string, mb member)
	walk = func(op, path string, mb member) {
		if mb.Required {
			ts = append(ts, triple{op, path, "required", "missing"})
		}
		if mb.Min != nil {
			ts = append(ts, triple{op, path, "min", fmt.Sprint(*mb.Min - 1)})
		}
		if mb.Max != nil {
			ts = append(ts, triple{op, path, "max", fmt.Sprint(*mb.Max + 1)})
		}
		if mb.Pattern != nil {
			ts = append(ts, triple{op, path, "pattern", "pattern"})
		}
		if len(mb.Enum) > 0 {
			ts = append(ts, triple{op, path, "enum", "enum"})
		}
		for name, sub := range mb.Members {
			walk(op, path+"."+name, sub)
		}
	}
	for op, only := range constrained {
		o, ok := doc.Operations[op]
		if !ok {
			t.Fatalf("the extract has no operation %s", op)
		}
		names := only
		if names == nil {
			for name := range o.Input {
				names = append(names, name)
			}
		}
		for _, name := range names {
			mb, ok := o.Input[name]
			if !ok {
				t.Fatalf("the extract has no member %s.%s", op, name)
			}
			walk(op, name, mb)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].id() < ts[j].id() })
	return ts
}

// TestEveryConstraintHasACell fails when a constraint of the AWS model
// extract has no validation cell that breaks it, or when that cell's call
// is not answered ValidationException by the model.
func TestEveryConstraintHasACell(t *testing.T) {
	byID := map[string]m.Cell{}
	for _, c := range Cells() {
		byID[c.ID] = c
	}
	ts := extractTriples(t)
	var missing, wrong []string
	for _, tr := range ts {
		c, ok := byID[tr.id()]
		if !ok {
			missing = append(missing, fmt.Sprintf("%s.%s %s (cell %s)", tr.op, tr.member, tr.constraint, tr.id()))
			continue
		}
		if len(c.Expected) != 1 || c.Expected[0].Error != m.ErrValidation {
			wrong = append(wrong, fmt.Sprintf("%s: the model allows %s", c.ID, m.Summary(c.Expected)))
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d constraints of the AWS model extract have no validation cell:\n  %s", len(missing), len(ts), strings.Join(missing, "\n  "))
	}
	if len(wrong) > 0 {
		t.Errorf("cells that break a constraint but are not a ValidationException:\n  %s", strings.Join(wrong, "\n  "))
	}
	t.Logf("%d constraints, %d with a cell", len(ts), len(ts)-len(missing))
}
