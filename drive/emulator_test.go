package drive

import (
	"context"
	"testing"

	m "github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/targets"
	"github.com/kmsconform/kmsconform/targets/emulator"
)

// TestSecretNotCachedByAccessKeyID replays what the validation suite found:
// the emulator's XKS client signed with a key the SDK's signer had cached by
// access key id alone, so a store whose credential shared the id but not the
// secret was accepted (and the right secret refused after a wrong one).
func TestSecretNotCachedByAccessKeyID(t *testing.T) {
	ctx := context.Background()
	cfg, _ := targets.LoadConfig(FindConfig())
	tg, err := emulator.NewTarget(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close(ctx)
	h := New(tg, 1)
	bad := m.CreateXksInput("kmsconform-fresh", m.EndpointB, m.PathV1, m.Credential{AccessKeyID: m.CredentialA.AccessKeyID, Secret: "ssssssssssssssssssssssssssssssssssssssssssss"})
	c1, _ := m.BuildCell("one", m.External, m.NoSuchStore, "v", nil, m.Call{Op: m.OpCreateCustomKeyStore, Create: bad})
	c2, _ := m.BuildCell("two", m.External, m.NoSuchStore, "v", nil, m.Call{Op: m.OpCreateCustomKeyStore, Create: m.CreateXksInput("kmsconform-fresh", m.EndpointB, m.PathV1, m.CredentialA)})
	for _, c := range []m.Cell{c2, c1, c2} {
		if r := h.RunCell(ctx, c); r.Verdict != "pass" {
			t.Errorf("%s: %s, answered %s: %s", c.ID, r.Verdict, r.Observed, r.Evidence.Detail)
		}
	}
}
