package model

// Op is an operation: a KMS API operation (its wire name, as in
// X-Amz-Target: TrentService.<Op>) or one of the environment operations below,
// which change what a target's control plane or the passage of time can
// change and are never sent to KMS.
type Op string

// Custom key store operations.
const (
	OpCreateCustomKeyStore     Op = "CreateCustomKeyStore"
	OpConnectCustomKeyStore    Op = "ConnectCustomKeyStore"
	OpDisconnectCustomKeyStore Op = "DisconnectCustomKeyStore"
	OpUpdateCustomKeyStore     Op = "UpdateCustomKeyStore"
	OpDeleteCustomKeyStore     Op = "DeleteCustomKeyStore"
	OpDescribeCustomKeyStores  Op = "DescribeCustomKeyStores"
)

// Key operations with custom-key-store rules.
const (
	OpCreateKey                       Op = "CreateKey"
	OpGenerateRandom                  Op = "GenerateRandom"
	OpEncrypt                         Op = "Encrypt"
	OpDecrypt                         Op = "Decrypt"
	OpReEncrypt                       Op = "ReEncrypt"
	OpGenerateDataKey                 Op = "GenerateDataKey"
	OpGenerateDataKeyWithoutPlaintext Op = "GenerateDataKeyWithoutPlaintext"
	OpGenerateDataKeyPair             Op = "GenerateDataKeyPair"
	OpGenerateDataKeyPairWithoutPlain Op = "GenerateDataKeyPairWithoutPlaintext"
	OpDescribeKey                     Op = "DescribeKey"
	OpEnableKey                       Op = "EnableKey"
	OpDisableKey                      Op = "DisableKey"
	OpScheduleKeyDeletion             Op = "ScheduleKeyDeletion"
	OpCancelKeyDeletion               Op = "CancelKeyDeletion"
	OpEnableKeyRotation               Op = "EnableKeyRotation"
	OpDisableKeyRotation              Op = "DisableKeyRotation"
	OpGetKeyRotationStatus            Op = "GetKeyRotationStatus"
	OpRotateKeyOnDemand               Op = "RotateKeyOnDemand"
	OpGetParametersForImport          Op = "GetParametersForImport"
	OpImportKeyMaterial               Op = "ImportKeyMaterial"
	OpDeleteImportedKeyMaterial       Op = "DeleteImportedKeyMaterial"
	OpReplicateKey                    Op = "ReplicateKey"
)

// Environment operations: not KMS calls.
const (
	// OpSettle lets a store in CONNECTING or DISCONNECTING finish its
	// transition (Call.StoreID). On any other store it changes nothing.
	OpSettle Op = "env:Settle"
	// OpSetCluster adds or replaces (by ID) the cluster in Call.Cluster.
	OpSetCluster Op = "env:SetCluster"
	// OpDeleteCluster removes the cluster Call.ClusterID.
	OpDeleteCluster Op = "env:DeleteCluster"
	// OpSetProxy adds or replaces (by Endpoint) the proxy in Call.Proxy.
	OpSetProxy Op = "env:SetProxy"
	// OpDeleteProxy removes the proxy at Call.Endpoint: nothing listens there.
	OpDeleteProxy Op = "env:DeleteProxy"
	// OpSetVpcService adds or replaces (by Name) Call.VpcServiceSpec.
	OpSetVpcService Op = "env:SetVpcService"
	// OpDeleteVpcService removes the VPC endpoint service Call.VpcServiceName.
	OpDeleteVpcService Op = "env:DeleteVpcService"
	// OpExpireKeyDeletion ends the waiting period of Call.KeyID: a
	// PendingDeletion key is deleted.
	OpExpireKeyDeletion Op = "env:ExpireKeyDeletion"
	// OpDeleteKeyMaterial deletes a CloudHSM key's material from its cluster
	// behind KMS's back (Call.KeyID).
	OpDeleteKeyMaterial Op = "env:DeleteKeyMaterial"
)

// IsEnv reports whether the operation is an environment operation.
func (o Op) IsEnv() bool { return len(o) > 4 && o[:4] == "env:" }

// CryptoOps are the cryptographic operations a key in a custom key store
// supports (spec §2.9, C-4).
var CryptoOps = []Op{OpEncrypt, OpDecrypt, OpReEncrypt, OpGenerateDataKey, OpGenerateDataKeyWithoutPlaintext}

