package all_test

import (
	"encoding/json"
	"os"
	"slices"
	"sort"
	"testing"

	m "github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/suites/scenarios"
	"github.com/kmsconform/kmsconform/suites/validation"
)

// anyOperation holds the exceptions outside the custom key store behaviour
// for every operation that lists them, with the reason.
var anyOperation = map[string]string{
	"KMSInternalException":       "a fault inside AWS: no request causes it (allowed where the model says a backing failure may show as one)",
	"DependencyTimeoutException": "a service-side timeout: no request causes it (allowed where the model says a backing failure may show as one)",
	"DryRunOperationException":   "DryRun checks permissions; the suite never sends it",
	"InvalidGrantTokenException": "grant tokens are outside the custom key store behaviour; the suite never sends one",
	"InvalidArnException":        "the suite names keys by the ids the target returned; ARN syntax is outside the custom key store behaviour",
	"InvalidKeyUsageException": "a key in a custom key store is always SYMMETRIC_DEFAULT for ENCRYPT_DECRYPT (spec §2.7), " +
		"so no key the suite can make has another usage",
	"KeyUnavailableException":          "no source ties it to custom key stores (spec §5, U): KMS names KMSInvalidStateException for an unusable store's keys",
	"MalformedPolicyDocumentException": "key policies are outside the custom key store behaviour; the suite sends none",
	"TagException":                     "tags are outside the custom key store behaviour; the suite sends none",
}

// outOfScope holds the (operation, exception) pairs outside the custom key
// store behaviour for the one operation, with the reason.
var outOfScope = map[[2]string]string{
	{"CreateKey", "LimitExceededException"}:         "the per-account key quota (thousands of keys); only the custom key store quota is modelled",
	{"EnableKey", "LimitExceededException"}:         "the per-account quota of enabled keys; only the custom key store quota is modelled",
	{"ReplicateKey", "LimitExceededException"}:      "a key in a custom key store cannot be multi-Region: ReplicateKey is UnsupportedOperationException (spec §2.10)",
	{"ReplicateKey", "AlreadyExistsException"}:      "a key in a custom key store cannot be multi-Region: ReplicateKey is UnsupportedOperationException (spec §2.10)",
	{"RotateKeyOnDemand", "LimitExceededException"}: "keys in custom key stores do not rotate (spec §2.10): no on-demand rotation counts",
	{"RotateKeyOnDemand", "ConflictException"}:      "keys in custom key stores do not rotate (spec §2.10): no rotation is ever in progress",
	{"ImportKeyMaterial", "ExpiredImportTokenException"}: "import needs a key of EXTERNAL origin, which no custom key store holds " +
		"(the import operations answer UnsupportedOperationException, spec §2.10)",
	{"ImportKeyMaterial", "IncorrectKeyMaterialException"}: "import needs a key of EXTERNAL origin, which no custom key store holds",
	{"ImportKeyMaterial", "InvalidImportTokenException"}:   "import needs a key of EXTERNAL origin, which no custom key store holds",
	{"ImportKeyMaterial", "InvalidCiphertextException"}:    "import needs a key of EXTERNAL origin, which no custom key store holds",
	{"Decrypt", "IncorrectKeyException"}:                   "the suite decrypts only ciphertexts made under the key it names: ciphertext contents are outside the model",
	{"ReEncrypt", "IncorrectKeyException"}:                 "the suite re-encrypts only ciphertexts made under the key it names: ciphertext contents are outside the model",
	{"ReEncrypt", "InvalidCiphertextException"}:            "the suite re-encrypts only ciphertexts made under the key it names: ciphertext contents are outside the model",
	{"Decrypt", "NotFoundException"}: "Decrypt finds its key in the ciphertext; no ciphertext of a key that does not exist can be made, " +
		"and with a made-up one which check comes first is not documented",
	{"ReEncrypt", "NotFoundException"}: "ReEncrypt finds its source key in the ciphertext; no ciphertext of a key that does not exist can be made, " +
		"and with a made-up one which check comes first is not documented",
}

// asserted returns, per operation, the exceptions some check of the suites
// allows: a matrix or validation cell's expected outcomes, or a step of a
// scenario, followed through every world the model allows.
func asserted() map[m.Op]map[string]string {
	got := map[m.Op]map[string]string{}
	note := func(op m.Op, e m.Exception, where string) {
		if got[op] == nil {
			got[op] = map[string]string{}
		}
		if _, ok := got[op][string(e)]; !ok {
			got[op][string(e)] = where
		}
	}
	for _, c := range append(m.Cells(), validation.Cells()...) {
		for _, o := range c.Expected {
			note(c.Call.Op, o.Error, c.ID)
		}
	}
	for _, s := range scenarios.Scenarios() {
		ws := []m.World{m.NewWorld()}
		for _, c := range s.Steps {
			var next []m.World
			for _, w := range ws {
				for _, o := range m.Step(w, c) {
					if !c.Op.IsEnv() {
						note(c.Op, o.Error, s.Name)
					}
					next = append(next, o.Worlds...)
				}
			}
			ws = m.Distinct(next)
		}
	}
	return got
}

// TestEveryDocumentedExceptionIsAsserted lists, for every operation the
// suites call, the exceptions of its documented error list in the AWS model
// extract, and fails on one that no cell or scenario asserts unless it is
// marked out of scope above with the reason; and on an out-of-scope mark
// that is stale (the pair is asserted, or is not in the extract).
func TestEveryDocumentedExceptionIsAsserted(t *testing.T) {
	raw, err := os.ReadFile("../../model/testdata/aws-kms-operations.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Operations map[string]struct {
			Errors []string `json:"errors"`
		} `json:"operations"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	got := asserted()
	var ops []string
	for op := range got {
		if _, ok := doc.Operations[string(op)]; ok {
			ops = append(ops, string(op))
		}
	}
	sort.Strings(ops)
	pairs, covered, scoped := 0, 0, 0
	for _, op := range ops {
		for _, e := range doc.Operations[op].Errors {
			pairs++
			_, isAsserted := got[m.Op(op)][e]
			_, pairOut := outOfScope[[2]string{op, e}]
			_, anyOut := anyOperation[e]
			switch {
			case isAsserted && pairOut:
				t.Errorf("%s %s is asserted (%s) but marked out of scope: drop the mark", op, e, got[m.Op(op)][e])
			case isAsserted:
				covered++
			case pairOut || anyOut:
				scoped++
			default:
				t.Errorf("%s may answer %s (its documented errors list it), but no cell or scenario asserts it: add one, or mark it out of scope with the reason", op, e)
			}
		}
	}
	for p := range outOfScope {
		if !slices.Contains(doc.Operations[p[0]].Errors, p[1]) {
			t.Errorf("out-of-scope mark %s %s: not a documented error of the operation", p[0], p[1])
		}
	}
	t.Logf("%d (operation, exception) pairs over %d operations: %d asserted, %d out of scope with a reason", pairs, len(ops), covered, scoped)
}
