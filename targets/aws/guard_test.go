package aws_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/kmsconform/kmsconform/targets"
	awstarget "github.com/kmsconform/kmsconform/targets/aws"
	"github.com/kmsconform/kmsconform/targets/emulator"
)

const (
	likeAKID     = "AKIAKMSCONFORMSANDBOX"
	likeSecret   = "sandboxSecretSandboxSecretSandboxSecret01"
	anchor       = "-----BEGIN CERTIFICATE-----\nMIIBsandbox\n-----END CERTIFICATE-----"
	kmsuserPass  = "kmsuserSECRETpass1"
	foreignPass  = "foreignSECRETpass2"
	ownCluster   = "cluster-sandboxaaaa"
	otherCluster = "cluster-sandboxbbbb"
	thirdCluster = "cluster-sandboxcccc"
	spareCluster = "cluster-sandboxdddd"
)

// sandbox is the embedded emulator in its AWS-like mode, with a cluster
// for the run and one for a "foreign" store that another team owns.
type sandbox struct {
	emu     *emulator.Emulator
	h       *emulator.AWSLikeHandler
	url     string
	foreign *kms.Client // unguarded: plays the other team
}

func newSandbox(t *testing.T) *sandbox { return newSandboxAt(t, 30000) }

// newSandboxAt runs the documented transition times speedup times faster
// than real time (1: a connect really takes minutes).
func newSandboxAt(t *testing.T, speedup float64) *sandbox { return newSandboxWith(t, speedup, nil) }

// newSandboxWith serves the emulator through wrap (nil: as it is).
func newSandboxWith(t *testing.T, speedup float64, wrap func(http.Handler) http.Handler) *sandbox {
	t.Helper()
	emu, err := emulator.New(emulator.AWSLikeOptions("eu-west-1", likeAKID, likeSecret, speedup))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{ownCluster, otherCluster, thirdCluster, spareCluster} {
		if err := emu.PutCluster(emulator.NewHealthyCluster(c, anchor, kmsuserPass)); err != nil {
			t.Fatal(err)
		}
	}
	h := emu.AWSLikeHandler()
	var served http.Handler = h
	if wrap != nil {
		served = wrap(h)
	}
	srv := httptest.NewServer(served)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": likeAKID, "AWS_SECRET_ACCESS_KEY": likeSecret, "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_ENDPOINT_URL": "",
		"AWS_ENDPOINT_URL_STS": srv.URL, "AWS_ENDPOINT_URL_KMS": srv.URL, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		t.Setenv(k, v)
	}
	foreign := kms.New(kms.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(likeAKID, likeSecret, "")})
	return &sandbox{emu: emu, h: h, url: srv.URL, foreign: foreign}
}

func sandboxConfig(l targets.Limits) *targets.Config {
	cfg := targets.DefaultConfig()
	cfg.AWS.EnabledAccounts = []string{emulator.AWSLikeAccount}
	cfg.AWS.Limits = l
	cfg.AWS.Timeouts.Poll = time.Millisecond // the AWS-like clock makes minutes milliseconds
	return cfg
}

var roomy = targets.Limits{MaxStores: 4, MaxKeys: 4, TimeBudget: time.Hour}

func (s *sandbox) target(t *testing.T, l targets.Limits) *awstarget.Target {
	t.Helper()
	tgt, err := awstarget.New(context.Background(), sandboxConfig(l), "eu-west-1", emulator.AWSLikeAccount)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tgt.Close(context.Background()) })
	return tgt
}

// seedForeign makes what the run must never touch: a connected CloudHSM
// store with a key, and a key outside custom key stores.
func (s *sandbox) seedForeign(t *testing.T) (store, storeKey, plainKey string) {
	t.Helper()
	ctx := context.Background()
	out, err := s.foreign.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("team-prod"),
		CloudHsmClusterId: aws.String(otherCluster), TrustAnchorCertificate: aws.String(anchor), KeyStorePassword: aws.String(kmsuserPass)})
	if err != nil {
		t.Fatal(err)
	}
	store = aws.ToString(out.CustomKeyStoreId)
	connect(t, s.foreign, store)
	k, err := s.foreign.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeAwsCloudhsm, CustomKeyStoreId: aws.String(store)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.foreign.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	return store, aws.ToString(k.KeyMetadata.KeyId), aws.ToString(p.KeyMetadata.KeyId)
}

