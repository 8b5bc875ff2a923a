package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmsconform/kmsconform/reports"
	"github.com/kmsconform/kmsconform/targets/xksproxy"
)

func TestXksCheckCommand(t *testing.T) {
	t.Setenv("KMSCONFORM_SKIP_BROWSER", "1")
	p, err := xksproxy.New(xksproxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for id, usage := range map[string][]string{"main": nil, "enc": {"ENCRYPT"}, "none": {}} {
		if _, err := p.Keys().Create(id, xksproxy.KeyOptions{Usage: usage}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, p.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cred := p.Credential()
	doc, _ := json.Marshal(map[string]any{"XksProxyAuthenticationCredential": map[string]string{
		"AccessKeyId": cred.AccessKeyID, "RawSecretAccessKey": cred.SecretAccessKey}})
	credFile := filepath.Join(dir, "cred.json")
	if err := os.WriteFile(credFile, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(reportDir string) (int, string) {
		var out, errb bytes.Buffer
		code := dispatch([]string{"xks-check", "--endpoint", p.URIEndpoint(), "--path", p.URIPath(), "--ca", ca,
			"--credential-file", credFile, "--key", "main", "--key", "enc=ENCRYPT", "--key", "none=",
			"--report-dir", reportDir, "--duration", "300ms"}, &out, &errb)
		all := out.String() + errb.String()
		if strings.Contains(all, cred.SecretAccessKey) {
			t.Fatal("the secret was printed")
		}
		return code, all
	}
	healthy := filepath.Join(dir, "healthy")
	code, out := run(healthy)
	if code != 0 {
		t.Fatalf("healthy proxy: exit %d\n%s", code, out)
	}
	c, err := reports.ReadFile(filepath.Join(healthy, "compat.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Summary.Pass < 80 || c.Summary.Fail != 0 {
		t.Errorf("summary %+v", c.Summary)
	}
	// The summary counts the calls made to the proxy, not "0 API calls".
	if c.APICalls < c.Summary.Pass || !strings.Contains(out, fmt.Sprintf("%d API calls", c.APICalls)) {
		t.Errorf("%d API calls recorded for %d passing checks; the summary says\n%s", c.APICalls, c.Summary.Pass, out)
	}
	if err := p.SetFault(xksproxy.FaultAuthenticationFailed); err != nil {
		t.Fatal(err)
	}
	code, out = run(filepath.Join(dir, "broken"))
	if code != 1 || !strings.Contains(out, "INVALID_CREDENTIALS") {
		t.Fatalf("proxy refusing the credential: exit %d, want 1 and INVALID_CREDENTIALS in\n%s", code, out)
	}
	var errb bytes.Buffer
	if code := dispatch([]string{"xks-check", "--endpoint", p.URIEndpoint(), "--rate", "5000"}, &bytes.Buffer{}, &errb); code != 2 {
		t.Errorf("--rate 5000 without credential: exit %d, want 2 (%s)", code, errb.String())
	}
}
