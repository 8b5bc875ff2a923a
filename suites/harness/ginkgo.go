package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/kmsconform/kmsconform/drive"
	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/reports"
	"github.com/kmsconform/kmsconform/targets"
)

// Options choose the target and where results go. The CLI sets them with
// Configure; under `go test` and `ginkgo` they come from the environment:
// KMSCONFORM_TARGET (emulator, endpoint or aws), KMSCONFORM_ENDPOINT,
// KMSCONFORM_REGION, KMSCONFORM_CONFIG (ginkgo.yml) and KMSCONFORM_REPORT_DIR.
type Options struct {
	Target     targets.Kind
	Endpoint   string
	Region     string
	ConfigPath string
	ReportDir  string
	Progress   drive.Progress
	// Opened, when set, is the target to use, opened (and closed) by the
	// caller: the CLI opens it first so a setup error is one line and exit 2.
	Opened targets.Target
	// Shard and Shards split the cells between processes the CLI starts
	// (--procs): this process runs the cells whose index ≡ Shard mod Shards.
	Shard, Shards int
	// ConfirmAccount is --confirm-account: the aws target runs only when it
	// names the caller's account.
	ConfirmAccount string
	// Mutant is drive.Spec.Mutant: the CLI's mutation-testing run sets it.
	Mutant string
	// Expectations are the gate's (run --expect), known before the run. A
	// failing cell or scenario they list, with the outcome it answered, is
	// a known deviation: compat.json records its fail, but its spec is
	// skipped rather than failed, so that a gate that passes does not
	// print failures it accepts.
	Expectations *reports.Expectations
}

var (
	optMu   sync.Mutex
	options = optionsFromEnv()
	current *drive.Driver
	// expectedCells is every cell a registered conformance suite may run, so
	// the report lists the ones a label filter left out as skipped.
	expectedCells []model.Cell
	startedAt     time.Time
)

func optionsFromEnv() Options {
	spec := drive.SpecFromEnv()
	o := Options{Target: spec.Kind, Endpoint: spec.Endpoint, Region: spec.Region, ConfigPath: spec.ConfigPath,
		ConfirmAccount: spec.ConfirmAccount, ReportDir: os.Getenv("KMSCONFORM_REPORT_DIR"), Shards: 1}
	if o.Target == "" {
		o.Target = targets.KindEmulator
	}
	if o.ReportDir == "" {
		o.ReportDir = filepath.Join(os.TempDir(), "kmsconform-report")
	}
	if n, err := strconv.Atoi(os.Getenv("KMSCONFORM_SHARD")); err == nil {
		o.Shard = n
	}
	if n, err := strconv.Atoi(os.Getenv("KMSCONFORM_SHARDS")); err == nil && n > 0 {
		o.Shards = n
	}
	return o
}

// Configure sets the options of the next run (the CLI calls it before
// RunSpecs).
func Configure(o Options) {
	optMu.Lock()
	defer optMu.Unlock()
	if o.Shards == 0 {
		o.Shards = 1
	}
	options = o
}

// CurrentOptions returns the options in force.
func CurrentOptions() Options {
	optMu.Lock()
	defer optMu.Unlock()
	return options
}

// Current returns the harness of the running suite.
func Current() *drive.Driver { return current }

// ExpectCells declares the cells the registered suites may run (a suite
// adds its own to ExpectedCells()).
func ExpectCells(cs []model.Cell) { expectedCells = cs }

// ExpectedCells returns the cells declared so far.
func ExpectedCells() []model.Cell { return expectedCells }

// InShard reports whether the cell or scenario with this id belongs to
// this process (--procs splits them by a hash of the id).
func InShard(id string) bool {
	o := CurrentOptions()
	if o.Shards <= 1 {
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32()%uint32(o.Shards)) == o.Shard
}

// Open opens the target the options name.
func Open(ctx context.Context, o Options) (targets.Target, error) {
	return drive.Open(ctx, drive.Spec{Kind: o.Target, Endpoint: o.Endpoint, Region: o.Region, ConfigPath: o.ConfigPath, ConfirmAccount: o.ConfirmAccount, Mutant: o.Mutant})
}

var _ = ReportBeforeSuite(func(r Report) {
	if p := CurrentOptions().Progress; p != nil {
		p.Start(r.PreRunStats.SpecsThatWillRun)
	}
})

var _ = BeforeSuite(func(ctx SpecContext) {
	startedAt = time.Now()
	o := CurrentOptions()
	t := o.Opened
	if t == nil {
		var err error
		if t, err = Open(ctx, o); err != nil {
			AbortSuite(fmt.Sprintf("kmsconform: cannot open the %s target: %v", o.Target, err))
		}
	}
	current = drive.New(t, GinkgoParallelProcess()+o.Shard)
	current.Cells, current.Scenarios = expectedCells, expectedScenarios
	current.SelectCell = func(c model.Cell) bool { return selected(CellLabels(c, strings.HasPrefix(c.ID, "validation/"))) }
	current.SelectScenario = func(s drive.Scenario) bool { return selected(ScenarioLabels(s)) }
	current.Progress = o.Progress
	DeferCleanup(func(ctx context.Context) {
		// Every cell cleans up after itself; this catches what an
		// interrupted cell left. The prefix is this run's and process's, so
		// it never touches another run's stores.
		if _, ok := t.(targets.Resetter); !ok {
			drive.Sweep(ctx, t.KMS(), current.RunPrefix(), nil, t.Timeouts().Poll)
		}
		if o.Opened == nil {
			_ = t.Close(ctx)
		}
	})
}, NodeTimeout(2*time.Minute))

