package aws_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	awstarget "github.com/kmsconform/kmsconform/targets/aws"
)

// plusSandbox is a sandbox served through a kmsPlus.
func plusSandbox(t *testing.T) (*sandbox, *kmsPlus) {
	t.Helper()
	var plus *kmsPlus
	s := newSandboxWith(t, 30000, func(h http.Handler) http.Handler {
		plus = newKMSPlus(h)
		return plus
	})
	return s, plus
}

// storeNamed reports whether a store of that name exists (an unguarded
// look, as the other team would take).
func storeNamed(t *testing.T, s *sandbox, name string) bool {
	t.Helper()
	_, err := s.foreign.DescribeCustomKeyStores(context.Background(), &kms.DescribeCustomKeyStoresInput{CustomKeyStoreName: aws.String(name)})
	switch code := errCode(err); {
	case err == nil:
		return true
	case code == "CustomKeyStoreNotFoundException":
		return false
	default:
		t.Fatal(err)
		return false
	}
}

// TestGuardLostCreateIsFoundAndCleanedUp: a CreateCustomKeyStore that KMS
// carried out but whose answer the run never got — Ctrl-C while it was in
// flight, a timeout, a cut connection, a server error after the fact — is
// in no list of the run's; the cleanup must still find the store, by the
// name the create sent, and delete it, and not say "nothing left behind"
// while it stands.
func TestGuardLostCreateIsFoundAndCleanedUp(t *testing.T) {
	for _, how := range []string{"interrupt", "timeout", "cut", "500"} {
		t.Run(how, func(t *testing.T) {
			s, plus := plusSandbox(t)
			foreign, _, _ := s.seedForeign(t)
			tgt := s.target(t, roomy)
			c := tgt.KMS()
			sigs := make(chan os.Signal, 2)
			var out bytes.Buffer
			dir := t.TempDir()
			name := "kmsconform-lost-" + how
			mode := how
			if how == "interrupt" || how == "timeout" {
				mode = "hang"
			}
			acted := plus.lose("CreateCustomKeyStore", mode)
			if how == "interrupt" {
				go func() { <-acted; sigs <- syscall.SIGINT }()
			}
			left, err := tgt.Guard().Guarded(context.Background(), sigs, &out, dir, time.Millisecond, time.Minute, func(ctx context.Context) error {
				if how == "timeout" {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
					defer cancel()
				}
				_, err := createOwn(ctx, c, name, ownCluster)
				if err == nil {
					t.Errorf("the create was answered")
				}
				return err
			})
			if err == nil {
				t.Fatalf("no error from the run")
			}
			if storeNamed(t, s, name) {
				t.Fatalf("the store of the lost create is still there; leftovers %v; output:\n%s", left, out.String())
			}
			if len(left) != 0 || !strings.Contains(out.String(), "cleanup: nothing left behind") {
				t.Fatalf("leftovers %v; output:\n%s", left, out.String())
			}
			raw, err := os.ReadFile(filepath.Join(dir, "cleanup.json"))
			if err != nil || !strings.Contains(string(raw), `"leftovers": []`) {
				t.Fatalf("cleanup.json: %s %v", raw, err)
			}
			if st := stateOf(t, s.foreign, foreign); st != types.ConnectionStateTypeConnected {
				t.Fatalf("foreign store %s", st)
			}
			if plus.count("DeleteCustomKeyStore") != 1 {
				t.Fatalf("DeleteCustomKeyStore sent %d times", plus.count("DeleteCustomKeyStore"))
			}
		})
	}
}

