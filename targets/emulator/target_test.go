package emulator_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/kmsconform/kmsconform/targets"
	"github.com/kmsconform/kmsconform/targets/emulator"
	"github.com/kmsconform/kmsconform/targets/xksproxy"
)

// These tests drive the target as the suites do: the real SDK client from
// KMS() and the capabilities of package targets, which the target itself
// implements. They never assert timing:
// transient states are waited for by polling with generous deadlines.

const (
	anchor   = "-----BEGIN CERTIFICATE-----\nkmsconform target test anchor\n-----END CERTIFICATE-----"
	password = "kmsPswd1"
	endpoint = "https://xks.example.com"
	vpcSvc   = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"
)

type tenv struct {
	t   *testing.T
	ctx context.Context
	tgt *emulator.Target
	kms *kms.Client
	ctl *emulator.Target // its capabilities
}

func newTarget(t *testing.T, change func(*targets.Config)) *tenv {
	t.Helper()
	cfg := targets.DefaultConfig()
	if change != nil {
		change(cfg)
	}
	ctx := context.Background()
	tgt, err := emulator.NewTarget(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tgt.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &tenv{t: t, ctx: ctx, tgt: tgt, kms: tgt.KMS(), ctl: tgt}
}

func (e *tenv) ok(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func (e *tenv) describe(id string) types.CustomKeyStoresListEntry {
	e.t.Helper()
	out, err := e.kms.DescribeCustomKeyStores(e.ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
	e.ok(err)
	if len(out.CustomKeyStores) != 1 {
		e.t.Fatalf("describe %s: %d stores", id, len(out.CustomKeyStores))
	}
	return out.CustomKeyStores[0]
}

func transient(s types.ConnectionStateType) bool {
	return s == types.ConnectionStateTypeConnecting || s == types.ConnectionStateTypeDisconnecting
}

// settled polls until the store leaves CONNECTING and DISCONNECTING by
// itself, as the suites do.
func (e *tenv) settled(id string) types.CustomKeyStoresListEntry {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := e.describe(id)
		if !transient(got.ConnectionState) {
			return got
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("store %s still %s", id, got.ConnectionState)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *tenv) wantState(id string, state types.ConnectionStateType, code types.ConnectionErrorCodeType) {
	e.t.Helper()
	got := e.settled(id)
	if got.ConnectionState != state || got.ConnectionErrorCode != code {
		st, _ := e.tgt.Emulator().Store(id)
		e.t.Fatalf("store %s: want %s %q, got %s %q (%s)", id, state, code, got.ConnectionState, got.ConnectionErrorCode, st.ErrorDetail)
	}
}

func (e *tenv) connect(id string) {
	e.t.Helper()
	_, err := e.kms.ConnectCustomKeyStore(e.ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	e.ok(err)
}

// disconnect ends in DISCONNECTED from CONNECTED or FAILED.
func (e *tenv) disconnect(id string) {
	e.t.Helper()
	_, err := e.kms.DisconnectCustomKeyStore(e.ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	e.ok(err)
	e.wantState(id, types.ConnectionStateTypeDisconnected, "")
}

func healthyCluster(id string) targets.Cluster {
	return targets.Cluster{ID: id, TrustAnchor: anchor, Initialized: true, ActiveHSMs: 2, NetworkOK: true, Kmsuser: "ready", Password: password}
}

func (e *tenv) hsmStore(name, clusterID string) string {
	e.t.Helper()
	e.ok(e.ctl.PutCluster(e.ctx, healthyCluster(clusterID)))
	out, err := e.kms.CreateCustomKeyStore(e.ctx, &kms.CreateCustomKeyStoreInput{
		CustomKeyStoreName:     aws.String(name),
		CloudHsmClusterId:      aws.String(clusterID),
		TrustAnchorCertificate: aws.String(anchor),
		KeyStorePassword:       aws.String(password),
	})
	e.ok(err)
	return *out.CustomKeyStoreId
}

func credential(t *testing.T) targets.Credential {
	c, err := xksproxy.GenerateCredential()
	if err != nil {
		t.Fatal(err)
	}
	return targets.Credential{AccessKeyID: c.AccessKeyID, Secret: c.SecretAccessKey}
}

func xksInput(name, endpoint, path string, c targets.Credential) *kms.CreateCustomKeyStoreInput {
	return &kms.CreateCustomKeyStoreInput{
		CustomKeyStoreName:   aws.String(name),
		CustomKeyStoreType:   types.CustomKeyStoreTypeExternalKeyStore,
		XksProxyConnectivity: types.XksProxyConnectivityTypePublicEndpoint,
		XksProxyUriEndpoint:  aws.String(endpoint),
		XksProxyUriPath:      aws.String(path),
		XksProxyAuthenticationCredential: &types.XksProxyAuthenticationCredentialType{
			AccessKeyId: aws.String(c.AccessKeyID), RawSecretAccessKey: aws.String(c.Secret)},
	}
}

func (e *tenv) xksStore(in *kms.CreateCustomKeyStoreInput) string {
	e.t.Helper()
	out, err := e.kms.CreateCustomKeyStore(e.ctx, in)
	e.ok(err)
	return *out.CustomKeyStoreId
}

func TestTargetIdentity(t *testing.T) {
	e := newTarget(t, nil)
	var tgt targets.Target = e.tgt
	def := targets.DefaultConfig()
	if tgt.Name() != "emulator" || tgt.Kind() != targets.KindEmulator || !strings.HasPrefix(tgt.Endpoint(), "http://127.0.0.1:") ||
		tgt.Timeouts() != def.Emulator.Timeouts || !reflect.DeepEqual(tgt.Backing(), targets.Backing{}) {
		t.Fatalf("identity: %s %s %s %+v %v", tgt.Name(), tgt.Kind(), tgt.Endpoint(), tgt.Timeouts(), tgt.Backing())
	}
	if !targets.Full(tgt) {
		t.Fatal("the emulator target lacks a capability")
	}
	o := tgt.KMS().Options()
	if o.RetryMaxAttempts != 1 || o.HTTPClient == nil || *o.BaseEndpoint != tgt.Endpoint() {
		t.Fatalf("client options: retries %d, endpoint %v", o.RetryMaxAttempts, o.BaseEndpoint)
	}
	if _, err := tgt.KMS().ListKeys(e.ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	}
}

func TestTargetCloudHSMConnectsByItself(t *testing.T) {
	e := newTarget(t, nil)
	id := e.hsmStore("hsm", "cluster-abcdefghijk")
	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeConnected, "")
	e.disconnect(id)
	// KMS rotated the kmsuser password at the connect; a PutCluster with
	// Password "" keeps the rotated one, so the next connect works.
	c := healthyCluster("cluster-abcdefghijk")
	c.Password = ""
	e.ok(e.ctl.PutCluster(e.ctx, c))
	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeConnected, "")
	e.disconnect(id)
	// A password set behind KMS's back is one KMS does not know.
	c.Password = "otherPswd1"
	e.ok(e.ctl.PutCluster(e.ctx, c))
	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeFailed, types.ConnectionErrorCodeTypeInvalidCredentials)
}

func TestTargetPutClusterFailures(t *testing.T) {
	e := newTarget(t, nil)
	cases := []struct {
		name   string
		change func(*targets.Cluster)
		code   types.ConnectionErrorCodeType
	}{
		{"locked out", func(c *targets.Cluster) { c.Kmsuser = "locked-out" }, types.ConnectionErrorCodeTypeUserLockedOut},
		{"five failed logins", func(c *targets.Cluster) { c.FailedLogins = 5 }, types.ConnectionErrorCodeTypeUserLockedOut},
		{"logged in", func(c *targets.Cluster) { c.Kmsuser = "logged-in" }, types.ConnectionErrorCodeTypeUserLoggedIn},
		{"missing kmsuser", func(c *targets.Cluster) { c.Kmsuser = "missing" }, types.ConnectionErrorCodeTypeUserNotFound},
		{"no HSMs", func(c *targets.Cluster) { c.ActiveHSMs = 0 }, types.ConnectionErrorCodeTypeInsufficientCloudhsmHsms},
		{"no free addresses", func(c *targets.Cluster) { c.Fault = "no-free-addresses" }, types.ConnectionErrorCodeTypeInsufficientFreeAddressesInSubnet},
		{"subnet deleted", func(c *targets.Cluster) { c.Fault = "subnet-deleted" }, types.ConnectionErrorCodeTypeSubnetNotFound},
		{"network error", func(c *targets.Cluster) { c.Fault = "network-error" }, types.ConnectionErrorCodeTypeNetworkErrors},
		{"internal error", func(c *targets.Cluster) { c.Fault = "internal-error" }, types.ConnectionErrorCodeTypeInternalError},
		{"wrong password", func(c *targets.Cluster) { c.Password = "wrongPswd" }, types.ConnectionErrorCodeTypeInvalidCredentials},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			// Reset keeps the ten-store quota out of the way.
			e.ok(e.ctl.Reset(e.ctx))
			id := e.hsmStore("hsm", "cluster-abcdefghijk")
			cl := healthyCluster("cluster-abcdefghijk")
			c.change(&cl)
			e.ok(e.ctl.PutCluster(e.ctx, cl))
			e.connect(id)
			e.wantState(id, types.ConnectionStateTypeFailed, c.code)
		})
	}
	t.Run("deleted cluster", func(t *testing.T) {
		e.t = t
		e.ok(e.ctl.Reset(e.ctx))
		id := e.hsmStore("hsm", "cluster-abcdefghijk")
		e.ok(e.ctl.DeleteCluster(e.ctx, "cluster-abcdefghijk"))
		e.ok(e.ctl.DeleteCluster(e.ctx, "cluster-abcdefghijk")) // idempotent
		e.connect(id)
		e.wantState(id, types.ConnectionStateTypeFailed, types.ConnectionErrorCodeTypeClusterNotFound)
	})
	t.Run("network not ok", func(t *testing.T) {
		e.t = t
		e.ok(e.ctl.Reset(e.ctx))
		id := e.hsmStore("hsm", "cluster-abcdefghijk")
		cl := healthyCluster("cluster-abcdefghijk")
		cl.NetworkOK = false
		e.ok(e.ctl.PutCluster(e.ctx, cl))
		_, err := e.kms.ConnectCustomKeyStore(e.ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
		wantCode(t, err, "CloudHsmClusterInvalidConfigurationException")
	})
	t.Run("not initialized", func(t *testing.T) {
		e.t = t
		e.ok(e.ctl.Reset(e.ctx))
		cl := healthyCluster("cluster-abcdefghijk")
		cl.Initialized = false
		e.ok(e.ctl.PutCluster(e.ctx, cl))
		_, err := e.kms.CreateCustomKeyStore(e.ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("hsm"),
			CloudHsmClusterId: aws.String(cl.ID), TrustAnchorCertificate: aws.String(anchor), KeyStorePassword: aws.String(password)})
		wantCode(t, err, "CloudHsmClusterNotActiveException")
	})
	for _, bad := range []targets.Cluster{{}, {ID: "cluster-abcdefghijk", Kmsuser: "asleep"}, {ID: "cluster-abcdefghijk", Fault: "fire"}, {ID: "cluster-abcdefghijk", ActiveHSMs: -1}} {
		if err := e.ctl.PutCluster(e.ctx, bad); err == nil {
			t.Errorf("PutCluster(%v) accepted", bad)
		}
	}
}

func TestTargetHoldReleaseSettle(t *testing.T) {
	e := newTarget(t, nil)
	id := e.hsmStore("hsm", "cluster-abcdefghijk")
	e.ok(e.ctl.Hold(e.ctx, id))
	e.connect(id)
	// Many transition durations later, the held store is still CONNECTING.
	for range 5 {
		if got := e.describe(id).ConnectionState; got != types.ConnectionStateTypeConnecting {
			t.Fatalf("held store is %s", got)
		}
		time.Sleep(4 * targets.DefaultConfig().Emulator.Transition)
	}
	e.ok(e.ctl.Release(e.ctx, id))
	e.wantState(id, types.ConnectionStateTypeConnected, "")

	e.ok(e.ctl.Hold(e.ctx, id))
	_, err := e.kms.DisconnectCustomKeyStore(e.ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	e.ok(err)
	if got := e.describe(id).ConnectionState; got != types.ConnectionStateTypeDisconnecting {
		t.Fatalf("held store is %s", got)
	}
	// Settle returns once the transition is over.
	e.ok(e.ctl.Settle(e.ctx, id))
	if got := e.describe(id).ConnectionState; got != types.ConnectionStateTypeDisconnected {
		t.Fatalf("settled store is %s", got)
	}
	if err := e.ctl.Hold(e.ctx, "cks-nonexistent"); !errors.Is(err, emulator.ErrNotFound) {
		t.Fatalf("hold of a missing store: %v", err)
	}
}

// Settle ends a transition at once however long it is configured to last.
func TestTargetSettleLongTransition(t *testing.T) {
	e := newTarget(t, func(c *targets.Config) { c.Emulator.Transition = time.Hour })
	id := e.hsmStore("hsm", "cluster-abcdefghijk")
	e.connect(id)
	if got := e.describe(id).ConnectionState; got != types.ConnectionStateTypeConnecting {
		t.Fatalf("store is %s", got)
	}
	e.ok(e.ctl.Settle(e.ctx, id))
	if got := e.describe(id); got.ConnectionState != types.ConnectionStateTypeConnected {
		t.Fatalf("settled store is %s %s", got.ConnectionState, got.ConnectionErrorCode)
	}
	// An XKS connect settles too, after its health check.
	cred := credential(t)
	e.ok(e.ctl.PutProxy(e.ctx, targets.Proxy{Endpoint: endpoint, Accepted: []targets.Credential{cred}}))
	x := e.xksStore(xksInput("xks", endpoint, "/kms/xks/v1", cred))
	e.connect(x)
	e.ok(e.ctl.Settle(e.ctx, x))
	if got := e.describe(x); got.ConnectionState != types.ConnectionStateTypeConnected {
		t.Fatalf("settled XKS store is %s %s", got.ConnectionState, got.ConnectionErrorCode)
	}
}

func TestTargetProxyFaults(t *testing.T) {
	e := newTarget(t, nil)
	cred := credential(t)
	healthy := targets.Proxy{Endpoint: endpoint, Path: "/kms/xks/v1", Accepted: []targets.Credential{cred}, Keys: []targets.ExternalKey{{ID: "k1", Status: "ok"}}}
	e.ok(e.ctl.PutProxy(e.ctx, healthy))
	id := e.xksStore(xksInput("xks", endpoint, "/kms/xks/v1", cred))
	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeConnected, "")

	cases := []struct {
		name   string
		change func(*targets.Proxy)
		code   types.ConnectionErrorCodeType // "" means CONNECTED
	}{
		{"unreachable", func(p *targets.Proxy) { p.Fault = "unreachable" }, types.ConnectionErrorCodeTypeXksProxyNotReachable},
		{"healthy again", func(p *targets.Proxy) {}, ""},
		{"slow", func(p *targets.Proxy) { p.Fault = "slow" }, types.ConnectionErrorCodeTypeXksProxyTimedOut},
		{"tls-invalid", func(p *targets.Proxy) { p.Fault = "tls-invalid" }, types.ConnectionErrorCodeTypeXksProxyInvalidTlsConfiguration},
		{"deny-all", func(p *targets.Proxy) { p.Fault = "deny-all" }, types.ConnectionErrorCodeTypeXksProxyAccessDenied},
		{"throttling", func(p *targets.Proxy) { p.Fault = "throttling" }, types.ConnectionErrorCodeTypeXksProxyNotReachable},
		{"internal", func(p *targets.Proxy) { p.Fault = "internal" }, types.ConnectionErrorCodeTypeXksProxyInvalidResponse},
		{"dependency-timeout", func(p *targets.Proxy) { p.Fault = "dependency-timeout" }, types.ConnectionErrorCodeTypeXksProxyNotReachable},
		{"malformed", func(p *targets.Proxy) { p.Fault = "malformed" }, types.ConnectionErrorCodeTypeXksProxyInvalidResponse},
		{"ekm-unavailable", func(p *targets.Proxy) { p.Fault = "ekm-unavailable" }, types.ConnectionErrorCodeTypeXksProxyNotReachable},
		{"ekm-degraded", func(p *targets.Proxy) { p.Fault = "ekm-degraded" }, ""},
		{"network-error", func(p *targets.Proxy) { p.Fault = "network-error" }, types.ConnectionErrorCodeTypeNetworkErrors},
		{"kms-internal-error", func(p *targets.Proxy) { p.Fault = "kms-internal-error" }, types.ConnectionErrorCodeTypeInternalError},
		{"healthy after the route faults", func(p *targets.Proxy) {}, ""},
		{"other credential", func(p *targets.Proxy) { p.Accepted = []targets.Credential{credential(t)} }, types.ConnectionErrorCodeTypeInvalidCredentials},
		{"no credential", func(p *targets.Proxy) { p.Accepted = nil }, types.ConnectionErrorCodeTypeInvalidCredentials},
		{"rotation: both", func(p *targets.Proxy) { p.Accepted = []targets.Credential{credential(t), cred} }, ""},
		{"other path", func(p *targets.Proxy) { p.Path = "/tenant/kms/xks/v1" }, types.ConnectionErrorCodeTypeXksProxyInvalidConfiguration},
		{"back to the path", func(p *targets.Proxy) {}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			e.disconnect(id)
			p := healthy
			c.change(&p)
			e.ok(e.ctl.PutProxy(e.ctx, p))
			e.connect(id)
			if c.code == "" {
				e.wantState(id, types.ConnectionStateTypeConnected, "")
			} else {
				e.wantState(id, types.ConnectionStateTypeFailed, c.code)
			}
		})
	}
	t.Run("deleted", func(t *testing.T) {
		e.t = t
		e.disconnect(id)
		e.ok(e.ctl.DeleteProxy(e.ctx, endpoint))
		e.ok(e.ctl.DeleteProxy(e.ctx, endpoint)) // idempotent
		e.connect(id)
		e.wantState(id, types.ConnectionStateTypeFailed, types.ConnectionErrorCodeTypeXksProxyNotReachable)
	})
	for _, bad := range []targets.Proxy{
		{Endpoint: "http://xks.example.com"}, {Endpoint: "https://xks.example.com:8443"}, {Endpoint: "https://xks.example.com/x"},
		{Endpoint: endpoint, Path: "/kms/xks/v2"}, {Endpoint: endpoint, Fault: "on-fire"},
		{Endpoint: endpoint, Keys: []targets.ExternalKey{{ID: "k", Status: "lost"}}},
		{Endpoint: endpoint, Accepted: []targets.Credential{{AccessKeyID: "short", Secret: "x"}}},
	} {
		if err := e.ctl.PutProxy(e.ctx, bad); err == nil {
			t.Errorf("PutProxy(%+v) accepted", bad)
		}
	}
}

