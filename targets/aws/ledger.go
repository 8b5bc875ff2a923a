package aws

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// LedgerFileName is the ledger's name in a run's report folder.
const LedgerFileName = "ledger.json"

// LedgerSchema names the ledger's format.
const LedgerSchema = "kmsconform-ledger/1"

// Ledger is what a run created, on disk as the run goes: every create is
// written down before it is sent (an Intent) and replaced by the id KMS
// answers, so that after any crash — kill -9 included — `kmsconform
// cleanup --ledger FILE` finds every store, key and alias the run may
// have made. It holds ids, names and tags, never a secret.
type Ledger struct {
	Schema string `json:"schema"`
	// Account, Region and Endpoint are where the run ran; the cleanup
	// refuses other credentials or another endpoint.
	Account  string        `json:"account"`
	Region   string        `json:"region"`
	Endpoint string        `json:"endpoint,omitempty"`
	Prefix   string        `json:"prefix"`
	Updated  time.Time     `json:"updated"`
	Stores   []LedgerStore `json:"stores"`
	Keys     []LedgerKey   `json:"keys"`
	Aliases  []LedgerAlias `json:"aliases"`
	// Pending are the creates sent whose outcome the run does not know:
	// in flight, or whose answer was lost (a cancelled call, a timeout, a
	// cut connection, a server error). The cleanup looks each one up by
	// the name or tag it sent.
	Pending []Intent `json:"pending"`
}

// LedgerStore is a custom key store the run created.
type LedgerStore struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
}

// LedgerKey is a key the run created.
type LedgerKey struct {
	ID              string `json:"id"`
	ARN             string `json:"arn,omitempty"`
	Store           string `json:"store,omitempty"`
	PendingDeletion bool   `json:"pending_deletion,omitempty"`
}

// LedgerAlias is an alias the run created.
type LedgerAlias struct {
	Name    string `json:"name"`
	Deleted bool   `json:"deleted,omitempty"`
}

// Intent is a create the run sent and has no answer to (yet).
type Intent struct {
	// ID is unique to the create; a CreateKey carries it as the value of
	// its CreateTagKey tag.
	ID string `json:"id"`
	Op string `json:"op"` // CreateCustomKeyStore, CreateKey or CreateAlias
	// Name is the store's or the alias's name.
	Name string `json:"name,omitempty"`
	// Store and Origin are CreateKey's CustomKeyStoreId and Origin.
	Store  string    `json:"store,omitempty"`
	Origin string    `json:"origin,omitempty"`
	Sent   time.Time `json:"sent"`
	// Lost says why the answer is unknown; "" while the call is in
	// flight (a ledger read after a crash has both kinds).
	Lost string `json:"lost,omitempty"`
}

// what names an intent in a leftover line.
func (in Intent) what() (kind, id string) {
	switch in.Op {
	case "CreateCustomKeyStore":
		return "store", in.Name
	case "CreateAlias":
		return "alias", in.Name
	}
	return "key", CreateTagKey + "=" + in.ID
}

// Unfinished reports whether the ledger lists something the cleanup still
// has to do: a live store or alias, a key not yet scheduled for deletion,
// a create of unknown outcome.
func (l *Ledger) Unfinished() bool {
	for _, s := range l.Stores {
		if !s.Deleted {
			return true
		}
	}
	for _, k := range l.Keys {
		if !k.PendingDeletion {
			return true
		}
	}
	for _, a := range l.Aliases {
		if !a.Deleted {
			return true
		}
	}
	return len(l.Pending) > 0
}

var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)

// ReadLedger reads a ledger written by a run.
func ReadLedger(path string) (*Ledger, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	var l Ledger
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("ledger %s: not a ledger: %v", path, err)
	}
	switch {
	case l.Schema != LedgerSchema:
		return nil, fmt.Errorf("ledger %s: schema %q, want %q", path, l.Schema, LedgerSchema)
	case !accountPattern.MatchString(l.Account):
		return nil, fmt.Errorf("ledger %s: account %q is not an account id", path, l.Account)
	case l.Region == "":
		return nil, fmt.Errorf("ledger %s: no region", path)
	}
	return &l, nil
}

