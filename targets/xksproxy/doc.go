// Package xksproxy is a real external key store proxy (XKS Proxy API v1)
// with fault injection.
//
// KMS talks to an external key store only through such a proxy: four
// SigV4-signed JSON calls (GetHealthStatus, GetKeyMetadata, Encrypt,
// Decrypt) under https://<endpoint><prefix>/kms/xks/v1. This proxy
// implements them with AES-256-GCM under keys it holds, verifies SigV4
// (service kms-xks-proxy, 5-minute clock skew, several credentials at once
// for rotation), serves HTTPS from a CA it generates, and can be told to
// misbehave in every way the XKS error table distinguishes: that is how
// the suite drives external key stores into FAILED with each
// ConnectionErrorCode and crypto operations into KMSInvalidStateException.
//
// # Use from Go
//
//	p, err := xksproxy.New(xksproxy.Options{})  // TLS, free loopback port
//	if err != nil { ... }
//	if err := p.Start(); err != nil { ... }
//	defer p.Close()
//	p.Keys().Create("key-1", xksproxy.KeyOptions{})
//	p.Keys().Create("enc-only", xksproxy.KeyOptions{Usage: []string{xksproxy.UsageEncrypt}})
//	cred := p.Credential()            // AccessKeyID + SecretAccessKey for the store
//	client := &http.Client{Transport: p.Transport(), Timeout: 250 * time.Millisecond}
//	url := p.URIEndpoint() + p.URIPath() + "/health"  // sign with SigV4, POST
//	p.SetFault(xksproxy.FaultThrottling)             // every request: 429 ThrottlingException
//	p.SetKeyFault("key-1", xksproxy.FaultSlow)       // this key: answers after SlowDelay
//	p.ClearFaults()
//	for _, r := range p.Requests() { _ = r.Metadata.KMSOperation }
//
// The certificate is issued for ServerName (default "localhost"),
// localhost, 127.0.0.1 and ::1 by a CA whose PEM is CACertPEM. Transport
// trusts that CA and dials the proxy whatever the URL's host and port, so
// a client can use an endpoint in KMS's format ("https://"+ServerName(),
// no port).
//
// # Order of checks
//
// For each request: the path (unknown: 404 InvalidUriPathException), the
// method (not POST: 405), the proxy-wide fault, the signature (401
// AuthenticationFailedException), the body (400 ValidationException; for
// GetHealthStatus, only a body that is not a JSON object or a
// requestMetadata without kmsRequestId or kmsOperation, which its section
// of the spec requires), the key fault, the deny rules (403
// AccessDeniedException; never for GetHealthStatus), the key (404
// KeyNotFoundException), key status (400 InvalidStateException), key spec
// and usage (400 InvalidKeyUsageException), then the cryptography (400
// InvalidCiphertextException when GCM authentication fails). An injected
// fault therefore answers even an unsigned request; Requests still shows
// (in a summary) that its signature was not valid.
//
// # Keys
//
// A key's usage list decides what it may do: Encrypt needs ENCRYPT and
// Decrypt needs DECRYPT, else 400 InvalidKeyUsageException (as for a key
// spec other than AES_256); GetKeyMetadata reports the list as it is, so
// a key without both also fails KMS's CreateKey checks. KeyOptions.Usage
// sets it at creation (an empty, non-nil list: neither), Keys.SetUsage
// and the control API's PATCH /keys/{id} change it later, and
// kmsconform xks-proxy --key ID=USAGE[,USAGE] creates such keys at start.
//
// # Faults
//
// See the Fault constants: unreachable (listener closed), slow, one per
// error name of the spec, non-JSON and malformed JSON answers, expired,
// wrong-name and untrusted-CA certificates, TLS 1.0/1.1 only, and health
// answers with every key manager UNAVAILABLE or DEGRADED (or just one
// UNAVAILABLE). Set them with SetFault and SetKeyFault, or over HTTP
// through ControlHandler, which runs on a listener of its own
// (Options.ControlAddr) so the unreachable and TLS faults never cut off
// the way to clear them.
//
// # Bounds
//
// Whoever can reach the port can send requests, signed or not, so both
// listeners are bounded (see the Default constants for the reasons of
// each value, and Options to change them): headers and request line 16
// KiB (larger: 431), an API body 1 MiB (larger: 400 ValidationException),
// a control body 64 KiB (larger: 413); 5 s to send the headers (and
// finish the TLS handshake), 10 s for the whole request, ReadTimeout +
// SlowDelay + 5 s to answer, and 120 s before an idle keep-alive
// connection is closed. A request whose body stops arriving is dropped
// without an answer.
//
// Requests records a request in full only if its signature was valid, and
// cuts every field to a cap (request metadata 2 KiB each, AAD its first 8
// KiB, the path 300 bytes...), listing what it cut in Truncated: one
// record is at most MaxRecordedEntryBytes (32 KiB). A request refused
// before that (path, method, body size or signature) keeps a summary of
// about 650 bytes (2 KiB at most): time, method, path, body size, the
// access key id it claimed and why it failed; never its body or the rest
// of its headers.
// The ring keeps the last MaxRecorded (10,000) requests and at most
// MaxRecordedBytes (16 MiB) of them, evicting the oldest. The request log
// shows what was kept.
//
// # Secrets
//
// Secret access keys and plaintexts never reach logs, error messages or
// recorded requests; Credential hides its secret from fmt and slog.
package xksproxy
