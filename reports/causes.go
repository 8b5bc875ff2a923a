package reports

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// RootCause is one reason many cells or scenarios did not pass: every
// verdict detail that reads the same once the run-specific parts (ids,
// step numbers, durations, the harness's own prefixes) are taken out.
type RootCause struct {
	Verdict Verdict
	// Reason is the normalised detail, as rootReason makes it.
	Reason    string
	Cells     int
	Scenarios int
	// Examples are a few of the cells' ids (scenario names when the group
	// has fewer cells than that), in document order.
	Examples []string
}

// Count is the number of cells and scenarios the cause covers.
func (r RootCause) Count() int { return r.Cells + r.Scenarios }

// What says how many of what, and their verdict: "443 cells and 6
// scenarios indeterminate".
func (r RootCause) What() string {
	return countPhrase(r.Cells, r.Scenarios) + " " + string(r.Verdict)
}

// maxExamples is how many ids a root cause keeps.
const maxExamples = 3

// RootCauses groups the cells and scenarios that did not pass by verdict
// and normalised reason, the largest group first (then by reason, then by
// verdict, so the order depends only on the document).
func RootCauses(c *Compat) []RootCause {
	type key struct {
		v      Verdict
		reason string
	}
	groups := map[key]*RootCause{}
	var order []key
	add := func(v Verdict, detail, id string, scenario bool) {
		if v == Pass {
			return
		}
		k := key{v, rootReason(detail)}
		g := groups[k]
		if g == nil {
			g = &RootCause{Verdict: v, Reason: k.reason}
			groups[k] = g
			order = append(order, k)
		}
		if scenario {
			g.Scenarios++
		} else {
			g.Cells++
		}
		if len(g.Examples) < maxExamples {
			g.Examples = append(g.Examples, id)
		}
	}
	for i := range c.Cells {
		add(c.Cells[i].Verdict, c.Cells[i].Evidence.Detail, c.Cells[i].ID, false)
	}
	for _, s := range c.Scenarios {
		add(s.Verdict, s.Detail, s.Name, true)
	}
	out := make([]RootCause, 0, len(order))
	for _, k := range order {
		out = append(out, *groups[k])
	}
	// Cells come before scenarios in each group's examples already; only the
	// groups need an order.
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Count() != b.Count() {
			return a.Count() > b.Count()
		}
		if a.Reason != b.Reason {
			return a.Reason < b.Reason
		}
		return verdictRank(a.Verdict) < verdictRank(b.Verdict)
	})
	return out
}

// FailuresFirst orders root causes for a report's reader: the causes of
// failures first, since a failure is what a reader has to act on, however
// many more cells could not be checked; then the rest. Each part keeps
// RootCauses' order.
func FailuresFirst(causes []RootCause) []RootCause {
	out := make([]RootCause, 0, len(causes))
	for _, rc := range causes {
		if rc.Verdict == Fail {
			out = append(out, rc)
		}
	}
	for _, rc := range causes {
		if rc.Verdict != Fail {
			out = append(out, rc)
		}
	}
	return out
}

func verdictRank(v Verdict) int {
	for i, w := range Verdicts {
		if w == v {
			return i
		}
	}
	return len(Verdicts)
}

// NothingChecked reports whether the run got no answer it could judge: no
// cell and no scenario ended pass, fail or informational (a target that is
// down, a plain web server, a wrong URL path make every cell indeterminate,
// unsupported or unreachable, and a run that passed then would hide it).
// When so, why names the largest root cause with its count, e.g. "443 cells
// indeterminate (connection refused: http://127.0.0.1:5059)": the largest
// of the cells that asked the target (indeterminate or unsupported) when
// there are any, since the cells that never called it (unreachable for
// want of backing, skipped) do not say why the target answered nothing.
func (c *Compat) NothingChecked() (nothing bool, why string) {
	checked := func(v Verdict) bool { return v == Pass || v == Fail || v == Informational }
	for i := range c.Cells {
		if checked(c.Cells[i].Verdict) {
			return false, ""
		}
	}
	for _, s := range c.Scenarios {
		if checked(s.Verdict) {
			return false, ""
		}
	}
	causes := RootCauses(c)
	if len(causes) == 0 {
		return true, "the run has no cells and no scenarios"
	}
	top := causes[0]
	for _, rc := range causes {
		if rc.Verdict == Indeterminate || rc.Verdict == Unsupported {
			top = rc
			break
		}
	}
	return true, fmt.Sprintf("%s (%s)", top.What(), top.Reason)
}

