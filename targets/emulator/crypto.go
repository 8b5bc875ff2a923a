package emulator

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
)

const (
	blobLocal byte = 1 // AES-GCM under the key's material
	blobXKS   byte = 2 // the same, then wrapped by the external key
	keyIDLen       = 36
)

// keyUse is what a cryptographic operation needs from a key, copied out of
// the state so that the crypto and any proxy call run without the lock.
type keyUse struct {
	id, arn  string
	material []byte
	xks      *xksConfig
	xksKeyID string
}

// usableLocked applies the key-state rules of spec §2.9 and §5.
func (e *Emulator) usableLocked(k *key) (keyUse, *apiError) {
	arn := e.arn(k.ID)
	shown := e.displayStateLocked(k)
	if e.mut(mutCryptoOffline) {
		shown = k.State
	}
	switch shown {
	case keyDisabled:
		return keyUse{}, clientErr(errDisabled, "%s is disabled.", arn)
	case keyPendingDeletion:
		// KMSInvalidState rather than Disabled: the footnote allows either
		// (U, spec §5); this is what AWS_KMS keys answer.
		return keyUse{}, clientErr(errKMSInvalidState, "%s is pending deletion.", arn)
	case keyUnavailable:
		return keyUse{}, clientErr(errKMSInvalidState, "%s is unavailable.", arn)
	}
	u := keyUse{id: k.ID, arn: arn, material: k.Material}
	if k.StoreID == "" {
		return u, nil
	}
	s := e.st.Stores[k.StoreID]
	if k.Origin == originCloudHSM {
		c := e.st.Clusters[s.ClusterID]
		if c == nil || c.activeHSMs() == 0 {
			return keyUse{}, clientErr(errKMSInvalidState, "%s: KMS cannot communicate with the AWS CloudHSM cluster %s.", arn, s.ClusterID)
		}
		if k.BackingDeleted {
			return keyUse{}, clientErr(errKMSInvalidState, "%s: the key material was not found in the AWS CloudHSM cluster %s.", arn, s.ClusterID)
		}
		return u, nil
	}
	cfg := s.xks()
	u.xks, u.xksKeyID = &cfg, k.XksKeyID
	return u, nil
}

func contextAAD(keyID string, ec map[string]string) []byte {
	// json.Marshal sorts map keys, so equal contexts give equal bytes.
	b, _ := json.Marshal(ec)
	return append([]byte("kmsconform:"+keyID+":"), b...)
}

func (e *Emulator) seal(ctx context.Context, u keyUse, op string, pt []byte, ec map[string]string) ([]byte, *apiError) {
	block, err := aes.NewCipher(u.material)
	if err != nil {
		return nil, internalErr("The key material is damaged.")
	}
	gcm, _ := cipher.NewGCM(block)
	nonce := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(nonce)
	inner := gcm.Seal(nonce, nonce, pt, contextAAD(u.id, ec))
	if u.xks == nil {
		return append(append([]byte{blobLocal}, u.id...), inner...), nil
	}
	// The proxy binds its layer to the key ARN only; the encryption
	// context is checked by the inner layer, so a wrong context gives
	// InvalidCiphertextException as for any other key.
	ct, f := e.xks.encrypt(ctx, *u.xks, u.xksKeyID, u.arn, op, inner, []byte(u.arn))
	if f != nil {
		return nil, f.cryptoError(u.arn)
	}
	out := append([]byte{blobXKS}, u.id...)
	out = append(out, byte(len(ct.IV)))
	out = append(out, ct.IV...)
	out = append(out, byte(len(ct.Metadata)))
	out = append(out, ct.Metadata...)
	out = append(out, ct.Tag...)
	return append(out, ct.Ciphertext...), nil
}

func badCiphertext() *apiError {
	return clientErr(errInvalidCiphertext, "The ciphertext is invalid or was not encrypted under this key and encryption context.")
}

// blobKeyID reads the key id a ciphertext names, as KMS does to decrypt
// without a KeyId.
func blobKeyID(blob []byte) (string, *apiError) {
	if len(blob) < 1+keyIDLen || (blob[0] != blobLocal && blob[0] != blobXKS) {
		return "", badCiphertext()
	}
	return string(blob[1 : 1+keyIDLen]), nil
}

