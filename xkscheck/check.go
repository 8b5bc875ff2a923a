package xkscheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/reports"
)

// The XKS APIs, as cell operations.
const (
	APIHealth   = "GetHealthStatus"
	APIMetadata = "GetKeyMetadata"
	APIEncrypt  = "Encrypt"
	APIDecrypt  = "Decrypt"
	APITLS      = "TLS"
	APILoad     = "Load"
)

// StoreType and State of every cell: a check is of the proxy behind an
// external key store, not of a store in a connection state.
const (
	StoreType = "EXTERNAL_KEY_STORE"
	State     = "PROXY"
)

// Usages KMS needs of an external key.
const (
	UsageEncrypt = "ENCRYPT"
	UsageDecrypt = "DECRYPT"
)

// Key is an external key to check, with the usage the proxy should give
// it. A nil Usage is ENCRYPT and DECRYPT, the usage KMS needs.
type Key struct {
	ID    string
	Usage []string
}

func (k Key) can(u string) bool { return k.Usage == nil || slices.Contains(k.Usage, u) }
func (k Key) full() bool        { return k.can(UsageEncrypt) && k.can(UsageDecrypt) }

// Load bounds: KMS allows 1,800 requests per second per store; the check
// stays well below, and never runs unbounded.
const (
	DefaultRate     = 50
	DefaultDuration = 5 * time.Second
	MaxRate         = 1000
	MaxDuration     = 60 * time.Second
)

// Config says which proxy to check, and how.
type Config struct {
	// Endpoint is https://host[:port]; Path the XksProxyUriPath.
	Endpoint, Path string
	// Region signs the requests; RegionGiven says the user chose it, so
	// that a signature for another Region must be refused.
	Region      string
	RegionGiven bool
	Credential  Credential
	// RootCAs verifies the proxy's certificate; nil: the system's.
	RootCAs *x509.CertPool
	Keys    []Key
	// Rate (per second) and Duration of the load phase; zero: the
	// defaults; Duration < 0 skips it.
	Rate     int
	Duration time.Duration
	// APIs, if set, limits the checks to these APIs (APIHealth, APITLS, …).
	APIs []string
}

func (c Config) wants(api string) bool { return len(c.APIs) == 0 || slices.Contains(c.APIs, api) }

func (c Config) validate() error {
	u, err := url.Parse(c.Endpoint)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || (u.Path != "" && u.Path != "/") || u.RawQuery != "":
		return fmt.Errorf("endpoint %q: want https://host[:port]", c.Endpoint)
	case !strings.HasPrefix(c.Path, "/") || strings.HasSuffix(c.Path, "/"):
		return fmt.Errorf("path %q: want /[prefix/]kms/xks/v1", c.Path)
	case c.Credential.AccessKeyID == "" || c.Credential.SecretAccessKey == "":
		return errors.New("no credential: an access key id and a secret are required")
	case c.Rate < 0 || c.Rate > MaxRate:
		return fmt.Errorf("rate %d: want 1 to %d per second", c.Rate, MaxRate)
	case c.Duration > MaxDuration:
		return fmt.Errorf("duration %s: at most %s", c.Duration, MaxDuration)
	}
	for _, k := range c.Keys {
		if k.ID == "" || len(k.ID) > 128 || strings.Trim(k.ID, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != "" {
			return fmt.Errorf("key %q: external key ids are 1-128 characters of [A-Za-z0-9._-]", k.ID)
		}
	}
	return nil
}

// Result is a check's outcome: one cell per check, and the figures.
type Result struct {
	Cells    []reports.Cell
	Findings []string
	// Calls counts the requests sent to the proxy's API (TLS handshakes
	// of the TLS checks are not requests).
	Calls int
}

// checker runs the checks of one proxy.
type checker struct {
	cfg    Config
	c      *client
	cells  []reports.Cell
	finds  []string
	conseq map[Condition]string
}

