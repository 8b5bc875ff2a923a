package emulator

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

// CreateKey's enumerations are the SDK's (service/kms types/enums.go):
// every value of each is accepted by validation, a value outside is a
// ValidationException whose enum value set is exactly the SDK's — so the
// KeyUsage of ML-KEM keys is ENCAPSULATE_DECAPSULATE, never "KEM".
func TestCreateKeyEnumerationsAreTheSDKs(t *testing.T) {
	e := newEnv(t, Options{})
	strs := func(vs any) []string {
		var out []string
		switch vs := vs.(type) {
		case []types.KeyUsageType:
			for _, v := range vs {
				out = append(out, string(v))
			}
		case []types.KeySpec:
			for _, v := range vs {
				out = append(out, string(v))
			}
		case []types.CustomerMasterKeySpec:
			for _, v := range vs {
				out = append(out, string(v))
			}
		case []types.OriginType:
			for _, v := range vs {
				out = append(out, string(v))
			}
		}
		return out
	}
	for _, tc := range []struct {
		member string // the wire name
		values []string
		in     func(v string) *kms.CreateKeyInput
	}{
		{"keyUsage", strs(types.KeyUsageType("").Values()), func(v string) *kms.CreateKeyInput {
			return &kms.CreateKeyInput{KeyUsage: types.KeyUsageType(v)}
		}},
		{"keySpec", strs(types.KeySpec("").Values()), func(v string) *kms.CreateKeyInput {
			return &kms.CreateKeyInput{KeySpec: types.KeySpec(v)}
		}},
		{"customerMasterKeySpec", strs(types.CustomerMasterKeySpec("").Values()), func(v string) *kms.CreateKeyInput {
			return &kms.CreateKeyInput{CustomerMasterKeySpec: types.CustomerMasterKeySpec(v)}
		}},
		{"origin", strs(types.OriginType("").Values()), func(v string) *kms.CreateKeyInput {
			return &kms.CreateKeyInput{Origin: types.OriginType(v)}
		}},
	} {
		for _, v := range tc.values {
			_, err := e.kms.CreateKey(e.ctx, tc.in(v))
			if code := errCode(err); code == "ValidationException" && strings.Contains(err.Error(), "'"+tc.member+"'") {
				t.Errorf("%s %s, a value of the SDK's enumeration, is refused: %v", tc.member, v, err)
			}
		}
		_, err := e.kms.CreateKey(e.ctx, tc.in("KEM"))
		wantCode(t, err, "ValidationException")
		want := fmt.Sprintf("1 validation error detected: Value 'KEM' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]",
			tc.member, strings.Join(tc.values, ", "))
		wantMessage(t, err, want)
	}
	// No key the emulator makes says otherwise.
	k := must[*kms.CreateKeyOutput](t)(e.kms.CreateKey(e.ctx, &kms.CreateKeyInput{Description: aws.String("usage")}))
	if !slices.Contains(types.KeyUsageType("").Values(), k.KeyMetadata.KeyUsage) || k.KeyMetadata.KeyUsage != types.KeyUsageTypeEncryptDecrypt {
		t.Fatalf("KeyUsage %q", k.KeyMetadata.KeyUsage)
	}
}

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
