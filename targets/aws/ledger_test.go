package aws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	awstarget "github.com/kmsconform/kmsconform/targets/aws"
	"github.com/kmsconform/kmsconform/targets/emulator"
)

func readLedger(t *testing.T, path string) *awstarget.Ledger {
	t.Helper()
	l, err := awstarget.ReadLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	for _, secret := range []string{kmsuserPass, likeSecret, likeAKID} {
		if strings.Contains(string(raw), secret) {
			t.Fatalf("a secret in the ledger:\n%s", raw)
		}
	}
	return l
}

// TestLedgerIsOnDiskAsTheRunGoes: the ledger is written before the run's
// first call, each create is in it before it is sent (an intent) and by
// its id once answered, a lost answer stays an intent, and the cleanup
// writes what it did.
func TestLedgerIsOnDiskAsTheRunGoes(t *testing.T) {
	s, plus := plusSandbox(t)
	tgt := s.target(t, roomy)
	c := tgt.KMS()
	dir := t.TempDir()
	path := filepath.Join(dir, awstarget.LedgerFileName)
	var out bytes.Buffer
	var store string
	forced, err := tgt.RunGuarded(context.Background(), "kmsconform-ledger-", &out, dir, func(ctx context.Context) error {
		l := readLedger(t, path)
		if l.Account != emulator.AWSLikeAccount || l.Region != "eu-west-1" || l.Prefix != "kmsconform-ledger-" || l.Endpoint != s.url ||
			len(l.Stores)+len(l.Keys)+len(l.Pending) != 0 {
			t.Errorf("ledger at the start: %+v", l)
		}
		var err error
		if store, err = createOwn(ctx, c, "kmsconform-ledger-a", ownCluster); err != nil {
			return err
		}
		if l := readLedger(t, path); len(l.Stores) != 1 || l.Stores[0].ID != store || l.Stores[0].Name != "kmsconform-ledger-a" || l.Stores[0].Deleted {
			t.Errorf("ledger after the create: %+v", l)
		}
		connect(t, c, store)
		acted := plus.lose("CreateKey", "hang")
		callCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := c.CreateKey(callCtx, &kms.CreateKeyInput{Origin: types.OriginTypeAwsCloudhsm, CustomKeyStoreId: aws.String(store)})
			done <- err
		}()
		<-acted
		l = readLedger(t, path)
		if len(l.Pending) != 1 || l.Pending[0].Op != "CreateKey" || l.Pending[0].Store != store || l.Pending[0].Lost != "" || len(l.Keys) != 0 {
			t.Errorf("ledger while the create is in flight: %+v", l)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("the lost create: %v", err)
		}
		if l := readLedger(t, path); len(l.Pending) != 1 || !strings.Contains(l.Pending[0].Lost, "canceled") {
			t.Errorf("ledger after the answer was lost: %+v", l.Pending)
		}
		return nil
	})
	if forced || err != nil {
		t.Fatalf("forced %v, err %v", forced, err)
	}
	if !strings.Contains(out.String(), "the run's ledger is "+path) {
		t.Errorf("the output does not say where the ledger is:\n%s", out.String())
	}
	l := readLedger(t, path)
	if len(l.Pending) != 0 || len(l.Keys) != 1 || !l.Keys[0].PendingDeletion || l.Keys[0].Store != store || len(l.Stores) != 1 || l.Stores[0].Deleted {
		t.Fatalf("ledger after the cleanup: %+v", l)
	}
	if !l.Unfinished() {
		t.Fatal("a store that holds a key pending deletion is unfinished business")
	}
}

