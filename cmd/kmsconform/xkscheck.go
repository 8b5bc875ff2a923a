package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/reports"
	"github.com/kmsconform/kmsconform/targets"
	"github.com/kmsconform/kmsconform/xkscheck"
)

func init() {
	register("xks-check", command{
		summary: "check any XKS proxy against the XKS Proxy API spec as KMS calls it; write compat.json",
		run:     runXksCheck,
	})
}

// keyFlags is --key ID[=USAGE[,USAGE]], repeatable.
type keyFlags []xkscheck.Key

func (k *keyFlags) String() string { return "" }

func (k *keyFlags) Set(v string) error {
	id, usage, restricted := strings.Cut(v, "=")
	key := xkscheck.Key{ID: id}
	if restricted {
		key.Usage = []string{}
		for _, u := range strings.Split(usage, ",") {
			switch u = strings.TrimSpace(strings.ToUpper(u)); u {
			case "":
			case xkscheck.UsageEncrypt, xkscheck.UsageDecrypt:
				key.Usage = append(key.Usage, u)
			default:
				return fmt.Errorf("usage %q: want ENCRYPT, DECRYPT, both (ENCRYPT,DECRYPT) or none (ID=)", u)
			}
		}
	}
	*k = append(*k, key)
	return nil
}

func helpXksCheck() helpPage {
	return helpPage{
		Usage: []string{"kmsconform xks-check --endpoint https://host[:port] [--path /kms/xks/v1] --key ID[=USAGE] ... [flags]"},
		About: "xks-check checks an XKS proxy the way KMS calls it (spec §7): GetHealthStatus, GetKeyMetadata, " +
			"Encrypt and Decrypt with the request shapes KMS sends, the answers' shapes, round trips, every error " +
			"a client can provoke (authentication, validation, unknown path or key, key usage, changed ciphertexts), " +
			"TLS (versions, certificate name, expiry, chain), latency against KMS's 250 ms budget and a bounded load " +
			"phase. Each check is a cell xks/<API>/<case> of compat.json, rendered like every run; a failed check says " +
			"what KMS would conclude, from the model. Give at least one key with ENCRYPT and DECRYPT usage (--key ID); " +
			"keys of restricted usage (--key enc=ENCRYPT, --key dec=DECRYPT, --key none=) check InvalidKeyUsageException.",
		Env: []helpEntry{
			{targets.EnvXKSAccessKeyID + ", " + targets.EnvXKSSecretAccessKey, "the proxy's credential (or --credential-file); never printed"},
		},
		More: []string{"Exit status: 0 every check passed; 1 a check failed or nothing was checked; 2 a usage or setup error."},
	}
}

