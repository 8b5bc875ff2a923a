package reports

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/kmsconform/kmsconform/model"
)

// ValidationPrefix starts the id of every validation cell; those cells are
// not in the state matrix (their state is only the one the constraint was
// checked in) and the renderers give them their own section.
const ValidationPrefix = "validation/"

// IsValidation reports whether a cell checks an input constraint rather than
// a matrix entry.
func (c Cell) IsValidation() bool { return strings.HasPrefix(c.ID, ValidationPrefix) }

// Matrix is the cells of one store type laid out as the model's table: rows
// the operation variants, columns the connection states (and "no such
// store").
type Matrix struct {
	StoreType string
	Columns   []string // cell states: the five ConnectionStates, then NONEXISTENT
	Rows      []string // variants, in the model's order
	// Cells[row][col] is nil where the model has no cell.
	Cells [][]*Cell
}

// ColumnLabel is the header of a column: the state, or "no such store".
func ColumnLabel(state string) string {
	if state == NonexistentState {
		return "no such store"
	}
	return state
}

// columns is the column order of every matrix: the model's.
func columns() []string {
	var cols []string
	for _, c := range model.Columns {
		if c == model.NoSuchStore {
			cols = append(cols, NonexistentState)
		} else {
			cols = append(cols, string(c))
		}
	}
	return cols
}

// variantOrder ranks the variants as the model lists them, so a report reads
// like the spec's table (store operations first) rather than alphabetically.
var variantOrder = sync.OnceValue(func() map[string]int {
	rank := map[string]int{}
	for _, c := range model.Cells() {
		if _, ok := rank[c.Variant]; !ok {
			rank[c.Variant] = len(rank)
		}
	}
	return rank
})

// Matrices lays the matrix cells of a document out per store type, in the
// model's order of store types (then any other, sorted). Validation cells
// are left out: see ValidationGroups.
func Matrices(c *Compat) []Matrix {
	byType := map[string][]*Cell{}
	for i := range c.Cells {
		cell := &c.Cells[i]
		if !cell.IsValidation() {
			byType[cell.StoreType] = append(byType[cell.StoreType], cell)
		}
	}
	var types []string
	for _, t := range model.StoreTypes {
		if _, ok := byType[string(t)]; ok {
			types = append(types, string(t))
		}
	}
	var others []string
	for t := range byType {
		if t != string(model.CloudHSM) && t != string(model.External) {
			others = append(others, t)
		}
	}
	sort.Strings(others)
	types = append(types, others...)

	cols := columns()
	colIndex := map[string]int{}
	for i, s := range cols {
		colIndex[s] = i
	}
	rank := variantOrder()
	var out []Matrix
	for _, t := range types {
		m := Matrix{StoreType: t, Columns: append([]string(nil), cols...)}
		rowIndex := map[string]int{}
		for _, cell := range byType[t] {
			if _, ok := colIndex[cell.State]; !ok {
				// A state the model does not know still gets a column
				// rather than vanishing from the report.
				colIndex[cell.State] = len(m.Columns)
				m.Columns = append(m.Columns, cell.State)
			}
			if _, ok := rowIndex[cell.Variant]; !ok {
				rowIndex[cell.Variant] = len(m.Rows)
				m.Rows = append(m.Rows, cell.Variant)
			}
		}
		sort.SliceStable(m.Rows, func(i, j int) bool {
			ri, iok := rank[m.Rows[i]]
			rj, jok := rank[m.Rows[j]]
			switch {
			case iok && jok:
				return ri < rj
			case iok != jok:
				return iok
			}
			return m.Rows[i] < m.Rows[j]
		})
		for i, r := range m.Rows {
			rowIndex[r] = i
		}
		m.Cells = make([][]*Cell, len(m.Rows))
		for i := range m.Cells {
			m.Cells[i] = make([]*Cell, len(m.Columns))
		}
		for _, cell := range byType[t] {
			m.Cells[rowIndex[cell.Variant]][colIndex[cell.State]] = cell
		}
		out = append(out, m)
	}
	return out
}

// ValidationGroup is the validation cells of one operation and parameter
// (or of one wrong-type check), each a value at a boundary.
type ValidationGroup struct {
	Name  string // "ConnectCustomKeyStore CustomKeyStoreId"
	Cells []*Cell
}

