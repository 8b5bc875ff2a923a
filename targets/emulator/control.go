package emulator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNotFound is returned by control-plane methods for an unknown id.
var ErrNotFound = errors.New("emulator: not found")

// StoreStatus is the control plane's view of a store, including what real
// KMS keeps to itself (why a connection failed, whether it is held).
// Secrets are not part of it.
type StoreStatus struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Type            string    `json:"type"`
	ConnectionState string    `json:"connectionState"`
	ErrorCode       string    `json:"connectionErrorCode,omitempty"`
	ErrorDetail     string    `json:"errorDetail,omitempty"`
	Held            bool      `json:"held"`
	Due             time.Time `json:"due,omitzero"`
	Checking        bool      `json:"checking"`
}

func (s *store) status() StoreStatus {
	st := StoreStatus{ID: s.ID, Name: s.Name, Type: s.Type, ConnectionState: s.State, ErrorCode: s.ErrorCode,
		ErrorDetail: s.ErrorDetail, Held: s.Held, Checking: s.checking}
	if s.State == stateConnecting || s.State == stateDisconnecting {
		st.Due = s.Due
	}
	return st
}

// Store returns the status of a store.
func (e *Emulator) Store(id string) (StoreStatus, error) {
	e.lock()
	defer e.mu.Unlock()
	e.settleLocked()
	s := e.st.Stores[id]
	if s == nil {
		return StoreStatus{}, fmt.Errorf("store %s: %w", id, ErrNotFound)
	}
	return s.status(), nil
}

// Hold keeps a store in CONNECTING or DISCONNECTING, whenever it gets
// there, until Release: the way to observe and exercise transient states.
func (e *Emulator) Hold(id string) error { return e.setHeld(id, true) }

// Release lets a held transition end at its due time (or at once if due).
func (e *Emulator) Release(id string) error { return e.setHeld(id, false) }

func (e *Emulator) setHeld(id string, held bool) error {
	e.lock()
	defer e.mu.Unlock()
	s := e.st.Stores[id]
	if s == nil {
		return fmt.Errorf("store %s: %w", id, ErrNotFound)
	}
	s.Held = held
	e.settleLocked()
	return e.notifyLocked()
}

// Settle ends a store's transition if it is due and not held, waits for any
// backing check in flight (an XKS health check), and returns the status.
// It does not wait for the clock: a transition that is not yet due is
// returned as it is.
func (e *Emulator) Settle(ctx context.Context, id string) (StoreStatus, error) {
	for {
		e.lock()
		e.settleLocked()
		s := e.st.Stores[id]
		if s == nil {
			e.mu.Unlock()
			return StoreStatus{}, fmt.Errorf("store %s: %w", id, ErrNotFound)
		}
		st := s.status()
		wait := e.changed
		e.mu.Unlock()
		if !st.Checking {
			return st, nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return st, fmt.Errorf("settle %s: %w", id, ctx.Err())
		}
	}
}

// Expedite makes a store's pending transition due now, so that the next
// look (Settle, any request) ends it unless it is held. Settle then
// finishes a transition of any configured duration at once.
func (e *Emulator) Expedite(id string) error {
	e.lock()
	defer e.mu.Unlock()
	s := e.st.Stores[id]
	if s == nil {
		return fmt.Errorf("store %s: %w", id, ErrNotFound)
	}
	if now := e.clock.Now(); (s.State == stateConnecting || s.State == stateDisconnecting) && now.Before(s.Due) {
		s.Due = now
	}
	e.settleLocked()
	return e.notifyLocked()
}

