package emulator

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// persister keeps the state in one file, encrypted as a whole so that key
// material, kmsuser passwords and XKS secrets are never on disk in clear.
type persister struct {
	path string
	salt []byte
	aead cipher.AEAD
}

type stateFile struct {
	Version int    `json:"version"`
	Salt    []byte `json:"salt"`
	Nonce   []byte `json:"nonce"`
	Data    []byte `json:"data"`
}

const kdfIterations = 210_000 // OWASP's figure for PBKDF2-HMAC-SHA256

var errNoPassphrase = errors.New("emulator: a state file needs a passphrase to encrypt key material")

func newPersister(path, passphrase string) (*persister, error) {
	if passphrase == "" {
		return nil, errNoPassphrase
	}
	p := &persister{path: path}
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		var f stateFile
		if err := json.Unmarshal(raw, &f); err != nil || f.Version != 1 || len(f.Salt) < 16 {
			return nil, fmt.Errorf("emulator: state file %s is not a kmsconform state file", path)
		}
		p.salt = f.Salt
	case errors.Is(err, os.ErrNotExist):
		p.salt = make([]byte, 16)
		_, _ = rand.Read(p.salt)
	default:
		return nil, fmt.Errorf("emulator: read state file: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, passphrase, p.salt, kdfIterations, 32)
	if err != nil {
		return nil, fmt.Errorf("emulator: derive state key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("emulator: state cipher: %w", err)
	}
	p.aead, _ = cipher.NewGCM(block)
	return p, nil
}

// load returns the saved state, or nil when there is none yet.
func (p *persister) load() (*state, error) {
	raw, err := os.ReadFile(p.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("emulator: read state file: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("emulator: parse state file: %w", err)
	}
	plain, err := p.aead.Open(nil, f.Nonce, f.Data, []byte("kmsconform-state-v1"))
	if err != nil {
		return nil, errors.New("emulator: the state file cannot be decrypted: wrong passphrase or damaged file")
	}
	st := newState()
	if err := json.Unmarshal(plain, st); err != nil {
		return nil, fmt.Errorf("emulator: decode state: %w", err)
	}
	if st.Stores == nil {
		st.Stores = map[string]*store{}
	}
	if st.Keys == nil {
		st.Keys = map[string]*key{}
	}
	if st.Clusters == nil {
		st.Clusters = map[string]*Cluster{}
	}
	if st.VpcServices == nil {
		st.VpcServices = map[string]*VpcEndpointService{}
	}
	if st.Routes == nil {
		st.Routes = map[string]*XKSRoute{}
	}
	for _, k := range st.Keys {
		if k.State == keyPendingDeletion && (st.nextDeletion.IsZero() || k.DeletionDate.Before(st.nextDeletion)) {
			st.nextDeletion = k.DeletionDate
		}
	}
	return st, nil
}

// save writes the state atomically: a temporary file in the same
// directory, fsync, rename over the old file, fsync the directory. A crash
// at any point leaves either the old or the new state, never a mix.
func (p *persister) save(st *state) error {
	plain, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	nonce := make([]byte, p.aead.NonceSize())
	_, _ = rand.Read(nonce)
	raw, err := json.Marshal(stateFile{Version: 1, Salt: p.salt, Nonce: nonce, Data: p.aead.Seal(nil, nonce, plain, []byte("kmsconform-state-v1"))})
	if err != nil {
		return fmt.Errorf("encode state file: %w", err)
	}
	dir := filepath.Dir(p.path)
	tmp, err := os.CreateTemp(dir, ".kmsconform-state-*")
	if err != nil {
		return fmt.Errorf("create temporary state file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close state: %w", err)
	}
	if err := os.Rename(tmp.Name(), p.path); err != nil {
		return fmt.Errorf("replace state file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
