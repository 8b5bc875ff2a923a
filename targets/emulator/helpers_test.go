package emulator

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

const (
	testAnchor   = "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHHIG...test-anchor\n-----END CERTIFICATE-----"
	testPassword = "kmsPswd1"
	testAKID     = "AKIDEXAMPLE"
	testSecret   = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

type env struct {
	t     *testing.T
	emu   *Emulator
	clock *FakeClock
	kms   *kms.Client
	ctx   context.Context
}

// newEnv starts an emulator on a loopback port with a fake clock and
// returns a real SDK client for it.
func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	clock := NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	opts.Clock = clock
	if opts.ConnectDuration == 0 {
		opts.ConnectDuration = time.Minute
	}
	if opts.DisconnectDuration == 0 {
		opts.DisconnectDuration = 30 * time.Second
	}
	if opts.XKSTimeout == 0 {
		// Generous: the success paths must not depend on a noisy machine.
		// The timeout path uses its own short limit.
		opts.XKSTimeout = 10 * time.Second
	}
	if opts.StateFile == "" && opts.Mutant == "" {
		// Every test emulator keeps its state in a file, and every commit
		// is checked against memory: a change that is made but not
		// written (a key nobody told the file about) fails the test that
		// made it.
		opts.StateFile, opts.Passphrase = t.TempDir()+"/state.db", "test passphrase"
	}
	emu, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if emu.persist != nil {
		checkEveryCommit(t, emu)
	}
	if err := emu.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close(context.Background()) })
	return &env{t: t, emu: emu, clock: clock, kms: sdkClient(emu.URL(), testAKID, testSecret), ctx: context.Background()}
}

func sdkClient(url, akid, secret string) *kms.Client {
	return kms.New(kms.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(akid, secret, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Timeout: 30 * time.Second},
	})
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got %v", code, err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("want %s, got %s: %s", code, ae.ErrorCode(), ae.ErrorMessage())
	}
}

func wantMessage(t *testing.T, err error, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorMessage() != msg {
		t.Fatalf("want message %q, got %v", msg, err)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func (e *env) cluster(id string) *Cluster {
	c := NewHealthyCluster(id, testAnchor, testPassword)
	if err := e.emu.PutCluster(c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) createHSMStore(name, clusterID string) string {
	e.t.Helper()
	out, err := e.kms.CreateCustomKeyStore(e.ctx, &kms.CreateCustomKeyStoreInput{
		CustomKeyStoreName:     aws.String(name),
		CloudHsmClusterId:      aws.String(clusterID),
		TrustAnchorCertificate: aws.String(testAnchor),
		KeyStorePassword:       aws.String(testPassword),
	})
	if err != nil {
		e.t.Fatalf("create store: %v", err)
	}
	return *out.CustomKeyStoreId
}

func (e *env) describe(id string) types.CustomKeyStoresListEntry {
	e.t.Helper()
	out, err := e.kms.DescribeCustomKeyStores(e.ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
	if err != nil {
		e.t.Fatalf("describe %s: %v", id, err)
	}
	if len(out.CustomKeyStores) != 1 {
		e.t.Fatalf("describe %s: %d stores", id, len(out.CustomKeyStores))
	}
	return out.CustomKeyStores[0]
}

func (e *env) wantState(id string, want types.ConnectionStateType, code types.ConnectionErrorCodeType) {
	e.t.Helper()
	got := e.describe(id)
	if got.ConnectionState != want || got.ConnectionErrorCode != code {
		st, _ := e.emu.Store(id)
		e.t.Fatalf("store %s: want %s/%q, got %s/%q (%s)", id, want, code, got.ConnectionState, got.ConnectionErrorCode, st.ErrorDetail)
	}
}

// connect connects a store and lets the transition end.
func (e *env) connect(id string) {
	e.t.Helper()
	if _, err := e.kms.ConnectCustomKeyStore(e.ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}); err != nil {
		e.t.Fatalf("connect: %v", err)
	}
	e.finish(id)
}

func (e *env) disconnect(id string) {
	e.t.Helper()
	if _, err := e.kms.DisconnectCustomKeyStore(e.ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}); err != nil {
		e.t.Fatalf("disconnect: %v", err)
	}
	e.finish(id)
}

// finish advances the clock past any transition and waits for the backing
// check it starts.
func (e *env) finish(id string) {
	e.t.Helper()
	e.clock.Advance(time.Hour)
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	if _, err := e.emu.Settle(ctx, id); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) keyState(id string) types.KeyState {
	e.t.Helper()
	out, err := e.kms.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		e.t.Fatal(err)
	}
	if out.KeyMetadata.Enabled != (out.KeyMetadata.KeyState == types.KeyStateEnabled) {
		e.t.Fatalf("Enabled=%v with KeyState %s", out.KeyMetadata.Enabled, out.KeyMetadata.KeyState)
	}
	return out.KeyMetadata.KeyState
}

// controlCall makes one HTTP call of the control plane and returns its
// status and body.
func controlCall(t *testing.T, e *env, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.emu.URL()+ControlPrefix+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if len(e.emu.opts.Credentials) > 0 {
		SignControl(t, req, []byte(body), testAKID, testSecret, e.emu.Region())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}
