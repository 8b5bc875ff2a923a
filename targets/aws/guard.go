package aws

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/kmsconform/kmsconform/targets"
)

// RunTagKey is the tag every key the run creates carries (custom key
// stores take no tags in KMS; their names carry the run's prefix).
const RunTagKey = "kmsconform:run"

// OwnershipError is the refusal of a call on a store or key this run did
// not create (and that exists: a call on an id proven absent is allowed,
// so the NO_SUCH_STORE cells can run).
type OwnershipError struct {
	Op, Kind, ID string
}

func (e *OwnershipError) Error() string {
	return fmt.Sprintf("aws guard: refused %s on %s %s: not created by this run", e.Op, e.Kind, e.ID)
}

// LimitError is the refusal of a call that would pass a limit of
// targets.aws.limits; the run stops and cleans up.
type LimitError struct {
	Op, Limit string
}

// GuardLimit marks the error for runners that do not import this package:
// a limit ends the run, cleanly.
func (e *LimitError) GuardLimit() bool { return true }

func (e *LimitError) Error() string {
	return fmt.Sprintf("aws guard: refused %s: %s reached", e.Op, e.Limit)
}

// NameError is the refusal of a store name without the run's prefix.
type NameError struct {
	Op, Name, Prefix string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("aws guard: refused %s: store name %q does not start with the run's prefix %q", e.Op, e.Name, e.Prefix)
}

// Guard keeps a run to what it created. It sits in the KMS client as an
// SDK middleware, so every call — the suites', the planner's and the
// cleanup's — goes through it before anything is sent: a call naming a
// store or key is refused unless this run created it (or KMS says it does
// not exist), a create is refused past the limits, and every call but
// reads is refused once the time budget is spent (except the cleanup's).
type Guard struct {
	limits targets.Limits
	now    func() time.Time

	mu          sync.Mutex
	prefix      string
	deadline    time.Time
	cleaning    bool
	client      *kms.Client
	stores      map[string]bool // created by this run → still live
	keys        map[string]bool // created by this run (ids and ARNs) → pending deletion
	keyArns     map[string]string
	absent      map[string]bool // ids KMS said do not exist
	keysCreated int
	refusals    []string
}

// NewGuard returns a guard with these limits; the time budget starts now.
// prefix is what every store name must start with.
func NewGuard(limits targets.Limits, prefix string, now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}
	return &Guard{limits: limits, now: now, prefix: prefix, deadline: now().Add(limits.TimeBudget),
		stores: map[string]bool{}, keys: map[string]bool{}, keyArns: map[string]string{}, absent: map[string]bool{}}
}

// SetPrefix narrows the prefix store names must start with (a harness's
// per-run prefix).
func (g *Guard) SetPrefix(p string) { g.mu.Lock(); g.prefix = p; g.mu.Unlock() }

// Prefix returns the prefix store names must start with.
func (g *Guard) Prefix() string { g.mu.Lock(); defer g.mu.Unlock(); return g.prefix }

// Install adds the guard to a client's options (kms.New(o, g.Install));
// then Attach that client, so the guard can prove an id absent.
func (g *Guard) Install(o *kms.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("kmsconform-guard", g.handle), middleware.Before)
	})
}

// Attach gives the guard the client it proves ids absent with (the client
// it was installed in: its reads are not guarded).
func (g *Guard) Attach(c *kms.Client) { g.mu.Lock(); g.client = c; g.mu.Unlock() }

// Refusals lists the calls refused so far, one line each.
func (g *Guard) Refusals() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.refusals...)
}

// Owned returns the live stores and the keys (ids) this run created.
func (g *Guard) Owned() (stores, keys []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for id, live := range g.stores {
		if live {
			stores = append(stores, id)
		}
	}
	for id := range g.keys {
		if !strings.HasPrefix(id, "arn:") {
			keys = append(keys, id)
		}
	}
	sort.Strings(stores)
	sort.Strings(keys)
	return stores, keys
}

// readOnly reports whether an operation only reads: those are never
// refused (they touch nothing, and the cleanup needs them).
func readOnly(op string) bool {
	return strings.HasPrefix(op, "Describe") || strings.HasPrefix(op, "List")
}

// idFields are the input members that name a store or a key.
var idFields = []struct{ field, kind string }{
	{"CustomKeyStoreId", "store"}, {"KeyId", "key"}, {"SourceKeyId", "key"}, {"DestinationKeyId", "key"},
}

func (g *Guard) handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	op := awsmiddleware.GetOperationName(ctx)
	if readOnly(op) {
		return next.HandleInitialize(ctx, in)
	}
	if err := g.check(ctx, op, in.Parameters); err != nil {
		g.mu.Lock()
		g.refusals = append(g.refusals, err.Error())
		g.mu.Unlock()
		return middleware.InitializeOutput{}, middleware.Metadata{}, err
	}
	out, md, err := next.HandleInitialize(ctx, in)
	if err == nil {
		g.record(op, in.Parameters, out.Result)
	}
	return out, md, err
}

