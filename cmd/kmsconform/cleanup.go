package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/kmsconform/kmsconform/drive"
	"github.com/kmsconform/kmsconform/targets"
	awstarget "github.com/kmsconform/kmsconform/targets/aws"
)

func init() {
	register("cleanup", command{
		summary: "finish the cleanup of a sandbox run from its ledger (after a crash, kill -9 or a stopped cleanup)",
		run:     runCleanup,
	})
}

var helpCleanup = helpPage{
	Usage: []string{"kmsconform cleanup --ledger FILE [--config ginkgo.yml] [--report-dir DIR]"},
	About: "Finishes the cleanup of a run against real KMS from the ledger it wrote as it went (ledger.json in " +
		"its --report-dir): looks up each create whose answer was lost by the name or tag it sent, deletes the " +
		"run's aliases, schedules its keys for deletion (7 days) and disconnects and deletes its stores, touching " +
		"nothing the ledger does not name. The credentials must be those of the ledger's account, enabled in " +
		"targets.aws.enabled_accounts, and the endpoint the run's. It writes cleanup.json and the updated ledger, " +
		"prints what it could not remove (a store that still holds keys pending deletion: run it again once they " +
		"are deleted), and exits 0 when nothing is left, 1 when something is, 2 on a usage or setup error. " +
		"Ctrl-C stops it; the ledger keeps what is left.",
	Env: []helpEntry{
		{"AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE", "the credentials (the SDK's default chain)"},
		{"AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL_STS", "the endpoints, when the run used others than AWS's"},
	},
}

func runCleanup(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	ledger := fs.String("ledger", "", "the ledger of the run (ledger.json in its report folder)")
	config := fs.String("config", "", "the harness configuration (default: ginkgo.yml in this folder or a parent)")
	reportDir := fs.String("report-dir", "", "where cleanup.json is written (default: the ledger's folder)")
	if code, done := parseFlags(fs, helpCleanup, args, stdout, stderr); done {
		return code
	}
	if code, done := unexpectedArgs(fs, stderr); done {
		return code
	}
	if *ledger == "" {
		fmt.Fprintln(stderr, "kmsconform cleanup: --ledger FILE is required (run 'kmsconform cleanup -h' for the flags)")
		return 2
	}
	path := *config
	if path == "" {
		path = drive.FindConfig()
	}
	cfg, err := targets.LoadConfig(path)
	if err != nil {
		fmt.Fprintf(stderr, "kmsconform cleanup: %v\n", oneLine(err))
		return 2
	}
	ctx := context.Background()
	tgt, l, err := awstarget.OpenLedger(ctx, cfg, *ledger)
	if err != nil {
		fmt.Fprintf(stderr, "kmsconform cleanup: %v\n", oneLine(err))
		return 2
	}
	defer tgt.Close(ctx)
	dir := *reportDir
	if dir == "" {
		dir = filepath.Dir(*ledger)
	}
	stores, keys, aliases := 0, 0, 0
	for _, s := range l.Stores {
		if !s.Deleted {
			stores++
		}
	}
	for _, k := range l.Keys {
		if !k.PendingDeletion {
			keys++
		}
	}
	for _, a := range l.Aliases {
		if !a.Deleted {
			aliases++
		}
	}
	fmt.Fprintf(stderr, "kmsconform cleanup: ledger %s (account %s, %s): %d stores, %d keys not scheduled for deletion, %d aliases, %d creates of unknown outcome\n",
		*ledger, l.Account, l.Region, stores, keys, aliases, len(l.Pending))
	to := tgt.Timeouts()
	// Nothing to run: the cleanup is all. A signal stops it (a hangup
	// does not), and the ledger keeps what is left.
	left, err := tgt.Guard().Guarded(ctx, nil, stderr, dir, to.Poll, max(to.Connect, to.Disconnect), func(context.Context) error { return nil })
	switch {
	case errors.Is(err, awstarget.ErrForced):
		return 130
	case err != nil:
		fmt.Fprintf(stderr, "kmsconform cleanup: %v\n", oneLine(err))
		return 2
	case len(left) > 0:
		return 1
	}
	return 0
}
