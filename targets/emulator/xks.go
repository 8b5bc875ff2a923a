package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// XKSRoute tells the emulator how to reach the proxy behind an XKS
// UriEndpoint host. Real KMS dials <host>:443 through public DNS or a VPC
// endpoint; locally the proxy listens on a loopback port with its own CA.
type XKSRoute struct {
	// Addr is the host:port to dial. Empty makes the host unreachable,
	// which is how a test breaks a proxy (XKS_PROXY_NOT_REACHABLE).
	Addr string `json:"addr"`
	// CAPEM holds the PEM certificates to trust for this proxy; empty
	// means the system roots.
	CAPEM string `json:"caPem,omitempty"`
	// ServerName overrides the name checked in the proxy's certificate;
	// empty means the UriEndpoint host, as KMS checks it.
	ServerName string `json:"serverName,omitempty"`
	// Fault, when set, is trouble on the way to the proxy that the proxy
	// itself cannot cause: RouteNetworkError (the network resets every
	// connection once it is made: NETWORK_ERRORS) or RouteKMSInternalError
	// (KMS fails internally before it sends anything: INTERNAL_ERROR).
	Fault string `json:"fault,omitempty"`
}

// The faults of an XKSRoute.
const (
	RouteNetworkError     = "network-error"
	RouteKMSInternalError = "kms-internal-error"
)

func validRouteFault(f string) bool {
	return f == "" || f == RouteNetworkError || f == RouteKMSInternalError
}

// xksKind classifies how a call to a proxy failed, in the rows of spec §7.4.
type xksKind int

const (
	xksNoConnection xksKind = iota + 1
	xksTLS
	xksTimeout
	xksMalformed
	xksProxyError // the proxy answered with an errorName
	xksAllUnavailable
	xksNetwork     // a connection made, then reset
	xksKMSInternal // KMS's own failure, not the proxy's
)

// xksFailure is a failed proxy call. detail may name the cause but never a
// credential; it reaches callers inside exception messages.
type xksFailure struct {
	kind      xksKind
	errorName string
	detail    string
}

func (f *xksFailure) Error() string { return f.detail }

func (f *xksFailure) cause() string {
	if f.kind == xksProxyError {
		return "the XKS proxy returned " + f.errorName
	}
	return f.detail
}

// adminError maps a failed health check during Create or Update to the
// exception of spec §7.4 (column Create/Update).
func (f *xksFailure) adminError() *apiError {
	switch f.kind {
	case xksNoConnection, xksTLS, xksTimeout, xksAllUnavailable:
		return clientErr(errXksUnreachable, "KMS cannot reach the XKS proxy: %s.", f.cause())
	case xksNetwork:
		return clientErr(errXksUnreachable, "KMS cannot reach the XKS proxy: %s.", f.cause())
	case xksKMSInternal:
		return internalErr("KMS could not complete the request due to an internal error.")
	case xksMalformed:
		return clientErr(errXksInvalidResponse, "KMS cannot interpret the response from the XKS proxy: %s.", f.cause())
	}
	switch f.errorName {
	case "AuthenticationFailedException":
		return clientErr(errXksIncorrectCred, "The XKS proxy rejected the proxy authentication credential.")
	case "InvalidUriPathException":
		return clientErr(errXksInvalidConf, "The XKS proxy rejected the URI path; check XksProxyUriPath.")
	case "ThrottlingException", "DependencyTimeoutException":
		return clientErr(errXksUnreachable, "KMS cannot reach the XKS proxy: %s.", f.cause())
	}
	// ValidationException and InternalException are documented as
	// InvalidResponse; the rows the table leaves open (InvalidState,
	// AccessDenied on a health check) are answered the same way (U).
	return clientErr(errXksInvalidResponse, "KMS cannot interpret the response from the XKS proxy: %s.", f.cause())
}

// connectionErrorCode maps a failed health check at the end of CONNECTING
// to the ConnectionErrorCode of spec §7.4 (column Connect).
func (f *xksFailure) connectionErrorCode() string {
	switch f.kind {
	case xksNoConnection, xksAllUnavailable:
		return "XKS_PROXY_NOT_REACHABLE"
	case xksTLS:
		return "XKS_PROXY_INVALID_TLS_CONFIGURATION"
	case xksTimeout:
		return "XKS_PROXY_TIMED_OUT"
	case xksMalformed:
		return "XKS_PROXY_INVALID_RESPONSE"
	case xksNetwork:
		// The proxy was reached, but the network broke the exchange:
		// "Network errors are preventing KMS from connecting" (SDK doc).
		return "NETWORK_ERRORS"
	case xksKMSInternal:
		return "INTERNAL_ERROR"
	}
	switch f.errorName {
	case "AuthenticationFailedException":
		return "INVALID_CREDENTIALS"
	case "AccessDeniedException":
		return "XKS_PROXY_ACCESS_DENIED"
	case "InvalidUriPathException":
		return "XKS_PROXY_INVALID_CONFIGURATION"
	case "ThrottlingException", "DependencyTimeoutException":
		// U: the proxy is reached but cannot serve; the Create column maps
		// the same rows to UriUnreachable, so NOT_REACHABLE matches it.
		return "XKS_PROXY_NOT_REACHABLE"
	}
	// ValidationException (I) and the open rows (U).
	return "XKS_PROXY_INVALID_RESPONSE"
}

