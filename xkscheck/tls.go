package xkscheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/kmsconform/kmsconform/reports"
	"net"
	"net/url"
	"time"
)

const secTLS = "§7.1"

// kmsSuites are the TLS 1.2 suites of §7.1 (AES-256-GCM, ChaCha20).
var kmsSuites = []uint16{
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
}

func (k *checker) handshake(ctx context.Context, cfg *tls.Config) (*tls.ConnectionState, answer) {
	u, _ := url.Parse(k.cfg.Endpoint)
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	cfg.ServerName = u.Hostname()
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	c, err := d.DialContext(ctx, "tcp", addr)
	a := answer{latency: time.Since(start), err: err}
	if err != nil {
		return nil, a
	}
	defer c.Close()
	st := c.(*tls.Conn).ConnectionState()
	a.status = 200
	return &st, a
}

func (k *checker) tlsChecks(ctx context.Context) {
	u, _ := url.Parse(k.cfg.Endpoint)
	if u.Scheme != "https" {
		for _, n := range []string{"tls12-or-later", "old-versions-refused", "certificate-chain", "certificate-name", "certificate-expiry"} {
			k.skip(APITLS, n, secTLS, "the endpoint is plain HTTP (behind a TLS terminator?): KMS only speaks HTTPS")
		}
		return
	}
	tlsFail := Condition{Fault: "tls-invalid"}
	st, a := k.handshake(ctx, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12, CipherSuites: kmsSuites}) //nolint:gosec // the certificate is judged below
	j := judgement{}
	if a.err != nil {
		c := Condition{Fault: transportFault(a.err)}
		j = judgement{failure: "no TLS 1.2+ handshake with KMS's cipher suites: " + a.err.Error(), cond: &c}
	}
	k.record(APITLS, "tls12-or-later", secTLS, "D", []string{"success"}, a, j)
	if st != nil {
		k.finds = append(k.finds, fmt.Sprintf("TLS: %s with %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)))
	}

	_, old := k.handshake(ctx, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}) //nolint:gosec // only the version is judged
	jo := judgement{}
	if old.err == nil {
		// The spec asks for TLS 1.2 or later, which such a proxy speaks
		// too: KMS connects. Reported, never failed.
		jo = judgement{failure: "the proxy accepts TLS 1.0/1.1", verdict: reports.Informational,
			message: "KMS itself speaks TLS 1.2+ only, so it would connect; the proxy also accepts versions KMS refuses (a weakness)"}
	}
	old.err = nil // a refused handshake is the pass
	k.record(APITLS, "old-versions-refused", secTLS, "I", []string{"handshake refused"}, old, jo)
	if jo.failure == "" {
		k.cells[len(k.cells)-1].Observed = "handshake refused"
	} else {
		k.cells[len(k.cells)-1].Observed = "handshake accepted"
	}

	if st == nil || len(st.PeerCertificates) == 0 {
		for _, n := range []string{"certificate-chain", "certificate-name", "certificate-expiry"} {
			c := Condition{Fault: transportFault(a.err)}
			k.record(APITLS, n, secTLS, "D", []string{"success"}, a, judgement{failure: "no certificate: no TLS 1.2+ handshake", cond: &c})
		}
		return
	}
	leaf := st.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	// The chain is judged at a time the certificate is valid, so that an
	// expired certificate fails the expiry check only.
	mid := leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
	_, err := leaf.Verify(x509.VerifyOptions{Roots: k.cfg.RootCAs, Intermediates: inter, CurrentTime: mid})
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) && inv.Reason == x509.Expired {
		// No one instant inside every certificate's validity: the leaf's
		// expiry is the expiry cell's to judge.
		_, err = leaf.Verify(x509.VerifyOptions{Roots: k.cfg.RootCAs, Intermediates: inter, CurrentTime: leaf.NotAfter.Add(-time.Second)})
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			err = nil
		}
	}
	jc := judgement{}
	if err != nil {
		jc = judgement{failure: "the chain does not verify against the CA given: " + err.Error(), cond: &tlsFail}
	}
	k.record(APITLS, "certificate-chain", secTLS, "D", []string{"success"}, a, jc)
	jn := judgement{}
	if err := leaf.VerifyHostname(u.Hostname()); err != nil {
		jn = judgement{failure: err.Error(), cond: &tlsFail}
	}
	k.record(APITLS, "certificate-name", secTLS, "D", []string{"success"}, a, jn)
	je := judgement{}
	now := time.Now()
	switch {
	case now.After(leaf.NotAfter):
		je = judgement{failure: "the certificate expired on " + leaf.NotAfter.UTC().Format(time.RFC3339), cond: &tlsFail}
	case now.Before(leaf.NotBefore):
		je = judgement{failure: "the certificate is valid only from " + leaf.NotBefore.UTC().Format(time.RFC3339), cond: &tlsFail}
	}
	k.record(APITLS, "certificate-expiry", secTLS, "D", []string{"success"}, a, je)
	k.finds = append(k.finds, fmt.Sprintf("TLS certificate for %v expires %s", leaf.DNSNames, leaf.NotAfter.UTC().Format(time.RFC3339)))
}
