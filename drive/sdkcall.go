package drive

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/targets"
)

// Mapper translates the model's names and ids into the target's: model
// store and key ids into the ids the target returned, fixture names into
// names with this run's prefix, and fixture backing values into the backing
// the target offers (for targets without a control plane).
type Mapper struct {
	prefix string
	stores map[string]string
	keys   map[string]string
	// arns holds, per model key id, the key ARN the target returned: the
	// key administration calls name a key by its ARN, the cryptographic
	// ones by its id, so a target must resolve both forms.
	arns  map[string]string
	subst map[string]string
	// subst2 holds the second backing's password, path and credential,
	// for calls that name ClusterB or EndpointB.
	subst2 map[string]string
	// blobs holds, per model key id, a ciphertext made while the key was
	// usable, for Decrypt and ReEncrypt.
	blobs map[string][]byte
	// Calls counts the API calls made.
	Calls int
	// strict refuses calls that name fixtures the target does not offer
	// (see unknown); offer is what the target can make real.
	strict bool
	offer  Offer
	// borrowed holds the target ids of stores this mapper uses but does not
	// own (a walk's store a scenario adopts): the sweep leaves them.
	borrowed map[string]bool
}

// Strict makes the mapper refuse (with an *UnknownBackingError, before
// anything is sent) a call that names a fixture of the model the target
// neither was given nor can create.
func (m *Mapper) Strict(o Offer) *Mapper {
	m.strict, m.offer = true, o
	return m
}

// dataKeys counts the GenerateDataKey calls of the process, to take the
// three forms of a data key's length in turn across every cell and lane.
var dataKeys atomic.Uint64

// keyDescription is the Description of every key the driver creates; a
// key's KeyMetadata must give it back.
func (m *Mapper) keyDescription() string { return m.prefix + "key" }

// NewMapper returns a mapper whose names start with prefix and whose
// fixture backing values are replaced by b's non-empty fields.
func NewMapper(prefix string, b targets.Backing) *Mapper {
	m := &Mapper{prefix: prefix, stores: map[string]string{}, keys: map[string]string{}, arns: map[string]string{}, subst: map[string]string{}, blobs: map[string][]byte{}}
	for from, to := range map[string]string{
		model.ClusterA: b.ClusterID, model.TrustAnchorA: b.TrustAnchor, model.KmsuserPassword: b.KmsuserPassword,
		model.EndpointA: b.XksEndpoint, model.PathV1: b.XksPath,
		model.CredentialA.AccessKeyID: b.XksCredential.AccessKeyID, model.CredentialA.Secret: b.XksCredential.Secret,
		model.VpcServiceA: b.XksVpcService,
	} {
		if to != "" {
			m.subst[from] = to
		}
	}
	if s := b.Second; s != nil {
		// ClusterB and EndpointB stand for the second backing; a call that
		// names one takes the password, path and credential of that
		// backing too (see vFor).
		for from, to := range map[string]string{model.ClusterB: s.ClusterID, model.TrustAnchorB: s.TrustAnchor, model.EndpointB: s.XksEndpoint} {
			if to != "" {
				m.subst[from] = to
			}
		}
		m.subst2 = map[string]string{}
		for from, to := range map[string]string{model.KmsuserPassword: s.KmsuserPassword, model.PathV1: s.XksPath,
			model.CredentialA.AccessKeyID: s.XksCredential.AccessKeyID, model.CredentialA.Secret: s.XksCredential.Secret} {
			if to != "" {
				m.subst2[from] = to
			}
		}
	}
	for i, k := range b.XksKeyIDs {
		if i < 2 && k != "" {
			m.subst[[]string{model.XksKey1, model.XksKey2}[i]] = k
		}
	}
	return m
}

// Name maps a model store name to the target's: the run prefix goes in
// front, so a sweeper finds this run's stores and parallel runs never
// collide. Boundary tests need exact lengths: a name shorter than 8
// characters is sent as it is, and a name longer than 128 keeps its length,
// the prefix replacing its first characters.
func (m *Mapper) Name(n string) string {
	switch {
	case len(n) < 8:
		return n
	case len(n) > 128:
		return m.prefix + n[len(m.prefix):]
	}
	return m.prefix + n
}

// Prefix is the prefix of every store name this mapper makes.
func (m *Mapper) Prefix() string { return m.prefix }

