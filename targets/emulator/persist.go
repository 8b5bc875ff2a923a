package emulator

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The state lives in a bbolt database (an embedded, transactional B+tree
// store with one writer and a file lock). Each record (a store, a key, a
// cluster, a VPC endpoint service, a route) is one value, sealed with
// AES-256-GCM under a key derived from the passphrase, so that key
// material, kmsuser passwords and XKS secrets are never on disk in clear.
// Records are filed under an HMAC of their id (a key id is not a secret,
// but a state file need not list them), and the record's bucket and that
// name are the associated data: a value moved to another record does not
// open.
//
// Every acknowledged change is one transaction that writes the records the
// change touched. The caller holds the emulator's lock from the change to
// the end of the commit, so no other request sees the change before it is
// on disk; when the commit fails, the state is read back from the database,
// so a request answered 500 changes nothing.
type persister struct {
	path string
	db   *bolt.DB
	aead cipher.AEAD
	mac  []byte // key of the HMAC that names records

	// committed holds the plain JSON of every record of the small buckets
	// (stores, clusters, VPC endpoint services, routes) as last committed:
	// a commit writes those that differ and deletes those that went. Keys
	// are too many to compare on every commit: the emulator names the keys
	// a change may have touched (touchKey).
	committed map[string]map[string][]byte
	seq       int64
	touched   map[string]struct{}
	allKeys   bool // Reset: the keys bucket is rewritten as a whole

	// failCommit, set by tests, makes the next commits fail as a full disk
	// would, after the records are written and before they are committed.
	failCommit error
}

const stateFormat = "kmsconform-state-v2"

// kdfIterations is OWASP's figure for PBKDF2-HMAC-SHA256 (tests lower it).
var kdfIterations = 210_000

var (
	bucketMeta  = []byte("meta")
	bucketKeys  = "keys"
	smallBucket = []string{"stores", "clusters", "vpc-endpoint-services", "xks-routes"}
)

var errNoPassphrase = errors.New("emulator: a state file needs a passphrase to encrypt key material")

// openPersister opens (or creates) the state database at path and returns
// the state it holds. Every error is one line that names the file and
// what to do; a file that is not a state database, or is damaged, is
// never written to.
func openPersister(path, passphrase string) (p *persister, st *state, err error) {
	if passphrase == "" {
		return nil, nil, errNoPassphrase
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, nil, fmt.Errorf("emulator: the state file's directory %s does not exist", dir)
	case err != nil:
		return nil, nil, fmt.Errorf("emulator: the state file's directory: %v", err)
	case !fi.IsDir():
		return nil, nil, fmt.Errorf("emulator: %s is not a directory", dir)
	}
	if err := sniffStateFile(path); err != nil {
		return nil, nil, err
	}
	// bbolt trusts its pages: a damaged page can panic a read, in Open or
	// later. That is a damaged file for the person starting the server,
	// never a crash. (The freelist is synced, not rebuilt at Open by a
	// scan in a goroutine of bbolt's own, where no recover can reach.)
	var db *bolt.DB
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("emulator: the state file %s is damaged (%v)", path, r)
		}
		if err != nil {
			if db != nil {
				_ = db.Close()
			}
			p, st = nil, nil
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      200 * time.Millisecond,
		FreelistType: bolt.FreelistMapType,
	})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, nil, fmt.Errorf("emulator: the state file %s is in use by another process (another kmsconform serve?)", path)
	case errors.Is(err, os.ErrPermission):
		return nil, nil, fmt.Errorf("emulator: the state file %s cannot be opened for writing: %v", path, err)
	case err != nil:
		return nil, nil, fmt.Errorf("emulator: the state file %s is not a kmsconform state database or is damaged (%v)", path, err)
	}
	p = &persister{path: path, db: db, touched: map[string]struct{}{}}
	if err = p.unlock(passphrase); err != nil {
		return nil, nil, err
	}
	st, err = p.load()
	return p, st, err
}

// sniffStateFile recognises the JSON state file of earlier versions, which
// bbolt would call invalid without saying why.
func sniffStateFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // missing (created next) or unreadable (bbolt says so)
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	if bytes.HasPrefix(bytes.TrimSpace(head[:n]), []byte("{")) {
		return fmt.Errorf("emulator: %s is a JSON state file of an earlier kmsconform; this version keeps state in a database: start with a new -state-file", path)
	}
	return nil
}