// connect connects a store and polls until it is CONNECTED: the AWS-like
// clock makes the documented minutes milliseconds.
func connect(t *testing.T, c *kms.Client, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	for {
		if st := stateOf(t, c, id); st == types.ConnectionStateTypeConnected {
			return
		} else if st != types.ConnectionStateTypeConnecting {
			t.Fatalf("store %s went %s", id, st)
		}
		time.Sleep(time.Millisecond)
	}
}

func stateOf(t *testing.T, c *kms.Client, id string) types.ConnectionStateType {
	t.Helper()
	out, err := c.DescribeCustomKeyStores(context.Background(), &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return out.CustomKeyStores[0].ConnectionState
}

func keyState(t *testing.T, c *kms.Client, id string) types.KeyState {
	t.Helper()
	out, err := c.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return out.KeyMetadata.KeyState
}

func TestSandboxRefusesAnAccountNotEnabledWithoutAKMSCall(t *testing.T) {
	s := newSandbox(t)
	cfg := sandboxConfig(roomy)
	cfg.AWS.EnabledAccounts = []string{"111122223333"}
	_, err := awstarget.New(context.Background(), cfg, "eu-west-1", emulator.AWSLikeAccount)
	var ne *awstarget.NotEnabledError
	if !errors.As(err, &ne) || ne.Account != emulator.AWSLikeAccount {
		t.Fatalf("got %v", err)
	}
	if calls := s.h.Calls(); len(calls) != 1 || calls["sts:GetCallerIdentity"] != 1 {
		t.Fatalf("calls while refusing: %v", calls)
	}
}

func TestGuardNeverTouchesForeignResources(t *testing.T) {
	s := newSandbox(t)
	store, storeKey, plainKey := s.seedForeign(t)
	before := s.h.Calls()
	tgt := s.target(t, roomy)
	c := tgt.KMS()
	ctx := context.Background()
	attempts := []struct {
		name string
		call func() error
	}{
		{"disconnect", func() error {
			_, err := c.DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(store)})
			return err
		}},
		{"delete", func() error {
			_, err := c.DeleteCustomKeyStore(ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(store)})
			return err
		}},
		{"update", func() error {
			_, err := c.UpdateCustomKeyStore(ctx, &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(store), KeyStorePassword: aws.String(foreignPass)})
			return err
		}},
		{"create key in it", func() error {
			_, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeAwsCloudhsm, CustomKeyStoreId: aws.String(store)})
			return err
		}},
		{"schedule deletion", func() error {
			_, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(storeKey), PendingWindowInDays: aws.Int32(7)})
			return err
		}},
		{"disable by ARN", func() error {
			_, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String("arn:aws:kms:eu-west-1:" + emulator.AWSLikeAccount + ":key/" + plainKey)})
			return err
		}},
		{"encrypt", func() error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(plainKey), Plaintext: []byte("x")})
			return err
		}},
		{"re-encrypt to it", func() error {
			_, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: []byte("x"), DestinationKeyId: aws.String(plainKey)})
			return err
		}},
		{"a name without the prefix", func() error {
			_, err := c.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("team-prod-2"),
				CloudHsmClusterId: aws.String(ownCluster), TrustAnchorCertificate: aws.String(anchor), KeyStorePassword: aws.String(kmsuserPass)})
			return err
		}},
	}
	for _, a := range attempts {
		err := a.call()
		var oe *awstarget.OwnershipError
		var ne *awstarget.NameError
		if !errors.As(err, &oe) && !errors.As(err, &ne) {
			t.Fatalf("%s: not refused: %v", a.name, err)
		}
		if strings.Contains(err.Error(), foreignPass) || strings.Contains(err.Error(), kmsuserPass) {
			t.Fatalf("%s: a secret in the error: %v", a.name, err)
		}
	}
	// Nothing mutating was sent: only the reads that found the ids exist.
	after := s.h.Calls()
	for op, n := range after {
		if n != before[op] && !strings.HasPrefix(op, "Describe") && op != "sts:GetCallerIdentity" {
			t.Fatalf("%s reached the emulator (%d → %d)", op, before[op], n)
		}
	}
	if len(tgt.Guard().Refusals()) != len(attempts) {
		t.Fatalf("refusals %q", tgt.Guard().Refusals())
	}

	// A store of the run's own is created, used and cleaned up; an id that
	// names nothing may be called (the NO_SUCH_STORE cells).
	own, err := c.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("kmsconform-test-own"),
		CloudHsmClusterId: aws.String(ownCluster), TrustAnchorCertificate: aws.String(anchor), KeyStorePassword: aws.String(kmsuserPass)})
	if err != nil {
		t.Fatal(err)
	}
	connect(t, c, aws.ToString(own.CustomKeyStoreId))
	in := &kms.CreateKeyInput{Origin: types.OriginTypeAwsCloudhsm, CustomKeyStoreId: own.CustomKeyStoreId}
	k, err := c.CreateKey(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	// The key went out tagged with the run and with its create (the
	// emulator has no ListResourceTags, so the input the guard extended is
	// checked).
	if len(in.Tags) != 2 || aws.ToString(in.Tags[0].TagKey) != awstarget.RunTagKey || aws.ToString(in.Tags[0].TagValue) != "kmsconform" ||
		aws.ToString(in.Tags[1].TagKey) != awstarget.CreateTagKey || len(aws.ToString(in.Tags[1].TagValue)) != 24 {
		t.Fatalf("tags of the run's key: %+v", in.Tags)
	}
	_, err = c.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String("cks-0123456789abcdef0")})
	if code := errCode(err); code != "CustomKeyStoreNotFoundException" {
		t.Fatalf("absent store: %v", err)
	}
	left := tgt.Guard().Cleanup(ctx, time.Millisecond, time.Minute)
	if len(left) != 1 || left[0].ID != aws.ToString(own.CustomKeyStoreId) || !strings.Contains(left[0].Reason, "pending deletion") {
		t.Fatalf("leftovers %v", left)
	}
	if st := keyState(t, s.foreign, aws.ToString(k.KeyMetadata.KeyId)); st != types.KeyStatePendingDeletion {
		t.Fatalf("own key %s", st)
	}
	if st := stateOf(t, s.foreign, aws.ToString(own.CustomKeyStoreId)); st != types.ConnectionStateTypeDisconnected {
		t.Fatalf("own store %s", st)
	}
	// The foreign resources are as they were.
	if st := stateOf(t, s.foreign, store); st != types.ConnectionStateTypeConnected {
		t.Fatalf("foreign store %s", st)
	}
	for _, id := range []string{storeKey, plainKey} {
		if st := keyState(t, s.foreign, id); st != types.KeyStateEnabled {
			t.Fatalf("foreign key %s %s", id, st)
		}
	}
}

func errCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func createOwn(ctx context.Context, c *kms.Client, name, cluster string) (string, error) {
	out, err := c.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String(name),
		CloudHsmClusterId: aws.String(cluster), TrustAnchorCertificate: aws.String(anchor), KeyStorePassword: aws.String(kmsuserPass)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.CustomKeyStoreId), nil
}

func TestGuardLimits(t *testing.T) {
	s := newSandbox(t)
	ctx := context.Background()
	tgt := s.target(t, targets.Limits{MaxStores: 1, MaxKeys: 1, TimeBudget: time.Hour})
	c := tgt.KMS()
	first, err := createOwn(ctx, c, "kmsconform-a", ownCluster)
	if err != nil {
		t.Fatal(err)
	}
	var le *awstarget.LimitError
	if _, err := createOwn(ctx, c, "kmsconform-b", otherCluster); !errors.As(err, &le) || !strings.Contains(err.Error(), "max_live_stores (1)") {
		t.Fatalf("second store: %v", err)
	}
	// Deleting the first frees the place.
	if _, err := c.DeleteCustomKeyStore(ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(first)}); err != nil {
		t.Fatal(err)
	}
	if _, err := createOwn(ctx, c, "kmsconform-b", otherCluster); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateKey(ctx, &kms.CreateKeyInput{}); !errors.As(err, &le) || !strings.Contains(err.Error(), "max_keys (1)") {
		t.Fatalf("second key: %v", err)
	}
	if s.h.Calls()["CreateKey"] != 1 || s.h.Calls()["CreateCustomKeyStore"] != 2 {
		t.Fatalf("refused calls were sent: %v", s.h.Calls())
	}
}