// StoreID maps a model store id; an id the run never created (such as
// model.UnknownStoreID) passes through unchanged.
func (m *Mapper) StoreID(id string) string {
	if t, ok := m.stores[id]; ok {
		return t
	}
	return id
}

// made reports whether the run made a target store for model store id.
func (m *Mapper) made(id string) bool {
	_, ok := m.stores[id]
	return ok
}

// KeyID maps a model key id.
func (m *Mapper) KeyID(id string) string {
	if t, ok := m.keys[id]; ok {
		return t
	}
	return id
}

// setKey maps model key id to the target's key id and, if known, its ARN.
func (m *Mapper) setKey(id, target, arn string) {
	m.keys[id] = target
	if arn != "" {
		m.arns[id] = arn
	} else {
		delete(m.arns, id)
	}
}

// keyARN is the key ARN of model key id, or its KeyID when the target
// returned no ARN (or the key was never made).
func (m *Mapper) keyARN(id string) string {
	if t, ok := m.arns[id]; ok {
		return t
	}
	return m.KeyID(id)
}

// TargetStores returns the target ids of the stores this mapper created.
func (m *Mapper) TargetStores() []string {
	var ids []string
	for _, id := range m.stores {
		ids = append(ids, id)
	}
	return ids
}

// TargetKeys returns the target ids of the keys this mapper created.
func (m *Mapper) TargetKeys() []string {
	var ids []string
	for _, id := range m.keys {
		ids = append(ids, id)
	}
	return ids
}

// forCall returns the mapper a create or update call's values go through:
// one that maps onto the second backing when the call names it.
func (m *Mapper) forCall(cluster, endpoint *string) *Mapper {
	if m.subst2 == nil || (cluster == nil || *cluster != model.ClusterB) && (endpoint == nil || *endpoint != model.EndpointB) {
		return m
	}
	n := *m
	n.subst = maps.Clone(m.subst)
	maps.Copy(n.subst, m.subst2)
	return &n
}

// v substitutes a fixture value.
func (m *Mapper) v(s string) string {
	if t, ok := m.subst[s]; ok {
		return t
	}
	return s
}

func (m *Mapper) vp(p *string) *string {
	if p == nil {
		return nil
	}
	return aws.String(m.v(*p))
}

func (m *Mapper) cred(c *model.Credential) *types.XksProxyAuthenticationCredentialType {
	if c == nil {
		return nil
	}
	return &types.XksProxyAuthenticationCredentialType{AccessKeyId: aws.String(m.v(c.AccessKeyID)), RawSecretAccessKey: aws.String(m.v(c.Secret))}
}

// omit leaves out the required member model.Call.Omit names: the SDK then
// refuses the input, and sdk sends it on the raw path.
func omit(member string, name **string, cred *types.XksProxyAuthenticationCredentialType) {
	switch {
	case member == model.OmitName && name != nil:
		*name = nil
	case member == model.OmitAccessKeyID && cred != nil:
		cred.AccessKeyId = nil
	case member == model.OmitSecret && cred != nil:
		cred.RawSecretAccessKey = nil
	}
}

func (m *Mapper) storeIDp(p *string) *string {
	if p == nil {
		return nil
	}
	return aws.String(m.StoreID(*p))
}

// Answer is what a call returned that later steps need.
type Answer struct {
	StoreID string // CreateCustomKeyStore
	KeyID   string // CreateKey
	Stores  []types.CustomKeyStoresListEntry
	// Truncated and NextMarker are DescribeCustomKeyStores' paging.
	Truncated  bool
	NextMarker *string
	Key        *types.KeyMetadata
	Body       []byte // the raw answer of a store operation (see checkBody)
	// Wrong is what is wrong with the fields of a successful answer
	// (wrongFields); "" when nothing is.
	Wrong string
}

var samplePlaintext = []byte("kmsconform sample plaintext")

