package aws

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/kmsconform/kmsconform/targets"
)

// RunTagKey is the tag every key the run creates carries (custom key
// stores take no tags in KMS; their names carry the run's prefix).
const RunTagKey = "kmsconform:run"

// CreateTagKey is the second tag of every key the run creates: its value
// is unique to the CreateKey call, so that a key whose CreateKey answer
// was lost can be told from every other key by its tags.
const CreateTagKey = "kmsconform:create"

// OwnershipError is the refusal of a call on a store, key or alias this
// run did not create (and that exists: a call on an id proven absent is
// allowed, so the NO_SUCH_STORE cells can run).
type OwnershipError struct {
	Op, Kind, ID string
}

func (e *OwnershipError) Error() string {
	return fmt.Sprintf("aws guard: refused %s on %s %s: not created by this run", e.Op, e.Kind, e.ID)
}

// UnprovenError is the refusal of a call the guard cannot prove touches
// only the run's own resources: a Decrypt or ReEncrypt that names no key,
// of a ciphertext this run was not given; a RetireGrant by a grant token
// this run was not given; an operation the guard does not know.
type UnprovenError struct {
	Op, Reason string
}

func (e *UnprovenError) Error() string {
	return fmt.Sprintf("aws guard: refused %s: %s", e.Op, e.Reason)
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

// NameError is the refusal of a store or alias name without the run's
// prefix.
type NameError struct {
	Op, Name, Prefix string
}

func (e *NameError) Error() string {
	if strings.HasPrefix(e.Name, "alias/") || e.Op == "CreateAlias" {
		return fmt.Sprintf("aws guard: refused %s: alias name %q does not start with %q", e.Op, e.Name, "alias/"+e.Prefix)
	}
	return fmt.Sprintf("aws guard: refused %s: store name %q does not start with the run's prefix %q", e.Op, e.Name, e.Prefix)
}

// DefaultSettle is how long after a create whose answer was lost the
// cleanup still looks for what it may have made, when a first look finds
// nothing: KMS may still be acting on a request the client gave up on.
const DefaultSettle = 10 * time.Second

// remembered bounds the ciphertexts and grant tokens a guard remembers.
const remembered = 4096

// Guard keeps a run to what it created. It sits in the KMS client as an
// SDK middleware, so every call — the suites', the planner's and the
// cleanup's — goes through it before anything is sent: a call naming a
// store, key or alias is refused unless this run created it (or KMS says
// it does not exist), a Decrypt or ReEncrypt that names no key is refused
// unless the ciphertext is one this run was given, a create is refused
// past the limits, and every call but reads is refused once the time
// budget is spent (except the cleanup's). What the guard cannot prove is
// the run's own, it refuses.
//
// With a ledger (StartLedger) every create is written to disk before it
// is sent and replaced by its id when KMS answers, so a crash at any
// point leaves a file the cleanup can finish from.
type Guard struct {
	limits targets.Limits
	now    func() time.Time

	fileMu sync.Mutex // orders the ledger's writes

	mu           sync.Mutex
	prefix       string
	deadline     time.Time
	cleaning     bool
	client       *kms.Client
	settle       time.Duration
	stores       map[string]bool // created by this run → still live
	storeNames   map[string]string
	keys         map[string]bool // created by this run (ids) → pending deletion
	keyArns      map[string]string
	keyStores    map[string]string
	singleRegion map[string]bool    // keys KMS said are not multi-Region
	aliases      map[string]bool    // created by this run → still live
	intents      map[string]*Intent // creates sent, answer not (yet) known
	absent       map[string]bool    // store and key ids KMS said do not exist
	blobs        *memo              // ciphertexts this run was given
	grants       *memo              // grant tokens this run was given
	keysCreated  int
	refusals     []string
	ledgerPath   string
	meta         LedgerMeta
	ledgerErr    error
}

// NewGuard returns a guard with these limits; the time budget starts now.
// prefix is what every store name must start with.
func NewGuard(limits targets.Limits, prefix string, now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}
	return &Guard{limits: limits, now: now, prefix: prefix, deadline: now().Add(limits.TimeBudget), settle: DefaultSettle,
		stores: map[string]bool{}, storeNames: map[string]string{}, keys: map[string]bool{}, keyArns: map[string]string{},
		keyStores: map[string]string{}, singleRegion: map[string]bool{}, aliases: map[string]bool{}, intents: map[string]*Intent{},
		absent: map[string]bool{}, blobs: newMemo(remembered), grants: newMemo(remembered)}
}

