package drive

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/targets"
	"github.com/kmsconform/kmsconform/wait"
)

// Progress receives what a run is doing, for a terminal.
type Progress interface {
	// Start is called once, with the number of specs that will run.
	Start(total int)
	// CellDone is called after every cell and scenario.
	CellDone(id string, v Verdict)
	// Waiting says what the run waits for and until when.
	Waiting(what string, until time.Time)
}

// Driver runs cells and scenarios against one target.
type Driver struct {
	Target   targets.Target
	Progress Progress // may be nil
	// WalkProgress makes a planned walk report each cell to Progress as it
	// ends (the planned mode; in the lanes each spec reports its own).
	WalkProgress bool
	runID        string
	proc         int

	mu       sync.Mutex
	seq      int
	calls    int
	lanes    map[model.StoreType]*lane
	findings []string
	// cloudhsmConnected: a CloudHSM store of this run reached CONNECTED.
	cloudhsmConnected bool
	// spares counts the external keys handed to adopting scenarios.
	spares int

	// What a lane runs (see UsesLanes): the cells and scenarios the suites
	// registered, and, when set, which of them the run selects (a label
	// filter); nil selects all.
	Cells          []model.Cell
	Scenarios      []Scenario
	SelectCell     func(model.Cell) bool
	SelectScenario func(Scenario) bool
}

// noteCloudHSMConnect records that a CloudHSM store of this run reached
// CONNECTED: the kmsuser password the run was given was current then.
func (h *Driver) noteCloudHSMConnect() {
	h.mu.Lock()
	h.cloudhsmConnected = true
	h.mu.Unlock()
}

// stalePassword says why a CloudHSM store that the model expects CONNECTED
// but settled FAILED with INVALID_CREDENTIALS is not the target's fault
// ("" when it may be): on a target that does not control the cluster, the
// run cannot know whether the kmsuser password it was given is still the
// cluster's (KMS rotates it at every connect, so a previous run or store
// may have changed it) until a store of this run has connected with it.
func (h *Driver) stalePassword(want model.Store, state model.ConnectionState, code model.ConnectionErrorCode) string {
	h.mu.Lock()
	connected := h.cloudhsmConnected
	h.mu.Unlock()
	if want.Type != model.CloudHSM || want.State != model.Connected || state != model.Failed ||
		code != model.ErrCodeInvalidCredentials || connected || OfferOf(h.Target).Clusters {
		return ""
	}
	return "the kmsuser password given (" + targets.EnvCloudHSMKmsuserPassword + ") is not the cluster's current one: " +
		"KMS rotates it at every connect, so set it anew (with the CloudHSM CLI) before each run"
}

// addFinding records what a run learnt of the target that is a finding of
// its own (once each).
func (h *Driver) addFinding(f string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f != "" && !slices.Contains(h.findings, f) {
		h.findings = append(h.findings, f)
	}
}

// Findings returns the findings so far.
func (h *Driver) Findings() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.findings)
}

// New returns a harness for a target. proc is the parallel process number
// (1 when not parallel): it keeps the names of concurrent processes apart.
func New(t targets.Target, proc int) *Driver {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return &Driver{Target: t, runID: hex.EncodeToString(b), proc: proc}
}

// RunPrefix starts the name of every store this harness creates, so a
// sweeper finds this run's leftovers and nothing else.
func (h *Driver) RunPrefix() string { return fmt.Sprintf("kmsconform-%s-p%d-", h.runID, h.proc) }

func (h *Driver) nextPrefix() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	return fmt.Sprintf("%sc%d-", h.RunPrefix(), h.seq)
}

func (h *Driver) addCalls(n int) {
	h.mu.Lock()
	h.calls += n
	h.mu.Unlock()
}

// TakeCalls returns the API calls made since the last TakeCalls.
func (h *Driver) TakeCalls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.calls
	h.calls = 0
	return n
}

// Calls returns the API calls made so far.
func (h *Driver) Calls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

func (h *Driver) waiting(what string, until time.Time) {
	if h.Progress != nil {
		h.Progress.Waiting(what, until)
	}
}

