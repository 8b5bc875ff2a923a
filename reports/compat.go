package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/kmsconform/kmsconform/model"
)

// Schema is the version string of the compat.json format this package
// writes and reads.
const Schema = "kmsconform/compat/v1"

// Verdict is how a cell ended.
type Verdict string

const (
	Pass          Verdict = "pass"
	Fail          Verdict = "fail"
	Unsupported   Verdict = "unsupported"   // the target does not implement the operation
	Unreachable   Verdict = "unreachable"   // the target cannot be put in the needed state
	Indeterminate Verdict = "indeterminate" // timeout or transport error: the outcome is unknown
	Skipped       Verdict = "skipped"       // a guard or a label filter
	Informational Verdict = "informational" // an undocumented cell answered outside the plausible set
)

// Verdicts lists every verdict in report order.
var Verdicts = []Verdict{Pass, Fail, Unsupported, Unreachable, Indeterminate, Skipped, Informational}

// NonexistentState is the state of a cell whose call names no store.
const NonexistentState = "NONEXISTENT"

// Compat is one run's result.
type Compat struct {
	Schema          string     `json:"schema"`
	ModelRevision   string     `json:"model_revision"`
	Target          Target     `json:"target"`
	StartedAt       time.Time  `json:"started_at"`
	DurationSeconds float64    `json:"duration_seconds"`
	Cells           []Cell     `json:"cells"`
	Scenarios       []Scenario `json:"scenarios"`
	Summary         Summary    `json:"summary"`
	// APICalls counts the API calls the run made: KMS API calls, or for
	// xks-check (target kind xks-proxy) the calls to the proxy's API.
	APICalls int `json:"api_calls,omitempty"`
	// Findings are what the run learnt of the target beyond single cells,
	// each once (a target never observed CONNECTING or DISCONNECTING, say).
	Findings []string `json:"findings,omitempty"`
}

// Target names what was checked.
type Target struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Endpoint string `json:"endpoint"`
}

// Cell is the result of one cell of the conformance matrix.
type Cell struct {
	ID         string   `json:"id"`
	StoreType  string   `json:"store_type"`
	State      string   `json:"state"` // a ConnectionState, or NONEXISTENT
	Operation  string   `json:"operation"`
	Variant    string   `json:"variant"`
	Provenance string   `json:"provenance"` // D, I, C or U
	Rules      []string `json:"rules,omitempty"`
	Expected   []string `json:"expected"` // exception names, or "success"
	Observed   string   `json:"observed"` // an exception name, "success", or "" when the call was not made
	Verdict    Verdict  `json:"verdict"`
	Evidence   Evidence `json:"evidence"`
	Seconds    float64  `json:"seconds"`
}

// SuccessName is the name of success among a cell's expected and observed
// outcomes.
const SuccessName = model.SuccessName

// CellFor returns the result of model cell c with the fields that do not
// depend on the run: its id, store type, state (NonexistentState for a
// call that names no store), operation, variant, provenance, rules and
// expected outcomes.
func CellFor(c model.Cell) Cell {
	state := string(c.Column)
	if c.Column == model.NoSuchStore {
		state = NonexistentState
	}
	r := Cell{ID: c.ID, StoreType: string(c.StoreType), State: state, Operation: string(c.Op), Variant: c.Variant,
		Provenance: string(c.Status), Expected: model.OutcomeNames(c.Expected)}
	for _, rl := range c.Rules {
		r.Rules = append(r.Rules, rl.ID)
	}
	return r
}

// Evidence is what the target answered, and how the cell's state was reached.
type Evidence struct {
	HTTPStatus int    `json:"http_status,omitempty"`
	Message    string `json:"message,omitempty"`
	RequestID  string `json:"request_id,omitempty"`
	// Route says how the state was reached ("api", "api+control", …).
	Route string `json:"route,omitempty"`
	// Detail explains a verdict other than pass (what failed, what was
	// unreachable and why).
	Detail string `json:"detail,omitempty"`
	// Adapted says how the call sent differs from the matrix's, when the
	// run sent it on the backing it had (one cluster, one proxy, one
	// credential) and computed the allowed outcomes for that call.
	Adapted string `json:"adapted,omitempty"`
}

