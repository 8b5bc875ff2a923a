package emulator

import (
	"context"
	"crypto/rand"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	keyEnabled         = "Enabled"
	keyDisabled        = "Disabled"
	keyPendingDeletion = "PendingDeletion"
	keyUnavailable     = "Unavailable"

	originKMS      = "AWS_KMS"
	originExternal = "EXTERNAL"
	originCloudHSM = "AWS_CLOUDHSM"
	originXKS      = "EXTERNAL_KEY_STORE"
)

type key struct {
	ID          string    `json:"id"`
	Seq         int64     `json:"seq"`
	Created     time.Time `json:"created"`
	Description string    `json:"description,omitempty"`
	Origin      string    `json:"origin"`
	StoreID     string    `json:"storeId,omitempty"`
	XksKeyID    string    `json:"xksKeyId,omitempty"`
	// State is the key's own state. What callers see is derived from it
	// and the store's connection state (displayState).
	State        string    `json:"state"`
	DeletionDate time.Time `json:"deletionDate"`
	Window       int64     `json:"window,omitempty"`
	// Material is the AES-256 key for AWS_KMS keys, stands in for the HSM's
	// non-exportable key for AWS_CLOUDHSM keys, and is KMS's inner layer of
	// the double encryption for EXTERNAL_KEY_STORE keys.
	Material []byte `json:"material,omitempty"`
	// BackingDeleted simulates the HSM key or the external key being gone:
	// the KeyState does not change, only crypto fails (spec §5).
	BackingDeleted bool `json:"backingDeleted,omitempty"`
	Rotation       bool `json:"rotation,omitempty"`
}

// partitionOf is the ARN partition of a region, as the AWS SDK resolves it
// (aws-sdk-go-v2 internal/endpoints/awsrulesfn/partitions.json: each
// partition's regionRegex). A region of no other partition is in "aws",
// which is also the SDK's fallback for a region it does not know.
func partitionOf(region string) string {
	for _, p := range [...]struct{ prefix, partition string }{
		{"cn-", "aws-cn"},
		{"us-gov-", "aws-us-gov"},
		{"us-iso-", "aws-iso"},
		{"us-isob-", "aws-iso-b"},
		{"eu-isoe-", "aws-iso-e"},
		{"us-isof-", "aws-iso-f"},
		{"eusc-", "aws-eusc"},
	} {
		if strings.HasPrefix(region, p.prefix) {
			return p.partition
		}
	}
	return "aws"
}

// kmsArn is the ARN of a KMS resource ("key/<id>", "alias/<name>") of the
// emulator's account and region: every ARN the emulator makes or accepts
// as its own goes through it or iamArn, so that all carry the partition
// of the region.
func (e *Emulator) kmsArn(resource string) string {
	return "arn:" + partitionOf(e.opts.Region) + ":kms:" + e.opts.Region + ":" + e.opts.AccountID + ":" + resource
}

// iamArn is the ARN of an IAM resource ("root", "user/<name>") of the
// emulator's account: IAM ARNs name no region, but do name the partition.
func (e *Emulator) iamArn(resource string) string {
	return "arn:" + partitionOf(e.opts.Region) + ":iam::" + e.opts.AccountID + ":" + resource
}

func (e *Emulator) arn(id string) string { return e.kmsArn("key/" + id) }

// displayStateLocked is the KeyState of spec §5: Unavailable while the store
// is not CONNECTED, unless PendingDeletion; the own state otherwise, so a
// reconnect restores it and an Enable/Disable made meanwhile shows then.
func (e *Emulator) displayStateLocked(k *key) string {
	if k.State == keyPendingDeletion || k.StoreID == "" {
		return k.State
	}
	if s := e.st.Stores[k.StoreID]; (s == nil || s.State != stateConnected) && !e.mut(mutKeysEnabledOffline) {
		return keyUnavailable
	}
	return k.State
}

type keyMetadata struct {
	AWSAccountId                string
	KeyId                       string
	Arn                         string
	CreationDate                epochTime
	Enabled                     bool
	Description                 string
	KeyUsage                    string
	KeyState                    string
	DeletionDate                *epochTime `json:",omitempty"`
	PendingDeletionWindowInDays int64      `json:",omitempty"`
	Origin                      string
	CustomKeyStoreId            string `json:",omitempty"`
	CloudHsmClusterId           string `json:",omitempty"`
	KeyManager                  string
	CustomerMasterKeySpec       string
	KeySpec                     string
	EncryptionAlgorithms        []string
	MultiRegion                 bool
	CurrentKeyMaterialId        string          `json:",omitempty"`
	XksKeyConfiguration         *xksKeyConfigID `json:",omitempty"`
}

