package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsconform/kmsconform/targets/emulator"
)

const (
	sbAKID, sbSecret = "AKIAKMSCONFORMSIGTEST", "sigSandboxSecretSigSandboxSecret00000001"
	sbCluster        = "cluster-sigsandboxaa"
	sbForeignCluster = "cluster-sigsandboxbb"
	sbPassword       = "kmsuserSIGsecret1"
	sbForeignName    = "team-prod"
)

// holder passes every request to the AWS-like emulator but, once armed,
// holds the answer to the first successful call of one operation, after
// the emulator acted on it, until the client goes away: a create in
// flight, as long as a test needs.
type holder struct {
	next http.Handler
	mu   sync.Mutex
	op   string
	held chan struct{}
}

func (h *holder) hold(op string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.op, h.held = op, make(chan struct{})
	return h.held
}

func (h *holder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	h.mu.Lock()
	hold := op != "" && op == h.op
	held := h.held
	if hold {
		h.op = ""
	}
	h.mu.Unlock()
	if !hold {
		h.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	h.next.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		// It made nothing: answered, and the next one is held.
		h.mu.Lock()
		h.op = op
		h.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	close(held)
	select {
	case <-r.Context().Done():
	case <-time.After(2 * time.Minute):
	}
}

// sigSandbox is the emulator in its AWS-like mode behind a holder, with a
// foreign store the run must not touch, and the configuration and
// environment a CLI run against it needs.
type sigSandbox struct {
	h       *holder
	foreign *kms.Client
	cfg     string
	env     []string
}

func newSigSandbox(t *testing.T) *sigSandbox {
	t.Helper()
	emu, anchor := awsLikeSandbox(t, sbAKID, sbSecret, sbPassword, sbCluster, sbForeignCluster)
	h := &holder{next: emu.AWSLikeHandler()}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfg := sandboxConfig(t, dir, sbCluster, "20s")
	env := append(os.Environ(), "KMSCONFORM_TEST_AS_CLI=1", "KMSCONFORM_SKIP_BROWSER=1",
		"AWS_ACCESS_KEY_ID="+sbAKID, "AWS_SECRET_ACCESS_KEY="+sbSecret, "AWS_SESSION_TOKEN=", "AWS_PROFILE=", "AWS_REGION=",
		"AWS_ENDPOINT_URL_STS="+srv.URL, "AWS_ENDPOINT_URL_KMS="+srv.URL, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"KMSCONFORM_CLOUDHSM_TRUST_ANCHOR="+anchor, "KMSCONFORM_CLOUDHSM_KMSUSER_PASSWORD="+sbPassword)
	foreign := kms.New(kms.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(sbAKID, sbSecret, "")})
	if _, err := foreign.CreateCustomKeyStore(context.Background(), &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String(sbForeignName),
		CloudHsmClusterId: aws.String(sbForeignCluster), TrustAnchorCertificate: aws.String(anchor), KeyStorePassword: aws.String(sbPassword)}); err != nil {
		t.Fatal(err)
	}
	return &sigSandbox{h: h, foreign: foreign, cfg: cfg, env: env}
}

// start starts the test binary as the CLI against the sandbox.
func (s *sigSandbox) start(t *testing.T, args ...string) (*exec.Cmd, *lockedBuffer, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = s.env
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out, errOut
}

// waitCLI waits for the process, at most a while, and returns its exit code
// (-1 when a signal killed it).
func waitCLI(t *testing.T, cmd *exec.Cmd, errOut *lockedBuffer) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("the run did not end:\n%s", errOut.String())
	}
	return cmd.ProcessState.ExitCode()
}

func waitHeld(t *testing.T, held <-chan struct{}, cmd *exec.Cmd, errOut *lockedBuffer) {
	t.Helper()
	select {
	case <-held:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("the run made no create:\n%s", errOut.String())
	}
}

// leftovers counts, as the account's owner would, the stores of the run
// still there and its keys not pending deletion (the foreign store is
// not the run's).
func (s *sigSandbox) leftovers(t *testing.T) (stores, keys []string) {
	t.Helper()
	ctx := context.Background()
	out, err := s.foreign.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range out.CustomKeyStores {
		if aws.ToString(st.CustomKeyStoreName) != sbForeignName {
			stores = append(stores, aws.ToString(st.CustomKeyStoreName)+" "+string(st.ConnectionState))
		}
	}
	ks, err := s.foreign.ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks.Keys {
		md, err := s.foreign.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
		if err != nil {
			t.Fatal(err)
		}
		if md.KeyMetadata.KeyState != types.KeyStatePendingDeletion {
			keys = append(keys, aws.ToString(k.KeyId)+" "+string(md.KeyMetadata.KeyState))
		}
	}
	return stores, keys
}

