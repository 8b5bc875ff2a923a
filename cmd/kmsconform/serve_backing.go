package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kmsconform/kmsconform/targets/emulator"
	"github.com/kmsconform/kmsconform/targets/xksproxy"
)

// The backing serve makes unless -bare. The names are fixed so that a
// script can rely on them; the secrets are not (see backingSeed).
const (
	backingClusterID = "cluster-kmsconformlocal"
	// backingXKSHost is the XksProxyUriEndpoint host: .test never resolves
	// (RFC 2606), so only the emulator's route reaches it.
	backingXKSHost = "xks.kmsconform.test"
)

var backingXKSKeys = []string{"kmsconform-key-1", "kmsconform-key-2", "kmsconform-key-3"}

// backing is a healthy simulated CloudHSM cluster and an in-process XKS
// proxy routed from its KMS endpoint: what a user would otherwise have to
// register through the control plane before the first store.
type serveBacking struct {
	clusterID  string
	anchorFile string
	password   string // the kmsuser password: banner only, never logged
	endpoint   string // XksProxyUriEndpoint, KMS's format
	path       string
	cred       xksproxy.Credential // its secret: banner only
	keys       []string
	proxy      *xksproxy.Proxy
	tmpDir     string // removed by close
}

// backingSeed is where the backing's secrets come from. Without a state
// file they are new on every start: nothing outlives the process, and a
// secret nobody else has seen is never mistaken for one to reuse. With a
// state file they are derived from its passphrase, so that the stores it
// keeps still reach the same kmsuser password, XKS credential and XKS key
// material after a restart (the proxy keeps its keys in memory only).
func backingSeed(stateFile, passphrase string) ([]byte, error) {
	if stateFile == "" {
		seed := make([]byte, 32)
		_, err := rand.Read(seed)
		return seed, err
	}
	// A slow derivation, so that the secrets in a banner do not make the
	// passphrase cheap to guess.
	return pbkdf2.Key(sha256.New, passphrase, []byte("kmsconform serve backing v1"), 200_000, 32)
}

