package targets

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultConfigFile is the harness configuration at the repository root.
const DefaultConfigFile = "ginkgo.yml"

// Config is the harness configuration of the targets: the targets section
// of ginkgo.yml, with backing inputs overridden by KMSCONFORM_* environment
// variables (see LoadConfig). Secrets it holds (the kmsuser password, the
// XKS secret) are hidden from fmt and slog by Backing's formatting methods.
type Config struct {
	// Source is the file the configuration was read from, or would have
	// been read from when it is missing; error messages name it.
	Source   string
	Emulator EmulatorConfig
	Endpoint EndpointConfig
	AWS      AWSConfig
}

// EmulatorConfig configures the embedded emulator (targets.emulator).
type EmulatorConfig struct {
	Timeouts Timeouts
	// Transition is how long CONNECTING and DISCONNECTING last before the
	// emulator settles them by itself (transition).
	Transition time.Duration
	// XKSTimeout is the emulator's limit on one XKS proxy request
	// (xks_timeout). KMS uses 250 ms; a little more keeps a loaded machine
	// from turning a slow TLS handshake into XKS_PROXY_TIMED_OUT.
	XKSTimeout time.Duration
}

// EndpointConfig configures a KMS-compatible endpoint (targets.endpoint).
type EndpointConfig struct {
	// URL is used when no endpoint is given on the command line; without
	// either, the endpoint target falls back to AWS_ENDPOINT_URL_KMS.
	URL      string // url
	Region   string // region
	Profile  string // profile: a shared-config profile for credentials
	Timeouts Timeouts
	Backing  Backing
}

// AWSConfig configures real KMS (targets.aws).
type AWSConfig struct {
	Region  string // region
	Profile string // profile
	// EnabledAccounts is the allow-list of account ids the aws target may
	// run against (enabled_accounts). Empty refuses every account: real KMS
	// costs money and custom key stores touch real infrastructure.
	EnabledAccounts []string
	Timeouts        Timeouts
	Backing         Backing
	Limits          Limits
}

// Limits bound what one run against real KMS may use (targets.aws.limits):
// when one is reached the run stops and cleans up.
type Limits struct {
	MaxStores  int           // max_live_stores: custom key stores alive at once (KMS allows 10 per Region)
	MaxKeys    int           // max_keys: keys created (each costs money and can only be scheduled for deletion)
	TimeBudget time.Duration // time_budget: wall time of the run, cleanup not included
}

// AccountEnabled reports whether the allow-list contains account.
func (c AWSConfig) AccountEnabled(account string) bool {
	for _, a := range c.EnabledAccounts {
		if a == account {
			return true
		}
	}
	return false
}

// TimeoutsFor returns the timeouts configured for a kind of target, and
// false for an unknown kind.
func (c *Config) TimeoutsFor(k Kind) (Timeouts, bool) {
	switch k {
	case KindEmulator:
		return c.Emulator.Timeouts, true
	case KindEndpoint:
		return c.Endpoint.Timeouts, true
	case KindAWS:
		return c.AWS.Timeouts, true
	}
	return Timeouts{}, false
}

// DefaultConfig is the configuration when ginkgo.yml is missing: the
// values the committed ginkgo.yml documents.
func DefaultConfig() *Config {
	return &Config{
		Source: DefaultConfigFile,
		Emulator: EmulatorConfig{
			Timeouts:   Timeouts{Connect: 5 * time.Second, Disconnect: 5 * time.Second, Poll: 5 * time.Millisecond, Settle: 3 * time.Millisecond, Call: 10 * time.Second},
			Transition: 20 * time.Millisecond,
			XKSTimeout: time.Second,
		},
		Endpoint: EndpointConfig{
			Timeouts: Timeouts{Connect: 60 * time.Second, Disconnect: 60 * time.Second, Poll: 250 * time.Millisecond, Settle: time.Second, Call: 30 * time.Second},
		},
		AWS: AWSConfig{
			EnabledAccounts: []string{},
			// CloudHSM connects take up to 20 minutes, XKS ones about 5
			// (spec §4.3); disconnect times are undocumented.
			Timeouts: Timeouts{Connect: 25 * time.Minute, Disconnect: 25 * time.Minute, Poll: 10 * time.Second, Settle: 30 * time.Second, Call: time.Minute},
			// The planned walks of both store types keep one store per
			// type alive at a time, create 4 keys and take under 5 hours
			// in the worst case (kmsconform plan --target aws).
			Limits: Limits{MaxStores: 4, MaxKeys: 6, TimeBudget: 12 * time.Hour},
		},
	}
}

