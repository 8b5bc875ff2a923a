package drive

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/targets"
)

// verdictError ends a cell early with a verdict other than pass.
type verdictError struct {
	verdict Verdict
	detail  string
}

func (e *verdictError) Error() string { return string(e.verdict) + ": " + e.detail }

func endWith(v Verdict, format string, args ...any) error {
	return &verdictError{verdict: v, detail: fmt.Sprintf(format, args...)}
}

// cellRun is the state of one cell's run.
type cellRun struct {
	h      *Driver
	cell   model.Cell
	m      *Mapper
	client *kms.Client
	tgt    targets.Target // its capabilities are found by type assertion (see below)
	held   []string       // target store ids held
	route  string         // how the state was reached

	// The planned walk's brackets (see RunPlanned): tries per transient
	// cell, whether the last step missed, misses in all, whether any
	// observation showed a transient state; lastCell is the index of the
	// cell whose call started the transition a settle ends (-1 for none).
	tries            map[string]int
	missed, lastMiss bool
	misses           int
	sawTransient     bool
	lastCell         int
	storeType        model.StoreType // the walk's
	finalWorlds      []model.World   // where a scenario's steps ended
	pauseAt          int             // the walk's plan's Pause (see PauseFunc)
	paused           bool
	mendAt           int // the walk's plan's Mend
	mendPaused       bool
	stopVerdict      Verdict              // the verdict of the cells a stopped walk leaves ("": indeterminate)
	created          map[string]time.Time // the first CreationDate seen per store (checkEntryFields)
}

// creationDates is where the run remembers each store's CreationDate.
func (r *cellRun) creationDates() map[string]time.Time {
	if r.created == nil {
		r.created = map[string]time.Time{}
	}
	return r.created
}

// The target's capabilities, nil where it lacks one.

func (r *cellRun) resetter() targets.Resetter {
	v, _ := r.tgt.(targets.Resetter)
	return v
}

func (r *cellRun) holder() targets.TransitionHolder {
	v, _ := r.tgt.(targets.TransitionHolder)
	return v
}

func (r *cellRun) clusters() targets.ClusterControl {
	v, _ := r.tgt.(targets.ClusterControl)
	return v
}

func (r *cellRun) fleet() targets.ProxyFleet {
	v, _ := r.tgt.(targets.ProxyFleet)
	return v
}

func (r *cellRun) clock() targets.TimeControl {
	v, _ := r.tgt.(targets.TimeControl)
	return v
}

// RunCell checks one cell on the target: it replays the cell's route, makes
// the call, classifies the answer against the model's outcomes, lets the
// store settle and checks where it ends. It never panics on a target's
// answer; every way a cell can end is a verdict.
func (h *Driver) RunCell(ctx context.Context, c model.Cell) (res CellResult) {
	start := time.Now()
	res = CellResult{Cell: c}
	r := &cellRun{h: h, cell: c, client: h.Target.KMS(), tgt: h.Target, route: "api"}
	r.m = NewMapper(h.nextPrefix(), h.Target.Backing()).Strict(OfferOf(h.Target))
	defer func() {
		res.Seconds = time.Since(start).Seconds()
		res.Evidence.Route = r.route
		res.Evidence.Message = r.m.redact(res.Evidence.Message)
		res.Evidence.Detail = r.m.redact(res.Evidence.Detail)
		h.addCalls(r.m.Calls)
		r.cleanup(context.WithoutCancel(ctx))
	}()
	err := r.run(ctx, &res)
	var ve *verdictError
	switch {
	case err == nil:
		res.Verdict = Pass
	case errors.As(err, &ve):
		res.Verdict, res.Evidence.Detail = ve.verdict, ve.detail
	default:
		res.Verdict, res.Evidence.Detail = Indeterminate, err.Error()
	}
	return res
}

