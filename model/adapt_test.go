package model

import (
	"slices"
	"testing"
)

func cellByID(t *testing.T, id string) Cell {
	t.Helper()
	for _, c := range Cells() {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no cell %s", id)
	return Cell{}
}

func errorsOf(outs []Outcome) []Exception {
	var es []Exception
	for _, o := range outs {
		es = append(es, o.Error)
	}
	slices.Sort(es)
	return es
}

func TestAdaptCellOnOneBacking(t *testing.T) {
	one := PlanOptions{OneBacking: true}
	// The credential update is sent with the store's own credential: the
	// state rule still decides.
	for _, col := range []ConnectionState{Connected, Disconnected, Connecting} {
		c := cellByID(t, "EXTERNAL_KEY_STORE/"+string(col)+"/UpdateCustomKeyStore/xks-credential")
		a, note := AdaptCell(c, one)
		if note == "" || *a.Call.Update.Credential != CredentialA {
			t.Fatalf("%s: not adapted (%q)", c.ID, note)
		}
		for _, r := range a.Route {
			if r.Op.IsEnv() && r.Op != OpSettle {
				t.Errorf("%s: the adapted route still changes the proxy: %s", c.ID, r.Op)
			}
		}
		if got, want := errorsOf(a.Expected), errorsOf(c.Expected); !slices.Equal(got, want) {
			t.Errorf("%s: expected %v, want %v as with a new credential", c.ID, got, want)
		}
		if _, note := AdaptCell(c, PlanOptions{OneBacking: true, BackingControl: true}); note != "" {
			t.Errorf("%s: adapted although the run controls the proxy", c.ID)
		}
	}
	// The duplicate name on the subject's own backing: both checks may
	// answer, never the idempotent re-create.
	for id, want := range map[string][]Exception{
		"AWS_CLOUDHSM/DISCONNECTED/CreateCustomKeyStore/duplicate-name":        {ErrCloudHsmClusterInUse, ErrCustomKeyStoreNameInUse},
		"AWS_CLOUDHSM/FAILED/CreateCustomKeyStore/duplicate-name":              {ErrCloudHsmClusterInUse, ErrCustomKeyStoreNameInUse},
		"EXTERNAL_KEY_STORE/CONNECTED/CreateCustomKeyStore/duplicate-name":     {ErrCustomKeyStoreNameInUse, ErrXksProxyUriInUse},
		"EXTERNAL_KEY_STORE/DISCONNECTING/CreateCustomKeyStore/duplicate-name": {ErrCustomKeyStoreNameInUse, ErrXksProxyUriInUse},
	} {
		c := cellByID(t, id)
		a, note := AdaptCell(c, one)
		if note == "" {
			t.Fatalf("%s: not adapted", id)
		}
		slices.Sort(want)
		if got := errorsOf(a.Expected); !slices.Equal(got, want) {
			t.Errorf("%s: expected %v, want %v", id, got, want)
		}
		if _, note := AdaptCell(c, PlanOptions{OneBacking: true, SecondBacking: true}); note != "" {
			t.Errorf("%s: adapted although the run has a second backing", id)
		}
	}
	// A create that must collide with nothing keeps its call, and so stays
	// out of reach.
	c := cellByID(t, "AWS_CLOUDHSM/CONNECTED/CreateCustomKeyStore/fresh")
	if _, note := AdaptCell(c, one); note != "" {
		t.Errorf("%s adapted: %s", c.ID, note)
	}
	// In the no-such-store column the fresh create uses the first backing,
	// which no store holds there.
	c = cellByID(t, "AWS_CLOUDHSM/NO_SUCH_STORE/CreateCustomKeyStore/fresh")
	if *c.Call.Create.ClusterID != ClusterA || !slices.Equal(errorsOf(c.Expected), []Exception{Success}) {
		t.Errorf("%s: %v on %s", c.ID, errorsOf(c.Expected), *c.Call.Create.ClusterID)
	}
}
