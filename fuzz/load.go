package fuzz

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kmsconform/kmsconform/drive"
	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/targets"
)

// LoadConfig configures a concurrent load run.
type LoadConfig struct {
	Target  targets.Target
	Clients int           // concurrent clients; 0 means 16
	Ops     int           // operations in all; 0 means 800
	MaxTime time.Duration // stop issuing after this; 0 means 30 s
	Seed    uint64
	// ReportDir receives porcupine's HTML visualisation when the history
	// is not linearizable ("" means the working directory).
	ReportDir string
	// CheckTimeout bounds porcupine; 0 means 2 minutes.
	CheckTimeout time.Duration
}

// LoadResult is what a load run found.
type LoadResult struct {
	Ops       int
	Elapsed   time.Duration // issuing the operations
	CheckTime time.Duration // porcupine
	Result    porcupine.CheckResult
	// Visualization is the HTML file written for a history that is not
	// linearizable.
	Visualization string
	// Lost lists keys no longer described and ciphertexts that no longer
	// decrypt once every store is connected again.
	Lost []string
}

// loadIn is one operation of the history; Store and Key are target ids.
type loadIn struct {
	Op    model.Op
	Store string
	Type  model.StoreType
	Key   string
	Xks   string // the XksKeyId of an external key store's CreateKey
}

// loadOut is its answer: the code, the state a describe showed, the key a
// CreateKey made.
type loadOut struct {
	Code  string
	State string
	Key   string
}

// loadState is a world of the model with the map from the target's key ids
// to the model's, which CreateKey extends as it is linearized.
type loadState struct {
	w    model.World
	keys map[string]string
	fp   string
}

func newLoadState(w model.World, keys map[string]string) loadState {
	var ks []string
	for t, m := range keys {
		ks = append(ks, t+"="+m)
	}
	slices.Sort(ks)
	return loadState{w: w, keys: keys, fp: w.Fingerprint() + "|" + strings.Join(ks, ",")}
}