func (e *Emulator) open(ctx context.Context, u keyUse, op string, blob []byte, ec map[string]string) ([]byte, *apiError) {
	rest := blob[1+keyIDLen:]
	if blob[0] == blobXKS {
		if u.xks == nil {
			return nil, badCiphertext()
		}
		ct := &xksCiphertext{}
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return nil, badCiphertext()
		}
		ct.IV, rest = rest[1:1+int(rest[0])], rest[1+int(rest[0]):]
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return nil, badCiphertext()
		}
		ct.Metadata, rest = rest[1:1+int(rest[0])], rest[1+int(rest[0]):]
		if len(rest) < 16 {
			return nil, badCiphertext()
		}
		ct.Tag, ct.Ciphertext = rest[:16], rest[16:]
		inner, f := e.xks.decrypt(ctx, *u.xks, u.xksKeyID, u.arn, op, ct, []byte(u.arn))
		if f != nil {
			return nil, f.cryptoError(u.arn)
		}
		rest = inner
	} else if u.xks != nil {
		return nil, badCiphertext()
	}
	block, err := aes.NewCipher(u.material)
	if err != nil {
		return nil, internalErr("The key material is damaged.")
	}
	gcm, _ := cipher.NewGCM(block)
	if len(rest) < gcm.NonceSize()+gcm.Overhead() {
		return nil, badCiphertext()
	}
	pt, err := gcm.Open(nil, rest[:gcm.NonceSize()], rest[gcm.NonceSize():], contextAAD(u.id, ec))
	if err != nil {
		return nil, badCiphertext()
	}
	return pt, nil
}

// useKey resolves a KeyId and checks it can be used, under the lock.
func (e *Emulator) useKey(id string) (keyUse, *apiError) {
	e.lockForCrypto()
	defer e.mu.Unlock()
	e.settleLocked()
	k, err := e.findKeyLocked(id)
	if err != nil {
		return keyUse{}, err
	}
	return e.usableLocked(k)
}

func validateAlgorithm(v *violations, alg *string) {
	v.enum("encryptionAlgorithm", alg, false, "SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE")
}

func algorithmErr(alg *string, arn string) *apiError {
	if alg != nil && *alg != "SYMMETRIC_DEFAULT" {
		return clientErr("InvalidKeyUsageException", "%s key usage is ENCRYPT_DECRYPT which is not valid for algorithm %s.", arn, *alg)
	}
	return nil
}