// ExpireKeyDeletion ends the waiting period of a PendingDeletion key now:
// the key is deleted, as at the end of its window. keyID is a key id or
// key ARN. Other keys are refused, so that a test cannot delete a key
// KMS would not.
func (e *Emulator) ExpireKeyDeletion(keyID string) error {
	e.lock()
	defer e.mu.Unlock()
	e.settleLocked()
	id := keyID
	if i := strings.LastIndex(id, ":key/"); strings.HasPrefix(id, "arn:") && i >= 0 {
		id = id[i+len(":key/"):]
	}
	k := e.st.Keys[id]
	if k == nil {
		return fmt.Errorf("key %s: %w", keyID, ErrNotFound)
	}
	if k.State != keyPendingDeletion {
		return fmt.Errorf("emulator: key %s is %s, not %s", id, k.State, keyPendingDeletion)
	}
	// The window ends now: the deletion sweep, as for a window that ran
	// its course, deletes the key (and saves the state).
	k.DeletionDate = e.clock.Now()
	e.touchKeyLocked(id)
	e.recomputeNextDeletionLocked()
	e.settleLocked()
	if e.st.Keys[id] != nil {
		return fmt.Errorf("emulator: key %s outlived its deletion window", id)
	}
	return nil
}

// PutCluster adds or replaces a simulated CloudHSM cluster.
func (e *Emulator) PutCluster(c *Cluster) error {
	if c == nil || c.ID == "" {
		return errors.New("emulator: a cluster needs an id")
	}
	cp := cloneCluster(c)
	e.lock()
	defer e.mu.Unlock()
	if old := e.st.Clusters[c.ID]; old != nil && old.KmsUser != nil && cp.KmsUser != nil {
		// A PUT must not undo what KMS did to the cluster: the session and
		// the rotation count are KMS's, not the caller's.
		cp.KmsUser.KMSSession, cp.KmsUser.Rotations = old.KmsUser.KMSSession, old.KmsUser.Rotations
	}
	e.st.Clusters[c.ID] = cp
	return e.notifyLocked()
}

// Cluster returns a copy of a cluster, with the kmsuser password removed.
func (e *Emulator) Cluster(id string) (*Cluster, error) {
	e.lock()
	defer e.mu.Unlock()
	c := e.st.Clusters[id]
	if c == nil {
		return nil, fmt.Errorf("cluster %s: %w", id, ErrNotFound)
	}
	cp := cloneCluster(c)
	if cp.KmsUser != nil {
		cp.KmsUser.Password = ""
	}
	return cp, nil
}

// UpdateCluster changes a cluster in place (its HSMs, subnets, state, the
// kmsuser's session or lockout).
func (e *Emulator) UpdateCluster(id string, change func(*Cluster)) error {
	e.lock()
	defer e.mu.Unlock()
	c := e.st.Clusters[id]
	if c == nil {
		return fmt.Errorf("cluster %s: %w", id, ErrNotFound)
	}
	change(c)
	c.ID = id
	return e.notifyLocked()
}

// DeleteCluster removes a cluster, as deleting it in CloudHSM would.
func (e *Emulator) DeleteCluster(id string) error {
	e.lock()
	defer e.mu.Unlock()
	if e.st.Clusters[id] == nil {
		return fmt.Errorf("cluster %s: %w", id, ErrNotFound)
	}
	delete(e.st.Clusters, id)
	return e.notifyLocked()
}

// SetKmsUserPassword is a crypto officer changing the kmsuser password; it
// also clears a lockout, as that reset does in CloudHSM.
func (e *Emulator) SetKmsUserPassword(clusterID, password string) error {
	return e.UpdateCluster(clusterID, func(c *Cluster) {
		if c.KmsUser == nil {
			c.KmsUser = &KmsUser{}
		}
		c.KmsUser.Password, c.KmsUser.FailedLogins = password, 0
	})
}

// CheckKmsUserPassword tells whether password is the kmsuser's current
// one, so that tests can see the rotation without reading the secret.
func (e *Emulator) CheckKmsUserPassword(clusterID, password string) (bool, error) {
	e.lock()
	defer e.mu.Unlock()
	c := e.st.Clusters[clusterID]
	if c == nil {
		return false, fmt.Errorf("cluster %s: %w", clusterID, ErrNotFound)
	}
	return c.KmsUser != nil && c.KmsUser.Password == password, nil
}

// PutVpcEndpointService adds or replaces a simulated VPC endpoint service.
func (e *Emulator) PutVpcEndpointService(s *VpcEndpointService) error {
	if s == nil || s.Name == "" {
		return errors.New("emulator: a VPC endpoint service needs a name")
	}
	cp := *s
	e.lock()
	defer e.mu.Unlock()
	e.st.VpcServices[s.Name] = &cp
	return e.notifyLocked()
}

