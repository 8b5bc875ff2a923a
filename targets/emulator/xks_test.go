package emulator

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsconform/kmsconform/targets/xksproxy"
)

// startProxy runs a real XKS proxy on loopback TLS and routes its
// ServerName to it.
func (e *env) startProxy(serverName string, opts xksproxy.Options) *xksproxy.Proxy {
	e.t.Helper()
	opts.ServerName = serverName
	p, err := xksproxy.New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = p.Close() })
	if err := e.emu.RouteXKS(serverName, XKSRoute{Addr: p.Addr(), CAPEM: string(p.CACertPEM())}); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func xksCreateInput(name string, p *xksproxy.Proxy) *kms.CreateCustomKeyStoreInput {
	c := p.Credential()
	return &kms.CreateCustomKeyStoreInput{
		CustomKeyStoreName:   aws.String(name),
		CustomKeyStoreType:   types.CustomKeyStoreTypeExternalKeyStore,
		XksProxyConnectivity: types.XksProxyConnectivityTypePublicEndpoint,
		XksProxyUriEndpoint:  aws.String("https://" + p.ServerName()),
		XksProxyUriPath:      aws.String(p.URIPath()),
		XksProxyAuthenticationCredential: &types.XksProxyAuthenticationCredentialType{
			AccessKeyId: aws.String(c.AccessKeyID), RawSecretAccessKey: aws.String(c.SecretAccessKey)},
	}
}

func (e *env) createXKSStore(name string, p *xksproxy.Proxy) string {
	e.t.Helper()
	out, err := e.kms.CreateCustomKeyStore(e.ctx, xksCreateInput(name, p))
	if err != nil {
		e.t.Fatalf("create XKS store: %v", err)
	}
	return *out.CustomKeyStoreId
}

