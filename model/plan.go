package model

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// PlanOptions says what a target can do, which decides the cells a plan can
// reach and the moves it may use.
type PlanOptions struct {
	// Transient: the target leaves a store in CONNECTING and DISCONNECTING
	// long enough to call it there (a held transition, or real KMS, where a
	// connect takes minutes).
	Transient bool
	// BackingControl: the plan may change a proxy behind KMS's back (env
	// calls). Without it an XKS store cannot be made to fail and the
	// credential rotation cells are out of reach.
	BackingControl bool
	// OneBacking: the target offers one cluster and one proxy (a sandbox
	// account's, from targets.aws.backing), so the cells whose calls name
	// another cluster or proxy of the fixtures are out of reach.
	OneBacking bool
	// SecondBacking: with OneBacking, the target also offers a second
	// cluster and proxy, which stand for ClusterB and EndpointB.
	SecondBacking bool
}

// otherBacking reports whether a call names a cluster, proxy or VPC
// endpoint service of the fixtures other than the subject's.
func otherBacking(c Call, second bool) bool {
	other := func(p *string) bool {
		if p == nil {
			return false
		}
		switch *p {
		case ClusterA, EndpointA, VpcServiceA:
			return false
		case ClusterB, EndpointB:
			return !second
		}
		return true
	}
	if in := c.Create; in != nil && (other(in.ClusterID) || other(in.Endpoint) || other(in.VpcService)) {
		return true
	}
	if u := c.Update; u != nil && (other(u.ClusterID) || other(u.Endpoint) || other(u.VpcService)) {
		return true
	}
	return false
}

// PlanStep is one call of a plan. Cell is the id of the matrix cell the call
// exercises ("" for a move that only brings the store where the next cells
// are). Transition marks a change of the subject store's connection state
// (its creation and deletion included): the slow, costly part on real KMS.
type PlanStep struct {
	Call       Call
	Cell       string
	Transition bool
	From, To   Column // the subject store's column before and after ("" for no store)
	// Subject and SubjectKey are the model's ids of the store and key the
	// cells' SubjectStoreID and SubjectKeyID stand for at this step, so a
	// runner can map them to the target's ids.
	Subject, SubjectKey string
}

// Plan is a walk for one store type that covers every reachable cell.
type Plan struct {
	StoreType StoreType
	Steps     []PlanStep
	// Covered lists the cells of the walk in order; Excluded the cells of
	// the store type the walk does not take, each with the reason.
	Covered  []string
	Excluded map[string]string
	// Transitions counts the steps with Transition set; LowerBound is a
	// bound no walk covering the same cells can beat; Naive is the count of
	// a fresh store per cell (its route plus the cell's own transition).
	Transitions, LowerBound, Naive int
	// Stores is how many stores the walk creates (the subject, its
	// re-creations and the stores cells create); Keys likewise.
	Stores, Keys int
	// MaxLive is the most stores alive at once during the walk.
	MaxLive int
	// Retained lists the stores the teardown cannot delete: they hold keys
	// pending deletion (at least 7 days).
	Retained []string
	// TeardownTransitions counts the transitions of the teardown, which
	// Transitions leaves out (the naive plan and the bound have none).
	TeardownTransitions int
	// Pause is the index of the first step of the last phase (the FAILED
	// cells of a store with a key, whose CloudHSM walk breaks the kmsuser
	// password for good), -1 when the plan has no such phase: a runner may
	// do other work on the store there (scenarios that adopt it).
	Pause int
	// Mend is the index of the walk's first step that mends a CloudHSM
	// store's wrong kmsuser password (-1 for none): there the store stands
	// DISCONNECTED with a wrong password on a cluster whose password KMS
	// has not rotated, as a store created with a wrong password would; a
	// runner may lend it there too.
	Mend        int
	tearingDown bool
	tidy        bool // see walk
}

// Documented durations of transitions on real KMS (spec §4.3): a CloudHSM
// connect takes up to 20 minutes, an XKS connect about 5. Disconnecting is
// undocumented; the plan assumes it takes as long as a connect.
var (
	ConnectDuration    = map[StoreType]time.Duration{CloudHSM: 20 * time.Minute, External: 5 * time.Minute}
	DisconnectDuration = ConnectDuration
)

