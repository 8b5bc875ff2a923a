package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

// Leftover is a resource the cleanup could not remove.
type Leftover struct {
	Kind   string `json:"kind"` // "store" or "key"
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

func (l Leftover) String() string { return l.Kind + " " + l.ID + ": " + l.Reason }

// MinDeletionWindowDays is the shortest waiting period ScheduleKeyDeletion
// accepts.
const MinDeletionWindowDays = 7

// Cleanup removes what this run created, and only that (the guard's
// ledger; it never lists and deletes): first it looks up what each create
// of unknown outcome may have made (resolve), then it deletes the run's
// aliases, schedules its keys for deletion with the minimum window, and
// disconnects, waits for and deletes its stores. A store that holds keys
// pending deletion cannot be deleted before they are: it is a leftover, as
// is anything a call failed on and any create whose outcome stays unknown.
// The guard's time budget does not apply to the cleanup; its ownership
// checks do. poll and wait bound the waiting for a store to reach
// DISCONNECTED.
func (g *Guard) Cleanup(ctx context.Context, poll, wait time.Duration) []Leftover {
	g.mu.Lock()
	g.cleaning = true
	c := g.client
	g.mu.Unlock()
	if c == nil {
		return g.remaining("no client to clean up with")
	}
	left := g.resolve(ctx, c)
	g.mu.Lock()
	var aliases []string
	for name, live := range g.aliases {
		if live {
			aliases = append(aliases, name)
		}
	}
	g.mu.Unlock()
	sort.Strings(aliases)
	for _, a := range aliases {
		_, err := c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String(a)})
		switch {
		case err == nil:
		case isCode(err, "NotFoundException"):
			g.mu.Lock()
			g.aliases[a] = false
			g.mu.Unlock()
			_ = g.persist()
		default:
			left = append(left, Leftover{"alias", a, "DeleteAlias: " + errText(err)})
		}
	}
	stores, keys := g.Owned()
	for _, k := range keys {
		g.mu.Lock()
		pending := g.keys[k]
		g.mu.Unlock()
		if pending {
			continue
		}
		_, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(k), PendingWindowInDays: aws.Int32(MinDeletionWindowDays)})
		if err != nil && !isCode(err, "KMSInvalidStateException") {
			// KMSInvalidStateException: already pending deletion (say, by a
			// cell), which is what the cleanup wants.
			left = append(left, Leftover{"key", k, "ScheduleKeyDeletion: " + errText(err)})
		}
	}
	for _, s := range stores {
		if why := g.retire(ctx, c, s, poll, wait); why != "" {
			left = append(left, Leftover{"store", s, why})
		}
	}
	_ = g.persist()
	return left
}

// remaining lists, with reason why, everything the cleanup has yet to do:
// live stores and aliases, keys not scheduled for deletion, creates of
// unknown outcome.
func (g *Guard) remaining(why string) []Leftover {
	stores, keys := g.Owned()
	var left []Leftover
	for _, s := range stores {
		left = append(left, Leftover{"store", s, why})
	}
	g.mu.Lock()
	for _, k := range keys {
		if !g.keys[k] {
			left = append(left, Leftover{"key", k, why + " before its deletion was scheduled"})
		}
	}
	for a, live := range g.aliases {
		if live {
			left = append(left, Leftover{"alias", a, why})
		}
	}
	for _, in := range g.intents {
		kind, id := in.what()
		left = append(left, Leftover{kind, id, why + " before the outcome of its " + in.Op + " was known (" + in.Lost + ")"})
	}
	g.mu.Unlock()
	return left
}

