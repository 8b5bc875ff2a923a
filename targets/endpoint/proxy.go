package endpoint

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/kmsconform/kmsconform/targets"
)

// ProxyTarget is an endpoint whose XKS proxy (the backing's XksEndpoint) is
// a `kmsconform xks-proxy` with a reachable control API: it also changes
// that proxy (targets.ProxyControl). New returns one when the backing has
// an XksControlURL.
type ProxyTarget struct {
	*Target
	ctl *proxyControl
}

var (
	_ targets.Target       = (*ProxyTarget)(nil)
	_ targets.ProxyControl = (*ProxyTarget)(nil)
)

// PutProxy makes the proxy at p.Endpoint, which must be the backing's
// XksEndpoint, match p: it accepts exactly p.Accepted (see below), has
// p.Fault and no other fault, and serves each of p.Keys with its status.
// Keys p does not list are left as they are.
//
// The control API accepts only requests signed by a credential the proxy
// accepts. While p.Accepted lacks the configured credential the target
// keeps one more credential of its own on the proxy, generated at random
// and known to nothing else, to sign with; no store can use it, so KMS
// sees exactly p.Accepted.
func (t *ProxyTarget) PutProxy(ctx context.Context, p targets.Proxy) error {
	return t.ctl.put(ctx, p)
}

// DeleteProxy makes the proxy unreachable (its unreachable fault: the
// listener closes, and the control API, on its own listener, stays up). A
// later PutProxy, or Close, opens it again.
func (t *ProxyTarget) DeleteProxy(ctx context.Context, endpoint string) error {
	return t.ctl.delete(ctx, endpoint)
}

// Close puts the proxy back as the target found it, as far as it can (the
// secrets of credentials it removed other than the configured one are
// unknown to it), then closes the target.
func (t *ProxyTarget) Close(ctx context.Context) error {
	return errors.Join(t.ctl.restore(ctx), t.Target.Close(ctx))
}

// The control API of targets/xksproxy, which targets may not import: its
// route prefix, SigV4 service and the names this target uses.
const (
	controlPrefix  = "/kmsconform/control/v1"
	controlService = "kmsconform-control"

	keyStatusEnabled  = "ENABLED"
	keyStatusDisabled = "DISABLED"
	keySpecAES256     = "AES_256"
)

// The proxy's fault names.
const (
	faultUnreachable       = "unreachable"
	faultSlow              = "slow"
	faultAccessDenied      = "access-denied"
	faultThrottling        = "throttling"
	faultInternal          = "internal"
	faultDependencyTimeout = "dependency-timeout"
	faultNonJSON           = "non-json"
	faultTLSExpired        = "tls-expired"
	faultHealthUnavailable = "health-unavailable"
	faultHealthDegraded    = "health-degraded"
	faultBadMetadataAnswer = "bad-metadata-answer"
	faultBadEncryptAnswer  = "bad-encrypt-answer"
	faultBadHealthAnswer   = "bad-health-answer"
)

// proxyFaults maps the model's proxy faults (targets.Proxy.Fault) onto the
// proxy's. deny-all is the proxy-wide access-denied fault rather than a
// deny rule, because the proxy never applies deny rules to
// GetHealthStatus and the model denies every request.
var proxyFaults = map[targets.ProxyFault]string{
	targets.ProxyUnreachable:       faultUnreachable,
	targets.ProxySlow:              faultSlow,
	targets.ProxyTLSInvalid:        faultTLSExpired,
	targets.ProxyDenyAll:           faultAccessDenied,
	targets.ProxyThrottling:        faultThrottling,
	targets.ProxyInternal:          faultInternal,
	targets.ProxyDependencyTimeout: faultDependencyTimeout,
	targets.ProxyMalformed:         faultNonJSON,
	targets.ProxyEKMUnavailable:    faultHealthUnavailable,
	targets.ProxyEKMDegraded:       faultHealthDegraded,
	targets.ProxyBadHealthAnswer:   faultBadHealthAnswer,
}

// keyInfo is a key of the control API (GET /keys, POST /keys, PATCH
// /keys/{id}).
type keyInfo struct {
	ID     string   `json:"keyId,omitempty"`
	Spec   string   `json:"keySpec,omitempty"`
	Usage  []string `json:"keyUsage,omitempty"`
	Status string   `json:"keyStatus,omitempty"`
}