func (e *Emulator) opEncrypt(ctx context.Context, body []byte) (any, *apiError) {
	var in struct {
		KeyId               *string
		Plaintext           []byte
		EncryptionContext   map[string]string
		EncryptionAlgorithm *string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.str("keyId", in.KeyId, true, 1, 2048, namedPattern{}, false)
	v.blob("plaintext", in.Plaintext, in.Plaintext != nil, true, 1, 4096)
	validateAlgorithm(&v, in.EncryptionAlgorithm)
	if err := v.err(); err != nil {
		return nil, err
	}
	u, err := e.useKey(*in.KeyId)
	if err != nil {
		return nil, err
	}
	if err := algorithmErr(in.EncryptionAlgorithm, u.arn); err != nil {
		return nil, err
	}
	blob, err := e.seal(ctx, u, "Encrypt", in.Plaintext, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	named := u.arn
	if e.mut(mutEncryptAnswersKeyID) {
		named = u.id
	}
	return map[string]any{"CiphertextBlob": blob, "KeyId": named, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
}

// decryptInput resolves the key of a ciphertext and checks it against the
// KeyId the caller named, if any.
func (e *Emulator) decryptWith(ctx context.Context, op string, blob []byte, keyID *string, ec map[string]string) ([]byte, keyUse, *apiError) {
	id, err := blobKeyID(blob)
	if err != nil {
		return nil, keyUse{}, err
	}
	e.lockForCrypto()
	e.settleLocked()
	var named *key
	if keyID != nil {
		if named, err = e.findKeyLocked(*keyID); err != nil {
			e.mu.Unlock()
			return nil, keyUse{}, err
		}
		if named.ID != id {
			e.mu.Unlock()
			return nil, keyUse{}, clientErr(errIncorrectKey, "The key ID in the request does not identify a CMK that can perform this operation.")
		}
	}
	k := e.st.Keys[id]
	if k == nil {
		e.mu.Unlock()
		return nil, keyUse{}, badCiphertext()
	}
	u, err := e.usableLocked(k)
	e.mu.Unlock()
	if err != nil {
		return nil, keyUse{}, err
	}
	pt, err := e.open(ctx, u, op, blob, ec)
	return pt, u, err
}

func (e *Emulator) opDecrypt(ctx context.Context, body []byte) (any, *apiError) {
	var in struct {
		KeyId               *string
		CiphertextBlob      []byte
		EncryptionContext   map[string]string
		EncryptionAlgorithm *string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.str("keyId", in.KeyId, false, 1, 2048, namedPattern{}, false)
	v.blob("ciphertextBlob", in.CiphertextBlob, in.CiphertextBlob != nil, true, 1, 6144)
	validateAlgorithm(&v, in.EncryptionAlgorithm)
	if err := v.err(); err != nil {
		return nil, err
	}
	if e.mut(mutShortCiphertextInternal) && len(in.CiphertextBlob) < 1+keyIDLen {
		return nil, internalErr("index out of range")
	}
	pt, u, err := e.decryptWith(ctx, "Decrypt", in.CiphertextBlob, in.KeyId, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	if err := algorithmErr(in.EncryptionAlgorithm, u.arn); err != nil {
		return nil, err
	}
	return map[string]any{"Plaintext": pt, "KeyId": u.arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
}

func (e *Emulator) opReEncrypt(ctx context.Context, body []byte) (any, *apiError) {
	var in struct {
		CiphertextBlob                 []byte
		SourceEncryptionContext        map[string]string
		SourceKeyId                    *string
		DestinationKeyId               *string
		DestinationEncryptionContext   map[string]string
		SourceEncryptionAlgorithm      *string
		DestinationEncryptionAlgorithm *string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.blob("ciphertextBlob", in.CiphertextBlob, in.CiphertextBlob != nil, true, 1, 6144)
	v.str("sourceKeyId", in.SourceKeyId, false, 1, 2048, namedPattern{}, false)
	v.str("destinationKeyId", in.DestinationKeyId, true, 1, 2048, namedPattern{}, false)
	v.enum("sourceEncryptionAlgorithm", in.SourceEncryptionAlgorithm, false, "SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE")
	v.enum("destinationEncryptionAlgorithm", in.DestinationEncryptionAlgorithm, false, "SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE")
	if err := v.err(); err != nil {
		return nil, err
	}
	dst, err := e.useKey(*in.DestinationKeyId)
	if err != nil {
		return nil, err
	}
	pt, src, err := e.decryptWith(ctx, "ReEncrypt", in.CiphertextBlob, in.SourceKeyId, in.SourceEncryptionContext)
	if err != nil {
		return nil, err
	}
	if err := algorithmErr(in.SourceEncryptionAlgorithm, src.arn); err != nil {
		return nil, err
	}
	if err := algorithmErr(in.DestinationEncryptionAlgorithm, dst.arn); err != nil {
		return nil, err
	}
	blob, err := e.seal(ctx, dst, "ReEncrypt", pt, in.DestinationEncryptionContext)
	if err != nil {
		return nil, err
	}
	return map[string]any{"CiphertextBlob": blob, "SourceKeyId": src.arn, "KeyId": dst.arn,
		"SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
}

func (e *Emulator) opGenerateDataKey(withPlaintext bool) func(context.Context, []byte) (any, *apiError) {
	op := "GenerateDataKey"
	if !withPlaintext {
		op = "GenerateDataKeyWithoutPlaintext"
	}
	return func(ctx context.Context, body []byte) (any, *apiError) {
		var in struct {
			KeyId             *string
			EncryptionContext map[string]string
			NumberOfBytes     *int64
			KeySpec           *string
		}
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		var v violations
		v.str("keyId", in.KeyId, true, 1, 2048, namedPattern{}, false)
		v.intRange("numberOfBytes", in.NumberOfBytes, false, 1, 1024)
		v.enum("keySpec", in.KeySpec, false, "AES_256", "AES_128")
		if err := v.err(); err != nil {
			return nil, err
		}
		n := int64(0)
		switch {
		case in.NumberOfBytes != nil && in.KeySpec != nil:
			return nil, invalid("Please specify either number of bytes or key spec.")
		case in.NumberOfBytes != nil:
			n = *in.NumberOfBytes
		case in.KeySpec != nil && *in.KeySpec == "AES_128":
			n = 16
		case in.KeySpec != nil:
			n = 32
		default:
			return nil, invalid("Please specify either number of bytes or key spec.")
		}
		// Supported on keys in custom key stores although the KeyId doc
		// says otherwise (C-4).
		u, err := e.useKey(*in.KeyId)
		if err != nil {
			return nil, err
		}
		dk := make([]byte, n)
		_, _ = rand.Read(dk)
		blob, err := e.seal(ctx, u, op, dk, in.EncryptionContext)
		if err != nil {
			return nil, err
		}
		out := map[string]any{"CiphertextBlob": blob, "KeyId": u.arn}
		if withPlaintext {
			out["Plaintext"] = dk
		}
		return out, nil
	}
}

// opGenerateDataKeyPair refuses keys in custom key stores (spec §2.9, D;
// the exception is I) and, honestly, every other key: the emulator has no
// asymmetric crypto.
func (e *Emulator) opGenerateDataKeyPair(ctx context.Context, body []byte) (any, *apiError) {
	var in struct {
		KeyId       *string
		KeyPairSpec *string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.str("keyId", in.KeyId, true, 1, 2048, namedPattern{}, false)
	v.enum("keyPairSpec", in.KeyPairSpec, true, "RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1", "SM2", "ECC_NIST_EDWARDS25519")
	if err := v.err(); err != nil {
		return nil, err
	}
	return e.lockedKey(*in.KeyId, func(k *key) (any, *apiError) {
		if k.StoreID != "" && e.displayStateLocked(k) == keyUnavailable {
			// The key-state table's Unavailable column, footnote 11.
			return nil, clientErr(errKMSInvalidState, "%s is unavailable.", e.arn(k.ID))
		}
		if k.StoreID != "" {
			return nil, clientErr(errUnsupported, "%s origin is %s which is not valid for this operation.", e.arn(k.ID), k.Origin)
		}
		return nil, clientErr(errUnsupported, "This emulator does not generate data key pairs.")
	})
}
