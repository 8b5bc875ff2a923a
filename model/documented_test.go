package model

import (
	"encoding/json"
	"os"
	"slices"
	"sort"
	"testing"
)

// awsModel is the extract of the AWS-authored KMS API model the suite is
// pinned to (testdata/aws-kms-operations.json; its _provenance names the
// botocore release it comes from).
type awsModel struct {
	Operations map[string]struct {
		Errors []string `json:"errors"`
	} `json:"operations"`
}

func loadAWSModel(t *testing.T) awsModel {
	t.Helper()
	b, err := os.ReadFile("testdata/aws-kms-operations.json")
	if err != nil {
		t.Fatal(err)
	}
	var m awsModel
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// anyOperation are the exceptions AWS returns for any operation, outside
// the operations' modelled error lists.
var anyOperation = []Exception{ErrValidation}

// TestOnlyDocumentedExceptions pins every exception the model allows for an
// operation to that operation's documented error list: the cells' expected
// outcomes and every call of a walk from two stores of each type.
func TestOnlyDocumentedExceptions(t *testing.T) {
	aws := loadAWSModel(t)
	seen := map[Op]map[Exception]string{}
	note := func(c Call, outs []Outcome, where string) {
		for _, o := range outs {
			if o.Error == Success || c.Op.IsEnv() {
				continue
			}
			if seen[c.Op] == nil {
				seen[c.Op] = map[Exception]string{}
			}
			if _, ok := seen[c.Op][o.Error]; !ok {
				seen[c.Op][o.Error] = where
			}
		}
	}
	for _, c := range Cells() {
		note(c.Call, c.Expected, c.ID)
	}
	// Every operation on a key, the subject key of each cell that has one
	// as it is, disabled and pending deletion; CreateKey in each connected
	// external key store behind each proxy fault.
	keyOps := append(append([]Op{OpDescribeKey, OpEnableKey, OpDisableKey, OpScheduleKeyDeletion, OpCancelKeyDeletion},
		CryptoOps...), UnsupportedKeyOps...)
	faults := []ProxyFault{ProxyHealthy, ProxyUnreachable, ProxySlow, ProxyTLSInvalid, ProxyDenyAll, ProxyThrottling,
		ProxyInternal, ProxyDepTimeout, ProxyMalformed, ProxyEKMUnavailable, ProxyEKMDegraded, ProxyBadHealthAnswer, ProxyNetworkError, ProxyKMSInternalError}
	for _, c := range Cells() {
		if _, ok := c.Setup.Key(SubjectKeyID); ok {
			for _, prep := range []Op{"", OpDisableKey, OpScheduleKeyDeletion} {
				w := c.Setup
				if prep != "" {
					w = Step(w, Call{Op: prep, KeyID: SubjectKeyID, PendingWindowDays: Ptr(7)})[0].Worlds[0]
				}
				for _, op := range keyOps {
					call := Call{Op: op, KeyID: SubjectKeyID, PendingWindowDays: Ptr(7)}
					note(call, Step(w, call), c.ID+" after "+string(prep))
				}
			}
		}
		if s, ok := c.Setup.Store(SubjectStoreID); ok && s.Type == External && s.State == Connected {
			for _, f := range faults {
				p := HealthyProxy(s.Endpoint)
				p.Fault = f
				w := Step(c.Setup, Call{Op: OpSetProxy, Proxy: &p})[0].Worlds[0]
				call := Call{Op: OpCreateKey, StoreID: Ptr(SubjectStoreID), CreateKey: CreateKeyFor(External, XksKey2)}
				note(call, Step(w, call), c.ID+" behind a proxy "+string(f))
			}
		}
	}
	depth := 4
	if testing.Short() {
		depth = 3
	}
	if _, err := Walk(walkStart(), depth, Calls, func(w World, c Call, outs []Outcome) error {
		note(c, outs, "a walk's call")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for op := range seen {
		ops = append(ops, string(op))
	}
	sort.Strings(ops)
	for _, op := range ops {
		doc, ok := aws.Operations[op]
		if !ok {
			t.Errorf("%s: not an operation of the AWS model", op)
			continue
		}
		for e, where := range seen[Op(op)] {
			if !slices.Contains(doc.Errors, string(e)) && !slices.Contains(anyOperation, e) {
				t.Errorf("%s may answer %s (%s), which its documented errors do not list", op, e, where)
			}
		}
	}
}