// Invoke makes the API call c on the target. It records the ids a create
// returns against the model ids the outcome names (modelStore, modelKey).
func (m *Mapper) Invoke(ctx context.Context, client *kms.Client, c model.Call, modelStore, modelKey string) (Answer, error) {
	var a Answer
	var err error
	var out any // the answer whose fields wrongFields checks
	if err := m.unknown(c); err != nil {
		return a, err
	}
	m.Calls++
	// Every answer's raw body is kept (checkBody): the SDK path's through
	// a middleware of the call, the raw path's through the context.
	ctx = withBodySink(ctx, &a.Body)
	keep := keepBody(&a.Body)
	keyID, keyARN := aws.String(m.KeyID(c.KeyID)), aws.String(m.keyARN(c.KeyID))
	switch c.Op {
	case model.OpCreateCustomKeyStore:
		in := c.Create
		m := m.forCall(in.ClusterID, in.Endpoint)
		req := &kms.CreateCustomKeyStoreInput{
			CustomKeyStoreName: aws.String(m.Name(in.Name)), CloudHsmClusterId: m.vp(in.ClusterID),
			TrustAnchorCertificate: m.vp(in.TrustAnchor), KeyStorePassword: m.vp(in.Password),
			XksProxyUriEndpoint: m.vp(in.Endpoint), XksProxyUriPath: m.vp(in.Path),
			XksProxyAuthenticationCredential: m.cred(in.Credential),
			XksProxyVpcEndpointServiceName:   m.vp(in.VpcService), XksProxyVpcEndpointServiceOwner: m.vp(in.VpcOwner),
		}
		if in.Type != nil {
			req.CustomKeyStoreType = types.CustomKeyStoreType(*in.Type)
		}
		if in.Connectivity != nil {
			req.XksProxyConnectivity = types.XksProxyConnectivityType(*in.Connectivity)
		}
		omit(c.Omit, &req.CustomKeyStoreName, req.XksProxyAuthenticationCredential)
		var out *kms.CreateCustomKeyStoreOutput
		if out, err = sdk(ctx, client, req, client.CreateCustomKeyStore, keep); err == nil {
			a.StoreID = aws.ToString(out.CustomKeyStoreId)
			if modelStore != "" && a.StoreID != "" {
				m.stores[modelStore] = a.StoreID // the maps are shared with the caller's mapper
			}
		}
	case model.OpConnectCustomKeyStore:
		_, err = sdk(ctx, client, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: m.storeIDp(c.StoreID)}, client.ConnectCustomKeyStore, keep)
	case model.OpDisconnectCustomKeyStore:
		_, err = sdk(ctx, client, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: m.storeIDp(c.StoreID)}, client.DisconnectCustomKeyStore, keep)
	case model.OpDeleteCustomKeyStore:
		_, err = sdk(ctx, client, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: m.storeIDp(c.StoreID)}, client.DeleteCustomKeyStore, keep)
	case model.OpUpdateCustomKeyStore:
		u := c.Update
		if u == nil {
			u = &model.UpdateStoreInput{}
		}
		m := m.forCall(u.ClusterID, u.Endpoint)
		req := &kms.UpdateCustomKeyStoreInput{
			CustomKeyStoreId: m.storeIDp(c.StoreID), KeyStorePassword: m.vp(u.Password), CloudHsmClusterId: m.vp(u.ClusterID),
			XksProxyAuthenticationCredential: m.cred(u.Credential), XksProxyUriPath: m.vp(u.Path), XksProxyUriEndpoint: m.vp(u.Endpoint),
			XksProxyVpcEndpointServiceName: m.vp(u.VpcService), XksProxyVpcEndpointServiceOwner: m.vp(u.VpcOwner),
		}
		if u.NewName != nil {
			req.NewCustomKeyStoreName = aws.String(m.Name(*u.NewName))
		}
		if u.Connectivity != nil {
			req.XksProxyConnectivity = types.XksProxyConnectivityType(*u.Connectivity)
		}
		omit(c.Omit, nil, req.XksProxyAuthenticationCredential)
		_, err = sdk(ctx, client, req, client.UpdateCustomKeyStore, keep)
	case model.OpDescribeCustomKeyStores:
		req := &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: m.storeIDp(c.StoreID)}
		if c.StoreName != nil {
			req.CustomKeyStoreName = aws.String(m.Name(*c.StoreName))
		}
		if c.Limit != nil {
			req.Limit = aws.Int32(int32(*c.Limit))
		}
		req.Marker = c.Marker
		var out *kms.DescribeCustomKeyStoresOutput
		if out, err = client.DescribeCustomKeyStores(ctx, req, keep); err == nil {
			a.Stores, a.Truncated, a.NextMarker = out.CustomKeyStores, out.Truncated, out.NextMarker
		}
	case model.OpCreateKey:
		req := &kms.CreateKeyInput{CustomKeyStoreId: m.storeIDp(c.StoreID), Description: aws.String(m.keyDescription())}
		if in := c.CreateKey; in != nil {
			if in.Origin != nil {
				req.Origin = types.OriginType(*in.Origin)
			}
			req.XksKeyId = m.vp(in.XksKeyID)
			if in.KeySpec != nil {
				req.KeySpec = types.KeySpec(*in.KeySpec)
			}
			if in.KeyUsage != nil {
				req.KeyUsage = types.KeyUsageType(*in.KeyUsage)
			}
			if in.MultiRegion {
				req.MultiRegion = aws.Bool(true)
			}
		}
		var out *kms.CreateKeyOutput
		if out, err = client.CreateKey(ctx, req, keep); err == nil && out.KeyMetadata != nil {
			a.Key = out.KeyMetadata
			a.KeyID = aws.ToString(out.KeyMetadata.KeyId)
			if modelKey != "" && a.KeyID != "" {
				m.setKey(modelKey, a.KeyID, aws.ToString(out.KeyMetadata.Arn))
				// A ciphertext for later Decrypt/ReEncrypt cells, made while
				// the key is usable (not a model call).
				m.Calls++
				if enc, eerr := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(a.KeyID), Plaintext: samplePlaintext}); eerr == nil {
					m.blobs[modelKey] = enc.CiphertextBlob
				}
			}
		}
	case model.OpGenerateRandom:
		req := &kms.GenerateRandomInput{CustomKeyStoreId: m.storeIDp(c.StoreID)}
		if c.NumberOfBytes != nil {
			req.NumberOfBytes = aws.Int32(int32(*c.NumberOfBytes))
		}
		out, err = client.GenerateRandom(ctx, req, keep)
	case model.OpEncrypt:
		pt := samplePlaintext
		if c.PlaintextBytes != nil {
			pt = bytes.Repeat([]byte("p"), max(*c.PlaintextBytes, 0))
		}
		out, err = client.Encrypt(ctx, &kms.EncryptInput{KeyId: keyID, Plaintext: pt}, keep)
	case model.OpDecrypt:
		if c.CutShort {
			out, err = m.decryptCutShort(ctx, client, keyID, m.blob(c.KeyID), keep)
			break
		}
		// The default algorithm named explicitly (Encrypt leaves it out):
		// a target must take both forms.
		out, err = client.Decrypt(ctx, &kms.DecryptInput{KeyId: keyID, CiphertextBlob: m.blob(c.KeyID),
			EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault}, keep)
	case model.OpReEncrypt:
		// No SourceKeyId: KMS finds a symmetric ciphertext's key in the
		// ciphertext (Decrypt names it, so both forms are checked).
		out, err = client.ReEncrypt(ctx, &kms.ReEncryptInput{DestinationKeyId: keyARN, CiphertextBlob: m.blob(c.KeyID)}, keep)
	case model.OpGenerateDataKey:
		// The data key's length is asked for in turn as KeySpec AES_256,
		// KeySpec AES_128 and NumberOfBytes 64, so each form is checked
		// (wrongFields compares the length with the one asked for).
		req := &kms.GenerateDataKeyInput{KeyId: keyID}
		want := 32
		switch dataKeys.Add(1) % 3 {
		case 1:
			req.KeySpec = types.DataKeySpecAes256
		case 2:
			req.KeySpec, want = types.DataKeySpecAes128, 16
		default:
			req.NumberOfBytes, want = aws.Int32(64), 64
		}
		var o *kms.GenerateDataKeyOutput
		if o, err = client.GenerateDataKey(ctx, req, keep); err == nil {
			out = dataKey{o, want}
		}
	case model.OpGenerateDataKeyWithoutPlaintext:
		out, err = client.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: keyID, KeySpec: types.DataKeySpecAes256}, keep)
	case model.OpGenerateDataKeyPair:
		_, err = client.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: keyID, KeyPairSpec: types.DataKeyPairSpecRsa2048}, keep)
	case model.OpGenerateDataKeyPairWithoutPlain:
		_, err = client.GenerateDataKeyPairWithoutPlaintext(ctx, &kms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: keyID, KeyPairSpec: types.DataKeyPairSpecRsa2048}, keep)
	case model.OpDescribeKey:
		var out *kms.DescribeKeyOutput
		if out, err = client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: keyARN}, keep); err == nil {
			a.Key = out.KeyMetadata
		}
	case model.OpEnableKey:
		_, err = client.EnableKey(ctx, &kms.EnableKeyInput{KeyId: keyARN}, keep)
	case model.OpDisableKey:
		_, err = client.DisableKey(ctx, &kms.DisableKeyInput{KeyId: keyARN}, keep)
	case model.OpScheduleKeyDeletion:
		req := &kms.ScheduleKeyDeletionInput{KeyId: keyARN}
		if c.PendingWindowDays != nil {
			req.PendingWindowInDays = aws.Int32(int32(*c.PendingWindowDays))
		}
		out, err = client.ScheduleKeyDeletion(ctx, req, keep)
	case model.OpCancelKeyDeletion:
		out, err = client.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: keyARN}, keep)
	case model.OpEnableKeyRotation:
		_, err = client.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: keyID}, keep)
	case model.OpDisableKeyRotation:
		_, err = client.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: keyID}, keep)
	case model.OpGetKeyRotationStatus:
		_, err = client.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: keyID}, keep)
	case model.OpRotateKeyOnDemand:
		_, err = client.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: keyID}, keep)
	case model.OpGetParametersForImport:
		_, err = client.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: keyID,
			WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048}, keep)
	case model.OpImportKeyMaterial:
		_, err = client.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: keyID, ImportToken: []byte("kmsconform-token"),
			EncryptedKeyMaterial: []byte("kmsconform-material"), ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}, keep)
	case model.OpDeleteImportedKeyMaterial:
		_, err = client.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: keyID}, keep)
	case model.OpReplicateKey:
		_, err = client.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: keyID, ReplicaRegion: aws.String(otherRegion(client.Options().Region))}, keep)
	default:
		m.Calls--
		return a, fmt.Errorf("harness: no SDK call for %s", c.Op)
	}
	if err == nil && out != nil {
		a.Wrong = wrongFields(c, out, m)
	}
	return a, err
}