// putBacking puts a model world's backing on the target through its
// capabilities.
func (r *cellRun) putBacking(ctx context.Context, w model.World) error {
	for _, cl := range w.Clusters {
		if err := r.applyEnv(ctx, model.Call{Op: model.OpSetCluster, Cluster: &cl}); err != nil {
			return err
		}
	}
	for _, p := range w.Proxies {
		if err := r.applyEnv(ctx, model.Call{Op: model.OpSetProxy, Proxy: &p}); err != nil {
			return err
		}
	}
	for _, v := range w.VpcServices {
		if err := r.applyEnv(ctx, model.Call{Op: model.OpSetVpcService, VpcServiceSpec: &v}); err != nil {
			return err
		}
	}
	return nil
}

// applyEnv carries out an environment call of the model through the
// target's capability for it; without one the call is unreachable.
func (r *cellRun) applyEnv(ctx context.Context, c model.Call) error {
	if pc := r.proxyControl(); pc != nil && (c.Op == model.OpSetProxy || c.Op == model.OpDeleteProxy) {
		// The proxy is changed through the ProxyControl role, which takes
		// the target's own values: map the model's fixtures onto them.
		var err error
		if c.Op == model.OpSetProxy {
			p := ToTargetProxy(*c.Proxy)
			p.Endpoint, p.Path = r.m.v(p.Endpoint), r.m.v(p.Path)
			for i := range p.Accepted {
				p.Accepted[i] = targets.Credential{AccessKeyID: r.m.v(p.Accepted[i].AccessKeyID), Secret: r.m.v(p.Accepted[i].Secret)}
			}
			for i := range p.Keys {
				p.Keys[i].ID = r.m.v(p.Keys[i].ID)
			}
			err = pc.PutProxy(ctx, p)
		} else {
			err = pc.DeleteProxy(ctx, r.m.v(c.Endpoint))
		}
		if errors.Is(err, targets.ErrUnsupported) {
			return endWith(Unreachable, "%s: %v", c.Op, err)
		}
		if err != nil {
			return endWith(Indeterminate, "changing the proxy (%s): %v", c.Op, err)
		}
		return nil
	}
	cc, pf, tc := r.clusters(), r.fleet(), r.clock()
	var err error
	switch {
	case c.Op == model.OpSetCluster && cc != nil:
		err = cc.PutCluster(ctx, ToTargetCluster(*c.Cluster))
	case c.Op == model.OpDeleteCluster && cc != nil:
		err = cc.DeleteCluster(ctx, c.ClusterID)
	case c.Op == model.OpDeleteKeyMaterial && cc != nil:
		err = cc.DeleteKeyMaterial(ctx, r.m.KeyID(c.KeyID))
	case c.Op == model.OpSetProxy && pf != nil:
		err = pf.PutProxy(ctx, ToTargetProxy(*c.Proxy))
	case c.Op == model.OpDeleteProxy && pf != nil:
		err = pf.DeleteProxy(ctx, c.Endpoint)
	case c.Op == model.OpSetVpcService && pf != nil:
		err = pf.PutVpcService(ctx, targets.VpcService{Name: c.VpcServiceSpec.Name, Status: targets.VpcServiceStatus(c.VpcServiceSpec.Status)})
	case c.Op == model.OpDeleteVpcService && pf != nil:
		err = pf.DeleteVpcService(ctx, c.VpcServiceName)
	case c.Op == model.OpExpireKeyDeletion && tc != nil:
		err = tc.ExpireKeyDeletion(ctx, r.m.KeyID(c.KeyID))
	default:
		return endWith(Unreachable, "%s needs a control plane this target lacks", c.Op)
	}
	if err != nil {
		return endWith(Indeterminate, "control plane %s: %v", c.Op, err)
	}
	return nil
}

// proxyControl returns the ProxyControl of a target that changes the one
// XKS proxy behind it (an endpoint whose proxy is a kmsconform xks-proxy),
// nil for a ProxyFleet (which takes the model's fixtures as they are, and
// resets) or a target that changes no proxy.
func (r *cellRun) proxyControl() targets.ProxyControl {
	if r.fleet() != nil {
		return nil // applyEnv's fleet path
	}
	if r.h == nil {
		return nil // ApplyEnv, for package fuzz, which changes proxies only on a ProxyFleet
	}
	pc, _ := r.tgt.(targets.ProxyControl)
	return pc
}

