package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmsconform/kmsconform/reports"
)

// TestReachWithoutAControlPlane runs `kmsconform run --target endpoint`
// against `kmsconform serve` started as a separate process, the way a user
// would: transitions of 1.5 s, one healthy simulated cluster and one
// `kmsconform xks-proxy` registered once at start-up, then the control
// plane left alone. No cell may fail or be indeterminate (the emulator
// follows the documentation: a failure would be a false one), and the
// reach must hold. The second case adds the proxy's control API.
func TestReachWithoutAControlPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers and runs the whole suite")
	}
	if bin := cliBinary(t); bin != os.Args[0] {
		t.Cleanup(func() { _ = os.Remove(bin) }) // after every case: they run in parallel
	}
	for _, tc := range []struct {
		name    string
		control bool
		// minPass is the floor of cells reached and passed (of 583); the
		// figures README quotes come from the same run.
		minPass     int
		xksFailedOK int
		// transition is how long CONNECTING and DISCONNECTING last; a
		// target where they end at once must yield the finding.
		transition string
		// second adds a second cluster and proxy (the *_2 variables).
		second bool
	}{
		{"api-only", false, 490, 0, "1500ms", false},
		{"with-proxy-control", true, 525, 30, "1500ms", false},
		{"instant-transitions", false, 220, 0, "0s", false},
		{"with-second-backing-and-proxy-control", true, 535, 30, "1500ms", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each case has its own servers, and most of a case is waiting
			// for transitions: two at a time on these 2-core machines.
			t.Parallel()
			reachSlots <- struct{}{}
			defer func() { <-reachSlots }()
			env := startServeAndProxy(t, tc.transition, tc.second)
			if !tc.control {
				delete(env, "KMSCONFORM_XKS_CONTROL_URL")
			}
			dir := t.TempDir()
			if d := os.Getenv("KMSCONFORM_REACH_KEEP"); d != "" {
				dir = filepath.Join(d, tc.name) // to read the reports after a failure
			}
			cmd := exec.Command(cliBinary(t), "run", "--target", "endpoint", "--endpoint", env["url"], "--region", "us-east-1", "--report-dir", dir)
			cmd.Env = append(os.Environ(), "KMSCONFORM_TEST_AS_CLI=1", "KMSCONFORM_SKIP_BROWSER=1")
			for k, v := range env {
				if k != "url" {
					cmd.Env = append(cmd.Env, k+"="+v)
				}
			}
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			start := time.Now()
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v\n%s\n%s", err, out.String(), errOut.String())
			}
			c, err := reports.ReadFile(filepath.Join(dir, "compat.json"))
			if err != nil {
				t.Fatal(err)
			}
			var xksFailed int
			for _, cell := range c.Cells {
				if cell.Verdict == reports.Fail || cell.Verdict == reports.Indeterminate {
					t.Errorf("%s: %s: %s", cell.ID, cell.Verdict, cell.Evidence.Detail)
				}
				if cell.StoreType == "EXTERNAL_KEY_STORE" && cell.State == "FAILED" && cell.Verdict == reports.Pass {
					xksFailed++
				}
			}
			for _, s := range c.Scenarios {
				if s.Verdict == reports.Fail || s.Verdict == reports.Indeterminate {
					t.Errorf("scenario %s: %s: %s", s.Name, s.Verdict, s.Detail)
				}
				// Every scenario that needs no control plane and no backing
				// beyond the run's is reached where transitions last long
				// enough to be seen.
				lacks := strings.Contains(s.Detail, "control") || strings.Contains(s.Detail, "which the run was not given") ||
					strings.Contains(s.Detail, "resets its backing")
				if s.Verdict == reports.Unreachable && tc.transition != "0s" && !lacks {
					t.Errorf("scenario %s unreachable without needing control: %s", s.Name, s.Detail)
				}
			}
			pass, scenarios := 0, 0 // cells and scenarios (the summary counts both)
			for _, cell := range c.Cells {
				if cell.Verdict == reports.Pass {
					pass++
				}
			}
			for _, s := range c.Scenarios {
				if s.Verdict == reports.Pass {
					scenarios++
				}
			}
			t.Logf("%s: %d of %d cells reached and passed (%.1f%%), %d of %d scenarios, in %s; %d XKS FAILED cells", tc.name, pass, len(c.Cells),
				100*float64(pass)/float64(len(c.Cells)), scenarios, len(c.Scenarios), time.Since(start).Round(time.Second), xksFailed)
			for _, rc := range reports.RootCauses(c) {
				t.Logf("  %s: %s", rc.What(), rc.Reason)
			}
			instant := tc.transition == "0s"
			if found := len(c.Findings) > 0 && strings.Contains(c.Findings[0], "never observed CONNECTING"); found != instant {
				t.Errorf("findings %q", c.Findings)
			}
			if pass < tc.minPass || xksFailed < tc.xksFailedOK {
				t.Errorf("reach fell: %d passed (want ≥ %d), %d XKS FAILED cells (want ≥ %d)", pass, tc.minPass, xksFailed, tc.xksFailedOK)
			}
		})
	}
}

var (
	cliOnce sync.Once
	cliPath string
)

// cliBinary is the kmsconform command as a user runs it: built without the
// race detector (make test builds this package's tests with it, and the
// servers and runs of these cases are what a user starts, not what they
// check), so that four servers and two runs fit the machine. Without a Go
// toolchain on the PATH it is the test binary itself.
func cliBinary(t *testing.T) string {
	cliOnce.Do(func() {
		cliPath = os.Args[0]
		goBin, err := exec.LookPath("go")
		if err != nil {
			return
		}
		out := filepath.Join(os.TempDir(), fmt.Sprintf("kmsconform-reach-%d", os.Getpid()))
		if b, err := exec.Command(goBin, "build", "-o", out, ".").CombinedOutput(); err != nil {
			t.Logf("building the CLI without -race: %v: %s (using the test binary)", err, b)
			return
		}
		cliPath = out
	})
	return cliPath
}