// retire disconnects and deletes one store, or says why it could not.
func (g *Guard) retire(ctx context.Context, c *kms.Client, id string, poll, wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for disconnected := false; ; {
		out, err := c.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
		if isCode(err, "CustomKeyStoreNotFoundException") {
			g.mu.Lock()
			g.stores[id] = false
			g.mu.Unlock()
			return ""
		}
		if err != nil || len(out.CustomKeyStores) != 1 {
			return "DescribeCustomKeyStores: " + errText(err)
		}
		st := out.CustomKeyStores[0].ConnectionState
		if st == types.ConnectionStateTypeDisconnected {
			break
		}
		if !disconnected && st != types.ConnectionStateTypeDisconnecting {
			if _, err := c.DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}); err != nil && !isCode(err, "CustomKeyStoreInvalidStateException") {
				return "DisconnectCustomKeyStore: " + errText(err)
			}
			disconnected = true
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf("still %s after %s", st, wait)
		}
		select {
		case <-ctx.Done():
			return "cleanup interrupted while the store was " + string(st)
		case <-time.After(poll):
		}
	}
	_, err := c.DeleteCustomKeyStore(ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	switch {
	case err == nil:
		return ""
	case isCode(err, "CustomKeyStoreHasCMKsException"):
		return "holds keys pending deletion; delete it once they are deleted (7 days at least)"
	}
	return "DeleteCustomKeyStore: " + errText(err)
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// errText is an error on one line (the SDK's own messages hold no secret:
// the guard and the SDK never put a secret in an error).
func errText(err error) string {
	if err == nil {
		return "no answer"
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}

// WriteLeftovers prints the leftovers, one line each, and writes them as
// JSON to dir/cleanup.json (an empty list when everything was cleaned), so
// the report of a run says what it left behind.
func WriteLeftovers(w io.Writer, dir string, left []Leftover) error {
	sort.Slice(left, func(i, j int) bool { return left[i].Kind+left[i].ID < left[j].Kind+left[j].ID })
	if len(left) == 0 {
		fmt.Fprintln(w, "cleanup: nothing left behind")
	}
	for _, l := range left {
		fmt.Fprintln(w, "cleanup: left "+l.String())
	}
	if dir == "" {
		return nil
	}
	if left == nil {
		left = []Leftover{}
	}
	raw, err := json.MarshalIndent(struct {
		Leftovers []Leftover `json:"leftovers"`
	}{left}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "cleanup.json"), append(raw, '\n'), 0o644)
}

// ErrForced is returned by Guarded when a second signal cut the cleanup
// short; the caller exits at once.
var ErrForced = errors.New("aws guard: a second signal stopped the cleanup; the resources listed were left behind")

// StopSignals are the signals that stop a guarded run and start its
// cleanup: Ctrl-C, a termination, a hangup (a dropped SSH session) and
// Ctrl-\. The Go runtime's default for SIGHUP and SIGQUIT is to exit at
// once, cleaning up nothing.
var StopSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// stopsTheCleanup reports whether a signal received during the cleanup
// stops it. A hangup does not: a dropped session often sends it twice
// (the terminal, then the shell), and nobody is there to have asked.
func stopsTheCleanup(s os.Signal) bool { return s != syscall.SIGHUP }

// NotifyStop relays StopSignals to a new channel for Guarded, until stop
// is called; it calls SurviveHangups.
func NotifyStop() (sigs <-chan os.Signal, stop func()) {
	SurviveHangups()
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, StopSignals...)
	return ch, func() { signal.Stop(ch) }
}

var survive sync.Once

// SurviveHangups makes a hangup, and a write to a closed pipe (a `| tee`
// that died with the session), harmless to this process from now on: a
// write fails with EPIPE instead of killing it, and a hangup does nothing
// but what a guard makes of it. What follows a guarded run — its reports —
// must not be cut short by the session that dropped, nor by the hangup
// that comes a second time.
func SurviveHangups() {
	survive.Do(func() { signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP, syscall.SIGPIPE) })
}

// Guarded runs fn, then the cleanup — always: after fn returns, fails,
// runs out of time (ctx), or is interrupted by the first signal on sigs
// (which cancels fn's context). A second signal (but SIGHUP) stops the
// cleanup, prints what is left and returns ErrForced; the ledger, when the
// guard keeps one, still lists it for `kmsconform cleanup --ledger`. sigs
// nil means StopSignals of this process (NotifyStop). The leftovers are
// printed to w and written to dir.
func (g *Guard) Guarded(ctx context.Context, sigs <-chan os.Signal, w io.Writer, dir string, poll, wait time.Duration, fn func(context.Context) error) ([]Leftover, error) {
	if sigs == nil {
		ch, stop := NotifyStop()
		defer stop()
		sigs = ch
	}
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	done := make(chan error, 1)
	go func() { done <- fn(runCtx) }()
	var runErr error
	forced := false
	select {
	case runErr = <-done:
	case s := <-sigs:
		fmt.Fprintf(w, "kmsconform: %s: stopping the run and cleaning up (a second Ctrl-C stops the cleanup)\n", s)
		cancelRun()
	wait:
		for {
			select {
			case runErr = <-done:
				break wait
			case s := <-sigs:
				if stopsTheCleanup(s) {
					forced = true
				}
			}
		}
		if runErr == nil {
			runErr = context.Canceled
		}
	}
	if forced {
		return g.forced(w, dir, "the cleanup was stopped")
	}
	// The cleanup gets a context of its own: the run's may be cancelled
	// or out of time, and cleaning up is what must still happen.
	cleanCtx, cancelClean := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelClean()
	cleaned := make(chan []Leftover, 1)
	go func() { cleaned <- g.Cleanup(cleanCtx, poll, wait) }()
	for {
		select {
		case left := <-cleaned:
			return left, errors.Join(runErr, g.ledgerProblem(), WriteLeftovers(w, dir, left))
		case s := <-sigs:
			if !stopsTheCleanup(s) {
				fmt.Fprintf(w, "kmsconform: %s during the cleanup: the cleanup goes on (Ctrl-C stops it)\n", s)
				continue
			}
			fmt.Fprintf(w, "kmsconform: %s during the cleanup: stopping it\n", s)
			cancelClean()
			<-cleaned
			return g.forced(w, dir, "the cleanup was stopped")
		}
	}
}

// forced reports what is left when the cleanup was cut short.
func (g *Guard) forced(w io.Writer, dir, why string) ([]Leftover, error) {
	left := g.remaining(why)
	_ = g.persist()
	_ = WriteLeftovers(w, dir, left)
	if path := g.LedgerPath(); path != "" {
		fmt.Fprintf(w, "kmsconform: finish the cleanup with: kmsconform cleanup --ledger %s\n", path)
	}
	return left, ErrForced
}

// ledgerProblem is the last failure to write the ledger, if it was not
// followed by a successful write.
func (g *Guard) ledgerProblem() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ledgerErr
}
