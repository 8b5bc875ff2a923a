package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/reports"
	"github.com/kmsconform/kmsconform/targets/emulator"
)

func TestRunPlannedOnTheEmulator(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := dispatch([]string{"run", "--planned", "--report-dir", dir}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	c, err := reports.ReadFile(filepath.Join(dir, "compat.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Cells) != len(model.Cells()) || c.Summary.Count(reports.Fail) != 0 || c.Summary.Count(reports.Indeterminate) != 0 {
		t.Fatalf("%d cells, summary %+v", len(c.Cells), c.Summary)
	}
	if c.Summary.Count(reports.Pass) < len(c.Cells)-20 {
		t.Fatalf("summary %+v", c.Summary)
	}
	// The planned mode (real KMS: hours) tells its progress on stderr.
	if want := fmt.Sprintf("kmsconform: %d specs to run", len(model.Cells())); !strings.Contains(errOut.String(), want) {
		t.Errorf("no progress on stderr (want %q):\n%s", want, errOut.String())
	}
	for _, bad := range [][]string{{"run", "--planned", "--procs", "2"}, {"run", "--planned", "--label-filter", "scenario"}} {
		errOut.Reset()
		if code := dispatch(bad, &out, &errOut); code != 2 || strings.Count(errOut.String(), "\n") != 1 {
			t.Fatalf("%q: exit %d %q", bad, code, errOut.String())
		}
	}
}

// TestRunPlannedAgainstASandbox runs `kmsconform run --target aws
// --planned` end to end against the emulator in its AWS-like mode, with a
// foreign store the run must not touch: the report is a normalised
// recording with no secret, the cleanup leaves only the stores that hold
// keys pending deletion, and the foreign store is as it was.
func TestRunPlannedAgainstASandbox(t *testing.T) {
	const (
		akid, secret = "AKIAKMSCONFORMCLITEST", "cliSandboxSecretCliSandboxSecret000001"
		cluster      = "cluster-clisandboxaa"
		foreignCl    = "cluster-clisandboxbb"
		password     = "kmsuserCLIsecret1"
	)
	emu, anchor := awsLikeSandbox(t, akid, secret, password, cluster, foreignCl)
	srv := httptest.NewServer(emu.AWSLikeHandler())
	defer srv.Close()
	dir := t.TempDir()
	cfg := sandboxConfig(t, dir, cluster, "10s")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_ENDPOINT_URL_STS": srv.URL, "AWS_ENDPOINT_URL_KMS": srv.URL, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"KMSCONFORM_CLOUDHSM_TRUST_ANCHOR": anchor, "KMSCONFORM_CLOUDHSM_KMSUSER_PASSWORD": password,
	} {
		t.Setenv(k, v)
	}
	ctx := context.Background()
	other := kms.New(kms.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(akid, secret, "")})
	fs, err := other.CreateCustomKeyStore(ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("kmsconform-someone-else"),
		CloudHsmClusterId: aws.String(foreignCl), TrustAnchorCertificate: aws.String(anchor), KeyStorePassword: aws.String(password)})
	if err != nil {
		t.Fatal(err)
	}

	report := filepath.Join(dir, "out")
	var out, errOut bytes.Buffer
	// Without --confirm-account: refused, one line, exit 2.
	if code := dispatch([]string{"run", "--target", "aws", "--planned", "--config", cfg, "--report-dir", report}, &out, &errOut); code != 2 ||
		!strings.Contains(errOut.String(), "--confirm-account") || strings.Count(errOut.String(), "\n") != 1 {
		t.Fatalf("unconfirmed: exit %d %q", code, errOut.String())
	}
	errOut.Reset()
	code := dispatch([]string{"run", "--target", "aws", "--planned", "--config", cfg, "--report-dir", report, "--confirm-account", emulator.AWSLikeAccount}, &out, &errOut)
	if code == 2 && !strings.Contains(errOut.String(), "EXTERNAL_KEY_STORE") {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	raw, err := os.ReadFile(filepath.Join(report, "compat.json"))
	if err != nil {
		t.Fatal(err)
	}
	cleanup, err := os.ReadFile(filepath.Join(report, "cleanup.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{string(raw), string(cleanup), out.String(), errOut.String()} {
		for _, s := range []string{secret, password} {
			if strings.Contains(text, s) {
				t.Fatalf("a secret in the output")
			}
		}
	}
	if strings.Contains(string(raw), emulator.AWSLikeAccount) || !strings.Contains(string(raw), "000000000000") {
		t.Fatal("the recording names the account")
	}
	c, err := reports.ReadFile(filepath.Join(report, "compat.json"))
	if err != nil {
		t.Fatal(err)
	}
	pass := 0
	for _, cell := range c.Cells {
		if cell.StoreType == string(model.CloudHSM) && cell.Verdict != reports.Pass && cell.Verdict != reports.Unreachable {
			t.Errorf("%s: %s: %s", cell.ID, cell.Verdict, cell.Evidence.Detail)
		}
		if cell.StoreType == string(model.CloudHSM) && cell.Verdict == reports.Pass {
			pass++
		}
	}
	if pass < 150 {
		t.Fatalf("%d CloudHSM cells passed: %+v\n%s", pass, c.Summary, errOut.String())
	}
	// What is left: the foreign store, as it was, and stores of the run
	// that hold keys pending deletion.
	all, err := other.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all.CustomKeyStores {
		if aws.ToString(s.CustomKeyStoreId) == aws.ToString(fs.CustomKeyStoreId) {
			if s.ConnectionState != types.ConnectionStateTypeDisconnected || aws.ToString(s.CustomKeyStoreName) != "kmsconform-someone-else" {
				t.Fatalf("the foreign store changed: %+v", s)
			}
			continue
		}
		if !strings.Contains(string(cleanup), "holds keys pending deletion") {
			t.Fatalf("store %s left without a word: %s", aws.ToString(s.CustomKeyStoreId), cleanup)
		}
	}
	keys, err := other.ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys.Keys {
		if st := describeKeyState(t, other, aws.ToString(k.KeyId)); st != types.KeyStatePendingDeletion {
			t.Fatalf("key %s left %s", aws.ToString(k.KeyId), st)
		}
	}
}

func describeKeyState(t *testing.T, c *kms.Client, id string) types.KeyState {
	t.Helper()
	out, err := c.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return out.KeyMetadata.KeyState
}

// stepClock advances one second each time it is read.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// awsLikeSandbox is the emulator in its AWS-like mode (eu-west-1) with a
// healthy cluster of each id, and their trust anchor. Time moves a second
// per look at the clock, so a 5-minute transition lasts a few hundred
// requests: long enough for the cells of CONNECTING and DISCONNECTING
// however slow the machine, as on real KMS, and short for the polls that
// wait it out.
func awsLikeSandbox(t *testing.T, akid, secret, password string, clusters ...string) (*emulator.Emulator, string) {
	t.Helper()
	anchor := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("a sandbox trust anchor")}))
	opts := emulator.AWSLikeOptions("eu-west-1", akid, secret, 1)
	opts.Clock = &stepClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	emu, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clusters {
		if err := emu.PutCluster(emulator.NewHealthyCluster(c, anchor, password)); err != nil {
			t.Fatal(err)
		}
	}
	return emu, anchor
}

// sandboxConfig writes in dir the ginkgo.yml of a sandbox run against
// awsLikeSandbox, with cluster as the backing, and returns its path.
func sandboxConfig(t *testing.T, dir, cluster, callTimeout string) string {
	t.Helper()
	cfg := filepath.Join(dir, "ginkgo.yml")
	if err := os.WriteFile(cfg, []byte(`targets:
  aws:
    region: eu-west-1
    enabled_accounts: ["`+emulator.AWSLikeAccount+`"]
    timeouts: {connect: 30s, disconnect: 30s, poll: 1ms, settle: 1ms, call: `+callTimeout+`}
    limits: {max_live_stores: 4, max_keys: 6, time_budget: 10m}
    backing:
      cloudhsm_cluster_id: `+cluster+`
`), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}
