package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kmsconform/kmsconform/targets/emulator"
)

// Environment variables read by serve. Secrets come from the environment,
// never from flags, so that they do not show in process listings.
const (
	envPassphrase = "KMSCONFORM_STATE_PASSPHRASE"
	envAccessKey  = "AWS_ACCESS_KEY_ID"
	envSecretKey  = "AWS_SECRET_ACCESS_KEY"
)

func init() {
	register("serve", command{
		summary: "run the embedded KMS emulator with custom key stores",
		run: func(args []string, stdout, stderr io.Writer) int {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, args, stdout, stderr)
		},
	})
}

type serveFlags struct {
	addr          string
	allowRemote   bool
	region        string
	account       string
	verifySigV4   bool
	connect       time.Duration
	disconnect    time.Duration
	xksTimeout    time.Duration
	xksDirect     bool
	stateFile     string
	noControl     bool
	quiet         bool
	maxBodyBytes  int64
	shutdownGrace time.Duration
	bare          bool
	logFormat     string
	controlHosts  stringList
}

func serveFlagSet(f *serveFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:4599", "listen address; a non-loopback address also needs -allow-remote")
	fs.BoolVar(&f.allowRemote, "allow-remote", false, "allow listening on a non-loopback address, and XKS routes (set through the control plane) to one; "+
		"add -verify-sigv4, or the control plane has no authentication")
	fs.StringVar(&f.region, "region", "us-east-1", "Region in ARNs, in the SigV4 scope and in XKS request signing")
	fs.StringVar(&f.account, "account-id", "111122223333", "12-digit account id shown in ARNs")
	fs.BoolVar(&f.verifySigV4, "verify-sigv4", false, "refuse requests not signed with SigV4 by $"+envAccessKey+" / $"+envSecretKey)
	fs.DurationVar(&f.connect, "connect-duration", 2*time.Second, "how long a store stays CONNECTING (real KMS: up to 20 minutes)")
	fs.DurationVar(&f.disconnect, "disconnect-duration", time.Second, "how long a store stays DISCONNECTING")
	fs.DurationVar(&f.xksTimeout, "xks-timeout", 250*time.Millisecond, "per-request timeout for calls to XKS proxies (KMS uses 250ms)")
	fs.BoolVar(&f.xksDirect, "xks-direct", false, "let the XKS client resolve and dial proxy hosts that have no route set through the control plane")
	fs.StringVar(&f.stateFile, "state-file", "", "keep state across restarts in this file, encrypted with a key derived from $"+envPassphrase)
	fs.BoolVar(&f.noControl, "no-control", false, "do not serve the control plane under "+emulator.ControlPrefix)
	fs.Var(&f.controlHosts, "control-host", "a Host (name or name:port) the control plane accepts besides the address it serves "+
		"and localhost, e.g. a Docker service name (repeat the flag for more)")
	fs.BoolVar(&f.quiet, "quiet", false, "do not log one line per request (warnings still go to stderr)")
	fs.StringVar(&f.logFormat, "log-format", "text", logFormatUsage)
	fs.BoolVar(&f.bare, "bare", false, "start without the ready-made CloudHSM cluster and XKS proxy, to register your own through the control plane")
	fs.Int64Var(&f.maxBodyBytes, "max-body-bytes", 1<<20, "largest request body accepted (larger: HTTP 413)")
	fs.DurationVar(&f.shutdownGrace, "shutdown-grace", 5*time.Second, "how long in-flight requests may finish on SIGINT/SIGTERM")
	return fs
}

func serveUsage(w io.Writer, fs *flag.FlagSet) { helpServe.write(w, fs) }

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f serveFlags
	fs := serveFlagSet(&f)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			serveUsage(stdout, fs)
			return 0
		}
		fmt.Fprintf(stderr, "kmsconform serve: %v (run 'kmsconform serve -h' for the flags)\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kmsconform serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	host, _, err := net.SplitHostPort(f.addr)
	if err != nil {
		fmt.Fprintf(stderr, "kmsconform serve: -addr %q is not host:port\n", f.addr)
		return 2
	}
	if !isLoopback(host) && !f.allowRemote {
		fmt.Fprintf(stderr, "kmsconform serve: -addr %s is not a loopback address; add -allow-remote to listen on it\n", f.addr)
		return 2
	}
	opts := emulator.Options{
		Region:             f.region,
		AccountID:          f.account,
		ConnectDuration:    f.connect,
		DisconnectDuration: f.disconnect,
		XKSTimeout:         f.xksTimeout,
		XKSDirectDial:      f.xksDirect,
		MaxBodyBytes:       f.maxBodyBytes,
		StateFile:          f.stateFile,
		DisableControl:     f.noControl,
		ControlHosts:       f.controlHosts,
		AllowRemoteRoutes:  f.allowRemote,
	}
	log, err := newLogger(stderr, f.logFormat, f.quiet)
	if err != nil {
		fmt.Fprintf(stderr, "kmsconform serve: %v\n", err)
		return 2
	}
	opts.Logger = log
	if f.verifySigV4 {
		ak, sk := os.Getenv(envAccessKey), os.Getenv(envSecretKey)
		if ak == "" || sk == "" {
			fmt.Fprintf(stderr, "kmsconform serve: -verify-sigv4 needs $%s and $%s\n", envAccessKey, envSecretKey)
			return 2
		}
		opts.Credentials = map[string]string{ak: sk}
	}
	if f.stateFile != "" {
		opts.Passphrase = os.Getenv(envPassphrase)
		if opts.Passphrase == "" {
			fmt.Fprintf(stderr, "kmsconform serve: -state-file needs a passphrase in $%s\n", envPassphrase)
			return 2
		}
	}
	emu, err := emulator.New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "kmsconform serve: %v\n", err)
		return 1
	}
	var b *serveBacking
	if !f.bare {
		if b, err = startBacking(emu, f.region, f.stateFile, opts.Passphrase, log); err != nil {
			fmt.Fprintf(stderr, "kmsconform serve: backing: %v (-bare starts without it)\n", err)
			return 1
		}
		defer b.close()
	}
	if err := emu.Start(f.addr); err != nil {
		fmt.Fprintf(stderr, "kmsconform serve: %v\n", err)
		return 1
	}
	url := emu.URL()
	fmt.Fprintf(stdout, "kmsconform KMS emulator listening on %s (account %s, Region %s)\n", url, f.account, f.region)
	fmt.Fprintf(stdout, "export AWS_ENDPOINT_URL_KMS=%s\n", url)
	if !f.noControl {
		how := "Content-Type: application/json"
		if f.verifySigV4 {
			how += ", SigV4 service " + emulator.ControlServiceName
		}
		fmt.Fprintf(stdout, "control plane: %s%s (%s)\n", url, emulator.ControlPrefix, how)
	}
	if b != nil {
		b.printBanner(stdout, f.region)
	}
	if !isLoopback(host) && !f.verifySigV4 && !f.noControl {
		log.Warn("the control plane has no authentication on a non-loopback address: add -verify-sigv4 (or -no-control)", "addr", f.addr)
	}
	log.Info("serving", "url", url, "account", f.account, "region", f.region, "backing", b != nil)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownGrace)
	defer cancel()
	if err := emu.Close(sctx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	log.Info("stopped")
	fmt.Fprintln(stdout, "kmsconform KMS emulator stopped")
	return 0
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