// Load runs concurrent clients on shared stores and keys, then checks the
// history for linearizability against the model (one partition per store)
// and that nothing was lost. The target needs a control plane: it must reset
// and hold transitions (targets.Resetter, targets.TransitionHolder), and
// put the backing (to set up the stores and to bring every store back for
// the loss check).
func Load(ctx context.Context, cfg LoadConfig) (LoadResult, error) {
	if cfg.Clients <= 0 {
		cfg.Clients = 16
	}
	if cfg.Ops <= 0 {
		cfg.Ops = 800
	}
	if cfg.MaxTime <= 0 {
		cfg.MaxTime = 30 * time.Second
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 2 * time.Minute
	}
	tgt := cfg.Target
	rs, canReset := tgt.(targets.Resetter)
	ctl, canHold := tgt.(targets.TransitionHolder)
	if !canReset || !canHold {
		return LoadResult{}, errors.New("the load test needs a target with a control plane")
	}
	if err := rs.Reset(ctx); err != nil {
		return LoadResult{}, err
	}
	m := drive.NewMapper("load-", tgt.Backing())
	start := model.NewWorld()
	if err := drive.PutBacking(ctx, tgt, m, start); err != nil {
		return LoadResult{}, err
	}
	// Two shared stores, one of each type, made through the model so that
	// the initial world is the model's own.
	w := start
	type shared struct {
		id  string
		typ model.StoreType
	}
	var stores []shared
	for _, c := range []model.Call{
		{Op: model.OpCreateCustomKeyStore, Create: model.CreateCloudHSMInput("load-cloudhsm", model.ClusterA, model.TrustAnchorA, model.KmsuserPassword)},
		{Op: model.OpCreateCustomKeyStore, Create: model.CreateXksInput("load-xks", model.EndpointA, model.PathV1, model.CredentialA)},
	} {
		outs := model.Step(w, c)
		if len(outs) != 1 || outs[0].Error != model.Success {
			return LoadResult{}, fmt.Errorf("setup: the model does not create %s", c.Create.Name)
		}
		ans, err := m.Invoke(ctx, tgt.KMS(), c, outs[0].StoreID, "")
		if err != nil {
			return LoadResult{}, fmt.Errorf("setup: %w", err)
		}
		w = outs[0].Worlds[0]
		s, _ := w.Store(outs[0].StoreID)
		stores = append(stores, shared{ans.StoreID, s.Type})
	}
	// The model's store ids are the target's, so the history needs no map
	// for stores.
	for i := range w.Stores {
		w.Stores[i].ID = stores[i].id
	}
	// Both stores start CONNECTED with one key each, so the run begins with
	// something to lose.
	initKeys := map[string]string{}
	keys := map[string][]string{} // store → keys made
	for _, s := range stores {
		for _, c := range []model.Call{
			{Op: model.OpConnectCustomKeyStore, StoreID: aws.String(s.id)},
			{Op: model.OpSettle, StoreID: aws.String(s.id)},
			{Op: model.OpCreateKey, StoreID: aws.String(s.id), CreateKey: model.CreateKeyFor(s.typ, model.XksKey1)},
		} {
			outs := model.Step(w, c)
			if len(outs) != 1 || len(outs[0].Worlds) != 1 || outs[0].Error != model.Success {
				return LoadResult{}, fmt.Errorf("setup: %s is not deterministic in the model", c.Op)
			}
			var ans drive.Answer
			var err error
			if c.Op == model.OpSettle {
				err = ctl.Settle(ctx, s.id)
			} else {
				ans, err = m.Invoke(ctx, tgt.KMS(), c, "", "")
			}
			if err != nil {
				return LoadResult{}, fmt.Errorf("setup: %s: %w", c.Op, err)
			}
			if c.Op == model.OpCreateKey {
				initKeys[ans.KeyID] = outs[0].KeyID
				keys[s.id] = append(keys[s.id], ans.KeyID)
			}
			w = outs[0].Worlds[0]
		}
	}
	init := newLoadState(w, initKeys)

	var (
		mu      sync.Mutex
		history []porcupine.Operation
		blobs   = map[string][][]byte{} // key → ciphertexts made
		issued  atomic.Int64
	)
	t0 := time.Now()
	deadline := t0.Add(cfg.MaxTime)
	var wg sync.WaitGroup
	var firstErr error
	for ci := 0; ci < cfg.Clients; ci++ {
		wg.Add(1)
		go func(ci int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(ci)))
			cm := drive.NewMapper("load-", tgt.Backing())
			client := tgt.KMS()
			for issued.Add(1) <= int64(cfg.Ops) && time.Now().Before(deadline) {
				s := stores[rng.IntN(len(stores))]
				mu.Lock()
				ks := slices.Clone(keys[s.id])
				mu.Unlock()
				in := loadIn{Store: s.id, Type: s.typ}
				// Connects outnumber disconnects, so that stores spend time
				// CONNECTED, where keys are made and used.
				ops := []model.Op{model.OpConnectCustomKeyStore, model.OpConnectCustomKeyStore, model.OpConnectCustomKeyStore,
					model.OpDisconnectCustomKeyStore, model.OpDescribeCustomKeyStores, model.OpCreateKey, model.OpCreateKey}
				if len(ks) > 0 {
					ops = append(ops, model.OpEncrypt, model.OpEncrypt, model.OpEncrypt, model.OpDescribeKey, model.OpDescribeKey,
						model.OpEnableKey, model.OpEnableKey, model.OpDisableKey)
				}
				in.Op = ops[rng.IntN(len(ops))]
				if in.Op == model.OpCreateKey && s.typ == model.External {
					in.Xks = []string{model.XksKey1, model.XksKey2}[rng.IntN(2)]
				}
				if isLoadKeyOp(in.Op) {
					in.Key = ks[rng.IntN(len(ks))]
				}
				call := time.Since(t0).Nanoseconds()
				out, blob, err := loadCall(ctx, cm, client, in)
				ret := time.Since(t0).Nanoseconds()
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				history = append(history, porcupine.Operation{ClientId: ci, Input: in, Output: out, Call: call, Return: ret})
				if in.Op == model.OpCreateKey && out.Key != "" {
					keys[s.id] = append(keys[s.id], out.Key)
				}
				if blob != nil {
					blobs[in.Key] = append(blobs[in.Key], blob)
				}
				mu.Unlock()
			}
		}(ci)
	}
	wg.Wait()
	res := LoadResult{Ops: len(history), Elapsed: time.Since(t0)}
	if firstErr != nil {
		return res, firstErr
	}

	pm := loadModel(init)
	cs := time.Now()
	result, info := porcupine.CheckOperationsVerbose(pm, history, cfg.CheckTimeout)
	res.CheckTime, res.Result = time.Since(cs), result
	if result == porcupine.Illegal {
		dir := cfg.ReportDir
		if dir == "" {
			dir = "."
		}
		res.Visualization = filepath.Join(dir, "linearizability.html")
		var b bytes.Buffer
		if err := porcupine.Visualize(pm, info, &b); err == nil {
			if err := os.MkdirAll(dir, 0o755); err == nil {
				_ = os.WriteFile(res.Visualization, b.Bytes(), 0o644)
			}
		}
	}
	lost, err := checkNothingLost(ctx, tgt.KMS(), ctl, stores[0].id, stores[1].id, keys, blobs)
	res.Lost = lost
	return res, err
}

