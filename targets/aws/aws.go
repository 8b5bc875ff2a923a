package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kmsconform/kmsconform/targets"
)

// Target is real KMS in one account and Region.
type Target struct {
	account  string
	region   string
	client   *kms.Client
	timeouts targets.Timeouts
	backing  targets.Backing
	guard    *Guard
}

var _ targets.Target = (*Target)(nil)

// NotConfirmedError is the refusal of a run started without
// --confirm-account, or with another account than STS reports.
type NotConfirmedError struct {
	Account string // "" when no call was made
}

func (e *NotConfirmedError) Error() string {
	if e.Account == "" {
		return "aws target: real KMS needs --confirm-account <the sandbox account id>: the run creates custom key stores and keys, which cost money"
	}
	return "aws target: the credentials belong to account " + e.Account + ", not the one --confirm-account names"
}

// NotEnabledError is the refusal of an account that is not in
// targets.aws.enabled_accounts.
type NotEnabledError struct {
	Account string
	Source  string // the configuration file
}

func (e *NotEnabledError) Error() string {
	return "account " + e.Account + " is not in targets.aws.enabled_accounts of " + e.Source
}

// New returns a target for real KMS through the SDK's default credential
// chain (with targets.aws.profile, if set) in region, else
// targets.aws.region, else the SDK's Region. Without confirmAccount (the
// --confirm-account flag) it returns a *NotConfirmedError and makes no
// call at all. Then it calls STS GetCallerIdentity and returns a
// *NotEnabledError or a *NotConfirmedError, having made no other call,
// unless cfg enables the caller's account and it is confirmAccount. cfg
// nil means targets.DefaultConfig, which enables none.
//
// The target's KMS client carries a Guard (targets.aws.limits, the
// "kmsconform-" prefix until SetPrefix narrows it): see Guard.
func New(ctx context.Context, cfg *targets.Config, region, confirmAccount string) (*Target, error) {
	return open(ctx, cfg, region, confirmAccount, nil)
}

// OpenLedger returns a target to finish the cleanup of the run whose
// ledger is at path (`kmsconform cleanup --ledger`): in the ledger's
// Region, through the same checks as New with the ledger's account as the
// confirmed one (the credentials must be that account's, and it must be
// enabled in cfg), and against the endpoint the run used. Its guard holds
// the ledger's resources, writes the ledger back as it cleans, and
// creates nothing.
func OpenLedger(ctx context.Context, cfg *targets.Config, path string) (*Target, *Ledger, error) {
	l, err := ReadLedger(path)
	if err != nil {
		return nil, nil, err
	}
	t, err := open(ctx, cfg, l.Region, l.Account, l)
	if err != nil {
		return nil, nil, err
	}
	if got := redactURL(t.Endpoint()); got != l.Endpoint {
		_ = t.Close(ctx)
		show := func(e string) string {
			if e == "" {
				return "KMS's own"
			}
			return e
		}
		return nil, nil, fmt.Errorf("aws target: the ledger's run used endpoint %s, and this configuration points at %s", show(l.Endpoint), show(got))
	}
	t.guard.mu.Lock()
	t.guard.ledgerPath = path
	t.guard.mu.Unlock()
	return t, l, nil
}

func open(ctx context.Context, cfg *targets.Config, region, confirmAccount string, ledger *Ledger) (*Target, error) {
	if confirmAccount == "" {
		return nil, &NotConfirmedError{}
	}
	if cfg == nil {
		cfg = targets.DefaultConfig()
	}
	ac := cfg.AWS
	if region == "" {
		region = ac.Region
	}
	var opts []func(*config.LoadOptions) error
	if ac.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(ac.Profile))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws target: AWS configuration: %w", err)
	}
	if region == "" {
		region = awsCfg.Region
	}
	if region == "" {
		return nil, fmt.Errorf("aws target: no Region: give one (--region), set targets.aws.region in %s, or set AWS_REGION", cfg.Source)
	}
	hc := httpClient(awsCfg, ac.Timeouts.Call)
	id, err := sts.NewFromConfig(awsCfg, func(o *sts.Options) {
		o.Region = region
		o.HTTPClient = hc
	}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("aws target: STS GetCallerIdentity: %w", err)
	}
	account := aws.ToString(id.Account)
	if !ac.AccountEnabled(account) {
		return nil, &NotEnabledError{Account: account, Source: cfg.Source}
	}
	if account != confirmAccount {
		return nil, &NotConfirmedError{Account: account}
	}
	guard := NewGuard(ac.Limits, "kmsconform-", nil)
	if ledger != nil {
		guard.Restore(ledger)
	}
	client := kms.NewFromConfig(awsCfg, func(o *kms.Options) {
		o.Region = region
		o.RetryMaxAttempts = 1
		o.HTTPClient = hc
		guard.Install(o)
	})
	guard.Attach(client)
	return &Target{account: account, region: region, client: client, timeouts: ac.Timeouts, backing: ac.Backing, guard: guard}, nil
}