const (
	entryCell     = "kmsconform.cell"
	entryScenario = "kmsconform.scenario"
	entryCalls    = "kmsconform.calls"
	entryTarget   = "kmsconform.target"
	entryFinding  = "kmsconform.finding"
	// entryFailed marks a spec failed by its cell's or scenario's fail
	// verdict, which compat.json holds; any other failed spec is a
	// problem of the run (SpecProblems).
	entryFailed = "kmsconform.failed"
	// entryFullControl marks a spec failed for a verdict short of pass on
	// a target with every capability: a defect of the target, whose
	// harness line would say nothing.
	entryFullControl = "kmsconform.full-control"
)

// RecordCell attaches a cell's result, as compat.json has it, to the
// running spec.
func RecordCell(c reports.Cell) { addEntry(entryCell, c) }

// RecordScenario attaches a scenario's result, as compat.json has it, to
// the running spec.
func RecordScenario(s reports.Scenario) { addEntry(entryScenario, s) }

func addEntry(name string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	// A JSON string survives the trip between parallel processes as it is.
	AddReportEntry(name, string(b), ReportEntryVisibilityNever)
	if h := current; h != nil {
		AddReportEntry(entryCalls, strconv.Itoa(h.TakeCalls()), ReportEntryVisibilityNever)
		AddReportEntry(entryTarget, targetJSON(h), ReportEntryVisibilityNever)
		for _, f := range h.Findings() {
			AddReportEntry(entryFinding, f, ReportEntryVisibilityNever)
		}
	}
}

func targetJSON(h *drive.Driver) string {
	b, _ := json.Marshal(reports.Target{Name: h.Target.Name(), Kind: string(h.Target.Kind()), Endpoint: h.Target.Endpoint()})
	return string(b)
}

// shardKey is the driver's shard key of a cell (its id before a driver
// exists).
func shardKey(c model.Cell) string {
	if h := current; h != nil {
		return h.ShardKey(c)
	}
	return c.ID
}

// selected reports whether a spec with these labels is in the label filter.
func selected(ls Labels) bool {
	q := GinkgoLabelFilter()
	return q == "" || ls.MatchesLabelFilter(q)
}

var expectedScenarios []drive.Scenario

// ExpectScenarios declares the scenarios the registered suites may run,
// so that a lane can run them in its order.
func ExpectScenarios(ss []drive.Scenario) { expectedScenarios = append(expectedScenarios, ss...) }

var _ = ReportAfterSuite("compat.json", func(r Report) {
	optMu.Lock()
	lastReport = r
	optMu.Unlock()
	o := CurrentOptions()
	c := BuildCompat(r)
	path := filepath.Join(o.ReportDir, CompatFileName(o))
	if err := c.WriteFile(path); err != nil {
		Fail(fmt.Sprintf("writing %s: %v", path, err))
		return
	}
	if o.Shards <= 1 {
		fmt.Fprint(GinkgoWriter, reports.TerminalSummary(c, path))
	}
})

// CompatFileName is compat.json, or compat.<shard>.json for a shard.
func CompatFileName(o Options) string {
	if o.Shards > 1 {
		return fmt.Sprintf("compat.%d.json", o.Shard)
	}
	return "compat.json"
}

// BuildCompat makes compat.json from a suite report: every cell and
// scenario result its specs recorded, and the expected cells nobody ran as
// skipped.
func BuildCompat(r Report) *reports.Compat {
	c := &reports.Compat{Schema: reports.Schema, ModelRevision: model.Revision(), StartedAt: r.StartTime.UTC(),
		DurationSeconds: r.RunTime.Seconds(), Cells: []reports.Cell{}, Scenarios: []reports.Scenario{}}
	seen := map[string]bool{}
	for _, s := range r.SpecReports {
		for _, e := range s.ReportEntries {
			raw := e.Value.String()
			switch e.Name {
			case entryCell:
				var cell reports.Cell
				if json.Unmarshal([]byte(raw), &cell) == nil {
					c.Cells = append(c.Cells, cell)
					seen[cell.ID] = true
				}
			case entryScenario:
				var sc reports.Scenario
				if json.Unmarshal([]byte(raw), &sc) == nil {
					c.Scenarios = append(c.Scenarios, sc)
				}
			case entryCalls:
				n, _ := strconv.Atoi(raw)
				c.APICalls += n
			case entryTarget:
				_ = json.Unmarshal([]byte(raw), &c.Target)
			case entryFinding:
				if !slices.Contains(c.Findings, raw) {
					c.Findings = append(c.Findings, raw)
				}
			}
		}
	}
	if c.Target.Kind == "" {
		o := CurrentOptions()
		c.Target = reports.Target{Name: string(o.Target), Kind: string(o.Target), Endpoint: o.Endpoint}
	}
	notRun := "not selected (label filter)"
	for _, why := range r.SpecialSuiteFailureReasons {
		if strings.Contains(why, "Interrupted") {
			notRun = "not run: the run was interrupted"
		}
	}
	for _, cell := range expectedCells {
		if !seen[cell.ID] && InShard(shardKey(cell)) {
			res := reports.CellFor(cell)
			res.Verdict = reports.Skipped
			res.Evidence.Detail = notRun
			c.Cells = append(c.Cells, res)
		}
	}
	c.Finish()
	return c
}

