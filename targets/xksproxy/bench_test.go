package xksproxy

import (
	"encoding/json"
	"testing"
)

// Benchmarks measure whole requests over loopback HTTPS with kept-alive
// connections, SigV4 signing on the client and verification on the proxy
// included: what KMS would see from a proxy on the same host.

func benchSetup(b *testing.B) (*Proxy, *client, []byte, []byte) {
	p := startProxy(b, Options{})
	p.Keys().Create("k", KeyOptions{})
	c := newClient(b, p)
	encBody, _ := json.Marshal(encryptBody(make([]byte, 32), []byte("encryption-context"), true))
	r, err := c.raw("POST", p.URIPath()+"/keys/k/encrypt", encBody)
	if err != nil || r.status != 200 {
		b.Fatalf("%v %d", err, r.status)
	}
	var enc EncryptResponse
	json.Unmarshal(r.body, &enc)
	decBody, _ := json.Marshal(decryptBody(enc, []byte("encryption-context")))
	return p, c, encBody, decBody
}

func benchOne(b *testing.B, c *client, path string, body []byte) {
	r, err := c.raw("POST", path, body)
	if err != nil || r.status != 200 {
		b.Fatalf("%v %d %s", err, r.status, r.body)
	}
}

func BenchmarkEncrypt(b *testing.B) {
	p, c, encBody, _ := benchSetup(b)
	b.ResetTimer()
	for b.Loop() {
		benchOne(b, c, p.URIPath()+"/keys/k/encrypt", encBody)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func BenchmarkDecrypt(b *testing.B) {
	p, c, _, decBody := benchSetup(b)
	b.ResetTimer()
	for b.Loop() {
		benchOne(b, c, p.URIPath()+"/keys/k/decrypt", decBody)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkRoundTrip is one Encrypt then one Decrypt of a 32-byte data key
// (what GenerateDataKey then Decrypt cost KMS), sequentially.
func BenchmarkRoundTrip(b *testing.B) {
	p, c, encBody, decBody := benchSetup(b)
	b.ResetTimer()
	for b.Loop() {
		benchOne(b, c, p.URIPath()+"/keys/k/encrypt", encBody)
		benchOne(b, c, p.URIPath()+"/keys/k/decrypt", decBody)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
}

// BenchmarkRoundTripParallel runs round trips from GOMAXPROCS clients.
func BenchmarkRoundTripParallel(b *testing.B) {
	p, c, encBody, decBody := benchSetup(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		// FailNow may not run off the benchmark goroutine: report and stop.
		for pb.Next() {
			for _, req := range []struct {
				path string
				body []byte
			}{{"/keys/k/encrypt", encBody}, {"/keys/k/decrypt", decBody}} {
				r, err := c.raw("POST", p.URIPath()+req.path, req.body)
				if err != nil || r.status != 200 {
					b.Errorf("%v %d %s", err, r.status, r.body)
					return
				}
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
}