// The environment variables that override backing inputs, for both the
// endpoint and the aws target. Secrets belong here rather than in a file
// that may be committed.
const (
	EnvCloudHSMClusterID       = "KMSCONFORM_CLOUDHSM_CLUSTER_ID"
	EnvCloudHSMTrustAnchor     = "KMSCONFORM_CLOUDHSM_TRUST_ANCHOR" // the PEM itself
	EnvCloudHSMTrustAnchorFile = "KMSCONFORM_CLOUDHSM_TRUST_ANCHOR_FILE"
	EnvCloudHSMKmsuserPassword = "KMSCONFORM_CLOUDHSM_KMSUSER_PASSWORD"
	EnvXKSURIEndpoint          = "KMSCONFORM_XKS_URI_ENDPOINT"
	EnvXKSURIPath              = "KMSCONFORM_XKS_URI_PATH"
	EnvXKSAccessKeyID          = "KMSCONFORM_XKS_ACCESS_KEY_ID"
	EnvXKSSecretAccessKey      = "KMSCONFORM_XKS_SECRET_ACCESS_KEY"
	EnvXKSVpcEndpointService   = "KMSCONFORM_XKS_VPC_ENDPOINT_SERVICE_NAME"
	// EnvXKSControlURL is the control API of the XKS proxy at
	// KMSCONFORM_XKS_URI_ENDPOINT when that proxy is a `kmsconform
	// xks-proxy` (its --control-addr, e.g. http://127.0.0.1:8444): with it
	// the endpoint target can break and mend the proxy.
	EnvXKSControlURL = "KMSCONFORM_XKS_CONTROL_URL"
	// EnvXKSKeyID names external keys the proxy holds (AES-256, encrypt
	// and decrypt), comma-separated: the first backs the run's keys, the
	// second the cells that need another.
	EnvXKSKeyID = "KMSCONFORM_XKS_KEY_ID"
)

// The file's shape. Only the targets section is ours; other top-level
// sections of ginkgo.yml belong to other parts of the harness and are
// ignored here. Inside targets every key is checked, so a typo fails
// loudly instead of silently keeping a default.
type fileConfig struct {
	Targets fileTargets `yaml:"targets"`
}

type fileTargets struct {
	Emulator fileEmulator `yaml:"emulator"`
	Endpoint fileEndpoint `yaml:"endpoint"`
	AWS      fileAWS      `yaml:"aws"`
}

type fileTimeouts struct {
	Connect    time.Duration `yaml:"connect"`
	Disconnect time.Duration `yaml:"disconnect"`
	Poll       time.Duration `yaml:"poll"`
	Settle     time.Duration `yaml:"settle"`
	Call       time.Duration `yaml:"call"`
}

// fileBacking's keys are the environment variables' names without the
// KMSCONFORM_ prefix, in lower case.
type fileBacking struct {
	ClusterID       string `yaml:"cloudhsm_cluster_id"`
	TrustAnchor     string `yaml:"cloudhsm_trust_anchor"`
	TrustAnchorFile string `yaml:"cloudhsm_trust_anchor_file"`
	KmsuserPassword string `yaml:"cloudhsm_kmsuser_password"`
	XksEndpoint     string `yaml:"xks_uri_endpoint"`
	XksPath         string `yaml:"xks_uri_path"`
	XksAccessKeyID  string `yaml:"xks_access_key_id"`
	XksSecret       string `yaml:"xks_secret_access_key"`
	XksVpcService   string `yaml:"xks_vpc_endpoint_service_name"`
	XksControlURL   string `yaml:"xks_control_url"`
	XksKeyID        string `yaml:"xks_key_id"`
}

