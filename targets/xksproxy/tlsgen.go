package xksproxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// WrongServerName is the only name in the certificate of FaultTLSWrongName.
// The .invalid TLD (RFC 2606) guarantees it never matches a real host.
const WrongServerName = "wrong-name.invalid"

// Files in Options.TLSDir.
const (
	CAFile    = "ca.pem"
	CAKeyFile = "ca-key.pem"
)

type issuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

// certSet holds the proxy's CA and one server certificate per TLS state.
type certSet struct {
	caPEM     []byte
	pool      *x509.CertPool
	valid     tls.Certificate
	expired   tls.Certificate
	wrongName tls.Certificate
	untrusted tls.Certificate
}

func newCertSet(dir, serverName string, now time.Time) (*certSet, error) {
	var ca *issuer
	var err error
	if dir != "" {
		ca, err = loadOrCreateCA(dir, now)
	} else {
		ca, err = newCA("kmsconform xksproxy test CA", now)
	}
	if err != nil {
		return nil, err
	}
	rogue, err := newCA("kmsconform xksproxy untrusted CA", now)
	if err != nil {
		return nil, err
	}
	names := []string{serverName, "localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	cs := &certSet{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.der}), pool: x509.NewCertPool()}
	cs.pool.AddCert(ca.cert)
	year := 365 * 24 * time.Hour
	if cs.valid, err = ca.leaf(names, ips, now.Add(-time.Hour), now.Add(year)); err != nil {
		return nil, err
	}
	if cs.expired, err = ca.leaf(names, ips, now.Add(-48*time.Hour), now.Add(-24*time.Hour)); err != nil {
		return nil, err
	}
	if cs.wrongName, err = ca.leaf([]string{WrongServerName}, nil, now.Add(-time.Hour), now.Add(year)); err != nil {
		return nil, err
	}
	if cs.untrusted, err = rogue.leaf(names, ips, now.Add(-time.Hour), now.Add(year)); err != nil {
		return nil, err
	}
	return cs, nil
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func newCA(cn string, now time.Time) (*issuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"kmsconform"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &issuer{cert: cert, key: key, der: der}, nil
}

func (ca *issuer) leaf(names []string, ips []net.IP, notBefore, notAfter time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	sn, err := serial()
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"kmsconform"}},
		DNSNames:     names,
		IPAddresses:  ips,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.der}, PrivateKey: key, Leaf: leaf}, nil
}

// loadOrCreateCA keeps the CA in dir so that a person who added ca.pem to
// a trust store once does not have to do it again on every start.
func loadOrCreateCA(dir string, now time.Time) (*issuer, error) {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	certPEM, errC := os.ReadFile(certPath)
	keyPEM, errK := os.ReadFile(keyPath)
	switch {
	case errC == nil && errK == nil:
		return parseCA(certPEM, keyPEM)
	case errors.Is(errC, fs.ErrNotExist) && errors.Is(errK, fs.ErrNotExist):
	case errC != nil && !errors.Is(errC, fs.ErrNotExist):
		return nil, fmt.Errorf("xksproxy: reading %s: %w", certPath, errC)
	case errK != nil && !errors.Is(errK, fs.ErrNotExist):
		return nil, fmt.Errorf("xksproxy: reading %s: %w", keyPath, errK)
	default:
		return nil, fmt.Errorf("xksproxy: %s holds only one of %s and %s", dir, CAFile, CAKeyFile)
	}
	ca, err := newCA("kmsconform xksproxy CA", now)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("xksproxy: %w", err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, fmt.Errorf("xksproxy: %w", err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.der}), 0o644); err != nil {
		return nil, fmt.Errorf("xksproxy: %w", err)
	}
	return ca, nil
}

func parseCA(certPEM, keyPEM []byte) (*issuer, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("xksproxy: CA files are not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("xksproxy: CA certificate: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("xksproxy: CA key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("xksproxy: CA key is not the ECDSA key of the CA certificate")
	}
	return &issuer{cert: cert, key: key, der: cb.Bytes}, nil
}

// tlsConfig serves the certificate of the current TLS fault, so a fault
// takes effect on the next handshake without restarting the listener.
func (p *Proxy) tlsConfig() *tls.Config {
	// The spec's suites for TLS 1.2; Go always enables its TLS 1.3 suites.
	suites := []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	}
	base := &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: suites, NextProtos: []string{"http/1.1"}}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			c := base.Clone()
			switch p.proxyFault() {
			case FaultTLSExpired:
				c.Certificates = []tls.Certificate{p.certs.expired}
			case FaultTLSWrongName:
				c.Certificates = []tls.Certificate{p.certs.wrongName}
			case FaultTLSUntrusted:
				c.Certificates = []tls.Certificate{p.certs.untrusted}
			case FaultTLSOldVersion:
				c.Certificates = []tls.Certificate{p.certs.valid}
				c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
				c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}
			default:
				c.Certificates = []tls.Certificate{p.certs.valid}
			}
			return c, nil
		},
	}
}
