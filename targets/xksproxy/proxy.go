package xksproxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Proxy. The zero value is a TLS proxy on a free
// loopback port with URI path /kms/xks/v1 and one generated credential.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0" (a free port).
	Addr string
	// PathPrefix goes before /kms/xks/v1, e.g. "/tenant-1"; default none.
	PathPrefix string
	// ServerName is the DNS name in the server certificate and in
	// URIEndpoint; default "localhost". The certificate also covers
	// localhost, 127.0.0.1 and ::1.
	ServerName string
	// PlainHTTP serves HTTP instead of HTTPS, for a proxy behind a TLS
	// terminator. TLS faults then have no effect.
	PlainHTTP bool
	// TLSDir keeps the CA (ca.pem, ca-key.pem) across runs; it is created
	// if missing. Empty means a new in-memory CA per Proxy.
	TLSDir string
	// Credentials accepted for SigV4; empty means one generated
	// credential. At least two can be active at once, for rotation.
	Credentials []Credential
	// Region, if set, is the only credential-scope Region accepted.
	Region string
	// ClockSkew bounds |X-Amz-Date - now|; default DefaultClockSkew.
	ClockSkew time.Duration
	// SlowDelay is how long FaultSlow holds an answer; default 300 ms.
	SlowDelay time.Duration
	// EKMCount is the number of ekmFleetDetails entries (1-10); default 2.
	EKMCount int
	// NoCiphertextMetadata stops Encrypt from returning ciphertextMetadata
	// (by default it returns 13 bytes, so clients must pass it back).
	NoCiphertextMetadata bool
	// ControlAddr, if set, serves the HTTP control API there (see
	// ControlHandler). It is a separate listener so that the unreachable
	// and TLS faults never cut off the way to clear them.
	ControlAddr string
	// MaxRecorded bounds the number of recorded requests; default
	// DefaultMaxRecorded (10,000).
	MaxRecorded int
	// MaxRecordedBytes bounds their accounted size; default
	// DefaultMaxRecordedBytes (16 MiB). Either bound evicts the oldest.
	MaxRecordedBytes int64

	// Bounds of both listeners (API and control), so that no client can
	// hold a connection, or the proxy's memory, for long. Zero means the
	// default; see the Default constants for why each value.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	// WriteTimeout defaults to ReadTimeout + SlowDelay + 5 s: it runs
	// from the end of the headers, so it must outlast the body and the
	// slow fault, or that fault would turn into a dropped connection.
	WriteTimeout   time.Duration
	IdleTimeout    time.Duration
	MaxHeaderBytes int

	// Logger receives one line per request (never secrets or plaintext);
	// nil discards.
	Logger *slog.Logger
	// Now is the clock of the signature check; default time.Now.
	Now func() time.Time
}

// DefaultSlowDelay exceeds KMS's 250 ms XKS request timeout.
const DefaultSlowDelay = 300 * time.Millisecond

// Server bounds. KMS gives up on an XKS request after 250 ms, so any
// request still arriving after a few seconds is already lost to its
// client: these values only need to free the connection, with a wide
// margin for a loaded CI machine, a race-enabled build or a client far
// away. Trickled headers or bodies and idle keep-alives otherwise hold a
// connection (and a file descriptor) forever.
const (
	// DefaultReadHeaderTimeout bounds the request line and headers, and,
	// being the shortest timeout, the TLS handshake too. A KMS request's
	// headers arrive in one packet; 5 s also survives a burst of
	// thousands of concurrent handshakes on two cores.
	DefaultReadHeaderTimeout = 5 * time.Second
	// DefaultReadTimeout bounds the whole request, body included: 40
	// times KMS's budget, and still time for a 1 MiB body (the largest
	// accepted) at under 1 Mbit/s.
	DefaultReadTimeout = 10 * time.Second
	// DefaultWriteTimeout is the WriteTimeout of default Options (see
	// Options.WriteTimeout): our answers are a few KiB, so it is mostly
	// the time to read the body and run the handler.
	DefaultWriteTimeout = DefaultReadTimeout + DefaultSlowDelay + writeMargin
	// DefaultIdleTimeout closes an idle keep-alive connection. It is
	// longer than the idle timeout of every client we know (the AWS
	// SDK's 90 s, the emulator's XKS client's and Transport's 30 s), so
	// the client, never the proxy, closes an idle connection: a server
	// that closes first races a client reusing the connection, and a
	// POST that loses that race is not retried. KMS-like clients calling
	// at least every two minutes keep their connection.
	DefaultIdleTimeout = 120 * time.Second
	// DefaultMaxHeaderBytes bounds the request line and headers (larger:
	// 431). A KMS request's are under 1 KiB: a URI path of at most 128
	// characters, a key id of at most 128 and one SigV4 Authorization
	// header; 16 KiB leaves room for what a load balancer adds.
	DefaultMaxHeaderBytes = 16 << 10

	writeMargin = 5 * time.Second
)

