package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/kmsconform/kmsconform/targets/xksproxy"
)

func init() {
	register("xks-proxy", command{
		summary: "run an XKS proxy (External Key Store Proxy API v1) with fault injection",
		run: func(args []string, stdout, stderr io.Writer) int {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runXKSProxy(ctx, args, stdout, stderr)
		},
	})
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// xksProxyConfigFile is the XKS proxy configuration file the KMS console
// accepts, so the credential file can be uploaded there as it is.
type xksProxyConfigFile struct {
	XksProxyUriPath                  string `json:"XksProxyUriPath"`
	XksProxyAuthenticationCredential struct {
		AccessKeyID        string `json:"AccessKeyId"`
		RawSecretAccessKey string `json:"RawSecretAccessKey"`
	} `json:"XksProxyAuthenticationCredential"`
}

// runXKSProxy serves until ctx ends. The secret access key is written to
// stdout at most once and never to stderr, which carries the request log.
func runXKSProxy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("xks-proxy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "127.0.0.1:8443", "listen address of the XKS API")
	tlsDir := fs.String("tls-dir", "", "directory keeping the proxy's CA (ca.pem, ca-key.pem); created if missing")
	credFile := fs.String("credential-file", "", "XKS proxy configuration file (KMS console format) holding the credential; created with a new credential if missing")
	prefix := fs.String("prefix", "", "path prefix before /kms/xks/v1, e.g. /tenant-1")
	serverName := fs.String("server-name", "localhost", "DNS name of the server certificate and of the printed XksProxyUriEndpoint (https://NAME, no port, as KMS requires)")
	plainHTTP := fs.Bool("plain-http", false, "serve plain HTTP (only behind your own TLS terminator or for local use)")
	controlAddr := fs.String("control-addr", "127.0.0.1:8444", "listen address of the control API; empty disables it")
	region := fs.String("region", "", "accept only this SigV4 Region (default: any)")
	slow := fs.Duration("slow-delay", xksproxy.DefaultSlowDelay, "delay of the slow fault")
	logFormat := fs.String("log-format", "text", logFormatUsage)
	var keys stringList
	fs.Var(&keys, "key", "external key to create at start: ID (usage ENCRYPT and DECRYPT) or `ID=USAGE[,USAGE]` with USAGE "+
		"ENCRYPT or DECRYPT, e.g. enc=ENCRYPT, dec=DECRYPT, none= for neither; the call a key lacks gets 400 "+
		"InvalidKeyUsageException (repeatable; default "+defaultXKSKey+")")
	usage := func() { helpXKSProxy().write(stdout, fs) }
	// The flag package prints the usage on every parse error; a bad flag
	// should get one line on stderr instead.
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return 0
		}
		fmt.Fprintf(stderr, "kmsconform xks-proxy: %v (run 'kmsconform xks-proxy -h' for the flags)\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kmsconform xks-proxy: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if len(keys) == 0 {
		keys = stringList{defaultXKSKey}
	}
	startKeys := make([]startKey, 0, len(keys))
	seen := map[string]bool{}
	for _, arg := range keys {
		k, err := parseKeyFlag(arg)
		if err == nil && seen[k.id] {
			err = fmt.Errorf("external key %s is given twice", k.id)
		}
		if err != nil {
			fmt.Fprintf(stderr, "kmsconform xks-proxy: --key %q: %v\n", arg, err)
			return 2
		}
		seen[k.id] = true
		startKeys = append(startKeys, k)
	}

	uriPath := strings.TrimSuffix(*prefix, "/") + "/kms/xks/v1"
	cred, fromFile, err := loadOrCreateCredential(*credFile, uriPath)
	if err != nil {
		fmt.Fprintf(stderr, "kmsconform xks-proxy: %v\n", err)
		return 1
	}
	if !validServerName(*serverName) {
		fmt.Fprintf(stderr, "kmsconform xks-proxy: --server-name %q: KMS's XksProxyUriEndpoint allows only https:// and [a-zA-Z0-9.-]\n", *serverName)
		return 2
	}
	log, err := newLogger(stderr, *logFormat, false)
	if err != nil {
		fmt.Fprintf(stderr, "kmsconform xks-proxy: %v\n", err)
		return 2
	}
	p, err := xksproxy.New(xksproxy.Options{
		Addr:        *addr,
		PathPrefix:  *prefix,
		ServerName:  *serverName,
		PlainHTTP:   *plainHTTP,
		TLSDir:      *tlsDir,
		Credentials: []xksproxy.Credential{cred},
		Region:      *region,
		SlowDelay:   *slow,
		ControlAddr: *controlAddr,
		Logger:      log,
	})
	if err != nil {
		fmt.Fprintf(stderr, "kmsconform xks-proxy: %v\n", err)
		return 1
	}
	for _, k := range startKeys {
		if _, err := p.Keys().Create(k.id, xksproxy.KeyOptions{Usage: k.usage}); err != nil {
			fmt.Fprintf(stderr, "kmsconform xks-proxy: %v\n", err)
			return 1
		}
	}
	if err := p.Start(); err != nil {
		fmt.Fprintf(stderr, "kmsconform xks-proxy: %v\n", err)
		return 1
	}

	fmt.Fprintln(stdout, "kmsconform xks-proxy is serving the XKS Proxy API v1")
	fmt.Fprintf(stdout, "  XksProxyUriEndpoint  %s\n", p.KMSURIEndpoint())
	fmt.Fprintf(stdout, "  XksProxyUriPath      %s\n", p.URIPath())
	listen := "https://" + p.Addr()
	if *plainHTTP {
		listen = "http://" + p.Addr()
	}
	fmt.Fprintf(stdout, "  Listening on         %s (route %s there)\n", listen, p.KMSURIEndpoint())
	fmt.Fprintf(stdout, "  AccessKeyId          %s\n", cred.AccessKeyID)
	if fromFile {
		fmt.Fprintf(stdout, "  RawSecretAccessKey   (in %s)\n", *credFile)
	} else {
		fmt.Fprintf(stdout, "  RawSecretAccessKey   %s   (shown once, never logged)\n", cred.SecretAccessKey)
	}
	if *credFile != "" && !fromFile {
		fmt.Fprintf(stdout, "  Credential file      %s (KMS console format, mode 0600)\n", *credFile)
	}
	switch {
	case *plainHTTP:
		fmt.Fprintln(stdout, "  TLS                  none (plain HTTP)")
	case *tlsDir != "":
		fmt.Fprintf(stdout, "  CA certificate       %s\n", filepath.Join(*tlsDir, xksproxy.CAFile))
	default:
		fmt.Fprintln(stdout, "  CA certificate       in memory (use --tls-dir to keep it, or GET <control>/ca.pem)")
	}
	fmt.Fprintf(stdout, "  External keys        %s\n", describeKeys(p.Keys(), startKeys))
	if a := p.ControlAddr(); a != "" {
		fmt.Fprintf(stdout, "  Control API          http://%s%s (SigV4, service %s)\n", a, xksproxy.ControlPrefix, xksproxy.ControlServiceName)
	}
	log.Info("serving", "listen", listen, "xksProxyUriEndpoint", p.KMSURIEndpoint(), "xksProxyUriPath", p.URIPath(), "accessKeyId", cred.AccessKeyID)
	fmt.Fprintln(stdout, "Stop with Ctrl-C (SIGINT) or SIGTERM.")

	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Shutdown(sctx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	log.Info("stopped")
	fmt.Fprintln(stdout, "kmsconform xks-proxy stopped")
	return 0
}

// defaultXKSKey is the key xks-proxy creates when no --key is given.
const defaultXKSKey = "kmsconform-key-1"

// startKey is one --key: an external key and the usages it gets (nil: the
// package's default, ENCRYPT and DECRYPT).
type startKey struct {
	id    string
	usage []string
}

// parseKeyFlag reads ID or ID=USAGE[,USAGE]. Only ENCRYPT and DECRYPT
// are offered: they are the usages the XKS API checks, and an empty list
// ("ID=") is the key that can do neither.
func parseKeyFlag(arg string) (startKey, error) {
	id, list, hasUsage := strings.Cut(arg, "=")
	if !xksproxy.ValidKeyID(id) {
		return startKey{}, errors.New("external key ids are 1-128 characters of [A-Za-z0-9._-] (give a usage as ID=ENCRYPT, ID=DECRYPT, ID=ENCRYPT,DECRYPT or ID= for neither)")
	}
	k := startKey{id: id}
	if !hasUsage {
		return k, nil
	}
	k.usage = []string{}
	if list == "" {
		return k, nil
	}
	const forms = "(ID=ENCRYPT, ID=DECRYPT, ID=ENCRYPT,DECRYPT, or ID= for neither)"
	for _, given := range strings.Split(list, ",") {
		u := strings.ToUpper(given)
		switch {
		case u != xksproxy.UsageEncrypt && u != xksproxy.UsageDecrypt:
			return startKey{}, fmt.Errorf("key usage %q is neither ENCRYPT nor DECRYPT %s", given, forms)
		case slices.Contains(k.usage, u):
			return startKey{}, fmt.Errorf("key usage %s is given twice %s", u, forms)
		}
		k.usage = append(k.usage, u)
	}
	return k, nil
}

// describeKeys is the banner's list: each key with the usage it holds.
func describeKeys(ks *xksproxy.Keys, keys []startKey) string {
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		usage := "no usage"
		if info, ok := ks.Get(k.id); ok && len(info.Usage) > 0 {
			usage = strings.Join(info.Usage, ",")
		}
		parts = append(parts, k.id+" ("+usage+")")
	}
	return strings.Join(parts, ", ")
}

