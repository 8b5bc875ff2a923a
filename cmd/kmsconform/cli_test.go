package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/reports"
)

// helpNotWired are the commands whose -h may not use the shared layout
// yet: their files print helpServe and helpXKSProxy() once wired. Until a
// listed command's page starts with the layout's "Usage:" line it is
// skipped, by name; from then on it is checked like every other.
var helpNotWired = map[string]bool{}

// checkHelpLayout checks one -h page: the usage lines, one paragraph, then
// the sections in their order, each at most once.
func checkHelpLayout(t *testing.T, name, page string, wantFlags bool) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(page, "\n"), "\n")
	usage := strings.TrimSpace("  kmsconform " + name)
	if len(lines) < 4 || lines[0] != "Usage:" || !strings.HasPrefix(lines[1], "  "+usage) {
		t.Fatalf("%s: the page does not start with its usage line:\n%s", name, page)
	}
	i := 1
	for i < len(lines) && strings.HasPrefix(lines[i], "  kmsconform") {
		i++
	}
	if i+1 >= len(lines) || lines[i] != "" || lines[i+1] == "" || strings.HasPrefix(lines[i+1], " ") {
		t.Fatalf("%s: no paragraph after the usage lines:\n%s", name, page)
	}
	for i++; i < len(lines) && lines[i] != ""; i++ {
		if len([]rune(lines[i])) > helpWidth || strings.HasSuffix(lines[i], ":") {
			t.Errorf("%s: paragraph line %q is longer than %d columns or a heading", name, lines[i], helpWidth)
		}
	}
	order := []string{"Commands:", "Flags:", "Environment:"}
	last := -1
	for _, l := range lines[i:] {
		if k := slices.Index(order, l); k >= 0 {
			if k <= last {
				t.Errorf("%s: section %s out of order or repeated", name, l)
			}
			last = k
		}
	}
	if hasFlagsSection := strings.Contains(page, "\nFlags:\n"); hasFlagsSection != wantFlags {
		t.Errorf("%s: Flags section %v, want %v:\n%s", name, hasFlagsSection, wantFlags, page)
	}
}

// TestHelpLayout: -h, -help and --help exit 0 with the page on stdout,
// in the one layout, for every command and report subcommand; 'kmsconform
// help NAME' is the same page.
func TestHelpLayout(t *testing.T) {
	type cmd struct {
		args  []string
		flags bool
	}
	cmds := []cmd{{[]string{"report", "render"}, true}, {[]string{"report", "diff"}, true}, {[]string{"report", "gate"}, true}}
	for name := range commands {
		cmds = append(cmds, cmd{[]string{name}, name != "model" && name != "version" && name != "report"})
	}
	for _, c := range cmds {
		name := strings.Join(c.args, " ")
		t.Run(name, func(t *testing.T) {
			if _, out, _ := cli(append(slices.Clone(c.args), "-h")...); helpNotWired[name] && !strings.HasPrefix(out, "Usage:\n") {
				t.Skipf("%s -h is not wired to the shared layout yet", name)
			}
			var first string
			for _, h := range []string{"-h", "-help", "--help"} {
				code, out, errOut := cli(append(slices.Clone(c.args), h)...)
				if code != 0 || errOut != "" {
					t.Fatalf("%s %s: exit %d, stderr %q", name, h, code, errOut)
				}
				if first == "" {
					first = out
				} else if out != first {
					t.Errorf("%s %s: a different page", name, h)
				}
			}
			checkHelpLayout(t, name, first, c.flags)
			if code, out, _ := cli(append([]string{"help"}, c.args...)...); code != 0 || out != first {
				t.Errorf("help %s: exit %d, not the page of %s -h", name, code, name)
			}
		})
	}
	// Environment variables on the pages of the commands that read them.
	var b bytes.Buffer
	helpRun.write(&b, nil)
	for _, v := range []string{"AWS_ENDPOINT_URL_KMS", "KMSCONFORM_SKIP_BROWSER", "KMSCONFORM_CHROMIUM", "KMSCONFORM_XKS_URI_ENDPOINT"} {
		if !strings.Contains(b.String(), "\nEnvironment:\n") || !strings.Contains(b.String(), v) {
			t.Errorf("run's page does not name %s:\n%s", v, b.String())
		}
	}
	b.Reset()
	helpServe.write(&b, nil)
	if !strings.Contains(b.String(), envPassphrase) || !strings.Contains(b.String(), envAccessKey) {
		t.Errorf("serve's page does not name its variables:\n%s", b.String())
	}
}

// TestHelpListsTheCommands: kmsconform -h, --help and help list every
// command on stdout with exit 0; kmsconform alone lists them on stderr
// with exit 2 (it was not asked for).
func TestHelpListsTheCommands(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		code, out, errOut := cli(args...)
		if code != 0 || errOut != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
		}
		checkHelpLayout(t, "", out, false)
		for name, c := range commands {
			if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(name) + ` +` + regexp.QuoteMeta(c.summary) + `$`).MatchString(out) {
				t.Errorf("%v: %s is not listed:\n%s", args, name, out)
			}
		}
	}
	code, out, errOut := cli()
	if code != 2 || out != "" || !strings.Contains(errOut, "\nCommands:\n") {
		t.Errorf("no arguments: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestCLIMistakes: an unknown command, subcommand, flag or argument is one
// line on stderr, nothing on stdout, and exit 2.
func TestCLIMistakes(t *testing.T) {
	for _, args := range [][]string{
		{"nope"}, {"--nope"}, {"-x", "run"}, {"help", "nope"}, {"help", "plan", "model"},
		{"model", "--nope"}, {"model", "extra"},
		{"plan", "--nope"}, {"plan", "--summary=maybe"}, {"plan", "extra"},
		{"version", "--nope"}, {"version", "extra"},
		{"report", "frob"}, {"report", "render", "--nope"}, {"report", "diff", "--format"}, {"report", "gate", "-x", "a.json"},
	} {
		code, out, errOut := cli(args...)
		if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "kmsconform") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and one line on stderr", args, code, out, errOut)
		}
	}
}