func (k keyInfo) same(o keyInfo) bool {
	return k.Spec == o.Spec && k.Status == o.Status && slices.Equal(k.Usage, o.Usage)
}

// keyFor is the key (and the key fault, "" for none) a model status asks
// for.
func keyFor(status targets.ExternalKeyStatus) (keyInfo, string, error) {
	k := keyInfo{Spec: keySpecAES256, Usage: []string{"ENCRYPT", "DECRYPT"}, Status: keyStatusEnabled}
	fault := ""
	switch status {
	case "", targets.ExternalKeyOK:
	case targets.ExternalKeyDisabled:
		k.Status = keyStatusDisabled
	case targets.ExternalKeyWrongSpec:
		k.Spec = "RSA_2048"
	case targets.ExternalKeyWrongUsage:
		k.Usage = []string{"SIGN", "VERIFY"}
	case targets.ExternalKeyTenUsages:
		k.Usage = []string{"ENCRYPT", "DECRYPT", "SIGN", "VERIFY", "WRAP", "UNWRAP", "GENERATE_MAC", "VERIFY_MAC", "DERIVE_KEY", "KEY_AGREEMENT"}
	case targets.ExternalKeyEncryptOnly:
		k.Usage = []string{"ENCRYPT"}
	case targets.ExternalKeyDecryptOnly:
		k.Usage = []string{"DECRYPT"}
	case targets.ExternalKeyBadMetadataAnswer:
		fault = faultBadMetadataAnswer
	case targets.ExternalKeyBadEncryptAnswer:
		fault = faultBadEncryptAnswer
	default:
		return keyInfo{}, "", fmt.Errorf("endpoint target: external key status %q: %w", status, targets.ErrUnsupported)
	}
	return k, fault, nil
}

// proxyStatus is the part of GET /status the target reads.
type proxyStatus struct {
	URIEndpoint  string            `json:"uriEndpoint"`
	URIPath      string            `json:"uriPath"`
	AccessKeyIDs []string          `json:"accessKeyIds"`
	Fault        string            `json:"fault"`
	KeyFaults    map[string]string `json:"keyFaults"`
}

// proxyControl talks to the control API. Its mutex serializes every
// change, so that its record of what it changed stays true.
type proxyControl struct {
	base     string // control URL + controlPrefix
	hc       aws.HTTPClient
	region   string
	endpoint string             // the backing's XksEndpoint: the only proxy it changes
	cfg      targets.Credential // the configured credential, never forgotten

	mu sync.Mutex
	// own is the target's private control credential while the proxy does
	// not accept cfg; zero otherwise.
	own targets.Credential
	// known holds the secrets of credentials the target put on the proxy
	// (cfg included), by access key id, so it can tell whether a wanted
	// credential is already there.
	known map[string]string
	// added are the access key ids the target added, for restore.
	added map[string]bool
	// created are the keys the target created; patched the original state
	// of keys it found and changed.
	created map[string]bool
	patched map[string]keyInfo
	// denyRules are the proxy's deny rules as the target found them, when
	// it had to clear them; nil when it did not. denyChecked: it looked.
	denyRules   json.RawMessage
	denyChecked bool
	// touched: something may need restoring.
	touched bool
}

func newProxyControl(controlURL string, hc aws.HTTPClient, region string, b targets.Backing) *proxyControl {
	return &proxyControl{
		base:     strings.TrimSuffix(controlURL, "/") + controlPrefix,
		hc:       hc,
		region:   region,
		endpoint: b.XksEndpoint,
		cfg:      b.XksCredential,
		known:    map[string]string{b.XksCredential.AccessKeyID: b.XksCredential.Secret},
		added:    map[string]bool{},
		created:  map[string]bool{},
		patched:  map[string]keyInfo{},
	}
}

// signer is the credential control requests are signed with.
func (c *proxyControl) signer() targets.Credential {
	if c.own.AccessKeyID != "" {
		return c.own
	}
	return c.cfg
}

func (c *proxyControl) checkEndpoint(endpoint string) error {
	if strings.TrimSuffix(endpoint, "/") != strings.TrimSuffix(c.endpoint, "/") {
		return fmt.Errorf("endpoint target: proxy %q: %w: only the proxy at %s (%s), whose control API is %s, can be changed",
			endpoint, targets.ErrUnsupported, c.endpoint, targets.EnvXKSURIEndpoint, targets.EnvXKSControlURL)
	}
	return nil
}

