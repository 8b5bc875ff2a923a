package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kmsconform/kmsconform/reports"
)

func init() {
	register("report", command{
		summary: "render compat.json (md, html, junit, badge), diff two runs, gate one on expectations",
		run:     runReport,
	})
}

var helpReport = helpPage{
	Usage: []string{
		"kmsconform report render COMPAT.json [--format md|html|junit|badge] [-o FILE]",
		"kmsconform report diff OLD.json NEW.json [--format text|md]",
		"kmsconform report gate COMPAT.json --expect FILE [--format text|md]",
	},
	About: "Works from the compat.json a run wrote: render writes one rendering of it, diff compares two runs " +
		"and gate judges one against an expectations file. Exit 1 on a regression (diff) or on a failing " +
		"cell the expectations file does not list (gate); a malformed or wrong-schema file is one line on " +
		"stderr and exit 2.",
	Commands: []helpEntry{
		{"render", "write compat.json as Markdown, HTML, JUnit XML or an SVG badge"},
		{"diff", "list the cells whose verdict or observed outcome changed between two runs"},
		{"gate", "fail on a failing cell an expectations file does not list"},
	},
	More: []string{"Run 'kmsconform report <subcommand> -h' for its flags."},
}

var helpReportRender = helpPage{
	Usage: []string{"kmsconform report render COMPAT.json [--format md|html|junit|badge] [-o FILE]"},
	About: "Writes one rendering of a run's compat.json to stdout, or to -o FILE: the Markdown summary, the " +
		"self-contained HTML page, JUnit XML (one testcase per cell) or the SVG badge. The same input " +
		"renders byte for byte the same. Flags may come before or after the file.",
}

var helpReportDiff = helpPage{
	Usage: []string{"kmsconform report diff OLD.json NEW.json [--format text|md]"},
	About: "Lists the cells whose verdict or observed outcome changed from OLD.json to NEW.json, as " +
		"regressions, fixes and other changes: for two versions of an emulator, or an emulator against a " +
		"recording of real KMS. Exit 1 when there is a regression, 0 otherwise.",
}

var helpReportGate = helpPage{
	Usage: []string{"kmsconform report gate COMPAT.json --expect FILE [--format text|md]"},
	About: "Judges a run against an expectations file (YAML, schema kmsconform/expectations/v1) listing the " +
		"target's known deviations: exit 1 on a failing cell the file does not list (with its observed " +
		"outcome) or when the run checked nothing, 0 otherwise. It names the listed deviations that now pass.",
}

func runReport(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		helpReport.write(stderr, nil)
		return 2
	}
	if a := args[0]; a == "-h" || a == "-help" || a == "--help" || a == "help" {
		helpReport.write(stdout, nil)
		return 0
	}
	sub, rest := args[0], args[1:]
	var code int
	var err error
	switch sub {
	case "render":
		code, err = reportRender(rest, stdout, stderr)
	case "diff":
		code, err = reportDiff(rest, stdout, stderr)
	case "gate":
		code, err = reportGate(rest, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "kmsconform report: unknown subcommand %q: want render, diff or gate\n", sub)
		return 2
	}
	if err != nil {
		// An error may name an id of the file: one printable line.
		fmt.Fprintf(stderr, "kmsconform report %s: %s\n", sub, reports.PrintableLine(oneLine(err)))
		return 2
	}
	return code
}

// parseInterspersed parses flags wherever they are among the positional
// arguments ("render compat.json --format md" as well as "render --format md
// compat.json"), which the flag package alone does not.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseReportFlags is parseFlags for a report subcommand, whose flags may
// follow its files.
func parseReportFlags(fs *flag.FlagSet, page helpPage, args []string, stdout, stderr io.Writer) (pos []string, code int, done bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, flagError(fs, page, err, stdout, stderr), true
	}
	return pos, 0, false
}