// CellSpec is the body of a cell's spec: run the cell on the current
// target (when it is in this process's shard), record it, and conclude.
func CellSpec(ctx SpecContext, c model.Cell) {
	if !InShard(shardKey(c)) {
		Skip("in another process's shard")
	}
	h := current
	var res drive.CellResult
	if h.UsesLanes() && drive.LaneOf(c) != "" {
		res = h.LaneCell(ctx, c)
	} else {
		res = h.RunCell(ctx, c)
		h.Done(res.Cell.ID, res.Verdict)
	}
	cell := CellReport(res)
	RecordCell(cell)
	if res.Verdict == drive.Fail {
		failVerdict(FailureText(cell), KnownDeviation(CurrentOptions().Expectations, cell))
	}
	Conclude(res.Verdict, res.Evidence.Detail)
}

// ScenarioSpec is the body of a scenario's spec.
func ScenarioSpec(ctx SpecContext, s drive.Scenario) {
	h := current
	key := "scenario/" + s.Name
	if h.UsesLanes() && s.StoreType() != "" {
		key = "lane/" + string(s.StoreType())
	}
	if !InShard(key) {
		Skip("in another process's shard")
	}
	var res drive.ScenarioResult
	if h.UsesLanes() && s.StoreType() != "" {
		res = h.LaneScenario(ctx, s)
	} else {
		res = h.RunScenario(ctx, s)
		h.Done("scenario "+res.Name, res.Verdict)
	}
	sc := ScenarioReport(res)
	RecordScenario(sc)
	if res.Verdict == drive.Fail {
		failVerdict(ScenarioFailureText(sc), KnownScenarioDeviation(CurrentOptions().Expectations, sc))
	}
	Conclude(res.Verdict, res.Detail)
}

// failVerdict ends the spec of a failing cell or scenario: skipped when the
// gate lists it as a known deviation, else failed with its failure text.
func failVerdict(text string, d *reports.Deviation) {
	if d != nil {
		Skip("known deviation (" + d.Reason + "): " + text)
	}
	AddReportEntry(entryFailed, "", ReportEntryVisibilityNever)
	Fail(text)
}

var lastReport Report

// SpecProblems returns, one line each, the specs of the last run that
// failed for something other than their cell's or scenario's fail verdict
// (compat.json holds those): a panic, a timeout, an interrupt, a suite node
// that failed, a verdict short of pass on a target with every capability.
// These are problems of the run or of the suite, so each names its spec
// and where it failed.
func SpecProblems() []string {
	optMu.Lock()
	r := lastReport
	optMu.Unlock()
	var out []string
	for _, s := range r.SpecReports {
		if !s.State.Is(types.SpecStateFailureStates) || s.LeafNodeType == types.NodeTypeReportAfterSuite {
			continue
		}
		failed, fullControl := false, false
		for _, e := range s.ReportEntries {
			failed = failed || e.Name == entryFailed
			fullControl = fullControl || e.Name == entryFullControl
		}
		if failed {
			continue
		}
		name := s.LeafNodeText
		if name == "" {
			name = s.LeafNodeType.String()
		}
		msg, _, _ := strings.Cut(strings.TrimSpace(s.Failure.Message), "\n")
		line := fmt.Sprintf("%s %s: %s", name, s.State, msg)
		if !fullControl && s.Failure.Location.FileName != "" {
			line += fmt.Sprintf(" (%s)", s.Failure.Location)
		}
		out = append(out, line)
	}
	return out
}

// Conclude ends a spec by its verdict: a fail fails it; pass and
// informational pass; the others skip it — except on a target with every
// capability (the embedded emulator), where every cell is reachable, so
// anything short of pass there is a defect of the target or of the suite.
func Conclude(v drive.Verdict, detail string) {
	switch v {
	case drive.Fail:
		Fail(detail)
	case drive.Pass, drive.Informational:
	default:
		if h := current; h != nil && h.FullControl() {
			AddReportEntry(entryFullControl, "", ReportEntryVisibilityNever)
			Fail(fmt.Sprintf("%s on a target with every capability: %s", v, detail))
		}
		Skip(string(v) + ": " + detail)
	}
}
