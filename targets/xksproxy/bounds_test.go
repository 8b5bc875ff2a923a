package xksproxy

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The flood's size is a flag so that the README's figure can be measured
// with the numbers (600 requests, ~1 MB of headers each) while
// the default run stays quick:
//
//	go test -run TestUnsignedFloodMemory -v ./targets/xksproxy/ -args -flood 600 -flood-header 1000000
var (
	floodN      = flag.Int("flood", 40, "unsigned requests TestUnsignedFloodMemory sends")
	floodHeader = flag.Int("flood-header", 8000, "bytes of bogus signature in each flood request's Authorization header")
)

// bigBody is an Encrypt body of about 1 MB (under the 1 MiB limit) whose
// request metadata and AAD carry marker bytes.
func bigBody(t testing.TB, marker string) []byte {
	t.Helper()
	third := 330_000
	b, err := json.Marshal(map[string]any{
		"requestMetadata": map[string]string{
			"awsPrincipalArn": strings.Repeat(marker, third/len(marker)),
			"kmsRequestId":    strings.Repeat(marker, third/len(marker)),
			"kmsOperation":    "Encrypt",
			"kmsKeyArn":       "arn:aws:kms:us-east-1:123456789012:key/k",
		},
		"encryptionAlgorithm":         "AES_GCM",
		"plaintext":                   base64.StdEncoding.EncodeToString([]byte("pt")),
		"additionalAuthenticatedData": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte(marker), third*3/4/len(marker))),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > maxBodyBytes {
		t.Fatalf("body of %d bytes is over the limit", len(b))
	}
	return b
}

// bogusAuth is a well-formed SigV4 header with a signature of n hex digits
// that matches nothing.
func bogusAuth(akid string, n int) string {
	return "AWS4-HMAC-SHA256 Credential=" + akid + "/" + time.Now().UTC().Format(scopeDate) +
		"/us-east-1/" + ServiceName + "/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + strings.Repeat("0", n)
}

// liveHeap is the heap still in use after a collection, in bytes, and the
// process's resident set (0 where /proc is missing).
func liveHeap() (heap uint64, rss uint64) {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				rss = kb << 10
			}
		}
	}
	return m.HeapAlloc, rss
}

