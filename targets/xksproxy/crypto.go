package xksproxy

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
)

const (
	keyBytes = 32
	ivBytes  = 12
	tagBytes = 16
)

// gcmAAD is the key-manager AAD of the spec: the lengths make
// (aad="", metadata=m) differ from (aad=m, metadata=""), so a caller cannot
// move metadata into the AAD and still decrypt.
func gcmAAD(aad, metadata []byte) []byte {
	out := make([]byte, 0, 2+len(aad)+1+len(metadata))
	out = binary.BigEndian.AppendUint16(out, uint16(len(aad)))
	out = append(out, aad...)
	out = append(out, byte(len(metadata)))
	return append(out, metadata...)
}

// cdiv is the ciphertextDataIntegrityValue: SHA-256 over the request AAD,
// the ciphertext metadata, IV, ciphertext and tag, in that order.
func cdiv(aad, metadata, iv, ct, tag []byte) []byte {
	h := sha256.New()
	for _, b := range [][]byte{aad, metadata, iv, ct, tag} {
		h.Write(b)
	}
	return h.Sum(nil)
}

func newGCM(key []byte, nonceSize int) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithNonceSize(block, nonceSize)
}

// sealGCM encrypts under a fresh random 96-bit IV and returns the parts
// the XKS answer carries separately.
func sealGCM(key, plaintext, aad, metadata []byte) (ct, iv, tag []byte, err error) {
	aead, err := newGCM(key, ivBytes)
	if err != nil {
		return nil, nil, nil, err
	}
	iv = make([]byte, ivBytes)
	if _, err := rand.Read(iv); err != nil {
		return nil, nil, nil, err
	}
	sealed := aead.Seal(nil, iv, plaintext, gcmAAD(aad, metadata))
	n := len(sealed) - tagBytes
	return sealed[:n], iv, sealed[n:], nil
}

// openGCM reports ok=false for every authentication failure, whatever part
// was wrong: GCM cannot tell a wrong key from a tampered ciphertext.
func openGCM(key, ct, iv, tag, aad, metadata []byte) (pt []byte, ok bool) {
	if len(tag) != tagBytes || (len(iv) != 12 && len(iv) != 16) {
		return nil, false
	}
	aead, err := newGCM(key, len(iv))
	if err != nil {
		return nil, false
	}
	sealed := make([]byte, 0, len(ct)+len(tag))
	sealed = append(append(sealed, ct...), tag...)
	pt, err = aead.Open(nil, iv, sealed, gcmAAD(aad, metadata))
	if err != nil {
		return nil, false
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, true
}