var loadPlaintext = []byte("kmsconform load plaintext")

// loadCall makes one operation. Custom key store operations go through the
// harness's mapper (target ids pass through it unchanged); Encrypt is made
// here, because the history needs the ciphertext for the loss check.
func loadCall(ctx context.Context, m *drive.Mapper, client *kms.Client, in loadIn) (loadOut, []byte, error) {
	var out loadOut
	var blob []byte
	var err error
	switch in.Op {
	case model.OpEncrypt:
		var eo *kms.EncryptOutput
		eo, err = client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(in.Key), Plaintext: loadPlaintext})
		if err == nil {
			blob = eo.CiphertextBlob
		}
	case model.OpCreateKey:
		var a drive.Answer
		a, err = m.Invoke(ctx, client, model.Call{Op: in.Op, StoreID: aws.String(in.Store), CreateKey: model.CreateKeyFor(in.Type, in.Xks)}, "", "")
		out.Key = a.KeyID
	case model.OpDescribeCustomKeyStores:
		var a drive.Answer
		a, err = m.Invoke(ctx, client, model.Call{Op: in.Op, StoreID: aws.String(in.Store)}, "", "")
		if err == nil && len(a.Stores) == 1 {
			out.State = strings.TrimSpace(string(a.Stores[0].ConnectionState) + " " + string(a.Stores[0].ConnectionErrorCode))
		}
	case model.OpDescribeKey:
		var a drive.Answer
		a, err = m.Invoke(ctx, client, model.Call{Op: in.Op, KeyID: in.Key}, "", "")
		if err == nil && a.Key != nil {
			out.State = string(a.Key.KeyState)
		}
	default:
		_, err = m.Invoke(ctx, client, model.Call{Op: in.Op, StoreID: aws.String(in.Store), KeyID: in.Key}, "", "")
	}
	obs := drive.Classify(err)
	out.Code = obs.Code
	if obs.Transport {
		return out, nil, fmt.Errorf("%s: no answer: %s", in.Op, obs.Message)
	}
	return out, blob, nil
}

// loadModel is the model as porcupine sees it: nondeterministic (a
// transition may end at any moment, so every step starts from every world
// in which the transient stores may have settled), partitioned by store.
func loadModel(init loadState) porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
			by := map[string][]porcupine.Operation{}
			var order []string
			for _, op := range h {
				s := op.Input.(loadIn).Store
				if _, ok := by[s]; !ok {
					order = append(order, s)
				}
				by[s] = append(by[s], op)
			}
			var out [][]porcupine.Operation
			for _, s := range order {
				out = append(out, by[s])
			}
			return out
		},
		Init: func() []any { return []any{init} },
		Step: func(state, input, output any) []any {
			st, in, out := state.(loadState), input.(loadIn), output.(loadOut)
			var next []any
			for _, w := range settleClosure([]model.World{st.w}) {
				c := model.Call{Op: in.Op, StoreID: aws.String(in.Store)}
				if in.Key != "" {
					mk, ok := st.keys[in.Key]
					if !ok {
						continue // the key's CreateKey is not linearized yet
					}
					c = model.Call{Op: in.Op, KeyID: mk}
				}
				if in.Op == model.OpCreateKey {
					c.CreateKey = model.CreateKeyFor(in.Type, in.Xks)
				}
				for _, o := range model.Step(w, c) {
					name := string(o.Error)
					if o.Error == model.Success {
						name = drive.SuccessCode
					}
					if name != out.Code {
						continue
					}
					for _, nw := range o.Worlds {
						if !shows(nw, c, in, out) {
							continue
						}
						keys := st.keys
						if in.Op == model.OpCreateKey && out.Key != "" {
							keys = maps(st.keys)
							keys[out.Key] = o.KeyID
						}
						next = append(next, newLoadState(nw, keys))
					}
				}
			}
			return next
		},
		Equal: func(a, b any) bool { return a.(loadState).fp == b.(loadState).fp },
		Hash: func(a any) uint64 {
			h := fnv.New64a()
			h.Write([]byte(a.(loadState).fp))
			return h.Sum64()
		},
		DescribeOperation: func(input, output any) string {
			in, out := input.(loadIn), output.(loadOut)
			s := string(in.Op)
			if in.Key != "" {
				s += " " + shortID(in.Key)
			}
			s += " → " + out.Code
			if out.State != "" {
				s += " " + out.State
			}
			return s
		},
		DescribeState: func(state any) string {
			st := state.(loadState)
			var parts []string
			for _, s := range st.w.Stores {
				parts = append(parts, string(s.Type.Short())+"="+string(s.State))
			}
			for _, k := range st.w.Keys {
				parts = append(parts, shortID(k.ID)+"="+string(k.State))
			}
			return strings.Join(parts, " ")
		},
	}
	return nm.ToModel()
}