// createKeyError maps a failed GetKeyMetadata during CreateKey (spec §7.4).
func (f *xksFailure) createKeyError() *apiError {
	if f.kind == xksProxyError {
		switch f.errorName {
		case "KeyNotFoundException":
			return clientErr(errXksKeyNotFound, "The external key was not found by the XKS proxy.")
		case "InvalidStateException", "InvalidKeyUsageException":
			return clientErr(errXksKeyInvalidConf, "The external key is not configured correctly: %s.", f.cause())
		}
		// AccessDenied and UnsupportedOperation: C-7. [X] names exceptions
		// CreateKey cannot raise; the modeled CustomKeyStoreInvalidState
		// with the cause in the message is the closest real answer.
	}
	return clientErr(errStoreInvalidState, "KMS cannot use the external key store: %s.", f.cause())
}

// cryptoError maps any failed proxy call during a cryptographic operation:
// always KMSInvalidStateException, with the cause only in the message.
func (f *xksFailure) cryptoError(keyArn string) *apiError {
	return clientErr(errKMSInvalidState, "%s: the external key store could not complete the request: %s.", keyArn, f.cause())
}

type xksClient struct {
	e *Emulator

	mu         sync.Mutex
	transports map[XKSRoute]*http.Transport
}

func newXKSClient(e *Emulator) *xksClient {
	return &xksClient{e: e, transports: map[XKSRoute]*http.Transport{}}
}

func (c *xksClient) routeFor(host string) (XKSRoute, bool) {
	c.e.lock()
	defer c.e.mu.Unlock()
	r, ok := c.e.st.Routes[host]
	if !ok {
		return XKSRoute{}, false
	}
	return *r, true
}

// transport returns a connection-reusing transport for one route.
func (c *xksClient) transport(host string, r XKSRoute, routed bool) (*http.Transport, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := r
	if !routed {
		key = XKSRoute{Addr: "direct:" + host}
	}
	if t := c.transports[key]; t != nil {
		return t, nil
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if r.ServerName != "" {
		tlsConf.ServerName = r.ServerName
	}
	if r.CAPEM != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(r.CAPEM)) {
			return nil, errors.New("the route's CA certificates could not be parsed")
		}
		tlsConf.RootCAs = pool
	}
	dialer := &net.Dialer{}
	t := &http.Transport{
		TLSClientConfig:     tlsConf,
		ForceAttemptHTTP2:   false,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if !routed {
				if !c.e.opts.XKSDirectDial {
					return nil, fmt.Errorf("no route to XKS proxy host %s", host)
				}
				return dialer.DialContext(ctx, network, addr)
			}
			if r.Addr == "" {
				return nil, fmt.Errorf("XKS proxy host %s is unreachable", host)
			}
			conn, err := dialer.DialContext(ctx, network, r.Addr)
			if err == nil && r.Fault == RouteNetworkError {
				return &resetConn{Conn: conn}, nil
			}
			return conn, err
		},
	}
	c.transports[key] = t
	return t, nil
}

// keptTransports is how many transports forgetRoutes keeps for routes no
// longer in use, so that a route that comes back (a proxy reused after a
// Reset, a fault mended) reuses its connections.
const keptTransports = 8

// forgetRoutes runs after the routes change. Transports are cached by the
// whole route (address, CA, server name), so a changed route never reuses
// a connection of the old one; this only bounds the cache, closing the
// transports of routes no longer in use once there are more than
// keptTransports of them.
func (c *xksClient) forgetRoutes() {
	c.e.lock()
	current := map[XKSRoute]bool{}
	for _, r := range c.e.st.Routes {
		current[*r] = true
	}
	c.e.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	var stale []XKSRoute
	for k := range c.transports {
		if !current[k] {
			stale = append(stale, k)
		}
	}
	if len(stale) <= keptTransports {
		return
	}
	for _, k := range stale {
		c.transports[k].CloseIdleConnections()
		delete(c.transports, k)
	}
}

