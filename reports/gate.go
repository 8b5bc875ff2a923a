package reports

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ExpectationsSchema is the version of the expectations file format.
const ExpectationsSchema = "kmsconform/expectations/v1"

// Expectations lists a target's known deviations from the model: the cells
// (or scenarios) a CI gate accepts failing, each with the outcome it is known
// to answer and why.
type Expectations struct {
	Schema string `yaml:"schema"`
	// Target says what the file is for ("moto 5.2.1"); free text.
	Target     string      `yaml:"target"`
	Deviations []Deviation `yaml:"deviations"`
}

// Deviation is one known deviation.
type Deviation struct {
	// ID is a cell id or a scenario name, as in compat.json.
	ID string `yaml:"id"`
	// Observed is the outcome the target is known to answer (an exception
	// name or "success"). A cell that fails with another outcome is a new
	// deviation and fails the gate. Not compared for scenarios.
	Observed string `yaml:"observed"`
	Reason   string `yaml:"reason"`
	// Issue optionally links the upstream bug report.
	Issue string `yaml:"issue,omitempty"`
}

// ReadExpectations decodes and validates an expectations file: unknown keys,
// a wrong schema, a deviation without id or reason, duplicate ids and an
// issue that is not an http(s) URL are errors.
func ReadExpectations(r io.Reader) (*Expectations, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var e Expectations
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&e); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("expectations: the file is empty")
		}
		return nil, fmt.Errorf("expectations: %s", PrintableLine(strings.ReplaceAll(err.Error(), "\n", "; ")))
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("expectations: %w", err)
	}
	return &e, nil
}

