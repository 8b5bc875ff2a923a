package emulator

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func putCluster(t *testing.T, e *env, id, body string) (int, string) {
	t.Helper()
	return controlCall(t, e, http.MethodPut, "clusters/"+id, body)
}

// A cluster body that leaves out what KMS checks made a cluster that could
// never connect; it is refused, naming what is missing, while a body that
// breaks the cluster on purpose, field by field, is still taken.
func TestControlClusterBodyNeedsAHealthyCluster(t *testing.T) {
	e := newEnv(t, Options{})
	healthy := func(drop string, change map[string]any) string {
		var m map[string]any
		_ = json.Unmarshal([]byte(ExampleClusterBody), &m)
		m["trustAnchorCertificate"] = testAnchor
		delete(m, drop)
		for k, v := range change {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"empty", `{}`, []string{"missing trustAnchorCertificate, state, hsms, subnets, securityGroupOk, kmsUser", `"kmsUser":{"password":`}},
		{"no kmsUser", healthy("kmsUser", nil), []string{"missing kmsUser:", `"kmsUser": null`}},
		{"no password", healthy("", map[string]any{"kmsUser": map[string]any{}}), []string{"missing kmsUser.password"}},
		{"no hsms", healthy("hsms", nil), []string{"missing hsms:"}},
		{"empty anchor", healthy("", map[string]any{"trustAnchorCertificate": ""}), []string{"trustAnchorCertificate is empty"}},
		{"unknown state", healthy("", map[string]any{"state": "Active"}), []string{`state "Active" is not a CloudHSM cluster state`}},
		{"typo", healthy("", map[string]any{"hsm": []any{}}), []string{`unknown field "hsm"`}},
	} {
		st, body := putCluster(t, e, "cluster-abcdefghijk", tc.body)
		if st != http.StatusBadRequest {
			t.Errorf("%s: %d %s", tc.name, st, body)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) && !strings.Contains(body, strings.ReplaceAll(w, `"`, `\"`)) {
				t.Errorf("%s: answer %s does not say %q", tc.name, body, w)
			}
		}
	}
	if _, err := e.emu.Cluster("cluster-abcdefghijk"); err == nil {
		t.Fatal("a refused body made a cluster")
	}

	// Broken on purpose, explicitly: taken, and it fails as asked.
	if st, body := putCluster(t, e, "cluster-abcdefghijk", healthy("", map[string]any{"kmsUser": nil})); st != 200 {
		t.Fatalf("explicit null kmsUser: %d %s", st, body)
	}
	id := e.createHSMStore("no-kmsuser", "cluster-abcdefghijk")
	e.connect(id)
	e.finish(id)
	e.wantState(id, types.ConnectionStateTypeFailed, types.ConnectionErrorCodeTypeUserNotFound)

	// The example body, with a real anchor and password, connects.
	if st, body := putCluster(t, e, "cluster-bbbbbbbbbbb", healthy("", map[string]any{"kmsUser": map[string]any{"password": testPassword}})); st != 200 {
		t.Fatalf("healthy: %d %s", st, body)
	}
	id = e.createHSMStore("healthy", "cluster-bbbbbbbbbbb")
	e.connect(id)
	e.finish(id)
	e.wantState(id, types.ConnectionStateTypeConnected, "")
}

// An external key store whose endpoint host has no route says, in the
// AWS error format, how to add one, and so does the log.
func TestControlNoXKSRouteSaysHowToAddOne(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	in := &kms.CreateCustomKeyStoreInput{
		CustomKeyStoreName:   aws.String("unrouted"),
		CustomKeyStoreType:   types.CustomKeyStoreTypeExternalKeyStore,
		XksProxyConnectivity: types.XksProxyConnectivityTypePublicEndpoint,
		XksProxyUriEndpoint:  aws.String("https://xks.unrouted.example"),
		XksProxyUriPath:      aws.String("/kms/xks/v1"),
		XksProxyAuthenticationCredential: &types.XksProxyAuthenticationCredentialType{
			AccessKeyId: aws.String("ABCDEFGHIJKLMNOPQRST"), RawSecretAccessKey: aws.String("s3cretS3cretS3cretS3cretS3cretS3cretS3cret1")},
	}
	_, err := e.kms.CreateCustomKeyStore(e.ctx, in)
	wantCode(t, err, "XksProxyUriUnreachableException")
	want := `KMS cannot reach the XKS proxy: KMS cannot connect to the XKS proxy: the emulator has no route to xks.unrouted.example; add one with PUT /_kmsconform/xks-routes/xks.unrouted.example {"addr":"127.0.0.1:PORT","caPem":"<PEM of the proxy's CA>"}.`
	wantMessage(t, err, want)
	if strings.Contains(logs.String(), "s3cret") {
		t.Fatal("the secret leaked")
	}
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "xks-routes/xks.unrouted.example") {
		t.Fatalf("log: %s", l)
	}
}
