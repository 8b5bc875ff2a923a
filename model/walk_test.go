package model

import (
	"testing"
)

// walkStart is the world the exhaustive walk starts from: two stores of each
// type, all DISCONNECTED, with a healthy backing.
func walkStart() World {
	w := NewWorld()
	w = w.AddStore(CloudHSMStore(StoreIDFor(w.NextStore), "hsm-a", ClusterA, TrustAnchorA))
	w = w.AddStore(CloudHSMStore(StoreIDFor(w.NextStore), "hsm-b", ClusterB, TrustAnchorB))
	w = w.AddStore(XksStore(StoreIDFor(w.NextStore), "xks-a", EndpointA))
	w = w.AddStore(XksStore(StoreIDFor(w.NextStore), "xks-b", EndpointB))
	return w
}

func checkStep(w World, c Call, outs []Outcome) error {
	if err := CheckOutcomes(w, c, outs); err != nil {
		return err
	}
	for _, o := range outs {
		for _, n := range o.Worlds {
			if identical(n, w) {
				continue
			}
			if err := CheckWorld(n); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestExhaustiveWalk(t *testing.T) {
	depth := 6
	if testing.Short() {
		depth = 4
	}
	st, err := Walk(walkStart(), depth, Calls, checkStep)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exhaustive walk: depth %d, %d worlds, %d transitions, %d calls", st.Depth, st.Worlds, st.Transitions, st.Calls)
	if st.Depth != depth {
		t.Errorf("walk stopped at depth %d", st.Depth)
	}
}