// WorstCase is the worst-case duration of the walk's transitions on real
// KMS: every settle of CONNECTING or DISCONNECTING takes the documented
// maximum; the calls themselves are not counted.
func (p Plan) WorstCase() time.Duration {
	var d time.Duration
	for _, s := range p.Steps {
		if s.Transition && s.From == Column(Connecting) {
			d += ConnectDuration[p.StoreType]
		}
		if s.Transition && s.From == Column(Disconnecting) {
			d += DisconnectDuration[p.StoreType]
		}
	}
	return d
}

// planNode is a point of the search: a world and the ids the cells' subject
// store and key stand for in it.
type planNode struct {
	w          World
	sid, kid   string
	subjectNum int // how many subject stores were created so far
}

func (n planNode) key() string { return n.sid + "|" + n.kid + "|" + n.w.Fingerprint() }

// column is the subject store's column, "" when it does not exist.
func (n planNode) column() Column {
	if s, ok := n.w.Store(n.sid); ok {
		return Column(s.State)
	}
	return ""
}

type planMove struct {
	c    Call
	name string
}

// PlanFor computes the walk of store type t. It is a greedy transition tour
// over the model's own worlds: from where the subject store is, it takes
// every cell whose call has, there, the outcomes (exceptions, rules,
// resulting states) the cell has in its canonical world; then it moves,
// along the cheapest sequence of moves found by a 0-1 breadth-first search
// (a move that changes the connection state costs 1, any other call 0), to
// the nearest world where another cell is reachable. Because the check is
// made on the model's worlds, a cell the plan claims is one the walk
// really exercises.
// The cells are adapted to the options (AdaptCell), as a run adapts them.
func PlanFor(t StoreType, opt PlanOptions) Plan {
	cs := Cells()
	for i := range cs {
		cs[i], _ = AdaptCell(cs[i], opt)
	}
	return PlanCells(t, opt, cs)
}

// PlanCells is PlanFor over the given cells (those of type t among them)
// instead of the matrix: a runner adds cells of its own, such as the
// validation cells that need a store with a key, so that the walk covers
// them on its store instead of each needing a store of its own.
func PlanCells(t StoreType, opt PlanOptions, cells []Cell) Plan {
	p := Plan{StoreType: t, Excluded: map[string]string{}}
	var todo []Cell
	sigs := map[string]string{}
	for _, c := range cells {
		if c.StoreType != t {
			continue
		}
		if why := exclusion(c, opt); why != "" {
			p.Excluded[c.ID] = why
			continue
		}
		todo = append(todo, c)
		sigs[c.ID] = cellSig(c)
	}
	if b := exactBound(todo, t); b >= 0 {
		p.LowerBound = b
	} else {
		p.LowerBound = lowerBound(todo)
	}
	for _, c := range todo {
		p.Naive += routeTransitions(c.Route, SubjectStoreID) + cellTransition(c)
	}

	// Two phase orders (see finish), plain or tidy walks (see walk): the plan
	// with fewer transitions wins.
	var best Plan
	for v := range 4 {
		split, tidy := v&1 != 0, v&2 != 0
		q := p
		q.tidy = tidy
		q.Excluded = map[string]string{}
		for k, v := range p.Excluded {
			q.Excluded[k] = v
		}
		q = q.finish(planNode{w: NewWorld()}, todo, sigs, t, opt, true, split)
		if v == 0 || q.Transitions < best.Transitions && len(q.Covered) >= len(best.Covered) {
			best = q
		}
	}
	return best
}

// PlanFrom re-plans a walk that diverged: from world w, where the cells'
// subject store and key are sid and kid ("" for none), it covers the
// cells named (those of t that the options reach), then tears down. The
// bound and the naive count are left zero.
func PlanFrom(t StoreType, opt PlanOptions, w World, sid, kid string, cellIDs []string) Plan {
	return PlanFromCells(t, opt, w, sid, kid, cellIDs, Cells())
}

// PlanFromCells is PlanFrom over the given cells instead of the matrix.
func PlanFromCells(t StoreType, opt PlanOptions, w World, sid, kid string, cellIDs []string, cells []Cell) Plan {
	p := Plan{StoreType: t, Excluded: map[string]string{}}
	want := map[string]bool{}
	for _, id := range cellIDs {
		want[id] = true
	}
	var todo []Cell
	sigs := map[string]string{}
	for _, c := range cells {
		if c.StoreType != t || !want[c.ID] {
			continue
		}
		if why := exclusion(c, opt); why != "" {
			p.Excluded[c.ID] = why
			continue
		}
		todo = append(todo, c)
		sigs[c.ID] = cellSig(c)
	}
	n := planNode{w: w, sid: sid, kid: kid, subjectNum: 1}
	return p.finish(n, todo, sigs, t, opt, false, false)
}