func TestTargetExternalKeys(t *testing.T) {
	e := newTarget(t, nil)
	cred := credential(t)
	proxy := targets.Proxy{Endpoint: endpoint, Accepted: []targets.Credential{cred}, Keys: []targets.ExternalKey{
		{ID: "ok", Status: "ok"}, {ID: "disabled", Status: "disabled"}, {ID: "wrong-spec", Status: "wrong-spec"}, {ID: "wrong-usage", Status: "wrong-usage"}}}
	e.ok(e.ctl.PutProxy(e.ctx, proxy))
	id := e.xksStore(xksInput("xks", endpoint, "/kms/xks/v1", cred))
	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeConnected, "")
	createKey := func(xksKeyID string) (*kms.CreateKeyOutput, error) {
		return e.kms.CreateKey(e.ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternalKeyStore, CustomKeyStoreId: aws.String(id), XksKeyId: aws.String(xksKeyID)})
	}
	key, err := createKey("ok")
	e.ok(err)
	for _, bad := range []string{"disabled", "wrong-spec", "wrong-usage"} {
		_, err := createKey(bad)
		wantCode(t, err, "XksKeyInvalidConfigurationException")
	}
	_, err = createKey("absent")
	wantCode(t, err, "XksKeyNotFoundException")

	enc, err := e.kms.Encrypt(e.ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("hello")})
	e.ok(err)
	decrypt := func() ([]byte, error) {
		out, err := e.kms.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
		if err != nil {
			return nil, err
		}
		return out.Plaintext, nil
	}
	// A fault in place, a re-created proxy (another path and back) and a
	// deleted one: the external key manager keeps the key.
	for _, change := range []func(p *targets.Proxy){
		func(p *targets.Proxy) { p.Fault = "ekm-degraded" },
		func(p *targets.Proxy) { p.Path = "/other/kms/xks/v1" },
		func(p *targets.Proxy) {},
	} {
		p := proxy
		change(&p)
		e.ok(e.ctl.PutProxy(e.ctx, p))
	}
	e.ok(e.ctl.DeleteProxy(e.ctx, endpoint))
	if _, err := decrypt(); err == nil {
		t.Fatal("decrypt through a deleted proxy worked")
	}
	e.ok(e.ctl.PutProxy(e.ctx, proxy))
	pt, err := decrypt()
	e.ok(err)
	if !bytes.Equal(pt, []byte("hello")) {
		t.Fatalf("decrypt: %q", pt)
	}
	// A key status changed in place reaches the crypto path.
	p := proxy
	p.Keys = []targets.ExternalKey{{ID: "ok", Status: "disabled"}}
	e.ok(e.ctl.PutProxy(e.ctx, p))
	_, err = decrypt()
	wantCode(t, err, "KMSInvalidStateException")
	// A key left out of Keys is gone.
	p.Keys = []targets.ExternalKey{{ID: "ok"}, {ID: "k2"}}
	e.ok(e.ctl.PutProxy(e.ctx, p))
	p.Keys = p.Keys[:1]
	e.ok(e.ctl.PutProxy(e.ctx, p))
	_, err = createKey("k2")
	wantCode(t, err, "XksKeyNotFoundException")
}