// readCompat reads and validates a compat.json, naming the file in the error.
func readCompat(path string) (*reports.Compat, error) {
	c, err := reports.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func reportRender(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("report render", flag.ContinueOnError)
	format := fs.String("format", "md", "md, html, junit or badge")
	out := fs.String("o", "", "write to this file instead of stdout")
	pos, code, done := parseReportFlags(fs, helpReportRender, args, stdout, stderr)
	if done {
		return code, nil
	}
	if len(pos) != 1 {
		return 2, fmt.Errorf("want one compat.json, got %d arguments", len(pos))
	}
	f := reports.Format(*format)
	if _, ok := reports.FileNames[f]; !ok {
		return 2, fmt.Errorf("--format %q: want md, html, junit or badge", *format)
	}
	c, err := readCompat(pos[0])
	if err != nil {
		return 2, err
	}
	data, err := reports.Render(c, f)
	if err != nil {
		return 2, err
	}
	if *out == "" {
		_, err = stdout.Write(data)
		return 0, err
	}
	return 0, os.WriteFile(*out, data, 0o644)
}

func textOrMarkdown(format string) error {
	if format != "text" && format != "md" {
		return fmt.Errorf("--format %q: want text or md", format)
	}
	return nil
}

func reportDiff(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("report diff", flag.ContinueOnError)
	format := fs.String("format", "text", "text or md")
	pos, code, done := parseReportFlags(fs, helpReportDiff, args, stdout, stderr)
	if done {
		return code, nil
	}
	if len(pos) != 2 {
		return 2, fmt.Errorf("want OLD.json and NEW.json, got %d arguments", len(pos))
	}
	if err := textOrMarkdown(*format); err != nil {
		return 2, err
	}
	old, err := readCompat(pos[0])
	if err != nil {
		return 2, err
	}
	new, err := readCompat(pos[1])
	if err != nil {
		return 2, err
	}
	d := reports.Diff(old, new)
	if *format == "md" {
		fmt.Fprint(stdout, d.Markdown())
	} else {
		fmt.Fprint(stdout, d.Text())
	}
	if d.HasRegression() {
		return 1, nil
	}
	return 0, nil
}

func reportGate(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("report gate", flag.ContinueOnError)
	format := fs.String("format", "text", "text or md")
	expect := fs.String("expect", "", "the expectations file (YAML) listing the target's known deviations")
	pos, code, done := parseReportFlags(fs, helpReportGate, args, stdout, stderr)
	if done {
		return code, nil
	}
	if len(pos) != 1 {
		return 2, fmt.Errorf("want one compat.json, got %d arguments", len(pos))
	}
	if *expect == "" {
		return 2, errors.New("--expect FILE is required")
	}
	if err := textOrMarkdown(*format); err != nil {
		return 2, err
	}
	e, err := reports.ReadExpectationsFile(*expect)
	if err != nil {
		return 2, err
	}
	c, err := readCompat(pos[0])
	if err != nil {
		return 2, err
	}
	g := reports.Gate(c, e)
	if *format == "md" {
		fmt.Fprint(stdout, g.Markdown())
	} else {
		fmt.Fprint(stdout, g.Text())
	}
	if g.Failed() {
		return 1, nil
	}
	return 0, nil
}

// GateFileName is the gate's Markdown judgement, written next to
// compat.json by `run --expect` for a CI job summary.
const GateFileName = "gate.md"

// writeFormats writes every rendering of a finished run next to its
// compat.json, and the HTML page's screenshot when a Chromium is installed
// (KMSCONFORM_SKIP_BROWSER=1 leaves it out). A missing browser or a failed
// screenshot is a note, not an error: the reports are complete without it.
func writeFormats(dir string, c *reports.Compat, stdout, stderr io.Writer) error {
	paths, err := reports.WriteAll(dir, c)
	if err != nil {
		return err
	}
	// A gate.md of an earlier run must not pass for this run's judgement.
	_ = os.Remove(filepath.Join(dir, GateFileName))
	names := make([]string, 0, len(paths)+1)
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	if os.Getenv("KMSCONFORM_SKIP_BROWSER") != "1" {
		browser, err := reports.Browser()
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			err = reports.Screenshot(ctx, browser, filepath.Join(dir, reports.FileNames[reports.FormatHTML]),
				filepath.Join(dir, reports.ScreenshotName))
			cancel()
		}
		if err != nil {
			fmt.Fprintf(stderr, "kmsconform run: no screenshot of compat.html: %s\n", oneLine(err))
		} else {
			names = append(names, reports.ScreenshotName)
		}
	}
	fmt.Fprintf(stdout, "  reports: %s in %s\n", strings.Join(names, ", "), dir)
	return nil
}

// loadExpectations reads the file of run --expect before the run, so a
// mistake in it costs no run.
func loadExpectations(path string) (*reports.Expectations, error) {
	if path == "" {
		return nil, nil
	}
	return reports.ReadExpectationsFile(path)
}

// gateExit is the exit code of a run with --expect: 1 on a failing cell or
// scenario the expectations do not list, on a spec that failed without any
// failing cell (a verdict the target kind does not excuse), or, for a whole
// run, when nothing was checked (said in one line on stderr); else 0. A
// whole run (not one shard of it) also writes the judgement g, as gate.md,
// into dir.
func gateExit(g *reports.GateResult, c *reports.Compat, specFailed, whole bool, dir string, stderr io.Writer) int {
	if whole {
		if err := os.WriteFile(filepath.Join(dir, GateFileName), []byte(g.Markdown()), 0o644); err != nil {
			fmt.Fprintf(stderr, "kmsconform run: %s\n", oneLine(err))
			return 2
		}
	}
	code := 0
	if len(g.Unexpected) > 0 || (specFailed && c.Summary.Fail == 0) {
		code = 1
	}
	// The gate's NothingChecked is c.NothingChecked's; only the whole run
	// may judge it, a shard may hold nothing but skipped cells.
	if whole && nothingChecked(c, stderr) {
		code = 1
	}
	return code
}