// call POSTs one XKS API request and decodes a 2xx answer into out.
func (c *xksClient) call(ctx context.Context, cfg xksConfig, suffix string, in, out any) *xksFailure {
	host := strings.TrimPrefix(cfg.Endpoint, "https://")
	route, routed := c.routeFor(host)
	if f := c.e.noXKSRoute(host, routed); f != nil {
		return f
	}
	if routed && route.Fault == RouteKMSInternalError {
		return &xksFailure{kind: xksKMSInternal, detail: "KMS could not complete the request due to an internal error"}
	}
	tr, err := c.transport(host, route, routed)
	if err != nil {
		return &xksFailure{kind: xksTLS, detail: err.Error()}
	}
	body, err := json.Marshal(in)
	if err != nil {
		return &xksFailure{kind: xksMalformed, detail: "request encoding failed"}
	}
	ctx, cancel := context.WithTimeout(ctx, c.e.opts.XKSTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.Endpoint+cfg.Path+suffix, bytes.NewReader(body))
	if err != nil {
		return &xksFailure{kind: xksNoConnection, detail: "the proxy URI is not valid"}
	}
	sum := sha256.Sum256(body)
	// The XKS spec signs exactly host and x-amz-date (spec §7.3), so the
	// length and type headers are set only after signing.
	length := req.ContentLength
	req.ContentLength = 0
	creds := aws.Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.Secret}
	// A signer per request: the SDK's signer caches derived keys by access
	// key id alone, so a shared one would sign for a store whose secret
	// differs from another's under the same id with the other's secret.
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "kms-xks-proxy", c.e.opts.Region, time.Now()); err != nil {
		return &xksFailure{kind: xksNoConnection, detail: "request signing failed"}
	}
	req.ContentLength = length
	req.Header.Set("Content-Type", "application/json")
	// No XKS API call changes anything on the proxy, so a request that
	// meets a kept-alive connection the proxy has just closed (it does on
	// a change of certificate) may go again on a new one: a nil header of
	// this name marks the request replayable and is not sent.
	req.Header["X-Idempotency-Key"] = nil
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return classifyTransport(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return classifyTransport(err)
	}
	if resp.StatusCode/100 != 2 {
		var perr struct {
			ErrorName string `json:"errorName"`
		}
		if json.Unmarshal(raw, &perr) != nil || perr.ErrorName == "" {
			return &xksFailure{kind: xksMalformed, detail: fmt.Sprintf("the XKS proxy answered HTTP %d without an XKS error body", resp.StatusCode)}
		}
		if !knownProxyErrors[perr.ErrorName] {
			return &xksFailure{kind: xksMalformed, detail: "the XKS proxy returned an unknown error name"}
		}
		return &xksFailure{kind: xksProxyError, errorName: perr.ErrorName, detail: "the XKS proxy returned " + perr.ErrorName}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &xksFailure{kind: xksMalformed, detail: "the XKS proxy response is not valid JSON of the expected shape"}
	}
	return nil
}

var knownProxyErrors = map[string]bool{
	"ValidationException": true, "InvalidStateException": true, "InvalidCiphertextException": true,
	"InvalidKeyUsageException": true, "AuthenticationFailedException": true, "AccessDeniedException": true,
	"KeyNotFoundException": true, "InvalidUriPathException": true, "ThrottlingException": true,
	"UnsupportedOperationException": true, "DependencyTimeoutException": true, "InternalException": true,
}

func classifyTransport(err error) *xksFailure {
	var (
		certErr    *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		recordErr  tls.RecordHeaderError
		alertErr   tls.AlertError
		netErr     net.Error
	)
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return &xksFailure{kind: xksNetwork, detail: "the network reset the connection to the XKS proxy"}
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr),
		errors.As(err, &invalidErr), errors.As(err, &recordErr), errors.As(err, &alertErr):
		return &xksFailure{kind: xksTLS, detail: "the TLS connection to the XKS proxy failed"}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return &xksFailure{kind: xksTimeout, detail: "the XKS proxy did not answer in time"}
	case strings.Contains(err.Error(), "tls:"):
		return &xksFailure{kind: xksTLS, detail: "the TLS connection to the XKS proxy failed"}
	}
	return &xksFailure{kind: xksNoConnection, detail: "KMS cannot connect to the XKS proxy"}
}

type xksRequestMetadata struct {
	AwsPrincipalArn string `json:"awsPrincipalArn,omitempty"`
	KmsOperation    string `json:"kmsOperation"`
	KmsRequestID    string `json:"kmsRequestId"`
	KmsKeyArn       string `json:"kmsKeyArn,omitempty"`
}