// ReadExpectationsFile reads and validates an expectations file.
func ReadExpectationsFile(path string) (*Expectations, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	e, err := ReadExpectations(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

// Validate checks the document; the first problem is named, with the
// deviation's id through PrintableLine (the error is printed on a terminal).
func (e *Expectations) Validate() error {
	if e.Schema != ExpectationsSchema {
		return fmt.Errorf("schema is %q, want %q", e.Schema, ExpectationsSchema)
	}
	seen := map[string]bool{}
	for i, d := range e.Deviations {
		id := PrintableLine(d.ID)
		switch {
		case d.ID == "":
			return fmt.Errorf("deviations[%d]: id is required", i)
		case seen[d.ID]:
			return fmt.Errorf("deviations[%d]: %s is listed twice", i, id)
		case strings.TrimSpace(d.Reason) == "":
			return fmt.Errorf("deviations[%d] (%s): a reason is required", i, id)
		}
		if d.Issue != "" {
			u, err := url.Parse(d.Issue)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return fmt.Errorf("deviations[%d] (%s): issue %q is not an http(s) URL", i, id, d.Issue)
			}
		}
		seen[d.ID] = true
	}
	return nil
}

// GateEntry is one cell or scenario the gate has something to say about.
type GateEntry struct {
	ID        string
	Scenario  bool
	Verdict   Verdict // "" when the run does not have it
	Observed  string
	Deviation *Deviation // the listed deviation, if any
	Note      string
}

// GateResult is the gate's judgement of a run.
type GateResult struct {
	Target string
	// Unexpected are the fails the expectations do not list, or list with
	// another observed outcome: each fails the gate.
	Unexpected []GateEntry
	// Known are the listed deviations that persist.
	Known []GateEntry
	// Fixed are listed deviations that pass now: remove them from the
	// expectations. They do not fail the gate.
	Fixed []GateEntry
	// Unchecked are listed deviations this run did not check (skipped,
	// unsupported, absent, …): neither fixed nor failing.
	Unchecked []GateEntry
	// NothingChecked is set when no cell or scenario got an answer to
	// judge (no pass, fail or informational): a target that is down makes
	// every cell indeterminate, and a gate that passed then would hide it.
	// It fails the gate.
	NothingChecked bool
	// NothingReason is then the largest root cause, with its count.
	NothingReason string
}

// Gate judges a run against the expectations: only a fail they do not list
// (with its observed outcome) fails it.
func Gate(c *Compat, e *Expectations) *GateResult {
	g := &GateResult{Target: e.Target}
	listed := map[string]*Deviation{}
	for i := range e.Deviations {
		listed[e.Deviations[i].ID] = &e.Deviations[i]
	}
	seen := map[string]bool{}
	judge := func(id string, scenario bool, v Verdict, observed, detail string) {
		seen[id] = true
		d := listed[id]
		entry := GateEntry{ID: id, Scenario: scenario, Verdict: v, Observed: observed, Deviation: d}
		switch {
		case d == nil && v == Fail:
			entry.Note = detail
			g.Unexpected = append(g.Unexpected, entry)
		case d == nil:
		case v == Fail && !scenario && d.Observed != observed:
			entry.Note = fmt.Sprintf("observed %s, but the expectations list %s", outcome(observed), outcomeOrNone(d.Observed))
			g.Unexpected = append(g.Unexpected, entry)
		case v == Fail:
			g.Known = append(g.Known, entry)
		case v == Pass:
			entry.Note = "fixed — remove from expectations"
			g.Fixed = append(g.Fixed, entry)
		default:
			entry.Note = "not checked by this run (" + string(v) + ")"
			g.Unchecked = append(g.Unchecked, entry)
		}
	}
	for _, cell := range c.Cells {
		judge(cell.ID, false, cell.Verdict, cell.Observed, cell.Evidence.Detail)
	}
	for _, s := range c.Scenarios {
		judge(s.Name, true, s.Verdict, "", s.Detail)
	}
	g.NothingChecked, g.NothingReason = c.NothingChecked()
	for i := range e.Deviations {
		d := &e.Deviations[i]
		if !seen[d.ID] {
			g.Unchecked = append(g.Unchecked, GateEntry{ID: d.ID, Deviation: d,
				Note: "no such cell or scenario in this run (a typo, or a cell of another model revision?)"})
		}
	}
	return g
}

func outcomeOrNone(s string) string {
	if s == "" {
		return "no observed outcome"
	}
	return s
}

// Failed reports whether the gate fails the run.
func (g *GateResult) Failed() bool { return len(g.Unexpected) > 0 || g.NothingChecked }

func (g *GateResult) nothingNote() string {
	if g.NothingReason == "" {
		return "nothing was checked: no cell or scenario passed or failed (is the target up?)"
	}
	return "nothing was checked: " + g.NothingReason + " — no cell or scenario passed or failed (is the target up?)"
}

// Text renders the judgement for a terminal. The strings of the run and of
// the expectations (ids, outcomes, details, reasons) are shown through
// PrintableLine: either file may be someone else's, and none of their
// strings may send a control sequence to the terminal or start a line of
// its own.
func (g *GateResult) Text() string {
	var b strings.Builder
	verdict := "passed"
	if g.Failed() {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "gate %s: %d unexpected failures, %d known deviations persist, %d fixed, %d not checked\n",
		verdict, len(g.Unexpected), len(g.Known), len(g.Fixed), len(g.Unchecked))
	if g.NothingChecked {
		fmt.Fprintf(&b, "  FAIL %s\n", PrintableLine(g.nothingNote()))
	}
	for _, e := range g.Unexpected {
		fmt.Fprintf(&b, "  FAIL %s: %s", PrintableLine(e.label()), PrintableLine(outcome(e.Observed)))
		if e.Note != "" {
			fmt.Fprintf(&b, " — %s", PrintableLine(e.Note))
		}
		b.WriteString("\n")
	}
	for _, e := range g.Fixed {
		fmt.Fprintf(&b, "  fixed — remove from expectations: %s (now pass)\n", PrintableLine(e.label()))
	}
	for _, e := range g.Unchecked {
		fmt.Fprintf(&b, "  not checked: %s: %s\n", PrintableLine(e.label()), PrintableLine(e.Note))
	}
	return Printable(b.String())
}

// Markdown renders the judgement for a job summary; the strings of the run
// and of the expectations go through mdText or mdCode.
func (g *GateResult) Markdown() string {
	var b strings.Builder
	status := "✅ passed"
	if g.Failed() {
		status = "❌ failed"
	}
	fmt.Fprintf(&b, "## kmsconform gate %s\n\n%d unexpected failures · %d known deviations persist · %d fixed · %d not checked\n",
		status, len(g.Unexpected), len(g.Known), len(g.Fixed), len(g.Unchecked))
	if g.NothingChecked {
		fmt.Fprintf(&b, "\n**%s**\n", mdText(g.nothingNote()))
	}
	section := func(title string, list []GateEntry, withReason bool) {
		if len(list) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n### %s\n\n", title)
		for _, e := range list {
			fmt.Fprintf(&b, "- `%s`: %s", mdCode(e.label()), mdText(outcome(e.Observed)))
			if e.Note != "" {
				fmt.Fprintf(&b, " — %s", mdText(e.Note))
			}
			if withReason && e.Deviation != nil {
				fmt.Fprintf(&b, " — %s", mdText(e.Deviation.Reason))
				if e.Deviation.Issue != "" {
					fmt.Fprintf(&b, " (%s)", mdText(e.Deviation.Issue))
				}
			}
			b.WriteString("\n")
		}
	}
	section("Unexpected failures", g.Unexpected, false)
	section("Fixed — remove from expectations", g.Fixed, false)
	section("Known deviations", g.Known, true)
	section("Not checked", g.Unchecked, false)
	return Printable(b.String())
}

func (e GateEntry) label() string {
	if e.Scenario {
		return "scenario " + e.ID
	}
	return e.ID
}