func (r *cellRun) run(ctx context.Context, res *CellResult) error {
	c := r.cell
	if slices.Contains(c.Needs, model.NeedBackingControl) && r.fleet() == nil {
		return endWith(Unreachable, "the route changes the backing (an XKS proxy), which needs a target with a control plane")
	}
	if rs := r.resetter(); rs != nil {
		if err := rs.Reset(ctx); err != nil {
			return endWith(Indeterminate, "resetting the target: %v", err)
		}
		if err := r.putBacking(ctx, model.NewWorld()); err != nil {
			return err
		}
		r.route = "api+control"
	} else if err := r.mendProxy(ctx); err != nil {
		return err
	}
	w, err := r.replay(ctx, model.NewWorld(), c.Route)
	if err != nil {
		return err
	}
	if c.Column != model.NoSuchStore {
		s, _ := w.Store(model.SubjectStoreID)
		got, code, err := r.describeState(ctx, r.m.StoreID(s.ID))
		if err != nil {
			return err
		}
		if got != s.State || code != s.ErrorCode {
			return endWith(Unreachable, "the store was %s %s when the call was due, not %s %s", got, code, s.State, s.ErrorCode)
		}
	}

	var createdStore, createdKey string
	for _, o := range c.Expected {
		if o.Error == model.Success {
			createdStore, createdKey = o.StoreID, o.KeyID
		}
	}
	ans, callErr := r.invoke(ctx, c.Call, createdStore, createdKey)
	obs := Classify(callErr)
	if obs.Unknown != "" {
		return endWith(Unreachable, "%s", obs.Unknown)
	}
	res.Observed = obs.Code
	res.Evidence.HTTPStatus, res.Evidence.Message, res.Evidence.RequestID = obs.HTTPStatus, obs.Message, obs.RequestID
	var matched []model.Outcome
	for _, o := range c.Expected {
		if (o.Error != model.Success && string(o.Error) == obs.Code) || (o.Error == model.Success && obs.Code == SuccessCode) {
			matched = append(matched, o)
		}
	}
	if len(matched) == 0 {
		allowed := strings.Join(model.OutcomeNames(c.Expected), " or ")
		switch {
		case obs.Transport:
			return endWith(Indeterminate, "no answer: %s", obs.Message)
		case obs.NotImplemented:
			return endWith(Unsupported, "%s is not implemented (%s)", c.Op, obs.describe())
		case c.Status == model.Undocumented:
			return endWith(Informational, "answered %s; the plausible answers are %s (undocumented cell)", orNone(obs.Code), allowed)
		}
		detail := fmt.Sprintf("answered %s; the model allows %s", orNone(obs.Code), allowed)
		if obs.Code == SuccessCode && c.Column == model.NoSuchStore && (c.Op == model.OpCreateKey || c.Op == model.OpGenerateRandom) {
			detail += ": the CustomKeyStoreId was silently ignored"
		}
		return endWith(Fail, "%s", detail)
	}
	r.releaseHolds(ctx)
	return r.checkAfter(ctx, matched, ans)
}

func orNone(code string) string {
	if code == "" {
		return "nothing"
	}
	return code
}

// replay makes the route's calls on the target and returns the model world
// they lead to.
func (r *cellRun) replay(ctx context.Context, w model.World, route []model.Call) (model.World, error) {
	for i, rc := range route {
		outs := model.Step(w, rc)
		if len(outs) != 1 || len(outs[0].Worlds) != 1 || outs[0].Error != model.Success {
			return w, fmt.Errorf("harness: route step %d (%s) is not deterministic in the model", i+1, rc.Op)
		}
		next := outs[0].Worlds[0]
		switch {
		case rc.Op == model.OpSettle:
			s, _ := next.Store(rc.Store())
			if err := r.settleTo(ctx, r.m.StoreID(s.ID), s.State, s.ErrorCode); err != nil {
				return w, err
			}
		case rc.Op.IsEnv():
			if err := r.applyEnv(ctx, rc); err != nil {
				return w, err
			}
		default:
			last := i == len(route)-1 || route[i+1].Op != model.OpSettle
			if last && (rc.Op == model.OpConnectCustomKeyStore || rc.Op == model.OpDisconnectCustomKeyStore) {
				if err := r.hold(ctx, r.m.StoreID(rc.Store())); err != nil {
					return w, err
				}
			}
			_, err := r.invoke(ctx, rc, outs[0].StoreID, outs[0].KeyID)
			if obs := Classify(err); obs.Code != SuccessCode {
				switch {
				case obs.Unknown != "":
					return w, endWith(Unreachable, "route step %d (%s): %s", i+1, rc.Op, obs.Unknown)
				case obs.Transport:
					return w, endWith(Indeterminate, "route step %d (%s): no answer: %s", i+1, rc.Op, obs.Message)
				case obs.NotImplemented:
					return w, endWith(Unsupported, "route step %d: %s is not implemented (%s)", i+1, rc.Op, obs.describe())
				}
				return w, endWith(Unreachable, "route step %d (%s) answered %s %s; the model expects success", i+1, rc.Op, obs.Code, obs.Message)
			}
		}
		w = next
	}
	return w, nil
}

