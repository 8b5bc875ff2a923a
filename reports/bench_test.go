package reports

import "testing"

// The renderers over a whole run (every model cell, four validation cells,
// two scenarios): figures for README, never asserted.
func BenchmarkRender(b *testing.B) {
	c := fullRun()
	for _, f := range Formats {
		b.Run(string(f), func(b *testing.B) {
			for b.Loop() {
				if _, err := Render(c, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDiffAndGate(b *testing.B) {
	old, new := fullRun(), fullRun()
	for i := range new.Cells {
		if i%3 == 0 {
			new.Cells[i].Verdict = Pass
		}
	}
	new.Finish()
	e := &Expectations{Schema: ExpectationsSchema}
	for _, c := range old.Cells {
		if c.Verdict == Fail {
			e.Deviations = append(e.Deviations, Deviation{ID: c.ID, Observed: c.Observed, Reason: "bench"})
		}
	}
	b.Run("diff", func(b *testing.B) {
		for b.Loop() {
			_ = Diff(old, new)
		}
	})
	b.Run("gate", func(b *testing.B) {
		for b.Loop() {
			_ = Gate(new, e)
		}
	})
}