// writeLedger writes l to path atomically (a temporary file in the same
// folder, synced, then renamed over it, and the folder synced): a crash
// leaves the previous ledger or this one, never half of one.
func writeLedger(path string, l *Ledger) error {
	raw, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(append(raw, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// LedgerMeta is where a run runs, for its ledger.
type LedgerMeta struct {
	Account, Region, Endpoint string
}

// StartLedger makes the guard write its ledger to path from now on, and
// writes it at once (so the file exists while the run runs). A ledger
// already at path that still lists something to clean up is not
// overwritten: it is renamed, and kept is its new path, for `kmsconform
// cleanup --ledger`. A ledger that cannot be written is an error: the run
// must not start without one.
func (g *Guard) StartLedger(path string, meta LedgerMeta) (kept string, err error) {
	if old, rerr := ReadLedger(path); rerr == nil && old.Unfinished() {
		kept = strings.TrimSuffix(path, ".json") + "." + old.Updated.UTC().Format("20060102T150405Z") + ".json"
		if err := os.Rename(path, kept); err != nil {
			return "", fmt.Errorf("aws guard: the ledger %s of an earlier run lists resources to clean up and could not be kept: %w", path, err)
		}
	}
	g.mu.Lock()
	g.ledgerPath = path
	g.meta = LedgerMeta{Account: meta.Account, Region: meta.Region, Endpoint: redactURL(meta.Endpoint)}
	g.mu.Unlock()
	if err := g.persist(); err != nil {
		return kept, err
	}
	return kept, nil
}

// LedgerPath is the file the guard writes its ledger to ("" for none).
func (g *Guard) LedgerPath() string { g.mu.Lock(); defer g.mu.Unlock(); return g.ledgerPath }

// redactURL drops a user:password an endpoint URL might carry.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}

// snapshotLocked is the ledger of the guard's state (g.mu held).
func (g *Guard) snapshotLocked() *Ledger {
	l := &Ledger{Schema: LedgerSchema, Account: g.meta.Account, Region: g.meta.Region, Endpoint: g.meta.Endpoint,
		Prefix: g.prefix, Updated: time.Now().UTC(),
		Stores: []LedgerStore{}, Keys: []LedgerKey{}, Aliases: []LedgerAlias{}, Pending: []Intent{}}
	for id, live := range g.stores {
		l.Stores = append(l.Stores, LedgerStore{ID: id, Name: g.storeNames[id], Deleted: !live})
	}
	for id, pending := range g.keys {
		l.Keys = append(l.Keys, LedgerKey{ID: id, ARN: g.keyArns[id], Store: g.keyStores[id], PendingDeletion: pending})
	}
	for name, live := range g.aliases {
		l.Aliases = append(l.Aliases, LedgerAlias{Name: name, Deleted: !live})
	}
	for _, in := range g.intents {
		l.Pending = append(l.Pending, *in)
	}
	sort.Slice(l.Stores, func(i, j int) bool { return l.Stores[i].ID < l.Stores[j].ID })
	sort.Slice(l.Keys, func(i, j int) bool { return l.Keys[i].ID < l.Keys[j].ID })
	sort.Slice(l.Aliases, func(i, j int) bool { return l.Aliases[i].Name < l.Aliases[j].Name })
	sort.Slice(l.Pending, func(i, j int) bool { return l.Pending[i].Sent.Before(l.Pending[j].Sent) })
	return l
}

// persist writes the ledger, if the guard keeps one. The file lock makes
// the writes follow the changes in order: each write is of the state at
// its time, and the last one wins.
func (g *Guard) persist() error {
	g.fileMu.Lock()
	defer g.fileMu.Unlock()
	g.mu.Lock()
	path := g.ledgerPath
	if path == "" {
		g.mu.Unlock()
		return nil
	}
	l := g.snapshotLocked()
	g.mu.Unlock()
	if err := writeLedger(path, l); err != nil {
		err = fmt.Errorf("aws guard: the ledger %s could not be written: %w", path, err)
		g.mu.Lock()
		g.ledgerErr = err
		g.mu.Unlock()
		return err
	}
	g.mu.Lock()
	g.ledgerErr = nil
	g.mu.Unlock()
	return nil
}

// Restore loads a ledger into the guard — the resources it lists become
// the guard's own, its pending creates the guard's to look up — and puts
// the guard in cleanup mode (it creates nothing). It is how `kmsconform
// cleanup --ledger` picks up a run that could not finish its cleanup.
func (g *Guard) Restore(l *Ledger) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cleaning = true
	g.prefix = l.Prefix
	g.meta = LedgerMeta{Account: l.Account, Region: l.Region, Endpoint: l.Endpoint}
	for _, s := range l.Stores {
		g.stores[s.ID] = !s.Deleted
		if s.Name != "" {
			g.storeNames[s.ID] = s.Name
		}
	}
	for _, k := range l.Keys {
		g.keys[k.ID] = k.PendingDeletion
		if k.ARN != "" {
			g.keyArns[k.ID] = k.ARN
		}
		if k.Store != "" {
			g.keyStores[k.ID] = k.Store
		}
	}
	for _, a := range l.Aliases {
		g.aliases[a.Name] = !a.Deleted
	}
	for _, in := range l.Pending {
		in := in
		if in.Lost == "" {
			in.Lost = "the run stopped before its answer was written down"
		}
		g.intents[in.ID] = &in
	}
}