func TestXKSStoreLifecycle(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.startProxy("xks.example.com", xksproxy.Options{})
	if _, err := p.Keys().Create("ext-key-1", xksproxy.KeyOptions{}); err != nil {
		t.Fatal(err)
	}
	id := e.createXKSStore("xks-1", p)
	got := e.describe(id)
	x := got.XksProxyConfiguration
	if got.ConnectionState != types.ConnectionStateTypeDisconnected || x == nil || x.Connectivity != types.XksProxyConnectivityTypePublicEndpoint ||
		*x.AccessKeyId != p.Credential().AccessKeyID || *x.UriEndpoint != "https://xks.example.com" || x.VpcEndpointServiceName != nil {
		t.Fatalf("describe: %+v %+v", got, x)
	}
	// The create sent a signed health check.
	reqs := p.Requests()
	if len(reqs) != 1 || reqs[0].Metadata.KMSOperation != "CreateCustomKeyStore" || !reqs[0].SignatureValid {
		t.Fatalf("proxy requests after create: %+v", reqs)
	}

	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeConnected, "")

	key := must[*kms.CreateKeyOutput](t)(e.kms.CreateKey(e.ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternalKeyStore,
		CustomKeyStoreId: aws.String(id), XksKeyId: aws.String("ext-key-1")}))
	md := key.KeyMetadata
	if md.KeyState != types.KeyStateEnabled || md.XksKeyConfiguration == nil || *md.XksKeyConfiguration.Id != "ext-key-1" ||
		md.Origin != types.OriginTypeExternalKeyStore || *md.CustomKeyStoreId != id || md.CloudHsmClusterId != nil {
		t.Fatalf("key: %+v", md)
	}
	_, err := e.kms.CreateKey(e.ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternalKeyStore, CustomKeyStoreId: aws.String(id), XksKeyId: aws.String("ext-key-1")})
	wantCode(t, err, "XksKeyAlreadyInUseException")

	ec := map[string]string{"app": "demo"}
	enc := must[*kms.EncryptOutput](t)(e.kms.Encrypt(e.ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("hello xks"), EncryptionContext: ec}))
	dec := must[*kms.DecryptOutput](t)(e.kms.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}))
	if !bytes.Equal(dec.Plaintext, []byte("hello xks")) {
		t.Fatalf("round trip: %q", dec.Plaintext)
	}
	_, err = e.kms.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantCode(t, err, "InvalidCiphertextException")
	local := must[*kms.CreateKeyOutput](t)(e.kms.CreateKey(e.ctx, &kms.CreateKeyInput{}))
	re := must[*kms.ReEncryptOutput](t)(e.kms.ReEncrypt(e.ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec,
		DestinationKeyId: local.KeyMetadata.KeyId}))
	if *re.SourceKeyId != *md.Arn {
		t.Fatalf("re-encrypt source %s", *re.SourceKeyId)
	}
	dk := must[*kms.GenerateDataKeyOutput](t)(e.kms.GenerateDataKey(e.ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId, KeySpec: types.DataKeySpecAes256}))
	back := must[*kms.DecryptOutput](t)(e.kms.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, KeyId: md.Arn}))
	if len(dk.Plaintext) != 32 || !bytes.Equal(back.Plaintext, dk.Plaintext) {
		t.Fatal("data key does not decrypt to itself")
	}
	must[*kms.GenerateDataKeyWithoutPlaintextOutput](t)(e.kms.GenerateDataKeyWithoutPlaintext(e.ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: md.KeyId, NumberOfBytes: aws.Int32(16)}))

	// What custom key store keys cannot do.
	_, err = e.kms.GenerateDataKeyPair(e.ctx, &kms.GenerateDataKeyPairInput{KeyId: md.KeyId, KeyPairSpec: types.DataKeyPairSpecRsa2048})
	wantCode(t, err, "UnsupportedOperationException")
	_, err = e.kms.EnableKeyRotation(e.ctx, &kms.EnableKeyRotationInput{KeyId: md.KeyId})
	wantCode(t, err, "UnsupportedOperationException")
	_, err = e.kms.GetParametersForImport(e.ctx, &kms.GetParametersForImportInput{KeyId: md.KeyId, WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	wantCode(t, err, "UnsupportedOperationException")
	_, err = e.kms.GenerateRandom(e.ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(8), CustomKeyStoreId: aws.String(id)})
	wantCode(t, err, "UnsupportedOperationException")

	// A disabled external key: KeyState unchanged, crypto fails.
	_ = p.Keys().Disable("ext-key-1")
	_, err = e.kms.Encrypt(e.ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x")})
	wantCode(t, err, "KMSInvalidStateException")
	if s := e.keyState(*md.KeyId); s != types.KeyStateEnabled {
		t.Fatalf("key state with disabled external key: %s", s)
	}
	_ = p.Keys().Enable("ext-key-1")

	// Update while CONNECTED: credential rotation the documented way.
	newCred, _ := xksproxy.GenerateCredential()
	_ = p.AddCredential(newCred)
	must[*kms.UpdateCustomKeyStoreOutput](t)(e.kms.UpdateCustomKeyStore(e.ctx, &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(id),
		XksProxyAuthenticationCredential: &types.XksProxyAuthenticationCredentialType{AccessKeyId: aws.String(newCred.AccessKeyID), RawSecretAccessKey: aws.String(newCred.SecretAccessKey)}}))
	_ = p.RemoveCredential(p.Credentials()[0].AccessKeyID)
	must[*kms.EncryptOutput](t)(e.kms.Encrypt(e.ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("after rotation")}))
	// A credential the proxy rejects is refused by the health check.
	bad, _ := xksproxy.GenerateCredential()
	_, err = e.kms.UpdateCustomKeyStore(e.ctx, &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(id),
		XksProxyAuthenticationCredential: &types.XksProxyAuthenticationCredentialType{AccessKeyId: aws.String(bad.AccessKeyID), RawSecretAccessKey: aws.String(bad.SecretAccessKey)}})
	wantCode(t, err, "XksProxyIncorrectAuthenticationCredentialException")
	// The endpoint only while DISCONNECTED.
	_, err = e.kms.UpdateCustomKeyStore(e.ctx, &kms.UpdateCustomKeyStoreInput{CustomKeyStoreId: aws.String(id), XksProxyUriEndpoint: aws.String("https://other.example.com")})
	wantCode(t, err, "CustomKeyStoreInvalidStateException")

	e.disconnect(id)
	if s := e.keyState(*md.KeyId); s != types.KeyStateUnavailable {
		t.Fatalf("key on disconnected store: %s", s)
	}
	_, err = e.kms.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	wantCode(t, err, "KMSInvalidStateException")
	// The secret never comes back, whatever the operation.
	for _, s := range must[*kms.DescribeCustomKeyStoresOutput](t)(e.kms.DescribeCustomKeyStores(e.ctx, &kms.DescribeCustomKeyStoresInput{})).CustomKeyStores {
		if strings.Contains(*s.XksProxyConfiguration.AccessKeyId, newCred.SecretAccessKey) {
			t.Fatal("secret in describe output")
		}
	}
}