// hold keeps the store's next transition from finishing, where the target
// can; elsewhere the cell races the transition through the API alone.
func (r *cellRun) hold(ctx context.Context, id string) error {
	th := r.holder()
	if th == nil {
		r.route = "api (acting while the transition is under way)"
		return nil
	}
	if err := th.Hold(ctx, id); err != nil {
		return endWith(Indeterminate, "holding store %s: %v", id, err)
	}
	r.held = append(r.held, id)
	return nil
}

func (r *cellRun) releaseHolds(ctx context.Context) {
	for _, id := range r.held {
		_ = r.holder().Release(ctx, id)
	}
	r.held = nil
}

// settleTo waits for a store to finish its transition and checks it ends in
// the state the model says.
func (r *cellRun) settleTo(ctx context.Context, id string, want model.ConnectionState, code model.ConnectionErrorCode) error {
	if th := r.holder(); th != nil {
		if err := th.Settle(ctx, id); err != nil {
			return endWith(Indeterminate, "settling store %s: %v", id, err)
		}
	}
	got, gotCode, err := r.waitStable(ctx, id)
	var ve *verdictError
	if errors.As(err, &ve) && ve.verdict == Indeterminate {
		return endWith(Indeterminate, "setting up: %s", ve.detail)
	}
	if err != nil {
		return err
	}
	if got != want || gotCode != code {
		return endWith(Unreachable, "setting up: the store settled to %s %s, the model expects %s %s", got, gotCode, want, code)
	}
	return nil
}

// invoke makes a call through the mapper. A call that breaks an input
// constraint changes nothing whatever happens, so when its answer is lost
// on the way (a connection closed under it) it is sent once more.
func (r *cellRun) invoke(ctx context.Context, c model.Call, store, key string) (Answer, error) {
	ans, err := r.m.Invoke(ctx, r.client, c, store, key)
	if err != nil && model.Invalid(c) && ctx.Err() == nil {
		if o := Classify(err); o.Transport && o.Unknown == "" {
			ans, err = r.m.Invoke(ctx, r.client, c, store, key)
		}
	}
	return ans, err
}

// describeState reads a store's state and error code.
func (r *cellRun) describeState(ctx context.Context, id string) (model.ConnectionState, model.ConnectionErrorCode, error) {
	r.m.Calls++
	out, err := r.client.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
	if err != nil {
		obs := Classify(err)
		switch {
		case obs.Transport:
			return "", "", endWith(Indeterminate, "DescribeCustomKeyStores: no answer: %s", obs.Message)
		case obs.NotImplemented:
			return "", "", endWith(Unsupported, "DescribeCustomKeyStores is not implemented (%s)", obs.describe())
		}
		return "", "", &describeError{obs}
	}
	if len(out.CustomKeyStores) != 1 {
		return "", "", endWith(Fail, "DescribeCustomKeyStores by id returned %d stores", len(out.CustomKeyStores))
	}
	s := out.CustomKeyStores[0]
	return model.ConnectionState(s.ConnectionState), model.ConnectionErrorCode(s.ConnectionErrorCode), nil
}