type fileEmulator struct {
	Timeouts   fileTimeouts  `yaml:"timeouts"`
	Transition time.Duration `yaml:"transition"`
	XKSTimeout time.Duration `yaml:"xks_timeout"`
}

type fileEndpoint struct {
	URL      string       `yaml:"url"`
	Region   string       `yaml:"region"`
	Profile  string       `yaml:"profile"`
	Timeouts fileTimeouts `yaml:"timeouts"`
	Backing  fileBacking  `yaml:"backing"`
}

type fileAWS struct {
	Region          string       `yaml:"region"`
	Profile         string       `yaml:"profile"`
	EnabledAccounts []string     `yaml:"enabled_accounts"`
	Timeouts        fileTimeouts `yaml:"timeouts"`
	Backing         fileBacking  `yaml:"backing"`
	Limits          fileLimits   `yaml:"limits"`
}

type fileLimits struct {
	MaxStores  int           `yaml:"max_live_stores"`
	MaxKeys    int           `yaml:"max_keys"`
	TimeBudget time.Duration `yaml:"time_budget"`
}

// LoadConfig reads the targets section of the harness configuration at
// path. A missing file yields DefaultConfig. Backing inputs are then
// overridden by the KMSCONFORM_* environment variables (Env* constants;
// an empty variable counts as unset). Errors are one line naming the file
// and the key, and never quote a secret.
func LoadConfig(path string) (*Config, error) {
	def := DefaultConfig()
	def.Source = path
	f := toFile(def)
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("%s: %w", path, err)
	default:
		var doc yaml.Node
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("%s: %s", path, oneLine(err.Error()))
		}
		if err := decodeTop(&doc, &f); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	cfg, err := fromFile(path, &f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

func toFile(c *Config) fileConfig {
	t := func(t Timeouts) fileTimeouts { return fileTimeouts(t) }
	return fileConfig{Targets: fileTargets{
		Emulator: fileEmulator{Timeouts: t(c.Emulator.Timeouts), Transition: c.Emulator.Transition, XKSTimeout: c.Emulator.XKSTimeout},
		Endpoint: fileEndpoint{URL: c.Endpoint.URL, Region: c.Endpoint.Region, Profile: c.Endpoint.Profile, Timeouts: t(c.Endpoint.Timeouts)},
		AWS: fileAWS{Region: c.AWS.Region, Profile: c.AWS.Profile, EnabledAccounts: c.AWS.EnabledAccounts, Timeouts: t(c.AWS.Timeouts),
			Limits: fileLimits(c.AWS.Limits)},
	}}
}

var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)