// Run checks the proxy cfg names. The error is a configuration mistake;
// everything the proxy does is in the cells.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Duration == 0 {
		cfg.Duration = DefaultDuration
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.Endpoint = strings.TrimSuffix(cfg.Endpoint, "/")
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	defer tr.CloseIdleConnections()
	k := &checker{cfg: cfg, c: &client{endpoint: cfg.Endpoint, path: cfg.Path, region: cfg.Region, cred: cfg.Credential,
		hc: &http.Client{Transport: tr}}, conseq: map[Condition]string{}}
	if cfg.wants(APITLS) {
		k.tlsChecks(ctx)
	}
	if cfg.wants(APIHealth) {
		k.healthChecks(ctx)
	}
	main, ok := k.mainKey()
	if ok {
		if cfg.wants(APIMetadata) {
			k.metadataChecks(ctx, main)
		}
		if cfg.wants(APIEncrypt) || cfg.wants(APIDecrypt) {
			k.cryptoChecks(ctx, main)
		}
	} else {
		for _, api := range []string{APIMetadata, APIEncrypt, APIDecrypt} {
			k.skip(api, "happy", "§7.2", "no --key with ENCRYPT and DECRYPT usage was given")
		}
	}
	for _, key := range cfg.Keys {
		if (!key.full() || key.Usage != nil) && (cfg.wants(APIMetadata) || cfg.wants(APIEncrypt)) {
			k.usageChecks(ctx, key, main, ok)
		}
	}
	if cfg.Duration > 0 && cfg.wants(APILoad) {
		k.loadCheck(ctx, main, ok)
	}
	return &Result{Cells: k.cells, Findings: k.finds, Calls: int(k.c.calls.Load())}, nil
}

func (k *checker) mainKey() (Key, bool) {
	for _, key := range k.cfg.Keys {
		if key.full() {
			return key, true
		}
	}
	return Key{}, false
}

// ---- recording ----

// verdictOf is one check's judgement: empty failure passes.
type judgement struct {
	failure string     // what is wrong; "" passes
	cond    *Condition // what the model should conclude from; nil: message
	message string     // the consequence, when no condition says it
	verdict reports.Verdict
}

func (k *checker) consequence(c Condition) string {
	if s, ok := k.conseq[c]; ok {
		return s
	}
	s := consequenceText(c)
	k.conseq[c] = s
	return s
}

func (k *checker) record(api, name, section, prov string, expected []string, a answer, j judgement) {
	cell := reports.Cell{ID: "xks/" + api + "/" + name, StoreType: StoreType, State: State, Operation: api, Variant: name,
		Provenance: prov, Rules: []string{"xks-spec " + section}, Expected: expected, Observed: a.observed(),
		Verdict: reports.Pass, Seconds: a.latency.Seconds()}
	cell.Evidence.HTTPStatus = a.status
	if a.status == 0 && a.err == nil {
		cell.Observed = ""
	}
	if j.failure != "" {
		cell.Verdict = reports.Fail
		if j.verdict != "" {
			cell.Verdict = j.verdict
		}
		cell.Evidence.Detail = oneLine(j.failure)
		switch {
		case j.cond != nil:
			cell.Evidence.Message = k.consequence(*j.cond)
		default:
			cell.Evidence.Message = j.message
		}
	}
	k.cells = append(k.cells, cell)
}

func (k *checker) skip(api, name, section, why string) {
	k.cells = append(k.cells, reports.Cell{ID: "xks/" + api + "/" + name, StoreType: StoreType, State: State, Operation: api,
		Variant: name, Provenance: "D", Rules: []string{"xks-spec " + section}, Expected: []string{reports.SuccessName},
		Verdict: reports.Skipped, Evidence: reports.Evidence{Detail: why}})
}

func (k *checker) unreachable(api, name, section, why string) {
	k.cells = append(k.cells, reports.Cell{ID: "xks/" + api + "/" + name, StoreType: StoreType, State: State, Operation: api,
		Variant: name, Provenance: "D", Rules: []string{"xks-spec " + section}, Expected: []string{reports.SuccessName},
		Verdict: reports.Unreachable, Evidence: reports.Evidence{Detail: why}})
}

// ---- judging answers ----