// finish walks from cur through the phases and tears down; fresh says the
// walk starts from an empty account (and may set the proxies up). split
// moves the keyed CONNECTING cells into the last phase with the FAILED
// ones, and breaks the backing before that phase when the store stands
// DISCONNECTED: one connect then covers CONNECTING and settles FAILED,
// where the plain order connects, comes back, breaks and connects again.
func (p Plan) finish(cur planNode, todo []Cell, sigs map[string]string, t StoreType, opt PlanOptions, fresh, split bool) Plan {
	if fresh && t == External && opt.BackingControl {
		// The proxy accepts both fixture credentials, so the rotation cells
		// find the world spec §7.3 asks for.
		cur = p.apply(cur, planMove{proxyAccepting(CredentialA, CredentialB), ""}, "")
	}
	// Phases, because some moves cannot be undone: a key in a custom key
	// store can only be scheduled for deletion, and KMS rotates a CloudHSM
	// store's kmsuser password on the first successful connect, after which
	// a store broken with a wrong password stays broken (and no new store
	// on the cluster can connect). So: the cells of a keyless store that
	// need no successful connect, then those that do, then the cells with a
	// key, the FAILED ones last.
	phases := [][]Cell{nil, nil, nil, nil}
	for _, c := range todo {
		keyed := len(c.Setup.KeysIn(SubjectStoreID)) > 0
		switch {
		case !keyed && c.Column != Column(Connected):
			phases[0] = append(phases[0], c)
		case !keyed:
			phases[1] = append(phases[1], c)
		case c.Column != Column(Failed) && !(split && c.Column == Column(Connecting)):
			phases[2] = append(phases[2], c)
		default:
			phases[3] = append(phases[3], c)
		}
	}
	var left []Cell
	p.Pause, p.Mend = -1, -1
	for i, ph := range phases {
		if i == 3 && len(ph) > 0 {
			p.Pause = len(p.Steps)
		}
		if split && i == 3 && len(ph) > 0 && cur.column() == Column(Disconnected) {
			cur = p.breakBacking(cur, t, opt)
		}
		cur, left = p.walk(cur, append(left, ph...), sigs, t, opt, i >= 2, i == 0)
	}
	for _, c := range left {
		p.Excluded[c.ID] = "no walk of the model's worlds reaches it from where the plan stands"
	}
	p.teardown(cur, t)
	return p
}

// walk covers what it can of todo from cur and returns where it ends and
// the cells it could not reach. keys allows moves that create a key;
// noConnect forbids moves that leave the subject CONNECTED.
func (p *Plan) walk(cur planNode, todo []Cell, sigs map[string]string, t StoreType, opt PlanOptions, keys, noConnect bool) (planNode, []Cell) {
	for len(todo) > 0 {
		// Cells reachable here, free ones (leaving the world as it is) first.
		// A tidy walk takes the cells that move the subject last, and
		// before them makes the free moves (deleting a store a cell left,
		// renaming back) that bring more cells of this column in reach.
		for again := true; again; {
			again = false
			for i := 0; i < len(todo); i++ {
				c := todo[i]
				call := rebind(c.Call, cur.sid, cur.kid)
				outs := Step(cur.w, call)
				if outcomeSig(outs, cur.sid, cur.kid) != sigs[c.ID] {
					continue
				}
				next := cur
				next.w = outs[0].Worlds[0]
				if p.tidy && next.column() != cur.column() {
					if hasStayingHere(todo, sigs, cur) {
						continue
					}
					if path := tidyPath(cur, todo, sigs, t, opt); len(path) > 0 {
						for _, m := range path {
							cur = p.apply(cur, m, "")
						}
						again = true
						break
					}
				}
				if next.key() != cur.key() && hasFreeHere(todo, sigs, cur, c.ID) {
					continue // take the free cells of this world first
				}
				cur = p.apply(cur, planMove{call, ""}, c.ID)
				p.Covered = append(p.Covered, c.ID)
				todo = append(todo[:i], todo[i+1:]...)
				i--
				again = true
			}
		}
		if len(todo) == 0 {
			break
		}
		// Prefer moves that keep every world reachable and make nothing new:
		// only when those reach no cell, break for good or retire a store.
		path, ok := nearest(cur, todo, sigs, t, opt, keys, noConnect, false)
		if !ok {
			path, ok = nearest(cur, todo, sigs, t, opt, keys, noConnect, true)
		}
		if !ok {
			break
		}
		for _, m := range path {
			cur = p.apply(cur, m, "")
		}
	}
	return cur, todo
}