func TestTargetVpcService(t *testing.T) {
	e := newTarget(t, nil)
	cred := credential(t)
	e.ok(e.ctl.PutProxy(e.ctx, targets.Proxy{Endpoint: endpoint, Accepted: []targets.Credential{cred}}))
	in := xksInput("vpc", endpoint, "/kms/xks/v1", cred)
	in.XksProxyConnectivity = types.XksProxyConnectivityTypeVpcEndpointService
	in.XksProxyVpcEndpointServiceName = aws.String(vpcSvc)
	_, err := e.kms.CreateCustomKeyStore(e.ctx, in)
	wantCode(t, err, "XksProxyVpcEndpointServiceNotFoundException")

	e.ok(e.ctl.PutVpcService(e.ctx, targets.VpcService{Name: vpcSvc, Status: "ok"}))
	id := e.xksStore(in)
	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeConnected, "")

	e.disconnect(id)
	e.ok(e.ctl.PutVpcService(e.ctx, targets.VpcService{Name: vpcSvc, Status: "invalid-config"}))
	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeFailed, types.ConnectionErrorCodeTypeXksVpcEndpointServiceInvalidConfiguration)

	e.disconnect(id)
	e.ok(e.ctl.DeleteVpcService(e.ctx, vpcSvc))
	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeFailed, types.ConnectionErrorCodeTypeXksVpcEndpointServiceNotFound)

	if err := e.ctl.PutVpcService(e.ctx, targets.VpcService{Name: vpcSvc, Status: "tired"}); err == nil {
		t.Fatal("unknown status accepted")
	}
}

