package emulator

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsconform/kmsconform/targets"
	"github.com/kmsconform/kmsconform/targets/xksproxy"
)

// Target is the embedded emulator as a conformance target: an Emulator
// served in-process on a free loopback port, on real time with the short
// transitions of targets.emulator in ginkgo.yml, with every capability of
// package targets: Resetter, TransitionHolder, ClusterControl, ProxyFleet
// and TimeControl.
//
// The capabilities drive the emulator's own control methods and run real
// XKS proxies (package xksproxy) in-process, one per XksProxyUriEndpoint
// host, each on a loopback port with a CA of its own, routing the host to
// it (RouteXKS), so a store whose endpoint is https://<host> reaches the
// proxy without DNS or port 443.
//
// To observe CONNECTING or DISCONNECTING, Hold the store before the
// Connect or Disconnect call: a transition lasts only Transition, so a
// hold set afterwards may come too late.
type Target struct {
	emu      *Emulator
	client   *kms.Client
	timeouts targets.Timeouts
	*control
}

var (
	_ targets.Target           = (*Target)(nil)
	_ targets.Resetter         = (*Target)(nil)
	_ targets.TransitionHolder = (*Target)(nil)
	_ targets.ClusterControl   = (*Target)(nil)
	_ targets.ProxyFleet       = (*Target)(nil)
	_ targets.TimeControl      = (*Target)(nil)
)

// NewTarget starts an emulator for cfg (nil means targets.DefaultConfig).
// Requests must be signed by a credential generated for this target, which
// its KMS client uses, so a misconfigured client fails loudly.
func NewTarget(ctx context.Context, cfg *targets.Config) (*Target, error) {
	return NewMutantTarget(ctx, cfg, "")
}

// NewMutantTarget is NewTarget with the emulator running a mutant ("" for
// none; see Mutants; an unknown name is an error): for measuring what a
// suite catches, never for checking a target.
func NewMutantTarget(ctx context.Context, cfg *targets.Config, mutant string) (*Target, error) {
	if cfg == nil {
		cfg = targets.DefaultConfig()
	}
	ec := cfg.Emulator
	akid, secret, err := randomCredential()
	if err != nil {
		return nil, err
	}
	emu, err := New(Options{
		Credentials:        map[string]string{akid: secret},
		ConnectDuration:    ec.Transition,
		DisconnectDuration: ec.Transition,
		XKSTimeout:         ec.XKSTimeout,
		Mutant:             mutant,
	})
	if err != nil {
		return nil, err
	}
	if err := emu.Start("127.0.0.1:0"); err != nil {
		return nil, err
	}
	client := kms.New(kms.Options{
		BaseEndpoint:     aws.String(emu.URL()),
		Region:           emu.Region(),
		Credentials:      credentials.NewStaticCredentialsProvider(akid, secret, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Timeout: ec.Timeouts.Call},
	})
	return &Target{
		emu:      emu,
		client:   client,
		timeouts: ec.Timeouts,
		control: &control{
			emu:     emu,
			settle:  max(ec.Timeouts.Connect, ec.Timeouts.Disconnect),
			poll:    ec.Timeouts.Poll,
			slow:    2 * ec.XKSTimeout, // past the emulator's XKS timeout, so FaultSlow times out
			proxies: map[string]*proxyEntry{},
			idle:    map[string]*proxyEntry{},
			keys:    map[string]map[string][]byte{},
		},
	}, nil
}

// randomCredential makes a SigV4 credential for the emulator and its
// client; it is new per target and never leaves the process.
func randomCredential() (string, string, error) {
	id, secret := make([]byte, 10), make([]byte, 30)
	if _, err := rand.Read(id); err != nil {
		return "", "", err
	}
	if _, err := rand.Read(secret); err != nil {
		return "", "", err
	}
	return "AKIA" + base32.StdEncoding.EncodeToString(id), base64.StdEncoding.EncodeToString(secret), nil
}

func (t *Target) Name() string {
	if m := t.emu.opts.Mutant; m != "" {
		return "emulator (mutant " + m + ")"
	}
	return "emulator"
}
func (t *Target) Kind() targets.Kind         { return targets.KindEmulator }
func (t *Target) Endpoint() string           { return t.emu.URL() }
func (t *Target) KMS() *kms.Client           { return t.client }
func (t *Target) Timeouts() targets.Timeouts { return t.timeouts }

// Backing is zero: every backing a spec needs is made through the
// capabilities.
func (t *Target) Backing() targets.Backing { return targets.Backing{} }