// ciphertextMetadata is what Encrypt returns unless NoCiphertextMetadata;
// a version tag, as real key managers use the field, of the 20 bytes the
// XKS spec allows at most (so a client must take the longest).
var ciphertextMetadata = []byte("kmsconform-xks-v1.00")

var prefixPattern = regexp.MustCompile(`^(/[a-zA-Z0-9_-]+)*$`)

// Proxy is an XKS proxy. Create it with New, then Start it.
type Proxy struct {
	opts    Options
	uriPath string
	certs   *certSet
	keys    *Keys
	log     *slog.Logger
	rec     recorder
	api     verifier
	ctlAuth verifier
	closing chan struct{}

	faultMu sync.Mutex

	mu        sync.RWMutex
	creds     []Credential
	fault     Fault
	keyFaults map[string]Fault
	denyRules []DenyRule

	lnMu    sync.Mutex
	addr    string
	ln      net.Listener
	started bool
	closed  bool
	srv     *http.Server
	ctlSrv  *http.Server
	ctlLn   net.Listener
	serveWG sync.WaitGroup

	connMu sync.Mutex
	conns  map[net.Conn]struct{}

	// slowHeld counts requests FaultSlow is holding, so a test can wait
	// for one without sleeping.
	slowHeld atomic.Int64
	// shapedMetadata and shapedEncrypt count the answers the answer-shape
	// faults broke, to pick the next shape of each.
	shapedMetadata, shapedEncrypt, shapedHealth atomic.Uint64
}

