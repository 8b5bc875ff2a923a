package model

// This file computes the planner's lower bound exactly on an abstract
// relaxation of the walks the planner can make, with the one-way phases
// (keys, the CloudHSM password rotation) modelled.
//
// Why it is a lower bound. A walk of the planner is a sequence of calls:
// its moves (see moves: subject stores are only ever created by
// subjectCreate, on ClusterA with KmsuserPassword, or with CredentialA on
// EndpointA) and the cells' own calls. Plan.Transitions counts the steps
// that change the column of the subject store (sid), creation and deletion
// included, a retire (the subject handed over, no call on KMS) excepted.
// Project every world of such a walk onto an abstract state:
//
//	col     the subject's column ("" when it does not exist)
//	keyed   the subject key (kid) exists: the cells' outcome signature
//	        shows the key's state exactly when it does
//	broken  the subject's credential is rejected by its backing (CloudHSM:
//	        its password is not the cluster's; XKS: the proxy rejects it)
//	rotated (CloudHSM) the cluster's password is no longer KmsuserPassword
//
// Every step of the walk maps to an abstract edge below or to no change,
// and an edge's cost is never more than the step's contribution to
// Transitions: the edges are those of the model (spec §4: a connect goes
// DISCONNECTED→CONNECTING, a settle CONNECTING→CONNECTED/FAILED, a
// disconnect →DISCONNECTING→DISCONNECTED; keys are created only in
// CONNECTED; a store holding keys cannot be deleted), widened wherever in
// doubt (a FAILED store may also go straight to DISCONNECTED, a retire may
// happen from any DISCONNECTED store, an XKS store may be broken and
// mended in any column, a CloudHSM one broken in DISCONNECTED or FAILED).
// The one-way facts kept are the ones the model enforces with no escape
// the planner has: the key kid, once created, never goes away (deletion is
// only scheduled); a successful CloudHSM connect sets the cluster's
// password to RotatedPassword(store), a value no call of the plan or of a
// cell can name, so afterwards no store of the plan can be mended and a new
// subject is born broken; a CloudHSM connect settles FAILED only with a
// wrong password (the cluster faults need env calls the planner never
// makes) and CONNECTED only with the right one.
//
// A cell that changes the subject's column in its own world (a connect, a
// disconnect, a delete of the subject) needs a step of the walk with the
// same outcomes; such a step changes the subject's column the same way, so
// it is a transition along that edge: a required edge. A cell that leaves
// the subject's column alone must be made with the subject in the cell's
// column (the outcome signature shows the subject's state after the call):
// a required node. A cell with no subject in its world that creates one
// (CreateCustomKeyStore/fresh) is matched by the walk with the subject
// already there (a create of another store), so it requires nothing.
//
// The bound is then the exact cost of the cheapest abstract walk from no
// store that takes every required edge (each required cell once) and
// visits every required node: a shortest path over (abstract state, edges
// taken, nodes visited) by 0-1 breadth-first search. The projection of any
// real walk is such an abstract walk, no costlier; so no real walk beats
// the bound.

const (
	bNone = iota
	bDisconnected
	bConnecting
	bConnected
	bFailed
	bDisconnecting
	bCols
)

func bCol(c Column) int {
	switch c {
	case Column(Disconnected):
		return bDisconnected
	case Column(Connecting):
		return bConnecting
	case Column(Connected):
		return bConnected
	case Column(Failed):
		return bFailed
	case Column(Disconnecting):
		return bDisconnecting
	}
	return bNone
}

// bState packs col (0..5), keyed, broken, rotated.
type bState struct {
	col                    int
	keyed, broken, rotated bool
}

func (s bState) pack() int {
	v := s.col
	if s.keyed {
		v |= 8
	}
	if s.broken {
		v |= 16
	}
	if s.rotated {
		v |= 32
	}
	return v
}

// node is the required-node index of a state (col, keyed).
func (s bState) node() int {
	n := s.col
	if s.keyed {
		n += bCols
	}
	return n
}

type bEdge struct {
	to   bState
	cost int
}