// TestGuardLostCreateKeyInTheRunsStore: a CreateKey in the run's own store whose
// answer is lost made a key the run never heard of. The cleanup finds it
// in the store (a key in a store of the run is the run's), schedules its
// deletion, and reports the store, which must wait for it.
func TestGuardLostCreateKeyInTheRunsStore(t *testing.T) {
	s, plus := plusSandbox(t)
	_, foreignKey, plainKey := s.seedForeign(t)
	tgt := s.target(t, roomy)
	c := tgt.KMS()
	sigs := make(chan os.Signal, 2)
	var out bytes.Buffer
	var store string
	left, _ := tgt.Guard().Guarded(context.Background(), sigs, &out, t.TempDir(), time.Millisecond, time.Minute, func(ctx context.Context) error {
		var err error
		if store, err = createOwn(ctx, c, "kmsconform-keyed", ownCluster); err != nil {
			return err
		}
		connect(t, c, store)
		acted := plus.lose("CreateKey", "hang")
		go func() { <-acted; sigs <- syscall.SIGTERM }()
		_, err = c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeAwsCloudhsm, CustomKeyStoreId: aws.String(store)})
		return err
	})
	keys, err := s.foreign.ListKeys(context.Background(), &kms.ListKeysInput{})
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, k := range keys.Keys {
		md, err := s.foreign.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: k.KeyId})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(md.KeyMetadata.CustomKeyStoreId) == store {
			found++
			if md.KeyMetadata.KeyState != types.KeyStatePendingDeletion {
				t.Fatalf("the lost key %s is %s; output:\n%s", aws.ToString(k.KeyId), md.KeyMetadata.KeyState, out.String())
			}
		}
	}
	if found != 1 {
		t.Fatalf("%d keys in the run's store", found)
	}
	if len(left) != 1 || left[0].ID != store || !strings.Contains(left[0].Reason, "pending deletion") {
		t.Fatalf("leftovers %v", left)
	}
	for _, id := range []string{foreignKey, plainKey} {
		if st := keyState(t, s.foreign, id); st != types.KeyStateEnabled {
			t.Fatalf("foreign key %s %s", id, st)
		}
	}
}

// TestGuardLostPlainKey: a CreateKey outside any store whose answer is lost.
// Where ListResourceTags answers, the cleanup finds the key by the tag
// unique to that create and schedules its deletion (the foreign keys it
// read are untouched); where it does not (the emulator), it cannot prove
// which key is the run's, so it reports the create as a leftover — never
// "nothing left behind".
func TestGuardLostPlainKey(t *testing.T) {
	for _, tags := range []bool{true, false} {
		t.Run(map[bool]string{true: "tags", false: "no tags"}[tags], func(t *testing.T) {
			s, plus := plusSandbox(t)
			plus.tags = tags
			_, foreignKey, plainKey := s.seedForeign(t)
			tgt := s.target(t, roomy)
			tgt.Guard().SetSettle(50 * time.Millisecond) // a failed lookup is tried again after it
			c := tgt.KMS()
			sigs := make(chan os.Signal, 2)
			var out bytes.Buffer
			left, _ := tgt.Guard().Guarded(context.Background(), sigs, &out, t.TempDir(), time.Millisecond, time.Minute, func(ctx context.Context) error {
				plus.lose("CreateKey", "cut")
				_, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
				return err
			})
			keys, err := s.foreign.ListKeys(context.Background(), &kms.ListKeysInput{})
			if err != nil {
				t.Fatal(err)
			}
			var lost string
			for _, k := range keys.Keys {
				if id := aws.ToString(k.KeyId); id != foreignKey && id != plainKey {
					lost = id
				}
			}
			if lost == "" {
				t.Fatal("the lost create made no key")
			}
			if tags {
				if st := keyState(t, s.foreign, lost); st != types.KeyStatePendingDeletion || len(left) != 0 {
					t.Fatalf("lost key %s, leftovers %v; output:\n%s", st, left, out.String())
				}
			} else {
				if len(left) != 1 || left[0].Kind != "key" || !strings.HasPrefix(left[0].ID, "kmsconform:create=") ||
					!strings.Contains(left[0].Reason, lost) || strings.Contains(out.String(), "nothing left behind") {
					t.Fatalf("leftovers %v; output:\n%s", left, out.String())
				}
			}
			for _, id := range []string{foreignKey, plainKey} {
				if st := keyState(t, s.foreign, id); st != types.KeyStateEnabled {
					t.Fatalf("foreign key %s %s", id, st)
				}
			}
		})
	}
}

