package model

import "fmt"

// Column is a column of the conformance matrix: the ConnectionState of the
// store the cell's call names, or NoSuchStore.
type Column string

// NoSuchStore is the column of calls that name a store that does not exist.
const NoSuchStore Column = "NO_SUCH_STORE"

// Columns lists the matrix columns in table order.
var Columns = []Column{Column(Disconnected), Column(Connecting), Column(Connected), Column(Disconnecting), Column(Failed), NoSuchStore}

// Fixed ids of the store and key a cell's call is about.
var (
	SubjectStoreID = StoreIDFor(0)
	SubjectKeyID   = KeyIDFor(0)
	UnknownStoreID = StoreIDFor(0xfffff)
	// UnknownKeyID is a well-formed key id no key has.
	UnknownKeyID = KeyIDFor(0xfffff)
)

// MadeUpMarker is a DescribeCustomKeyStores Marker that satisfies the
// input constraints but is no NextMarker KMS returned. It is digits only,
// so that a target taking any number for a page offset is caught (a marker
// that is not a number would be refused merely for failing to parse).
const MadeUpMarker = "1048576"

// SubjectStoreName is the name of the store a cell's call is about.
const SubjectStoreName = "kmsconform-subject"

// Need is something a target must be able to do to reach a cell's world.
type Need string

const (
	// NeedHoldTransition: keep a store in CONNECTING or DISCONNECTING long
	// enough to call it there.
	NeedHoldTransition Need = "hold-transition"
	// NeedBackingControl: change a cluster or a proxy behind KMS's back.
	NeedBackingControl Need = "backing-control"
)

// Cell is one entry of the conformance matrix: a call on a store of a type
// in a state, the world it is made in, and the outcomes the model allows.
type Cell struct {
	ID        string // "<store type>/<column>/<variant>"
	StoreType StoreType
	Column    Column
	Variant   string // the operation, with a variant after a slash: "UpdateCustomKeyStore/name"
	Op        Op
	// Route is the sequence of calls that builds Setup from NewWorld(); the
	// suites replay it on a target (environment calls through its control
	// plane).
	Route    []Call
	Setup    World
	Call     Call
	Expected []Outcome
	Status   Status  // the weakest status of the rules that allow the outcomes
	Rules    []*Rule // every rule cited, once
	Needs    []Need
}

// variant describes one row of the matrix.
type variant struct {
	op   Op
	name string
	only StoreType // "" for both types
	// key is the own state of the subject key the call needs ("": no key).
	key KeyState
	// prepare appends calls after the route to the column's state (before the call).
	prepare func(t StoreType) []Call
	// call builds the call; store is the id the call names.
	call func(t StoreType, store string) Call
	// missing reports whether the variant has a cell in the NoSuchStore column.
	missing bool
}

func (v variant) id() string {
	if v.name == "" {
		return string(v.op)
	}
	return string(v.op) + "/" + v.name
}

func storeCall(op Op) func(StoreType, string) Call {
	return func(_ StoreType, id string) Call { return Call{Op: op, StoreID: Ptr(id)} }
}

func keyCall(op Op) func(StoreType, string) Call {
	return func(StoreType, string) Call { return Call{Op: op, KeyID: SubjectKeyID} }
}

func update(u UpdateStoreInput) func(StoreType, string) Call {
	return func(_ StoreType, id string) Call {
		return Call{Op: OpUpdateCustomKeyStore, StoreID: Ptr(id), Update: &u}
	}
}

// subjectCreate is the CreateCustomKeyStore call that makes the subject store.
func subjectCreate(t StoreType, password string) Call {
	if t == CloudHSM {
		return Call{Op: OpCreateCustomKeyStore, Create: CreateCloudHSMInput(SubjectStoreName, ClusterA, TrustAnchorA, password)}
	}
	return Call{Op: OpCreateCustomKeyStore, Create: CreateXksInput(SubjectStoreName, EndpointA, PathV1, CredentialA)}
}

// freshCreate is a create that collides with nothing in a cell's world.
func freshCreate(t StoreType, name string) Call {
	if t == CloudHSM {
		return Call{Op: OpCreateCustomKeyStore, Create: CreateCloudHSMInput(name, ClusterB, TrustAnchorB, KmsuserPassword)}
	}
	return Call{Op: OpCreateCustomKeyStore, Create: CreateXksInput(name, EndpointB, PathV1, CredentialA)}
}