// bSucc lists the abstract edges from s (see the file comment).
func bSucc(s bState, t StoreType) []bEdge {
	var out []bEdge
	add := func(to bState, cost int) { out = append(out, bEdge{to, cost}) }
	col := func(c int) bState { n := s; n.col = c; return n }
	// Breaking and mending the backing: free.
	if t == External {
		n := s
		n.broken = !s.broken
		add(n, 0)
	} else if s.col == bDisconnected || s.col == bFailed {
		if !s.broken {
			n := s
			n.broken = true
			add(n, 0)
		} else if !s.rotated {
			n := s
			n.broken = false
			add(n, 0)
		}
	}
	switch s.col {
	case bNone:
		// A new subject: keyless; a CloudHSM one is broken once the
		// cluster's password has been rotated.
		add(bState{col: bDisconnected, broken: t == CloudHSM && s.rotated, rotated: s.rotated}, 1)
	case bDisconnected:
		add(col(bConnecting), 1)
		if !s.keyed {
			add(bState{col: bNone, rotated: s.rotated}, 1) // delete
		}
		add(bState{col: bNone, rotated: s.rotated}, 0) // retire
	case bConnecting:
		if !s.broken {
			n := col(bConnected)
			if t == CloudHSM {
				n.rotated = true
			}
			add(n, 1)
		} else {
			add(col(bFailed), 1)
		}
		add(col(bDisconnecting), 1)
	case bConnected:
		add(col(bDisconnecting), 1)
		if !s.keyed {
			n := s
			n.keyed = true
			add(n, 0)
		}
	case bFailed:
		add(col(bDisconnecting), 1)
		add(col(bDisconnected), 1)
	case bDisconnecting:
		add(col(bDisconnected), 1)
	}
	return out
}

// exactBound is the cost of the cheapest abstract walk covering cells
// (see the file comment), -1 if none exists.
func exactBound(cells []Cell, t StoreType) int {
	type redge struct{ from, to int } // packed (col, keyed) nodes
	var reqEdges []redge
	nodeBit := map[int]int{}
	for _, c := range cells {
		keyed := len(c.Setup.KeysIn(SubjectStoreID)) > 0
		if c.Column == NoSuchStore {
			if cellTransition(c) == 0 {
				if _, ok := nodeBit[bNone]; !ok {
					nodeBit[bNone] = len(nodeBit)
				}
			}
			continue
		}
		from := bState{col: bCol(c.Column), keyed: keyed}
		if cellTransition(c) == 1 {
			to := bState{keyed: keyed}
			if s, ok := c.Expected[0].Worlds[0].Store(SubjectStoreID); ok {
				to.col = bCol(Column(s.State))
			}
			reqEdges = append(reqEdges, redge{from.node(), to.node()})
			continue
		}
		if _, ok := nodeBit[from.node()]; !ok {
			nodeBit[from.node()] = len(nodeBit)
		}
	}
	ne, nn := len(reqEdges), len(nodeBit)
	if ne+nn > 20 {
		return -1
	}
	full := (1 << ne) - 1 | ((1<<nn)-1)<<ne
	// State index: packed abstract state (6 bits) and the covered mask.
	idx := func(s bState, mask int) int { return mask<<6 | s.pack() }
	unpack := func(v int) bState {
		return bState{col: v & 7, keyed: v&8 != 0, broken: v&16 != 0, rotated: v&32 != 0}
	}
	visit := func(s bState, mask int) int {
		if b, ok := nodeBit[s.node()]; ok {
			mask |= 1 << (ne + b)
		}
		return mask
	}
	dist := make([]int8, (full+1)<<6)
	for i := range dist {
		dist[i] = -1
	}
	start := bState{}
	m0 := visit(start, 0)
	dq := make([]int, 0, 1024)
	front := []int{idx(start, m0)}
	dist[idx(start, m0)] = 0
	// 0-1 BFS, level by level: front holds the states at the current
	// distance, expanded through free edges before the next level.
	for d := 0; len(front) > 0; d++ {
		dq = dq[:0]
		for len(front) > 0 {
			v := front[len(front)-1]
			front = front[:len(front)-1]
			if int(dist[v]) != d {
				continue
			}
			mask, s := v>>6, unpack(v&63)
			if mask == full {
				return d
			}
			for _, e := range bSucc(s, t) {
				m := visit(e.to, mask)
				if e.cost == 1 {
					// Taking a required edge: the first untaken one.
					for i, r := range reqEdges {
						if m&(1<<i) == 0 && r.from == s.node() && r.to == e.to.node() {
							m |= 1 << i
							break
						}
					}
				}
				w := idx(e.to, m)
				nd := d + e.cost
				if dist[w] >= 0 && int(dist[w]) <= nd {
					continue
				}
				dist[w] = int8(nd)
				if e.cost == 0 {
					front = append(front, w)
				} else {
					dq = append(dq, w)
				}
			}
		}
		front, dq = dq, front
	}
	return -1
}
