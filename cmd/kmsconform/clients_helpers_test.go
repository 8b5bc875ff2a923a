package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
)

// This file holds what TestClients needs to run real AWS clients as child
// processes and read their view of each answer: the protocol the scripts in
// clients/ speak, the AWS CLI turned into the same shape, and the serve and
// XKS proxy they talk to.

// clientAnswer is one KMS answer as a client saw it. Blobs are base64 and
// dates strings, whatever the client's own types.
type clientAnswer struct {
	Output map[string]any `json:"output"`
	Err    *clientError   `json:"error"`
	// SentTo is the URL the SDK sent the request to (empty for the CLI).
	SentTo string `json:"sentTo"`
}

// clientError is an error answer as the client surfaces it: Code is what an
// application tests (JS err.name, boto3 e.response['Error']['Code'], the
// code in the CLI's "An error occurred (Code)"); Class is the type the SDK
// raised (empty for the CLI).
type clientError struct {
	Code    string `json:"code"`
	Class   string `json:"class"`
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// kmsClient is one real client, ready to make KMS calls in order.
type kmsClient interface {
	call(op string, input map[string]any) (clientAnswer, error)
	// diag is what the client wrote to stderr so far, for a failure.
	diag() string
}

// lineClient is a script from clients/ that reads one call a line on stdin
// and writes one answer a line on stdout (kms-client.mjs, kms_client.py).
type lineClient struct {
	in     *json.Encoder
	lines  chan []byte
	stderr *lockedBuffer
	Ready  struct {
		SDK    string `json:"sdk"`
		Region string `json:"region"`
	}
}

// clientCallTimeout bounds one call, retries and start-up included: a hung
// client fails the test instead of the test binary.
const clientCallTimeout = time.Minute

func startLineClient(t *testing.T, env []string, dir string, name string, args ...string) *lineClient {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	c := &lineClient{lines: make(chan []byte, 1), stderr: &lockedBuffer{}}
	cmd.Stderr = c.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.in = json.NewEncoder(stdin)
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for sc.Scan() {
			c.lines <- slices.Clone(sc.Bytes())
		}
	}()
	t.Cleanup(func() {
		_ = stdin.Close() // the script ends at end of input
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := c.next()
	if err != nil {
		t.Fatalf("%s did not start: %v\n%s", name, err, c.diag())
	}
	var ready struct {
		Ready json.RawMessage `json:"ready"`
	}
	if err := json.Unmarshal(line, &ready); err != nil || ready.Ready == nil {
		t.Fatalf("%s: first line is not ready: %q (%v)\n%s", name, line, err, c.diag())
	}
	if err := json.Unmarshal(ready.Ready, &c.Ready); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *lineClient) next() ([]byte, error) {
	select {
	case l, ok := <-c.lines:
		if !ok {
			return nil, fmt.Errorf("the client exited")
		}
		return l, nil
	case <-time.After(clientCallTimeout):
		return nil, fmt.Errorf("no answer in %s", clientCallTimeout)
	}
}

func (c *lineClient) call(op string, input map[string]any) (clientAnswer, error) {
	if err := c.in.Encode(map[string]any{"op": op, "input": input}); err != nil {
		return clientAnswer{}, err
	}
	line, err := c.next()
	if err != nil {
		return clientAnswer{}, err
	}
	var a clientAnswer
	if err := json.Unmarshal(line, &a); err != nil {
		return clientAnswer{}, fmt.Errorf("answer %q: %w", line, err)
	}
	if a.Err == nil && a.Output == nil {
		return clientAnswer{}, fmt.Errorf("answer %q has neither output nor error", line)
	}
	return a, nil
}

func (c *lineClient) diag() string { return c.stderr.String() }

// cliClient is the AWS CLI: one process a call, parameters as options the
// way a person types them (blobs through fileb://, structures as JSON,
// secrets in a --cli-input-json file), the answer from stdout (--output
// json) or from the error line on stderr.
type cliClient struct {
	env []string
	dir string // blob files
	n   int
	mu  sync.Mutex
	err strings.Builder // stderr of failed calls
}

// file writes b to a new file of the client's directory (0600: it may hold
// a secret) and returns its path.
func (c *cliClient) file(kind string, b []byte) (string, error) {
	c.n++
	f := filepath.Join(c.dir, fmt.Sprintf("%s-%d", kind, c.n))
	return f, os.WriteFile(f, b, 0o600)
}

// cliSecretMembers go to the CLI in a --cli-input-json file.
var cliSecretMembers = map[string]bool{"KeyStorePassword": true, "XksProxyAuthenticationCredential": true}

// cliErrorLine is how both major versions of the CLI report a service error.
var cliErrorLine = regexp.MustCompile(`An error occurred \(([A-Za-z0-9.]+)\) when calling the ([A-Za-z]+) operation(?: \([^)]*\))?: ?(.*)`)

func (c *cliClient) call(op string, input map[string]any) (clientAnswer, error) {
	args := []string{"kms", cliName(op), "--output", "json"}
	keys := make([]string, 0, len(input))
	for k := range input {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	secret := map[string]any{}
	for _, k := range keys {
		opt := "--" + cliName(k)
		if cliSecretMembers[k] {
			secret[k] = input[k]
			continue
		}
		switch v := input[k].(type) {
		case string:
			if k == "Plaintext" || k == "CiphertextBlob" {
				b, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					return clientAnswer{}, err
				}
				f, err := c.file("blob", b)
				if err != nil {
					return clientAnswer{}, err
				}
				v = "fileb://" + f
			}
			// opt=value: a trust anchor starts with "-----BEGIN".
			args = append(args, opt+"="+v)
		case bool:
			if !v {
				opt = "--no-" + cliName(k)
			}
			args = append(args, opt)
		case int:
			args = append(args, fmt.Sprintf("%s=%d", opt, v))
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return clientAnswer{}, err
			}
			args = append(args, opt+"="+string(b))
		}
	}
	if len(secret) > 0 {
		// Secrets through a file, as a careful user passes them: never in
		// the process listing.
		b, err := json.Marshal(secret)
		if err != nil {
			return clientAnswer{}, err
		}
		f, err := c.file("input", b)
		if err != nil {
			return clientAnswer{}, err
		}
		args = append(args, "--cli-input-json=file://"+f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clientCallTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "aws", args...)
	cmd.Env = c.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err == nil {
		a := clientAnswer{Output: map[string]any{}}
		if s := bytes.TrimSpace(out.Bytes()); len(s) > 0 { // an empty answer prints nothing
			if err := json.Unmarshal(s, &a.Output); err != nil {
				return clientAnswer{}, fmt.Errorf("aws %s: stdout %q: %w", cliName(op), s, err)
			}
		}
		return a, nil
	}
	if _, ok := err.(*exec.ExitError); !ok || ctx.Err() != nil {
		return clientAnswer{}, fmt.Errorf("aws %s: %v", cliName(op), err)
	}
	c.mu.Lock()
	c.err.WriteString(errOut.String())
	c.mu.Unlock()
	m := cliErrorLine.FindStringSubmatch(errOut.String())
	if m == nil {
		return clientAnswer{}, fmt.Errorf("aws %s: %v without a service error: %s", cliName(op), err, strings.TrimSpace(errOut.String()))
	}
	if m[2] != op {
		return clientAnswer{}, fmt.Errorf("aws %s reported an error of operation %s", cliName(op), m[2])
	}
	return clientAnswer{Err: &clientError{Code: m[1], Message: strings.TrimSpace(m[3])}}, nil
}

func (c *cliClient) diag() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err.String()
}

// cliName turns an API name into the CLI's: CloudHsmClusterId → cloud-hsm-cluster-id.
func cliName(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 && (unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1]) ||
			i+1 < len(r) && unicode.IsLower(r[i+1]) && unicode.IsUpper(r[i-1])) {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// clientEnv is the environment every client runs with: the caller's,
// without any AWS_ variable (a developer's profile, region or endpoint must
// not leak in), plus the fake credentials, the Region, the emulator as the
// KMS endpoint (AWS_ENDPOINT_URL_KMS, as serve tells users), one attempt per
// call so an error is the answer and not a retry, and a config file of our
// own (no URL following for CLI v1 parameters, no pager for CLI v2).
func clientEnv(t *testing.T, endpoint string) []string {
	t.Helper()
	dir := t.TempDir()
	config, creds := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	if err := os.WriteFile(config, []byte("[default]\nregion = us-east-1\ncli_follow_urlparam = false\ncli_pager =\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(creds, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_ENDPOINT_URL_KMS="+endpoint,
		"AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard",
		"AWS_CONFIG_FILE="+config, "AWS_SHARED_CREDENTIALS_FILE="+creds,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
	)
}

// clientsCLI is the kmsconform command, built without the race detector into
// the test's own directory (make test builds the tests with it; serve and the
// proxy are what a user starts, not what this test checks). Without a Go
// toolchain it is the test binary itself (see TestMain).
func clientsCLI(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		return os.Args[0]
	}
	out := filepath.Join(t.TempDir(), "kmsconform")
	if b, err := exec.Command(goBin, "build", "-o", out, ".").CombinedOutput(); err != nil {
		t.Logf("building the CLI without -race: %v: %s (using the test binary)", err, b)
		return os.Args[0]
	}
	return out
}

// startClientsProcess starts bin in the background and returns its log
// (stderr); the test's cleanup stops it by its PID. Its stdout is dropped:
// the banners of serve and xks-proxy show secrets, their logs never do.
func startClientsProcess(t *testing.T, bin string, args ...string) *lockedBuffer {
	t.Helper()
	return startClientsProcessEnv(t, nil, bin, args...)
}

// startClientsProcessEnv is startClientsProcess with env added to the
// process's environment (a later value wins).
func startClientsProcessEnv(t *testing.T, env []string, bin string, args ...string) *lockedBuffer {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "KMSCONFORM_TEST_AS_CLI=1"), env...)
	out := &lockedBuffer{}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return out
}

// clientsControl makes one control-plane request to serve, signed with the
// clients' credential (serve runs with -verify-sigv4), and fails the test
// unless it answers 200.
func clientsControl(t *testing.T, method, url string, body any) {
	t.Helper()
	if st, msg := controlDo(t, method, url, body, "test", "test"); st != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, url, st, msg)
	}
}

// clientTime reads a timestamp as a client shows it: an ISO 8601 string
// (the SDKs, CLI v2) or the seconds since the epoch KMS sent (CLI v1, whose
// cli_timestamp_format is "none").
func clientTime(v any) (time.Time, bool) {
	switch v := v.(type) {
	case string:
		ts, err := time.Parse(time.RFC3339Nano, v)
		return ts, err == nil
	case float64:
		return time.UnixMilli(int64(v * 1000)), v > 0
	}
	return time.Time{}, false
}

// clientField is the value at path in a client's answer, nil where absent.
func clientField(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[p]
	}
	return v
}
