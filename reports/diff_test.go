package reports

import (
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	cell := func(id string, v Verdict, observed string) Cell {
		return Cell{ID: id, StoreType: "AWS_CLOUDHSM", State: "CONNECTED", Operation: "CreateKey", Provenance: "D",
			Expected: []string{"success"}, Observed: observed, Verdict: v}
	}
	old := sample()
	old.Cells = []Cell{
		cell("same", Pass, "success"),
		cell("broke", Pass, "success"),
		cell("lost", Pass, "success"),
		cell("fixed", Fail, "KMSInternalException"),
		cell("implemented", Unsupported, ""),
		cell("other-exception", Fail, "KMSInternalException"),
		cell("gone", Pass, "success"),
	}
	old.Scenarios = []Scenario{{Name: "s1", Verdict: Pass}}
	old.Finish()
	new := sample()
	new.ModelRevision = "r9-other"
	new.Cells = []Cell{
		cell("same", Pass, "success"),
		cell("broke", Fail, "KMSInternalException"),
		cell("lost", Unsupported, ""),
		cell("fixed", Pass, "success"),
		cell("implemented", Pass, "success"),
		cell("other-exception", Fail, "DependencyTimeoutException"),
		cell("added-failing", Fail, "success"),
		cell("added", Pass, "success"),
	}
	new.Scenarios = []Scenario{{Name: "s1", Verdict: Fail}}
	new.Finish()
	d := Diff(old, new)
	ids := func(list []Change) string {
		var out []string
		for _, c := range list {
			out = append(out, c.label())
		}
		return strings.Join(out, ",")
	}
	if got := ids(d.Regressions); got != "added-failing,broke,lost,scenario s1" {
		t.Errorf("regressions %s", got)
	}
	if got := ids(d.Fixes); got != "fixed,implemented" {
		t.Errorf("fixes %s", got)
	}
	if got := ids(d.Changes); got != "added,gone,other-exception" {
		t.Errorf("changes %s", got)
	}
	if !d.HasRegression() || Diff(old, old).HasRegression() || len(Diff(new, new).Changes) != 0 {
		t.Error("HasRegression")
	}
	text := d.Text()
	for _, want := range []string{"4 regressions, 2 fixes, 3 other changes", "broke: pass (success) -> fail (KMSInternalException)",
		"gone: pass (success) -> absent", "different model revisions"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	md := d.Markdown()
	for _, want := range []string{"**4 regressions**", "### Regressions", "| `broke` | ✅ pass `success` | ❌ fail `KMSInternalException` |", "### Fixes"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