type xksKeyConfigID struct{ Id string }

func (e *Emulator) metadataLocked(k *key) keyMetadata {
	st := e.displayStateLocked(k)
	m := keyMetadata{
		AWSAccountId:          e.opts.AccountID,
		KeyId:                 k.ID,
		Arn:                   e.arn(k.ID),
		CreationDate:          epochTime(k.Created),
		Enabled:               st == keyEnabled,
		Description:           k.Description,
		KeyUsage:              "ENCRYPT_DECRYPT",
		KeyState:              st,
		Origin:                k.Origin,
		CustomKeyStoreId:      k.StoreID,
		KeyManager:            "CUSTOMER",
		CustomerMasterKeySpec: "SYMMETRIC_DEFAULT",
		KeySpec:               "SYMMETRIC_DEFAULT",
		EncryptionAlgorithms:  []string{"SYMMETRIC_DEFAULT"},
	}
	if k.State == keyPendingDeletion || e.mut(mutDeletionDateDisabled) && k.State == keyDisabled {
		d := epochTime(k.DeletionDate)
		m.DeletionDate = &d
		m.PendingDeletionWindowInDays = k.Window
	}
	switch k.Origin {
	case originKMS:
		// Keys in custom key stores have no key material id (spec §2.10).
		m.CurrentKeyMaterialId = k.ID[:8] + strings.Repeat("0", 56)
	case originCloudHSM:
		if s := e.st.Stores[k.StoreID]; s != nil {
			m.CloudHsmClusterId = s.ClusterID
		}
	case originXKS:
		m.XksKeyConfiguration = &xksKeyConfigID{Id: k.XksKeyID}
	}
	return m
}

type createKeyInput struct {
	Description                    *string
	KeyUsage                       *string
	KeySpec                        *string
	CustomerMasterKeySpec          *string
	Origin                         *string
	CustomKeyStoreId               *string
	XksKeyId                       *string
	MultiRegion                    *bool
	Policy                         *string
	BypassPolicyLockoutSafetyCheck *bool
	Tags                           []struct{ TagKey, TagValue *string }
}

// keySpecs is the KeySpec enumeration of service/kms (types/enums.go);
// the deprecated CustomerMasterKeySpec has its first 13 values, up to SM2.
var keySpecs = []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1",
	"SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512", "SM2", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87",
	"ECC_NIST_EDWARDS25519", "ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"}

var customerMasterKeySpecs = keySpecs[:13]