// fromFile validates the decoded file, applies the environment and builds
// the Config. Errors start with the key they are about.
func fromFile(path string, f *fileConfig) (*Config, error) {
	t := &f.Targets
	checks := []struct {
		key string
		t   fileTimeouts
	}{{"targets.emulator.timeouts", t.Emulator.Timeouts}, {"targets.endpoint.timeouts", t.Endpoint.Timeouts}, {"targets.aws.timeouts", t.AWS.Timeouts}}
	for _, c := range checks {
		for _, d := range []struct {
			name string
			v    time.Duration
		}{{"connect", c.t.Connect}, {"disconnect", c.t.Disconnect}, {"poll", c.t.Poll}, {"settle", c.t.Settle}, {"call", c.t.Call}} {
			if d.v <= 0 {
				return nil, fmt.Errorf("%s.%s: must be positive, got %s", c.key, d.name, d.v)
			}
		}
	}
	if t.Emulator.Transition < 0 {
		return nil, fmt.Errorf("targets.emulator.transition: must not be negative, got %s", t.Emulator.Transition)
	}
	if t.Emulator.XKSTimeout <= 0 {
		return nil, fmt.Errorf("targets.emulator.xks_timeout: must be positive, got %s", t.Emulator.XKSTimeout)
	}
	if u := t.Endpoint.URL; u != "" {
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("targets.endpoint.url: %w", err)
		}
	}
	for i, a := range t.AWS.EnabledAccounts {
		if !accountPattern.MatchString(a) {
			return nil, fmt.Errorf("targets.aws.enabled_accounts[%d]: %q is not a 12-digit account id", i, a)
		}
	}
	if l := t.AWS.Limits; l.MaxStores <= 0 || l.MaxKeys < 0 || l.TimeBudget <= 0 {
		return nil, fmt.Errorf("targets.aws.limits: max_live_stores and time_budget must be positive and max_keys not negative, got %d, %s and %d", l.MaxStores, l.TimeBudget, l.MaxKeys)
	}
	dir := filepath.Dir(path)
	endpointBacking, err := backingFrom("targets.endpoint.backing", dir, t.Endpoint.Backing)
	if err != nil {
		return nil, err
	}
	awsBacking, err := backingFrom("targets.aws.backing", dir, t.AWS.Backing)
	if err != nil {
		return nil, err
	}
	return &Config{
		Source: path,
		Emulator: EmulatorConfig{
			Timeouts:   Timeouts(t.Emulator.Timeouts),
			Transition: t.Emulator.Transition,
			XKSTimeout: t.Emulator.XKSTimeout,
		},
		Endpoint: EndpointConfig{URL: t.Endpoint.URL, Region: t.Endpoint.Region, Profile: t.Endpoint.Profile,
			Timeouts: Timeouts(t.Endpoint.Timeouts), Backing: endpointBacking},
		AWS: AWSConfig{Region: t.AWS.Region, Profile: t.AWS.Profile, EnabledAccounts: append([]string{}, t.AWS.EnabledAccounts...),
			Timeouts: Timeouts(t.AWS.Timeouts), Backing: awsBacking, Limits: Limits(t.AWS.Limits)},
	}, nil
}

// checkURL accepts an absolute http or https URL.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL", s)
	}
	return nil
}