// controlError is an answer of the control API other than 2xx. It quotes
// the proxy's error, never a request body (which may hold a secret).
type controlError struct {
	method, route string
	status        int
	name, message string
}

func (e *controlError) Error() string {
	s := fmt.Sprintf("endpoint target: xks-proxy control %s %s: %d", e.method, e.route, e.status)
	if e.name != "" {
		s += " " + e.name
	}
	if e.message != "" {
		s += ": " + e.message
	}
	if e.name == "AuthenticationFailedException" {
		s += fmt.Sprintf(" (is %s one of the proxy's credentials, and %s its secret?)", targets.EnvXKSAccessKeyID, targets.EnvXKSSecretAccessKey)
	}
	return s
}

// call sends one signed control request with body in (nil: none) and
// decodes a 200 answer into out (nil: ignore it).
func (c *proxyControl) call(ctx context.Context, method, route string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("endpoint target: xks-proxy control %s %s: %w", method, route, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+route, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("endpoint target: xks-proxy control %s %s: %w", method, route, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256(body)
	cred := c.signer()
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.Secret},
		req, hex.EncodeToString(sum[:]), controlService, c.region, time.Now()); err != nil {
		return fmt.Errorf("endpoint target: xks-proxy control %s %s: signing: %w", method, route, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("endpoint target: xks-proxy control %s %s: %w", method, route, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("endpoint target: xks-proxy control %s %s: %w", method, route, err)
	}
	if resp.StatusCode/100 != 2 {
		var xe struct {
			Name    string `json:"errorName"`
			Message string `json:"errorMessage"`
		}
		if json.Unmarshal(raw, &xe) != nil || xe.Name == "" {
			// Not the proxy's error format: not a kmsconform xks-proxy
			// control API, or something in front of it.
			return &controlError{method: method, route: route, status: resp.StatusCode,
				message: "not an xks-proxy control API answer (is " + targets.EnvXKSControlURL + " its --control-addr?)"}
		}
		return &controlError{method: method, route: route, status: resp.StatusCode, name: xe.Name, message: xe.Message}
	}
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("endpoint target: xks-proxy control %s %s: answer: %w", method, route, err)
		}
	}
	return nil
}

func (c *proxyControl) status(ctx context.Context) (proxyStatus, error) {
	var st proxyStatus
	err := c.call(ctx, http.MethodGet, "/status", nil, &st)
	return st, err
}