// SetPrefix narrows the prefix store names must start with (a harness's
// per-run prefix).
func (g *Guard) SetPrefix(p string) { g.mu.Lock(); g.prefix = p; g.mu.Unlock() }

// Prefix returns the prefix store names must start with.
func (g *Guard) Prefix() string { g.mu.Lock(); defer g.mu.Unlock(); return g.prefix }

// SetSettle sets how long the cleanup keeps looking for what a create
// whose answer was lost may have made (DefaultSettle).
func (g *Guard) SetSettle(d time.Duration) { g.mu.Lock(); g.settle = d; g.mu.Unlock() }

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
		keys = append(keys, id)
	}
	sort.Strings(stores)
	sort.Strings(keys)
	return stores, keys
}

// Pending returns the creates whose outcome the guard does not know.
func (g *Guard) Pending() []Intent {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []Intent
	for _, in := range g.intents {
		out = append(out, *in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Sent.Before(out[j].Sent) })
	return out
}

// readOnly reports whether an operation only reads: those are never
// refused (they touch nothing, and the cleanup needs them).
func readOnly(op string) bool {
	return strings.HasPrefix(op, "Describe") || strings.HasPrefix(op, "List")
}

// knownOps are the KMS operations beyond the reads that the guard knows
// the inputs of: an operation it does not know (one a later SDK adds) is
// refused, since the guard cannot tell what it touches.
var knownOps = map[string]bool{}

func init() {
	for _, op := range strings.Fields(`CancelKeyDeletion ConnectCustomKeyStore CreateAlias CreateCustomKeyStore
		CreateGrant CreateKey Decapsulate Decrypt DeleteAlias DeleteCustomKeyStore DeleteImportedKeyMaterial
		DeriveSharedSecret DisableKey DisableKeyRotation DisconnectCustomKeyStore EnableKey EnableKeyRotation
		Encapsulate Encrypt GenerateDataKey GenerateDataKeyPair GenerateDataKeyPairWithoutPlaintext
		GenerateDataKeyWithoutPlaintext GenerateMac GenerateRandom GetKeyLastUsage GetKeyPolicy
		GetKeyRotationStatus GetParametersForImport GetPublicKey ImportKeyMaterial PutKeyPolicy ReEncrypt
		ReplicateKey RetireGrant RevokeGrant RotateKeyOnDemand ScheduleKeyDeletion Sign TagResource
		UntagResource UpdateAlias UpdateCustomKeyStore UpdateKeyDescription UpdatePrimaryRegion Verify VerifyMac`) {
		knownOps[op] = true
	}
}

// idFields are the input members that name a store or a key (an alias
// name or ARN in a key member is a key named by its alias).
var idFields = []struct{ field, kind string }{
	{"CustomKeyStoreId", "store"}, {"KeyId", "key"}, {"SourceKeyId", "key"}, {"DestinationKeyId", "key"}, {"TargetKeyId", "key"},
}