// pendingInLedger reads the ledger as a plain JSON document: the creates
// in it whose outcome is not known.
func pendingInLedger(path string) ([]map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var l struct {
		Pending []map[string]any `json:"pending"`
	}
	return l.Pending, json.Unmarshal(raw, &l)
}

func noSecrets(t *testing.T, texts ...string) {
	t.Helper()
	for _, text := range texts {
		for _, s := range []string{sbSecret, sbPassword} {
			if strings.Contains(text, s) {
				t.Fatalf("a secret in the output")
			}
		}
	}
}

// TestSandboxSignalDuringACreate stops a sandbox run (kmsconform run
// --target aws, against the emulator in its AWS-like mode) with a signal
// while its first CreateCustomKeyStore is in flight — KMS has made the
// store, the answer has not come back. Whatever the signal (Ctrl-C, a
// termination, a dropped SSH session, Ctrl-\), the run stops, finds the
// store by the name it sent, deletes it, and writes cleanup.json: no
// store and no key of the run is left. The ledger is on disk while the
// create is in flight. The figure of README's reliability section is the
// count this test logs.
func TestSandboxSignalDuringACreate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CLI against a sandbox")
	}
	for _, tc := range []struct {
		name string
		args []string
		sigs []syscall.Signal
		// deadPipe: stderr is a pipe whose reader is gone by the signal
		// (`kmsconform run ... 2>&1 | tee log` in a session that dropped).
		deadPipe bool
	}{
		{"planned/SIGHUP, stderr a dead pipe", []string{"--planned"}, []syscall.Signal{syscall.SIGHUP}, true},
		{"planned/SIGINT", []string{"--planned"}, []syscall.Signal{syscall.SIGINT}, false},
		{"planned/SIGHUP", []string{"--planned"}, []syscall.Signal{syscall.SIGHUP}, false},
		{"planned/SIGHUP twice", []string{"--planned"}, []syscall.Signal{syscall.SIGHUP, syscall.SIGHUP}, false},
		{"planned/SIGQUIT", []string{"--planned"}, []syscall.Signal{syscall.SIGQUIT}, false},
		{"planned/SIGTERM", []string{"--planned"}, []syscall.Signal{syscall.SIGTERM}, false},
		{"suites/SIGINT", []string{"--label-filter", "store:AWS_CLOUDHSM && op:DeleteCustomKeyStore"}, []syscall.Signal{syscall.SIGINT}, false},
		{"suites/SIGHUP", []string{"--label-filter", "store:AWS_CLOUDHSM && op:DeleteCustomKeyStore"}, []syscall.Signal{syscall.SIGHUP}, false},
		{"suites/SIGHUP twice", []string{"--label-filter", "store:AWS_CLOUDHSM && op:DeleteCustomKeyStore"}, []syscall.Signal{syscall.SIGHUP, syscall.SIGHUP}, false},
		{"suites/SIGQUIT", []string{"--label-filter", "store:AWS_CLOUDHSM && op:DeleteCustomKeyStore"}, []syscall.Signal{syscall.SIGQUIT}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSigSandbox(t)
			dir := t.TempDir()
			held := s.h.hold("CreateCustomKeyStore")
			args := append([]string{"run", "--target", "aws", "--config", s.cfg, "--report-dir", dir, "--confirm-account", emulator.AWSLikeAccount}, tc.args...)
			var cmd *exec.Cmd
			out, errOut := &lockedBuffer{}, &lockedBuffer{}
			var pipeR *os.File
			if tc.deadPipe {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				cmd = exec.Command(os.Args[0], args...)
				cmd.Env, cmd.Stdout, cmd.Stderr = s.env, out, w
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				w.Close()
				pipeR = r
				go func() { _, _ = io.Copy(errOut, r) }()
			} else {
				cmd, out, errOut = s.start(t, args...)
			}
			waitHeld(t, held, cmd, errOut)
			if pipeR != nil {
				pipeR.Close()
			}
			if pending, err := pendingInLedger(filepath.Join(dir, "ledger.json")); err != nil || len(pending) != 1 ||
				!strings.HasPrefix(pending[0]["name"].(string), "kmsconform-") {
				t.Errorf("the ledger during the create: %v %v", pending, err)
			}
			for _, sig := range tc.sigs {
				_ = cmd.Process.Signal(sig)
				time.Sleep(50 * time.Millisecond)
			}
			code := waitCLI(t, cmd, errOut)
			stores, keys := s.leftovers(t)
			t.Logf("leftovers after %s during a create: %d stores, %d keys (exit %d)", tc.name, len(stores), len(keys), code)
			if len(stores) != 0 || len(keys) != 0 {
				t.Errorf("left behind: stores %q, keys %q\n%s", stores, keys, errOut.String())
			}
			// The run ends by itself, reports written: neither a second
			// hangup nor a closed stderr kills it after the cleanup.
			if _, err := os.Stat(filepath.Join(dir, "compat.json")); code == -1 || err != nil {
				t.Errorf("exit %d, compat.json: %v\n%s", code, err, errOut.String())
			}
			raw, err := os.ReadFile(filepath.Join(dir, "cleanup.json"))
			if err != nil || !strings.Contains(string(raw), `"leftovers": []`) {
				t.Errorf("cleanup.json: %v %s\n%s", err, raw, errOut.String())
			}
			if !tc.deadPipe && !strings.Contains(errOut.String(), "cleanup: nothing left behind") {
				t.Errorf("stderr:\n%s", errOut.String())
			}
			noSecrets(t, out.String(), errOut.String(), string(raw))
		})
	}
}