func derive(seed []byte, label string) []byte {
	m := hmac.New(sha256.New, seed)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// startBacking registers the cluster (kept as it is if a state file
// already holds it: KMS has rotated its password since), starts the proxy
// with its keys and routes the endpoint host to it.
func startBacking(emu *emulator.Emulator, region, stateFile, passphrase string, log *slog.Logger) (b *serveBacking, err error) {
	seed, err := backingSeed(stateFile, passphrase)
	if err != nil {
		return nil, err
	}
	b = &serveBacking{
		clusterID: backingClusterID,
		password:  hex.EncodeToString(derive(seed, "kmsuser password")[:12]),
		endpoint:  "https://" + backingXKSHost,
		cred: xksproxy.Credential{
			AccessKeyID:     base32.StdEncoding.EncodeToString(derive(seed, "xks access key id")[:15]),
			SecretAccessKey: base64.StdEncoding.EncodeToString(derive(seed, "xks secret access key")),
		},
		keys: backingXKSKeys,
	}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	var anchor string
	if c, cerr := emu.Cluster(b.clusterID); cerr == nil {
		anchor = c.TrustAnchorCertificate
	} else {
		if anchor, err = newTrustAnchor(); err != nil {
			return b, err
		}
		if err = emu.PutCluster(emulator.NewHealthyCluster(b.clusterID, anchor, b.password)); err != nil {
			return b, err
		}
	}
	if stateFile != "" {
		b.anchorFile = stateFile + ".customerCA.crt"
	} else {
		if b.tmpDir, err = os.MkdirTemp("", "kmsconform-serve-"); err != nil {
			return b, err
		}
		b.anchorFile = filepath.Join(b.tmpDir, "customerCA.crt")
	}
	if b.anchorFile, err = filepath.Abs(b.anchorFile); err != nil {
		return b, err
	}
	if err = os.WriteFile(b.anchorFile, []byte(anchor), 0o644); err != nil {
		return b, fmt.Errorf("trust anchor: %w", err)
	}

	b.proxy, err = xksproxy.New(xksproxy.Options{
		ServerName:  backingXKSHost,
		Credentials: []xksproxy.Credential{b.cred},
		Region:      region,
		ControlAddr: "127.0.0.1:0",
		Logger:      log.With("component", "xks-proxy"),
	})
	if err != nil {
		return b, err
	}
	for _, k := range b.keys {
		if _, err = b.proxy.Keys().Create(k, xksproxy.KeyOptions{Material: derive(seed, "xks key "+k)}); err != nil {
			return b, err
		}
	}
	if err = b.proxy.Start(); err != nil {
		return b, err
	}
	b.path = b.proxy.URIPath()
	err = emu.RouteXKS(backingXKSHost, emulator.XKSRoute{Addr: b.proxy.Addr(), CAPEM: string(b.proxy.CACertPEM())})
	return b, err
}

func (b *serveBacking) close() {
	if b == nil {
		return
	}
	if b.proxy != nil {
		_ = b.proxy.Close()
	}
	if b.tmpDir != "" {
		_ = os.RemoveAll(b.tmpDir)
	}
}

// newTrustAnchor is a self-signed CA certificate standing in for the
// cluster's customerCA.crt; KMS compares it byte for byte.
func newTrustAnchor() (string, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "kmsconform serve customerCA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), nil
}

// Store names of the banner's commands.
const (
	bannerHSMStoreName = "local-cloudhsm-store"
	bannerXKSStoreName = "local-external-store"
)

// printBanner writes the backing and one create-custom-key-store command
// per store type, complete, to paste as they are. It is the only place
// the kmsuser password and the XKS secret are written.
func (b *serveBacking) printBanner(w io.Writer, region string) {
	fmt.Fprintln(w, "Ready to use (start with -bare for an emulator without backing):")
	fmt.Fprintf(w, "  CloudHSM cluster      %s (ACTIVE, 2 HSMs in 2 zones)\n", b.clusterID)
	fmt.Fprintf(w, "  trust anchor          %s\n", b.anchorFile)
	fmt.Fprintf(w, "  kmsuser password      %s\n", b.password)
	fmt.Fprintf(w, "  XksProxyUriEndpoint   %s (in process, routed to https://%s)\n", b.endpoint, b.proxy.Addr())
	fmt.Fprintf(w, "  XksProxyUriPath       %s\n", b.path)
	fmt.Fprintf(w, "  XKS AccessKeyId       %s\n", b.cred.AccessKeyID)
	fmt.Fprintf(w, "  XKS RawSecretAccessKey %s\n", b.cred.SecretAccessKey)
	fmt.Fprintf(w, "  XKS key ids           %s\n", strings.Join(b.keys, ", "))
	if a := b.proxy.ControlAddr(); a != "" {
		fmt.Fprintf(w, "  XKS proxy control     http://%s%s (SigV4, service %s, the XKS credential)\n", a, xksproxy.ControlPrefix, xksproxy.ControlServiceName)
	}
	fmt.Fprintln(w, "Create a key store of each type with the AWS CLI (v1 or v2; any credentials are accepted,")
	fmt.Fprintln(w, "e.g. export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test). The endpoint is given in")
	fmt.Fprintln(w, "--cli-input-json because AWS CLI v1 downloads any https:// parameter; with")
	fmt.Fprintln(w, "'cli_follow_urlparam = false' in ~/.aws/config, --xks-proxy-uri-endpoint "+b.endpoint+" works too:")
	fmt.Fprintln(w, "  "+b.hsmCommand(region))
	fmt.Fprintln(w, "  "+b.xksCommand(region))
	fmt.Fprintf(w, "then: aws kms connect-custom-key-store --region %s --custom-key-store-id <CustomKeyStoreId>, and poll\n", region)
	fmt.Fprintf(w, "      aws kms describe-custom-key-stores --region %s --custom-key-store-id <CustomKeyStoreId> until CONNECTED\n", region)
}

func (b *serveBacking) hsmCommand(region string) string {
	return strings.Join([]string{"aws kms create-custom-key-store --region", shellQuote(region),
		"--custom-key-store-name", bannerHSMStoreName, "--cloud-hsm-cluster-id", b.clusterID,
		"--trust-anchor-certificate", shellQuote("file://" + b.anchorFile), "--key-store-password", shellQuote(b.password)}, " ")
}

func (b *serveBacking) xksCommand(region string) string {
	cred := fmt.Sprintf(`{"AccessKeyId":"%s","RawSecretAccessKey":"%s"}`, b.cred.AccessKeyID, b.cred.SecretAccessKey)
	return strings.Join([]string{"aws kms create-custom-key-store --region", shellQuote(region),
		"--custom-key-store-name", bannerXKSStoreName, "--custom-key-store-type EXTERNAL_KEY_STORE",
		"--xks-proxy-connectivity PUBLIC_ENDPOINT --cli-input-json", shellQuote(`{"XksProxyUriEndpoint":"` + b.endpoint + `"}`),
		"--xks-proxy-uri-path", shellQuote(b.path), "--xks-proxy-authentication-credential", shellQuote(cred)}, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