// httpClient is the SDK configuration's HTTP client with a timeout per
// call, frozen into an *http.Client. It keeps what LoadDefaultConfig built
// into it (AWS_CA_BUNDLE's roots), which a new http.Client would drop; it
// goes on the service options because config.WithHTTPClient fails when
// AWS_CA_BUNDLE is set.
func httpClient(cfg aws.Config, timeout time.Duration) aws.HTTPClient {
	b, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		b = awshttp.NewBuildableClient()
	}
	return b.WithTimeout(timeout).Freeze()
}

// Name is "aws <account> <region>".
func (t *Target) Name() string       { return "aws " + t.account + " " + t.region }
func (t *Target) Kind() targets.Kind { return targets.KindAWS }

// Endpoint is "" for KMS's own endpoint, or the endpoint the SDK's
// configuration (AWS_ENDPOINT_URL_KMS) points the client at.
func (t *Target) Endpoint() string           { return aws.ToString(t.client.Options().BaseEndpoint) }
func (t *Target) KMS() *kms.Client           { return t.client }
func (t *Target) Backing() targets.Backing   { return t.backing }
func (t *Target) Timeouts() targets.Timeouts { return t.timeouts }

// Guard is the guard in the target's KMS client.
func (t *Target) Guard() *Guard { return t.guard }

// Account is the account id STS reported.
func (t *Target) Account() string { return t.account }

// CleansUpAfterRun: the guard removes what the run created, from its
// ledger (see Guard.Guarded).
func (t *Target) CleansUpAfterRun() bool { return true }

// RunGuarded runs fn inside the guard's Guarded with the run's prefix,
// waiting for the cleanup's transitions as the target's timeouts allow,
// on StopSignals of this process (see RunGuardedOn).
func (t *Target) RunGuarded(ctx context.Context, prefix string, w io.Writer, dir string, fn func(context.Context) error) (bool, error) {
	return t.RunGuardedOn(ctx, nil, prefix, w, dir, fn)
}

// RunGuardedOn is RunGuarded on the signals of sigs (nil: StopSignals of
// this process), for a runner that relays signals itself. With a dir the
// guard keeps its ledger in dir/ledger.json from before the first call
// (the run does not start without it) and says so on w; the leftovers go
// to dir/cleanup.json.
func (t *Target) RunGuardedOn(ctx context.Context, sigs <-chan os.Signal, prefix string, w io.Writer, dir string, fn func(context.Context) error) (bool, error) {
	t.guard.SetPrefix(prefix)
	if dir != "" {
		path := filepath.Join(dir, LedgerFileName)
		kept, err := t.guard.StartLedger(path, LedgerMeta{Account: t.account, Region: t.region, Endpoint: t.Endpoint()})
		if kept != "" {
			fmt.Fprintf(w, "kmsconform: an earlier run's ledger still lists resources to clean up: kept as %s (kmsconform cleanup --ledger %s)\n", kept, kept)
		}
		if err != nil {
			return false, err
		}
		fmt.Fprintf(w, "kmsconform: the run's ledger is %s (after a crash: kmsconform cleanup --ledger %s)\n", path, path)
	}
	_, err := t.guard.Guarded(ctx, sigs, w, dir, t.timeouts.Poll, max(t.timeouts.Connect, t.timeouts.Disconnect), fn)
	return errors.Is(err, ErrForced), err
}

// NormalizeRecording is the package's NormalizeRecording for this
// target's account, scrubbing the backing's secrets and the caller's
// (AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
func (t *Target) NormalizeRecording(compat []byte) ([]byte, error) {
	b := t.backing
	return NormalizeRecording(compat, t.account, []string{b.KmsuserPassword, b.XksCredential.Secret, os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")})
}

var (
	_ targets.SelfCleaning = (*Target)(nil)
	_ targets.Guarded      = (*Target)(nil)
	_ targets.Recorded     = (*Target)(nil)
)

// Close releases idle connections.
func (t *Target) Close(ctx context.Context) error {
	if c, ok := t.client.Options().HTTPClient.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	return nil
}