func TestTargetExpireKeyDeletionAndKeyMaterial(t *testing.T) {
	e := newTarget(t, nil)
	id := e.hsmStore("hsm", "cluster-abcdefghijk")
	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeConnected, "")
	key, err := e.kms.CreateKey(e.ctx, &kms.CreateKeyInput{Origin: types.OriginTypeAwsCloudhsm, CustomKeyStoreId: aws.String(id)})
	e.ok(err)
	keyID := *key.KeyMetadata.KeyId

	_, err = e.kms.Encrypt(e.ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("x")})
	e.ok(err)
	e.ok(e.ctl.DeleteKeyMaterial(e.ctx, *key.KeyMetadata.Arn))
	if _, err = e.kms.Encrypt(e.ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("x")}); err == nil {
		t.Fatal("encrypt with deleted key material worked")
	}

	if err := e.ctl.ExpireKeyDeletion(e.ctx, keyID); err == nil {
		t.Fatal("ExpireKeyDeletion deleted an Enabled key")
	}
	_, err = e.kms.ScheduleKeyDeletion(e.ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(7)})
	e.ok(err)
	e.disconnect(id)
	_, err = e.kms.DeleteCustomKeyStore(e.ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	wantCode(t, err, "CustomKeyStoreHasCMKsException")

	e.ok(e.ctl.ExpireKeyDeletion(e.ctx, keyID))
	_, err = e.kms.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	wantCode(t, err, "NotFoundException")
	_, err = e.kms.DeleteCustomKeyStore(e.ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	e.ok(err)
}

func TestTargetResetAndClose(t *testing.T) {
	cfg := targets.DefaultConfig()
	tgt, err := emulator.NewTarget(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &tenv{t: t, ctx: context.Background(), tgt: tgt, kms: tgt.KMS(), ctl: tgt}
	cred := credential(t)
	e.ok(e.ctl.PutProxy(e.ctx, targets.Proxy{Endpoint: endpoint, Accepted: []targets.Credential{cred}}))
	e.xksStore(xksInput("xks", endpoint, "/kms/xks/v1", cred))
	e.hsmStore("hsm", "cluster-abcdefghijk")

	e.ok(e.ctl.Reset(e.ctx))
	out, err := e.kms.DescribeCustomKeyStores(e.ctx, &kms.DescribeCustomKeyStoresInput{})
	e.ok(err)
	if len(out.CustomKeyStores) != 0 {
		t.Fatalf("%d stores after Reset", len(out.CustomKeyStores))
	}
	// The proxy and the cluster are gone with everything else.
	_, err = e.kms.CreateCustomKeyStore(e.ctx, xksInput("xks", endpoint, "/kms/xks/v1", cred))
	wantCode(t, err, "XksProxyUriUnreachableException")
	_, err = e.kms.CreateCustomKeyStore(e.ctx, &kms.CreateCustomKeyStoreInput{CustomKeyStoreName: aws.String("hsm"),
		CloudHsmClusterId: aws.String("cluster-abcdefghijk"), TrustAnchorCertificate: aws.String(anchor), KeyStorePassword: aws.String(password)})
	wantCode(t, err, "CloudHsmClusterNotFoundException")

	e.ok(e.ctl.PutProxy(e.ctx, targets.Proxy{Endpoint: endpoint, Accepted: []targets.Credential{cred}}))
	if err := tgt.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.kms.ListKeys(e.ctx, &kms.ListKeysInput{}); err == nil {
		t.Fatal("the emulator answers after Close")
	}
}

// The control methods added for the target are on the HTTP control plane
// too, like every other.
func TestControlHTTPRoutesOfTargetMethods(t *testing.T) {
	e := newTarget(t, func(c *targets.Config) { c.Emulator.Transition = time.Hour })
	post := func(path string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.tgt.Endpoint()+emulator.ControlPrefix+path, nil)
		req.Header.Set("Content-Type", "application/json")
		cr, err := e.kms.Options().Credentials.Retrieve(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		emulator.SignControl(t, req, nil, cr.AccessKeyID, cr.SecretAccessKey, e.kms.Options().Region)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	id := e.hsmStore("hsm", "cluster-abcdefghijk")
	e.connect(id)
	if got := post("stores/" + id + "/expedite"); got != http.StatusOK {
		t.Fatalf("expedite: %d", got)
	}
	e.wantState(id, types.ConnectionStateTypeConnected, "")

	key, err := e.kms.CreateKey(e.ctx, &kms.CreateKeyInput{})
	e.ok(err)
	keyID := *key.KeyMetadata.KeyId
	_, err = e.kms.ScheduleKeyDeletion(e.ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID)})
	e.ok(err)
	if got := post("keys/" + keyID + "/expire-deletion"); got != http.StatusOK {
		t.Fatalf("expire-deletion: %d", got)
	}
	_, err = e.kms.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	wantCode(t, err, "NotFoundException")
	if got := post("keys/" + keyID + "/expire-deletion"); got != http.StatusNotFound {
		t.Fatalf("expire-deletion of a deleted key: %d", got)
	}
}

// Reset keeps a proxy for reuse (a fuzzer resets before every case), but
// what the reused proxy accepts and holds is only what the next PutProxy
// says: no credential or external key of the case before survives.
func TestTargetResetEmptiesReusedProxies(t *testing.T) {
	e := newTarget(t, nil)
	credA, credB := credential(t), credential(t)
	e.ok(e.ctl.PutProxy(e.ctx, targets.Proxy{Endpoint: endpoint, Accepted: []targets.Credential{credA},
		Keys: []targets.ExternalKey{{ID: "k1", Status: "ok"}}}))
	id := e.xksStore(xksInput("xks", endpoint, "/kms/xks/v1", credA))
	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeConnected, "")

	e.ok(e.ctl.Reset(e.ctx))
	e.ok(e.ctl.PutProxy(e.ctx, targets.Proxy{Endpoint: endpoint, Accepted: []targets.Credential{credB},
		Keys: []targets.ExternalKey{{ID: "k2", Status: "ok"}}}))
	_, err := e.kms.CreateCustomKeyStore(e.ctx, xksInput("xks-a", endpoint, "/kms/xks/v1", credA))
	wantCode(t, err, "XksProxyIncorrectAuthenticationCredentialException")
	id = e.xksStore(xksInput("xks-b", endpoint, "/kms/xks/v1", credB))
	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeConnected, "")
	createKey := func(xksKeyID string) error {
		_, err := e.kms.CreateKey(e.ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternalKeyStore, CustomKeyStoreId: aws.String(id), XksKeyId: aws.String(xksKeyID)})
		return err
	}
	wantCode(t, createKey("k1"), "XksKeyNotFoundException")
	e.ok(createKey("k2"))

	// Another path after a Reset: a proxy of its own, not the idle one.
	e.ok(e.ctl.Reset(e.ctx))
	e.ok(e.ctl.PutProxy(e.ctx, targets.Proxy{Endpoint: endpoint, Path: "/tenant/kms/xks/v1", Accepted: []targets.Credential{credB}}))
	id = e.xksStore(xksInput("xks-c", endpoint, "/tenant/kms/xks/v1", credB))
	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeConnected, "")
}