// shows reports whether world w shows what a describe observed.
func shows(w model.World, c model.Call, in loadIn, out loadOut) bool {
	switch in.Op {
	case model.OpDescribeCustomKeyStores:
		if out.Code != drive.SuccessCode {
			return true
		}
		s, ok := w.Store(in.Store)
		return ok && strings.TrimSpace(string(s.State)+" "+string(s.ErrorCode)) == out.State
	case model.OpDescribeKey:
		if out.Code != drive.SuccessCode {
			return true
		}
		k, ok := w.Key(c.KeyID)
		return ok && string(w.ShownKeyState(k)) == out.State
	}
	return true
}

func maps(m map[string]string) map[string]string {
	n := make(map[string]string, len(m)+1)
	for k, v := range m {
		n[k] = v
	}
	return n
}

// checkNothingLost connects every store again, enables every key, and
// checks that each key is still described and each ciphertext decrypts.
func checkNothingLost(ctx context.Context, client *kms.Client, ctl targets.TransitionHolder, hsm, xks string, keys map[string][]string, blobs map[string][][]byte) ([]string, error) {
	for _, id := range []string{hsm, xks} {
		if err := ctl.Settle(ctx, id); err != nil {
			return nil, err
		}
		out, err := client.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
		if err != nil || len(out.CustomKeyStores) != 1 {
			return nil, fmt.Errorf("describing store %s: %v", id, err)
		}
		if string(out.CustomKeyStores[0].ConnectionState) != string(model.Connected) {
			if string(out.CustomKeyStores[0].ConnectionState) == string(model.Failed) {
				_, _ = client.DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)})
			}
			if _, err := client.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(id)}); err != nil {
				return nil, fmt.Errorf("reconnecting store %s: %v", id, err)
			}
			if err := ctl.Settle(ctx, id); err != nil {
				return nil, err
			}
		}
	}
	var lost []string
	for _, ks := range keys {
		for _, k := range ks {
			if _, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(k)}); err != nil {
				lost = append(lost, "key "+k+" is no longer described: "+drive.Classify(err).Code)
				continue
			}
			if _, err := client.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(k)}); err != nil {
				lost = append(lost, "key "+k+" cannot be enabled: "+drive.Classify(err).Code)
			}
		}
	}
	for k, bs := range blobs {
		for _, b := range bs {
			out, err := client.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(k), CiphertextBlob: b})
			if err != nil {
				lost = append(lost, "a ciphertext of key "+k+" no longer decrypts: "+drive.Classify(err).Code)
			} else if !bytes.Equal(out.Plaintext, loadPlaintext) {
				lost = append(lost, "a ciphertext of key "+k+" decrypts to something else")
			}
		}
	}
	return lost, nil
}

func isLoadKeyOp(op model.Op) bool {
	switch op {
	case model.OpEncrypt, model.OpDescribeKey, model.OpEnableKey, model.OpDisableKey:
		return true
	}
	return false
}
