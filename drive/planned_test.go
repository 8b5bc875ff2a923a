package drive

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	m "github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/targets"
	"github.com/kmsconform/kmsconform/targets/emulator"
)

func emulatorTarget(t *testing.T) *emulator.Target {
	t.Helper()
	ctx := context.Background()
	cfg, err := targets.LoadConfig(FindConfig())
	if err != nil {
		t.Fatal(err)
	}
	tg, err := emulator.NewTarget(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Close(ctx) })
	return tg
}

// TestPlannedRunOnTheEmulator follows both planned walks on the embedded
// emulator: every cell of the type ends in exactly one result, every cell
// the walk covers passes (the emulator conforms), and the others are
// unreachable with the planner's reason.
func TestPlannedRunOnTheEmulator(t *testing.T) {
	tg := emulatorTarget(t)
	h := New(tg, 1)
	for _, st := range m.StoreTypes {
		run := h.RunPlanned(context.Background(), st)
		plan := m.PlanFor(st, PlanOptionsFor(tg, st))
		if run.Stopped != "" {
			t.Fatalf("%s: stopped %q after %d re-plans", st, run.Stopped, run.Replans)
		}
		// Where the model allows several answers the emulator may give
		// another than the one the plan followed: that is a re-plan, not
		// a failure.
		t.Logf("%s: %d transitions (planned %d+%d), %d re-plans", st, run.Transitions, plan.Transitions, plan.TeardownTransitions, run.Replans)
		seen := map[string]bool{}
		for _, c := range run.Cells {
			if seen[c.Cell.ID] {
				t.Fatalf("%s twice", c.Cell.ID)
			}
			seen[c.Cell.ID] = true
			_, excluded := plan.Excluded[c.Cell.ID]
			switch {
			case excluded && c.Verdict != Unreachable:
				t.Errorf("%s: excluded but %s", c.Cell.ID, c.Verdict)
			case !excluded && c.Verdict != Pass:
				t.Errorf("%s: %s, answered %s: %s", c.Cell.ID, c.Verdict, c.Observed, c.Evidence.Detail)
			}
		}
		n := 0
		for _, c := range m.Cells() {
			if c.StoreType == st {
				n++
			}
		}
		if len(seen) != n {
			t.Fatalf("%s: %d results for %d cells", st, len(seen), n)
		}
	}
}

// divergent is the emulator with one defect injected into its client: the
// first DisconnectCustomKeyStore of a CONNECTED store is answered with
// CustomKeyStoreInvalidStateException without reaching the emulator. It
// embeds the emulator target itself, whose capabilities it keeps.
type divergent struct {
	*emulator.Target
	client *kms.Client
	hits   atomic.Int32
}

func (d *divergent) KMS() *kms.Client { return d.client }

func newDivergent(t *testing.T) *divergent {
	base := emulatorTarget(t)
	d := &divergent{Target: base}
	d.client = kms.New(base.KMS().Options(), func(o *kms.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("divergent", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if awsmiddleware.GetOperationName(ctx) == "DisconnectCustomKeyStore" {
					id := aws.ToString(in.Parameters.(*kms.DisconnectCustomKeyStoreInput).CustomKeyStoreId)
					out, err := base.KMS().DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
					if err == nil && len(out.CustomKeyStores) == 1 && out.CustomKeyStores[0].ConnectionState == "CONNECTED" && d.hits.Add(1) == 1 {
						return middleware.InitializeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: "CustomKeyStoreInvalidStateException", Message: "injected"}
					}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
		})
	})
	return d
}

// TestPlannedRunReplansOnDivergence: the target refuses a disconnect the
// model allows; the run records the cell as failed, re-observes the store
// (still CONNECTED), re-plans, and still checks every other cell.
func TestPlannedRunReplansOnDivergence(t *testing.T) {
	d := newDivergent(t)
	h := New(d, 1)
	run := h.RunPlanned(context.Background(), m.External)
	if run.Stopped != "" || run.Replans < 1 || d.hits.Load() < 1 {
		t.Fatalf("stopped %q, %d re-plans, %d injections", run.Stopped, run.Replans, d.hits.Load())
	}
	failed := 0
	for _, c := range run.Cells {
		switch c.Verdict {
		case Pass, Unreachable:
		case Fail:
			failed++
			if c.Cell.ID != "EXTERNAL_KEY_STORE/CONNECTED/DisconnectCustomKeyStore" || !strings.Contains(c.Evidence.Detail, "CustomKeyStoreInvalidStateException") {
				t.Errorf("%s failed: %s", c.Cell.ID, c.Evidence.Detail)
			}
		default:
			t.Errorf("%s: %s: %s", c.Cell.ID, c.Verdict, c.Evidence.Detail)
		}
	}
	if failed != 1 {
		t.Fatalf("%d cells failed", failed)
	}
	plan := m.PlanFor(m.External, PlanOptionsFor(d, m.External))
	if len(run.Cells) != len(plan.Covered)+len(plan.Excluded) {
		t.Fatalf("%d results for %d cells", len(run.Cells), len(plan.Covered)+len(plan.Excluded))
	}
}