func mb(n uint64) string { return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB" }

// TestUnsignedFloodMemory is the reproduction: unsigned requests
// of about 1 MB of body each (and, with -flood-header, about 1 MB of
// headers) must not be kept. Before the bounds every one stayed in the
// 10,000-entry ring, about 2.6 MB each with 1 MB headers.
func TestUnsignedFloodMemory(t *testing.T) {
	p := startProxy(t, Options{})
	p.Keys().Create("k", KeyOptions{})
	c := newClient(t, p)
	auth := bogusAuth(p.Credential().AccessKeyID, *floodHeader)
	c.mutate = func(r *http.Request) { r.Header.Set("Authorization", auth) }
	body := bigBody(t, "flood-marker/")

	heap0, rss0 := liveHeap()
	statuses := map[int]int{}
	for range *floodN {
		r, err := c.raw(http.MethodPost, p.URIPath()+"/keys/k/encrypt", body)
		if err != nil {
			// A header over MaxHeaderBytes is answered 431 and the
			// connection closed while the client may still be writing.
			statuses[-1]++
			continue
		}
		statuses[r.status]++
	}
	heap1, rss1 := liveHeap()
	recorded := p.RecordedBytes()
	t.Logf("%d unsigned requests of %d header + %d body bytes: answers %v; recorded %d requests, %d bytes; live heap %s -> %s, RSS %s -> %s",
		*floodN, len(auth), len(body), statuses, len(p.Requests()), recorded, mb(heap0), mb(heap1), mb(rss0), mb(rss1))

	if recorded > DefaultMaxRecordedBytes {
		t.Fatalf("recorded %d bytes, over the %d-byte cap", recorded, DefaultMaxRecordedBytes)
	}
	// A request that fails authentication keeps a summary only: a few
	// hundred bytes, whatever it carried.
	if n := len(p.Requests()); n > 0 && recorded/int64(n) > 1024 {
		t.Fatalf("an unsigned request keeps %d bytes", recorded/int64(n))
	}
	dump, _ := json.Marshal(p.Requests())
	if len(dump) > 1024**floodN {
		t.Fatalf("Requests() is %d bytes of JSON for %d unsigned requests", len(dump), *floodN)
	}
}

// TestUnsignedRecordKeepsOnlySummary: no body byte, no part of the
// Authorization header but the access key id, and a truncated path.
func TestUnsignedRecordKeepsOnlySummary(t *testing.T) {
	var logs bytes.Buffer
	p := startProxy(t, Options{Logger: newTestLogger(&logs)})
	p.Keys().Create("k", KeyOptions{})
	const marker = "BODY-MARKER/"
	body := bigBody(t, marker)

	badSig := newClient(t, p)
	badSig.cred.SecretAccessKey = strings.Repeat("A", 40)
	badSig.mutate = func(r *http.Request) { r.Header.Set("Content-Type", "application/json; x="+strings.Repeat("c", 4000)) }
	wantError(t, badSig.post("/keys/k/encrypt", body), 401, ErrAuthenticationFailed)

	noAuth := newClient(t, p)
	noAuth.mutate = func(r *http.Request) { r.Header.Del("Authorization") }
	wantError(t, noAuth.post("/keys/k/encrypt", body), 401, ErrAuthenticationFailed)

	longPath := "/keys/k/" + strings.Repeat("p", 6000)
	wantError(t, noAuth.post(longPath, body), 404, ErrInvalidURIPath)

	reqs := p.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d records", len(reqs))
	}
	for i, r := range reqs {
		if r.SignatureValid || !r.SummaryOnly || r.BodyBytes != int64(len(body)) || r.Method != http.MethodPost || r.Status == 0 || r.Time.IsZero() {
			t.Fatalf("record %d: %+v", i, r)
		}
		if r.Metadata != (RequestMetadata{}) || r.AAD != nil || r.Signature != "" || r.SignedHeaders != nil ||
			r.ContentType != "" || r.Host != "" || r.AmzDate != "" || r.PlaintextLen != -1 {
			t.Fatalf("record %d keeps more than a summary: %+v", i, r)
		}
		if len(r.Path) > maxRecordedPath+64 {
			t.Fatalf("record %d: path of %d bytes", i, len(r.Path))
		}
	}
	if reqs[0].AuthError != "signature does not match" || reqs[0].AccessKeyID != p.Credential().AccessKeyID {
		t.Fatalf("bad signature: %+v", reqs[0])
	}
	if reqs[1].AuthError != "missing Authorization header" {
		t.Fatalf("no Authorization: %+v", reqs[1])
	}
	if !strings.HasPrefix(reqs[2].Path, p.URIPath()+"/keys/k/ppp") || !strings.Contains(reqs[2].Path, "truncated") {
		t.Fatalf("long path recorded as %q", reqs[2].Path)
	}
	dump, _ := json.Marshal(reqs)
	for what, s := range map[string]string{"records": string(dump), "log": logs.String()} {
		if strings.Contains(s, marker) || strings.Contains(s, "ccccc") || strings.Contains(s, strings.Repeat("p", 1000)) {
			t.Fatalf("the %s keep what an unauthenticated request carried (%d bytes)", what, len(s))
		}
	}
	if p.RecordedBytes() > 3*1024 {
		t.Fatalf("three summaries take %d bytes", p.RecordedBytes())
	}
}

// TestRecordedEntryIsCapped: an authenticated request is recorded, but
// every field is cut to its cap with a marker, and the ring evicts the
// oldest entries to stay under MaxRecordedBytes.
func TestRecordedEntryIsCapped(t *testing.T) {
	const ringCap = 256 << 10
	p := startProxy(t, Options{MaxRecordedBytes: ringCap})
	p.Keys().Create("k", KeyOptions{})
	c := newClient(t, p)
	c.region = strings.Repeat("r", 5000) // any Region is accepted, so it is the client's to inflate
	const marker = "SIGNED-MARKER/"
	body := bigBody(t, marker)
	var aad []byte
	{
		var w wireRequest
		json.Unmarshal(body, &w)
		aad, _ = base64.StdEncoding.DecodeString(*w.AdditionalAuthenticatedData)
	}
	// The AAD is too long for the proxy (64 KiB at most): a signed
	// request with an invalid body is still recorded.
	wantError(t, c.post("/keys/k/encrypt", body), 400, ErrValidation)
	r := p.Requests()[0]
	if !r.SignatureValid || r.SummaryOnly {
		t.Fatalf("signed request recorded as %+v", r.SignatureValid)
	}
	if n := r.size(); n > MaxRecordedEntryBytes {
		t.Fatalf("one record is %d bytes, over the %d-byte entry cap", n, MaxRecordedEntryBytes)
	}
	if !strings.HasPrefix(r.Metadata.AWSPrincipalARN, marker) || !strings.Contains(r.Metadata.AWSPrincipalARN, "truncated") ||
		!strings.Contains(r.Region, "truncated") ||
		len(r.AAD) != maxRecordedBinary || !bytes.Equal(r.AAD, aad[:len(r.AAD)]) {
		t.Fatalf("fields not cut with a marker: arn %d bytes, region %d, AAD %d",
			len(r.Metadata.AWSPrincipalARN), len(r.Region), len(r.AAD))
	}
	if !strings.Contains(strings.Join(r.Truncated, " "), "additionalAuthenticatedData") {
		t.Fatalf("truncated fields %q", r.Truncated)
	}

	const n = 40
	for range n - 1 {
		wantError(t, c.post("/keys/k/encrypt", body), 400, ErrValidation)
	}
	reqs := p.Requests()
	if got := p.RecordedBytes(); got > ringCap {
		t.Fatalf("ring holds %d bytes, over its %d-byte cap", got, ringCap)
	}
	if len(reqs) == 0 || len(reqs) == n || reqs[len(reqs)-1].Seq != n {
		t.Fatalf("%d records kept, newest seq %d", len(reqs), reqs[len(reqs)-1].Seq)
	}
	for i := 1; i < len(reqs); i++ {
		if reqs[i].Seq != reqs[i-1].Seq+1 {
			t.Fatalf("the ring dropped seq %d, not the oldest", reqs[i-1].Seq+1)
		}
	}
	var sum int
	for _, r := range reqs {
		sum += r.size()
	}
	if int64(sum) != p.RecordedBytes() {
		t.Fatalf("accounted %d bytes, records add up to %d", p.RecordedBytes(), sum)
	}
	p.ResetRequests()
	if p.RecordedBytes() != 0 {
		t.Fatalf("reset left %d bytes accounted", p.RecordedBytes())
	}
}