// Emulator is the running emulator, for evidence the KMS API does not give
// (StoreStatus.ErrorDetail says why a connect failed).
func (t *Target) Emulator() *Emulator { return t.emu }

// Close stops every proxy and the emulator.
func (t *Target) Close(ctx context.Context) error {
	perr := t.control.closeProxies()
	return errors.Join(perr, t.emu.Close(ctx))
}

// control is the emulator's capabilities beyond the KMS API, embedded in
// Target.
type control struct {
	emu    *Emulator
	settle time.Duration // the longest Settle waits when ctx has no deadline
	poll   time.Duration
	slow   time.Duration

	mu      sync.Mutex
	proxies map[string]*proxyEntry // by endpoint host
	// idle holds, by endpoint host, the proxies Reset took out of use,
	// emptied: PutProxy for the same host and path takes one back instead
	// of starting a proxy with a new CA, so a fuzzer that resets before
	// every case does not pay for key generation and TLS handshakes each
	// time. Close stops them.
	idle map[string]*proxyEntry
	// keys holds the AES key of every external key by endpoint host and
	// key id. The external key manager outlives a proxy: a re-created
	// proxy (a new path, DeleteProxy then PutProxy) still decrypts what
	// the old one encrypted. Reset forgets them.
	keys map[string]map[string][]byte
	// started counts the proxies started, to alternate their fleet size.
	started int
}

type proxyEntry struct {
	p    *xksproxy.Proxy
	path string
}

// Reset forgets every store, key, cluster, VPC endpoint service, route
// and external key. The proxies stop being routed to and are emptied (no
// credentials, keys, faults, deny rules or recorded requests) and kept idle
// for PutProxy to reuse.
func (c *control) Reset(ctx context.Context) error {
	c.mu.Lock()
	var errs []error
	for host, pe := range c.proxies {
		delete(c.proxies, host)
		if err := emptyProxy(pe.p); err != nil {
			errs = append(errs, pe.p.Close())
			continue
		}
		if old := c.idle[host]; old != nil {
			errs = append(errs, old.p.Close())
		}
		c.idle[host] = pe
	}
	c.keys = map[string]map[string][]byte{}
	c.mu.Unlock()
	return errors.Join(errors.Join(errs...), c.emu.Reset())
}

// emptyProxy takes everything a case put on a proxy off it.
func emptyProxy(px *xksproxy.Proxy) error {
	if err := px.ClearFaults(); err != nil {
		return err
	}
	px.SetDenyRules(nil)
	px.ResetRequests()
	ks := px.Keys()
	for _, k := range ks.List() {
		if err := ks.Delete(k.ID); err != nil {
			return err
		}
	}
	for _, cr := range px.Credentials() {
		if err := px.RemoveCredential(cr.AccessKeyID); err != nil {
			return err
		}
	}
	return nil
}

func (c *control) closeProxies() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, m := range []map[string]*proxyEntry{c.proxies, c.idle} {
		for host, pe := range m {
			errs = append(errs, pe.p.Close())
			delete(m, host)
		}
	}
	return errors.Join(errs...)
}

func (c *control) Hold(ctx context.Context, storeID string) error { return c.emu.Hold(storeID) }

func (c *control) Release(ctx context.Context, storeID string) error {
	return c.emu.Release(storeID)
}

// Settle releases a hold, makes the transition due now and waits for it,
// including an XKS health check in flight, up to ctx or the target's
// longest transition timeout.
func (c *control) Settle(ctx context.Context, storeID string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.settle)
		defer cancel()
	}
	if err := c.emu.Release(storeID); err != nil {
		return err
	}
	for {
		if err := c.emu.Expedite(storeID); err != nil {
			return err
		}
		st, err := c.emu.Settle(ctx, storeID)
		if err != nil {
			return err
		}
		if st.ConnectionState != stateConnecting && st.ConnectionState != stateDisconnecting {
			return nil
		}
		// Still transient: a concurrent Hold, or a transition that began
		// after the check that just ended. Look again shortly.
		select {
		case <-ctx.Done():
			return fmt.Errorf("settle %s: still %s: %w", storeID, st.ConnectionState, ctx.Err())
		case <-time.After(c.poll):
		}
	}
}