// DeleteVpcEndpointService removes a VPC endpoint service.
func (e *Emulator) DeleteVpcEndpointService(name string) error {
	e.lock()
	defer e.mu.Unlock()
	delete(e.st.VpcServices, name)
	return e.notifyLocked()
}

// RouteXKS points an XKS UriEndpoint host (without "https://") at a proxy.
func (e *Emulator) RouteXKS(host string, r XKSRoute) error {
	if !validRouteFault(r.Fault) {
		return fmt.Errorf("emulator: unknown XKS route fault %q", r.Fault)
	}
	e.lock()
	e.st.Routes[host] = &r
	err := e.notifyLocked()
	e.mu.Unlock()
	e.xks.forgetRoutes()
	return err
}

// BreakXKS makes a host unreachable while keeping its route configuration
// otherwise, as if the proxy's network went away.
func (e *Emulator) BreakXKS(host string) error {
	e.lock()
	r := XKSRoute{}
	if old := e.st.Routes[host]; old != nil {
		r = *old
	}
	r.Addr = ""
	e.st.Routes[host] = &r
	err := e.notifyLocked()
	e.mu.Unlock()
	e.xks.forgetRoutes()
	return err
}

// SetBackingKeyDeleted simulates the HSM key behind a CloudHSM key store key
// being deleted (or restored). The KeyState does not change (spec §5).
func (e *Emulator) SetBackingKeyDeleted(keyID string, deleted bool) error {
	e.lock()
	defer e.mu.Unlock()
	k := e.st.Keys[keyID]
	if k == nil {
		return fmt.Errorf("key %s: %w", keyID, ErrNotFound)
	}
	k.BackingDeleted = deleted
	e.touchKeyLocked(keyID)
	return e.notifyLocked()
}

// Reset forgets every store, key, cluster, VPC endpoint service and route.
func (e *Emulator) Reset() error {
	e.lock()
	e.st = newState()
	if e.persist != nil {
		e.persist.allKeys = true
	}
	err := e.notifyLocked()
	e.mu.Unlock()
	e.xks.forgetRoutes()
	return err
}

// Advance moves a FakeClock; it fails when the emulator runs on real time.
func (e *Emulator) Advance(d time.Duration) error {
	fc, ok := e.clock.(*FakeClock)
	if !ok {
		return errors.New("emulator: the clock is real time and cannot be advanced")
	}
	fc.Advance(d)
	e.lock()
	defer e.mu.Unlock()
	e.settleLocked()
	return nil
}

func cloneCluster(c *Cluster) *Cluster {
	cp := *c
	cp.HSMs = append([]HSM(nil), c.HSMs...)
	cp.Subnets = append([]Subnet(nil), c.Subnets...)
	if c.KmsUser != nil {
		u := *c.KmsUser
		cp.KmsUser = &u
	}
	return &cp
}

// noXKSRoute is the failure of a call to a proxy host that has no route
// (and no direct dialling), nil otherwise: it says how to add one, in the
// answer and the log, since the first external key store a user makes
// against serve meets it. The host is the store's XksProxyUriEndpoint, no
// secret.
func (e *Emulator) noXKSRoute(host string, routed bool) *xksFailure {
	if routed || e.opts.XKSDirectDial {
		return nil
	}
	e.log.Warn("external key store proxy host has no route", "host", host,
		"fix", "PUT "+ControlPrefix+"xks-routes/"+host+` {"addr":"127.0.0.1:PORT","caPem":"<PEM of the proxy's CA>"}, or start serve with -xks-direct`)
	return &xksFailure{kind: xksNoConnection, detail: "KMS cannot connect to the XKS proxy: the emulator has no route to " + host +
		"; add one with PUT " + ControlPrefix + "xks-routes/" + host + ` {"addr":"127.0.0.1:PORT","caPem":"<PEM of the proxy's CA>"}`}
}
