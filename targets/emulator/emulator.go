package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Options configure an Emulator. The zero value is a usable emulator for
// account 111122223333 in us-east-1 with no signature checks, real time and
// one-second transitions.
type Options struct {
	// Region and AccountID appear in key ARNs and in XKS request signing.
	Region    string
	AccountID string
	// Credentials maps access key ids to secret access keys. When non-empty,
	// every KMS request must carry a valid SigV4 signature by one of them.
	Credentials map[string]string
	// Clock drives transitions and deletion windows; nil means real time.
	Clock Clock
	// ConnectDuration and DisconnectDuration are how long CONNECTING and
	// DISCONNECTING last before the emulator settles them. Real KMS takes
	// minutes (spec §4.3); an emulator that answers in one second is what
	// people want locally. Negative values mean zero.
	ConnectDuration    time.Duration
	DisconnectDuration time.Duration
	// XKSTimeout is the per-request limit on calls to an XKS proxy. Zero
	// means 250 ms, the value KMS uses (spec §4.3).
	XKSTimeout time.Duration
	// XKSDirectDial lets the XKS client resolve and dial proxy hosts that
	// have no route (see RouteXKS). Off by default so that a test never
	// reaches the network by accident.
	XKSDirectDial bool
	// MaxBodyBytes bounds a request body; zero means 1 MiB.
	MaxBodyBytes int64
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
	// StateFile, when set, makes the state survive restarts. Passphrase
	// derives the key that encrypts key material inside it; it is required
	// with StateFile.
	StateFile  string
	Passphrase string
	// DisableControl removes the control-plane HTTP endpoints from Handler.
	DisableControl bool
	// ControlHosts are Host header values (host or host:port, any case)
	// the control plane accepts besides the address it serves and its
	// loopback forms, e.g. a Docker service name (see doc.go).
	ControlHosts []string
	// AllowRemoteRoutes lets the HTTP control plane route an XKS host to a
	// non-loopback address; without it a route must dial loopback.
	AllowRemoteRoutes bool
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout bound
	// the connections Serve accepts, as in net/http.Server; zero means the
	// defaults of server.go.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// Mutant, when set, names a deliberate defect (see Mutants) for
	// measuring a test suite. Empty (the default) is the real emulator.
	Mutant string
}

// Emulator is an in-process KMS with custom key stores.
type Emulator struct {
	opts  Options
	clock Clock
	log   *slog.Logger
	xks   *xksClient

	mu      sync.Mutex
	st      *state
	changed chan struct{} // closed and replaced on every state change, to wake Settle
	persist *persister
	closed  bool // Close closed the state file
	// committing is true while a change is written to the state file with
	// the lock released (saveLocked); cond wakes those who wait for it.
	committing bool
	cond       *sync.Cond
	// afterCommit, set by tests, runs after every commit under the lock
	// (to compare the file with memory).
	afterCommit func()

	srvMu sync.Mutex
	srv   *http.Server
	ln    net.Listener
}