// PutCluster maps the model's cluster onto a simulated one: ActiveHSMs
// HSMs in distinct zones; NetworkOK as private subnets in two zones and the
// security group rules (otherwise one subnet and no rules); Kmsuser and
// FailedLogins as the kmsuser; Fault as a full subnet, an extra deleted
// subnet (the other two keep the network valid), or an injected
// NETWORK_ERRORS / INTERNAL_ERROR.
func (c *control) PutCluster(ctx context.Context, tc targets.Cluster) error {
	ec, err := c.cluster(tc)
	if err != nil {
		return err
	}
	if tc.Password != "" || ec.KmsUser == nil {
		return c.emu.PutCluster(ec)
	}
	// Keep the kmsuser password the cluster has now: KMS rotated it at its
	// last connect and the caller does not know it.
	err = c.emu.UpdateCluster(tc.ID, func(old *Cluster) {
		if old.KmsUser != nil {
			ec.KmsUser.Password = old.KmsUser.Password
			ec.KmsUser.KMSSession, ec.KmsUser.Rotations = old.KmsUser.KMSSession, old.KmsUser.Rotations
		}
		*old = *ec
	})
	if errors.Is(err, ErrNotFound) {
		return c.emu.PutCluster(ec)
	}
	return err
}

func (c *control) cluster(tc targets.Cluster) (*Cluster, error) {
	if tc.ID == "" {
		return nil, errors.New("emulator target: a cluster needs an ID")
	}
	if tc.ActiveHSMs < 0 || tc.ActiveHSMs > 26 {
		return nil, fmt.Errorf("emulator target: %d active HSMs is out of range 0-26", tc.ActiveHSMs)
	}
	region := c.emu.Region()
	zone := func(i int) string { return region + string(rune('a'+i)) }
	ec := &Cluster{ID: tc.ID, TrustAnchorCertificate: tc.TrustAnchor, State: "UNINITIALIZED"}
	if tc.TrustAnchor != "" {
		// The trust anchor is the certificate of the cluster's backup
		// history: clusters given the same one are related (restored from
		// each other's backups), which the emulator reads from the lineage.
		sum := sha256.Sum256([]byte(tc.TrustAnchor))
		ec.BackupLineage = "lineage-" + hex.EncodeToString(sum[:8])
	}
	if tc.Initialized {
		ec.State = "ACTIVE"
	}
	for i := range tc.ActiveHSMs {
		ec.HSMs = append(ec.HSMs, HSM{ID: "hsm-" + randomHex(11), AvailabilityZone: zone(i), State: "ACTIVE"})
	}
	if tc.ActiveHSMs == 1 {
		// Active HSMs in one Availability Zone only: a second HSM there
		// does not make two in different zones.
		ec.HSMs = append(ec.HSMs, HSM{ID: "hsm-" + randomHex(11), AvailabilityZone: zone(0), State: "ACTIVE"})
	}
	// The second subnet has the one free address a connection needs (the
	// Developer Guide: "one free IP address in each of the associated
	// private subnets"): KMS must connect with that.
	subnet := func(i int) Subnet {
		free := 10
		if i == 1 {
			free = 1
		}
		return Subnet{ID: "subnet-" + randomHex(17), AvailabilityZone: zone(i), Private: true, FreeAddresses: free}
	}
	// A network that is not OK has its second subnet public: private
	// subnets in one Availability Zone only.
	ec.Subnets = []Subnet{subnet(0), subnet(1)}
	ec.Subnets[1].Private = tc.NetworkOK
	ec.SecurityGroupOK = true
	switch tc.Kmsuser {
	case "", targets.KmsuserReady:
		ec.KmsUser = &KmsUser{Password: tc.Password, FailedLogins: tc.FailedLogins}
	case targets.KmsuserLoggedIn:
		ec.KmsUser = &KmsUser{Password: tc.Password, FailedLogins: tc.FailedLogins, LoggedIn: true}
	case targets.KmsuserLockedOut:
		ec.KmsUser = &KmsUser{Password: tc.Password, FailedLogins: max(tc.FailedLogins, maxFailedLogins)}
	case targets.KmsuserMissing:
	default:
		return nil, fmt.Errorf("emulator target: unknown kmsuser state %q", tc.Kmsuser)
	}
	switch tc.Fault {
	case targets.ClusterHealthy:
	case targets.ClusterNoFreeAddresses:
		ec.Subnets[0].FreeAddresses = 0
	case targets.ClusterSubnetDeleted:
		gone := subnet(2)
		gone.Deleted = true
		ec.Subnets = append(ec.Subnets, gone)
	case targets.ClusterNetworkError:
		ec.ConnectError = "NETWORK_ERRORS"
	case targets.ClusterInternalError:
		ec.ConnectError = "INTERNAL_ERROR"
	default:
		return nil, fmt.Errorf("emulator target: unknown cluster fault %q", tc.Fault)
	}
	return ec, nil
}