// New builds a proxy without listening yet; call Start.
func New(o Options) (*Proxy, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.ServerName == "" {
		o.ServerName = "localhost"
	}
	if o.ClockSkew <= 0 {
		o.ClockSkew = DefaultClockSkew
	}
	if o.SlowDelay <= 0 {
		o.SlowDelay = DefaultSlowDelay
	}
	if o.EKMCount == 0 {
		o.EKMCount = 2
	}
	if o.EKMCount < 1 || o.EKMCount > 10 {
		return nil, errors.New("xksproxy: EKMCount must be 1-10")
	}
	if o.MaxRecorded <= 0 {
		o.MaxRecorded = DefaultMaxRecorded
	}
	if o.MaxRecordedBytes <= 0 {
		o.MaxRecordedBytes = DefaultMaxRecordedBytes
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = o.ReadTimeout + o.SlowDelay + writeMargin
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.PathPrefix = strings.TrimSuffix(o.PathPrefix, "/")
	if !prefixPattern.MatchString(o.PathPrefix) {
		return nil, fmt.Errorf("xksproxy: path prefix %q must be /-separated segments of [a-zA-Z0-9_-]", o.PathPrefix)
	}
	p := &Proxy{
		opts:      o,
		uriPath:   o.PathPrefix + "/kms/xks/v1",
		keys:      newKeys(),
		log:       o.Logger,
		rec:       recorder{max: o.MaxRecorded, maxBytes: o.MaxRecordedBytes},
		closing:   make(chan struct{}),
		keyFaults: map[string]Fault{},
		conns:     map[net.Conn]struct{}{},
	}
	if len(p.uriPath) > 128 {
		return nil, errors.New("xksproxy: URI path longer than 128 characters")
	}
	if p.log == nil {
		p.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for _, c := range o.Credentials {
		if err := p.AddCredential(c); err != nil {
			return nil, err
		}
	}
	if len(p.creds) == 0 {
		c, err := GenerateCredential()
		if err != nil {
			return nil, err
		}
		p.creds = []Credential{c}
	}
	p.opts.Credentials = nil // the live list is p.creds
	p.api = verifier{service: ServiceName, region: o.Region, skew: o.ClockSkew, now: o.Now, secret: p.secret}
	p.ctlAuth = verifier{service: ControlServiceName, skew: o.ClockSkew, now: o.Now, secret: p.secret}
	if !o.PlainHTTP {
		cs, err := newCertSet(o.TLSDir, o.ServerName, time.Now())
		if err != nil {
			return nil, err
		}
		p.certs = cs
	}
	p.srv = p.newServer(http.HandlerFunc(p.serveAPI))
	p.srv.ConnState = p.trackConn
	return p, nil
}

// newServer is an http.Server with the proxy's bounds, for either
// listener.
func (p *Proxy) newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: p.opts.ReadHeaderTimeout,
		ReadTimeout:       p.opts.ReadTimeout,
		WriteTimeout:      p.opts.WriteTimeout,
		IdleTimeout:       p.opts.IdleTimeout,
		MaxHeaderBytes:    p.opts.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
}

// Start listens on Options.Addr (and ControlAddr, if set) and serves in
// the background.
func (p *Proxy) Start() error {
	p.lnMu.Lock()
	defer p.lnMu.Unlock()
	if p.closed {
		return errors.New("xksproxy: proxy is closed")
	}
	if p.started {
		return errors.New("xksproxy: already started")
	}
	p.addr = p.opts.Addr
	if err := p.listenLocked(); err != nil {
		return err
	}
	if p.proxyFault() == FaultUnreachable {
		// Set before Start: the port is chosen, but nobody answers on it.
		p.ln.Close()
		p.ln = nil
	}
	if p.opts.ControlAddr != "" {
		ln, err := net.Listen("tcp", p.opts.ControlAddr)
		if err != nil {
			p.ln.Close()
			return fmt.Errorf("xksproxy: control listener: %w", err)
		}
		p.ctlLn = ln
		p.ctlSrv = p.newServer(p.ControlHandler())
		p.serveWG.Add(1)
		go func() { defer p.serveWG.Done(); _ = p.ctlSrv.Serve(ln) }()
	}
	p.started = true
	return nil
}

// listenLocked (re)opens the API listener. After the first Start, addr is
// the concrete host:port, so a restart after FaultUnreachable keeps the
// endpoint clients were given.
func (p *Proxy) listenLocked() error {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("xksproxy: listen: %w", err)
	}
	p.addr = ln.Addr().String()
	if p.certs != nil {
		ln = tls.NewListener(ln, p.tlsConfig())
	}
	p.ln = ln
	p.serveWG.Add(1)
	go func() { defer p.serveWG.Done(); _ = p.srv.Serve(ln) }()
	return nil
}

func (p *Proxy) trackConn(c net.Conn, s http.ConnState) {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	switch s {
	case http.StateNew:
		p.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(p.conns, c)
	}
}

// goUnreachable closes the listener and every connection, so that both new
// dials and kept-alive connections fail as for a host that is down.
func (p *Proxy) goUnreachable() {
	p.lnMu.Lock()
	defer p.lnMu.Unlock()
	if p.ln == nil {
		return
	}
	p.ln.Close()
	p.ln = nil
	p.connMu.Lock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
	p.connMu.Unlock()
}

func (p *Proxy) goReachable() error {
	p.lnMu.Lock()
	defer p.lnMu.Unlock()
	if !p.started || p.closed || p.ln != nil {
		return nil
	}
	return p.listenLocked()
}