// UnsupportedKeyOps are the operations documented as unsupported on a key in
// a custom key store (spec §2.9, §2.10).
var UnsupportedKeyOps = []Op{OpGenerateDataKeyPair, OpGenerateDataKeyPairWithoutPlain,
	OpEnableKeyRotation, OpDisableKeyRotation, OpGetKeyRotationStatus, OpRotateKeyOnDemand,
	OpGetParametersForImport, OpImportKeyMaterial, OpDeleteImportedKeyMaterial, OpReplicateKey}

// Call is one operation with its inputs. Only the fields the operation uses
// are read. Optional wire members are pointers: nil means "not sent", which
// differs from an empty string (the Go SDK sends "" as a value, spec §6.4).
type Call struct {
	Op Op

	StoreID   *string // CustomKeyStoreId (store operations, CreateKey, GenerateRandom, Describe by id; OpSettle)
	StoreName *string // CustomKeyStoreName (DescribeCustomKeyStores)
	KeyID     string  // KeyId (key operations, OpExpireKeyDeletion, OpDeleteKeyMaterial)

	Create    *CreateStoreInput
	Update    *UpdateStoreInput
	CreateKey *CreateKeyInput

	Limit             *int    // DescribeCustomKeyStores
	Marker            *string // DescribeCustomKeyStores
	NumberOfBytes     *int    // GenerateRandom
	PendingWindowDays *int    // ScheduleKeyDeletion; nil means the default, 30
	PlaintextBytes    *int    // Encrypt: the plaintext's length; nil means the driver's sample
	// CutShort (Decrypt) sends the key's ciphertext cut short: a driver
	// sends every proper prefix of it, and each answer must be allowed.
	CutShort bool

	// Omit names a required member the call leaves out although its field
	// holds a value (a plain string cannot be nil): CustomKeyStoreName of
	// CreateCustomKeyStore, or XksProxyAuthenticationCredential.AccessKeyId
	// or .RawSecretAccessKey of Create and Update. "" for none. Only the
	// validation suite's missing-member cells set it.
	Omit string

	// Environment operations.
	Cluster        *Cluster
	ClusterID      string
	Proxy          *Proxy
	Endpoint       string
	VpcServiceSpec *VpcService
	VpcServiceName string
}

// CreateStoreInput is the input of CreateCustomKeyStore.
type CreateStoreInput struct {
	Name         string
	Type         *string // CustomKeyStoreType; nil means AWS_CLOUDHSM
	ClusterID    *string
	TrustAnchor  *string
	Password     *string
	Connectivity *string
	Endpoint     *string
	Path         *string
	Credential   *Credential
	VpcService   *string
	VpcOwner     *string
}

// UpdateStoreInput is the input of UpdateCustomKeyStore, less the store id
// (which is Call.StoreID).
type UpdateStoreInput struct {
	NewName      *string
	Password     *string
	ClusterID    *string
	Credential   *Credential
	Path         *string
	Connectivity *string
	Endpoint     *string
	VpcService   *string
	VpcOwner     *string
}

// UpdateVariant classifies an UpdateCustomKeyStore call by which states may
// accept it (spec §2.4, §3).
type UpdateVariant string

const (
	UpdateNone     UpdateVariant = "none"           // no optional parameter at all
	UpdateName     UpdateVariant = "name"           // NewCustomKeyStoreName only
	UpdateXksCreds UpdateVariant = "xks-credential" // XKS credential and/or path (and maybe the name)
	UpdateOther    UpdateVariant = "other"          // anything else: password, cluster, endpoint, connectivity, VPC service
)

// Variant returns the update's variant.
func (u *UpdateStoreInput) Variant() UpdateVariant {
	if u == nil {
		return UpdateNone
	}
	other := u.Password != nil || u.ClusterID != nil || u.Connectivity != nil || u.Endpoint != nil ||
		u.VpcService != nil || u.VpcOwner != nil
	switch {
	case other:
		return UpdateOther
	case u.Credential != nil || u.Path != nil:
		return UpdateXksCreds
	case u.NewName != nil:
		return UpdateName
	}
	return UpdateNone
}

// CreateKeyInput is the part of CreateKey's input that matters for custom
// key stores; Call.StoreID is its CustomKeyStoreId.
type CreateKeyInput struct {
	Origin      *string
	XksKeyID    *string
	KeySpec     *string // nil means SYMMETRIC_DEFAULT
	KeyUsage    *string // nil means ENCRYPT_DECRYPT
	MultiRegion bool
}

// Ptr returns a pointer to v: a shorthand for optional inputs.
func Ptr[T any](v T) *T { return &v }

// deref returns *p, or "" when p is nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Store returns the CustomKeyStoreId the call names ("" for none).
func (c Call) Store() string { return deref(c.StoreID) }