// breakBacking applies the move that makes the subject's next connect
// fail, if the options offer one.
func (p *Plan) breakBacking(cur planNode, t StoreType, opt PlanOptions) planNode {
	for _, m := range moves(cur, t, opt, true) {
		if m.name != "break-password" && m.name != "break-proxy" {
			continue
		}
		if outs := Step(cur.w, m.c); outs[0].Error == Success && len(outs) == 1 {
			return p.apply(cur, m, "")
		}
	}
	return cur
}

// teardown appends the cleanup of every store the walk left: disconnect,
// schedule the deletion of keys (7 days, the minimum), delete the stores
// that hold no key. Stores with keys stay until the keys are deleted.
func (p *Plan) teardown(cur planNode, t StoreType) {
	p.tearingDown = true
	for _, s := range cur.w.Stores {
		n := cur
		n.sid = s.ID // so the transitions counted are this store's
		id := Ptr(s.ID)
		if s.State != Disconnected {
			n = p.apply(n, planMove{Call{Op: OpDisconnectCustomKeyStore, StoreID: id}, ""}, "")
			if st, _ := n.w.Store(s.ID); st.State == Disconnecting {
				n = p.apply(n, planMove{Call{Op: OpSettle, StoreID: id}, ""}, "")
			}
		}
		for _, k := range n.w.KeysIn(s.ID) {
			if k.State != KeyPendingDeletion {
				n = p.apply(n, planMove{Call{Op: OpScheduleKeyDeletion, KeyID: k.ID, PendingWindowDays: Ptr(7)}, ""}, "")
			}
		}
		if len(n.w.KeysIn(s.ID)) == 0 {
			n = p.apply(n, planMove{Call{Op: OpDeleteCustomKeyStore, StoreID: id}, ""}, "")
		} else {
			p.Retained = append(p.Retained, s.ID)
		}
		cur = n
	}
}

// hasStayingHere reports whether a cell that keeps the subject's column
// is reachable in cur.
func hasStayingHere(todo []Cell, sigs map[string]string, cur planNode) bool {
	for _, c := range todo {
		outs := Step(cur.w, rebind(c.Call, cur.sid, cur.kid))
		if outcomeSig(outs, cur.sid, cur.kid) != sigs[c.ID] {
			continue
		}
		next := cur
		next.w = outs[0].Worlds[0]
		if next.column() == cur.column() {
			return true
		}
	}
	return false
}

// tidyPath is a sequence of at most two free moves (no change of the
// subject's column, nothing irreversible) after which a cell that keeps
// the subject's column is reachable; nil if there is none.
func tidyPath(cur planNode, todo []Cell, sigs map[string]string, t StoreType, opt PlanOptions) []planMove {
	type item struct {
		n    planNode
		path []planMove
	}
	level := []item{{n: cur}}
	for depth := 0; depth < 2; depth++ {
		var next []item
		for _, it := range level {
			for _, m := range moves(it.n, t, opt, false) {
				switch m.name {
				case "delete-other", "rename-back", "repoint-back", "mend-proxy", "mend-password":
				default:
					continue
				}
				outs := Step(it.n.w, m.c)
				if outs[0].Error != Success || len(outs) != 1 {
					continue
				}
				n := it.n
				n.w = outs[0].Worlds[0]
				if n.column() != it.n.column() || n.key() == it.n.key() {
					continue
				}
				path := append(append([]planMove(nil), it.path...), m)
				if hasStayingHere(todo, sigs, n) {
					return path
				}
				next = append(next, item{n, path})
			}
		}
		level = next
	}
	return nil
}

// hasFreeHere reports whether a cell other than except is reachable in cur
// without changing its world.
func hasFreeHere(todo []Cell, sigs map[string]string, cur planNode, except string) bool {
	for _, c := range todo {
		if c.ID == except {
			continue
		}
		outs := Step(cur.w, rebind(c.Call, cur.sid, cur.kid))
		if outcomeSig(outs, cur.sid, cur.kid) == sigs[c.ID] && outs[0].Worlds[0].Fingerprint() == cur.w.Fingerprint() {
			return true
		}
	}
	return false
}

