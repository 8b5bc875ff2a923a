package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
)

// The JUnit XML elements, as CI systems (GitHub, GitLab, Jenkins) read them.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

// JUnit renders a run as JUnit XML: one testsuite per store type, one for the
// validation constraints and one for the scenarios; one testcase per cell or
// scenario. A fail is a failure, unsupported, unreachable and skipped are
// skipped, indeterminate (the outcome is unknown) is an error, and pass and
// informational pass (informational with its detail as output).
//
// encoding/xml escapes the strings for XML; the document is first copied
// through Printable, so a control or bidi character of the data shows as an
// escape (encoding/xml would write U+FFFD for some and leave others raw).
func JUnit(c *Compat) ([]byte, error) {
	c = c.MapStrings(Printable)
	stamp := c.StartedAt.UTC().Format("2006-01-02T15:04:05")
	props := []junitProperty{
		{Name: "target", Value: c.Target.Name},
		{Name: "target.kind", Value: c.Target.Kind},
		{Name: "model_revision", Value: c.ModelRevision},
	}
	var suites []junitSuite
	index := map[string]int{}
	suiteFor := func(name string) *junitSuite {
		if _, ok := index[name]; !ok {
			index[name] = len(suites)
			suites = append(suites, junitSuite{Name: name, Timestamp: stamp, Properties: props})
		}
		return &suites[index[name]]
	}
	secs := map[string]float64{}
	for i := range c.Cells {
		cell := &c.Cells[i]
		name := "kmsconform." + cell.StoreType
		if cell.IsValidation() {
			name = "kmsconform.validation"
		}
		s := suiteFor(name)
		tc := junitCase{Name: cell.ID, Classname: name + "." + cell.State, Time: fmt.Sprintf("%.3f", cell.Seconds)}
		explain := cellExplanation(cell)
		verdictCase(&tc, cell.Verdict, explain)
		s.add(tc)
		secs[name] += cell.Seconds
	}
	for _, sc := range c.Scenarios {
		s := suiteFor("kmsconform.scenarios")
		tc := junitCase{Name: sc.Name, Classname: "kmsconform.scenarios", Time: fmt.Sprintf("%.3f", sc.Seconds)}
		verdictCase(&tc, sc.Verdict, sc.Detail)
		s.add(tc)
		secs["kmsconform.scenarios"] += sc.Seconds
	}
	root := junitSuites{Name: "kmsconform " + c.Target.Name, Time: fmt.Sprintf("%.3f", c.DurationSeconds)}
	for i := range suites {
		s := &suites[i]
		s.Time = fmt.Sprintf("%.3f", secs[s.Name])
		root.Tests += s.Tests
		root.Failures += s.Failures
		root.Errors += s.Errors
		root.Skipped += s.Skipped
	}
	root.Suites = suites
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("junit: %w", err)
	}
	b.WriteString("\n")
	return b.Bytes(), nil
}

func (s *junitSuite) add(tc junitCase) {
	s.Tests++
	switch {
	case tc.Failure != nil:
		s.Failures++
	case tc.Error != nil:
		s.Errors++
	case tc.Skipped != nil:
		s.Skipped++
	}
	s.Cases = append(s.Cases, tc)
}

func verdictCase(tc *junitCase, v Verdict, explain string) {
	switch v {
	case Fail:
		tc.Failure = &junitMessage{Message: firstLine(explain), Type: string(v), Body: explain}
	case Indeterminate:
		tc.Error = &junitMessage{Message: firstLine(explain), Type: string(v), Body: explain}
	case Unsupported, Unreachable, Skipped:
		tc.Skipped = &junitMessage{Message: string(v) + ": " + firstLine(explain)}
	case Informational:
		tc.SystemOut = "informational: " + explain
	}
}

// cellExplanation is the text a CI shows for a cell that did not pass.
func cellExplanation(cell *Cell) string {
	var b strings.Builder
	if cell.Evidence.Detail != "" {
		fmt.Fprintf(&b, "%s\n", cell.Evidence.Detail)
	}
	fmt.Fprintf(&b, "expected: %s\nobserved: %s\n", strings.Join(cell.Expected, " or "), outcome(cell.Observed))
	if cell.Evidence.HTTPStatus != 0 {
		fmt.Fprintf(&b, "http status: %d\n", cell.Evidence.HTTPStatus)
	}
	if cell.Evidence.Message != "" {
		fmt.Fprintf(&b, "message: %s\n", cell.Evidence.Message)
	}
	if cell.Evidence.RequestID != "" {
		fmt.Fprintf(&b, "request id: %s\n", cell.Evidence.RequestID)
	}
	fmt.Fprintf(&b, "provenance: %s\n", cell.Provenance)
	for _, r := range Sources(cell) {
		fmt.Fprintf(&b, "rule %s [%s] %s: %s\n", r.ID, r.Status, r.Source, r.Text)
		for _, l := range r.Links {
			fmt.Fprintf(&b, "  see %s: %s\n", l.Title, l.URL)
		}
	}
	return b.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
