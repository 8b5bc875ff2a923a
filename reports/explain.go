package reports

import (
	"sort"
	"strings"

	"github.com/kmsconform/kmsconform/model"
)

// Totals are the three numbers a report is about, named the same in every
// format, so that "492", "579" and "639" are never left for the reader to
// tell apart.
type Totals struct {
	// Documented is the cells of provenance D, and Passing those of them
	// that pass: the headline and the badge.
	Documented, Passing int
	// Matrix and Validation cells make the cells.
	Matrix, Validation int
	// Scenarios are the end-to-end workflows.
	Scenarios int
}

// Cells is every cell: matrix and validation.
func (t Totals) Cells() int { return t.Matrix + t.Validation }

// Specs is every cell and scenario: what the verdict counts add up to, and
// what the run counts as specs.
func (t Totals) Specs() int { return t.Cells() + t.Scenarios }

// TotalsOf counts a document's totals.
func TotalsOf(c *Compat) Totals {
	t := Totals{Scenarios: len(c.Scenarios)}
	t.Passing, t.Documented = Documented(c)
	for i := range c.Cells {
		if c.Cells[i].IsValidation() {
			t.Validation++
		} else {
			t.Matrix++
		}
	}
	return t
}

// Names of the three totals, as every format prints them.
const (
	TotalDocumented = "documented cells"
	TotalCells      = "cells"
	TotalSpecs      = "specs"
)

// What each total counts, in words every format shares.
const (
	documentedMeaning = "the cells whose expected outcome rests only on rules the AWS documentation states " +
		"(provenance D): only those are claims about AWS, so the headline and the badge count them"
	cellsMeaning = "matrix cells (one per store type, connection state and operation variant the model defines) " +
		"and validation cells (one per input constraint and value at its boundary), of every provenance"
	specsMeaning = "the cells and the end-to-end scenarios: what the verdict counts add up to, " +
		"and what a run counts as specs"
)

// Provenance is one of the model's rule statuses, as a cell carries it: the
// least certain of the rules behind its expected outcomes.
type Provenance struct {
	Code, Name, Meaning string
}

// Provenances are the four statuses, the most certain first.
var Provenances = []Provenance{
	{string(model.Documented), "documented", "the AWS documentation says so (API Reference, Developer Guide, " +
		"XKS proxy API specification); asserted everywhere, real KMS included"},
	{string(model.Inferred), "inferred", "follows from the documentation without being stated; real KMS should confirm it"},
	{string(model.Contradictory), "contradictory", "the sources disagree; every reading is allowed"},
	{string(model.Undocumented), "undocumented", "nothing says; every plausible outcome is allowed, and an answer " +
		"outside them is informational: an undocumented cell never fails"},
}

// VerdictMeanings say what each verdict means, for the legends.
var VerdictMeanings = map[Verdict]string{
	Pass:          "the target answered an outcome the model allows (and settled into an allowed state)",
	Fail:          "the target answered an outcome the model does not allow (a silently ignored CustomKeyStoreId included)",
	Unsupported:   "the target does not implement the operation",
	Unreachable:   "the run could not put the target into the state the cell needs; the detail says what would reach it",
	Indeterminate: "a timeout or a transport error: the outcome is unknown",
	Skipped:       "not run: a guard or a label filter",
	Informational: "an undocumented cell answered outside the plausible outcomes: reported, never failed",
}

// noCellMeaning explains the matrix positions the model has no cell for.
const noCellMeaning = "no such cell in the model: the operation variant is not defined in that state"

// AWSPage is one AWS page the rules of a run's cells rest on, with how many
// of the cells cite a rule that links to it.
type AWSPage struct {
	model.Link
	Cells int
}

// AWSPages lists the pages the rules of the document's cells rest on, each
// once, the most cited first (then by title), so the explanation of a report
// can point at the documentation behind it.
func AWSPages(c *Compat) []AWSPage {
	count := map[model.Link]int{}
	for i := range c.Cells {
		seen := map[model.Link]bool{}
		for _, r := range Sources(&c.Cells[i]) {
			for _, l := range r.Links {
				if !seen[l] {
					seen[l] = true
					count[l]++
				}
			}
		}
	}
	out := make([]AWSPage, 0, len(count))
	for l, n := range count {
		out = append(out, AWSPage{l, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cells != out[j].Cells {
			return out[i].Cells > out[j].Cells
		}
		if out[i].Title != out[j].Title {
			return out[i].Title < out[j].Title
		}
		return out[i].URL < out[j].URL
	})
	return out
}

// targetWhere is the part of the headline that says what the target is
// beyond its name (already the title): its kind, and its endpoint unless the
// name holds it already, so the URL is printed once.
func targetWhere(t Target) (kind, endpoint string) {
	if t.Endpoint != "" && !strings.Contains(t.Name, t.Endpoint) {
		endpoint = t.Endpoint
	}
	return t.Kind, endpoint
}
