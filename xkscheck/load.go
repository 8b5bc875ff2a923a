package xkscheck

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

const secLoad = "§8 (1,800 requests per second per store), §4.3 (250 ms)"

// loadCheck sends Encrypt (or, without a key, GetHealthStatus) at the
// configured rate for the configured duration, each call on its own
// goroutine so that a slow proxy cannot slow the rate down, with at most
// maxInFlight calls open.
func (k *checker) loadCheck(ctx context.Context, key Key, haveKey bool) {
	const maxInFlight = 256
	api, send := APIHealth, func() answer { return k.c.post(ctx, "/health", healthBody("KmsHealthCheck"), signing{}) }
	if haveKey {
		pt := sample(32, 9)
		api = APIEncrypt
		send = func() answer {
			return k.c.post(ctx, keyPath(key.ID, "encrypt"), k.c.encryptBody("Encrypt", pt, nil, false), signing{})
		}
	}
	var (
		mu      sync.Mutex
		lats    []time.Duration
		errs    int
		lastErr answer
		wg      sync.WaitGroup
	)
	sem := make(chan struct{}, maxInFlight)
	tick := time.NewTicker(time.Second / time.Duration(k.cfg.Rate))
	defer tick.Stop()
	start := time.Now()
	sent := 0
	for time.Since(start) < k.cfg.Duration {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		default:
			mu.Lock()
			errs++ // more than maxInFlight open: the proxy is not keeping up
			mu.Unlock()
			continue
		}
		sent++
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			a := send()
			mu.Lock()
			defer mu.Unlock()
			if a.err != nil || a.status != http.StatusOK {
				errs++
				lastErr = a
				return
			}
			lats = append(lats, a.latency)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	over := 0
	for _, l := range lats {
		if l > Budget {
			over++
		}
	}
	st := stats(lats)
	total := len(lats) + errs
	share := 0.0
	if len(lats) > 0 {
		share = float64(over) / float64(len(lats))
	}
	summary := fmt.Sprintf("%s at %d/s for %s: %d calls, %.1f answered/s, p50 %s, p99 %s, %.1f%% over %s, %d failed",
		api, k.cfg.Rate, k.cfg.Duration, total, float64(len(lats))/elapsed.Seconds(), st.p50, st.p99, 100*share, Budget, errs)
	k.finds = append(k.finds, "load: "+summary)
	var j judgement
	switch {
	case total == 0:
		j = judgement{failure: "no call was made", message: "the load phase did not run"}
	case errs*20 > total:
		c := conditionOf(lastErr, api)
		if lastErr.status == 0 && lastErr.err == nil {
			c = Condition{Fault: "slow"}
		}
		j = judgement{failure: fmt.Sprintf("%d of %d calls failed (last: %s)", errs, total, lastErr.observed()), cond: &c}
	case over*20 > len(lats):
		c := Condition{Fault: "slow"}
		j = judgement{failure: fmt.Sprintf("%.1f%% of calls over %s", 100*share, Budget), cond: &c}
	}
	a := answer{status: http.StatusOK, latency: st.p50}
	k.record(APILoad, api, secLoad, "D", []string{fmt.Sprintf("at most 5%% of calls failed or over %s", Budget)}, a, j)
	k.cells[len(k.cells)-1].Observed = summary
	k.cells[len(k.cells)-1].Seconds = elapsed.Seconds()
	_ = sent
}
