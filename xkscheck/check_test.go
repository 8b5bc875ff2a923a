package xkscheck_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kmsconform/kmsconform/reports"
	"github.com/kmsconform/kmsconform/targets/xksproxy"
	"github.com/kmsconform/kmsconform/xkscheck"
)

// startProxy starts our proxy with a key of each usage.
func startProxy(t *testing.T) *xksproxy.Proxy {
	t.Helper()
	p, err := xksproxy.New(xksproxy.Options{Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	for id, usage := range map[string][]string{"main": nil, "enc": {"ENCRYPT"}, "dec": {"DECRYPT"}, "none": {}} {
		if _, err := p.Keys().Create(id, xksproxy.KeyOptions{Usage: usage}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func configFor(p *xksproxy.Proxy) xkscheck.Config {
	c := p.Credential()
	return xkscheck.Config{Endpoint: p.URIEndpoint(), Path: p.URIPath(), Region: "us-east-1", RegionGiven: true,
		Credential: xkscheck.Credential{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey},
		RootCAs:    p.CertPool(),
		Keys: []xkscheck.Key{{ID: "main"}, {ID: "enc", Usage: []string{"ENCRYPT"}}, {ID: "dec", Usage: []string{"DECRYPT"}},
			{ID: "none", Usage: []string{}}},
		Rate: 50, Duration: 500 * time.Millisecond}
}

func TestXksCheckHealthyProxyPasses(t *testing.T) {
	p := startProxy(t)
	res, err := xkscheck.Run(context.Background(), configFor(p))
	if err != nil {
		t.Fatal(err)
	}
	perAPI := map[string]int{}
	for _, c := range res.Cells {
		perAPI[c.Operation]++
		if c.Verdict == reports.Pass {
			continue
		}
		t.Errorf("%s: %s (observed %s): %s — %s", c.ID, c.Verdict, c.Observed, c.Evidence.Detail, c.Evidence.Message)
	}
	t.Logf("checks per API: %v; findings: %s", perAPI, strings.Join(res.Findings, "; "))
	// Every group ran: a check list that shrank would pass trivially.
	for api, least := range map[string]int{"GetHealthStatus": 20, "GetKeyMetadata": 21, "Encrypt": 26, "Decrypt": 28, "TLS": 5, "Load": 1} {
		if perAPI[api] < least {
			t.Errorf("%s: %d checks ran, want at least %d", api, perAPI[api], least)
		}
	}
}