// rawConn speaks HTTP/1.1 over a plain connection, so a test can send
// headers and body at its own pace.
func rawConn(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitClosed reads until the server closes the connection and says how
// long that took and what it read; limit bounds the wait.
func waitClosed(t *testing.T, conn net.Conn, limit time.Duration) (time.Duration, []byte) {
	t.Helper()
	start := time.Now()
	conn.SetReadDeadline(start.Add(limit))
	got, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v (read %q)", limit, got)
	}
	return time.Since(start), got
}

// TestTrickledBodyIsCutOff: a client that sends its headers, then one byte
// at a time, is disconnected when ReadTimeout runs out, and is not told
// 200.
func TestTrickledBodyIsCutOff(t *testing.T) {
	p := startProxy(t, Options{PlainHTTP: true, ReadTimeout: 500 * time.Millisecond})
	conn := rawConn(t, p)
	if _, err := io.WriteString(conn, "POST "+p.URIPath()+"/health HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte{' '}); err != nil {
					return
				}
			}
		}
	}()
	took, got := waitClosed(t, conn, 5*time.Second)
	if bytes.HasPrefix(got, []byte("HTTP/1.1 200")) {
		t.Fatalf("a request whose body never arrived was answered %q", got)
	}
	t.Logf("trickled body cut off after %v", took)
}

// TestIdleKeepAliveIsClosed: a kept-alive connection that sends nothing
// more is closed after IdleTimeout.
func TestIdleKeepAliveIsClosed(t *testing.T) {
	p := startProxy(t, Options{PlainHTTP: true, IdleTimeout: 300 * time.Millisecond})
	conn := rawConn(t, p)
	if _, err := io.WriteString(conn, "POST "+p.URIPath()+"/health HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Close {
		t.Fatalf("answer %d, close %v", resp.StatusCode, resp.Close)
	}
	start := time.Now()
	conn.SetReadDeadline(start.Add(5 * time.Second))
	_, err = br.ReadByte()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("idle connection still open after 5s")
	}
	t.Logf("idle connection closed after %v (%v)", time.Since(start), err)
}

// TestOversizeHeaderIs431 holds for both listeners, with the defaults.
func TestOversizeHeaderIs431(t *testing.T) {
	p := startProxy(t, Options{ControlAddr: "127.0.0.1:0"})
	c := newClient(t, p)
	c.mutate = func(r *http.Request) { r.Header.Set("X-Padding", strings.Repeat("h", 64<<10)) }
	if r := c.post("/health", healthBody()); r.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("API: 64 KiB header answered %d %s", r.status, r.body)
	}
	c.mutate = func(r *http.Request) { r.Header.Set("X-Padding", strings.Repeat("h", 8<<10)) }
	if r := c.post("/health", healthBody()); r.status != 200 {
		t.Fatalf("API: 8 KiB header answered %d %s", r.status, r.body)
	}

	base := "http://" + p.ControlAddr() + ControlPrefix
	req, _ := http.NewRequest("GET", base+"/status", nil)
	req.Header.Set("X-Padding", strings.Repeat("h", 64<<10))
	signRequest(t, req, nil, p.Credential(), ControlServiceName, "us-east-1", time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("control: 64 KiB header answered %d", resp.StatusCode)
	}

	// Control bodies are small JSON: a large one is refused before its
	// signature is even checked.
	big := []byte(`{"fault":"` + strings.Repeat("f", maxControlBodyBytes) + `"}`)
	req, _ = http.NewRequest("PUT", base+"/fault", bytes.NewReader(big))
	signRequest(t, req, big, p.Credential(), ControlServiceName, "us-east-1", time.Now())
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("control: %d-byte body answered %d", len(big), resp.StatusCode)
	}
}

