package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/kmsconform/kmsconform/targets"
	"github.com/kmsconform/kmsconform/targets/emulator"
	"github.com/kmsconform/kmsconform/targets/xksproxy"
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

// The pages of run, serve and xks-proxy, for their files to print with
// helpPage.write (they parse their flags, and print one-line errors,
// themselves).

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
	More: []string{
		"With --target aws every create is written to <report-dir>/ledger.json before it is sent;",
		"SIGINT, SIGTERM, SIGHUP and SIGQUIT stop the run and clean up (a second Ctrl-C stops the",
		"cleanup), and 'kmsconform cleanup --ledger FILE' finishes it after any crash.",
	},
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
		"documented, including CONNECTING, FAILED and Unavailable keys; point an SDK or the AWS CLI at it " +
		"with AWS_ENDPOINT_URL_KMS. Unless -bare, it starts with a healthy simulated CloudHSM cluster and an " +
		"XKS proxy (in process, HTTPS on loopback, routed from https://" + backingXKSHost + ") and prints one " +
		"aws kms create-custom-key-store command per store type; their kmsuser password and XKS secret are " +
		"new on every start (derived from $" + envPassphrase + " with -state-file) and are written only to " +
		"that banner on stdout, never to the log on stderr. The control plane (simulated CloudHSM clusters, " +
		"XKS proxy routes, holding transitions) is served under " + emulator.ControlPrefix + "; see the " +
		"package documentation of targets/emulator.",
	Env: []helpEntry{
		{envAccessKey + ", " + envSecretKey, "with -verify-sigv4: the one credential requests (the control plane's too) must be signed with"},
		{envPassphrase, "with -state-file: the passphrase the state file's key (and the backing's secrets) are derived from"},
	},
	More: []string{
		wrap("The control plane takes no request a web page can make: its Host must be the address served "+
			"(or localhost, or a -control-host), it must carry no Origin, and a POST, PUT or DELETE must be "+
			"Content-Type: application/json. With -verify-sigv4 it is signed, for the SigV4 service "+
			emulator.ControlServiceName+". An XKS route dials loopback only, unless -allow-remote.", helpWidth),
		`  curl -sf --aws-sigv4 "aws:amz:us-east-1:` + emulator.ControlServiceName + `" \`,
		`    --user "$` + envAccessKey + `:$` + envSecretKey + `" -H 'Content-Type: application/json' \`,
		`    -X POST http://127.0.0.1:4599` + emulator.ControlPrefix + `keys/KEY-ID/expire-deletion`,
		wrap(fmt.Sprintf("Limits: headers 64 KiB, body -max-body-bytes; %.0f s to send the headers, %.0f s for the whole "+
			"request, %.0f s to answer, idle keep-alive connections close after %.0f s. A signature must cover "+
			"X-Amz-Target and Content-Type, as every AWS SDK and the AWS CLI sign them.",
			emulator.DefaultReadHeaderTimeout.Seconds(), emulator.DefaultReadTimeout.Seconds(),
			emulator.DefaultWriteTimeout.Seconds(), emulator.DefaultIdleTimeout.Seconds()), helpWidth),
	},
}

// helpXKSProxy is xks-proxy's page; its closing lines are the control
// API, with the names of the faults.
func helpXKSProxy() helpPage {
	faults := make([]string, 0, len(xksproxy.Faults()))
	for _, f := range xksproxy.Faults() {
		faults = append(faults, string(f))
	}
	return helpPage{
		Usage: []string{"kmsconform xks-proxy [flags]"},
		About: "Runs an XKS proxy (XKS Proxy API v1) for external key stores, holding AES-256 keys in memory; " +
			"faults are injected through its control API. It prints the XksProxyUriEndpoint to give KMS " +
			"(https://<server-name>: KMS allows no port, so route that name to the listen address it also " +
			"prints: a TLS terminator, a load balancer, or kmsconform serve's PUT " +
			"/_kmsconform/xks-routes/<server-name>), the XksProxyUriPath and the access key id; a new secret " +
			"access key is printed once, never logged, and kept in --credential-file (the KMS console's " +
			"format); then the external keys, each with its usage (--key). Every call, GetHealthStatus included, " +
			"needs a requestMetadata with kmsRequestId and kmsOperation (else 400 ValidationException). Stop it with Ctrl-C.",
		More: []string{
			"Fault injection (control API, SigV4 service " + xksproxy.ControlServiceName + ", the proxy's credential):",
			`  curl --aws-sigv4 "aws:amz:us-east-1:` + xksproxy.ControlServiceName + `" --user "$AKID:$SECRET" \`,
			`    -X PUT -d '{"fault":"throttling"}' http://127.0.0.1:8444` + xksproxy.ControlPrefix + `/fault`,
			`  PUT    /fault            {"fault":NAME}  set the proxy-wide fault`,
			`  DELETE /fault                            clear it (so does PUT {"fault":""})`,
			`  PUT    /keys/ID/fault    {"fault":NAME}  set a fault on one key`,
			`  DELETE /keys/ID/fault                    clear it`,
			`  DELETE /faults                           clear every fault`,
			`  GET    /status                           the faults in force`,
			`  GET    /requests                         requests seen (see Limits)`,
			wrap("Faults: "+strings.Join(faults, ", ")+".", helpWidth),
			wrap("Limits, on both listeners: headers 16 KiB (larger: 431), body 1 MiB (control: 64 KiB); "+
				"5 s to send the headers, 10 s for the whole request; idle keep-alive connections close "+
				"after 120 s. GET /requests keeps the last 10,000 requests within 16 MiB, and of one that "+
				"fails authentication only a summary, never its body.", helpWidth),
		},
	}
}