// apply appends the call to the plan and follows its first outcome and
// world (the one the model lists first; a target that answers otherwise is
// re-observed and re-planned by the run).
func (p *Plan) apply(n planNode, m planMove, cell string) planNode {
	if m.name == "mend-password" && p.Mend < 0 && !p.tearingDown {
		p.Mend = len(p.Steps)
	}
	outs := Step(n.w, m.c)
	next := n
	next.w = outs[0].Worlds[0]
	if outs[0].Error == Success {
		switch {
		case m.c.Op == OpCreateCustomKeyStore && m.name == "create-subject":
			next.sid, next.kid = outs[0].StoreID, ""
			next.subjectNum++
			p.Stores++
		case m.c.Op == OpCreateCustomKeyStore && outs[0].StoreID != "":
			if _, existed := n.w.Store(outs[0].StoreID); !existed {
				p.Stores++
			}
		case m.name == "retire":
			next.sid, next.kid = "", ""
		case m.c.Op == OpCreateKey && m.name == "create-subject-key":
			next.kid = outs[0].KeyID
			p.Keys++
		case m.c.Op == OpCreateKey:
			p.Keys++
		}
	}
	st := PlanStep{Call: m.c, Cell: cell, From: n.column(), To: next.column(), Subject: n.sid, SubjectKey: n.kid}
	p.MaxLive = max(p.MaxLive, len(next.w.Stores))
	st.Transition = st.From != st.To && m.name != "retire"
	if st.Transition && p.tearingDown {
		p.TeardownTransitions++
	} else if st.Transition {
		p.Transitions++
	}
	p.Steps = append(p.Steps, st)
	return next
}

// nearest returns the cheapest sequence of moves from cur to a world where
// a cell of todo is reachable (0-1 BFS on transitions, then fewest calls).
func nearest(cur planNode, todo []Cell, sigs map[string]string, t StoreType, opt PlanOptions, keys, noConnect, costly bool) ([]planMove, bool) {
	type item struct {
		n    planNode
		path []planMove
		cost int
	}
	seen := map[string]bool{}
	dq := []item{{n: cur}}
	const maxExpand = 20000
	for expanded := 0; len(dq) > 0 && expanded < maxExpand; expanded++ {
		it := dq[0]
		dq = dq[1:]
		k := it.n.key()
		if seen[k] {
			continue
		}
		seen[k] = true
		if len(it.path) > 0 {
			for _, c := range todo {
				outs := Step(it.n.w, rebind(c.Call, it.n.sid, it.n.kid))
				if outcomeSig(outs, it.n.sid, it.n.kid) == sigs[c.ID] {
					return it.path, true
				}
			}
		}
		for _, m := range moves(it.n, t, opt, keys) {
			if !costly && (m.name == "retire" || m.name == "break-password" && passwordRotated(it.n)) {
				continue
			}
			outs := Step(it.n.w, m.c)
			if outs[0].Error != Success || len(outs) != 1 {
				continue
			}
			next := it.n
			next.w = outs[0].Worlds[0]
			switch m.name {
			case "create-subject":
				next.sid, next.kid = outs[0].StoreID, ""
				next.subjectNum++
			case "retire":
				next.sid, next.kid = "", ""
			case "create-subject-key":
				next.kid = outs[0].KeyID
			}
			if seen[next.key()] || noConnect && next.column() == Column(Connected) {
				continue
			}
			path := append(append([]planMove(nil), it.path...), m)
			if next.column() != it.n.column() && m.name != "retire" {
				dq = append(dq, item{next, path, it.cost + 1})
			} else {
				dq = append([]item{{next, path, it.cost}}, dq...)
			}
		}
	}
	return nil, false
}