// describeError is a DescribeCustomKeyStores that answered an exception.
type describeError struct{ obs Observation }

func (e *describeError) Error() string {
	return fmt.Sprintf("DescribeCustomKeyStores answered %s: %s", e.obs.Code, e.obs.Message)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		d = 10 * time.Millisecond
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// checkAfter lets the store settle after a call the model allowed and checks
// where it ends: its state and code, its keys' states, and what the call
// returned.
func (r *cellRun) checkAfter(ctx context.Context, matched []model.Outcome, ans Answer) error {
	c := r.cell
	if c.Column == model.NoSuchStore {
		return r.checkAnswer(ctx, matched, ans, nil)
	}
	// The worlds the store may settle to, and the states it may pass through.
	var finals []model.World
	pending := map[model.ConnectionState]bool{}
	for _, o := range matched {
		for _, w := range o.Worlds {
			s, found := w.Store(model.SubjectStoreID)
			if found && s.State.Transient() {
				pending[s.State] = true
				for _, so := range model.Step(w, model.Call{Op: model.OpSettle, StoreID: &s.ID}) {
					finals = append(finals, so.Worlds...)
				}
				continue
			}
			finals = append(finals, w)
		}
	}
	id := r.m.StoreID(model.SubjectStoreID)
	if th := r.holder(); len(pending) > 0 && th != nil {
		if err := th.Settle(ctx, id); err != nil {
			return endWith(Indeterminate, "settling store %s: %v", id, err)
		}
	}
	final, err := r.pollFinal(ctx, id, finals, pending)
	if err != nil {
		return err
	}
	return r.checkAnswer(ctx, matched, ans, final)
}

// settleStates names the states (and codes) the subject store of finals
// may settle to, for a progress line.
func settleStates(finals []model.World) string {
	var want []string
	for _, f := range finals {
		if s, found := f.Store(model.SubjectStoreID); found && !s.State.Transient() {
			want = append(want, strings.TrimSpace(string(s.State)+" "+string(s.ErrorCode)))
		}
	}
	slices.Sort(want)
	if want = slices.Compact(want); len(want) == 0 {
		return "settled"
	}
	return strings.Join(want, " or ")
}

// pollFinal polls the store until it is in one of the allowed final states
// three times in a row; a pending state keeps polling, anything else fails at
// once. It returns the model world that matches.
func (r *cellRun) pollFinal(ctx context.Context, id string, finals []model.World, pending map[model.ConnectionState]bool) (*model.World, error) {
	to := r.h.Target.Timeouts()
	wait := max(to.Connect, to.Disconnect)
	deadline := time.Now().Add(wait)
	seen := 0
	var match *model.World
	for {
		state, code, err := r.describeState(ctx, id)
		var de *describeError
		deleted := errors.As(err, &de) && de.obs.Code == string(model.ErrCustomKeyStoreNotFound)
		if err != nil && !deleted {
			return nil, err
		}
		match = nil
		for i := range finals {
			s, found := finals[i].Store(model.SubjectStoreID)
			if (deleted && !found) || (!deleted && found && s.State == state && s.ErrorCode == code) {
				match = &finals[i]
				break
			}
		}
		switch {
		case match != nil:
			seen++
			if seen >= 3 {
				return match, nil
			}
		case !deleted && pending[state]:
			seen = 0
		case deleted:
			return nil, endWith(Fail, "the store is gone; the model expects it to remain")
		default:
			var want []string
			for _, f := range finals {
				if s, found := f.Store(model.SubjectStoreID); found {
					want = append(want, strings.TrimSpace(string(s.State)+" "+string(s.ErrorCode)))
				} else {
					want = append(want, "deleted")
				}
			}
			return nil, endWith(Fail, "the store went to %s; the model allows %s",
				strings.TrimSpace(string(state)+" "+string(code)), strings.Join(slices.Compact(want), " or "))
		}
		if time.Now().After(deadline) {
			return nil, endWith(Indeterminate, "the store was still %s after %s", state, wait)
		}
		if match == nil {
			r.h.waiting(fmt.Sprintf("waiting for %s %s → %s", id, state, settleStates(finals)), deadline)
		}
		spacing := to.Poll
		if match != nil && to.Settle > 0 {
			spacing = to.Settle
		}
		if err := sleep(ctx, spacing); err != nil {
			return nil, err
		}
	}
}

// checkAnswer checks what a successful call returned and the keys' states.
func (r *cellRun) checkAnswer(ctx context.Context, matched []model.Outcome, ans Answer, final *model.World) error {
	c := r.cell
	if err := checkBody(c.Op, matched[0].Error == model.Success, ans, r.m); err != nil {
		return err
	}
	if final != nil {
		if k, had := final.Key(model.SubjectKeyID); had {
			want := final.ShownKeyState(k)
			r.m.Calls++
			out, err := r.client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(r.m.KeyID(k.ID))})
			if err != nil {
				return endWith(Fail, "DescribeKey of the cell's key answered %s", Classify(err).Code)
			}
			s, _ := final.Store(k.Store)
			if err := checkKeyFields(out.KeyMetadata, k, s, want, r.m); err != nil {
				return err
			}
		}
	}
	if matched[0].Error != model.Success {
		return nil
	}
	switch c.Op {
	case model.OpCreateKey:
		if ans.Key == nil {
			return endWith(Fail, "CreateKey returned no KeyMetadata")
		}
		wantStore := r.m.StoreID(c.Call.Store())
		if aws.ToString(ans.Key.CustomKeyStoreId) != wantStore || string(ans.Key.Origin) != string(model.OriginFor(c.StoreType)) {
			return endWith(Fail, "the key was created with CustomKeyStoreId %q and Origin %s: the custom key store was ignored",
				aws.ToString(ans.Key.CustomKeyStoreId), ans.Key.Origin)
		}
		if ans.Key.KeyState != types.KeyStateEnabled {
			return endWith(Fail, "the new key is %s, not Enabled", ans.Key.KeyState)
		}
		if final != nil {
			if k, ok := final.Key(matched[0].KeyID); ok {
				s, _ := final.Store(k.Store)
				if err := checkKeyFields(ans.Key, k, s, model.KeyEnabled, r.m); err != nil {
					return err
				}
			}
		}
	case model.OpDescribeCustomKeyStores:
		return r.checkDescribe(ctx, ans, final)
	case model.OpCreateCustomKeyStore:
		if ans.StoreID == "" {
			return endWith(Fail, "CreateCustomKeyStore returned no CustomKeyStoreId")
		}
		if want := matched[0].StoreID; want == model.SubjectStoreID && ans.StoreID != r.m.StoreID(model.SubjectStoreID) {
			return endWith(Fail, "the idempotent create returned %s, not the existing store's id", ans.StoreID)
		}
		state, code, err := r.describeState(ctx, ans.StoreID)
		if err != nil {
			return err
		}
		if state != model.Disconnected || code != "" {
			return endWith(Fail, "the new store is %s %s, not DISCONNECTED", state, code)
		}
	}
	return nil
}