// TestSandboxKilledThenCleanupLedger: a sandbox run killed with kill -9
// cleans nothing up; its ledger, on disk as the run went, lets `kmsconform
// cleanup --ledger` finish the job: with the first store's create in
// flight at the kill, nothing is left (exit 0); with the first key's, the
// key is scheduled for deletion and its store, which must wait for it, is
// reported (exit 1). Run again, the cleanup does nothing more.
func TestSandboxKilledThenCleanupLedger(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CLI against a sandbox")
	}
	for _, tc := range []struct {
		op   string
		code int
	}{{"CreateCustomKeyStore", 0}, {"CreateKey", 1}} {
		t.Run(tc.op, func(t *testing.T) {
			s := newSigSandbox(t)
			dir := t.TempDir()
			held := s.h.hold(tc.op)
			cmd, _, errOut := s.start(t, "run", "--target", "aws", "--planned", "--config", s.cfg, "--report-dir", dir, "--confirm-account", emulator.AWSLikeAccount)
			waitHeld(t, held, cmd, errOut)
			_ = cmd.Process.Kill()
			if code := waitCLI(t, cmd, errOut); code != -1 {
				t.Fatalf("exit %d after kill -9", code)
			}
			if stores, _ := s.leftovers(t); len(stores) == 0 {
				t.Fatal("the kill left nothing to clean up")
			}
			ledger := filepath.Join(dir, "ledger.json")
			for round := 0; round < 2; round++ {
				c, out, errOut := s.start(t, "cleanup", "--ledger", ledger, "--config", s.cfg)
				code := waitCLI(t, c, errOut)
				stores, keys := s.leftovers(t)
				t.Logf("%s, round %d: exit %d, leftovers %q %q", tc.op, round, code, stores, keys)
				if code != tc.code || len(keys) != 0 {
					t.Fatalf("round %d: exit %d, keys %q\n%s", round, code, keys, errOut.String())
				}
				raw, err := os.ReadFile(filepath.Join(dir, "cleanup.json"))
				if err != nil {
					t.Fatal(err)
				}
				if tc.code == 0 && (len(stores) != 0 || !strings.Contains(string(raw), `"leftovers": []`)) {
					t.Fatalf("round %d: stores %q, cleanup.json %s", round, stores, raw)
				}
				if tc.code == 1 && (len(stores) != 1 || !strings.HasSuffix(stores[0], " DISCONNECTED") ||
					!strings.Contains(errOut.String(), "holds keys pending deletion")) {
					t.Fatalf("round %d: stores %q\n%s", round, stores, errOut.String())
				}
				if pending, err := pendingInLedger(ledger); err != nil || len(pending) != 0 {
					t.Fatalf("ledger after the cleanup: %v %v", pending, err)
				}
				noSecrets(t, out.String(), errOut.String(), string(raw))
			}
		})
	}
}

// TestCleanupUsage: the cleanup command's mistakes are one line and exit
// 2, having called nothing.
func TestCleanupUsage(t *testing.T) {
	dir := t.TempDir()
	notLedger := filepath.Join(dir, "x.json")
	_ = os.WriteFile(notLedger, []byte(`{"schema":"other"}`), 0o600)
	for _, args := range [][]string{
		{"cleanup"}, {"cleanup", "--nope"}, {"cleanup", "--ledger", filepath.Join(dir, "missing.json")},
		{"cleanup", "--ledger", notLedger}, {"cleanup", "--ledger", notLedger, "extra"},
	} {
		var out, errOut bytes.Buffer
		if code := dispatch(args, &out, &errOut); code != 2 || out.Len() != 0 || strings.Count(errOut.String(), "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out.String(), errOut.String())
		}
	}
	// The flags alone: a run that got past them would start processes.
	if _, err := parseRunFlags([]string{"--target", "aws", "--procs", "2"}, nil); err == nil || !strings.Contains(err.Error(), "one process") {
		t.Errorf("run --target aws --procs 2: %v", err)
	}
}
