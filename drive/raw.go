package drive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The raw awsJson1_1 path sends what the Go SDK refuses to send: an input
// without a member the SDK's model marks required (its validators answer
// smithy.InvalidParamsError and send nothing). AWS answers such a request
// ValidationException, and a conformance suite has to see that a target
// does too. Everything but the refusal is the SDK's: the request goes to
// the endpoint the client resolves, with its credentials, region and HTTP
// client, signed SigV4 for "kms"; the answer comes back as the same error
// types the SDK returns (an *awshttp.ResponseError around a smithy.APIError,
// or a *smithy.DeserializationError), so Classify reads both alike.

// sdk makes an SDK call and, when the SDK refuses its input on the client,
// sends the same input on the raw path. Every middleware of the client
// (the aws target's guard included) has run before the refusal.
func sdk[In, Out any](ctx context.Context, client *kms.Client, in *In,
	call func(context.Context, *In, ...func(*kms.Options)) (*Out, error), opts ...func(*kms.Options)) (*Out, error) {
	out, err := call(ctx, in, opts...)
	var ip smithy.InvalidParamsError
	if err == nil || !errors.As(err, &ip) {
		return out, err
	}
	op := strings.TrimSuffix(reflect.TypeOf(in).Elem().Name(), "Input")
	out = new(Out)
	if err := Raw(ctx, client, op, wireBody(in), out); err != nil {
		return nil, err
	}
	return out, nil
}

// Raw POSTs body (an awsJson1_1 input document) as TrentService.<op> to the
// endpoint client is configured for, and decodes a 200 answer into out
// (nil to discard it) with encoding/json: member names match the SDK's
// output fields, but epoch timestamps do not decode into time.Time, so out
// must not hold one that the answer sets. An error answer is returned as
// the SDK returns one.
func Raw(ctx context.Context, client *kms.Client, op string, body []byte, out any) error {
	o := client.Options()
	wrap := func(err error) error { return &smithy.OperationError{ServiceID: "KMS", OperationName: op, Err: err} }
	url, err := rawEndpoint(ctx, o)
	if err != nil {
		return wrap(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return wrap(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	if o.Credentials == nil {
		return wrap(errors.New("raw call: the client has no credentials"))
	}
	creds, err := o.Credentials.Retrieve(ctx)
	if err != nil {
		return wrap(fmt.Errorf("raw call: credentials: %w", err))
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "kms", o.Region, time.Now().UTC()); err != nil {
		return wrap(fmt.Errorf("raw call: signing: %w", err))
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		// As the SDK: a transport error, no status.
		return wrap(&smithyhttp.RequestSendError{Err: err})
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if sink := bodySink(ctx); sink != nil && err == nil {
		*sink = append((*sink)[:0], data[:min(len(data), maxBody)]...)
	}
	respErr := func(e error) error {
		return wrap(&awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: resp}, Err: e},
			RequestID:     resp.Header.Get("X-Amzn-RequestId"),
		})
	}
	if err != nil {
		return respErr(&smithy.DeserializationError{Err: fmt.Errorf("reading the answer: %w", err)})
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return respErr(rawAPIError(resp.Header, data))
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return respErr(&smithy.DeserializationError{Err: err})
		}
	}
	return nil
}

// rawEndpoint is the URL the client's endpoint resolver gives: the
// target's BaseEndpoint, or for real KMS the regional endpoint.
func rawEndpoint(ctx context.Context, o kms.Options) (string, error) {
	if o.EndpointResolverV2 == nil {
		if o.BaseEndpoint != nil {
			return *o.BaseEndpoint, nil
		}
		return "", errors.New("raw call: the client has no endpoint resolver")
	}
	p := kms.EndpointParameters{Region: aws.String(o.Region), Endpoint: o.BaseEndpoint,
		UseFIPS:      aws.Bool(o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
		UseDualStack: aws.Bool(o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled)}
	ep, err := o.EndpointResolverV2.ResolveEndpoint(ctx, p)
	if err != nil {
		return "", fmt.Errorf("raw call: resolving the endpoint: %w", err)
	}
	return ep.URI.String(), nil
}

// rawAPIError reads an awsJson1_1 error the way the SDK does: the
// X-Amzn-ErrorType header over the body's __type over its code, cut at ':'
// and after '#'; the message from "message" in any case. A code the KMS
// model knows becomes a typed error (*ModeledError), any other a
// *smithy.GenericAPIError, as in the SDK; a body that is not JSON a
// *smithy.DeserializationError.
func rawAPIError(h http.Header, body []byte) error {
	var doc map[string]any
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &doc); err != nil {
			return &smithy.DeserializationError{Err: fmt.Errorf("the error body is not JSON: %w", err)}
		}
	}
	str := func(k string) string {
		for dk, v := range doc {
			if strings.EqualFold(dk, k) {
				if s, ok := v.(string); ok {
					return s
				}
			}
		}
		return ""
	}
	code := h.Get("X-Amzn-ErrorType")
	if code == "" {
		if s, ok := doc["__type"].(string); ok {
			code = s
		}
	}
	if code == "" {
		code = str("code")
	}
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndex(code, "#"); i >= 0 {
		code = code[i+1:]
	}
	msg := str("message")
	if code == "" {
		code = "UnknownError"
	}
	if fault, ok := modeledErrors[code]; ok {
		return &ModeledError{Code: code, Message: msg, Fault: fault}
	}
	return &smithy.GenericAPIError{Code: code, Message: msg}
}