func (e *Emulator) opCreateKey(ctx context.Context, body []byte) (any, *apiError) {
	var in createKeyInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.str("description", in.Description, false, 0, 8192, namedPattern{}, false)
	v.enum("keyUsage", in.KeyUsage, false, "SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT", "ENCAPSULATE_DECAPSULATE")
	v.enum("keySpec", in.KeySpec, false, keySpecs...)
	v.enum("customerMasterKeySpec", in.CustomerMasterKeySpec, false, customerMasterKeySpecs...)
	v.enum("origin", in.Origin, false, originKMS, originExternal, originCloudHSM, originXKS)
	v.str("customKeyStoreId", in.CustomKeyStoreId, false, 1, 64, namedPattern{}, false)
	xksKeyPattern := patXksKeyID
	if e.mut(mutXksKeyIDPattern) {
		xksKeyPattern = namedPattern{}
	}
	v.str("xksKeyId", in.XksKeyId, false, 1, 128, xksKeyPattern, false)
	v.str("policy", in.Policy, false, 1, 131072, namedPattern{}, false)
	for i, t := range in.Tags {
		v.str("tags."+strconv.Itoa(i+1)+".member.tagKey", t.TagKey, true, 1, 128, namedPattern{}, false)
		v.str("tags."+strconv.Itoa(i+1)+".member.tagValue", t.TagValue, true, 0, 256, namedPattern{}, false)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	origin := originKMS
	if in.Origin != nil {
		origin = *in.Origin
	}
	spec := "SYMMETRIC_DEFAULT"
	if in.KeySpec != nil {
		spec = *in.KeySpec
	} else if in.CustomerMasterKeySpec != nil {
		spec = *in.CustomerMasterKeySpec
	}
	usage := "ENCRYPT_DECRYPT"
	if in.KeyUsage != nil {
		usage = *in.KeyUsage
	}
	multi := in.MultiRegion != nil && *in.MultiRegion
	if in.XksKeyId != nil && origin != originXKS {
		return nil, invalid("XksKeyId is valid only when Origin is EXTERNAL_KEY_STORE.")
	}
	cks := origin == originCloudHSM || origin == originXKS
	if cks && in.CustomKeyStoreId == nil {
		// U (spec §2.7): a custom key store origin names no store.
		return nil, invalid("CustomKeyStoreId is required when Origin is %s.", origin)
	}
	if origin == originXKS && in.XksKeyId == nil {
		return nil, invalid("XksKeyId is required when Origin is EXTERNAL_KEY_STORE.")
	}
	if !cks && in.CustomKeyStoreId != nil {
		// U (spec §2.7): the store needs its own origin.
		return nil, clientErr(errUnsupported, "Origin %s is not valid for a KMS key in a custom key store. Use AWS_CLOUDHSM or EXTERNAL_KEY_STORE.", origin)
	}
	if spec != "SYMMETRIC_DEFAULT" || usage != "ENCRYPT_DECRYPT" {
		// Custom key stores hold only symmetric encryption keys (D; the
		// exception is I). The emulator itself has no asymmetric or HMAC
		// keys either, and says so rather than pretending.
		if cks {
			return nil, clientErr(errUnsupported, "KMS keys in custom key stores must have KeySpec SYMMETRIC_DEFAULT and KeyUsage ENCRYPT_DECRYPT.")
		}
		return nil, clientErr(errUnsupported, "This emulator supports only SYMMETRIC_DEFAULT keys with KeyUsage ENCRYPT_DECRYPT.")
	}
	if multi && cks {
		return nil, clientErr(errUnsupported, "KMS keys in custom key stores cannot be multi-Region keys.")
	}
	if multi || origin == originExternal {
		return nil, clientErr(errUnsupported, "This emulator does not support multi-Region keys or imported key material.")
	}
	desc := ""
	if in.Description != nil {
		desc = *in.Description
	}
	if !cks {
		e.lock()
		defer e.mu.Unlock()
		e.settleLocked()
		k := e.newKeyLocked(desc, originKMS, "")
		if err := e.commitLocked(); err != nil {
			return nil, err
		}
		return map[string]any{"KeyMetadata": e.metadataLocked(k)}, nil
	}

	e.lock()
	check := func() (*store, *apiError) {
		s := e.st.Stores[*in.CustomKeyStoreId]
		if s == nil {
			return nil, storeNotFound()
		}
		if (s.Type == typeCloudHSM) != (origin == originCloudHSM) {
			return nil, clientErr(errUnsupported, "Origin %s is not valid for custom key store %s of type %s.", origin, s.ID, s.Type)
		}
		if s.State != stateConnected && !(s.Type == typeCloudHSM && e.mut(mutCreateKeyDisconnected)) {
			return nil, clientErr(errStoreInvalidState, "Custom key store %s is not connected. Its connection state is %s.", s.ID, s.State)
		}
		if s.Type == typeCloudHSM {
			c := e.st.Clusters[s.ClusterID]
			if c == nil {
				return nil, clientErr(errStoreInvalidState, "KMS cannot communicate with AWS CloudHSM cluster %s.", s.ClusterID)
			}
			if c.activeHSMs() < 2 || c.activeHSMZones() < 2 {
				return nil, clientErr(errClusterInvalidConf, "AWS CloudHSM cluster %s must contain at least two active HSMs in different Availability Zones.", s.ClusterID)
			}
			return s, nil
		}
		for _, k := range e.st.Keys {
			if k.StoreID == s.ID && k.XksKeyID == *in.XksKeyId {
				return nil, clientErr(errXksKeyAlreadyInUse, "The external key %s is already associated with a KMS key in custom key store %s.", *in.XksKeyId, s.ID)
			}
		}
		return s, nil
	}
	e.settleLocked()
	s, err := check()
	if err != nil || s.Type == typeCloudHSM {
		defer e.mu.Unlock()
		if err != nil {
			return nil, err
		}
		k := e.newKeyLocked(desc, originCloudHSM, s.ID)
		if err := e.commitLocked(); err != nil {
			return nil, err
		}
		return map[string]any{"KeyMetadata": e.metadataLocked(k)}, nil
	}
	cfg := s.xks()
	e.mu.Unlock()

	f, problem := e.xks.keyMetadata(ctx, cfg, *in.XksKeyId)
	if f != nil {
		return nil, f.createKeyError()
	}
	if problem != "" {
		return nil, clientErr(errXksKeyInvalidConf, "The external key %s cannot be used: %s.", *in.XksKeyId, problem)
	}
	e.lock()
	defer e.mu.Unlock()
	e.settleLocked()
	if s, err = check(); err != nil {
		return nil, err
	}
	k := e.newKeyLocked(desc, originXKS, s.ID)
	k.XksKeyID = *in.XksKeyId
	if err := e.commitLocked(); err != nil {
		return nil, err
	}
	return map[string]any{"KeyMetadata": e.metadataLocked(k)}, nil
}

func (e *Emulator) newKeyLocked(desc, origin, storeID string) *key {
	e.st.Seq++
	k := &key{ID: newUUID(), Seq: e.st.Seq, Created: e.clock.Now(), Description: desc, Origin: origin, StoreID: storeID, State: keyEnabled}
	// XKS keys get material too: KMS double-encrypts, first under a key of
	// its own, then under the external key.
	k.Material = make([]byte, 32)
	_, _ = rand.Read(k.Material)
	e.st.Keys[k.ID] = k
	e.touchKeyLocked(k.ID)
	return k
}

// findKeyLocked resolves a KeyId: a key id or a key ARN (aliases are not
// emulated, so an alias is simply not found). A key ARN of another
// partition, region or account names no key of ours.
func (e *Emulator) findKeyLocked(id string) (*key, *apiError) {
	raw := id
	if strings.HasPrefix(id, "arn:") {
		prefix := e.kmsArn("key/")
		if !strings.HasPrefix(id, prefix) {
			if strings.Contains(id, ":alias/") {
				return nil, clientErr(errNotFound, "Alias %s is not found.", id)
			}
			return nil, clientErr(errNotFound, "Invalid arn %s", id)
		}
		raw = strings.TrimPrefix(id, prefix)
	}
	if strings.HasPrefix(raw, "alias/") {
		return nil, clientErr(errNotFound, "Alias %s is not found.", e.aliasArn(raw))
	}
	k := e.st.Keys[raw]
	if k == nil {
		if len(raw) != 36 {
			return nil, clientErr(errNotFound, "Invalid keyId '%s'", raw)
		}
		return nil, clientErr(errNotFound, "Key '%s' does not exist", e.arn(raw))
	}
	e.touchKeyLocked(k.ID)
	return k, nil
}

func (e *Emulator) aliasArn(alias string) string { return e.kmsArn(alias) }

type keyIDInput struct {
	KeyId *string
}

func (e *Emulator) keyArg(body []byte, in any, id **string) *apiError {
	if err := decode(body, in); err != nil {
		return err
	}
	var v violations
	v.str("keyId", *id, true, 1, 2048, namedPattern{}, false)
	return v.err()
}

// withKey decodes and checks the KeyId of a key operation, and runs fn on
// the key under the lock, after due transitions settled.
func (e *Emulator) withKey(body []byte, fn func(k *key) (any, *apiError)) (any, *apiError) {
	var in keyIDInput
	if err := e.keyArg(body, &in, &in.KeyId); err != nil {
		return nil, err
	}
	return e.lockedKey(*in.KeyId, fn)
}

// lockedKey runs fn on the key id names, under the lock and after due
// transitions have settled: the key half of every key operation's prelude,
// for the operations whose input holds more than a KeyId.
func (e *Emulator) lockedKey(id string, fn func(k *key) (any, *apiError)) (any, *apiError) {
	e.lock()
	defer e.mu.Unlock()
	e.settleLocked()
	k, err := e.findKeyLocked(id)
	if err != nil {
		return nil, err
	}
	return fn(k)
}

func (e *Emulator) opDescribeKey(ctx context.Context, body []byte) (any, *apiError) {
	return e.withKey(body, func(k *key) (any, *apiError) {
		return map[string]any{"KeyMetadata": e.metadataLocked(k)}, nil
	})
}

func (e *Emulator) opListKeys(ctx context.Context, body []byte) (any, *apiError) {
	var in struct {
		Limit  *int64
		Marker *string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.intRange("limit", in.Limit, false, 1, 1000)
	v.str("marker", in.Marker, false, 1, 1024, patMarker, false)
	if err := v.err(); err != nil {
		return nil, err
	}
	start := int64(0)
	if in.Marker != nil {
		n, err := strconv.ParseInt(strings.TrimPrefix(*in.Marker, "k"), 10, 64)
		if err != nil || !strings.HasPrefix(*in.Marker, "k") || n < 1 {
			return nil, clientErr(errInvalidMarker, "The marker %s is not valid.", *in.Marker)
		}
		start = n
	}
	limit := 100
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	e.lock()
	defer e.mu.Unlock()
	e.settleLocked()
	keys := make([]*key, 0, len(e.st.Keys))
	for _, k := range e.st.Keys {
		if k.Seq >= start {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Seq < keys[j].Seq })
	type entry struct{ KeyId, KeyArn string }
	out := struct {
		Keys       []entry
		NextMarker string `json:",omitempty"`
		Truncated  bool
	}{Keys: []entry{}}
	for _, k := range keys {
		if len(out.Keys) == limit {
			out.Truncated, out.NextMarker = true, "k"+strconv.FormatInt(k.Seq, 10)
			break
		}
		out.Keys = append(out.Keys, entry{k.ID, e.arn(k.ID)})
	}
	return out, nil
}

func (e *Emulator) opEnableDisableKey(enable bool) func(context.Context, []byte) (any, *apiError) {
	return func(ctx context.Context, body []byte) (any, *apiError) {
		return e.withKey(body, func(k *key) (any, *apiError) {
			if k.State == keyPendingDeletion {
				return nil, clientErr(errKMSInvalidState, "%s is pending deletion.", e.arn(k.ID))
			}
			// On an Unavailable key this succeeds and shows after reconnect
			// (spec §2.10): only the own state changes.
			if enable {
				k.State = keyEnabled
			} else {
				k.State = keyDisabled
			}
			if err := e.commitLocked(); err != nil {
				return nil, err
			}
			return struct{}{}, nil
		})
	}
}

func (e *Emulator) opScheduleKeyDeletion(ctx context.Context, body []byte) (any, *apiError) {
	var in struct {
		KeyId               *string
		PendingWindowInDays *int64
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.str("keyId", in.KeyId, true, 1, 2048, namedPattern{}, false)
	// 7–30 days as the docs say, not the model's 1–365 (C-12).
	v.intRange("pendingWindowInDays", in.PendingWindowInDays, false, 7, 30)
	if err := v.err(); err != nil {
		return nil, err
	}
	window := int64(30)
	if in.PendingWindowInDays != nil {
		window = *in.PendingWindowInDays
	}
	return e.lockedKey(*in.KeyId, func(k *key) (any, *apiError) {
		if k.State == keyPendingDeletion {
			return nil, clientErr(errKMSInvalidState, "%s is pending deletion.", e.arn(k.ID))
		}
		k.State, k.Window = keyPendingDeletion, window
		k.DeletionDate = e.clock.Now().Add(time.Duration(window) * 24 * time.Hour)
		if e.st.nextDeletion.IsZero() || k.DeletionDate.Before(e.st.nextDeletion) {
			e.st.nextDeletion = k.DeletionDate
		}
		if err := e.commitLocked(); err != nil {
			return nil, err
		}
		return map[string]any{"KeyId": e.arn(k.ID), "DeletionDate": epochTime(k.DeletionDate), "KeyState": keyPendingDeletion, "PendingWindowInDays": window}, nil
	})
}

func (e *Emulator) opCancelKeyDeletion(ctx context.Context, body []byte) (any, *apiError) {
	return e.withKey(body, func(k *key) (any, *apiError) {
		if k.State != keyPendingDeletion {
			return nil, clientErr(errKMSInvalidState, "%s is not pending deletion.", e.arn(k.ID))
		}
		// The key comes back Disabled (D), shown Unavailable while its store is
		// disconnected (I) by displayStateLocked.
		k.State, k.Window, k.DeletionDate = keyDisabled, 0, time.Time{}
		if e.mut(mutCancelDeletionEnabled) {
			k.State = keyEnabled
		}
		e.recomputeNextDeletionLocked()
		if err := e.commitLocked(); err != nil {
			return nil, err
		}
		return map[string]any{"KeyId": e.arn(k.ID)}, nil
	})
}

// opUnsupportedForCKS answers the rotation and import operations: not
// possible for keys in custom key stores (spec §2.10). For AWS_KMS keys
// the rotation operations work; import never applies to them.
func (e *Emulator) opKeyAdmin(op string) func(context.Context, []byte) (any, *apiError) {
	return func(ctx context.Context, body []byte) (any, *apiError) {
		return e.withKey(body, func(k *key) (any, *apiError) {
			arn := e.arn(k.ID)
			// The type check comes before the key state check (U, spec §2.10).
			if k.Origin != originKMS {
				return nil, clientErr(errUnsupported, "%s origin is %s which is not valid for this operation.", arn, k.Origin)
			}
			return e.kmsKeyAdminLocked(op, k, arn)
		})
	}
}

// kmsKeyAdminLocked answers an import or rotation operation or
// ReplicateKey on an AWS_KMS key, outside every custom key store.
func (e *Emulator) kmsKeyAdminLocked(op string, k *key, arn string) (any, *apiError) {
	if op == "GetParametersForImport" || op == "ImportKeyMaterial" || op == "DeleteImportedKeyMaterial" {
		// Its key material came from KMS, not from an import.
		return nil, clientErr(errUnsupported, "%s origin is %s which is not valid for this operation.", arn, k.Origin)
	}
	if op == "ReplicateKey" {
		// Keys here are single-Region; custom key stores cannot hold
		// multi-Region keys at all (spec §2.10).
		return nil, clientErr(errUnsupported, "%s is not a multi-Region primary key.", arn)
	}
	switch k.State {
	case keyDisabled:
		if op != "GetKeyRotationStatus" {
			return nil, clientErr(errDisabled, "%s is disabled.", arn)
		}
	case keyPendingDeletion:
		return nil, clientErr(errKMSInvalidState, "%s is pending deletion.", arn)
	}
	switch op {
	case "EnableKeyRotation", "DisableKeyRotation":
		k.Rotation = op == "EnableKeyRotation"
		if err := e.commitLocked(); err != nil {
			return nil, err
		}
		return struct{}{}, nil
	case "GetKeyRotationStatus":
		return map[string]any{"KeyRotationEnabled": k.Rotation, "KeyId": arn}, nil
	}
	return nil, clientErr(errUnsupported, "This emulator does not rotate key material on demand.")
}

func (e *Emulator) opGenerateRandom(ctx context.Context, body []byte) (any, *apiError) {
	var in struct {
		NumberOfBytes    *int64
		CustomKeyStoreId *string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.intRange("numberOfBytes", in.NumberOfBytes, false, 1, 1024)
	// (0, 0: no bound at all.)
	v.str("customKeyStoreId", in.CustomKeyStoreId, false, e.pick(mutRandomStoreIDAnyLength, 0, 1), e.pick(mutRandomStoreIDAnyLength, 0, 64), namedPattern{}, false)
	if err := v.err(); err != nil {
		return nil, err
	}
	if in.NumberOfBytes == nil {
		// The message real KMS sends (aws-recorded GenerateRandom[None]).
		return nil, invalid("NumberOfBytes is required.")
	}
	if in.CustomKeyStoreId != nil {
		e.lock()
		e.settleLocked()
		s := e.st.Stores[*in.CustomKeyStoreId]
		var err *apiError
		switch {
		case s == nil:
			err = storeNotFound()
		case s.Type == typeXKS:
			// Type before state (spec §2.8, I).
			err = clientErr(errUnsupported, "GenerateRandom is not supported for custom key store %s of type EXTERNAL_KEY_STORE.", s.ID)
		case s.State != stateConnected && !e.mut(mutGenerateRandomOffline):
			err = clientErr(errStoreInvalidState, "Custom key store %s is not connected. Its connection state is %s.", s.ID, s.State)
		default:
			if c := e.st.Clusters[s.ClusterID]; c == nil || c.activeHSMs() == 0 {
				err = clientErr(errStoreInvalidState, "KMS cannot communicate with AWS CloudHSM cluster %s.", s.ClusterID)
			}
		}
		e.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	b := make([]byte, *in.NumberOfBytes)
	_, _ = rand.Read(b)
	return map[string]any{"Plaintext": b}, nil
}