// checkDescribe compares a DescribeCustomKeyStores answer with the model.
func (r *cellRun) checkDescribe(ctx context.Context, ans Answer, final *model.World) error {
	c := r.cell
	if c.Call.Limit != nil {
		var err error
		if ans, err = r.pages(ctx, c.Call, ans); err != nil {
			return err
		}
	}
	if c.Call.StoreID == nil && c.Call.StoreName == nil {
		// All stores: the subject must be listed (the account may hold others).
		if final == nil {
			return nil
		}
		for _, s := range ans.Stores {
			if aws.ToString(s.CustomKeyStoreId) == r.m.StoreID(model.SubjectStoreID) {
				return r.checkEntry(s, *final)
			}
		}
		return endWith(Fail, "DescribeCustomKeyStores without a filter did not list the store")
	}
	if len(ans.Stores) != 1 {
		return endWith(Fail, "a filtered DescribeCustomKeyStores returned %d stores", len(ans.Stores))
	}
	if final == nil {
		return nil
	}
	if err := r.checkEntry(ans.Stores[0], *final); err != nil {
		return err
	}
	// A store's CreationDate never changes: read it once more.
	id := aws.ToString(ans.Stores[0].CustomKeyStoreId)
	r.m.Calls++
	out, err := r.client.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
	if err != nil || len(out.CustomKeyStores) != 1 {
		return nil // what this second read answers is not the cell's call
	}
	return r.checkEntry(out.CustomKeyStores[0], *final)
}

