package model

import (
	"fmt"
	"testing"
)

// BenchmarkStep measures one Step on a cell's world, for a few kinds of call.
func BenchmarkStep(b *testing.B) {
	pick := map[string]string{
		"describe":      "EXTERNAL_KEY_STORE/CONNECTED/DescribeCustomKeyStores/by-id",
		"connect":       "AWS_CLOUDHSM/DISCONNECTED/ConnectCustomKeyStore",
		"create-xks":    "EXTERNAL_KEY_STORE/CONNECTED/CreateCustomKeyStore/fresh",
		"create-key":    "EXTERNAL_KEY_STORE/CONNECTED/CreateKey",
		"encrypt":       "EXTERNAL_KEY_STORE/CONNECTED/Encrypt",
		"update-failed": "EXTERNAL_KEY_STORE/FAILED/UpdateCustomKeyStore/xks-credential",
		"over-quota":    "AWS_CLOUDHSM/CONNECTED/CreateCustomKeyStore/over-quota",
	}
	byID := map[string]Cell{}
	for _, c := range Cells() {
		byID[c.ID] = c
	}
	for _, name := range []string{"describe", "connect", "create-xks", "create-key", "encrypt", "update-failed", "over-quota"} {
		c, ok := byID[pick[name]]
		if !ok {
			b.Fatalf("no cell %s", pick[name])
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Step(c.Setup, c.Call)
			}
		})
	}
	b.Run("all-cells", func(b *testing.B) {
		cs := Cells()
		b.ReportAllocs()
		for b.Loop() {
			for _, c := range cs {
				Step(c.Setup, c.Call)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cs)), "ns/step")
	})
}

// BenchmarkWalk measures the exhaustive walk of TestExhaustiveWalk.
func BenchmarkWalk(b *testing.B) {
	for _, depth := range []int{4, 6} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			var st WalkStats
			for b.Loop() {
				var err error
				st, err = Walk(walkStart(), depth, Calls, checkStep)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(st.Worlds), "worlds")
			b.ReportMetric(float64(st.Transitions), "transitions")
			b.ReportMetric(float64(st.Transitions)/b.Elapsed().Seconds()*float64(b.N), "transitions/s")
		})
	}
}