// unlock reads or creates the salt and checks the passphrase against the
// sealed check value, so a wrong passphrase is told apart from damage.
func (p *persister) unlock(passphrase string) error {
	var salt, check []byte
	var fresh bool
	err := p.db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if m == nil {
			empty := true
			_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
			if !empty {
				return fmt.Errorf("emulator: %s is a bbolt database but not a kmsconform state file", p.path)
			}
			fresh = true
			salt = make([]byte, 16)
			_, _ = rand.Read(salt)
			return nil
		}
		if string(m.Get([]byte("format"))) != stateFormat {
			return fmt.Errorf("emulator: %s is not a kmsconform state file of this version (format %q)", p.path, m.Get([]byte("format")))
		}
		salt = bytes.Clone(m.Get([]byte("salt")))
		check = bytes.Clone(m.Get([]byte("check")))
		if len(salt) < 16 {
			return fmt.Errorf("emulator: the state file %s is damaged (no salt)", p.path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	master, err := pbkdf2.Key(sha256.New, passphrase, salt, kdfIterations, 32)
	if err != nil {
		return fmt.Errorf("emulator: derive the state key: %v", err)
	}
	sub := func(label string) []byte {
		h := hmac.New(sha256.New, master)
		h.Write([]byte(label))
		return h.Sum(nil)
	}
	p.mac = sub("kmsconform-state-names")
	block, _ := aes.NewCipher(sub("kmsconform-state-aes"))
	p.aead, _ = cipher.NewGCM(block)
	if !fresh {
		if v, err := p.open("meta", []byte("check"), check); err != nil || string(v) != stateFormat {
			return fmt.Errorf("emulator: the state file %s cannot be decrypted: wrong passphrase or damaged file", p.path)
		}
		return nil
	}
	return p.db.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		for _, b := range append([]string{bucketKeys}, smallBucket...) {
			if _, err := tx.CreateBucket([]byte(b)); err != nil {
				return err
			}
		}
		_ = m.Put([]byte("format"), []byte(stateFormat))
		_ = m.Put([]byte("salt"), salt)
		return m.Put([]byte("check"), p.seal("meta", []byte("check"), []byte(stateFormat)))
	})
}

// name is the database key of a record: an HMAC of its bucket and id.
func (p *persister) name(bucket, id string) []byte {
	h := hmac.New(sha256.New, p.mac)
	h.Write([]byte(bucket + "\x00" + id))
	return h.Sum(nil)[:20]
}

func (p *persister) seal(bucket string, name, plain []byte) []byte {
	nonce := make([]byte, p.aead.NonceSize(), p.aead.NonceSize()+len(plain)+p.aead.Overhead())
	_, _ = rand.Read(nonce)
	return p.aead.Seal(nonce, nonce, plain, append([]byte(bucket+"\x00"), name...))
}

func (p *persister) open(bucket string, name, sealed []byte) ([]byte, error) {
	n := p.aead.NonceSize()
	if len(sealed) < n+p.aead.Overhead() {
		return nil, errors.New("too short")
	}
	return p.aead.Open(nil, sealed[:n], sealed[n:], append([]byte(bucket+"\x00"), name...))
}

// record is what a value holds: the record's id and the record.
type record struct {
	ID string          `json:"id"`
	V  json.RawMessage `json:"v"`
}

func encodeRecord(id string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(record{ID: id, V: b})
}