// ValidationGroups groups the validation cells by the id up to its last
// segment, sorted by id.
func ValidationGroups(c *Compat) []ValidationGroup {
	var out []ValidationGroup
	index := map[string]int{}
	for i := range c.Cells {
		cell := &c.Cells[i]
		if !cell.IsValidation() {
			continue
		}
		key := strings.TrimPrefix(cell.ID, ValidationPrefix)
		if i := strings.LastIndex(key, "/"); i >= 0 {
			key = key[:i]
		}
		key = strings.ReplaceAll(key, "/", " ")
		if _, ok := index[key]; !ok {
			index[key] = len(out)
			out = append(out, ValidationGroup{Name: key})
		}
		g := &out[index[key]]
		g.Cells = append(g.Cells, cell)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	// Boundary values read in numeric order (6, 7, 32, 33), then named
	// cases (pattern).
	for _, g := range out {
		sort.SliceStable(g.Cells, func(i, j int) bool {
			a, aerr := strconv.Atoi(ValidationValue(g.Cells[i]))
			b, berr := strconv.Atoi(ValidationValue(g.Cells[j]))
			switch {
			case aerr == nil && berr == nil:
				return a < b
			case (aerr == nil) != (berr == nil):
				return aerr == nil
			}
			return ValidationValue(g.Cells[i]) < ValidationValue(g.Cells[j])
		})
	}
	return out
}

// ValidationValue is the last segment of a validation cell's id: the value
// or case it checked.
func ValidationValue(c *Cell) string {
	if i := strings.LastIndex(c.ID, "/"); i >= 0 {
		return c.ID[i+1:]
	}
	return c.ID
}

// RuleSource is one rule a cell cites, with its provenance, as the model
// states it: its source in the behaviour reference and the AWS pages that
// source rests on.
type RuleSource struct {
	ID     string       `json:"id"`
	Status string       `json:"status,omitempty"`
	Source string       `json:"source"`
	Links  []model.Link `json:"links,omitempty"`
	Text   string       `json:"text,omitempty"`
}

// ruleIndex holds every rule of the model as a report shows it; the links
// are derived once, not for each cell that cites the rule.
var ruleIndex = sync.OnceValue(func() map[string]RuleSource {
	m := map[string]RuleSource{}
	for _, r := range model.Rules() {
		m[r.ID] = RuleSource{ID: r.ID, Status: string(r.Status), Source: r.Source, Links: r.Links(), Text: r.Text}
	}
	return m
})

// Sources returns the rules a cell cites, looked up in the model. A rule the
// current model no longer has (a report from an older revision) keeps its id
// and says so instead of disappearing.
func Sources(c *Cell) []RuleSource {
	var out []RuleSource
	for _, id := range c.Rules {
		if r, ok := ruleIndex()[id]; ok {
			out = append(out, r)
		} else {
			out = append(out, RuleSource{ID: id, Source: "not in model " + model.Revision()})
		}
	}
	return out
}

// Documented counts the cells of documented provenance (D) and those of them
// that pass: the report's headline, since only documented behaviour is a
// claim about AWS.
func Documented(c *Compat) (passing, total int) {
	for _, cell := range c.Cells {
		if cell.Provenance == string(model.Documented) {
			total++
			if cell.Verdict == Pass {
				passing++
			}
		}
	}
	return passing, total
}

// Percent is passing of total as a whole percentage rounded down, so a
// single failing cell never shows as 100%.
func Percent(passing, total int) int {
	if total == 0 {
		return 0
	}
	return passing * 100 / total
}

// headline is the one-line description of a run every format starts with.
func headline(c *Compat) string {
	passing, total := Documented(c)
	return fmt.Sprintf("%s (%s) against model %s, %s: %d of %d documented cells passing",
		c.Target.Name, c.Target.Kind, c.ModelRevision, c.StartedAt.UTC().Format("2006-01-02"), passing, total)
}

// outcome renders an observed outcome, "" meaning the call was not made.
func outcome(s string) string {
	if s == "" {
		return "(not called)"
	}
	return s
}