// Scenario is the result of one end-to-end workflow.
type Scenario struct {
	Name    string  `json:"name"`
	Verdict Verdict `json:"verdict"`
	Detail  string  `json:"detail,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
}

// Summary counts cells and scenarios by verdict.
type Summary struct {
	Pass          int `json:"pass"`
	Fail          int `json:"fail"`
	Unsupported   int `json:"unsupported"`
	Unreachable   int `json:"unreachable"`
	Indeterminate int `json:"indeterminate"`
	Skipped       int `json:"skipped"`
	Informational int `json:"informational"`
}

func (s *Summary) add(v Verdict) {
	switch v {
	case Pass:
		s.Pass++
	case Fail:
		s.Fail++
	case Unsupported:
		s.Unsupported++
	case Unreachable:
		s.Unreachable++
	case Indeterminate:
		s.Indeterminate++
	case Skipped:
		s.Skipped++
	case Informational:
		s.Informational++
	}
}

// Count returns the number for a verdict.
func (s Summary) Count(v Verdict) int {
	return map[Verdict]int{Pass: s.Pass, Fail: s.Fail, Unsupported: s.Unsupported, Unreachable: s.Unreachable,
		Indeterminate: s.Indeterminate, Skipped: s.Skipped, Informational: s.Informational}[v]
}

// Finish sorts the cells and scenarios and recomputes the summary.
func (c *Compat) Finish() {
	sort.SliceStable(c.Cells, func(i, j int) bool { return c.Cells[i].ID < c.Cells[j].ID })
	sort.SliceStable(c.Scenarios, func(i, j int) bool { return c.Scenarios[i].Name < c.Scenarios[j].Name })
	c.Summary = Summary{}
	for _, cell := range c.Cells {
		c.Summary.add(cell.Verdict)
	}
	for _, s := range c.Scenarios {
		c.Summary.add(s.Verdict)
	}
}

// Validate checks a document against the schema: the version, every
// required field, verdicts and provenances from their sets, unique cell ids,
// and a summary that matches the cells.
func (c *Compat) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Schema != Schema {
		bad("schema is %q, want %q", c.Schema, Schema)
	}
	if c.ModelRevision == "" {
		bad("model_revision is empty")
	}
	if c.Target.Kind == "" || c.Target.Name == "" {
		bad("target.name and target.kind are required")
	}
	valid := map[Verdict]bool{}
	for _, v := range Verdicts {
		valid[v] = true
	}
	seen := map[string]bool{}
	var sum Summary
	for i, cell := range c.Cells {
		// The error is printed on a terminal: the id is data.
		where := fmt.Sprintf("cells[%d] (%s)", i, PrintableLine(cell.ID))
		if cell.ID == "" || cell.StoreType == "" || cell.State == "" || cell.Operation == "" {
			bad("%s: id, store_type, state and operation are required", where)
		}
		if seen[cell.ID] {
			bad("%s: duplicate id", where)
		}
		seen[cell.ID] = true
		if !valid[cell.Verdict] {
			bad("%s: verdict %q", where, cell.Verdict)
		}
		switch cell.Provenance {
		case "D", "I", "C", "U":
		default:
			bad("%s: provenance %q", where, cell.Provenance)
		}
		if len(cell.Expected) == 0 {
			bad("%s: no expected outcome", where)
		}
		sum.add(cell.Verdict)
	}
	for i, s := range c.Scenarios {
		if s.Name == "" || !valid[s.Verdict] {
			bad("scenarios[%d]: name %q, verdict %q", i, s.Name, s.Verdict)
		}
		sum.add(s.Verdict)
	}
	if sum != c.Summary {
		bad("summary %+v does not match the cells and scenarios (%+v)", c.Summary, sum)
	}
	return errors.Join(errs...)
}

// Write writes the document as indented JSON. encoding/json escapes C0
// controls, <, > and &; DEL, C1 and bidi controls are escaped as well
// (escapeJSON), so the file reads back the same and shows nothing a
// terminal acts on.
func (c *Compat) Write(w io.Writer) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return err
	}
	_, err := w.Write(escapeJSON(b.Bytes()))
	return err
}

// WriteFile writes the document to path atomically (temporary file, rename),
// creating the directory.
func (c *Compat) WriteFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := c.Write(&buf); err != nil {
		return err
	}
	return writeAtomic(path, buf.Bytes())
}

// Read decodes and validates a compat.json document.
func Read(r io.Reader) (*Compat, error) {
	var c Compat
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("compat.json: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("compat.json: %w", err)
	}
	return &c, nil
}

// ReadFile reads and validates a compat.json file.
func ReadFile(path string) (*Compat, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f)
}

// Merge combines the parts of a run split over processes: the cells and
// scenarios of all, the earliest start, the longest duration, the sum of API
// calls.
func Merge(parts ...*Compat) (*Compat, error) {
	if len(parts) == 0 {
		return nil, errors.New("nothing to merge")
	}
	m := *parts[0]
	m.Cells = nil
	m.Scenarios = nil
	m.APICalls = 0
	m.Findings = nil
	for _, p := range parts {
		// Each process of an emulator run has its own emulator, on its own
		// port: the endpoints may differ.
		if p.ModelRevision != m.ModelRevision || p.Target.Name != m.Target.Name || p.Target.Kind != m.Target.Kind {
			return nil, fmt.Errorf("parts of different runs: %s", PrintableLine(fmt.Sprintf("%s on %s vs %s on %s",
				m.ModelRevision, m.Target.Name, p.ModelRevision, p.Target.Name)))
		}
		if p.StartedAt.Before(m.StartedAt) {
			m.StartedAt = p.StartedAt
		}
		if p.DurationSeconds > m.DurationSeconds {
			m.DurationSeconds = p.DurationSeconds
		}
		m.Cells = append(m.Cells, p.Cells...)
		m.Scenarios = append(m.Scenarios, p.Scenarios...)
		m.APICalls += p.APICalls
		for _, f := range p.Findings {
			if !slices.Contains(m.Findings, f) {
				m.Findings = append(m.Findings, f)
			}
		}
	}
	m.Finish()
	return &m, m.Validate()
}