func (c *proxyControl) put(ctx context.Context, p targets.Proxy) error {
	if err := c.checkEndpoint(p.Endpoint); err != nil {
		return err
	}
	fault, ok := proxyFaults[p.Fault]
	if !ok && p.Fault != "" {
		return fmt.Errorf("endpoint target: proxy fault %q: %w: the xks-proxy has no equivalent", p.Fault, targets.ErrUnsupported)
	}
	want := map[string]string{}
	for _, a := range p.Accepted {
		if s, dup := want[a.AccessKeyID]; dup && s != a.Secret {
			return fmt.Errorf("endpoint target: proxy credentials: access key id %s is listed twice with different secrets", a.AccessKeyID)
		}
		want[a.AccessKeyID] = a.Secret
	}
	keys := make(map[string]keyInfo, len(p.Keys))
	keyFaults := map[string]string{}
	for _, k := range p.Keys {
		ki, kf, err := keyFor(k.Status)
		if err != nil {
			return err
		}
		if kf != "" {
			keyFaults[k.ID] = kf
		}
		if prev, dup := keys[k.ID]; dup && !prev.same(ki) {
			return fmt.Errorf("endpoint target: external key %q is listed twice with different statuses", k.ID)
		}
		keys[k.ID] = ki
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := c.status(ctx)
	if err != nil {
		return err
	}
	if p.Path != "" && p.Path != st.URIPath {
		return fmt.Errorf("endpoint target: proxy path %q: %w: the proxy at %s serves %s only", p.Path, targets.ErrUnsupported, c.endpoint, st.URIPath)
	}
	if fault == faultTLSExpired && strings.HasPrefix(st.URIEndpoint, "http://") {
		return fmt.Errorf("endpoint target: proxy fault %q: %w: the xks-proxy serves plain HTTP (behind a TLS terminator), so its TLS faults have no effect",
			p.Fault, targets.ErrUnsupported)
	}
	c.touched = true
	if err := c.clearDenyRules(ctx); err != nil {
		return err
	}
	if err := c.setCredentials(ctx, st.AccessKeyIDs, want); err != nil {
		return err
	}
	if err := c.setKeys(ctx, keys); err != nil {
		return err
	}
	return c.setFault(ctx, st, fault, keyFaults)
}

func (c *proxyControl) delete(ctx context.Context, endpoint string) error {
	if err := c.checkEndpoint(endpoint); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touched = true
	return c.call(ctx, http.MethodPut, "/fault", map[string]string{"fault": faultUnreachable}, nil)
}

// clearDenyRules removes the proxy's deny rules, which p cannot express,
// keeping them for restore. Only the first time: later rules are the
// target's own (none).
func (c *proxyControl) clearDenyRules(ctx context.Context) error {
	if c.denyChecked {
		return nil
	}
	var rules []json.RawMessage
	if err := c.call(ctx, http.MethodGet, "/deny-rules", nil, &rules); err != nil {
		return err
	}
	if len(rules) > 0 {
		if err := c.call(ctx, http.MethodPut, "/deny-rules", []any{}, nil); err != nil {
			return err
		}
		c.denyRules, _ = json.Marshal(rules)
	}
	c.denyChecked = true
	return nil
}

// setCredentials makes the proxy accept exactly want (access key id to
// secret), plus the target's own control credential while want lacks the
// configured one. have are the access key ids the proxy accepts now.
func (c *proxyControl) setCredentials(ctx context.Context, have []string, want map[string]string) error {
	keepCfg := c.cfg.AccessKeyID != "" && want[c.cfg.AccessKeyID] == c.cfg.Secret
	if !keepCfg && c.own.AccessKeyID == "" {
		own, err := newCredential()
		if err != nil {
			return fmt.Errorf("endpoint target: a control credential: %w", err)
		}
		if err := c.addCredential(ctx, own); err != nil {
			return err
		}
		c.own = own
	}
	// A credential stays only when the target knows the proxy holds it
	// with the wanted secret; one whose secret it does not know is
	// replaced.
	present := map[string]bool{}
	for _, id := range have {
		if id == c.own.AccessKeyID {
			continue
		}
		if s, ok := want[id]; ok && c.known[id] == s {
			present[id] = true
			continue
		}
		if err := c.call(ctx, http.MethodDelete, "/credentials/"+url.PathEscape(id), nil, nil); err != nil {
			return err
		}
		delete(c.known, id)
	}
	for _, id := range sortedKeys(want) {
		secret := want[id]
		if present[id] {
			continue
		}
		if err := c.addCredential(ctx, targets.Credential{AccessKeyID: id, Secret: secret}); err != nil {
			return err
		}
		c.known[id] = secret
		if id != c.cfg.AccessKeyID {
			c.added[id] = true
		}
	}
	if keepCfg && c.own.AccessKeyID != "" {
		return c.dropOwn(ctx)
	}
	return nil
}

// dropOwn removes the target's own control credential, signing with the
// configured one, which the proxy must accept again by now.
func (c *proxyControl) dropOwn(ctx context.Context) error {
	id := c.own.AccessKeyID
	c.own = targets.Credential{}
	return c.call(ctx, http.MethodDelete, "/credentials/"+url.PathEscape(id), nil, nil)
}

func (c *proxyControl) addCredential(ctx context.Context, cr targets.Credential) error {
	return c.call(ctx, http.MethodPost, "/credentials", map[string]string{"accessKeyId": cr.AccessKeyID, "secretAccessKey": cr.Secret}, nil)
}

// newCredential makes a random credential in KMS's XKS format: 24
// characters of base32 (120 bits) and a base64 secret of 256 bits.
func newCredential() (targets.Credential, error) {
	id, secret := make([]byte, 15), make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return targets.Credential{}, err
	}
	if _, err := rand.Read(secret); err != nil {
		return targets.Credential{}, err
	}
	return targets.Credential{AccessKeyID: base32.StdEncoding.EncodeToString(id), Secret: base64.StdEncoding.EncodeToString(secret)}, nil
}