// TestGuardLostCreateThatMadeNothing: a create whose request never reached KMS
// (lost before it acted) is looked for, again after the settle time, and
// then taken to have made nothing: the run is clean.
func TestGuardLostCreateThatMadeNothing(t *testing.T) {
	s, plus := plusSandbox(t)
	tgt := s.target(t, roomy)
	tgt.Guard().SetSettle(100 * time.Millisecond)
	c := tgt.KMS()
	var out bytes.Buffer
	start := time.Now()
	left, err := tgt.Guard().Guarded(context.Background(), make(chan os.Signal), &out, "", time.Millisecond, time.Minute, func(ctx context.Context) error {
		plus.lose("CreateCustomKeyStore", "before")
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := createOwn(ctx, c, "kmsconform-never", ownCluster)
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) || len(left) != 0 || !strings.Contains(out.String(), "nothing left behind") {
		t.Fatalf("err %v, leftovers %v; output:\n%s", err, left, out.String())
	}
	if n := plus.count("DescribeCustomKeyStores"); n != 2 {
		t.Fatalf("looked up %d times, want 2 (once, and once after the settle time)", n)
	}
	if time.Since(start) < 100*time.Millisecond || len(tgt.Guard().Pending()) != 0 {
		t.Fatalf("did not wait for the settle time, or still pending: %v", tgt.Guard().Pending())
	}
}

// TestGuardAnsweredFailureIsNotPending: a create KMS refused (a 4xx) made
// nothing, and is not looked for; nor is one the SDK refused.
func TestGuardAnsweredFailureIsNotPending(t *testing.T) {
	s, plus := plusSandbox(t)
	tgt := s.target(t, roomy)
	c := tgt.KMS()
	if _, err := createOwn(context.Background(), c, "kmsconform-bad", "cluster-absent00000"); errCode(err) == "" {
		t.Fatalf("create with an absent cluster: %v", err)
	}
	// An input the SDK refuses for a missing required member, which KMS
	// refuses too before acting (drive sends it on its raw path).
	_, err := c.CreateCustomKeyStore(context.Background(), &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("kmsconform-nocred"),
		CustomKeyStoreType: types.CustomKeyStoreTypeExternalKeyStore, XksProxyUriEndpoint: aws.String("https://xks.example.com"),
		XksProxyAuthenticationCredential: &types.XksProxyAuthenticationCredentialType{RawSecretAccessKey: aws.String("x")}})
	var ip smithy.InvalidParamsError
	if !errors.As(err, &ip) {
		t.Fatalf("no access key id: %v", err)
	}
	if p := tgt.Guard().Pending(); len(p) != 0 {
		t.Fatalf("pending %v", p)
	}
	if left := tgt.Guard().Cleanup(context.Background(), time.Millisecond, time.Minute); len(left) != 0 || plus.count("DescribeCustomKeyStores") != 0 {
		t.Fatalf("leftovers %v, %d lookups", left, plus.count("DescribeCustomKeyStores"))
	}
}

// TestGuardHangupDoesNotStopTheCleanup: a dropped session often sends
// SIGHUP twice (the terminal, then the shell); the second must not cut the
// cleanup short as a second Ctrl-C does. (At real speed a store stays
// CONNECTING for minutes, so the cleanup is still waiting when it comes.)
func TestGuardHangupDoesNotStopTheCleanup(t *testing.T) {
	s := newSandboxAt(t, 1)
	tgt := s.target(t, roomy)
	c := tgt.KMS()
	sigs := make(chan os.Signal, 2)
	var out bytes.Buffer
	var id string
	left, err := tgt.Guard().Guarded(context.Background(), sigs, &out, "", time.Millisecond, 300*time.Millisecond, func(ctx context.Context) error {
		var err error
		if id, err = createOwn(ctx, c, "kmsconform-hup", ownCluster); err != nil {
			return err
		}
		if _, err := c.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}); err != nil {
			return err
		}
		sigs <- syscall.SIGHUP
		go func() { time.Sleep(100 * time.Millisecond); sigs <- syscall.SIGHUP }()
		<-ctx.Done()
		return ctx.Err()
	})
	if errors.Is(err, awstarget.ErrForced) || !strings.Contains(out.String(), "hangup during the cleanup: the cleanup goes on") {
		t.Fatalf("err %v; output:\n%s", err, out.String())
	}
	if len(left) != 1 || left[0].ID != id || !strings.Contains(left[0].Reason, "still DISCONNECTING") {
		t.Fatalf("leftovers %v", left)
	}
}