func TestXKSCreateFailures(t *testing.T) {
	cases := []struct {
		fault xksproxy.Fault
		want  string
	}{
		{xksproxy.FaultAuthenticationFailed, "XksProxyIncorrectAuthenticationCredentialException"},
		{xksproxy.FaultInvalidURIPath, "XksProxyInvalidConfigurationException"},
		{xksproxy.FaultThrottling, "XksProxyUriUnreachableException"},
		{xksproxy.FaultDependencyTimeout, "XksProxyUriUnreachableException"},
		{xksproxy.FaultHealthUnavailable, "XksProxyUriUnreachableException"},
		{xksproxy.FaultUnreachable, "XksProxyUriUnreachableException"},
		{xksproxy.FaultTLSUntrusted, "XksProxyUriUnreachableException"},
		{xksproxy.FaultTLSWrongName, "XksProxyUriUnreachableException"},
		{xksproxy.FaultTLSExpired, "XksProxyUriUnreachableException"},
		{xksproxy.FaultTLSOldVersion, "XksProxyUriUnreachableException"},
		{xksproxy.FaultValidation, "XksProxyInvalidResponseException"},
		{xksproxy.FaultInternal, "XksProxyInvalidResponseException"},
		{xksproxy.FaultNonJSON, "XksProxyInvalidResponseException"},
		{xksproxy.FaultMalformedJSON, "XksProxyInvalidResponseException"},
	}
	e := newEnv(t, Options{})
	p := e.startProxy("xks.example.com", xksproxy.Options{})
	for _, tc := range cases {
		t.Run(string(tc.fault), func(t *testing.T) {
			if err := p.SetFault(tc.fault); err != nil {
				t.Fatal(err)
			}
			defer p.ClearFaults()
			_, err := e.kms.CreateCustomKeyStore(e.ctx, xksCreateInput("x-"+string(tc.fault), p))
			wantCode(t, err, tc.want)
		})
	}
	// Degraded key managers still serve: the store is created.
	_ = p.SetFault(xksproxy.FaultHealthDegraded)
	id := e.createXKSStore("degraded", p)
	_ = p.ClearFaults()
	// Uniqueness of the URI.
	_, err := e.kms.CreateCustomKeyStore(e.ctx, xksCreateInput("another", p))
	wantCode(t, err, "XksProxyUriInUseException")
	_, err = e.kms.CreateCustomKeyStore(e.ctx, xksCreateInput("degraded", p))
	wantCode(t, err, "CustomKeyStoreNameInUseException")
	_ = id
}