// backingFrom applies the environment to one backing section, reads the
// trust anchor file (relative to the configuration's directory) and
// builds the Backing.
func backingFrom(key, dir string, fb fileBacking) (Backing, error) {
	if fb.TrustAnchor != "" && fb.TrustAnchorFile != "" {
		return Backing{}, fmt.Errorf("%s: set cloudhsm_trust_anchor or cloudhsm_trust_anchor_file, not both", key)
	}
	anchorFrom, anchorFile := key+".cloudhsm_trust_anchor_file", fb.TrustAnchorFile
	if anchorFile != "" && !filepath.IsAbs(anchorFile) {
		anchorFile = filepath.Join(dir, anchorFile)
	}
	env := func(name string, dst *string) {
		if v := os.Getenv(name); v != "" {
			*dst = v
		}
	}
	envAnchor, envAnchorFile := os.Getenv(EnvCloudHSMTrustAnchor), os.Getenv(EnvCloudHSMTrustAnchorFile)
	switch {
	case envAnchor != "" && envAnchorFile != "":
		return Backing{}, fmt.Errorf("%s and %s are both set; set one", EnvCloudHSMTrustAnchor, EnvCloudHSMTrustAnchorFile)
	case envAnchor != "":
		fb.TrustAnchor, anchorFile = envAnchor, ""
		anchorFrom = EnvCloudHSMTrustAnchor
	case envAnchorFile != "":
		fb.TrustAnchor, anchorFile, anchorFrom = "", envAnchorFile, EnvCloudHSMTrustAnchorFile
	case fb.TrustAnchor != "":
		anchorFrom = key + ".cloudhsm_trust_anchor"
	}
	if anchorFile != "" {
		b, err := os.ReadFile(anchorFile)
		if err != nil {
			return Backing{}, fmt.Errorf("%s: %w", anchorFrom, err)
		}
		fb.TrustAnchor = string(b)
	}
	if fb.TrustAnchor != "" {
		if blk, _ := pem.Decode([]byte(fb.TrustAnchor)); blk == nil || blk.Type != "CERTIFICATE" {
			return Backing{}, fmt.Errorf("%s: not a PEM certificate", anchorFrom)
		}
	}
	env(EnvCloudHSMClusterID, &fb.ClusterID)
	env(EnvCloudHSMKmsuserPassword, &fb.KmsuserPassword)
	env(EnvXKSURIEndpoint, &fb.XksEndpoint)
	env(EnvXKSURIPath, &fb.XksPath)
	env(EnvXKSAccessKeyID, &fb.XksAccessKeyID)
	env(EnvXKSSecretAccessKey, &fb.XksSecret)
	env(EnvXKSVpcEndpointService, &fb.XksVpcService)
	env(EnvXKSKeyID, &fb.XksKeyID)
	var keyIDs []string
	for _, k := range strings.Split(fb.XksKeyID, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keyIDs = append(keyIDs, k)
		}
	}
	controlFrom := key + ".xks_control_url"
	if v := os.Getenv(EnvXKSControlURL); v != "" {
		fb.XksControlURL, controlFrom = v, EnvXKSControlURL
	}
	if fb.XksControlURL != "" {
		if err := checkURL(fb.XksControlURL); err != nil {
			return Backing{}, fmt.Errorf("%s: %w", controlFrom, err)
		}
	}
	second, err := secondBacking()
	if err != nil {
		return Backing{}, err
	}
	return Backing{
		Second:          second,
		ClusterID:       fb.ClusterID,
		TrustAnchor:     fb.TrustAnchor,
		KmsuserPassword: fb.KmsuserPassword,
		XksEndpoint:     fb.XksEndpoint,
		XksPath:         fb.XksPath,
		XksCredential:   Credential{AccessKeyID: fb.XksAccessKeyID, Secret: fb.XksSecret},
		XksVpcService:   fb.XksVpcService,
		XksControlURL:   fb.XksControlURL,
		XksKeyIDs:       keyIDs,
	}, nil
}

// SecondSuffix ends the environment variables of a second cluster and a
// second proxy (KMSCONFORM_CLOUDHSM_CLUSTER_ID_2, …): cells that need a
// store on other backing than the subject's (a fresh create while the
// subject store stands in some state) use them.
const SecondSuffix = "_2"

// secondBacking reads the second backing from the environment (nil when
// none of its variables is set).
func secondBacking() (*Backing, error) {
	get := func(name string) string { return os.Getenv(name + SecondSuffix) }
	b := Backing{
		ClusterID:       get(EnvCloudHSMClusterID),
		TrustAnchor:     get(EnvCloudHSMTrustAnchor),
		KmsuserPassword: get(EnvCloudHSMKmsuserPassword),
		XksEndpoint:     get(EnvXKSURIEndpoint),
		XksPath:         get(EnvXKSURIPath),
		XksCredential:   Credential{AccessKeyID: get(EnvXKSAccessKeyID), Secret: get(EnvXKSSecretAccessKey)},
	}
	if f := get(EnvCloudHSMTrustAnchorFile); f != "" {
		if b.TrustAnchor != "" {
			return nil, fmt.Errorf("%s and %s are both set; set one", EnvCloudHSMTrustAnchor+SecondSuffix, EnvCloudHSMTrustAnchorFile+SecondSuffix)
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvCloudHSMTrustAnchorFile+SecondSuffix, err)
		}
		b.TrustAnchor = string(raw)
	}
	if b.TrustAnchor != "" {
		if blk, _ := pem.Decode([]byte(b.TrustAnchor)); blk == nil || blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: not a PEM certificate", EnvCloudHSMTrustAnchor+SecondSuffix)
		}
	}
	if b.ClusterID == "" && b.TrustAnchor == "" && b.KmsuserPassword == "" && b.XksEndpoint == "" && b.XksPath == "" &&
		b.XksCredential == (Credential{}) {
		return nil, nil
	}
	return &b, nil
}