// ModeledError is an exception of the KMS model that came back on the raw
// path: the SDK would have returned its typed error (*types.<Code>).
type ModeledError struct {
	Code, Message string
	Fault         smithy.ErrorFault
}

func (e *ModeledError) Error() string                 { return fmt.Sprintf("%s: %s", e.Code, e.Message) }
func (e *ModeledError) ErrorCode() string             { return e.Code }
func (e *ModeledError) ErrorMessage() string          { return e.Message }
func (e *ModeledError) ErrorFault() smithy.ErrorFault { return e.Fault }

// modeledErrors are the exception shapes of service/kms (types/errors.go)
// with their fault.
var modeledErrors = func() map[string]smithy.ErrorFault {
	m := map[string]smithy.ErrorFault{}
	for _, c := range strings.Fields(`AlreadyExistsException CloudHsmClusterInUseException
		CloudHsmClusterInvalidConfigurationException CloudHsmClusterNotActiveException CloudHsmClusterNotFoundException
		CloudHsmClusterNotRelatedException ConflictException CustomKeyStoreHasCMKsException
		CustomKeyStoreInvalidStateException CustomKeyStoreNameInUseException CustomKeyStoreNotFoundException
		DisabledException DryRunOperationException ExpiredImportTokenException IncorrectKeyException
		IncorrectKeyMaterialException IncorrectTrustAnchorException InvalidAliasNameException InvalidArnException
		InvalidCiphertextException InvalidGrantIdException InvalidGrantTokenException InvalidImportTokenException
		InvalidKeyUsageException InvalidMarkerException KMSInvalidMacException KMSInvalidSignatureException
		KMSInvalidStateException LimitExceededException MalformedPolicyDocumentException NotFoundException
		TagException UnsupportedOperationException XksKeyAlreadyInUseException XksKeyInvalidConfigurationException
		XksKeyNotFoundException XksProxyIncorrectAuthenticationCredentialException
		XksProxyInvalidConfigurationException XksProxyInvalidResponseException XksProxyUriEndpointInUseException
		XksProxyUriInUseException XksProxyUriUnreachableException XksProxyVpcEndpointServiceInUseException
		XksProxyVpcEndpointServiceInvalidConfigurationException XksProxyVpcEndpointServiceNotFoundException`) {
		m[c] = smithy.FaultClient
	}
	for _, c := range []string{"DependencyTimeoutException", "KeyUnavailableException", "KMSInternalException"} {
		m[c] = smithy.FaultServer
	}
	return m
}()

// wireBody serializes an SDK input structure as awsJson1_1 does: every
// member that is set, by its member name (the SDK's field name); nil
// pointers and zero enum values are not sent, blobs are base64.
func wireBody(in any) []byte {
	b, err := json.Marshal(wireValue(reflect.ValueOf(in)))
	if err != nil {
		// Only strings, numbers, booleans, blobs and structures of them.
		panic(fmt.Sprintf("raw call: %v", err))
	}
	return b
}

func wireValue(v reflect.Value) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		doc := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			fv := v.Field(i)
			if (fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map || fv.Kind() == reflect.Interface) && fv.IsNil() {
				continue
			}
			if fv.Kind() == reflect.String && fv.String() == "" {
				continue // an enum member left unset
			}
			if fv.Kind() == reflect.Bool && !fv.Bool() {
				continue // a plain bool is a default the SDK does not send
			}
			doc[f.Name] = wireValue(fv)
		}
		return doc
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Bytes()
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = wireValue(v.Index(i))
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		for _, k := range v.MapKeys() {
			out[k.String()] = wireValue(v.MapIndex(k))
		}
		return out
	}
	return v.Interface()
}