func proxyAccepting(creds ...Credential) Call {
	p := HealthyProxy(EndpointA)
	p.Accepted = creds
	return Call{Op: OpSetProxy, Proxy: &p}
}

// fillers creates stores until the account holds StoreQuota of them.
func fillers(int) []Call {
	var cs []Call
	for i := 1; i < StoreQuota; i++ {
		p := HealthyProxy(fillerEndpoint(i))
		cs = append(cs, Call{Op: OpSetProxy, Proxy: &p},
			Call{Op: OpCreateCustomKeyStore, Create: CreateXksInput(fmt.Sprintf("kmsconform-filler-%d", i), fillerEndpoint(i), PathV1, CredentialA)})
	}
	return cs
}

var variants = func() []variant {
	vs := []variant{
		{op: OpConnectCustomKeyStore, call: storeCall(OpConnectCustomKeyStore), missing: true},
		{op: OpDisconnectCustomKeyStore, call: storeCall(OpDisconnectCustomKeyStore), missing: true},
		{op: OpUpdateCustomKeyStore, name: "name", call: update(UpdateStoreInput{NewName: Ptr(SubjectStoreName + "-renamed")}), missing: true},
		{op: OpUpdateCustomKeyStore, name: "xks-credential", only: External,
			// The rotation of spec §7.3: the proxy accepts the new credential first.
			prepare: func(StoreType) []Call { return []Call{proxyAccepting(CredentialA, CredentialB)} },
			call:    update(UpdateStoreInput{Credential: &CredentialB}), missing: true},
		{op: OpUpdateCustomKeyStore, name: "other", call: func(t StoreType, id string) Call {
			if t == CloudHSM {
				return update(UpdateStoreInput{Password: Ptr(KmsuserPassword)})(t, id)
			}
			if id == UnknownStoreID {
				// No store to move: the first proxy names nothing held.
				return update(UpdateStoreInput{Endpoint: Ptr(EndpointA)})(t, id)
			}
			return update(UpdateStoreInput{Endpoint: Ptr(EndpointB)})(t, id)
		}, missing: true},
		{op: OpDeleteCustomKeyStore, call: storeCall(OpDeleteCustomKeyStore), missing: true},
		{op: OpDeleteCustomKeyStore, name: "with-keys", key: KeyEnabled, call: storeCall(OpDeleteCustomKeyStore)},
		{op: OpDescribeCustomKeyStores, name: "by-id", call: storeCall(OpDescribeCustomKeyStores), missing: true},
		{op: OpDescribeCustomKeyStores, name: "by-name", missing: true, call: func(StoreType, string) Call {
			return Call{Op: OpDescribeCustomKeyStores, StoreName: Ptr(SubjectStoreName)}
		}},
		{op: OpDescribeCustomKeyStores, name: "all", missing: true, call: func(StoreType, string) Call {
			return Call{Op: OpDescribeCustomKeyStores}
		}},
		{op: OpDescribeCustomKeyStores, name: "page", missing: true, call: func(StoreType, string) Call {
			return Call{Op: OpDescribeCustomKeyStores, Limit: Ptr(1)}
		}},
		{op: OpDescribeCustomKeyStores, name: "made-up-marker", missing: true, call: func(StoreType, string) Call {
			return Call{Op: OpDescribeCustomKeyStores, Marker: Ptr(MadeUpMarker)}
		}},
		{op: OpCreateCustomKeyStore, name: "duplicate-name", call: func(t StoreType, _ string) Call {
			return freshCreate(t, SubjectStoreName)
		}},
		{op: OpCreateCustomKeyStore, name: "identical", call: func(t StoreType, _ string) Call {
			return subjectCreate(t, KmsuserPassword)
		}},
		{op: OpCreateCustomKeyStore, name: "fresh", missing: true, call: func(t StoreType, id string) Call {
			if id == UnknownStoreID {
				// No store holds the first cluster or proxy in this column.
				c := subjectCreate(t, KmsuserPassword)
				c.Create.Name = "kmsconform-fresh"
				return c
			}
			return freshCreate(t, "kmsconform-fresh")
		}},
		{op: OpCreateCustomKeyStore, name: "over-quota", prepare: func(StoreType) []Call { return fillers(0) },
			call: func(t StoreType, _ string) Call { return freshCreate(t, "kmsconform-fresh") }},
		{op: OpCreateKey, missing: true, call: func(t StoreType, id string) Call {
			return Call{Op: OpCreateKey, StoreID: Ptr(id), CreateKey: CreateKeyFor(t, XksKey2)}
		}},
		{op: OpCreateKey, name: "multi-region", call: func(t StoreType, id string) Call {
			in := CreateKeyFor(t, XksKey2)
			in.MultiRegion = true
			return Call{Op: OpCreateKey, StoreID: Ptr(id), CreateKey: in}
		}},
		{op: OpGenerateRandom, missing: true, call: func(_ StoreType, id string) Call {
			return Call{Op: OpGenerateRandom, StoreID: Ptr(id), NumberOfBytes: Ptr(32)}
		}},
	}
	for _, op := range CryptoOps {
		vs = append(vs, variant{op: op, key: KeyEnabled, call: keyCall(op)})
	}
	vs = append(vs,
		variant{op: OpDescribeKey, key: KeyEnabled, call: keyCall(OpDescribeKey)},
		variant{op: OpEnableKey, key: KeyDisabled, call: keyCall(OpEnableKey)},
		variant{op: OpDisableKey, key: KeyEnabled, call: keyCall(OpDisableKey)},
		variant{op: OpScheduleKeyDeletion, key: KeyEnabled, call: func(StoreType, string) Call {
			return Call{Op: OpScheduleKeyDeletion, KeyID: SubjectKeyID, PendingWindowDays: Ptr(7)}
		}},
		variant{op: OpCancelKeyDeletion, key: KeyPendingDeletion, call: keyCall(OpCancelKeyDeletion)},
		variant{op: OpCancelKeyDeletion, name: "not-pending", key: KeyEnabled, call: keyCall(OpCancelKeyDeletion)},
	)
	for _, op := range UnsupportedKeyOps {
		vs = append(vs, variant{op: op, key: KeyEnabled, call: keyCall(op)})
	}
	return vs
}()

