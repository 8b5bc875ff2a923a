package emulator

import (
	"sort"
	"time"
)

// Connection states and store types, as on the wire.
const (
	stateConnected     = "CONNECTED"
	stateConnecting    = "CONNECTING"
	stateDisconnected  = "DISCONNECTED"
	stateDisconnecting = "DISCONNECTING"
	stateFailed        = "FAILED"

	typeCloudHSM = "AWS_CLOUDHSM"
	typeXKS      = "EXTERNAL_KEY_STORE"

	connPublic = "PUBLIC_ENDPOINT"
	connVPC    = "VPC_ENDPOINT_SERVICE"
)

// state is everything the emulator knows; it is what the state file holds.
type state struct {
	Seq         int64                          `json:"seq"`
	Stores      map[string]*store              `json:"stores"`
	Keys        map[string]*key                `json:"keys"`
	Clusters    map[string]*Cluster            `json:"clusters"`
	VpcServices map[string]*VpcEndpointService `json:"vpcServices"`
	Routes      map[string]*XKSRoute           `json:"routes"`

	// nextDeletion is the earliest end of a deletion window, so that
	// settling does not scan every key on every request.
	nextDeletion time.Time
}

func newState() *state {
	return &state{
		Stores:      map[string]*store{},
		Keys:        map[string]*key{},
		Clusters:    map[string]*Cluster{},
		VpcServices: map[string]*VpcEndpointService{},
		Routes:      map[string]*XKSRoute{},
	}
}

type store struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Seq       int64     `json:"seq"`
	Created   time.Time `json:"created"`
	State     string    `json:"state"`
	ErrorCode string    `json:"errorCode,omitempty"`
	// ErrorDetail says why the last connection failed; only the control
	// plane shows it, as real KMS shows it only in CloudWatch.
	ErrorDetail string `json:"errorDetail,omitempty"`

	ClusterID   string `json:"clusterId,omitempty"`
	TrustAnchor string `json:"trustAnchor,omitempty"`
	Password    string `json:"password,omitempty"`

	Connectivity string `json:"connectivity,omitempty"`
	Endpoint     string `json:"endpoint,omitempty"`
	Path         string `json:"path,omitempty"`
	VpcService   string `json:"vpcService,omitempty"`
	VpcOwner     string `json:"vpcOwner,omitempty"`
	AccessKeyID  string `json:"accessKeyId,omitempty"`
	Secret       string `json:"secret,omitempty"`

	// A transition in CONNECTING or DISCONNECTING ends at Due unless Held.
	Due  time.Time `json:"due"`
	Held bool      `json:"held,omitempty"`
	// gen changes whenever the state does, so that the result of a backing
	// check started for an older transition is dropped.
	gen      int64
	checking bool
}

func (s *store) setState(st, code, detail string) {
	s.State, s.ErrorCode, s.ErrorDetail = st, code, detail
	s.gen++
}

// storesInOrder lists stores in creation order, the order of pagination.
func (st *state) storesInOrder() []*store {
	out := make([]*store, 0, len(st.Stores))
	for _, s := range st.Stores {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// keysInOrder lists keys in creation order, so that the next-due deletion
// time is computed the same way every time, whatever the map's order.
func (st *state) keysInOrder() []*key {
	out := make([]*key, 0, len(st.Keys))
	for _, k := range st.Keys {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

func (st *state) storeByName(name string) *store {
	for _, s := range st.Stores {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// settleLocked ends every transition whose time has come and every deletion
// window that has closed. Request handlers call it first, so that state is
// a function of the clock and never of when somebody last looked.
func (e *Emulator) settleLocked() {
	if e.committing {
		// A reader that does not wait for the state file (lockForCrypto),
		// which waits instead when anything is due.
		return
	}
	now := e.clock.Now()
	changed := false
	for _, s := range e.st.Stores {
		if (s.State != stateConnecting && s.State != stateDisconnecting) || s.Held || now.Before(s.Due) {
			continue
		}
		switch {
		case s.State == stateDisconnecting:
			e.endSessionLocked(s)
			s.setState(stateDisconnected, "", "")
			changed = true
		case s.Type == typeCloudHSM:
			e.finishCloudHSMConnectLocked(s)
			changed = true
		case !s.checking:
			// The XKS health check is network I/O: it runs outside the lock
			// and the store stays CONNECTING until it answers.
			s.checking = true
			go e.finishXKSConnect(s.ID, s.gen, xksTarget(s))
		}
	}
	if !e.st.nextDeletion.IsZero() && !now.Before(e.st.nextDeletion) {
		e.st.nextDeletion = time.Time{}
		for id, k := range e.st.Keys {
			if k.State != keyPendingDeletion {
				continue
			}
			if !now.Before(k.DeletionDate) {
				delete(e.st.Keys, id)
				e.touchKeyLocked(id)
				changed = true
				continue
			}
			if e.st.nextDeletion.IsZero() || k.DeletionDate.Before(e.st.nextDeletion) {
				e.st.nextDeletion = k.DeletionDate
			}
		}
	}
	if changed {
		if err := e.notifyLocked(); err != nil {
			e.log.Error("state not saved", "err", err)
		}
	}
}

func (e *Emulator) recomputeNextDeletionLocked() {
	e.st.nextDeletion = time.Time{}
	for _, k := range e.st.keysInOrder() {
		if k.State == keyPendingDeletion && (e.st.nextDeletion.IsZero() || k.DeletionDate.Before(e.st.nextDeletion)) {
			e.st.nextDeletion = k.DeletionDate
		}
	}
}
