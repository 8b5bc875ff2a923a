package xksproxy

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Key states and the key spec KMS requires.
const (
	KeyStatusEnabled  = "ENABLED"
	KeyStatusDisabled = "DISABLED"
	KeySpecAES256     = "AES_256"
	UsageEncrypt      = "ENCRYPT"
	UsageDecrypt      = "DECRYPT"
)

// Errors of the key registry.
var (
	ErrKeyExists  = errors.New("xksproxy: external key already exists")
	ErrNoSuchKey  = errors.New("xksproxy: no such external key")
	ErrBadKeyID   = errors.New("xksproxy: external key id must be 1-128 characters of [A-Za-z0-9._-]")
	ErrBadKeySpec = errors.New("xksproxy: bad key attribute")
)

// KeyInfo describes an external key. It never carries key material.
type KeyInfo struct {
	ID     string   `json:"keyId"`
	Spec   string   `json:"keySpec"`
	Usage  []string `json:"keyUsage"`
	Status string   `json:"keyStatus"`
}

// KeyOptions are the attributes of a new key; zero values mean a key that
// passes the CreateKey checks (AES_256, ENCRYPT+DECRYPT, ENABLED).
type KeyOptions struct {
	Spec   string
	Usage  []string
	Status string
	// Material is the AES-256 key; nil generates one. It lets a test
	// reproduce a ciphertext and a sandbox user keep keys across restarts.
	Material []byte
}

type key struct {
	info     KeyInfo
	material []byte
}

// Keys is the proxy's external key manager: the keys its encrypt and
// decrypt use. It is safe for concurrent use.
type Keys struct {
	mu   sync.RWMutex
	keys map[string]*key
}

func newKeys() *Keys { return &Keys{keys: map[string]*key{}} }

// Create adds a key. The spec and usage are labels GetKeyMetadata reports
// (so a test can make KMS's CreateKey checks fail); encryption uses
// AES-256-GCM whatever they say, unless usage or spec forbid it.
func (ks *Keys) Create(id string, o KeyOptions) (KeyInfo, error) {
	if !ValidKeyID(id) {
		return KeyInfo{}, ErrBadKeyID
	}
	k := &key{info: KeyInfo{ID: id, Spec: KeySpecAES256, Usage: []string{UsageEncrypt, UsageDecrypt}, Status: KeyStatusEnabled}}
	if o.Spec != "" {
		k.info.Spec = o.Spec
	}
	if o.Usage != nil {
		if len(o.Usage) > 10 {
			return KeyInfo{}, fmt.Errorf("%w: at most 10 key usages", ErrBadKeySpec)
		}
		k.info.Usage = slices.Clone(o.Usage)
	}
	if o.Status != "" {
		if err := checkStatus(o.Status); err != nil {
			return KeyInfo{}, err
		}
		k.info.Status = o.Status
	}
	if o.Material != nil {
		if len(o.Material) != keyBytes {
			return KeyInfo{}, fmt.Errorf("%w: key material must be 32 bytes", ErrBadKeySpec)
		}
		k.material = slices.Clone(o.Material)
	} else {
		k.material = make([]byte, keyBytes)
		if _, err := rand.Read(k.material); err != nil {
			return KeyInfo{}, err
		}
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if _, dup := ks.keys[id]; dup {
		return KeyInfo{}, fmt.Errorf("%w: %s", ErrKeyExists, id)
	}
	ks.keys[id] = k
	return k.info.clone(), nil
}

func checkStatus(s string) error {
	if s != KeyStatusEnabled && s != KeyStatusDisabled {
		return fmt.Errorf("%w: key status must be ENABLED or DISABLED", ErrBadKeySpec)
	}
	return nil
}

func (i KeyInfo) clone() KeyInfo {
	i.Usage = slices.Clone(i.Usage)
	return i
}

// Get returns a key's description.
func (ks *Keys) Get(id string) (KeyInfo, bool) {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	k, ok := ks.keys[id]
	if !ok {
		return KeyInfo{}, false
	}
	return k.info.clone(), true
}

// List returns every key, sorted by ID.
func (ks *Keys) List() []KeyInfo {
	ks.mu.RLock()
	out := make([]KeyInfo, 0, len(ks.keys))
	for _, k := range ks.keys {
		out = append(out, k.info.clone())
	}
	ks.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Delete removes a key; later calls on it get KeyNotFoundException, and
// its ciphertexts can never be decrypted again.
func (ks *Keys) Delete(id string) error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if _, ok := ks.keys[id]; !ok {
		return fmt.Errorf("%w: %s", ErrNoSuchKey, id)
	}
	delete(ks.keys, id)
	return nil
}

// Enable sets the key's status to ENABLED.
func (ks *Keys) Enable(id string) error { return ks.SetStatus(id, KeyStatusEnabled) }

// Disable sets the key's status to DISABLED: GetKeyMetadata reports it,
// and Encrypt and Decrypt answer InvalidStateException.
func (ks *Keys) Disable(id string) error { return ks.SetStatus(id, KeyStatusDisabled) }

// SetStatus sets ENABLED or DISABLED.
func (ks *Keys) SetStatus(id, status string) error {
	if err := checkStatus(status); err != nil {
		return err
	}
	return ks.update(id, func(k *key) { k.info.Status = status })
}

// SetUsage replaces the key usage list (at most 10 entries). Without
// ENCRYPT, Encrypt answers InvalidKeyUsageException; likewise DECRYPT.
func (ks *Keys) SetUsage(id string, usage []string) error {
	if len(usage) > 10 {
		return fmt.Errorf("%w: at most 10 key usages", ErrBadKeySpec)
	}
	u := slices.Clone(usage)
	return ks.update(id, func(k *key) { k.info.Usage = u })
}

// SetSpec replaces the key spec. A spec other than AES_256 makes Encrypt
// and Decrypt answer InvalidKeyUsageException, as a key manager would for
// a key that cannot do AES-GCM.
func (ks *Keys) SetSpec(id, spec string) error {
	if spec == "" {
		return fmt.Errorf("%w: empty key spec", ErrBadKeySpec)
	}
	return ks.update(id, func(k *key) { k.info.Spec = spec })
}

func (ks *Keys) update(id string, f func(*key)) error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	k, ok := ks.keys[id]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoSuchKey, id)
	}
	f(k)
	return nil
}

// lookup returns a snapshot for one request, so a concurrent Disable
// cannot tear a request in half.
func (ks *Keys) lookup(id string) (KeyInfo, []byte, bool) {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	k, ok := ks.keys[id]
	if !ok {
		return KeyInfo{}, nil, false
	}
	return k.info.clone(), k.material, true
}