// moves are the calls that take the subject store and key between states,
// and the ancillary calls that undo a cell's side effects (a store it
// created, a renamed or repointed subject).
func moves(n planNode, t StoreType, opt PlanOptions, keys bool) []planMove {
	var ms []planMove
	s, exists := n.w.Store(n.sid)
	if !exists {
		if n.subjectNum < 4 { // a bound: a plan re-creating its store more often is a bug
			ms = append(ms, planMove{subjectCreate(t, KmsuserPassword), "create-subject"})
		}
		return append(ms, deleteOthers(n)...)
	}
	id := Ptr(n.sid)
	ms = append(ms,
		planMove{Call{Op: OpConnectCustomKeyStore, StoreID: id}, "connect"},
		planMove{Call{Op: OpSettle, StoreID: id}, "settle"},
		planMove{Call{Op: OpDisconnectCustomKeyStore, StoreID: id}, "disconnect"},
	)
	if _, hasKey := n.w.Key(n.kid); !hasKey && keys {
		ms = append(ms, planMove{Call{Op: OpCreateKey, StoreID: id, CreateKey: CreateKeyFor(t, XksKey1)}, "create-subject-key"})
	} else if hasKey {
		ms = append(ms,
			planMove{Call{Op: OpDisableKey, KeyID: n.kid}, "disable"},
			planMove{Call{Op: OpEnableKey, KeyID: n.kid}, "enable"},
			planMove{Call{Op: OpScheduleKeyDeletion, KeyID: n.kid, PendingWindowDays: Ptr(7)}, "schedule"},
			planMove{Call{Op: OpCancelKeyDeletion, KeyID: n.kid}, "cancel"},
		)
	}
	if len(n.w.KeysIn(n.sid)) == 0 {
		ms = append(ms, planMove{Call{Op: OpDeleteCustomKeyStore, StoreID: id}, "delete-subject"})
	} else if s.State == Disconnected && n.subjectNum < 4 {
		// A store with keys cannot be deleted: rename it out of the way
		// and start a new subject store.
		ms = append(ms, planMove{Call{Op: OpUpdateCustomKeyStore, StoreID: id,
			Update: &UpdateStoreInput{NewName: Ptr(fmt.Sprintf("kmsconform-retired-%d", n.subjectNum))}}, "retire"})
	}
	// Break and mend the backing of the next connect.
	if t == CloudHSM {
		// KMS rotates the kmsuser password on a successful connect (spec
		// §2.2), and the run never learns the new one: a store can be
		// mended with the password it was given only while the cluster
		// still has it. Breaking it after a connect is for good.
		cl, _ := n.w.Cluster(s.ClusterID)
		if s.Password == cl.Password {
			ms = append(ms, planMove{Call{Op: OpUpdateCustomKeyStore, StoreID: id, Update: &UpdateStoreInput{Password: Ptr(WrongKmsuserPassword)}}, "break-password"})
		} else if cl.Password == KmsuserPassword {
			ms = append(ms, planMove{Call{Op: OpUpdateCustomKeyStore, StoreID: id, Update: &UpdateStoreInput{Password: Ptr(KmsuserPassword)}}, "mend-password"})
		}
	} else if opt.BackingControl {
		ms = append(ms, planMove{proxyAccepting(CredentialA, CredentialB), "mend-proxy"})
		other := CredentialB
		if s.Credential == CredentialB {
			other = CredentialA
		}
		ms = append(ms, planMove{proxyAccepting(other), "break-proxy"})
	}
	// Undo side effects of cells.
	if s.Name != SubjectStoreName {
		ms = append(ms, planMove{Call{Op: OpUpdateCustomKeyStore, StoreID: id, Update: &UpdateStoreInput{NewName: Ptr(SubjectStoreName)}}, "rename-back"})
	}
	if t == External && s.Endpoint != EndpointA {
		ms = append(ms, planMove{Call{Op: OpUpdateCustomKeyStore, StoreID: id, Update: &UpdateStoreInput{Endpoint: Ptr(EndpointA)}}, "repoint-back"})
	}
	return append(ms, deleteOthers(n)...)
}

// deleteOthers deletes the stores a cell created besides the subject (a
// fresh create, say) once they can go: disconnected, without keys.
func deleteOthers(n planNode) []planMove {
	var ms []planMove
	for _, o := range n.w.Stores {
		if o.ID != n.sid && o.State == Disconnected && len(n.w.KeysIn(o.ID)) == 0 {
			ms = append(ms, planMove{Call{Op: OpDeleteCustomKeyStore, StoreID: Ptr(o.ID)}, "delete-other"})
		}
	}
	return ms
}

// passwordRotated reports whether KMS has rotated the kmsuser password of
// the subject store's cluster since the plan set it.
func passwordRotated(n planNode) bool {
	s, _ := n.w.Store(n.sid)
	cl, _ := n.w.Cluster(s.ClusterID)
	return cl.Password != KmsuserPassword
}