// Close stops the listeners and ends every connection, including requests
// held by FaultSlow.
func (p *Proxy) Close() error {
	p.lnMu.Lock()
	if p.closed {
		p.lnMu.Unlock()
		return nil
	}
	p.closed = true
	close(p.closing)
	p.ln = nil
	err := p.srv.Close()
	if p.ctlSrv != nil {
		if cerr := p.ctlSrv.Close(); err == nil {
			err = cerr
		}
	}
	p.lnMu.Unlock()
	p.serveWG.Wait()
	return err
}

// Shutdown stops accepting and waits for requests in flight, up to ctx.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.lnMu.Lock()
	if p.closed {
		p.lnMu.Unlock()
		return nil
	}
	p.closed = true
	close(p.closing)
	p.ln = nil
	p.lnMu.Unlock()
	err := p.srv.Shutdown(ctx)
	if p.ctlSrv != nil {
		if cerr := p.ctlSrv.Shutdown(ctx); err == nil {
			err = cerr
		}
	}
	if err != nil {
		_ = p.srv.Close()
		if p.ctlSrv != nil {
			_ = p.ctlSrv.Close()
		}
	}
	p.serveWG.Wait()
	return err
}

// Addr is the host:port the proxy listens on (valid after Start).
func (p *Proxy) Addr() string {
	p.lnMu.Lock()
	defer p.lnMu.Unlock()
	return p.addr
}

// ControlAddr is the control listener's host:port, or "" if none.
func (p *Proxy) ControlAddr() string {
	p.lnMu.Lock()
	defer p.lnMu.Unlock()
	if p.ctlLn == nil {
		return ""
	}
	return p.ctlLn.Addr().String()
}

// ServerName is the DNS name the server certificate is issued for.
func (p *Proxy) ServerName() string { return p.opts.ServerName }

// URIEndpoint is scheme://ServerName:port, dialable by any client that
// resolves ServerName to the loopback address and trusts CACertPEM. KMS's
// own pattern allows no port: to use "https://"+ServerName() as the
// store's XksProxyUriEndpoint, give the XKS client Transport().
func (p *Proxy) URIEndpoint() string {
	scheme := "https"
	if p.opts.PlainHTTP {
		scheme = "http"
	}
	_, port, _ := net.SplitHostPort(p.Addr())
	return scheme + "://" + net.JoinHostPort(p.opts.ServerName, port)
}

// KMSURIEndpoint is the XksProxyUriEndpoint to give KMS: "https://" and
// ServerName, without a port, which is all KMS's pattern
// ^https://[a-zA-Z0-9.-]+$ allows. Whoever calls the proxy through it
// must route the name to Addr (a TLS terminator, a load balancer, or
// the emulator's XKS route): URIEndpoint is the address it listens on.
func (p *Proxy) KMSURIEndpoint() string { return "https://" + p.opts.ServerName }

// URIPath is the XksProxyUriPath: [PathPrefix]/kms/xks/v1.
func (p *Proxy) URIPath() string { return p.uriPath }

// CACertPEM is the PEM of the CA that issued the server certificate; nil
// for a plain HTTP proxy.
func (p *Proxy) CACertPEM() []byte {
	if p.certs == nil {
		return nil
	}
	return slices.Clone(p.certs.caPEM)
}

// CertPool holds only the proxy's CA; nil for a plain HTTP proxy.
func (p *Proxy) CertPool() *x509.CertPool {
	if p.certs == nil {
		return nil
	}
	return p.certs.pool.Clone()
}

// Transport is an HTTP/1.1 transport that trusts the proxy's CA and dials
// the proxy for every host name, so any URL whose host is ServerName
// reaches it. TLS verification stays on: the TLS faults fail as they
// would for KMS. Each call returns a new transport.
func (p *Proxy) Transport() *http.Transport {
	var d net.Dialer
	return &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, p.Addr())
		},
		TLSClientConfig:     &tls.Config{RootCAs: p.CertPool(), MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   false,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
}