func (c *xksClient) metadata(op, keyArn string) xksRequestMetadata {
	m := xksRequestMetadata{KmsOperation: op, KmsRequestID: newUUID(), KmsKeyArn: keyArn}
	if op != "CreateCustomKeyStore" && op != "ConnectCustomKeyStore" && op != "UpdateCustomKeyStore" && op != "KmsHealthCheck" {
		m.AwsPrincipalArn = c.e.iamArn("root")
	}
	return m
}

func (c *xksClient) health(ctx context.Context, cfg xksConfig, op string) *xksFailure {
	var out struct {
		XksProxyFleetSize *int `json:"xksProxyFleetSize"`
		EkmFleetDetails   []struct {
			HealthStatus string `json:"healthStatus"`
		} `json:"ekmFleetDetails"`
	}
	in := map[string]any{"requestMetadata": map[string]string{"kmsRequestId": newUUID(), "kmsOperation": op}}
	if f := c.call(ctx, cfg, "/health", in, &out); f != nil {
		return f
	}
	if out.XksProxyFleetSize == nil || *out.XksProxyFleetSize < 1 || len(out.EkmFleetDetails) < 1 || len(out.EkmFleetDetails) > 10 {
		return &xksFailure{kind: xksMalformed, detail: "the XKS proxy health status lacks a fleet size or external key manager details"}
	}
	available := false
	for _, d := range out.EkmFleetDetails {
		switch d.HealthStatus {
		case "ACTIVE", "DEGRADED":
			available = true
		case "UNAVAILABLE":
		default:
			return &xksFailure{kind: xksMalformed, detail: "the XKS proxy reported an unknown health status"}
		}
	}
	if !available {
		return &xksFailure{kind: xksAllUnavailable, detail: "every external key manager is UNAVAILABLE"}
	}
	return nil
}

// keyMetadata checks an external key for CreateKey (spec §2.7).
func (c *xksClient) keyMetadata(ctx context.Context, cfg xksConfig, xksKeyID string) (*xksFailure, string) {
	var out struct {
		KeySpec   string   `json:"keySpec"`
		KeyUsage  []string `json:"keyUsage"`
		KeyStatus string   `json:"keyStatus"`
	}
	in := map[string]any{"requestMetadata": c.metadata("CreateKey", "")}
	if f := c.call(ctx, cfg, "/keys/"+xksKeyID+"/metadata", in, &out); f != nil {
		return f, ""
	}
	if out.KeySpec == "" || out.KeyStatus == "" || len(out.KeyUsage) == 0 || len(out.KeyUsage) > 10 {
		return &xksFailure{kind: xksMalformed, detail: "the XKS proxy key metadata is incomplete"}, ""
	}
	hasEnc, hasDec := false, false
	for _, u := range out.KeyUsage {
		hasEnc = hasEnc || u == "ENCRYPT"
		hasDec = hasDec || u == "DECRYPT"
	}
	switch {
	case out.KeySpec != "AES_256":
		return nil, "the external key spec is " + out.KeySpec + ", not AES_256"
	case !hasEnc || !hasDec:
		return nil, "the external key usage does not include ENCRYPT and DECRYPT"
	case out.KeyStatus != "ENABLED":
		return nil, "the external key is " + out.KeyStatus
	}
	return nil, ""
}

type xksCiphertext struct {
	Ciphertext []byte
	IV         []byte
	Tag        []byte
	Metadata   []byte
}

func (c *xksClient) encrypt(ctx context.Context, cfg xksConfig, xksKeyID, keyArn, op string, plaintext, aad []byte) (*xksCiphertext, *xksFailure) {
	in := map[string]any{
		"requestMetadata":                       c.metadata(op, keyArn),
		"plaintext":                             plaintext,
		"encryptionAlgorithm":                   "AES_GCM",
		"ciphertextDataIntegrityValueAlgorithm": "SHA_256",
	}
	if len(aad) > 0 {
		in["additionalAuthenticatedData"] = aad
	}
	var out struct {
		Ciphertext                   []byte `json:"ciphertext"`
		InitializationVector         []byte `json:"initializationVector"`
		AuthenticationTag            []byte `json:"authenticationTag"`
		CiphertextMetadata           []byte `json:"ciphertextMetadata"`
		CiphertextDataIntegrityValue []byte `json:"ciphertextDataIntegrityValue"`
	}
	if f := c.call(ctx, cfg, "/keys/"+xksKeyID+"/encrypt", in, &out); f != nil {
		return nil, f
	}
	if ((len(out.InitializationVector) != 12 && len(out.InitializationVector) != 16) || len(out.AuthenticationTag) != 16 ||
		len(out.CiphertextMetadata) > 20 || len(out.Ciphertext) != len(plaintext)) && !c.e.mut(mutXksEncryptUnchecked) {
		return nil, &xksFailure{kind: xksMalformed, detail: "the XKS proxy returned an invalid ciphertext"}
	}
	// KMS checks the integrity value it asked for (spec §7.2): a proxy that
	// garbles a ciphertext must be caught now, not at decrypt time.
	h := sha256.New()
	h.Write(aad)
	h.Write(out.CiphertextMetadata)
	h.Write(out.InitializationVector)
	h.Write(out.Ciphertext)
	h.Write(out.AuthenticationTag)
	if subtle.ConstantTimeCompare(h.Sum(nil), out.CiphertextDataIntegrityValue) != 1 {
		return nil, &xksFailure{kind: xksMalformed, detail: "the XKS proxy ciphertext data integrity value does not match"}
	}
	return &xksCiphertext{Ciphertext: out.Ciphertext, IV: out.InitializationVector, Tag: out.AuthenticationTag, Metadata: out.CiphertextMetadata}, nil
}