// exclusion is why a cell is not in a plan for these options ("" if it is).
func exclusion(c Cell, opt PlanOptions) string {
	if c.Column != NoSuchStore && ConnectionState(c.Column).Transient() && !opt.Transient {
		return "needs a store held in " + string(c.Column)
	}
	if opt.OneBacking && otherBacking(c.Call, opt.SecondBacking) {
		return "needs a second cluster or proxy (the target offers one: set the _2 backing variables)"
	}
	if c.Variant == "CreateCustomKeyStore/over-quota" {
		return "needs " + fmt.Sprint(StoreQuota) + " live stores (the quota scenario covers it)"
	}
	if !opt.BackingControl {
		for _, r := range c.Route {
			if r.Op.IsEnv() && r.Op != OpSettle {
				return "needs control of the proxy behind KMS (" + string(r.Op) + ")"
			}
		}
	}
	return ""
}

// cellSig is the outcome signature of a cell: about its subject store and
// key, and in the no-such-store column about no store (a create there makes
// a store that is not the subject).
func cellSig(c Cell) string {
	if c.Column == NoSuchStore {
		return outcomeSig(c.Expected, "", "")
	}
	return outcomeSig(c.Expected, SubjectStoreID, SubjectKeyID)
}

// rebind points a cell's call at the walk's subject store and key.
func rebind(c Call, sid, kid string) Call {
	if c.StoreID != nil && *c.StoreID == SubjectStoreID {
		if sid == "" {
			sid = UnknownStoreID // no subject: the call must not land on another store
		}
		c.StoreID = Ptr(sid)
	}
	if c.KeyID == SubjectKeyID && kid != "" {
		c.KeyID = kid
	}
	return c
}