// Keys is the registry of external keys.
func (p *Proxy) Keys() *Keys { return p.keys }

// Credential is the first accepted credential (the one to configure in
// KMS), or the zero Credential if all were removed.
func (p *Proxy) Credential() Credential {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if len(p.creds) == 0 {
		return Credential{}
	}
	return p.creds[0]
}

// Credentials lists the accepted credentials, oldest first.
func (p *Proxy) Credentials() []Credential {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Clone(p.creds)
}

// AddCredential accepts one more credential; both old and new then work,
// which is step 1 of the spec's rotation procedure.
func (p *Proxy) AddCredential(c Credential) error {
	if err := c.Validate(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, old := range p.creds {
		if old.AccessKeyID == c.AccessKeyID {
			return fmt.Errorf("xksproxy: access key id %s already configured", c.AccessKeyID)
		}
	}
	p.creds = append(p.creds, c)
	return nil
}

// RemoveCredential stops accepting a credential. Removing the last one is
// allowed: every request then fails authentication.
func (p *Proxy) RemoveCredential(accessKeyID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, c := range p.creds {
		if c.AccessKeyID == accessKeyID {
			p.creds = slices.Delete(p.creds, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("xksproxy: no credential with access key id %s", accessKeyID)
}

func (p *Proxy) secret(accessKeyID string) (string, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, c := range p.creds {
		if c.AccessKeyID == accessKeyID {
			return c.SecretAccessKey, true
		}
	}
	return "", false
}

// SetFault sets the proxy-wide fault, replacing the previous one;
// FaultNone clears it.
func (p *Proxy) SetFault(f Fault) error {
	if err := f.check(false); err != nil {
		return err
	}
	// faultMu makes the fault and the listener state change together:
	// two racing SetFault calls must not leave the fault "none" with the
	// listener closed.
	p.faultMu.Lock()
	defer p.faultMu.Unlock()
	p.mu.Lock()
	prev := p.fault
	p.fault = f
	p.mu.Unlock()
	if f == FaultUnreachable {
		p.goUnreachable()
		return nil
	}
	if prev.isTLS() || f.isTLS() {
		// A client keeps using a connection whose handshake predates the
		// change; closing them makes the next request handshake again.
		p.closeConns()
	}
	return p.goReachable()
}

func (p *Proxy) closeConns() {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// SetKeyFault sets the fault of one external key (which need not exist);
// FaultNone clears it. Only faults with KeyScoped() are allowed.
func (p *Proxy) SetKeyFault(keyID string, f Fault) error {
	if err := f.check(true); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if f == FaultNone {
		delete(p.keyFaults, keyID)
	} else {
		p.keyFaults[keyID] = f
	}
	return nil
}

// ClearFaults removes the proxy-wide and every key fault.
func (p *Proxy) ClearFaults() error {
	p.mu.Lock()
	p.keyFaults = map[string]Fault{}
	p.mu.Unlock()
	return p.SetFault(FaultNone)
}

// Fault is the current proxy-wide fault.
func (p *Proxy) Fault() Fault { return p.proxyFault() }

// KeyFaults maps key IDs to their faults.
func (p *Proxy) KeyFaults() map[string]Fault {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make(map[string]Fault, len(p.keyFaults))
	for k, v := range p.keyFaults {
		out[k] = v
	}
	return out
}

func (p *Proxy) proxyFault() Fault {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.fault
}

func (p *Proxy) keyFault(id string) Fault {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.keyFaults[id]
}

// Requests returns the recorded requests, oldest first.
func (p *Proxy) Requests() []Request { return p.rec.list() }

// RecordedBytes is the accounted size of the recorded requests, which
// Options.MaxRecordedBytes bounds.
func (p *Proxy) RecordedBytes() int64 {
	_, b := p.rec.stats()
	return b
}

// ResetRequests forgets the recorded requests.
func (p *Proxy) ResetRequests() { p.rec.reset() }