func runXksCheck(args []string, stdout, stderr io.Writer) int {
	var (
		endpoint, path, region, caFile, credFile, reportDir string
		rate                                                int
		duration                                            time.Duration
		keys                                                keyFlags
	)
	fs := flag.NewFlagSet("xks-check", flag.ContinueOnError)
	fs.StringVar(&endpoint, "endpoint", "", "the proxy's XksProxyUriEndpoint, https://host[:port] (required)")
	fs.StringVar(&path, "path", "/kms/xks/v1", "the XksProxyUriPath")
	fs.Var(&keys, "key", "an external key id to use, repeatable; ID=USAGE[,USAGE] gives its expected usage (ENCRYPT, DECRYPT; ID= for none)")
	fs.StringVar(&caFile, "ca", "", "a PEM file of the CA the proxy's certificate must chain to (default: the system's)")
	fs.StringVar(&credFile, "credential-file", "", `the credential in the KMS console's format {"XksProxyAuthenticationCredential":{"AccessKeyId":…,"RawSecretAccessKey":…}}`)
	fs.StringVar(&region, "region", "", "the KMS Region to sign for; when given, a signature for another Region must be refused (default us-east-1)")
	fs.StringVar(&reportDir, "report-dir", filepath.Join("reports", "out", "xks-check"), "where compat.json and its renderings are written (apart from a run's, which they would replace)")
	fs.IntVar(&rate, "rate", xkscheck.DefaultRate, fmt.Sprintf("requests per second of the load phase (at most %d; KMS allows 1,800 per store)", xkscheck.MaxRate))
	fs.DurationVar(&duration, "duration", xkscheck.DefaultDuration, fmt.Sprintf("length of the load phase (at most %s; 0 skips it)", xkscheck.MaxDuration))
	page := helpXksCheck()
	if code, done := parseFlags(fs, page, args, stdout, stderr); done {
		return code
	}
	if code, done := unexpectedArgs(fs, stderr); done {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "kmsconform xks-check: "+format+"\n", a...)
		return 2
	}
	if endpoint == "" {
		return fail("--endpoint is required (run 'kmsconform xks-check -h' for the flags)")
	}
	cred, err := xksCredential(credFile)
	if err != nil {
		return fail("%s", oneLine(err))
	}
	cfg := xkscheck.Config{Endpoint: endpoint, Path: path, Region: region, RegionGiven: region != "", Credential: cred,
		Keys: keys, Rate: rate, Duration: duration}
	if duration == 0 {
		cfg.Duration = -1
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return fail("--ca: %s", oneLine(err))
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return fail("--ca %s: no PEM certificate in it", caFile)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	res, err := xkscheck.Run(ctx, cfg)
	if err != nil {
		return fail("%s", oneLine(err))
	}
	c := &reports.Compat{Schema: reports.Schema, ModelRevision: model.Revision(), StartedAt: start.UTC(),
		DurationSeconds: time.Since(start).Seconds(), Cells: res.Cells, Scenarios: []reports.Scenario{},
		Target: reports.Target{Name: "xks-proxy " + endpoint + path, Kind: "xks-proxy", Endpoint: endpoint}, Findings: res.Findings, APICalls: res.Calls}
	c.Finish()
	if err := c.Validate(); err != nil {
		return fail("the result does not validate: %s", oneLine(err))
	}
	out := filepath.Join(reportDir, "compat.json")
	if err := c.WriteFile(out); err != nil {
		return fail("%s", oneLine(err))
	}
	fmt.Fprint(stdout, consoleSummary(c, out, nil))
	if err := writeFormats(reportDir, c, stdout, stderr); err != nil {
		return fail("%s", oneLine(err))
	}
	if ctx.Err() != nil {
		return 130
	}
	return exitFor(c, false, true, stderr)
}

// xksCredential reads the credential from the KMS console's file, else
// from the environment variables run uses.
func xksCredential(file string) (xkscheck.Credential, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return xkscheck.Credential{}, fmt.Errorf("--credential-file: %w", err)
		}
		var doc struct {
			C struct {
				AccessKeyID string `json:"AccessKeyId"`
				Secret      string `json:"RawSecretAccessKey"`
			} `json:"XksProxyAuthenticationCredential"`
		}
		// The error of a JSON decode may quote the file: not the secret's place.
		if json.Unmarshal(b, &doc) != nil || doc.C.AccessKeyID == "" || doc.C.Secret == "" {
			return xkscheck.Credential{}, fmt.Errorf("--credential-file %s: want {\"XksProxyAuthenticationCredential\":{\"AccessKeyId\":…,\"RawSecretAccessKey\":…}}", file)
		}
		return xkscheck.Credential{AccessKeyID: doc.C.AccessKeyID, SecretAccessKey: doc.C.Secret}, nil
	}
	ak, sk := os.Getenv(targets.EnvXKSAccessKeyID), os.Getenv(targets.EnvXKSSecretAccessKey)
	if ak == "" || sk == "" {
		return xkscheck.Credential{}, errors.New("no credential: give --credential-file, or $" + targets.EnvXKSAccessKeyID + " and $" + targets.EnvXKSSecretAccessKey)
	}
	return xkscheck.Credential{AccessKeyID: ak, SecretAccessKey: sk}, nil
}