// TestServerBoundsDefaults: both listeners get the documented bounds, and
// a slow fault longer than the write timeout still answers late instead
// of being cut off.
func TestServerBoundsDefaults(t *testing.T) {
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*http.Server{"api": p.srv, "control": p.newServer(nil)} {
		if s.ReadHeaderTimeout != DefaultReadHeaderTimeout || s.ReadTimeout != DefaultReadTimeout ||
			s.WriteTimeout != DefaultWriteTimeout || s.IdleTimeout != DefaultIdleTimeout || s.MaxHeaderBytes != DefaultMaxHeaderBytes {
			t.Fatalf("%s server: header %v, read %v, write %v, idle %v, max header %d", name,
				s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout, s.MaxHeaderBytes)
		}
	}
	p, err = New(Options{SlowDelay: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if p.srv.WriteTimeout <= time.Minute+DefaultReadTimeout {
		t.Fatalf("write timeout %v cuts off a slow fault of 1m", p.srv.WriteTimeout)
	}
}

// TestEntryCapHoldsForEveryField: a signed request with every field at 1
// MB is still recorded within MaxRecordedEntryBytes.
func TestEntryCapHoldsForEveryField(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	hugeB := []byte(huge)
	r := Request{
		Method: huge, Path: huge, Operation: OpEncrypt, KeyID: huge,
		Metadata:            RequestMetadata{huge, huge, huge, huge, huge, huge, huge},
		EncryptionAlgorithm: huge, CDIVAlgorithm: huge, AAD: hugeB, CiphertextMetadata: hugeB,
		Host: huge, ContentType: huge, AmzDate: huge, AccessKeyID: huge, Region: huge, Service: huge,
		SignedHeaders: strings.Split(strings.Repeat("x-amz-padding-header;", 1<<14), ";"),
		Signature:     huge, SignatureValid: true, AuthError: huge,
		Fault: FaultInternal, Status: 400, ErrorName: ErrValidation,
	}
	b := r.bounded()
	if n := b.size(); n > MaxRecordedEntryBytes {
		t.Fatalf("a record of every field at its cap is %d bytes, over %d", n, MaxRecordedEntryBytes)
	} else {
		t.Logf("largest record: %d bytes, %d fields truncated; Request itself is %d", n, len(b.Truncated), (&Request{}).size())
	}
	if len(b.Truncated) != 23 { // all but the operation, fault and error name, which are the proxy's
		t.Fatalf("truncated %d fields: %q", len(b.Truncated), b.Truncated)
	}
	r.SignatureValid = false
	if s := r.bounded(); s.size() > 2048 || !s.SummaryOnly {
		t.Fatalf("summary of %d bytes", s.size())
	} else {
		t.Logf("largest summary: %d bytes", s.size())
	}
}

// TestRecorderRingMatchesModel: through growth, wrap-around and eviction
// by count and by bytes, the ring keeps what a plain slice would.
func TestRecorderRingMatchesModel(t *testing.T) {
	rc := recorder{max: 100, maxBytes: 40_000}
	var model []Request
	var modelBytes int64
	for i := range 3000 {
		r := Request{SignatureValid: true, Metadata: RequestMetadata{KMSRequestID: strings.Repeat("i", (i*7919)%2100)}}
		kept := rc.add(r)
		model = append(model, kept)
		modelBytes += int64(kept.size())
		for len(model) > 1 && (len(model) > rc.max || modelBytes > rc.maxBytes) {
			modelBytes -= int64(model[0].size())
			model = model[1:]
		}
		got := rc.list()
		n, b := rc.stats()
		if len(got) != len(model) || n != len(model) || b != modelBytes {
			t.Fatalf("after %d: kept %d (%d) records of %d bytes, model %d of %d", i+1, len(got), n, b, len(model), modelBytes)
		}
		for j := range got {
			if got[j].Seq != model[j].Seq {
				t.Fatalf("after %d: record %d is seq %d, model %d", i+1, j, got[j].Seq, model[j].Seq)
			}
		}
		if i == 1500 {
			rc.reset()
			model, modelBytes = nil, 0
		}
	}
}