// crash runs creates against a target keeping a ledger and abandons it
// without a cleanup, as a kill -9 would: a bare store, a connected store
// with a key, and a store whose create was in flight.
func crash(t *testing.T, s *sandbox, plus *kmsPlus, path string) (bare, keyed, key, inFlight string) {
	t.Helper()
	tgt := s.target(t, roomy)
	c := tgt.KMS()
	ctx := context.Background()
	tgt.Guard().SetPrefix("kmsconform-crash-")
	if _, err := tgt.Guard().StartLedger(path, awstarget.LedgerMeta{Account: tgt.Account(), Region: "eu-west-1", Endpoint: tgt.Endpoint()}); err != nil {
		t.Fatal(err)
	}
	var err error
	if bare, err = createOwn(ctx, c, "kmsconform-crash-bare", ownCluster); err != nil {
		t.Fatal(err)
	}
	if keyed, err = createOwn(ctx, c, "kmsconform-crash-keyed", spareCluster); err != nil {
		t.Fatal(err)
	}
	connect(t, c, keyed)
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeAwsCloudhsm, CustomKeyStoreId: aws.String(keyed)})
	if err != nil {
		t.Fatal(err)
	}
	key = aws.ToString(k.KeyMetadata.KeyId)
	acted := plus.lose("CreateCustomKeyStore", "hang")
	callCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _, _ = createOwn(callCtx, c, "kmsconform-crash-inflight", thirdCluster); close(done) }()
	<-acted
	// The process dies here: the ledger on disk is all that is left of it.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := s.foreign.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreName: aws.String("kmsconform-crash-inflight")})
	if err != nil {
		t.Fatal(err)
	}
	return bare, keyed, key, aws.ToString(out.CustomKeyStores[0].CustomKeyStoreId)
}

// TestCleanupFromALedgerAfterACrash: after a crash, a target opened from
// the ledger (`kmsconform cleanup --ledger`) removes what the run made —
// the store whose create was in flight included — and leaves the foreign
// resources; run again, it finds nothing more to do but the store that
// waits for its key.
func TestCleanupFromALedgerAfterACrash(t *testing.T) {
	s, plus := plusSandbox(t)
	foreign, foreignKey, plainKey := s.seedForeign(t)
	path := filepath.Join(t.TempDir(), "ledger.json")
	bare, keyed, key, inFlight := crash(t, s, plus, path)
	if l := readLedger(t, path); len(l.Pending) != 1 || l.Pending[0].Name != "kmsconform-crash-inflight" {
		t.Fatalf("ledger at the crash: %+v", l)
	}

	cfg := sandboxConfig(roomy)
	for i := 0; i < 2; i++ {
		tgt, l, err := awstarget.OpenLedger(context.Background(), cfg, path)
		if err != nil {
			t.Fatal(err)
		}
		if l.Prefix != "kmsconform-crash-" {
			t.Fatalf("ledger %+v", l)
		}
		left := tgt.Guard().Cleanup(context.Background(), time.Millisecond, time.Minute)
		if len(left) != 1 || left[0].ID != keyed || !strings.Contains(left[0].Reason, "pending deletion") {
			t.Fatalf("round %d: leftovers %v", i, left)
		}
		_ = tgt.Close(context.Background())
	}
	for _, id := range []string{bare, inFlight} {
		if _, err := s.foreign.DescribeCustomKeyStores(context.Background(), &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)}); errCode(err) != "CustomKeyStoreNotFoundException" {
			t.Fatalf("store %s not deleted: %v", id, err)
		}
	}
	if st := keyState(t, s.foreign, key); st != types.KeyStatePendingDeletion {
		t.Fatalf("key %s", st)
	}
	if st := stateOf(t, s.foreign, keyed); st != types.ConnectionStateTypeDisconnected {
		t.Fatalf("keyed store %s", st)
	}
	if st := stateOf(t, s.foreign, foreign); st != types.ConnectionStateTypeConnected {
		t.Fatalf("foreign store %s", st)
	}
	for _, id := range []string{foreignKey, plainKey} {
		if st := keyState(t, s.foreign, id); st != types.KeyStateEnabled {
			t.Fatalf("foreign key %s", st)
		}
	}
	l := readLedger(t, path)
	if len(l.Pending) != 0 || len(l.Stores) != 3 {
		t.Fatalf("ledger after the cleanup: %+v", l)
	}
	// The ledger's resources are the only ones it may touch: nothing can
	// be created from it.
	tgt, _, err := awstarget.OpenLedger(context.Background(), cfg, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := createOwn(context.Background(), tgt.KMS(), "kmsconform-crash-new", ownCluster); err == nil || !strings.Contains(err.Error(), "aws guard: refused") {
		t.Fatalf("a create from a ledger's target: %v", err)
	}
}