func (m *Mapper) blob(modelKey string) []byte {
	if b, ok := m.blobs[modelKey]; ok {
		return b
	}
	return []byte("kmsconform: no ciphertext was made for this key")
}

// decryptCutShort sends Decrypt with every proper prefix of blob, longest
// first, and returns the answer that stands out, for the model to judge:
// the first success or the first answer that is neither
// InvalidCiphertextException nor KMSInvalidStateException (it stops
// there); else the first KMSInvalidStateException; else the last answer.
// One answer stands for all, so the cell fails if any prefix gets an answer
// the model does not allow for a ciphertext cut short.
func (m *Mapper) decryptCutShort(ctx context.Context, client *kms.Client, keyID *string, blob []byte, keep func(*kms.Options)) (any, error) {
	var last, invalidState error
	for n := len(blob) - 1; n >= 1; n-- {
		m.Calls++
		o, e := client.Decrypt(ctx, &kms.DecryptInput{KeyId: keyID, CiphertextBlob: blob[:n]}, keep)
		if e == nil {
			return o, nil
		}
		switch Classify(e).Code {
		case string(model.ErrInvalidCiphertext):
			last = e
		case string(model.ErrKMSInvalidState):
			if invalidState == nil {
				invalidState = e
			}
		default:
			return nil, e
		}
	}
	if invalidState != nil {
		return nil, invalidState
	}
	return nil, last
}

func otherRegion(r string) string {
	if r == "us-west-2" {
		return "us-east-1"
	}
	return "us-west-2"
}

// redact removes the secrets of the mapper's backing from a text that may
// end up in a report.
func (m *Mapper) redact(s string) string {
	for _, secret := range m.secrets() {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	return s
}

// secrets are the secrets the run may send: kmsuser passwords and XKS
// secret access keys.
func (m *Mapper) secrets() []string {
	var ss []string
	for _, s := range []string{m.v(model.KmsuserPassword), m.v(model.CredentialA.Secret), model.CredentialB.Secret, model.WrongKmsuserPassword,
		m.subst2[model.KmsuserPassword], m.subst2[model.CredentialA.Secret]} {
		if s != "" {
			ss = append(ss, s)
		}
	}
	return ss
}