func TestXKSConnectFailures(t *testing.T) {
	cases := []struct {
		fault xksproxy.Fault
		code  types.ConnectionErrorCodeType
	}{
		{xksproxy.FaultAuthenticationFailed, types.ConnectionErrorCodeTypeInvalidCredentials},
		{xksproxy.FaultAccessDenied, types.ConnectionErrorCodeTypeXksProxyAccessDenied},
		{xksproxy.FaultInvalidURIPath, types.ConnectionErrorCodeTypeXksProxyInvalidConfiguration},
		{xksproxy.FaultUnreachable, types.ConnectionErrorCodeTypeXksProxyNotReachable},
		{xksproxy.FaultHealthUnavailable, types.ConnectionErrorCodeTypeXksProxyNotReachable},
		{xksproxy.FaultTLSUntrusted, types.ConnectionErrorCodeTypeXksProxyInvalidTlsConfiguration},
		{xksproxy.FaultTLSExpired, types.ConnectionErrorCodeTypeXksProxyInvalidTlsConfiguration},
		{xksproxy.FaultTLSWrongName, types.ConnectionErrorCodeTypeXksProxyInvalidTlsConfiguration},
		{xksproxy.FaultNonJSON, types.ConnectionErrorCodeTypeXksProxyInvalidResponse},
		{xksproxy.FaultValidation, types.ConnectionErrorCodeTypeXksProxyInvalidResponse},
	}
	e := newEnv(t, Options{})
	p := e.startProxy("xks.example.com", xksproxy.Options{})
	id := e.createXKSStore("s", p)
	for _, tc := range cases {
		t.Run(string(tc.fault), func(t *testing.T) {
			_ = p.SetFault(tc.fault)
			defer p.ClearFaults()
			e.connect(id)
			e.wantState(id, types.ConnectionStateTypeFailed, tc.code)
			e.disconnect(id)
		})
	}
	// A broken route (the proxy's network gone) is NOT_REACHABLE too.
	_ = e.emu.BreakXKS("xks.example.com")
	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeFailed, types.ConnectionErrorCodeTypeXksProxyNotReachable)
	e.disconnect(id)
	_ = e.emu.RouteXKS("xks.example.com", XKSRoute{Addr: p.Addr(), CAPEM: string(p.CACertPEM())})
	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeConnected, "")
}

func TestXKSCreateKeyAndCryptoFailures(t *testing.T) {
	e := newEnv(t, Options{})
	p := e.startProxy("xks.example.com", xksproxy.Options{})
	id := e.createXKSStore("s", p)
	e.connect(id)
	_, _ = p.Keys().Create("good", xksproxy.KeyOptions{})
	_, _ = p.Keys().Create("disabled", xksproxy.KeyOptions{Status: "DISABLED"})
	_, _ = p.Keys().Create("wrong-usage", xksproxy.KeyOptions{Usage: []string{"ENCRYPT", "WRAP"}})
	createKey := func(xksKeyID string) error {
		_, err := e.kms.CreateKey(e.ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternalKeyStore, CustomKeyStoreId: aws.String(id), XksKeyId: aws.String(xksKeyID)})
		return err
	}
	wantCode(t, createKey("missing"), "XksKeyNotFoundException")
	wantCode(t, createKey("disabled"), "XksKeyInvalidConfigurationException")
	wantCode(t, createKey("wrong-usage"), "XksKeyInvalidConfigurationException")
	_ = p.SetFault(xksproxy.FaultAuthenticationFailed)
	wantCode(t, createKey("good"), "CustomKeyStoreInvalidStateException")
	_ = p.ClearFaults()
	_, err := e.kms.CreateKey(e.ctx, &kms.CreateKeyInput{Origin: types.OriginTypeAwsCloudhsm, CustomKeyStoreId: aws.String(id)})
	wantCode(t, err, "UnsupportedOperationException")
	_, err = e.kms.CreateKey(e.ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternalKeyStore, CustomKeyStoreId: aws.String(id)})
	wantCode(t, err, "ValidationException")

	key := must[*kms.CreateKeyOutput](t)(e.kms.CreateKey(e.ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternalKeyStore, CustomKeyStoreId: aws.String(id), XksKeyId: aws.String("good")}))
	enc := must[*kms.EncryptOutput](t)(e.kms.Encrypt(e.ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("x")}))
	for _, f := range []xksproxy.Fault{xksproxy.FaultInternal, xksproxy.FaultThrottling, xksproxy.FaultUnreachable, xksproxy.FaultMalformedJSON, xksproxy.FaultKeyNotFound} {
		_ = p.SetFault(f)
		_, err := e.kms.Encrypt(e.ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("x")})
		wantCode(t, err, "KMSInvalidStateException")
		_, err = e.kms.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
		wantCode(t, err, "KMSInvalidStateException")
		_ = p.ClearFaults()
	}
	// The store stays CONNECTED whatever its proxy does (spec §4.1).
	e.wantState(id, types.ConnectionStateTypeConnected, "")
}