// maxPages bounds how many pages a paged DescribeCustomKeyStores follows.
const maxPages = 1000

// pages follows a paged DescribeCustomKeyStores answer to its last page
// (spec §2.6, rule describe.pages): no page holds more than Limit stores,
// a Truncated page has a NextMarker, and no store is listed twice. (A last
// page may carry a NextMarker too: the documentation says only that a
// Truncated one does.) It returns the stores of every page as one answer.
func (r *cellRun) pages(ctx context.Context, c model.Call, first Answer) (Answer, error) {
	all := Answer{}
	seen := map[string]int{}
	page := first
	for n := 1; ; n++ {
		if len(page.Stores) > *c.Limit {
			return all, endWith(Fail, "page %d lists %d stores with Limit %d", n, len(page.Stores), *c.Limit)
		}
		for _, s := range page.Stores {
			id := aws.ToString(s.CustomKeyStoreId)
			if p, dup := seen[id]; dup {
				return all, endWith(Fail, "store %s is listed on page %d and again on page %d", r.m.redact(id), p, n)
			}
			seen[id] = n
			all.Stores = append(all.Stores, s)
		}
		switch {
		case page.Truncated && aws.ToString(page.NextMarker) == "":
			return all, endWith(Fail, "page %d is Truncated without a NextMarker", n)
		case !page.Truncated:
			return all, nil
		case n == maxPages:
			return all, endWith(Indeterminate, "still Truncated after %d pages of %d", n, *c.Limit)
		}
		r.m.Calls++
		req := &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: r.m.storeIDp(c.StoreID), Limit: aws.Int32(int32(*c.Limit)), Marker: page.NextMarker}
		if c.StoreName != nil {
			req.CustomKeyStoreName = aws.String(r.m.Name(*c.StoreName))
		}
		out, err := r.client.DescribeCustomKeyStores(ctx, req)
		if err != nil {
			obs := Classify(err)
			return all, endWith(Fail, "page %d: the NextMarker of page %d was answered %s: %s", n+1, n, obs.Code, obs.Message)
		}
		page = Answer{Stores: out.CustomKeyStores, Truncated: out.Truncated, NextMarker: out.NextMarker}
	}
}

// checkEntry checks a DescribeCustomKeyStores entry for the subject store
// of world w.
func (r *cellRun) checkEntry(e types.CustomKeyStoresListEntry, w model.World) error {
	s, _ := w.Store(model.SubjectStoreID)
	switch {
	case string(e.CustomKeyStoreType) != string(s.Type) && !(e.CustomKeyStoreType == "" && s.Type == model.CloudHSM):
		return endWith(Fail, "the store is listed with type %q, not %s", e.CustomKeyStoreType, s.Type)
	case (e.ConnectionErrorCode != "") != (e.ConnectionState == types.ConnectionStateTypeFailed):
		return endWith(Fail, "the store is listed %s with ConnectionErrorCode %q: the code belongs to FAILED only", e.ConnectionState, e.ConnectionErrorCode)
	case s.Type == model.CloudHSM && aws.ToString(e.CloudHsmClusterId) == "":
		return endWith(Fail, "a CloudHSM store is listed without CloudHsmClusterId")
	case s.Type == model.External && e.XksProxyConfiguration == nil:
		return endWith(Fail, "an external key store is listed without XksProxyConfiguration")
	}
	return checkEntryFields(e, s, r.m, r.creationDates())
}

// Failf ends a cell or scenario with the verdict fail.
func Failf(format string, args ...any) error { return endWith(Fail, format, args...) }