// New returns an emulator; it serves nothing until Start or Handler is used.
func New(opts Options) (*Emulator, error) {
	if err := checkMutant(opts.Mutant); err != nil {
		return nil, err
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "111122223333"
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.XKSTimeout <= 0 {
		opts.XKSTimeout = 250 * time.Millisecond
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.ConnectDuration < 0 {
		opts.ConnectDuration = 0
	}
	if opts.DisconnectDuration < 0 {
		opts.DisconnectDuration = 0
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := &Emulator{
		opts:    opts,
		clock:   opts.Clock,
		log:     logger,
		st:      newState(),
		changed: make(chan struct{}),
	}
	e.cond = sync.NewCond(&e.mu)
	e.xks = newXKSClient(e)
	if opts.StateFile != "" {
		p, st, err := openPersister(opts.StateFile, opts.Passphrase)
		if err != nil {
			return nil, err
		}
		e.persist, e.st = p, st
	}
	return e, nil
}

// Start serves the emulator on addr (for example "127.0.0.1:0") until Close.
func (e *Emulator) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("emulator: listen on %s: %w", addr, err)
	}
	return e.Serve(ln)
}

// Serve serves the emulator on ln in the background until Close.
func (e *Emulator) Serve(ln net.Listener) error {
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	if e.srv != nil {
		return errors.New("emulator: already serving")
	}
	e.ln = ln
	e.srv = e.httpServer()
	// The goroutine gets its own copy: Close sets e.srv to nil, and a
	// Close right after Start must not leave Serve reading a nil server.
	srv := e.srv
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// URL is the endpoint to give an SDK client, e.g. "http://127.0.0.1:4599".
func (e *Emulator) URL() string {
	e.srvMu.Lock()
	defer e.srvMu.Unlock()
	if e.ln == nil {
		return ""
	}
	return "http://" + e.ln.Addr().String()
}

// Close stops serving, waiting for in-flight requests up to ctx, and
// closes the state file, which another process may then open.
func (e *Emulator) Close(ctx context.Context) error {
	e.srvMu.Lock()
	srv := e.srv
	e.srv, e.ln = nil, nil
	e.srvMu.Unlock()
	var err error
	if srv != nil {
		err = srv.Shutdown(ctx)
	}
	e.lock()
	defer e.mu.Unlock()
	if e.persist != nil && !e.closed {
		e.closed = true
		err = errors.Join(err, e.persist.close())
	}
	return err
}

// Region and AccountID return the emulator's identity.
func (e *Emulator) Region() string    { return e.opts.Region }
func (e *Emulator) AccountID() string { return e.opts.AccountID }

// lock takes the state lock. A locked section that changes the state ends
// with notifyLocked (or commitLocked); one that only reads forgets the keys
// it looked at.
//
// While a change is being written to the state file (committing), the
// lock is free but lock waits: a change is made on the state as the file
// holds it, one after the other. Only lockForCrypto does not wait.
func (e *Emulator) lock() {
	e.mu.Lock()
	for e.committing {
		e.cond.Wait()
	}
	if e.persist != nil {
		e.persist.forget()
	}
}

// lockForCrypto takes the state lock for a cryptographic operation, which
// only reads: while a change is being written it reads the state as the
// file holds it (the change is set aside until it is on disk), so an
// Encrypt never waits for another client's fsync. It waits only when a
// transition or a deletion window is due, which it must settle first.
func (e *Emulator) lockForCrypto() {
	e.mu.Lock()
	for e.committing && e.settleDueLocked() {
		e.cond.Wait()
	}
	if e.persist != nil && !e.committing {
		e.persist.forget()
	}
}

// touchKeyLocked tells the state file that a change may alter, create or
// delete the key id. Every change to a key names it, so that a commit
// writes that key and no other of the thousands there may be.
func (e *Emulator) touchKeyLocked(id string) {
	if e.persist != nil {
		e.persist.touchKey(id)
	}
}

// notifyLocked saves the state and wakes everyone waiting for a state
// change. The change is on disk before any other request can see it and
// before the request that made it is answered: nothing acknowledged can be
// lost. When the save fails, the change is undone and the error is its
// only effect.
func (e *Emulator) notifyLocked() error {
	var err error
	if e.persist != nil {
		if err = e.saveLocked(); err != nil {
			err = fmt.Errorf("emulator: save state: %w", err)
		} else if e.afterCommit != nil {
			e.afterCommit()
		}
	}
	close(e.changed)
	e.changed = make(chan struct{})
	return err
}

// saveLocked writes the change since the last save in one transaction.
// While the file is written (two fsyncs), the lock is released with the
// change set aside: memory holds what the file holds, lockForCrypto
// readers go on, everyone else waits in lock. Then the change is put
// back, or, when the write failed, left out for good.
func (e *Emulator) saveLocked() error {
	if e.closed {
		return errors.New("the state file is closed")
	}
	b, err := e.persist.prepare(e.st)
	if err != nil {
		e.rollbackLocked()
		return err
	}
	if b == nil {
		return nil
	}
	if b.allKeys {
		// Reset: every record changes; the lock is kept through the write.
		if err := e.persist.write(b); err != nil {
			e.rollbackLocked()
			return err
		}
		e.persist.finish(b)
		return nil
	}
	next := e.st.nextDeletion
	for _, w := range b.puts {
		buckets[w.bucket].set(e.st, w.id, w.pre)
	}
	e.st.Seq = b.preSeq
	e.committing = true
	e.mu.Unlock()
	err = e.persist.write(b)
	e.mu.Lock()
	e.committing = false
	e.cond.Broadcast()
	if err != nil {
		e.recomputeNextDeletionLocked()
		return err
	}
	for _, w := range b.puts {
		buckets[w.bucket].set(e.st, w.id, w.post)
	}
	e.st.Seq, e.st.nextDeletion = b.seq, next
	e.persist.finish(b)
	return nil
}

// rollbackLocked replaces the state in memory by what the file holds.
func (e *Emulator) rollbackLocked() {
	if e.closed {
		return
	}
	st, err := e.persist.load()
	if err != nil {
		// The file cannot be read back: keep serving what is in memory and
		// say loudly that it may hold a change the file does not.
		e.log.Error("state not restored after a failed save", "err", err)
		return
	}
	e.st = st
}

// commitLocked is notifyLocked for request handlers: a failed save is a
// server fault the caller must see.
func (e *Emulator) commitLocked() *apiError {
	if err := e.notifyLocked(); err != nil {
		e.log.Error("state not saved", "err", err)
		return internalErr("The request was processed but its result could not be saved.")
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
