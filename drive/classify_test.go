package drive

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/targets"
)

func respErr(status int, err error) error {
	return &smithy.OperationError{ServiceID: "KMS", OperationName: "X", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err},
		RequestID:     "req-1"}}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		code    string
		notImpl bool
		transp  bool
	}{
		{"success", nil, SuccessCode, false, false},
		{"typed KMS error", respErr(400, &types.CustomKeyStoreInvalidStateException{Message: stringp("no")}), "CustomKeyStoreInvalidStateException", false, false},
		{"real UnsupportedOperationException", respErr(400, &types.UnsupportedOperationException{}), "UnsupportedOperationException", false, false},
		{"LocalStack 501", respErr(501, &smithy.GenericAPIError{Code: "InternalFailure"}), "InternalFailure", true, false},
		{"floci", respErr(400, &smithy.GenericAPIError{Code: "UnsupportedOperation"}), "UnsupportedOperation", true, false},
		{"cloudemu", respErr(400, &smithy.GenericAPIError{Code: "UnknownOperationException"}), "UnknownOperationException", true, false},
		{"moto HTML 500", respErr(500, &smithy.GenericAPIError{Code: "UnknownError"}), "UnknownError", true, false},
		{"KMSInternal is a KMS answer", respErr(500, &types.KMSInternalException{}), "KMSInternalException", false, false},
		{"local-kms plain text", respErr(501, &smithy.DeserializationError{Err: errors.New("bad json")}), "", true, false},
		{"connection refused", &smithy.OperationError{Err: errors.New("dial tcp 127.0.0.1:1: connect: connection refused")}, "", false, true},
		{"an unreadable 400", respErr(400, &smithy.DeserializationError{Err: errors.New("bad json")}), "", false, true},
	} {
		o := Classify(tc.err)
		if o.Code != tc.code || o.NotImplemented != tc.notImpl || o.Transport != tc.transp {
			t.Errorf("%s: got %+v", tc.name, o)
		}
	}
}

func stringp(s string) *string { return &s }

func TestMapperNamesAndSecrets(t *testing.T) {
	m := NewMapper("kmsconform-abc-p1-c1-", targets.Backing{ClusterID: "cluster-realrealreal", KmsuserPassword: "realPassword1"})
	if got := m.Name(model.SubjectStoreName); got != "kmsconform-abc-p1-c1-"+model.SubjectStoreName {
		t.Errorf("Name: %q", got)
	}
	long := strings.Repeat("n", 256)
	if got := m.Name(long); len(got) != 256 || !strings.HasPrefix(got, m.Prefix()) {
		t.Errorf("a 256-character name became %d characters", len(got))
	}
	if got := m.Name("x"); got != "x" {
		t.Errorf("a boundary name changed: %q", got)
	}
	if m.v(model.ClusterA) != "cluster-realrealreal" || m.v(model.ClusterB) != model.ClusterB {
		t.Error("backing substitution")
	}
	if got := m.redact("password realPassword1 and " + model.CredentialB.Secret); strings.Contains(got, "realPassword1") || strings.Contains(got, model.CredentialB.Secret) {
		t.Errorf("redact left a secret: %q", got)
	}
}