// route returns the calls that bring a store of type t to column col, with
// a key in the given own state (none when key is ""), starting from NewWorld.
// Every step is deterministic in the model; Cells checks it.
func route(t StoreType, col Column, key KeyState) []Call {
	id := Ptr(SubjectStoreID)
	connect := []Call{{Op: OpConnectCustomKeyStore, StoreID: id}, {Op: OpSettle, StoreID: id}}
	disconnect := []Call{{Op: OpDisconnectCustomKeyStore, StoreID: id}, {Op: OpSettle, StoreID: id}}
	if col == NoSuchStore {
		return nil
	}
	var r []Call
	if key == "" {
		if ConnectionState(col) == Failed {
			return append(failedRoute(t), connect...)
		}
		r = []Call{subjectCreate(t, KmsuserPassword)}
	} else {
		r = append([]Call{subjectCreate(t, KmsuserPassword)}, connect...)
		r = append(r, Call{Op: OpCreateKey, StoreID: id, CreateKey: CreateKeyFor(t, XksKey1)})
		switch key {
		case KeyDisabled:
			r = append(r, Call{Op: OpDisableKey, KeyID: SubjectKeyID})
		case KeyPendingDeletion:
			r = append(r, Call{Op: OpScheduleKeyDeletion, KeyID: SubjectKeyID, PendingWindowDays: Ptr(7)})
		}
		if ConnectionState(col) == Connected {
			return r
		}
		if ConnectionState(col) == Disconnecting {
			return append(r, disconnect[0])
		}
		r = append(r, disconnect...)
		if ConnectionState(col) == Failed {
			return append(append(r, breakBacking(t)...), connect...)
		}
	}
	switch ConnectionState(col) {
	case Connecting:
		r = append(r, connect[0])
	case Connected:
		r = append(r, connect...)
	case Disconnecting:
		r = append(append(r, connect...), disconnect[0])
	}
	return r
}

// failedRoute creates a store whose next connect fails with
// INVALID_CREDENTIALS: for CloudHSM through the API alone (a KeyStorePassword
// that is not the kmsuser's, spec §2.1), for XKS through the proxy, which
// stops accepting the store's credential.
func failedRoute(t StoreType) []Call {
	if t == CloudHSM {
		return []Call{subjectCreate(t, WrongKmsuserPassword)}
	}
	return append([]Call{subjectCreate(t, KmsuserPassword)}, breakBacking(t)...)
}