// outcomeSig is what makes two calls exercise the same cell: the same
// exceptions, allowed by the same rules, leading the subject store and key
// to the same states.
func outcomeSig(outs []Outcome, sid, kid string) string {
	parts := make([]string, 0, len(outs))
	for _, o := range outs {
		var b strings.Builder
		b.WriteString(string(o.Error))
		for _, r := range o.Rules {
			b.WriteString("," + r.ID)
		}
		ws := make([]string, 0, len(o.Worlds))
		for _, w := range o.Worlds {
			ws = append(ws, subjectState(w, sid, kid))
		}
		sort.Strings(ws)
		b.WriteString("→" + strings.Join(ws, "/"))
		parts = append(parts, b.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, " | ")
}

func subjectState(w World, sid, kid string) string {
	st := "none"
	if s, ok := w.Store(sid); ok {
		st = string(s.State) + ":" + string(s.ErrorCode)
	}
	if k, ok := w.Key(kid); ok {
		st += ":" + string(k.State)
	}
	return st
}

// routeTransitions counts the connection-state changes of store sid along
// calls from NewWorld (creation included).
func routeTransitions(calls []Call, sid string) int {
	w, n := NewWorld(), 0
	for _, c := range calls {
		before, _ := w.Store(sid)
		_, had := w.Store(sid)
		w = Step(w, c)[0].Worlds[0]
		after, has := w.Store(sid)
		if had != has || before.State != after.State {
			n++
		}
	}
	return n
}

// cellTransition is 1 when the cell's call, as the model lists it first,
// changes the subject store's connection state.
func cellTransition(c Cell) int {
	if c.Column == NoSuchStore {
		return 0 // a store a call makes there is not the subject (cellSig)
	}
	before, had := c.Setup.Store(SubjectStoreID)
	after, has := c.Expected[0].Worlds[0].Store(SubjectStoreID)
	if had != has || before.State != after.State {
		return 1
	}
	return 0
}

// absNode is a node of the abstract graph the bound is computed on: the
// subject store's column ("" for none) and whether it holds a key.
type absNode struct {
	col   Column
	keyed bool
}

// absEdges are the state-changing moves between abstract nodes, each one
// transition; retiring a keyed store (rename, then a new store) costs the
// creation alone, and creating a key costs nothing.
func absEdges(v absNode) []struct {
	to   absNode
	cost int
} {
	type e = struct {
		to   absNode
		cost int
	}
	k := v.keyed
	n := func(c ConnectionState) absNode { return absNode{Column(c), k} }
	switch v.col {
	case "":
		return []e{{absNode{Column(Disconnected), false}, 1}}
	case Column(Disconnected):
		out := []e{{n(Connecting), 1}}
		if k {
			out = append(out, e{absNode{"", false}, 0})
		} else {
			out = append(out, e{absNode{"", false}, 1})
		}
		return out
	case Column(Connecting):
		return []e{{n(Connected), 1}, {n(Failed), 1}, {n(Disconnecting), 1}}
	case Column(Connected):
		out := []e{{n(Disconnecting), 1}}
		if !k {
			out = append(out, e{absNode{Column(Connected), true}, 0})
		}
		return out
	case Column(Failed):
		return []e{{n(Disconnecting), 1}, {n(Disconnected), 1}}
	case Column(Disconnecting):
		return []e{{n(Disconnected), 1}}
	}
	return nil
}

// absDist is the fewest transitions from a to b (-1: unreachable).
func absDist(a, b absNode) int {
	dist := map[absNode]int{a: 0}
	dq := []absNode{a}
	for len(dq) > 0 {
		v := dq[0]
		dq = dq[1:]
		for _, e := range absEdges(v) {
			d := dist[v] + e.cost
			if old, ok := dist[e.to]; ok && old <= d {
				continue
			}
			dist[e.to] = d
			if e.cost == 0 {
				dq = append([]absNode{e.to}, dq...)
			} else {
				dq = append(dq, e.to)
			}
		}
	}
	if d, ok := dist[b]; ok {
		return d
	}
	return -1
}

// lowerBound bounds from below the transitions of any walk that starts
// with no store and covers cells. It relaxes the problem to the abstract
// graph of (column, keyed) nodes: every cell that changes the connection
// state is a transition of its own (a required edge), and the extra
// transitions are at least the larger of (a) one into every node with
// cells that no required edge enters and (b) the directed route-inspection
// (Chinese postman) bound: the cheapest set of shortest paths that
// balances the required edges' in- and out-degrees, the walk's end being
// free.
func lowerBound(cells []Cell) int {
	start := absNode{}
	required := 0
	entered := map[absNode]bool{start: true}
	need := map[absNode]bool{}
	d := map[absNode]int{}
	for _, c := range cells {
		keyed := len(c.Setup.KeysIn(SubjectStoreID)) > 0
		from := absNode{c.Column, keyed}
		if c.Column == NoSuchStore {
			from = start
		}
		need[from] = true
		if cellTransition(c) == 0 {
			continue
		}
		required++
		to := start
		if s, ok := c.Expected[0].Worlds[0].Store(SubjectStoreID); ok {
			to = absNode{Column(s.State), keyed}
		}
		entered[to] = true
		d[from]++
		d[to]--
	}
	unentered := 0
	for v := range need {
		if !entered[v] {
			unentered++
		}
	}
	var nodes []absNode
	for _, k := range []bool{false, true} {
		for _, c := range append([]Column{""}, Columns[:5]...) {
			if c == "" && k {
				continue
			}
			nodes = append(nodes, absNode{c, k})
		}
	}
	best := -1
	for _, end := range nodes {
		// r > 0: the node needs r more extra edges in than out (a sink of
		// the balancing flow); r < 0: more out (a source).
		var srcs, sinks []absNode
		for _, v := range nodes {
			r := d[v]
			if v == start {
				r--
			}
			if v == end {
				r++
			}
			for ; r > 0; r-- {
				sinks = append(sinks, v)
			}
			for ; r < 0; r++ {
				srcs = append(srcs, v)
			}
		}
		// Each balancing path runs from a node that must be left more
		// often than the required edges leave it to one that must be
		// entered more often.
		if c := matchCost(srcs, sinks); c >= 0 && (best < 0 || c < best) {
			best = c
		}
	}
	if best < 0 {
		best = 0
	}
	return required + max(unentered, best)
}

// matchCost is the cheapest pairing of srcs with sinks by shortest-path
// distance (-1 when none exists), by dynamic programming over subsets:
// the sets are small (a handful of units).
func matchCost(srcs, sinks []absNode) int {
	if len(srcs) != len(sinks) || len(srcs) > 16 {
		return -1
	}
	n := len(srcs)
	memo := map[int]int{}
	var f func(i, used int) int
	f = func(i, used int) int {
		if i == n {
			return 0
		}
		if v, ok := memo[used]; ok {
			return v
		}
		best := -1
		for j := 0; j < n; j++ {
			if used&(1<<j) != 0 {
				continue
			}
			dd := absDist(srcs[i], sinks[j])
			if dd < 0 {
				continue
			}
			if rest := f(i+1, used|1<<j); rest >= 0 && (best < 0 || dd+rest < best) {
				best = dd + rest
			}
		}
		memo[used] = best
		return best
	}
	return f(0, 0)
}