func (c *xksClient) decrypt(ctx context.Context, cfg xksConfig, xksKeyID, keyArn, op string, ct *xksCiphertext, aad []byte) ([]byte, *xksFailure) {
	in := map[string]any{
		"requestMetadata":      c.metadata(op, keyArn),
		"ciphertext":           ct.Ciphertext,
		"encryptionAlgorithm":  "AES_GCM",
		"initializationVector": ct.IV,
		"authenticationTag":    ct.Tag,
	}
	if len(ct.Metadata) > 0 {
		in["ciphertextMetadata"] = ct.Metadata
	}
	if len(aad) > 0 {
		in["additionalAuthenticatedData"] = aad
	}
	var out struct {
		Plaintext []byte `json:"plaintext"`
	}
	if f := c.call(ctx, cfg, "/keys/"+xksKeyID+"/decrypt", in, &out); f != nil {
		return nil, f
	}
	if len(out.Plaintext) != len(ct.Ciphertext) {
		return nil, &xksFailure{kind: xksMalformed, detail: "the XKS proxy returned a plaintext of the wrong length"}
	}
	return out.Plaintext, nil
}

// finishXKSConnect runs the end of an XKS CONNECTING outside the lock and
// applies the result if the transition it belongs to is still current.
func (e *Emulator) finishXKSConnect(id string, gen int64, cfg xksConfig) {
	code, detail := "", ""
	e.lock()
	if cfg.Connectivity == connVPC {
		// KMS checks the endpoint service before it builds the interface
		// endpoint through which it sends GetHealthStatus (spec §2.2).
		code, _, detail = e.vpcProblemLocked(cfg)
	}
	e.mu.Unlock()
	if code == "" {
		if f := e.xks.health(context.Background(), cfg, "ConnectCustomKeyStore"); f != nil {
			code, detail = f.connectionErrorCode(), f.cause()
		}
	}
	e.lock()
	defer e.mu.Unlock()
	s := e.st.Stores[id]
	if s == nil || s.gen != gen {
		if s != nil {
			// A newer transition may be waiting for this check to end
			// before it starts its own.
			s.checking = false
			close(e.changed)
			e.changed = make(chan struct{})
		}
		return
	}
	s.checking = false
	if code != "" {
		switch {
		case e.mut(mutXksFailedNoCode):
			code = ""
		case code == "XKS_PROXY_NOT_REACHABLE" && e.mut(mutXksUnreachableTimedOut):
			code = "XKS_PROXY_TIMED_OUT"
		case code == "NETWORK_ERRORS" && e.mut(mutXksNetworkUnreachable):
			code = "XKS_PROXY_NOT_REACHABLE"
		}
		s.setState(stateFailed, code, detail)
	} else {
		s.setState(stateConnected, "", "")
		if e.mut(mutReconnectLosesKeys) {
			for id, k := range e.st.Keys {
				if k.StoreID == s.ID {
					delete(e.st.Keys, id)
					e.touchKeyLocked(id)
				}
			}
		}
	}
	if err := e.notifyLocked(); err != nil {
		e.log.Error("state not saved", "err", err)
	}
}

func xksTarget(s *store) xksConfig { return s.xks() }

// resetConn is a connection the network resets once it is made: the
// request goes out, and every read fails as a TCP reset does.
type resetConn struct{ net.Conn }

func (c *resetConn) Read([]byte) (int, error) {
	_ = c.Conn.Close()
	return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("read", syscall.ECONNRESET)}
}