// decodeTop decodes the targets section of a document over f, which holds
// the defaults: keys that are absent or null keep them.
func decodeTop(doc *yaml.Node, f *fileConfig) error {
	n := doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil // an empty file
		}
		n = n.Content[0]
	}
	if n.Kind == 0 || isNull(n) {
		return nil // an empty file
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("the top level must be a mapping, got %s", kindName(n))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "targets" {
			return decodeNode("targets", n.Content[i+1], reflect.ValueOf(&f.Targets).Elem())
		}
	}
	return nil
}

var durationType = reflect.TypeFor[time.Duration]()

// decodeNode decodes n into v, naming path in errors. It is a small strict
// decoder rather than yaml's own so that every error names its key and
// durations fail with time's message.
func decodeNode(path string, n *yaml.Node, v reflect.Value) error {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if isNull(n) {
		return nil
	}
	switch {
	case v.Type() == durationType:
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("%s: want a duration such as \"30s\", got %s", path, kindName(n))
		}
		d, err := time.ParseDuration(n.Value)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("%s: want a string, got %s", path, kindName(n))
		}
		v.SetString(n.Value)
	case v.Kind() == reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			return fmt.Errorf("%s: want a whole number, got %s", path, kindName(n))
		}
		v.SetInt(int64(i))
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("%s: want a list, got %s", path, kindName(n))
		}
		out := make([]string, 0, len(n.Content))
		for i, e := range n.Content {
			for e.Kind == yaml.AliasNode {
				e = e.Alias
			}
			if e.Kind != yaml.ScalarNode || isNull(e) {
				return fmt.Errorf("%s[%d]: want a string, got %s", path, i, kindName(e))
			}
			out = append(out, e.Value)
		}
		v.Set(reflect.ValueOf(out))
	case v.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: want a mapping, got %s", path, kindName(n))
		}
		fields := map[string]int{}
		for i := range v.NumField() {
			if tag := v.Type().Field(i).Tag.Get("yaml"); tag != "" {
				fields[tag] = i
			}
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			idx, ok := fields[key]
			if !ok {
				known := make([]string, 0, len(fields))
				for k := range fields {
					known = append(known, k)
				}
				sort.Strings(known)
				return fmt.Errorf("%s.%s: unknown key (known: %s)", path, key, strings.Join(known, ", "))
			}
			if seen[key] {
				return fmt.Errorf("%s.%s: duplicate key", path, key)
			}
			seen[key] = true
			if err := decodeNode(path+"."+key, n.Content[i+1], v.Field(idx)); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%s: unsupported field type %s", path, v.Type())
	}
	return nil
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return "a scalar"
	}
	return "a node of kind " + strconv.Itoa(int(n.Kind))
}

// oneLine joins a multi-line parser message, so that every configuration
// error is one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Redaction. Backing, Credential and Cluster hold secrets (the kmsuser
// password, the XKS secret access key); their String, GoString, Format,
// LogValue and MarshalJSON show whether a secret is set, never its value,
// so that a %v in an error, a slog attribute or a JSON report cannot leak
// it. Formatting or marshalling a struct that contains them (a Config, a
// Proxy) goes through these methods too. Code that needs the secret reads
// the field.

func setOrUnset(s string) string {
	if s == "" {
		return "unset"
	}
	return "set"
}