func (g *Guard) handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	op := awsmiddleware.GetOperationName(ctx)
	if readOnly(op) {
		return next.HandleInitialize(ctx, in)
	}
	refuse := func(err error) (middleware.InitializeOutput, middleware.Metadata, error) {
		g.mu.Lock()
		g.refusals = append(g.refusals, err.Error())
		g.mu.Unlock()
		return middleware.InitializeOutput{}, middleware.Metadata{}, err
	}
	if err := g.check(ctx, op, in.Parameters); err != nil {
		return refuse(err)
	}
	intent := g.intentFor(in.Parameters)
	if intent != nil {
		if err := ctx.Err(); err != nil {
			// Not sent: nothing to look for later.
			return middleware.InitializeOutput{}, middleware.Metadata{}, err
		}
		if err := g.begin(intent, in.Parameters); err != nil {
			return refuse(fmt.Errorf("aws guard: refused %s: %w", op, err))
		}
	}
	out, md, err := next.HandleInitialize(ctx, in)
	switch {
	case err == nil:
		g.record(op, in.Parameters, out.Result, intent)
	case intent != nil:
		g.lost(intent, err)
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
	if !knownOps[op] {
		return &UnprovenError{Op: op, Reason: "the guard does not know what this operation touches"}
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
		if g.keysMade() >= g.limits.MaxKeys {
			return &LimitError{Op: op, Limit: fmt.Sprintf("max_keys (%d)", g.limits.MaxKeys)}
		}
	case *kms.CreateAliasInput:
		if cleaning {
			return &LimitError{Op: op, Limit: "the cleanup (it creates nothing)"}
		}
		if name := aws.ToString(in.AliasName); !strings.HasPrefix(name, "alias/"+prefix) {
			return &NameError{Op: op, Name: name, Prefix: prefix}
		}
	case *kms.UpdateAliasInput:
		return g.checkOwned(ctx, op, "alias", aws.ToString(in.AliasName))
	case *kms.DeleteAliasInput:
		return g.checkOwned(ctx, op, "alias", aws.ToString(in.AliasName))
	case *kms.DecryptInput:
		return g.checkCiphertext(op, in.KeyId, in.CiphertextBlob)
	case *kms.ReEncryptInput:
		return g.checkCiphertext(op, in.SourceKeyId, in.CiphertextBlob)
	case *kms.RetireGrantInput:
		switch {
		case aws.ToString(in.GrantToken) != "":
			if !g.grants.has([]byte(*in.GrantToken)) {
				return &UnprovenError{Op: op, Reason: "the grant token is not one this run was given (by CreateGrant)"}
			}
		case aws.ToString(in.KeyId) == "":
			return &UnprovenError{Op: op, Reason: "neither a grant token this run was given nor a key of this run names the grant"}
		}
	case *kms.ReplicateKeyInput:
		id := keyIDOf(aws.ToString(in.KeyId))
		g.mu.Lock()
		_, own := g.keys[id]
		single := g.singleRegion[id]
		g.mu.Unlock()
		if own && !single {
			return &UnprovenError{Op: op, Reason: "key " + id + " may be multi-Region, and a replica in another Region is beyond the ledger and the cleanup"}
		}
	}
	return nil
}

// checkCiphertext allows a Decrypt or ReEncrypt that names its key (the
// key member was checked: the run's own, or proven absent) or whose
// ciphertext this run was given. A ciphertext names its key inside, in a
// format AWS does not document: parsing it would prove nothing, so the
// guard remembers the ciphertexts it saw instead.
func (g *Guard) checkCiphertext(op string, keyID *string, blob []byte) error {
	if aws.ToString(keyID) != "" || len(blob) == 0 || g.blobs.has(blob) {
		return nil
	}
	member := "KeyId"
	if op == "ReEncrypt" {
		member = "SourceKeyId"
	}
	return &UnprovenError{Op: op, Reason: "no " + member + ", and the ciphertext is not one this run was given " +
		"(by Encrypt, GenerateDataKey* or ReEncrypt): it may be another's, whose plaintext the run must not see; name the key to use it"}
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
	// A create whose answer is unknown may have made a store: it counts.
	for _, in := range g.intents {
		if in.Op == "CreateCustomKeyStore" {
			n++
		}
	}
	return n
}

// keysMade counts the keys created and those a create of unknown outcome
// may have made.
func (g *Guard) keysMade() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.keysCreated
	for _, in := range g.intents {
		if in.Op == "CreateKey" {
			n++
		}
	}
	return n
}

// checkOwned allows a store, key or alias this run created, or one KMS
// says does not exist; it refuses anything else.
func (g *Guard) checkOwned(ctx context.Context, op, kind, id string) error {
	g.mu.Lock()
	owned := g.ownsLocked(kind, id)
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
	if kind != "alias" {
		// Store and key ids are made by KMS and never reused; an alias
		// name absent now may be someone's later.
		g.mu.Lock()
		g.absent[id] = true
		g.mu.Unlock()
	}
	return nil
}

func (g *Guard) ownsLocked(kind, id string) bool {
	switch kind {
	case "store":
		return g.stores[id]
	case "alias":
		return g.aliases[id]
	}
	if _, ok := g.keys[id]; ok {
		return true
	}
	if name := aliasName(id); name != "" {
		// An alias of the run's names a key of the run: the guard lets
		// no alias of the run point elsewhere.
		return g.aliases[name]
	}
	// An ARN of an owned key.
	if i := strings.LastIndex(id, ":key/"); i >= 0 {
		_, ok := g.keys[id[i+len(":key/"):]]
		return ok
	}
	return false
}

// aliasName is the alias name of an alias name or alias ARN, else "".
func aliasName(id string) string {
	if strings.HasPrefix(id, "alias/") {
		return id
	}
	if i := strings.LastIndex(id, ":alias/"); i >= 0 && strings.HasPrefix(id, "arn:") {
		return id[i+1:]
	}
	return ""
}