func TestXKSTimeoutAndVPC(t *testing.T) {
	e := newEnv(t, Options{XKSTimeout: 100 * time.Millisecond})
	p := e.startProxy("xks.vpc.example.com", xksproxy.Options{SlowDelay: 5 * time.Second})
	svc := "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"
	c := p.Credential()
	in := &kms.CreateCustomKeyStoreInput{
		CustomKeyStoreName:             aws.String("vpc"),
		CustomKeyStoreType:             types.CustomKeyStoreTypeExternalKeyStore,
		XksProxyConnectivity:           types.XksProxyConnectivityTypeVpcEndpointService,
		XksProxyUriEndpoint:            aws.String("https://xks.vpc.example.com"),
		XksProxyUriPath:                aws.String(p.URIPath()),
		XksProxyVpcEndpointServiceName: aws.String(svc),
		XksProxyAuthenticationCredential: &types.XksProxyAuthenticationCredentialType{
			AccessKeyId: aws.String(c.AccessKeyID), RawSecretAccessKey: aws.String(c.SecretAccessKey)},
	}
	_, err := e.kms.CreateCustomKeyStore(e.ctx, in)
	wantCode(t, err, "XksProxyVpcEndpointServiceNotFoundException")
	_ = e.emu.PutVpcEndpointService(&VpcEndpointService{Name: svc, AllowsKMS: true, AvailabilityZones: 1, PrivateDNSName: "xks.vpc.example.com", PrivateDNSVerified: true})
	_, err = e.kms.CreateCustomKeyStore(e.ctx, in)
	wantCode(t, err, "XksProxyVpcEndpointServiceInvalidConfigurationException")
	_ = e.emu.PutVpcEndpointService(NewHealthyVpcEndpointService(svc, "xks.vpc.example.com"))
	// VPC stores are not health-checked at create: the slow proxy does not matter yet.
	_ = p.SetFault(xksproxy.FaultSlow)
	out := must[*kms.CreateCustomKeyStoreOutput](t)(e.kms.CreateCustomKeyStore(e.ctx, in))
	id := *out.CustomKeyStoreId
	got := e.describe(id).XksProxyConfiguration
	if *got.VpcEndpointServiceName != svc || *got.VpcEndpointServiceOwner != "111122223333" {
		t.Fatalf("vpc config: %+v", got)
	}
	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeFailed, types.ConnectionErrorCodeTypeXksProxyTimedOut)
	e.disconnect(id)
	_ = p.ClearFaults()
	// The endpoint service breaks after create: FAILED at connect.
	_ = e.emu.PutVpcEndpointService(&VpcEndpointService{Name: svc, AllowsKMS: false, AvailabilityZones: 2, PrivateDNSName: "xks.vpc.example.com", PrivateDNSVerified: true})
	e.connect(id)
	e.wantState(id, types.ConnectionStateTypeFailed, types.ConnectionErrorCodeTypeXksVpcEndpointServiceNotFound)
	e.disconnect(id)
	// A public store may not share the VPC store's endpoint.
	pub := xksCreateInput("pub", p)
	pub.XksProxyUriEndpoint = aws.String("https://xks.vpc.example.com")
	pub.XksProxyUriPath = aws.String("/other/kms/xks/v1")
	_, err = e.kms.CreateCustomKeyStore(e.ctx, pub)
	wantCode(t, err, "XksProxyUriEndpointInUseException")
}
