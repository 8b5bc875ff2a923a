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
// ledger; it never lists and deletes): keys are scheduled for deletion
// with the minimum window, stores are disconnected, waited for, and
// deleted when they hold no key. A store that holds keys pending deletion
// cannot be deleted before they are: it is a leftover, as is anything a
// call failed on. The guard's time budget does not apply to the cleanup;
// its ownership checks do. poll and wait bound the waiting for a store to
// reach DISCONNECTED.
func (g *Guard) Cleanup(ctx context.Context, poll, wait time.Duration) []Leftover {
	g.mu.Lock()
	g.cleaning = true
	c := g.client
	g.mu.Unlock()
	stores, keys := g.Owned()
	var left []Leftover
	if c == nil {
		for _, s := range stores {
			left = append(left, Leftover{"store", s, "no client to clean up with"})
		}
		return left
	}
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

// Guarded runs fn, then the cleanup — always: after fn returns, fails,
// runs out of time (ctx), or is interrupted by the first signal on sigs
// (which cancels fn's context). A second signal stops the cleanup, prints
// what is left and returns ErrForced. sigs nil means SIGINT and SIGTERM of
// this process. The leftovers are printed to w and written to dir.
func (g *Guard) Guarded(ctx context.Context, sigs <-chan os.Signal, w io.Writer, dir string, poll, wait time.Duration, fn func(context.Context) error) ([]Leftover, error) {
	if sigs == nil {
		ch := make(chan os.Signal, 2)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(ch)
		sigs = ch
	}
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	done := make(chan error, 1)
	go func() { done <- fn(runCtx) }()
	var runErr error
	select {
	case runErr = <-done:
	case s := <-sigs:
		fmt.Fprintf(w, "kmsconform: %s: stopping the run and cleaning up (a second signal stops the cleanup)\n", s)
		cancelRun()
		runErr = <-done
		if runErr == nil {
			runErr = context.Canceled
		}
	}
	// The cleanup gets a context of its own: the run's may be cancelled
	// or out of time, and cleaning up is what must still happen.
	cleanCtx, cancelClean := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelClean()
	cleaned := make(chan []Leftover, 1)
	go func() { cleaned <- g.Cleanup(cleanCtx, poll, wait) }()
	select {
	case left := <-cleaned:
		return left, errors.Join(runErr, WriteLeftovers(w, dir, left))
	case s := <-sigs:
		fmt.Fprintf(w, "kmsconform: %s again: stopping the cleanup\n", s)
		cancelClean()
		<-cleaned
		var left []Leftover
		stores, keys := g.Owned()
		for _, s := range stores {
			left = append(left, Leftover{"store", s, "the cleanup was stopped"})
		}
		for _, k := range keys {
			g.mu.Lock()
			pending := g.keys[k]
			g.mu.Unlock()
			if !pending {
				left = append(left, Leftover{"key", k, "the cleanup was stopped before its deletion was scheduled"})
			}
		}
		_ = WriteLeftovers(w, dir, left)
		return left, ErrForced
	}
}