// provenAbsent asks KMS (a read) whether the id names nothing.
func (g *Guard) provenAbsent(ctx context.Context, c *kms.Client, kind, id string) (bool, error) {
	var err error
	if kind == "store" {
		_, err = c.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
	} else {
		// An alias name is a KeyId DescribeKey resolves.
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

// intentFor is the intent of a create that can make something (nil for
// any other call): written to the ledger before the create is sent.
func (g *Guard) intentFor(params any) *Intent {
	var in *Intent
	switch p := params.(type) {
	case *kms.CreateCustomKeyStoreInput:
		if aws.ToString(p.CustomKeyStoreName) == "" {
			return nil // refused by KMS before anything (see check)
		}
		in = &Intent{Op: "CreateCustomKeyStore", Name: *p.CustomKeyStoreName}
	case *kms.CreateKeyInput:
		origin := string(p.Origin)
		if origin == "" {
			origin = string(types.OriginTypeAwsKms)
		}
		in = &Intent{Op: "CreateKey", Store: aws.ToString(p.CustomKeyStoreId), Origin: origin}
	case *kms.CreateAliasInput:
		in = &Intent{Op: "CreateAlias", Name: aws.ToString(p.AliasName)}
	default:
		return nil
	}
	in.ID = nonce()
	in.Sent = time.Now().UTC()
	return in
}

// begin writes the intent down before its create is sent, and tags a
// CreateKey with the run and the intent. A create that cannot be written
// down is not sent.
func (g *Guard) begin(in *Intent, params any) error {
	g.mu.Lock()
	prefix := g.prefix
	g.intents[in.ID] = in
	g.mu.Unlock()
	if p, ok := params.(*kms.CreateKeyInput); ok {
		// Tag the key with the run, so that a person looking at the
		// account sees where it came from, and with the create, so that
		// the cleanup can find it if the answer is lost. The tags are
		// added to the caller's input; a tag list the caller sent is kept
		// (but for earlier tags of these keys: an input sent twice).
		tags := p.Tags[:0:0]
		for _, t := range p.Tags {
			if k := aws.ToString(t.TagKey); k != RunTagKey && k != CreateTagKey {
				tags = append(tags, t)
			}
		}
		p.Tags = append(tags, types.Tag{TagKey: aws.String(RunTagKey), TagValue: aws.String(strings.TrimSuffix(prefix, "-"))},
			types.Tag{TagKey: aws.String(CreateTagKey), TagValue: aws.String(in.ID)})
	}
	if err := g.persist(); err != nil {
		g.mu.Lock()
		delete(g.intents, in.ID)
		g.mu.Unlock()
		return err
	}
	return nil
}

// lost settles the intent of a create that failed. A client error KMS
// answered (4xx) made nothing, and neither does an input the SDK refused
// for a missing required member (drive may send it on its raw path, where
// KMS refuses it with ValidationException before acting, as it does a
// store without a name: see check), so the intent goes. Anything else — a
// cancelled or timed-out call, a cut connection, a server error, an
// answer that could not be read — may have made something, so the intent
// stays in the ledger, for the cleanup to look up.
func (g *Guard) lost(in *Intent, err error) {
	var re *awshttp.ResponseError
	var ip smithy.InvalidParamsError
	g.mu.Lock()
	if errors.As(err, &re) && re.HTTPStatusCode() >= 400 && re.HTTPStatusCode() < 500 || errors.As(err, &ip) {
		delete(g.intents, in.ID)
	} else {
		in.Lost = errText(err)
	}
	g.mu.Unlock()
	_ = g.persist()
}

// record notes what a successful call created, deleted or was given.
func (g *Guard) record(op string, params, result any, in *Intent) {
	g.mu.Lock()
	changed := in != nil
	if in != nil {
		delete(g.intents, in.ID)
	}
	switch out := result.(type) {
	case *kms.CreateCustomKeyStoreOutput:
		// The run's prefix is unique, so even CloudHSM's idempotent
		// create (which returns an existing identical store) can only
		// return a store of this run.
		if id := aws.ToString(out.CustomKeyStoreId); id != "" {
			g.stores[id] = true
			if p, ok := params.(*kms.CreateCustomKeyStoreInput); ok {
				g.storeNames[id] = aws.ToString(p.CustomKeyStoreName)
			}
		}
	case *kms.UpdateCustomKeyStoreOutput:
		if p, ok := params.(*kms.UpdateCustomKeyStoreInput); ok && p.NewCustomKeyStoreName != nil {
			if _, ours := g.stores[aws.ToString(p.CustomKeyStoreId)]; ours {
				g.storeNames[aws.ToString(p.CustomKeyStoreId)] = *p.NewCustomKeyStoreName
				changed = true
			}
		}
	case *kms.DeleteCustomKeyStoreOutput:
		if p, ok := params.(*kms.DeleteCustomKeyStoreInput); ok {
			if _, ours := g.stores[aws.ToString(p.CustomKeyStoreId)]; ours {
				g.stores[aws.ToString(p.CustomKeyStoreId)] = false
				changed = true
			}
		}
	case *kms.CreateKeyOutput:
		if out.KeyMetadata != nil {
			g.adoptKeyLocked(out.KeyMetadata)
			g.keysCreated++
		}
	case *kms.ScheduleKeyDeletionOutput:
		if id := keyIDOf(aws.ToString(out.KeyId)); id != "" {
			if _, ours := g.keys[id]; ours {
				g.keys[id] = true
				changed = true
			}
		}
	case *kms.CancelKeyDeletionOutput:
		if id := keyIDOf(aws.ToString(out.KeyId)); id != "" {
			if _, ours := g.keys[id]; ours {
				g.keys[id] = false
				changed = true
			}
		}
	case *kms.CreateAliasOutput:
		if p, ok := params.(*kms.CreateAliasInput); ok {
			g.aliases[aws.ToString(p.AliasName)] = true
		}
	case *kms.DeleteAliasOutput:
		if p, ok := params.(*kms.DeleteAliasInput); ok {
			if _, ours := g.aliases[aws.ToString(p.AliasName)]; ours {
				g.aliases[aws.ToString(p.AliasName)] = false
				changed = true
			}
		}
	case *kms.CreateGrantOutput:
		if out.GrantToken != nil {
			g.grants.add([]byte(*out.GrantToken))
		}
	case *kms.EncryptOutput:
		g.blobs.add(out.CiphertextBlob)
	case *kms.GenerateDataKeyOutput:
		g.blobs.add(out.CiphertextBlob)
	case *kms.GenerateDataKeyWithoutPlaintextOutput:
		g.blobs.add(out.CiphertextBlob)
	case *kms.GenerateDataKeyPairOutput:
		g.blobs.add(out.PrivateKeyCiphertextBlob)
	case *kms.GenerateDataKeyPairWithoutPlaintextOutput:
		g.blobs.add(out.PrivateKeyCiphertextBlob)
	case *kms.ReEncryptOutput:
		g.blobs.add(out.CiphertextBlob)
	}
	g.mu.Unlock()
	if changed {
		_ = g.persist()
	}
}

// adoptKeyLocked makes a key the run's (g.mu held).
func (g *Guard) adoptKeyLocked(md *types.KeyMetadata) {
	id := aws.ToString(md.KeyId)
	if id == "" {
		return
	}
	g.keys[id] = md.KeyState == types.KeyStatePendingDeletion
	if arn := aws.ToString(md.Arn); arn != "" {
		g.keyArns[id] = arn
	}
	if s := aws.ToString(md.CustomKeyStoreId); s != "" {
		g.keyStores[id] = s
	}
	if md.MultiRegion != nil && !*md.MultiRegion {
		g.singleRegion[id] = true
	}
}

// keyIDOf is the key id of a key id or key ARN.
func keyIDOf(s string) string {
	if i := strings.LastIndex(s, ":key/"); i >= 0 {
		return s[i+len(":key/"):]
	}
	return s
}

func nonce() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// memo is a bounded set of byte strings, kept as digests; the oldest go
// first when it is full.
type memo struct {
	mu    sync.Mutex
	max   int
	set   map[[32]byte]bool
	order [][32]byte
}

func newMemo(max int) *memo { return &memo{max: max, set: map[[32]byte]bool{}} }

func (m *memo) add(b []byte) {
	if len(b) == 0 {
		return
	}
	d := sha256.Sum256(b)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.set[d] {
		return
	}
	if len(m.order) >= m.max {
		delete(m.set, m.order[0])
		m.order = m.order[1:]
	}
	m.set[d] = true
	m.order = append(m.order, d)
}

func (m *memo) has(b []byte) bool {
	d := sha256.Sum256(b)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.set[d]
}
