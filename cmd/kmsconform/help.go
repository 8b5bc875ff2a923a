package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/kmsconform/kmsconform/targets"
)

// helpPage is what -h prints, in the one layout every command shares:
//
//	Usage:
//	  kmsconform NAME [flags]
//
//	One paragraph saying what the command does.
//
//	Commands:      (a command with subcommands)
//	Flags:         (from the flag set, when it has any)
//	Environment:   (the variables the command reads, when any)
//
// followed by any closing lines.
type helpPage struct {
	Usage    []string
	About    string
	Commands []helpEntry
	Env      []helpEntry
	More     []string
}

// helpEntry is one subcommand or one environment variable.
type helpEntry struct{ Name, About string }

// helpWidth is where the paragraph is wrapped.
const helpWidth = 78

// write prints the page, with the flags of fs (which may be nil).
func (h helpPage) write(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "Usage:")
	for _, u := range h.Usage {
		fmt.Fprintln(w, "  "+u)
	}
	if h.About != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, wrap(h.About, helpWidth))
	}
	if len(h.Commands) > 0 {
		fmt.Fprintln(w, "\nCommands:")
		width := 0
		for _, c := range h.Commands {
			width = max(width, len(c.Name))
		}
		for _, c := range h.Commands {
			fmt.Fprintf(w, "  %-*s  %s\n", width, c.Name, c.About)
		}
	}
	if fs != nil && hasFlags(fs) {
		fmt.Fprintln(w, "\nFlags:")
		out := fs.Output()
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
	if len(h.Env) > 0 {
		// The layout of PrintDefaults, so that the two sections read alike.
		fmt.Fprintln(w, "\nEnvironment:")
		for _, e := range h.Env {
			fmt.Fprintf(w, "  %s\n    \t%s\n", e.Name, e.About)
		}
	}
	if len(h.More) > 0 {
		fmt.Fprintln(w)
		for _, l := range h.More {
			fmt.Fprintln(w, l)
		}
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// wrap breaks a paragraph into lines of at most width columns (a longer
// word gets a line of its own).
func wrap(s string, width int) string {
	var b strings.Builder
	col := 0
	for _, word := range strings.Fields(s) {
		switch {
		case col == 0:
		case col+1+len([]rune(word)) > width:
			b.WriteByte('\n')
			col = 0
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(word)
		col += len([]rune(word))
	}
	return b.String()
}

// parseFlags parses a command's flags the way every command does: -h,
// -help and --help print the page to stdout (exit 0); a flag that is not
// defined or has a bad value is one line on stderr (exit 2). When done is
// true the command returns code at once; otherwise fs holds the flags and
// the positional arguments. The flag set's name is the command as typed
// after "kmsconform" ("plan", "report render").
func parseFlags(fs *flag.FlagSet, page helpPage, args []string, stdout, stderr io.Writer) (code int, done bool) {
	fs.SetOutput(io.Discard)
	// The flag package prints the whole usage on every parse error; a
	// mistake gets one line instead.
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		return flagError(fs, page, err, stdout, stderr), true
	}
	return 0, false
}

// flagError is the exit code of a failed fs.Parse, having printed the help
// page (ErrHelp) or the one-line message.
func flagError(fs *flag.FlagSet, page helpPage, err error, stdout, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		page.write(stdout, fs)
		return 0
	}
	fmt.Fprintf(stderr, "kmsconform %s: %v (run 'kmsconform %s -h' for the flags)\n", fs.Name(), err, fs.Name())
	return 2
}

// unexpectedArgs says so in one line (exit 2) when fs was left positional
// arguments and the command takes none.
func unexpectedArgs(fs *flag.FlagSet, stderr io.Writer) (code int, done bool) {
	if fs.NArg() == 0 {
		return 0, false
	}
	fmt.Fprintf(stderr, "kmsconform %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
	return 2, true
}

// The pages of run, serve and xks-proxy, for their files to pass to
// parseFlags (run) or write (serve and xks-proxy, which print their own
// one-line errors already).

// helpRun is run's page.
var helpRun = helpPage{
	Usage: []string{"kmsconform run [flags]"},
	About: "Checks a target against the reference model: every cell of the conformance matrix, every scenario " +
		"and every validation constraint, then writes compat.json and its renderings (compat.md, compat.html " +
		"and its screenshot compat.png when a Chromium is installed, junit.xml, badge.svg) to --report-dir and " +
		"prints a summary. Exit 0 when no cell fails, 1 when one does (with --expect: one the expectations " +
		"file does not list) or when nothing could be checked, 2 on a usage or setup error.",
	Env: append([]helpEntry{
		{"AWS_ENDPOINT_URL_KMS", "the endpoint of --target endpoint when --endpoint is not given"},
		{"AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE", "credentials for --target endpoint and aws (the SDK's default chain)"},
		{"KMSCONFORM_SKIP_BROWSER=1", "write the reports without the screenshot compat.png"},
		{"KMSCONFORM_CHROMIUM", "the browser that takes the screenshot (default: chromium, chromium-browser or google-chrome on the PATH)"},
	}, backingEnv...),
}

// backingEnv are the variables that name a target's backing (they
// override ginkgo.yml).
var backingEnv = []helpEntry{
	{targets.EnvCloudHSMClusterID, "the CloudHSM cluster the run's CloudHSM key stores use"},
	{targets.EnvCloudHSMTrustAnchor + ", " + targets.EnvCloudHSMTrustAnchorFile, "its trust anchor certificate (customerCA.crt): the PEM, or a file holding it"},
	{targets.EnvCloudHSMKmsuserPassword, "the password of its kmsuser"},
	{targets.EnvXKSURIEndpoint + ", " + targets.EnvXKSURIPath, "the XKS proxy the run's external key stores use"},
	{targets.EnvXKSAccessKeyID + ", " + targets.EnvXKSSecretAccessKey, "its authentication credential"},
	{targets.EnvXKSVpcEndpointService, "its VPC endpoint service, for VPC_ENDPOINT_SERVICE connectivity"},
	{targets.EnvXKSKeyID, "the proxy's external key ids, comma-separated"},
	{targets.EnvXKSControlURL, "the proxy's control API (a kmsconform xks-proxy), to inject faults"},
	{"the same names ending in " + targets.SecondSuffix, "a second cluster and a second proxy, for a fresh store while the first one stands in a state"},
}

// helpServe is serve's page.
var helpServe = helpPage{
	Usage: []string{"kmsconform serve [flags]"},
	About: "Runs an AWS KMS emulator whose custom key stores (CloudHSM and external key stores) behave as " +
		"documented, including CONNECTING, FAILED and Unavailable keys. Point an SDK or the AWS CLI at it " +
		"with AWS_ENDPOINT_URL_KMS. The control plane (simulated CloudHSM clusters, XKS proxy routes, holding " +
		"transitions) is served under /_kmsconform/; see the package documentation of targets/emulator.",
	Env: []helpEntry{
		{"AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY", "with -verify-sigv4: the one credential requests must be signed with"},
		{"KMSCONFORM_STATE_PASSPHRASE", "with -state-file: the passphrase the state file's key is derived from"},
	},
}

// helpXKSProxy is xks-proxy's page.
var helpXKSProxy = helpPage{
	Usage: []string{"kmsconform xks-proxy [flags]"},
	About: "Runs an XKS proxy (XKS Proxy API v1) for external key stores, holding AES-256 keys in memory. " +
		"It prints the XksProxyUriEndpoint, the XksProxyUriPath and the access key id; a new secret access key " +
		"is printed once, never logged, and kept in --credential-file (the KMS console's format). Faults are injected, and " +
		"every request KMS sent is read, through its control API. Stop it with Ctrl-C.",
}