// TestOpenLedgerRefusals: a ledger opens only with the credentials of its
// account (enabled), against its endpoint; a file that is not a ledger is
// one line.
func TestOpenLedgerRefusals(t *testing.T) {
	s := newSandbox(t)
	dir := t.TempDir()
	write := func(l awstarget.Ledger) string {
		raw, _ := json.Marshal(l)
		p := filepath.Join(dir, "l.json")
		if err := os.WriteFile(p, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := awstarget.Ledger{Schema: awstarget.LedgerSchema, Account: emulator.AWSLikeAccount, Region: "eu-west-1", Endpoint: s.url, Prefix: "kmsconform-x-"}
	ctx := context.Background()
	if _, _, err := awstarget.OpenLedger(ctx, sandboxConfig(roomy), write(good)); err != nil {
		t.Fatalf("a good ledger: %v", err)
	}
	other := good
	other.Account = "111122223333"
	cfg := sandboxConfig(roomy)
	cfg.AWS.EnabledAccounts = append(cfg.AWS.EnabledAccounts, "111122223333")
	var nc *awstarget.NotConfirmedError
	if _, _, err := awstarget.OpenLedger(ctx, cfg, write(other)); !errors.As(err, &nc) {
		t.Fatalf("another account's ledger: %v", err)
	}
	var ne *awstarget.NotEnabledError
	cfg.AWS.EnabledAccounts = []string{"111122223333"}
	if _, _, err := awstarget.OpenLedger(ctx, cfg, write(good)); !errors.As(err, &ne) {
		t.Fatalf("an account not enabled: %v", err)
	}
	moved := good
	moved.Endpoint = "https://kms.example.com"
	if _, _, err := awstarget.OpenLedger(ctx, sandboxConfig(roomy), write(moved)); err == nil || !strings.Contains(err.Error(), "endpoint") {
		t.Fatalf("another endpoint: %v", err)
	}
	for _, bad := range []string{"{", `{"schema":"other"}`, `{"schema":"` + awstarget.LedgerSchema + `","account":"x","region":"r"}`} {
		p := filepath.Join(dir, "bad.json")
		_ = os.WriteFile(p, []byte(bad), 0o600)
		if _, _, err := awstarget.OpenLedger(ctx, sandboxConfig(roomy), p); err == nil || strings.Contains(err.Error(), "\n") {
			t.Fatalf("%s: %v", bad, err)
		}
	}
}

// TestAnEarlierRunsUnfinishedLedgerIsKept: a run does not write over a
// ledger that still lists something to clean up; one that lists nothing
// is replaced. A ledger that cannot be written stops the run before it
// starts.
func TestAnEarlierRunsUnfinishedLedgerIsKept(t *testing.T) {
	s := newSandbox(t)
	tgt := s.target(t, roomy)
	dir := t.TempDir()
	path := filepath.Join(dir, awstarget.LedgerFileName)
	old := awstarget.Ledger{Schema: awstarget.LedgerSchema, Account: emulator.AWSLikeAccount, Region: "eu-west-1", Prefix: "kmsconform-old-",
		Updated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Stores: []awstarget.LedgerStore{{ID: "cks-0123456789abcdef0"}}}
	raw, _ := json.Marshal(old)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := tgt.RunGuarded(context.Background(), "kmsconform-new-", &out, dir, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(dir, "ledger.20260102T030405Z.json")
	if l := readLedger(t, kept); len(l.Stores) != 1 || !strings.Contains(out.String(), kept) {
		t.Fatalf("kept ledger %+v; output:\n%s", l, out.String())
	}
	if l := readLedger(t, path); l.Prefix != "kmsconform-new-" {
		t.Fatalf("new ledger %+v", l)
	}
	// The new one is finished: the next run replaces it.
	if _, err := tgt.RunGuarded(context.Background(), "kmsconform-next-", &out, dir, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 { // ledger.json, the kept one, cleanup.json
		t.Fatalf("files: %v", entries)
	}

	blocked := filepath.Join(t.TempDir(), "file")
	_ = os.WriteFile(blocked, nil, 0o600)
	ran := false
	_, err := tgt.RunGuarded(context.Background(), "kmsconform-x-", &out, blocked, func(context.Context) error { ran = true; return nil })
	if err == nil || ran || !strings.Contains(err.Error(), "ledger") {
		t.Fatalf("unwritable ledger: ran %v, err %v", ran, err)
	}
}