// validServerName is the host part of KMS's XksProxyUriEndpoint pattern
// ^https://[a-zA-Z0-9.-]+$, within its 128 characters.
func validServerName(s string) bool {
	if s == "" || len(s) > 128-len("https://") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// loadOrCreateCredential reads the credential file, or, if it does not
// exist yet, writes a new credential to it (mode 0600). With no file, the
// credential lives only as long as the process.
func loadOrCreateCredential(path, uriPath string) (c xksproxy.Credential, fromFile bool, err error) {
	if path != "" {
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			var f xksProxyConfigFile
			if err := json.Unmarshal(b, &f); err != nil {
				return c, false, fmt.Errorf("credential file %s: not an XKS proxy configuration file: %v", path, jsonProblem(err))
			}
			c = xksproxy.Credential{AccessKeyID: f.XksProxyAuthenticationCredential.AccessKeyID, SecretAccessKey: f.XksProxyAuthenticationCredential.RawSecretAccessKey}
			if err := c.Validate(); err != nil {
				return c, false, fmt.Errorf("credential file %s: %v", path, err)
			}
			return c, true, nil
		case !errors.Is(err, fs.ErrNotExist):
			return c, false, err
		}
	}
	c, err = xksproxy.GenerateCredential()
	if err != nil || path == "" {
		return c, false, err
	}
	var f xksProxyConfigFile
	f.XksProxyUriPath = uriPath
	f.XksProxyAuthenticationCredential.AccessKeyID = c.AccessKeyID
	f.XksProxyAuthenticationCredential.RawSecretAccessKey = c.SecretAccessKey
	b, _ := json.MarshalIndent(f, "", "  ")
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return c, false, err
	}
	if _, err := out.Write(append(b, '\n')); err != nil {
		out.Close()
		return c, false, err
	}
	return c, false, out.Close()
}

// jsonProblem describes a decode error without quoting the file, which
// holds a secret.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("JSON syntax error at byte %d", se.Offset)
	}
	return "unexpected JSON shape"
}
