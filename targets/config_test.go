package targets

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var allEnv = []string{EnvCloudHSMClusterID, EnvCloudHSMTrustAnchor, EnvCloudHSMTrustAnchorFile, EnvCloudHSMKmsuserPassword,
	EnvXKSURIEndpoint, EnvXKSURIPath, EnvXKSAccessKeyID, EnvXKSSecretAccessKey, EnvXKSVpcEndpointService, EnvXKSControlURL, EnvXKSKeyID}

// clearEnv hides any KMSCONFORM_* variable of the machine from the test.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, name := range allEnv {
		t.Setenv(name, "")
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ginkgo.yml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var testPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not really DER, but PEM")}))

const (
	testPassword = "kmsuser-Pa55word-SECRET"
	testSecret   = "XKSSECRETxksSECRETxksSECRETxksSECRETxksSECRET0="
)

func TestLoadConfigMissingFileIsDefaults(t *testing.T) {
	clearEnv(t)
	path := filepath.Join(t.TempDir(), "nope.yml")
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Source = path
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
}

// The committed ginkgo.yml loads and shows every key, so that it documents
// every setting. (Its values may be tuned; DefaultConfig is what applies
// without it.)
func TestCommittedConfigDocumentsEveryKey(t *testing.T) {
	clearEnv(t)
	if _, err := LoadConfig("../ginkgo.yml"); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../ginkgo.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	var walk func(path string, n *yaml.Node)
	walk = func(path string, n *yaml.Node) {
		if n.Kind == yaml.DocumentNode {
			walk(path, n.Content[0])
			return
		}
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := strings.TrimPrefix(path+"."+n.Content[i].Value, ".")
			present[key] = true
			walk(key, n.Content[i+1])
		}
	}
	walk("", &doc)
	pending := map[string]bool{}
	var want func(path string, typ reflect.Type)
	want = func(path string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			key := path + "." + f.Tag.Get("yaml")
			if !present[key] && !pending[key] {
				t.Errorf("ginkgo.yml does not show %s", key)
			}
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				want(key, f.Type)
			}
		}
	}
	want("targets", reflect.TypeFor[fileTargets]())
	if to, _ := DefaultConfig().TimeoutsFor(KindAWS); to.Connect != 25*time.Minute || to.Poll != 10*time.Second {
		t.Fatalf("aws timeouts %+v", to)
	}
}