// redacted replaces a set secret in JSON output.
const redacted = "<redacted>"

func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// MarshalJSON writes the credential with its secret redacted.
func (c Credential) MarshalJSON() ([]byte, error) {
	type plain Credential
	c.Secret = redact(c.Secret)
	return json.Marshal(plain(c))
}

// MarshalJSON writes the backing with its secrets redacted.
func (b Backing) MarshalJSON() ([]byte, error) {
	type plain Backing
	b.KmsuserPassword = redact(b.KmsuserPassword)
	return json.Marshal(plain(b)) // XksCredential redacts itself
}

// MarshalJSON writes the cluster with its password redacted.
func (c Cluster) MarshalJSON() ([]byte, error) {
	type plain Cluster
	c.Password = redact(c.Password)
	return json.Marshal(plain(c))
}

// String shows the access key id and whether the secret is set.
func (c Credential) String() string {
	return "Credential{" + c.AccessKeyID + ", secret " + setOrUnset(c.Secret) + "}"
}

// GoString is String, so %#v hides the secret too.
func (c Credential) GoString() string { return c.String() }

// Format makes every verb print String.
func (c Credential) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue implements slog.LogValuer without the secret.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("accessKeyId", c.AccessKeyID), slog.String("secret", setOrUnset(c.Secret)))
}

// String shows what is configured, without the kmsuser password or the XKS
// secret.
func (b Backing) String() string {
	anchor := "unset"
	if b.TrustAnchor != "" {
		anchor = "set"
	}
	second := ""
	if b.Second != nil {
		second = ", second " + b.Second.String()
	}
	return fmt.Sprintf("Backing{cluster %q, trust anchor %s, kmsuser password %s, xks %q path %q, %s, vpc service %q, xks control %q%s}",
		b.ClusterID, anchor, setOrUnset(b.KmsuserPassword), b.XksEndpoint, b.XksPath, b.XksCredential.String(), b.XksVpcService, b.XksControlURL, second)
}

// GoString is String, so %#v hides the secrets too.
func (b Backing) GoString() string { return b.String() }

// Format makes every verb print String.
func (b Backing) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(b.String())) }

// LogValue implements slog.LogValuer without the secrets.
func (b Backing) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("clusterId", b.ClusterID),
		slog.String("trustAnchor", setOrUnset(b.TrustAnchor)),
		slog.String("kmsuserPassword", setOrUnset(b.KmsuserPassword)),
		slog.String("xksEndpoint", b.XksEndpoint),
		slog.String("xksPath", b.XksPath),
		slog.Any("xksCredential", b.XksCredential),
		slog.String("xksVpcService", b.XksVpcService),
		slog.String("xksControlUrl", b.XksControlURL),
	}
	if b.Second != nil {
		attrs = append(attrs, slog.Any("second", *b.Second))
	}
	return slog.GroupValue(attrs...)
}

// String shows the cluster without its kmsuser password.
func (c Cluster) String() string {
	return fmt.Sprintf("Cluster{%s, initialized %t, %d active HSMs, network ok %t, kmsuser %q, password %s, %d failed logins, fault %q}",
		c.ID, c.Initialized, c.ActiveHSMs, c.NetworkOK, c.Kmsuser, setOrUnset(c.Password), c.FailedLogins, c.Fault)
}

// GoString is String, so %#v hides the password too.
func (c Cluster) GoString() string { return c.String() }

// Format makes every verb print String.
func (c Cluster) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue implements slog.LogValuer without the password.
func (c Cluster) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", c.ID), slog.Bool("initialized", c.Initialized), slog.Int("activeHsms", c.ActiveHSMs),
		slog.Bool("networkOk", c.NetworkOK), slog.String("kmsuser", string(c.Kmsuser)), slog.String("password", setOrUnset(c.Password)),
		slog.Int("failedLogins", c.FailedLogins), slog.String("fault", string(c.Fault)))
}