func TestGuardTimeBudget(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := awstarget.NewGuard(targets.Limits{MaxStores: 2, MaxKeys: 2, TimeBudget: time.Hour}, "kmsconform-", func() time.Time { return now })
	s := newSandbox(t)
	c := kms.New(kms.Options{Region: "eu-west-1", BaseEndpoint: aws.String(s.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(likeAKID, likeSecret, "")}, g.Install)
	ctx := context.Background()
	if _, err := createOwn(ctx, c, "kmsconform-a", ownCluster); err != nil {
		t.Fatal(err)
	}
	now = now.Add(61 * time.Minute)
	var le *awstarget.LimitError
	if _, err := createOwn(ctx, c, "kmsconform-b", otherCluster); !errors.As(err, &le) || !strings.Contains(err.Error(), "time budget (1h0m0s)") {
		t.Fatalf("after the budget: %v", err)
	}
	// Reads still go through.
	if _, err := c.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{}); err != nil {
		t.Fatal(err)
	}
}

// TestSignalMidRunLeavesNothingBehind interrupts a run that has created
// stores (one connected, with a key, and in transition) and a key: the
// cleanup disconnects and deletes every store it can, schedules the key's
// deletion, and reports the one store that must wait for its key; the
// foreign store is untouched, and the output holds no secret.
func TestSignalMidRunLeavesNothingBehind(t *testing.T) {
	s := newSandbox(t)
	foreignStore, _, _ := s.seedForeign(t)
	tgt := s.target(t, roomy)
	c := tgt.KMS()
	sigs := make(chan os.Signal, 2)
	var out bytes.Buffer
	dir := t.TempDir()
	var keyed, bare, key string
	started := make(chan struct{})
	go func() { <-started; sigs <- syscall.SIGINT }()
	left, err := tgt.Guard().Guarded(context.Background(), sigs, &out, dir, time.Millisecond, time.Minute, func(ctx context.Context) error {
		var err error
		if keyed, err = createOwn(ctx, c, "kmsconform-keyed", ownCluster); err != nil {
			return err
		}
		if bare, err = createOwn(ctx, c, "kmsconform-bare", thirdCluster); err != nil {
			return err
		}
		connect(t, c, keyed)
		k, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeAwsCloudhsm, CustomKeyStoreId: aws.String(keyed)})
		if err != nil {
			return err
		}
		key = aws.ToString(k.KeyMetadata.KeyId)
		if _, err := c.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(bare)}); err != nil {
			return err
		}
		close(started)
		<-ctx.Done() // waiting for a transition, interrupted
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run error %v", err)
	}
	if len(left) != 1 || left[0].ID != keyed {
		t.Fatalf("leftovers %v", left)
	}
	if st := keyState(t, s.foreign, key); st != types.KeyStatePendingDeletion {
		t.Fatalf("key %s", st)
	}
	if _, err := s.foreign.DescribeCustomKeyStores(context.Background(), &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(bare)}); errCode(err) != "CustomKeyStoreNotFoundException" {
		t.Fatalf("bare store not deleted: %v", err)
	}
	if st := stateOf(t, s.foreign, keyed); st != types.ConnectionStateTypeDisconnected {
		t.Fatalf("keyed store %s", st)
	}
	if st := stateOf(t, s.foreign, foreignStore); st != types.ConnectionStateTypeConnected {
		t.Fatalf("foreign store %s", st)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "cleanup.json"))
	if err != nil || !strings.Contains(string(raw), keyed) {
		t.Fatalf("cleanup.json: %s %v", raw, err)
	}
	for _, text := range []string{out.String(), string(raw)} {
		for _, secret := range []string{kmsuserPass, likeSecret} {
			if strings.Contains(text, secret) {
				t.Fatalf("a secret in the output: %s", text)
			}
		}
	}
	if !strings.Contains(out.String(), "interrupt") || !strings.Contains(out.String(), "cleanup: left store "+keyed) {
		t.Fatalf("output:\n%s", out.String())
	}
}

// TestSecondSignalStopsTheCleanup: at real speed a store in CONNECTING
// stays there for minutes, so the cleanup waits; a second signal stops
// it, and the store is listed as left behind.
func TestSecondSignalStopsTheCleanup(t *testing.T) {
	s := newSandboxAt(t, 1)
	tgt := s.target(t, roomy)
	c := tgt.KMS()
	sigs := make(chan os.Signal, 2)
	var out bytes.Buffer
	var id string
	left, err := tgt.Guard().Guarded(context.Background(), sigs, &out, "", time.Millisecond, time.Hour, func(ctx context.Context) error {
		var err error
		if id, err = createOwn(ctx, c, "kmsconform-slow", ownCluster); err != nil {
			return err
		}
		if _, err := c.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}); err != nil {
			return err
		}
		sigs <- syscall.SIGINT
		sigs <- syscall.SIGINT
		<-ctx.Done()
		return ctx.Err()
	})
	if !errors.Is(err, awstarget.ErrForced) {
		t.Fatalf("err %v", err)
	}
	if len(left) != 1 || left[0].ID != id || !strings.Contains(out.String(), "cleanup: left store "+id) {
		t.Fatalf("left %v, output:\n%s", left, out.String())
	}
}