func breakBacking(t StoreType) []Call {
	if t == CloudHSM {
		return []Call{{Op: OpUpdateCustomKeyStore, StoreID: Ptr(SubjectStoreID), Update: &UpdateStoreInput{Password: Ptr(WrongKmsuserPassword)}}}
	}
	return []Call{proxyAccepting(CredentialB)}
}

// Run applies calls to w one by one, requiring each to have a single outcome
// that is a success with a single world, and returns the final world.
func Run(w World, calls []Call) (World, error) {
	for i, c := range calls {
		outs := Step(w, c)
		if len(outs) != 1 || outs[0].Error != Success || len(outs[0].Worlds) != 1 {
			return w, fmt.Errorf("step %d (%s): not a single success: %s", i+1, c.Op, Summary(outs))
		}
		w = outs[0].Worlds[0]
	}
	return w, nil
}

var cells = buildCells()

// Cells returns the conformance matrix: every store type × column × variant
// that applies, each with its route, world, call and allowed outcomes.
func Cells() []Cell { return append([]Cell(nil), cells...) }

func buildCells() []Cell {
	var cs []Cell
	for _, t := range StoreTypes {
		for _, v := range variants {
			if v.only != "" && v.only != t {
				continue
			}
			for _, col := range Columns {
				if col == NoSuchStore && !v.missing {
					continue
				}
				cs = append(cs, buildCell(t, col, v))
			}
		}
	}
	return cs
}

func buildCell(t StoreType, col Column, v variant) Cell {
	r := route(t, col, v.key)
	if v.prepare != nil && col != NoSuchStore {
		r = append(r, v.prepare(t)...)
	}
	id := SubjectStoreID
	if col == NoSuchStore {
		id = UnknownStoreID
	}
	c := v.call(t, id)
	if col == NoSuchStore && c.StoreName != nil {
		c.StoreName = Ptr("kmsconform-no-such-store")
	}
	cell, err := BuildCell(fmt.Sprintf("%s/%s/%s", t, col, v.id()), t, col, v.id(), r, c)
	if err != nil {
		panic(fmt.Sprintf("model: %v", err))
	}
	return cell
}

// BuildCell makes a cell from a route and a call: it runs the route from
// NewWorld (each step must be a single success), checks the subject store
// ends in column col, and computes the allowed outcomes, their status and
// the capabilities the route needs.
func BuildCell(id string, t StoreType, col Column, variant string, route []Call, c Call) (Cell, error) {
	w, err := Run(NewWorld(), route)
	if err != nil {
		return Cell{}, fmt.Errorf("the route of %s is broken: %w", id, err)
	}
	if s, found := w.Store(SubjectStoreID); col != NoSuchStore && (!found || Column(s.State) != col) {
		return Cell{}, fmt.Errorf("the route of %s ends in %s, not %s", id, s.State, col)
	}
	op := c.Op
	outs := Step(w, c)
	cell := Cell{ID: id, StoreType: t, Column: col, Variant: variant, Op: op, Route: route, Setup: w, Call: c, Expected: outs}
	var ss []Status
	for _, o := range outs {
		for _, rl := range o.Rules {
			ss = append(ss, rl.Status)
			if !hasRule(cell.Rules, rl) {
				cell.Rules = append(cell.Rules, rl)
			}
		}
	}
	cell.Status = Weakest(ss...)
	if ConnectionState(col).Transient() {
		cell.Needs = append(cell.Needs, NeedHoldTransition)
	}
	for _, rc := range route {
		if rc.Op.IsEnv() && rc.Op != OpSettle {
			cell.Needs = append(cell.Needs, NeedBackingControl)
			break
		}
	}
	return cell, nil
}

// Route returns the calls that bring a subject store of type t to column
// col from NewWorld, with a subject key in the given own state ("" for
// none): the routes Cells uses, for suites that build cells of their own.
func Route(t StoreType, col Column, key KeyState) []Call { return route(t, col, key) }

// Summary renders an outcome set compactly, e.g. "200 →CONNECTING | ICS".
func Summary(outs []Outcome) string {
	s := ""
	for i, o := range outs {
		if i > 0 {
			s += " | "
		}
		s += o.Error.Short()
	}
	return s
}
