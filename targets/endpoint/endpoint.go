package endpoint

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsconform/kmsconform/targets"
)

// DefaultRegion is the region when neither the caller, ginkgo.yml nor the
// SDK's configuration names one; emulators mostly accept any.
const DefaultRegion = "us-east-1"

// Target is a KMS-compatible endpoint.
type Target struct {
	url      string
	client   *kms.Client
	timeouts targets.Timeouts
	backing  targets.Backing
}

var _ targets.Target = (*Target)(nil)

// New returns a target for the endpoint at endpointURL, else
// targets.endpoint.url of cfg, else AWS_ENDPOINT_URL_KMS; region likewise
// comes from the argument, the configuration, the SDK's (AWS_REGION, the
// profile) or DefaultRegion. cfg nil means targets.DefaultConfig. New makes
// no call to the endpoint.
//
// The result is a *Target, or, when the backing has an XksControlURL, a
// *ProxyTarget, which also implements targets.ProxyControl. That needs the
// backing's XksEndpoint and XKS credential too (the control API accepts
// requests signed by the proxy's credentials); without them New fails.
func New(ctx context.Context, cfg *targets.Config, endpointURL, region string) (targets.Target, error) {
	t, awsCfg, err := newTarget(ctx, cfg, endpointURL, region)
	if err != nil {
		return nil, err
	}
	b := t.backing
	if b.XksControlURL == "" {
		return t, nil
	}
	if b.XksEndpoint == "" || b.XksCredential.AccessKeyID == "" || b.XksCredential.Secret == "" {
		return nil, fmt.Errorf("endpoint target: %s is set, so %s, %s and %s must be too: the proxy's control API takes requests signed with its credential",
			targets.EnvXKSControlURL, targets.EnvXKSURIEndpoint, targets.EnvXKSAccessKeyID, targets.EnvXKSSecretAccessKey)
	}
	ctl := newProxyControl(b.XksControlURL, httpClient(awsCfg, t.timeouts.Call), t.client.Options().Region, b)
	return &ProxyTarget{Target: t, ctl: ctl}, nil
}

func newTarget(ctx context.Context, cfg *targets.Config, endpointURL, region string) (*Target, aws.Config, error) {
	if cfg == nil {
		cfg = targets.DefaultConfig()
	}
	ec := cfg.Endpoint
	u := endpointURL
	if u == "" {
		u = ec.URL
	}
	if u == "" {
		u = os.Getenv("AWS_ENDPOINT_URL_KMS")
	}
	if u == "" {
		return nil, aws.Config{}, fmt.Errorf("endpoint target: no endpoint: give one (--endpoint), set targets.endpoint.url in %s, or set AWS_ENDPOINT_URL_KMS", cfg.Source)
	}
	if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return nil, aws.Config{}, fmt.Errorf("endpoint target: %q is not an http:// or https:// URL", u)
	}
	if region == "" {
		region = ec.Region
	}
	var opts []func(*config.LoadOptions) error
	if ec.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(ec.Profile))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, aws.Config{}, fmt.Errorf("endpoint target: AWS configuration: %w", err)
	}
	if region == "" {
		region = awsCfg.Region
	}
	if region == "" {
		region = DefaultRegion
	}
	creds := aws.CredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", ""))
	if ec.Profile != "" || (os.Getenv("AWS_ACCESS_KEY_ID") != "" && os.Getenv("AWS_SECRET_ACCESS_KEY") != "") {
		// Resolve now, so a broken profile fails here in one line instead
		// of in the first spec.
		if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
			return nil, aws.Config{}, fmt.Errorf("endpoint target: credentials: %w", err)
		}
		creds = awsCfg.Credentials
	}
	client := kms.NewFromConfig(awsCfg, func(o *kms.Options) {
		o.BaseEndpoint = aws.String(u)
		o.Region = region
		o.Credentials = creds
		o.RetryMaxAttempts = 1
		o.HTTPClient = httpClient(awsCfg, ec.Timeouts.Call)
	})
	return &Target{url: u, client: client, timeouts: ec.Timeouts, backing: ec.Backing}, awsCfg, nil
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

func (t *Target) Name() string               { return "endpoint " + t.url }
func (t *Target) Kind() targets.Kind         { return targets.KindEndpoint }
func (t *Target) Endpoint() string           { return t.url }
func (t *Target) KMS() *kms.Client           { return t.client }
func (t *Target) Backing() targets.Backing   { return t.backing }
func (t *Target) Timeouts() targets.Timeouts { return t.timeouts }

// Close releases idle connections; the endpoint itself is not ours.
func (t *Target) Close(ctx context.Context) error {
	if c, ok := t.client.Options().HTTPClient.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	return nil
}
