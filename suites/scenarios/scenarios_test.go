package scenarios

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsconform/kmsconform/drive"
	m "github.com/kmsconform/kmsconform/model"
)

// TestEveryConnectionErrorCodeIsAsserted fails when a ConnectionErrorCode
// of the SDK has, for a store type it applies to, no scenario whose settle
// step the model lets end only FAILED with that code.
func TestEveryConnectionErrorCodeIsAsserted(t *testing.T) {
	asserted := map[drive.CodeCheck][]string{}
	for _, s := range Scenarios() {
		for _, cc := range s.AssertedCodes() {
			asserted[cc] = append(asserted[cc], s.Name)
		}
	}
	for _, v := range types.ConnectionErrorCodeType("").Values() {
		code := m.ConnectionErrorCode(v)
		scope, known := m.ConnectionErrorCodes[code]
		if !known {
			t.Errorf("%s: the model does not know this code", code)
			continue
		}
		for _, typ := range m.StoreTypes {
			if (typ == m.CloudHSM && !scope.CloudHSM) || (typ == m.External && !scope.External) {
				continue
			}
			names := asserted[drive.CodeCheck{Type: typ, Code: code}]
			if len(names) == 0 {
				t.Errorf("%s for %s: no scenario asserts it", code, typ.Short())
				continue
			}
			t.Logf("%s for %s: %v", code, typ.Short(), names)
		}
	}
}