func (g *Guard) check(ctx context.Context, op string, params any) error {
	g.mu.Lock()
	cleaning, deadline, prefix := g.cleaning, g.deadline, g.prefix
	g.mu.Unlock()
	if !cleaning && g.now().After(deadline) {
		return &LimitError{Op: op, Limit: fmt.Sprintf("the time budget (%s)", g.limits.TimeBudget)}
	}
	v := reflect.ValueOf(params)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		for _, f := range idFields {
			fv := v.FieldByName(f.field)
			if !fv.IsValid() || fv.Kind() != reflect.Pointer || fv.IsNil() || fv.Elem().Kind() != reflect.String {
				continue
			}
			if err := g.checkOwned(ctx, op, f.kind, fv.Elem().String()); err != nil {
				return err
			}
		}
	}
	switch in := params.(type) {
	case *kms.CreateCustomKeyStoreInput:
		if cleaning {
			return &LimitError{Op: op, Limit: "the cleanup (it creates nothing)"}
		}
		if aws.ToString(in.CustomKeyStoreName) == "" {
			// No name (or an empty one) breaks a constraint of the member
			// KMS checks before anything else: the request is answered
			// ValidationException and creates nothing, so neither the
			// prefix nor the store limit concerns it (the validation cell
			// of a missing CustomKeyStoreName sends exactly this).
			return nil
		}
		if name := aws.ToString(in.CustomKeyStoreName); !strings.HasPrefix(name, prefix) {
			return &NameError{Op: op, Name: name, Prefix: prefix}
		}
		if g.liveStores() >= g.limits.MaxStores {
			return &LimitError{Op: op, Limit: fmt.Sprintf("max_live_stores (%d)", g.limits.MaxStores)}
		}
	case *kms.UpdateCustomKeyStoreInput:
		if name := in.NewCustomKeyStoreName; name != nil && !strings.HasPrefix(*name, prefix) {
			return &NameError{Op: op, Name: *name, Prefix: prefix}
		}
	case *kms.CreateKeyInput:
		if cleaning {
			return &LimitError{Op: op, Limit: "the cleanup (it creates nothing)"}
		}
		g.mu.Lock()
		n := g.keysCreated
		g.mu.Unlock()
		if n >= g.limits.MaxKeys {
			return &LimitError{Op: op, Limit: fmt.Sprintf("max_keys (%d)", g.limits.MaxKeys)}
		}
		// Tag the key with the run, so that a person looking at the
		// account sees where it came from. The tag is added to the
		// caller's input; a tag list the caller sent is kept.
		in.Tags = append(in.Tags, types.Tag{TagKey: aws.String(RunTagKey), TagValue: aws.String(strings.TrimSuffix(prefix, "-"))})
	}
	return nil
}

func (g *Guard) liveStores() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, live := range g.stores {
		if live {
			n++
		}
	}
	return n
}

// checkOwned allows a store or key this run created, or one KMS says does
// not exist; it refuses anything else.
func (g *Guard) checkOwned(ctx context.Context, op, kind, id string) error {
	g.mu.Lock()
	owned := kind == "store" && g.stores[id] || kind == "key" && g.ownsKeyLocked(id)
	known, absent := g.absent[id]
	client := g.client
	g.mu.Unlock()
	if owned || known && absent {
		return nil
	}
	if client == nil {
		return &OwnershipError{Op: op, Kind: kind, ID: id}
	}
	gone, err := g.provenAbsent(ctx, client, kind, id)
	if err != nil {
		return fmt.Errorf("aws guard: could not check who owns %s %s before %s: %w", kind, id, op, err)
	}
	if !gone {
		return &OwnershipError{Op: op, Kind: kind, ID: id}
	}
	g.mu.Lock()
	g.absent[id] = true
	g.mu.Unlock()
	return nil
}

func (g *Guard) ownsKeyLocked(id string) bool {
	if _, ok := g.keys[id]; ok {
		return true
	}
	// An ARN of an owned key.
	if i := strings.LastIndex(id, ":key/"); i >= 0 {
		_, ok := g.keys[id[i+len(":key/"):]]
		return ok
	}
	return false
}

// provenAbsent asks KMS (a read) whether the id names nothing.
func (g *Guard) provenAbsent(ctx context.Context, c *kms.Client, kind, id string) (bool, error) {
	var err error
	if kind == "store" {
		_, err = c.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
	} else {
		_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	}
	if err == nil {
		return false, nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "CustomKeyStoreNotFoundException", "NotFoundException":
			return true, nil
		case "ValidationException", "InvalidArnException":
			// Not a well-formed id: it cannot name anything, and KMS will
			// refuse the call itself.
			return true, nil
		}
	}
	return false, err
}

// record notes what a successful call created or deleted.
func (g *Guard) record(op string, params, result any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch out := result.(type) {
	case *kms.CreateCustomKeyStoreOutput:
		// The run's prefix is unique, so even CloudHSM's idempotent
		// create (which returns an existing identical store) can only
		// return a store of this run.
		if id := aws.ToString(out.CustomKeyStoreId); id != "" {
			g.stores[id] = true
		}
	case *kms.DeleteCustomKeyStoreOutput:
		if in, ok := params.(*kms.DeleteCustomKeyStoreInput); ok {
			if _, ours := g.stores[aws.ToString(in.CustomKeyStoreId)]; ours {
				g.stores[aws.ToString(in.CustomKeyStoreId)] = false
			}
		}
	case *kms.CreateKeyOutput:
		if out.KeyMetadata != nil {
			id := aws.ToString(out.KeyMetadata.KeyId)
			g.keys[id] = false
			g.keyArns[id] = aws.ToString(out.KeyMetadata.Arn)
			g.keysCreated++
		}
	case *kms.ScheduleKeyDeletionOutput:
		if id := keyIDOf(aws.ToString(out.KeyId)); id != "" {
			if _, ours := g.keys[id]; ours {
				g.keys[id] = true
			}
		}
	case *kms.CancelKeyDeletionOutput:
		if id := keyIDOf(aws.ToString(out.KeyId)); id != "" {
			if _, ours := g.keys[id]; ours {
				g.keys[id] = false
			}
		}
	}
}

// keyIDOf is the key id of a key id or key ARN.
func keyIDOf(s string) string {
	if i := strings.LastIndex(s, ":key/"); i >= 0 {
		return s[i+len(":key/"):]
	}
	return s
}