// conditionOf is what an answer that should have succeeded says of the
// proxy, in the model's words (spec §7.4's rows).
func conditionOf(a answer, api string) Condition {
	if a.err != nil {
		return Condition{Fault: transportFault(a.err)}
	}
	name := a.errorName()
	switch {
	case a.status == http.StatusOK:
		if a.latency > Budget {
			return Condition{Fault: "slow"}
		}
		return Condition{Fault: "malformed"}
	case a.status == 401:
		return Condition{WrongCred: true}
	case a.status == 403:
		return Condition{Fault: "deny-all"}
	case a.status == 404 && name == "InvalidUriPathException":
		return Condition{WrongPath: true}
	case a.status == 404 && name == "KeyNotFoundException" && api != APIHealth:
		return Condition{KeyMissing: true}
	case a.status == 429:
		return Condition{Fault: "throttling"}
	case a.status == 503:
		return Condition{Fault: "dependency-timeout"}
	case a.status == 500:
		return Condition{Fault: "internal"}
	case a.status == 400 && name == "InvalidStateException" && api != APIHealth:
		return Condition{KeyStatus: "disabled", Approx: "the model's disabled external key: the §7.4 row of InvalidStateException"}
	case a.status == 400 && name == "InvalidKeyUsageException" && api != APIHealth:
		return Condition{KeyStatus: "wrong-usage"}
	case a.status == 400 && name == "ValidationException":
		return Condition{Fault: "malformed", Approx: "the model has no proxy refusing KMS's valid request as invalid; taken as an invalid response, the §7.4 row of ValidationException"}
	case a.status == 501:
		return Condition{Fault: "internal", Approx: "the model has no UnsupportedOperationException answer; taken as an internal error"}
	}
	return Condition{Fault: "malformed", Approx: fmt.Sprintf("HTTP %d %s is no answer of the §7.4 table; taken as an invalid response", a.status, name)}
}

func transportFault(err error) (f modelFault) {
	var (
		cv  *tls.CertificateVerificationError
		he  x509.HostnameError
		ua  x509.UnknownAuthorityError
		ci  x509.CertificateInvalidError
		ae  tls.AlertError
		rhe tls.RecordHeaderError
		op  *net.OpError
		ne  net.Error
	)
	switch {
	case errors.As(err, &cv), errors.As(err, &he), errors.As(err, &ua), errors.As(err, &ci), errors.As(err, &ae),
		errors.As(err, &rhe), strings.Contains(err.Error(), "tls: "):
		return "tls-invalid"
	case errors.As(err, &op) && op.Op == "dial":
		return "unreachable"
	case errors.As(err, &ne) && ne.Timeout():
		return "slow"
	}
	return "network-error"
}

// expectSuccess judges an answer that must be 200 with a JSON object
// within KMS's budget.
func expectSuccess(a answer, api string) judgement {
	if a.err != nil || a.status != http.StatusOK {
		c := conditionOf(a, api)
		return judgement{failure: "want 200, got " + a.observed(), cond: &c}
	}
	if _, err := decodeObject(a.body); err != nil {
		c := Condition{Fault: "malformed"}
		return judgement{failure: "200 with a body that is not a JSON object", cond: &c}
	}
	if a.latency > Budget {
		c := Condition{Fault: "slow"}
		return judgement{failure: fmt.Sprintf("answered in %s, past KMS's %s", a.latency.Round(time.Millisecond), Budget), cond: &c}
	}
	return judgement{}
}

// laxMessage is the consequence of a proxy that serves what it must refuse.
const (
	laxAuth       = "KMS would not notice: the proxy serves requests KMS did not sign with your credential, so anyone who reaches it can use your keys"
	laxShape      = "KMS never sends this; a proxy that accepts it is laxer than the spec and answers clients other than KMS"
	laxCiphertext = "KMS would return a plaintext for a ciphertext or context that was changed: integrity is lost"
)

// expectError judges an answer that must be the spec's error.
func expectError(a answer, api, errorName string, status int, lax string) judgement {
	if a.err == nil && a.status == status && (errorName == "" || a.errorName() == errorName) {
		return judgement{}
	}
	want := fmt.Sprintf("%s %d", errorName, status)
	if errorName == "" {
		want = fmt.Sprintf("HTTP %d", status)
	}
	if a.err == nil && a.status == http.StatusOK {
		return judgement{failure: "want " + want + ", got success", message: lax}
	}
	if a.err == nil && a.status == status {
		return judgement{failure: fmt.Sprintf("want %s, got errorName %q", want, a.errorName()),
			message: "KMS reads the error by status and errorName (§7.4); another errorName is an invalid response to it"}
	}
	c := conditionOf(a, api)
	return judgement{failure: "want " + want + ", got " + a.observed(), cond: &c}
}

func expected(errorName string, status int) []string {
	if errorName == "" {
		return []string{fmt.Sprintf("HTTP %d", status)}
	}
	return []string{fmt.Sprintf("%s %d", errorName, status)}
}

type modelFault = model.ProxyFault