func TestLoadConfigPartialFileKeepsDefaults(t *testing.T) {
	clearEnv(t)
	path := writeConfig(t, `
guards: {whatever: 1}   # another part of the harness owns this section
targets:
  emulator:
    timeouts: {poll: 5ms}
  endpoint:
    url: http://127.0.0.1:4566
    region: eu-west-1
  aws:
    enabled_accounts: [012345678901, "111122223333"]
    timeouts:
      connect: 30m
`)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultConfig()
	if cfg.Emulator.Timeouts.Poll != 5*time.Millisecond || cfg.Emulator.Timeouts.Connect != def.Emulator.Timeouts.Connect {
		t.Fatalf("emulator timeouts %+v", cfg.Emulator.Timeouts)
	}
	if cfg.Endpoint.URL != "http://127.0.0.1:4566" || cfg.Endpoint.Region != "eu-west-1" || cfg.Endpoint.Timeouts != def.Endpoint.Timeouts {
		t.Fatalf("endpoint %+v", cfg.Endpoint)
	}
	// An unquoted id with a leading zero keeps its digits.
	if !reflect.DeepEqual(cfg.AWS.EnabledAccounts, []string{"012345678901", "111122223333"}) ||
		!cfg.AWS.AccountEnabled("012345678901") || cfg.AWS.AccountEnabled("999999999999") {
		t.Fatalf("enabled accounts %q", cfg.AWS.EnabledAccounts)
	}
	if cfg.AWS.Timeouts.Connect != 30*time.Minute || cfg.AWS.Timeouts.Poll != def.AWS.Timeouts.Poll {
		t.Fatalf("aws timeouts %+v", cfg.AWS.Timeouts)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	clearEnv(t)
	anchorFile := filepath.Join(t.TempDir(), "anchor.pem")
	if err := os.WriteFile(anchorFile, []byte(testPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, body, want string
	}{
		{"bad duration", "targets:\n  aws:\n    timeouts:\n      connect: five\n", `targets.aws.timeouts.connect: time: invalid duration "five"`},
		{"unknown key", "targets:\n  emulator:\n    timeout: {connect: 1s}\n", "targets.emulator.timeout: unknown key (known: timeouts, transition, xks_timeout)"},
		{"unknown kind", "targets:\n  moto: {}\n", "targets.moto: unknown key (known: aws, emulator, endpoint)"},
		{"not a mapping", "targets:\n  aws: [1]\n", "targets.aws: want a mapping, got a list"},
		{"duration as mapping", "targets:\n  aws:\n    timeouts:\n      poll: {s: 1}\n", `targets.aws.timeouts.poll: want a duration such as "30s", got a mapping`},
		{"accounts not a list", "targets:\n  aws:\n    enabled_accounts: 111122223333\n", "targets.aws.enabled_accounts: want a list, got a scalar"},
		{"limit not a number", "targets:\n  aws:\n    limits:\n      max_keys: many\n", "targets.aws.limits.max_keys: want a whole number, got a scalar"},
		{"zero stores", "targets:\n  aws:\n    limits:\n      max_live_stores: 0\n", "targets.aws.limits: max_live_stores and time_budget must be positive and max_keys not negative, got 0, 12h0m0s and 6"},
		{"bad account", "targets:\n  aws:\n    enabled_accounts: [\"1234\"]\n", `targets.aws.enabled_accounts[0]: "1234" is not a 12-digit account id`},
		{"zero timeout", "targets:\n  endpoint:\n    timeouts: {call: 0s}\n", "targets.endpoint.timeouts.call: must be positive, got 0s"},
		{"negative transition", "targets:\n  emulator:\n    transition: -1s\n", "targets.emulator.transition: must not be negative, got -1s"},
		{"bad url", "targets:\n  endpoint:\n    url: localhost:4566\n", `targets.endpoint.url: "localhost:4566" is not an http:// or https:// URL`},
		{"bad control url", "targets:\n  endpoint:\n    backing:\n      xks_control_url: 127.0.0.1:8444\n",
			`targets.endpoint.backing.xks_control_url: "127.0.0.1:8444" is not an http:// or https:// URL`},
		{"control url without host", "targets:\n  aws:\n    backing:\n      xks_control_url: \"http:///kmsconform\"\n",
			`targets.aws.backing.xks_control_url: "http:///kmsconform" is not an http:// or https:// URL`},
		{"control url not http", "targets:\n  aws:\n    backing:\n      xks_control_url: ftp://127.0.0.1:8444\n",
			`targets.aws.backing.xks_control_url: "ftp://127.0.0.1:8444" is not an http:// or https:// URL`},
		{"two anchors", "targets:\n  aws:\n    backing:\n      cloudhsm_trust_anchor: x\n      cloudhsm_trust_anchor_file: y\n",
			"targets.aws.backing: set cloudhsm_trust_anchor or cloudhsm_trust_anchor_file, not both"},
		{"anchor not PEM", "targets:\n  endpoint:\n    backing:\n      cloudhsm_trust_anchor: hello\n", "targets.endpoint.backing.cloudhsm_trust_anchor: not a PEM certificate"},
		{"anchor file missing", "targets:\n  endpoint:\n    backing:\n      cloudhsm_trust_anchor_file: /nonexistent/anchor.pem\n",
			"targets.endpoint.backing.cloudhsm_trust_anchor_file: open /nonexistent/anchor.pem: no such file or directory"},
		{"duplicate key", "targets:\n  aws:\n    region: a\n    region: b\n", "targets.aws.region: duplicate key"},
		{"top level list", "- a\n", "the top level must be a mapping, got a list"},
		{"syntax", "targets:\n  aws: {\n", "yaml: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeConfig(t, c.body)
			_, err := LoadConfig(path)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+": "+c.want) {
				t.Fatalf("got  %q\nwant %q", msg, path+": "+c.want)
			}
			if strings.Contains(msg, "\n") {
				t.Fatalf("error is not one line: %q", msg)
			}
		})
	}
	// The relative anchor file is found next to the configuration.
	path := filepath.Join(filepath.Dir(anchorFile), "ginkgo.yml")
	if err := os.WriteFile(path, []byte("targets:\n  aws:\n    backing:\n      cloudhsm_trust_anchor_file: anchor.pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil || cfg.AWS.Backing.TrustAnchor != testPEM {
		t.Fatalf("relative anchor file: %v %q", err, cfg.AWS.Backing.TrustAnchor)
	}
}

func TestLoadConfigEmptyFiles(t *testing.T) {
	clearEnv(t)
	for _, body := range []string{"", "# nothing\n", "targets:\n", "targets:\n  aws:\n"} {
		cfg, err := LoadConfig(writeConfig(t, body))
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if cfg.AWS.Timeouts != DefaultConfig().AWS.Timeouts {
			t.Fatalf("%q: %+v", body, cfg.AWS)
		}
	}
}

func TestEnvironmentOverridesBacking(t *testing.T) {
	clearEnv(t)
	path := writeConfig(t, `
targets:
  endpoint:
    backing:
      cloudhsm_cluster_id: cluster-fromfile000
      xks_uri_path: /file/kms/xks/v1
      xks_access_key_id: FILEAKID
      xks_control_url: http://file.example:8444
`)
	t.Setenv(EnvCloudHSMClusterID, "cluster-1234567890a")
	t.Setenv(EnvCloudHSMTrustAnchor, testPEM)
	t.Setenv(EnvCloudHSMKmsuserPassword, testPassword)
	t.Setenv(EnvXKSURIEndpoint, "https://xks.example.com")
	t.Setenv(EnvXKSAccessKeyID, "ENVAKIDENVAKIDENVAKID")
	t.Setenv(EnvXKSSecretAccessKey, testSecret)
	t.Setenv(EnvXKSVpcEndpointService, "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0")
	t.Setenv(EnvXKSControlURL, "http://127.0.0.1:8444")
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Backing{
		ClusterID:       "cluster-1234567890a",
		TrustAnchor:     testPEM,
		KmsuserPassword: testPassword,
		XksEndpoint:     "https://xks.example.com",
		XksPath:         "/file/kms/xks/v1", // not overridden: the variable is empty
		XksCredential:   Credential{AccessKeyID: "ENVAKIDENVAKIDENVAKID", Secret: testSecret},
		XksVpcService:   "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
		XksControlURL:   "http://127.0.0.1:8444",
	}
	wantAWS := want
	wantAWS.XksPath = ""
	if !reflect.DeepEqual(cfg.Endpoint.Backing, want) || !reflect.DeepEqual(cfg.AWS.Backing, wantAWS) {
		t.Fatalf("endpoint %+v\naws %+v", cfg.Endpoint.Backing, cfg.AWS.Backing)
	}

	// The file variable, and both at once.
	anchorFile := filepath.Join(t.TempDir(), "a.pem")
	if err := os.WriteFile(anchorFile, []byte(testPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvCloudHSMTrustAnchor, "")
	t.Setenv(EnvCloudHSMTrustAnchorFile, anchorFile)
	if cfg, err := LoadConfig(path); err != nil || cfg.AWS.Backing.TrustAnchor != testPEM {
		t.Fatalf("anchor file: %v", err)
	}
	t.Setenv(EnvCloudHSMTrustAnchor, testPEM)
	_, err = LoadConfig(path)
	if err == nil || err.Error() != path+": "+EnvCloudHSMTrustAnchor+" and "+EnvCloudHSMTrustAnchorFile+" are both set; set one" {
		t.Fatalf("both anchors: %v", err)
	}
	t.Setenv(EnvCloudHSMTrustAnchor, "not pem")
	t.Setenv(EnvCloudHSMTrustAnchorFile, "")
	if _, err := LoadConfig(path); err == nil || err.Error() != path+": "+EnvCloudHSMTrustAnchor+": not a PEM certificate" {
		t.Fatalf("bad env anchor: %v", err)
	}
	t.Setenv(EnvCloudHSMTrustAnchor, "")

	// Without the variable the file's control URL applies; a bad variable
	// is named in a one-line error.
	t.Setenv(EnvXKSControlURL, "")
	if cfg, err := LoadConfig(path); err != nil || cfg.Endpoint.Backing.XksControlURL != "http://file.example:8444" || cfg.AWS.Backing.XksControlURL != "" {
		t.Fatalf("control URL from the file: %v", err)
	}
	t.Setenv(EnvXKSControlURL, "127.0.0.1:8444")
	if _, err := LoadConfig(path); err == nil || err.Error() != path+": "+EnvXKSControlURL+`: "127.0.0.1:8444" is not an http:// or https:// URL` {
		t.Fatalf("bad env control URL: %v", err)
	}
}

// Secrets never reach formatted output, logs or errors.
func TestSecretsAreRedacted(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvCloudHSMKmsuserPassword, testPassword)
	t.Setenv(EnvXKSSecretAccessKey, testSecret)
	t.Setenv(EnvXKSAccessKeyID, "AKIDAKIDAKIDAKIDAKID")
	cfg, err := LoadConfig(writeConfig(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.AWS.Backing
	if b.KmsuserPassword != testPassword || b.XksCredential.Secret != testSecret {
		t.Fatal("the secrets were not loaded")
	}
	cluster := Cluster{ID: "cluster-1234567890a", Password: testPassword, Kmsuser: "ready"}
	proxy := Proxy{Endpoint: "https://xks.example.com", Accepted: []Credential{b.XksCredential}}
	values := []any{cfg, *cfg, b, &b, b.XksCredential, &b.XksCredential, cluster, &cluster, proxy, &proxy,
		[]Credential{b.XksCredential}, map[string]Backing{"x": b}}
	var out bytes.Buffer
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
		fmt.Fprintln(&out, v)
		fmt.Fprintf(&out, "%v\n", fmt.Errorf("wrapped: %v: %w", v, errors.New("x")))
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(j)
	}
	for _, h := range []slog.Handler{slog.NewTextHandler(&out, nil), slog.NewJSONHandler(&out, nil)} {
		log := slog.New(h)
		log.Info("config", "backing", b, "credential", b.XksCredential, "cluster", cluster, "proxy", proxy, "cfg", cfg)
	}
	for _, secret := range []string{testPassword, testSecret} {
		if strings.Contains(out.String(), secret) || strings.Contains(out.String(), fmt.Sprintf("%x", secret)) {
			t.Fatalf("secret leaked:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), "AKIDAKIDAKIDAKIDAKID") || !strings.Contains(out.String(), "kmsuser password set") ||
		!strings.Contains(out.String(), `"Secret":"\u003credacted\u003e"`) {
		t.Fatalf("redacted output lost the useful parts:\n%s", out.String())
	}
}

// TestSecondBacking reads the *_2 variables, and keeps their secrets out
// of every rendering.
func TestSecondBacking(t *testing.T) {
	anchor := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("a second trust anchor")}))
	t.Setenv("KMSCONFORM_CLOUDHSM_CLUSTER_ID_2", "cluster-secondsecond")
	t.Setenv("KMSCONFORM_CLOUDHSM_TRUST_ANCHOR_2", anchor)
	t.Setenv("KMSCONFORM_CLOUDHSM_KMSUSER_PASSWORD_2", "secondPasswordXyz")
	t.Setenv("KMSCONFORM_XKS_SECRET_ACCESS_KEY_2", "secondSecretSecondSecretSecondSecret0123456")
	cfg, err := LoadConfig(filepath.Join(t.TempDir(), "none.yml"))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Endpoint.Backing.Second
	if s == nil || s.ClusterID != "cluster-secondsecond" || s.TrustAnchor != anchor || s.KmsuserPassword != "secondPasswordXyz" {
		t.Fatalf("second backing %v", s)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "backing", cfg.Endpoint.Backing)
	js, _ := json.Marshal(cfg.Endpoint.Backing)
	for _, out := range []string{fmt.Sprint(cfg.Endpoint.Backing), fmt.Sprintf("%#v", cfg.Endpoint.Backing), buf.String(), string(js)} {
		if strings.Contains(out, "secondPasswordXyz") || strings.Contains(out, "secondSecret") || !strings.Contains(out, "cluster-secondsecond") {
			t.Errorf("rendering %s", out)
		}
	}
	t.Setenv("KMSCONFORM_CLOUDHSM_TRUST_ANCHOR_2", "not a pem")
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "none.yml")); err == nil || !strings.Contains(err.Error(), "KMSCONFORM_CLOUDHSM_TRUST_ANCHOR_2") {
		t.Fatalf("bad anchor: %v", err)
	}
}