// load reads every record; it also fills the committed cache.
func (p *persister) load() (*state, error) {
	st := newState()
	p.committed = map[string]map[string][]byte{}
	for _, b := range smallBucket {
		p.committed[b] = map[string][]byte{}
	}
	err := p.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get([]byte("seq")); len(v) == 8 {
			p.seq = int64(binary.BigEndian.Uint64(v))
		}
		st.Seq = p.seq
		for _, name := range append([]string{bucketKeys}, smallBucket...) {
			b := tx.Bucket([]byte(name))
			if b == nil {
				return fmt.Errorf("emulator: the state file %s is damaged (no %s bucket)", p.path, name)
			}
			err := b.ForEach(func(k, v []byte) error {
				plain, err := p.open(name, k, v)
				var r record
				if err == nil {
					err = json.Unmarshal(plain, &r)
				}
				if err != nil || !hmac.Equal(k, p.name(name, r.ID)) {
					return fmt.Errorf("emulator: the state file %s is damaged (a record of %s does not decrypt)", p.path, name)
				}
				rec, err := buckets[name].decode(r.ID, r.V)
				if err != nil {
					return fmt.Errorf("emulator: the state file %s is damaged (%s %s: %v)", p.path, name, r.ID, err)
				}
				buckets[name].set(st, r.ID, rec)
				if name != bucketKeys {
					p.committed[name][r.ID] = plain
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, k := range st.Keys {
		if k.State == keyPendingDeletion && (st.nextDeletion.IsZero() || k.DeletionDate.Before(st.nextDeletion)) {
			st.nextDeletion = k.DeletionDate
		}
	}
	return st, nil
}

// bucketOps ties a bucket of the file to its map in the state.
type bucketOps struct {
	decode func(id string, plain []byte) (any, error)
	get    func(st *state, id string) any    // nil when there is none
	set    func(st *state, id string, v any) // nil deletes
	each   func(st *state, f func(id string, v any) error) error
}

// opsFor is the bucketOps of the state's map m; idOf, when the record
// holds its id, lets decode refuse a record filed under another one.
func opsFor[T any](m func(*state) map[string]*T, idOf func(*T) string) bucketOps {
	return bucketOps{
		decode: func(id string, plain []byte) (any, error) {
			v := new(T)
			if err := json.Unmarshal(plain, v); err != nil {
				return nil, errors.New("not a record of its bucket")
			}
			if idOf != nil && idOf(v) != id {
				return nil, errors.New("a record filed under another id")
			}
			return v, nil
		},
		get: func(st *state, id string) any {
			if v, ok := m(st)[id]; ok {
				return v
			}
			return nil
		},
		set: func(st *state, id string, v any) {
			if v == nil {
				delete(m(st), id)
			} else {
				m(st)[id] = v.(*T)
			}
		},
		each: func(st *state, f func(string, any) error) error {
			for id, v := range m(st) {
				if err := f(id, v); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

var buckets = map[string]bucketOps{
	bucketKeys:              opsFor(func(st *state) map[string]*key { return st.Keys }, func(k *key) string { return k.ID }),
	"stores":                opsFor(func(st *state) map[string]*store { return st.Stores }, func(s *store) string { return s.ID }),
	"clusters":              opsFor(func(st *state) map[string]*Cluster { return st.Clusters }, nil),
	"vpc-endpoint-services": opsFor(func(st *state) map[string]*VpcEndpointService { return st.VpcServices }, nil),
	"xks-routes":            opsFor(func(st *state) map[string]*XKSRoute { return st.Routes }, nil),
}

// smallRecords returns the plain JSON of every record of the small buckets.
func smallRecords(st *state) (map[string]map[string][]byte, error) {
	out := map[string]map[string][]byte{}
	for _, name := range smallBucket {
		out[name] = map[string][]byte{}
		err := buckets[name].each(st, func(id string, v any) error {
			b, err := encodeRecord(id, v)
			if err != nil {
				return fmt.Errorf("encode %s %s: %w", name, id, err)
			}
			out[name][id] = b
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// touchKey names a key a change may alter, create or delete.
func (p *persister) touchKey(id string) { p.touched[id] = struct{}{} }

// forget drops what the last locked section touched without committing
// it (a request that only read). A new map, not clear: a cleared map keeps
// its size, and iterating or clearing it would then cost as much as the
// largest change ever made (every key, after a bulk load).
func (p *persister) forget() {
	if len(p.touched) > 0 {
		p.touched = map[string]struct{}{}
	}
}

// A batch is one change on its way to the file: the records it writes,
// each with what memory held before the change (pre) and after it (post).
type batch struct {
	puts    []put
	small   map[string]map[string][]byte
	seq     int64
	preSeq  int64
	allKeys bool
}

type put struct {
	bucket, id string
	sealed     []byte // nil: delete
	pre, post  any    // the record before and after the change; nil: none
}

// prepare collects and seals what changed since the last commit; the
// caller holds the emulator's lock. A nil batch means nothing changed.
func (p *persister) prepare(st *state) (*batch, error) {
	small, err := smallRecords(st)
	if err != nil {
		return nil, err
	}
	b := &batch{small: small, seq: st.Seq, preSeq: p.seq, allKeys: p.allKeys}
	add := func(bucket, id string, plain []byte, pre []byte) error {
		w := put{bucket: bucket, id: id, post: buckets[bucket].get(st, id)}
		if plain != nil {
			w.sealed = p.seal(bucket, p.name(bucket, id), plain)
		}
		if pre != nil {
			var r record
			if err := json.Unmarshal(pre, &r); err != nil {
				return err
			}
			if w.pre, err = buckets[bucket].decode(id, r.V); err != nil {
				return err
			}
		}
		b.puts = append(b.puts, w)
		return nil
	}
	for _, name := range smallBucket {
		for id, v := range small[name] {
			if old, ok := p.committed[name][id]; !ok || !bytes.Equal(old, v) {
				if err := add(name, id, v, p.committed[name][id]); err != nil {
					return nil, err
				}
			}
		}
		for id, old := range p.committed[name] {
			if _, ok := small[name][id]; !ok {
				if err := add(name, id, nil, old); err != nil {
					return nil, err
				}
			}
		}
	}
	if b.allKeys {
		for id, k := range st.Keys {
			plain, err := encodeRecord(id, k)
			if err != nil {
				return nil, fmt.Errorf("encode key %s: %w", id, err)
			}
			b.puts = append(b.puts, put{bucket: bucketKeys, id: id, sealed: p.seal(bucketKeys, p.name(bucketKeys, id), plain), post: k})
		}
	} else {
		err := p.db.View(func(tx *bolt.Tx) error {
			keys := tx.Bucket([]byte(bucketKeys))
			for id := range p.touched {
				var plain []byte
				if k := st.Keys[id]; k != nil {
					var err error
					if plain, err = encodeRecord(id, k); err != nil {
						return fmt.Errorf("encode key %s: %w", id, err)
					}
				}
				var pre []byte
				if sealed := keys.Get(p.name(bucketKeys, id)); sealed != nil {
					var err error
					if pre, err = p.open(bucketKeys, p.name(bucketKeys, id), sealed); err != nil {
						return fmt.Errorf("key %s on file does not decrypt", id)
					}
				}
				if plain == nil && pre == nil {
					continue // looked at, never on file, not in memory
				}
				if err := add(bucketKeys, id, plain, pre); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	p.forget()
	if len(b.puts) == 0 && b.seq == b.preSeq && !b.allKeys {
		return nil, nil
	}
	return b, nil
}

// write commits a batch in one transaction; it needs no lock of the
// emulator's (bbolt has one writer at a time).
func (p *persister) write(b *batch) error {
	return p.db.Update(func(tx *bolt.Tx) error {
		if b.allKeys {
			if err := tx.DeleteBucket([]byte(bucketKeys)); err != nil {
				return err
			}
			if _, err := tx.CreateBucket([]byte(bucketKeys)); err != nil {
				return err
			}
		}
		for _, w := range b.puts {
			bk, name := tx.Bucket([]byte(w.bucket)), p.name(w.bucket, w.id)
			if w.sealed == nil {
				if err := bk.Delete(name); err != nil {
					return err
				}
				continue
			}
			if err := bk.Put(name, w.sealed); err != nil {
				return err
			}
		}
		if b.seq != b.preSeq {
			var v [8]byte
			binary.BigEndian.PutUint64(v[:], uint64(b.seq))
			if err := tx.Bucket(bucketMeta).Put([]byte("seq"), v[:]); err != nil {
				return err
			}
		}
		return p.failCommit
	})
}

// finish records a written batch as the file's content.
func (p *persister) finish(b *batch) {
	p.committed, p.seq = b.small, b.seq
	if b.allKeys {
		p.allKeys = false
	}
}

// settleDueLocked says whether settleLocked has anything to do now: a
// transition that is due and not held, or a deletion window that closed.
func (e *Emulator) settleDueLocked() bool {
	now := e.clock.Now()
	for _, s := range e.st.Stores {
		if (s.State == stateConnecting || s.State == stateDisconnecting) && !s.Held && !now.Before(s.Due) {
			return true
		}
	}
	return !e.st.nextDeletion.IsZero() && !now.Before(e.st.nextDeletion)
}

func (p *persister) close() error { return p.db.Close() }
