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

// TestXksCheckNamesEveryFault injects each fault the proxy's control API
// offers and requires a named check to fail with the consequence the
// model draws (health-degraded and health-partially-unavailable leave KMS
// working: a check reports them, as informational).
func TestXksCheckNamesEveryFault(t *testing.T) {
	informational := map[xksproxy.Fault]bool{xksproxy.FaultHealthDegraded: true, xksproxy.FaultHealthPartiallyUnavailable: true}
	for _, f := range xksproxy.Faults() {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			p := startProxy(t)
			cfg := configFor(p)
			cfg.Duration = 200 * time.Millisecond
			if f == xksproxy.FaultSlow {
				// Every call waits past the budget: the health checks are enough.
				cfg.APIs = []string{xkscheck.APIHealth}
			}
			if err := p.SetFault(f); err != nil {
				t.Fatal(err)
			}
			res, err := xkscheck.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := reports.Fail
			if informational[f] {
				want = reports.Informational
			}
			var hits []reports.Cell
			for _, c := range res.Cells {
				if c.Verdict == want {
					hits = append(hits, c)
				}
			}
			if len(hits) == 0 {
				t.Fatalf("no check ended %s", want)
			}
			for _, c := range hits {
				if c.Evidence.Message == "" {
					t.Errorf("%s: no consequence", c.ID)
				}
			}
			c := hits[0]
			t.Logf("FAULT %s | %d %s, first %s | %s | %s", f, len(hits), want, c.ID, c.Evidence.Detail, c.Evidence.Message)
			if !strings.Contains(c.Evidence.Message, "KMS would") && !informational[f] {
				t.Logf("message does not say what KMS would do: %s", c.Evidence.Message)
			}
		})
	}
}