// setKeys creates or changes each wanted key, remembering how it found
// keys it did not create.
func (c *proxyControl) setKeys(ctx context.Context, want map[string]keyInfo) error {
	if len(want) == 0 {
		return nil
	}
	var list []keyInfo
	if err := c.call(ctx, http.MethodGet, "/keys", nil, &list); err != nil {
		return err
	}
	have := make(map[string]keyInfo, len(list))
	for _, k := range list {
		have[k.ID] = k
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		k := want[id]
		old, ok := have[id]
		switch {
		case !ok:
			k.ID = id
			if err := c.call(ctx, http.MethodPost, "/keys", k, nil); err != nil {
				return err
			}
			c.created[id] = true
		case !old.same(k):
			if _, saved := c.patched[id]; !saved && !c.created[id] {
				c.patched[id] = old
			}
			if err := c.call(ctx, http.MethodPatch, "/keys/"+url.PathEscape(id), k, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// setFault makes fault the only fault, without clearing a fault that is
// already set (clearing unreachable or a TLS fault would let KMS in for a
// moment).
func (c *proxyControl) setFault(ctx context.Context, st proxyStatus, fault string, keyFaults map[string]string) error {
	for _, id := range sortedKeys(st.KeyFaults) {
		if keyFaults[id] == st.KeyFaults[id] {
			continue
		}
		if err := c.call(ctx, http.MethodDelete, "/keys/"+url.PathEscape(id)+"/fault", nil, nil); err != nil {
			return err
		}
	}
	for _, id := range sortedKeys(keyFaults) {
		if keyFaults[id] == st.KeyFaults[id] {
			continue
		}
		if err := c.call(ctx, http.MethodPut, "/keys/"+url.PathEscape(id)+"/fault", map[string]string{"fault": keyFaults[id]}, nil); err != nil {
			return err
		}
	}
	switch {
	case fault == st.Fault:
		return nil
	case fault == "":
		return c.call(ctx, http.MethodDelete, "/fault", nil, nil)
	}
	return c.call(ctx, http.MethodPut, "/fault", map[string]string{"fault": fault}, nil)
}

// restore undoes what the target changed: faults cleared, the configured
// credential accepted again, the credentials and keys it added removed,
// keys it changed and deny rules it cleared put back. It goes on after a
// failure, so that one stuck step does not leave the rest broken.
func (c *proxyControl) restore(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.touched {
		return nil
	}
	var errs []error
	errs = append(errs, c.call(ctx, http.MethodDelete, "/faults", nil, nil))
	if c.own.AccessKeyID != "" {
		var have []string
		err := c.call(ctx, http.MethodGet, "/credentials", nil, &have)
		errs = append(errs, err)
		if err == nil {
			if slices.Contains(have, c.cfg.AccessKeyID) {
				// The proxy holds another secret under the configured id.
				errs = append(errs, c.call(ctx, http.MethodDelete, "/credentials/"+url.PathEscape(c.cfg.AccessKeyID), nil, nil))
			}
			err := c.addCredential(ctx, c.cfg)
			errs = append(errs, err)
			if err == nil {
				c.known[c.cfg.AccessKeyID] = c.cfg.Secret
				errs = append(errs, c.dropOwn(ctx))
			}
		}
	}
	for _, id := range sortedKeys(c.added) {
		if _, there := c.known[id]; !there {
			delete(c.added, id) // already removed by a later PutProxy
			continue
		}
		err := c.call(ctx, http.MethodDelete, "/credentials/"+url.PathEscape(id), nil, nil)
		if err == nil {
			delete(c.added, id)
			delete(c.known, id)
		}
		errs = append(errs, err)
	}
	for _, id := range sortedKeys(c.created) {
		err := c.call(ctx, http.MethodDelete, "/keys/"+url.PathEscape(id), nil, nil)
		var ce *controlError
		if err == nil || (errors.As(err, &ce) && ce.status == http.StatusNotFound) {
			delete(c.created, id)
			continue
		}
		errs = append(errs, err)
	}
	for _, id := range sortedKeys(c.patched) {
		old := c.patched[id]
		err := c.call(ctx, http.MethodPatch, "/keys/"+url.PathEscape(id), keyInfo{Spec: old.Spec, Usage: old.Usage, Status: old.Status}, nil)
		var ce *controlError
		if err == nil || (errors.As(err, &ce) && ce.status == http.StatusNotFound) {
			delete(c.patched, id)
			continue
		}
		errs = append(errs, err)
	}
	if c.denyRules != nil {
		err := c.call(ctx, http.MethodPut, "/deny-rules", c.denyRules, nil)
		if err == nil {
			c.denyRules = nil
		}
		errs = append(errs, err)
	}
	if c.denyRules == nil {
		c.denyChecked = false
	}
	err := errors.Join(errs...)
	if err == nil {
		c.touched = false
	}
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