// countPhrase is "3 cells", "1 cell and 2 scenarios", "6 scenarios".
func countPhrase(cells, scenarios int) string {
	plural := func(n int, one string) string {
		if n == 1 {
			return fmt.Sprintf("1 %s", one)
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case scenarios == 0:
		return plural(cells, "cell")
	case cells == 0:
		return plural(scenarios, "scenario")
	}
	return plural(cells, "cell") + " and " + plural(scenarios, "scenario")
}

// The prefixes the harness puts before the reason itself.
var harnessPrefixes = []string{
	"not in the planned walk: ",
	"after a divergence, the re-planned walk cannot reach it: ",
	"setting up: ",
}

var (
	// "route step 2 (ConnectCustomKeyStore) answered …" names the call.
	stepAnswered = regexp.MustCompile(`^(?:route )?step \d+ \((\w+)\) answered\b`)
	// "route step 1 (CreateCustomKeyStore): …", a scenario's "step 3 (Encrypt): …".
	stepOp = regexp.MustCompile(`^(?:route )?step \d+ \((\w+)\): `)
	// "route step 1: CreateCustomKeyStore is not implemented …".
	stepBare   = regexp.MustCompile(`^(?:route )?step \d+: `)
	stepNumber = regexp.MustCompile(`\b((?:route )?step) \d+\b`)

	// The SDK's error for a request that got no HTTP answer. Its parts
	// (operation, attempts, request id) vary by cell; the cause does not.
	sdkSendFailed = regexp.MustCompile(`request send failed, [A-Za-z]+ "([^"]*)": `)
	sdkNoise      = regexp.MustCompile(`operation error [^,]*, |exceeded maximum number of attempts, \d+, |https response error StatusCode: \d+, RequestID: [^,]*, |request send failed, `)
	// The net package's wrapping of the cause: addresses, ports and verbs.
	netLookup = regexp.MustCompile(`lookup (\S+) on \S+: `)
	netNoise  = regexp.MustCompile(`dial tcp(?: \S+)?: |(?:read|write) tcp \S+: |\b(?:connect|read|write): `)

	urlPath   = regexp.MustCompile(`\b(https?://[^/\s"'()<>]+)[^\s"'()<>]*`)
	runPrefix = regexp.MustCompile(`\bkmsconform-[0-9a-zA-Z]+-p\d+-(?:c\d+-)?`)
	uuid      = regexp.MustCompile(`\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b`)
	storeID   = regexp.MustCompile(`\bcks-[0-9a-zA-Z]+\b`)
	mrkID     = regexp.MustCompile(`\bmrk-[0-9a-fA-F]+\b`)
	requestID = regexp.MustCompile(`\b(RequestID|RequestId|request id|request ID): [0-9A-Za-z-]+`)
	account   = regexp.MustCompile(`\b\d{12}\b`)
	hexID     = regexp.MustCompile(`\b[0-9a-fA-F]{8,}\b`)
	duration  = regexp.MustCompile(`\b(?:\d+(?:\.\d+)?(?:ns|µs|us|ms|s|m|h))+\b`)
	spaces    = regexp.MustCompile(`\s+`)
)

// rootReason normalises a verdict's detail into the reason it shares with
// other cells:
//
//   - a request that got no HTTP answer is its network cause and the
//     endpoint's scheme://host:port ("connection refused:
//     http://127.0.0.1:5059"), whatever the cell, step and operation;
//   - the harness's prefixes go ("not in the planned walk: ", "after a
//     divergence, the re-planned walk cannot reach it: ", "setting up: "),
//     and so does a route step's number: "route step 2 (Op) answered" reads
//     "Op answered", "route step 1: " and "route step 1 (Op): " go (the
//     operation stays when the rest does not start with it);
//   - URLs keep scheme://host:port; run prefixes, store ids (cks-…),
//     multi-Region key ids (mrk-…), UUIDs, request ids, 12-digit account
//     ids and hex ids of 8 or more digits become placeholders, and so do
//     durations ("30.5s", "1m2s");
//   - runs of white space become one space;
//   - control and bidi characters are shown as escapes (PrintableLine): a
//     reason is printed on a terminal, in one line.
func rootReason(detail string) string {
	s := strings.TrimSpace(PrintableLine(detail))
	if s == "" {
		return "(no detail)"
	}
	if cause, ok := transportCause(s); ok {
		s = cause
	} else {
		for changed := true; changed; {
			changed = false
			for _, p := range harnessPrefixes {
				if strings.HasPrefix(s, p) {
					s, changed = s[len(p):], true
				}
			}
			if m := stepAnswered.FindStringSubmatchIndex(s); m != nil {
				s, changed = s[m[2]:m[3]]+" answered"+s[m[1]:], true
			} else if m := stepOp.FindStringSubmatchIndex(s); m != nil {
				op, rest := s[m[2]:m[3]], s[m[1]:]
				if strings.HasPrefix(rest, op) {
					s = rest
				} else {
					s = op + ": " + rest
				}
				changed = true
			} else if m := stepBare.FindStringIndex(s); m != nil {
				s, changed = s[m[1]:], true
			}
		}
		s = stepNumber.ReplaceAllString(s, "$1")
	}
	s = urlPath.ReplaceAllString(s, "$1")
	s = runPrefix.ReplaceAllString(s, "kmsconform-<run>-")
	s = uuid.ReplaceAllString(s, "<uuid>")
	s = storeID.ReplaceAllString(s, "cks-<id>")
	s = mrkID.ReplaceAllString(s, "mrk-<id>")
	s = requestID.ReplaceAllString(s, "${1}: <id>")
	s = account.ReplaceAllString(s, "<account>")
	s = hexID.ReplaceAllStringFunc(s, func(h string) string {
		if strings.ContainsAny(h, "0123456789") {
			return "<hex>"
		}
		return h // a word, such as "deadbeef"… or "acceded"
	})
	s = duration.ReplaceAllString(s, "<duration>")
	s = strings.TrimSpace(spaces.ReplaceAllString(s, " "))
	if s == "" {
		return "(no detail)"
	}
	return s
}

// transportCause recognises the SDK's error for a request that got no HTTP
// answer anywhere in a detail and returns its cause, with the endpoint's
// scheme://host:port when the error names it.
func transportCause(s string) (string, bool) {
	i := strings.Index(s, "operation error ")
	if i < 0 {
		return "", false
	}
	rest := s[i:]
	if !strings.Contains(rest, "StatusCode: 0,") && !strings.Contains(rest, "request send failed, ") {
		return "", false
	}
	endpoint := ""
	if m := sdkSendFailed.FindStringSubmatchIndex(rest); m != nil {
		endpoint = urlPath.ReplaceAllString(rest[m[2]:m[3]], "$1")
		rest = rest[m[1]:]
	} else {
		rest = sdkNoise.ReplaceAllString(rest, "")
	}
	rest = netLookup.ReplaceAllString(rest, "lookup $1: ")
	cause := strings.TrimSpace(netNoise.ReplaceAllString(rest, ""))
	switch {
	case cause == "":
		cause = "no answer"
	case endpoint != "":
		cause += ": " + endpoint
	}
	return cause, true
}
