package drive

import (
	"context"
	"strings"
	"testing"

	m "github.com/kmsconform/kmsconform/model"
)

// TestFieldChecksCatchWrongFields runs the cells that read a store's entry,
// a key's metadata and an answer's raw body against the emulator and
// against a mutant that gets one of them wrong: the first pass, the second
// fail on it.
func TestFieldChecksCatchWrongFields(t *testing.T) {
	ctx := context.Background()
	cells := map[string]m.Cell{}
	for _, c := range m.Cells() {
		cells[c.ID] = c
	}
	for _, tc := range []struct {
		mutant, cell, want string
	}{
		{"creation-date-is-now", "EXTERNAL_KEY_STORE/CONNECTED/DescribeCustomKeyStores/by-id", "CreationDate changed"},
		{"creation-date-is-now", "AWS_CLOUDHSM/DISCONNECTED/DescribeCustomKeyStores/by-name", "CreationDate changed"},
		{"deletion-date-on-disabled-keys", "AWS_CLOUDHSM/CONNECTED/DisableKey", "DeletionDate"},
		{"connect-answers-a-body", "EXTERNAL_KEY_STORE/DISCONNECTED/ConnectCustomKeyStore", "a JSON object with no properties"},
		{"describe-leaks-kmsuser-password", "AWS_CLOUDHSM/DISCONNECTED/DescribeCustomKeyStores/by-id", "carries a secret"},
		{"encrypt-answers-key-id", "AWS_CLOUDHSM/CONNECTED/Encrypt", "not the key ARN"},
	} {
		c, ok := cells[tc.cell]
		if !ok {
			t.Fatalf("no cell %s", tc.cell)
		}
		for _, mutant := range []string{"", tc.mutant} {
			tg, err := Open(ctx, Spec{Mutant: mutant})
			if err != nil {
				t.Fatal(err)
			}
			r := New(tg, 1).RunCell(ctx, c)
			_ = tg.Close(ctx)
			switch {
			case mutant == "" && r.Verdict != Pass:
				t.Errorf("%s: %s: %s", c.ID, r.Verdict, r.Evidence.Detail)
			case mutant != "" && (r.Verdict != Fail || !strings.Contains(r.Evidence.Detail, tc.want)):
				t.Errorf("%s against %s: %s (%s), want a fail naming %q", c.ID, mutant, r.Verdict, r.Evidence.Detail, tc.want)
			}
		}
	}
}
