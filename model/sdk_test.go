package model_test

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/kmsconform/kmsconform/model"
)

// The model must not import the SDK, but its wire names must be the SDK's:
// these tests pin the vocabulary to service/kms.

func sortedStrings[T ~string](vs []T) string {
	ss := make([]string, len(vs))
	for i, v := range vs {
		ss[i] = string(v)
	}
	sort.Strings(ss)
	return strings.Join(ss, ",")
}

func TestVocabularyMatchesSDK(t *testing.T) {
	var codes []model.ConnectionErrorCode
	for c := range model.ConnectionErrorCodes {
		codes = append(codes, c)
	}
	for _, tc := range []struct{ name, model, sdk string }{
		{"ConnectionErrorCode", sortedStrings(codes), sortedStrings(types.ConnectionErrorCodeType("").Values())},
		{"ConnectionState", sortedStrings(model.ConnectionStates), sortedStrings(types.ConnectionStateType("").Values())},
		{"CustomKeyStoreType", sortedStrings(model.StoreTypes), sortedStrings(types.CustomKeyStoreType("").Values())},
		{"XksProxyConnectivity", sortedStrings([]model.XksConnectivity{model.PublicEndpoint, model.VpcEndpointService}),
			sortedStrings(types.XksProxyConnectivityType("").Values())},
		{"KeyState", sortedStrings(model.KeyStates), sortedStrings(types.KeyState("").Values())},
		{"Origin", sortedStrings([]model.Origin{model.OriginAwsKms, model.OriginExternal, model.OriginAwsCloudHSM, model.OriginExternalKeyStore}),
			sortedStrings(types.OriginType("").Values())},
	} {
		if tc.model != tc.sdk {
			t.Errorf("%s: model has %s, SDK has %s", tc.name, tc.model, tc.sdk)
		}
	}
	if n := len(codes); n != 18 {
		t.Errorf("%d ConnectionErrorCodes, want 18", n)
	}
}

// sdkErrors are the SDK's modeled exceptions the model names.
var sdkErrors = []smithy.APIError{
	&types.CloudHsmClusterInUseException{}, &types.CloudHsmClusterInvalidConfigurationException{},
	&types.CloudHsmClusterNotActiveException{}, &types.CloudHsmClusterNotFoundException{},
	&types.CloudHsmClusterNotRelatedException{}, &types.CustomKeyStoreHasCMKsException{},
	&types.CustomKeyStoreInvalidStateException{}, &types.CustomKeyStoreNameInUseException{},
	&types.CustomKeyStoreNotFoundException{}, &types.IncorrectTrustAnchorException{},
	&types.XksKeyAlreadyInUseException{}, &types.XksKeyInvalidConfigurationException{}, &types.XksKeyNotFoundException{},
	&types.XksProxyIncorrectAuthenticationCredentialException{}, &types.XksProxyInvalidConfigurationException{},
	&types.XksProxyInvalidResponseException{}, &types.XksProxyUriEndpointInUseException{}, &types.XksProxyUriInUseException{},
	&types.XksProxyUriUnreachableException{}, &types.XksProxyVpcEndpointServiceInUseException{},
	&types.XksProxyVpcEndpointServiceInvalidConfigurationException{}, &types.XksProxyVpcEndpointServiceNotFoundException{},
	&types.LimitExceededException{}, &types.KMSInternalException{}, &types.KMSInvalidStateException{},
	&types.DisabledException{}, &types.NotFoundException{}, &types.UnsupportedOperationException{},
	&types.InvalidMarkerException{}, &types.DependencyTimeoutException{},
}

// TestExceptionsMatchSDK: every exception an outcome of the model names is a
// modeled SDK exception, or one of the unmodeled ones real KMS sends.
func TestExceptionsMatchSDK(t *testing.T) {
	known := map[model.Exception]bool{model.ErrValidation: true, "UnknownOperationException": true, model.Success: true}
	for _, e := range sdkErrors {
		known[model.Exception(e.ErrorCode())] = true
	}
	for _, c := range model.Cells() {
		for _, o := range c.Expected {
			if !known[o.Error] {
				t.Errorf("%s: %q is not a KMS exception", c.ID, o.Error)
			}
		}
	}
}

// TestOperationsMatchSDK: every non-environment operation is a method of the
// SDK client.
func TestOperationsMatchSDK(t *testing.T) {
	client := reflect.TypeOf(&kms.Client{})
	for _, c := range model.Cells() {
		if _, ok := client.MethodByName(string(c.Op)); !ok {
			t.Errorf("%s: the SDK client has no %s", c.ID, c.Op)
		}
	}
}