// ToTargetCluster converts a model cluster for a control plane. A password
// KMS rotated is left as the target rotated it.
func ToTargetCluster(c model.Cluster) targets.Cluster {
	pw := c.Password
	if model.IsRotated(pw) {
		pw = ""
	}
	return targets.Cluster{ID: c.ID, TrustAnchor: c.TrustAnchor, Initialized: c.Initialized, ActiveHSMs: c.ActiveHSMs,
		NetworkOK: c.NetworkOK, Kmsuser: targets.KmsuserState(c.Kmsuser), Password: pw, FailedLogins: c.FailedLogins, Fault: targets.ClusterFault(c.Fault)}
}

// ToTargetProxy converts a model proxy for a control plane.
func ToTargetProxy(p model.Proxy) targets.Proxy {
	t := targets.Proxy{Endpoint: p.Endpoint, Path: p.Path, Fault: targets.ProxyFault(p.Fault)}
	for _, a := range p.Accepted {
		t.Accepted = append(t.Accepted, targets.Credential{AccessKeyID: a.AccessKeyID, Secret: a.Secret})
	}
	for _, k := range p.Keys {
		t.Keys = append(t.Keys, targets.ExternalKey{ID: k.ID, Status: targets.ExternalKeyStatus(k.Status)})
	}
	return t
}

// cleanup removes what a cell created, on targets without a control plane
// (a control plane resets before the next cell). Best effort: keys are
// scheduled for deletion with the shortest window, stores disconnected and
// deleted.
func (r *cellRun) cleanup(ctx context.Context) {
	r.releaseHolds(ctx)
	if r.resetter() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.h.Target.Timeouts().Disconnect+5*time.Second)
	defer cancel()
	r.m.Sweep(ctx, r.client, r.h.Target.Timeouts().Poll)
}

// Sweep deletes what this mapper created: the stores it created, found by
// id (a cell may have renamed one out of the run's prefix), and those whose
// names carry its prefix; its keys are scheduled for deletion.
func (m *Mapper) Sweep(ctx context.Context, client *kms.Client, poll time.Duration) {
	sweep(ctx, client, m.Prefix(), m.TargetStores(), m.TargetKeys(), poll, m.borrowed)
}

// Sweep deletes the stores whose names start with prefix (and schedules
// the given keys for deletion). It never touches a store of another prefix.
func Sweep(ctx context.Context, client *kms.Client, prefix string, keys []string, poll time.Duration) {
	sweep(ctx, client, prefix, nil, keys, poll, nil)
}

func sweep(ctx context.Context, client *kms.Client, prefix string, stores, keys []string, poll time.Duration, leave map[string]bool) {
	for _, k := range keys {
		_, _ = client.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(k), PendingWindowInDays: aws.Int32(7)})
	}
	var ids []string
	eachStore(ctx, client, func(s types.CustomKeyStoresListEntry) bool {
		id := aws.ToString(s.CustomKeyStoreId)
		if !leave[id] && (strings.HasPrefix(aws.ToString(s.CustomKeyStoreName), prefix) || slices.Contains(stores, id)) {
			ids = append(ids, aws.ToString(s.CustomKeyStoreId))
		}
		return true
	})
	for _, id := range ids {
		_, _ = client.DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	}
	for _, id := range ids {
		_, _ = wait.Settled(ctx, client, id, wait.Options{Poll: max(poll, time.Millisecond)})
		_, _ = client.DeleteCustomKeyStore(ctx, &kms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
	}
}

// eachStore calls f with every custom key store of the account, page by
// page (at most 100 pages), until f returns false or a page fails.
func eachStore(ctx context.Context, client *kms.Client, f func(types.CustomKeyStoresListEntry) bool) {
	var marker *string
	for range 100 {
		out, err := client.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{Marker: marker})
		if err != nil {
			return
		}
		for _, s := range out.CustomKeyStores {
			if !f(s) {
				return
			}
		}
		if !out.Truncated || out.NextMarker == nil {
			return
		}
		marker = out.NextMarker
	}
}