// reachSlots bounds the reach cases that run at once.
var reachSlots = make(chan struct{}, 2)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startCLI starts the test binary as the CLI in the background; the test's
// cleanup stops it by PID.
func startCLI(t *testing.T, args ...string) *bytes.Buffer {
	t.Helper()
	return startCLIEnv(t, nil, args...)
}

// startCLIEnv is startCLI with env added to the command's environment (a
// later value wins).
func startCLIEnv(t *testing.T, env []string, args ...string) *bytes.Buffer {
	t.Helper()
	cmd := exec.Command(cliBinary(t), args...)
	cmd.Env = append(append(os.Environ(), "KMSCONFORM_TEST_AS_CLI=1"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return &out
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	for range 150 {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not answer", url)
}

// startServeAndProxy starts an XKS proxy and the emulator, registers one
// cluster and the proxy's route (with second, a second cluster and a second
// proxy too), and returns the run's environment.
func startServeAndProxy(t *testing.T, transition string, second bool) map[string]string {
	serveAddr := freeAddr(t)
	// -verify-sigv4: the run signs every request, and the control plane
	// below is signed too. The case with a second backing keeps its state
	// in a file: the whole suite runs through the state file's commits.
	serveEnv := []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"}
	args := []string{"serve", "-addr", serveAddr, "-verify-sigv4", "-connect-duration", transition, "-disconnect-duration", transition, "-quiet"}
	if second {
		serveEnv = append(serveEnv, envPassphrase+"=reach passphrase")
		args = append(args, "-state-file", filepath.Join(t.TempDir(), "state.db"))
	}
	startCLIEnv(t, serveEnv, args...)
	url := "http://" + serveAddr
	waitHTTP(t, url)
	runEnv := map[string]string{"url": url, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_ENDPOINT_URL_KMS": ""}
	backing(t, url, "", "cluster-reachreachre", "xks.reach.example", runEnv)
	if second {
		backing(t, url, "_2", "cluster-reachsecond2", "xks2.reach.example", runEnv)
	}
	return runEnv
}

// backing starts an XKS proxy, registers it and a healthy cluster with the
// emulator at url, and sets the run's variables (with suffix) in env.
func backing(t *testing.T, url, suffix, cluster, host string, env map[string]string) {
	dir := t.TempDir()
	proxyAddr, controlAddr := freeAddr(t), freeAddr(t)
	credFile := filepath.Join(dir, "cred.json")
	startCLI(t, "xks-proxy", "--addr", proxyAddr, "--control-addr", controlAddr, "--tls-dir", filepath.Join(dir, "tls"),
		"--credential-file", credFile, "--key", "k1", "--key", "k2", "--key", "k3", "--key", "k4")
	waitHTTP(t, "http://"+controlAddr)
	for range 50 {
		if _, err := os.Stat(credFile); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var cred struct {
		XksProxyAuthenticationCredential struct{ AccessKeyId, RawSecretAccessKey string }
	}
	b, err := os.ReadFile(credFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cred); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(dir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	anchor := selfSigned(t)
	password := "kmsuserReach" + strings.TrimPrefix(suffix, "_") + "1"
	put := func(path string, body any) {
		if st, msg := controlDo(t, http.MethodPut, url+"/_kmsconform/"+path, body, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]); st != 200 {
			t.Fatalf("PUT %s: %d %s", path, st, msg)
		}
	}
	put("clusters/"+cluster, map[string]any{"id": cluster, "trustAnchorCertificate": anchor, "state": "ACTIVE",
		"hsms": []map[string]any{{"id": "hsm-aaaaaaaaaaa", "availabilityZone": "us-east-1a", "state": "ACTIVE"},
			{"id": "hsm-bbbbbbbbbbb", "availabilityZone": "us-east-1b", "state": "ACTIVE"}},
		"subnets": []map[string]any{{"id": "subnet-aaaaaaaaaaaaaaaaa", "availabilityZone": "us-east-1a", "private": true, "freeAddresses": 10},
			{"id": "subnet-bbbbbbbbbbbbbbbbb", "availabilityZone": "us-east-1b", "private": true, "freeAddresses": 10}},
		"securityGroupOk": true, "kmsUser": map[string]any{"password": password}})
	put("xks-routes/"+host, map[string]any{"addr": proxyAddr, "caPem": string(ca), "serverName": "localhost"})
	for k, v := range map[string]string{
		"KMSCONFORM_CLOUDHSM_CLUSTER_ID":       cluster,
		"KMSCONFORM_CLOUDHSM_TRUST_ANCHOR":     anchor,
		"KMSCONFORM_CLOUDHSM_KMSUSER_PASSWORD": password,
		"KMSCONFORM_XKS_URI_ENDPOINT":          "https://" + host,
		"KMSCONFORM_XKS_URI_PATH":              "/kms/xks/v1",
		"KMSCONFORM_XKS_ACCESS_KEY_ID":         cred.XksProxyAuthenticationCredential.AccessKeyId,
		"KMSCONFORM_XKS_SECRET_ACCESS_KEY":     cred.XksProxyAuthenticationCredential.RawSecretAccessKey,
	} {
		env[k+suffix] = v
	}
	if suffix == "" {
		env["KMSCONFORM_XKS_KEY_ID"] = "k1,k2,k3,k4" // two for the model's keys, two for scenarios that adopt a store
		env["KMSCONFORM_XKS_CONTROL_URL"] = "http://" + controlAddr
	}
}

func selfSigned(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "reach anchor"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))) + "\n"
}