// TestVersion prints the build information of a synthetic build, then of
// this test binary.
func TestVersion(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/kmsconform/kmsconform", Version: "v0.0.0-20261130150451-b05bd379b9ff+dirty"},
		Deps: []*debug.Module{
			{Path: "github.com/aws/aws-sdk-go-v2", Version: "v1.41.0"},
			{Path: kmsModule, Version: "v1.62.4"},
		},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "b05bd379b9ff613f8f17ef8df0785a4717092756"},
			{Key: "vcs.time", Value: "2026-11-30T15:04:51Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	var b bytes.Buffer
	writeVersion(&b, info, "r2-0324ba93")
	want := `kmsconform v0.0.0-20261130150451-b05bd379b9ff+dirty
  commit    b05bd379b9ff613f8f17ef8df0785a4717092756 2026-11-30T15:04:51Z (with uncommitted changes)
  model     r2-0324ba93
  sdk       github.com/aws/aws-sdk-go-v2/service/kms v1.62.4
  go        go1.26.8
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	// A build without VCS information (go build -buildvcs=false, a module
	// cache build) has no commit line; a replaced SDK says so.
	info.Main.Version, info.Settings = "(devel)", nil
	info.Deps[1].Replace = &debug.Module{Path: "../kms", Version: ""}
	b.Reset()
	writeVersion(&b, info, "r2-0324ba93")
	if !strings.HasPrefix(b.String(), "kmsconform (devel)\n  model ") || !strings.Contains(b.String(), kmsModule+" v1.62.4 => ../kms\n") {
		t.Errorf("devel build:\n%s", b.String())
	}

	code, out, errOut := cli("version")
	if code != 0 || errOut != "" {
		t.Fatalf("version: exit %d, stderr %q", code, errOut)
	}
	if !strings.HasPrefix(out, "kmsconform ") || !strings.Contains(out, "\n  model     "+model.Revision()+"\n") ||
		!regexp.MustCompile(`\n  sdk       `+regexp.QuoteMeta(kmsModule)+` v1\.\d+\.\d+`).MatchString(out) {
		t.Errorf("version:\n%s", out)
	}
	if code, same, _ := cli("--version"); code != 0 || same != out {
		t.Errorf("--version: exit %d, %q", code, same)
	}
}

// TestCLIBuiltBinary builds the command as a user does and checks what only
// a real binary shows: the commit in version (go test stamps none), and the
// exit codes as the shell sees them (go run turns every non-zero exit into
// 1, so README's 0/1/2 holds for a built binary only).
func TestCLIBuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go on the PATH")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "kmsconform")
	// The machine's GOFLAGS may say -buildvcs=false; the flag wins.
	stamped := true
	if out, err := exec.Command(goTool, "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Logf("no VCS stamp (%s); building without", strings.TrimSpace(string(out)))
		stamped = false
		if out, err := exec.Command(goTool, "build", "-buildvcs=false", "-o", bin, ".").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	run := func(args ...string) (int, string, string) {
		cmd := exec.Command(bin, args...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String(), errOut.String()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, out.String(), errOut.String()
	}

	code, out, _ := run("version")
	if code != 0 || !strings.Contains(out, "\n  model     "+model.Revision()+"\n") {
		t.Fatalf("version: exit %d\n%s", code, out)
	}
	if head, err := exec.Command("git", "rev-parse", "HEAD").Output(); stamped && err == nil {
		rev := strings.TrimSpace(string(head))
		if !strings.Contains(out, "\n  commit    "+rev+" ") || !strings.HasPrefix(out, "kmsconform v0.0.0-") {
			t.Errorf("version does not name commit %s:\n%s", rev, out)
		}
	}

	old := writeCompat(t, dir, "old.json", unitRun(reports.Pass, "CustomKeyStoreNotFoundException"))
	regressed := writeCompat(t, dir, "new.json", unitRun(reports.Fail, "NotFoundException"))
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-h"}, 0},
		{[]string{"help", "plan"}, 0},
		{[]string{"model"}, 0},
		{[]string{"report", "diff", old, old}, 0},
		{[]string{"report", "diff", old, regressed}, 1},
		{nil, 2},
		{[]string{"nope"}, 2},
		{[]string{"plan", "--nope"}, 2},
		{[]string{"report", "render", filepath.Join(dir, "missing.json")}, 2},
	} {
		if code, _, errOut := run(tc.args...); code != tc.code {
			t.Errorf("kmsconform %s: exit %d, want %d (stderr %q)", strings.Join(tc.args, " "), code, tc.code, errOut)
		}
	}
	_ = os.Remove(bin)
}