// TestTargetRoles: the target runs a run in its guard (targets.Guarded),
// which then removes the run's store, and normalises a compat.json into a
// recording (targets.Recorded), scrubbing the caller's secret.
func TestTargetRoles(t *testing.T) {
	s := newSandbox(t)
	tgt := s.target(t, roomy)
	var (
		g   targets.Guarded  = tgt
		rec targets.Recorded = tgt
	)
	var out bytes.Buffer
	var id string
	forced, err := g.RunGuarded(context.Background(), "kmsconform-roles-", &out, t.TempDir(), func(ctx context.Context) error {
		var err error
		id, err = createOwn(ctx, tgt.KMS(), "kmsconform-roles-a", ownCluster)
		return err
	})
	if forced || err != nil || tgt.Guard().Prefix() != "kmsconform-roles-" {
		t.Fatalf("forced %v, err %v, prefix %q", forced, err, tgt.Guard().Prefix())
	}
	if _, err := s.foreign.DescribeCustomKeyStores(context.Background(), &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)}); errCode(err) != "CustomKeyStoreNotFoundException" {
		t.Fatalf("the run's store was not removed: %v", err)
	}
	raw, err := rec.NormalizeRecording([]byte(`{"account":"` + emulator.AWSLikeAccount + `","detail":"` + likeSecret + `"}`))
	if err != nil || strings.Contains(string(raw), emulator.AWSLikeAccount) || strings.Contains(string(raw), likeSecret) ||
		!strings.Contains(string(raw), awstarget.NormalizedAccount) {
		t.Fatalf("recording %s, %v", raw, err)
	}
}

// TestGuardAllowsACreateThatCannotCreate: the validation cell of a missing
// CustomKeyStoreName sends a CreateCustomKeyStore with no name (drive's
// raw path, once the SDK has refused the input after every middleware).
// KMS answers it ValidationException and creates nothing, so the guard
// lets it through — even with the store limit reached — as it does an
// empty name; a name without the prefix is still refused.
func TestGuardAllowsACreateThatCannotCreate(t *testing.T) {
	s := newSandbox(t)
	tgt := s.target(t, targets.Limits{MaxStores: 1, MaxKeys: 1, TimeBudget: time.Hour})
	c := tgt.KMS()
	ctx := context.Background()
	harmless := func(when string) {
		t.Helper()
		// What drive builds for the cell: the name left out, nothing else.
		_, err := c.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{})
		var ip smithy.InvalidParamsError
		if !errors.As(err, &ip) {
			t.Fatalf("%s: no name: the SDK's own refusal (which sends the raw request) was expected, got %v", when, err)
		}
		_, err = c.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String(""),
			CloudHsmClusterId: aws.String(thirdCluster), TrustAnchorCertificate: aws.String(anchor), KeyStorePassword: aws.String(kmsuserPass)})
		if errCode(err) != "ValidationException" {
			t.Fatalf("%s: empty name: %v", when, err)
		}
	}
	harmless("no store yet")
	if _, err := createOwn(ctx, c, "kmsconform-only", ownCluster); err != nil {
		t.Fatal(err)
	}
	harmless("at max_live_stores")
	if r := tgt.Guard().Refusals(); len(r) != 0 {
		t.Fatalf("refused: %q", r)
	}
	var ne *awstarget.NameError
	if _, err := createOwn(ctx, c, "team-prod-3", otherCluster); !errors.As(err, &ne) {
		t.Fatalf("a name without the prefix: %v", err)
	}
	var le *awstarget.LimitError
	if _, err := createOwn(ctx, c, "kmsconform-second", otherCluster); !errors.As(err, &le) {
		t.Fatalf("a second named store: %v", err)
	}
	if n := s.h.Calls()["CreateCustomKeyStore"]; n != 3 {
		t.Fatalf("CreateCustomKeyStore reached the emulator %d times, want 3 (two empty names, one store)", n)
	}
}
