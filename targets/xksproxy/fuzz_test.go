package xksproxy

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParseRequest feeds arbitrary paths and bodies to the router and the
// parser: they must never panic, and every refusal must be a well-formed
// XKS error of the right family.
func FuzzParseRequest(f *testing.F) {
	f.Add("/kms/xks/v1/health", []byte(`{"requestMetadata":{"kmsRequestId":"r","kmsOperation":"KmsHealthCheck"}}`))
	f.Add("/kms/xks/v1/keys/k/metadata", []byte(`{"requestMetadata":{"awsPrincipalArn":"a","kmsOperation":"CreateKey","kmsRequestId":"r"}}`))
	f.Add("/kms/xks/v1/keys/k/encrypt", []byte(`{"requestMetadata":{"awsPrincipalArn":"a","kmsKeyArn":"k","kmsOperation":"Encrypt","kmsRequestId":"r"},"plaintext":"SGVsbG8=","encryptionAlgorithm":"AES_GCM","additionalAuthenticatedData":"YQ==","ciphertextDataIntegrityValueAlgorithm":"SHA_256"}`))
	f.Add("/kms/xks/v1/keys/k/decrypt", []byte(`{"requestMetadata":{"awsPrincipalArn":"a","kmsKeyArn":"k","kmsOperation":"Decrypt","kmsRequestId":"r"},"ciphertext":"ghxkK1txeDNn3q8Y","ciphertextMetadata":"a2V5X3ZlcnNpb249MQ==","encryptionAlgorithm":"AES_GCM","initializationVector":"HMrlRw85cAJUd5Ax","authenticationTag":"vBxN2ncH1oEkR8WVXpmyYQ=="}`))
	f.Add("/kms/xks/v1/keys/k/decrypt", []byte(`{"requestMetadata":null,"ciphertext":5}`))
	f.Add("/kms/xks/v1/keys/k/encrypt", []byte("\xff\xfe{"))
	f.Add("/kms/xks/v1/keys/k%20/encrypt", []byte(`{}`))
	f.Add("/kms/xks/v1/keys//encrypt", []byte(`[]`))
	f.Add("/x/kms/xks/v1/health", []byte(``))
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		op, keyID, ok := route("/kms/xks/v1", path)
		if !ok {
			return
		}
		if !strings.HasPrefix(path, "/kms/xks/v1/") {
			t.Fatalf("routed %q", path)
		}
		c, e := parseCall(op, keyID, body)
		if (c == nil) == (e == nil) {
			t.Fatalf("parseCall returned call %v and error %v", c, e)
		}
		if e != nil {
			if e.Name != ErrValidation || e.HTTPStatus() != 400 {
				t.Fatalf("parser error %s/%d", e.Name, e.HTTPStatus())
			}
			if len(e.Message) >= 512 || strings.IndexFunc(e.Message, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
				t.Fatalf("errorMessage outside the spec: %q", e.Message)
			}
			if _, err := json.Marshal(e); err != nil {
				t.Fatal(err)
			}
			return
		}
		if c.Op != op || c.KeyID != keyID {
			t.Fatalf("call %+v for %s %s", c, op, keyID)
		}
		if c.Metadata.KMSRequestID == "" || c.Metadata.KMSOperation == "" {
			t.Fatalf("accepted call without kmsRequestId or kmsOperation: %+v", c)
		}
		if op == OpGetHealthStatus {
			return
		}
		if !ValidKeyID(keyID) || c.Metadata.KMSRequestID == "" || c.Metadata.KMSOperation == "" || c.Metadata.AWSPrincipalARN == "" {
			t.Fatalf("accepted call with bad key id or metadata: %+v", c)
		}
		if (op == OpEncrypt || op == OpDecrypt) && c.Algorithm != AlgorithmAESGCM {
			t.Fatalf("accepted algorithm %q", c.Algorithm)
		}
		if len(c.AAD) > maxAADLen || len(c.CiphertextMetadata) > maxCiphertextMeta {
			t.Fatal("accepted oversized AAD or metadata")
		}
		// Whatever passed the parser must not break the cryptography.
		key := make([]byte, 32)
		if op == OpEncrypt {
			ct, iv, tag, err := sealGCM(key, c.Plaintext, c.AAD, nil)
			if err != nil {
				t.Fatal(err)
			}
			pt, ok := openGCM(key, ct, iv, tag, c.AAD, nil)
			if !ok || string(pt) != string(c.Plaintext) {
				t.Fatal("round trip failed")
			}
		}
		if op == OpDecrypt {
			openGCM(key, c.Ciphertext, c.IV, c.Tag, c.AAD, c.CiphertextMetadata)
		}
	})
}