// DeleteCluster removes a cluster; a missing one is not an error, so that
// cleanup can run twice.
func (c *control) DeleteCluster(ctx context.Context, id string) error {
	if err := c.emu.DeleteCluster(id); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

func (c *control) DeleteKeyMaterial(ctx context.Context, keyID string) error {
	return c.emu.SetBackingKeyDeleted(rawKeyID(keyID), true)
}

func (c *control) ExpireKeyDeletion(ctx context.Context, keyID string) error {
	return c.emu.ExpireKeyDeletion(keyID)
}

// rawKeyID turns a key ARN into its key id.
func rawKeyID(id string) string {
	if i := strings.LastIndex(id, ":key/"); strings.HasPrefix(id, "arn:") && i >= 0 {
		return id[i+len(":key/"):]
	}
	return id
}

// proxyFaults maps the model's proxy faults to the proxy's. "unreachable"
// is not among them: see PutProxy.
var proxyFaults = map[targets.ProxyFault]xksproxy.Fault{
	targets.ProxyHealthy:           xksproxy.FaultNone,
	targets.ProxySlow:              xksproxy.FaultSlow,
	targets.ProxyTLSInvalid:        xksproxy.FaultTLSExpired,
	targets.ProxyDenyAll:           xksproxy.FaultAccessDenied, // proxy-wide, so health checks too
	targets.ProxyThrottling:        xksproxy.FaultThrottling,
	targets.ProxyInternal:          xksproxy.FaultInternal,
	targets.ProxyDependencyTimeout: xksproxy.FaultDependencyTimeout,
	targets.ProxyMalformed:         xksproxy.FaultNonJSON,
	targets.ProxyEKMUnavailable:    xksproxy.FaultHealthUnavailable,
	targets.ProxyEKMDegraded:       xksproxy.FaultHealthDegraded,
	targets.ProxyBadHealthAnswer:   xksproxy.FaultBadHealthAnswer,
}

// routeFaults are the model's proxy faults that lie between KMS and the
// proxy rather than in it: the proxy stays healthy and the emulator's
// route to it carries the fault.
var routeFaults = map[targets.ProxyFault]string{
	targets.ProxyNetworkError:     RouteNetworkError,
	targets.ProxyKMSInternalError: RouteKMSInternalError,
}

const xksAPIPath = "/kms/xks/v1"

// PutProxy runs (or changes) the proxy of p.Endpoint's host: it accepts
// exactly p.Accepted, serves exactly p.Keys, under p.Path (default
// /kms/xks/v1; the proxy speaks only v1), with p.Fault. A changed path
// re-creates the proxy on a new port; everything else changes in place.
//
// "unreachable" breaks the emulator's route to the host instead of closing
// the proxy's listener: the effect for KMS is the same (no TCP connection,
// XKS_PROXY_NOT_REACHABLE), and the proxy keeps its port, which on a busy
// machine another listener could take while the fault lasts.
func (c *control) PutProxy(ctx context.Context, p targets.Proxy) error {
	host, err := endpointHost(p.Endpoint)
	if err != nil {
		return err
	}
	path := p.Path
	if path == "" {
		path = xksAPIPath
	}
	prefix, ok := strings.CutSuffix(path, xksAPIPath)
	if !ok {
		return fmt.Errorf("emulator target: proxy path %q: the proxy serves only XKS API v1, so the path must end in %s", path, xksAPIPath)
	}
	fault, known := proxyFaults[p.Fault]
	routeFault, onRoute := routeFaults[p.Fault]
	if !known && !onRoute && p.Fault != targets.ProxyUnreachable {
		return fmt.Errorf("emulator target: unknown proxy fault %q", p.Fault)
	}
	creds := make([]xksproxy.Credential, 0, len(p.Accepted))
	for _, a := range p.Accepted {
		cr := xksproxy.Credential{AccessKeyID: a.AccessKeyID, SecretAccessKey: a.Secret}
		if err := cr.Validate(); err != nil {
			return fmt.Errorf("emulator target: %w", err)
		}
		creds = append(creds, cr)
	}
	specs := make(map[string]xksproxy.KeyOptions, len(p.Keys))
	keyFaults := map[string]xksproxy.Fault{}
	for _, k := range p.Keys {
		o, f, err := keyOptions(k.Status)
		if err != nil {
			return err
		}
		specs[k.ID] = o
		if f != xksproxy.FaultNone {
			keyFaults[k.ID] = f
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	pe := c.proxies[host]
	if pe != nil && pe.path != path {
		_ = pe.p.Close()
		delete(c.proxies, host)
		pe = nil
	}
	if pe == nil {
		if idle := c.idle[host]; idle != nil {
			delete(c.idle, host)
			if idle.path == path {
				pe = idle
				c.proxies[host] = pe
			} else {
				_ = idle.p.Close()
			}
		}
	}
	if pe == nil {
		// Health answers list 10 key managers or 1, in turn: the most and
		// the fewest the XKS spec allows, and KMS must take either.
		c.started++
		ekms := 10
		if c.started%2 == 0 {
			ekms = 1
		}
		px, err := xksproxy.New(xksproxy.Options{
			Addr:        "127.0.0.1:0",
			PathPrefix:  prefix,
			ServerName:  host,
			Credentials: creds,
			Region:      c.emu.Region(),
			SlowDelay:   c.slow,
			EKMCount:    ekms,
		})
		if err != nil {
			return fmt.Errorf("emulator target: %w", err)
		}
		if err := px.Start(); err != nil {
			return fmt.Errorf("emulator target: %w", err)
		}
		pe = &proxyEntry{p: px, path: path}
		c.proxies[host] = pe
		// Without credentials the proxy generated one; setCredentials
		// removes it, as the caller asked for none.
	}
	px := pe.p
	if err := c.setCredentials(px, creds); err != nil {
		return err
	}
	if err := c.setKeys(host, px, specs); err != nil {
		return err
	}
	if err := px.SetFault(fault); err != nil {
		return fmt.Errorf("emulator target: %w", err)
	}
	for id := range px.KeyFaults() {
		if err := px.SetKeyFault(id, keyFaults[id]); err != nil {
			return fmt.Errorf("emulator target: %w", err)
		}
	}
	for id, f := range keyFaults {
		if err := px.SetKeyFault(id, f); err != nil {
			return fmt.Errorf("emulator target: %w", err)
		}
	}
	if p.Fault == targets.ProxyUnreachable {
		return c.emu.BreakXKS(host)
	}
	return c.emu.RouteXKS(host, XKSRoute{Addr: px.Addr(), CAPEM: string(px.CACertPEM()), Fault: routeFault})
}

// endpointHost checks an XksProxyUriEndpoint-style endpoint and returns
// its host.
func endpointHost(endpoint string) (string, error) {
	host, ok := strings.CutPrefix(endpoint, "https://")
	if !ok || host == "" || strings.ContainsAny(host, ":/?#@") {
		return "", fmt.Errorf("emulator target: proxy endpoint %q is not https://<host> without a port or path", endpoint)
	}
	return host, nil
}

// tenUsages is a key usage list of the most entries the XKS spec allows.
var tenUsages = []string{"ENCRYPT", "DECRYPT", "SIGN", "VERIFY", "WRAP", "UNWRAP", "GENERATE_MAC", "VERIFY_MAC", "DERIVE_KEY", "KEY_AGREEMENT"}

// keyOptions is the proxy key (and key fault) a model status asks for.
func keyOptions(status targets.ExternalKeyStatus) (xksproxy.KeyOptions, xksproxy.Fault, error) {
	o := xksproxy.KeyOptions{Spec: xksproxy.KeySpecAES256, Usage: []string{xksproxy.UsageEncrypt, xksproxy.UsageDecrypt}, Status: xksproxy.KeyStatusEnabled}
	f := xksproxy.FaultNone
	switch status {
	case "", targets.ExternalKeyOK:
	case targets.ExternalKeyDisabled:
		o.Status = xksproxy.KeyStatusDisabled
	case targets.ExternalKeyWrongSpec:
		o.Spec = "RSA_2048"
	case targets.ExternalKeyWrongUsage:
		o.Usage = []string{"SIGN", "VERIFY"}
	case targets.ExternalKeyTenUsages:
		o.Usage = tenUsages
	case targets.ExternalKeyEncryptOnly:
		o.Usage = []string{xksproxy.UsageEncrypt}
	case targets.ExternalKeyDecryptOnly:
		o.Usage = []string{xksproxy.UsageDecrypt}
	case targets.ExternalKeyBadMetadataAnswer:
		f = xksproxy.FaultBadMetadataAnswer
	case targets.ExternalKeyBadEncryptAnswer:
		f = xksproxy.FaultBadEncryptAnswer
	default:
		return o, f, fmt.Errorf("emulator target: unknown external key status %q", status)
	}
	return o, f, nil
}

// setCredentials makes creds the proxy's only credentials. nil means "keep
// none": every request then fails authentication.
func (c *control) setCredentials(px *xksproxy.Proxy, creds []xksproxy.Credential) error {
	want := map[string]string{}
	for _, cr := range creds {
		want[cr.AccessKeyID] = cr.SecretAccessKey
	}
	for _, old := range px.Credentials() {
		if s, ok := want[old.AccessKeyID]; ok && s == old.SecretAccessKey {
			delete(want, old.AccessKeyID)
			continue
		}
		if err := px.RemoveCredential(old.AccessKeyID); err != nil {
			return fmt.Errorf("emulator target: %w", err)
		}
	}
	for _, cr := range creds {
		if _, add := want[cr.AccessKeyID]; !add {
			continue
		}
		if err := px.AddCredential(cr); err != nil {
			return fmt.Errorf("emulator target: %w", err)
		}
	}
	return nil
}

// setKeys makes specs the proxy's keys, reusing each key's material from
// c.keys. The caller holds c.mu.
func (c *control) setKeys(host string, px *xksproxy.Proxy, specs map[string]xksproxy.KeyOptions) error {
	material := c.keys[host]
	if material == nil {
		material = map[string][]byte{}
		c.keys[host] = material
	}
	ks := px.Keys()
	for _, k := range ks.List() {
		if _, keep := specs[k.ID]; !keep {
			if err := ks.Delete(k.ID); err != nil {
				return fmt.Errorf("emulator target: %w", err)
			}
		}
	}
	for id, o := range specs {
		if _, ok := ks.Get(id); ok {
			if err := errors.Join(ks.SetSpec(id, o.Spec), ks.SetUsage(id, o.Usage), ks.SetStatus(id, o.Status)); err != nil {
				return fmt.Errorf("emulator target: external key %s: %w", id, err)
			}
			continue
		}
		m := material[id]
		if m == nil {
			m = make([]byte, 32)
			if _, err := rand.Read(m); err != nil {
				return err
			}
			material[id] = m
		}
		o.Material = m
		if _, err := ks.Create(id, o); err != nil {
			return fmt.Errorf("emulator target: external key %s: %w", id, err)
		}
	}
	return nil
}

// DeleteProxy closes the proxy of endpoint's host and breaks the route to
// it: KMS gets no TCP connection. A missing proxy is not an error.
func (c *control) DeleteProxy(ctx context.Context, endpoint string) error {
	host, err := endpointHost(endpoint)
	if err != nil {
		return err
	}
	c.mu.Lock()
	pe := c.proxies[host]
	delete(c.proxies, host)
	c.mu.Unlock()
	var cerr error
	if pe != nil {
		cerr = pe.p.Close()
	}
	return errors.Join(cerr, c.emu.BreakXKS(host))
}

// PutVpcService creates a VPC endpoint service that allows KMS and whose
// verified private DNS name matches any XksProxyUriEndpoint host
// (AnyPrivateDNSName): the caller of this control plane does not name the
// host, and the store's endpoint is what reaches the proxy anyway.
// "invalid-config" puts its load balancer in one Availability Zone only;
// "kms-not-allowed" leaves KMS's principal out of the allowed principals;
// "private-dns-unverified" leaves its private DNS name unverified;
// "private-dns-other-host" verifies a private DNS name of another host.
func (c *control) PutVpcService(ctx context.Context, v targets.VpcService) error {
	svc := &VpcEndpointService{Name: v.Name, AllowsKMS: true, AvailabilityZones: 2, PrivateDNSVerified: true, AnyPrivateDNSName: true}
	switch v.Status {
	case "", targets.VpcServiceOK:
	case targets.VpcServiceInvalidConfig:
		svc.AvailabilityZones = 1
	case targets.VpcServiceKMSNotAllowed:
		svc.AllowsKMS = false
	case targets.VpcServicePrivateDNSUnverified:
		svc.PrivateDNSVerified = false
	case targets.VpcServicePrivateDNSOtherHost:
		svc.AnyPrivateDNSName, svc.PrivateDNSName = false, "vpce.other-host.invalid"
	default:
		return fmt.Errorf("emulator target: unknown VPC endpoint service status %q", v.Status)
	}
	return c.emu.PutVpcEndpointService(svc)
}

func (c *control) DeleteVpcService(ctx context.Context, name string) error {
	return c.emu.DeleteVpcEndpointService(name)
}
