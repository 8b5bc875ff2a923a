package xksproxy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
)

// Operation is one of the four XKS Proxy API operations.
type Operation string

// The XKS Proxy API v1 operations.
const (
	OpGetHealthStatus Operation = "GetHealthStatus"
	OpGetKeyMetadata  Operation = "GetKeyMetadata"
	OpEncrypt         Operation = "Encrypt"
	OpDecrypt         Operation = "Decrypt"
)

// RequestMetadata is the requestMetadata object KMS sends with every call.
// Fields KMS may add later are ignored rather than rejected, as the spec
// asks.
type RequestMetadata struct {
	AWSPrincipalARN string `json:"awsPrincipalArn,omitempty"`
	AWSSourceVPC    string `json:"awsSourceVpc,omitempty"`
	AWSSourceVPCE   string `json:"awsSourceVpce,omitempty"`
	KMSKeyARN       string `json:"kmsKeyArn,omitempty"`
	KMSOperation    string `json:"kmsOperation,omitempty"`
	KMSRequestID    string `json:"kmsRequestId,omitempty"`
	KMSViaService   string `json:"kmsViaService,omitempty"`
}

// The algorithm names of XKS v1.
const (
	AlgorithmAESGCM = "AES_GCM"
	CDIVSHA256      = "SHA_256"
)

// Wire shapes. Pointers tell a missing field from an empty one: the spec
// requires presence, and an empty plaintext is still a plaintext.
type wireRequest struct {
	RequestMetadata *RequestMetadata `json:"requestMetadata"`

	Plaintext                             *string `json:"plaintext"`
	Ciphertext                            *string `json:"ciphertext"`
	CiphertextMetadata                    *string `json:"ciphertextMetadata"`
	EncryptionAlgorithm                   *string `json:"encryptionAlgorithm"`
	AdditionalAuthenticatedData           *string `json:"additionalAuthenticatedData"`
	CiphertextDataIntegrityValueAlgorithm *string `json:"ciphertextDataIntegrityValueAlgorithm"`
	InitializationVector                  *string `json:"initializationVector"`
	AuthenticationTag                     *string `json:"authenticationTag"`
}

// HealthResponse is the GetHealthStatus answer.
type HealthResponse struct {
	XksProxyFleetSize int         `json:"xksProxyFleetSize"`
	XksProxyVendor    string      `json:"xksProxyVendor"`
	XksProxyModel     string      `json:"xksProxyModel"`
	EkmVendor         string      `json:"ekmVendor"`
	EkmFleetDetails   []EKMStatus `json:"ekmFleetDetails"`
}

// EKMStatus is one ekmFleetDetails entry.
type EKMStatus struct {
	ID           string `json:"id"`
	Model        string `json:"model"`
	HealthStatus string `json:"healthStatus"`
}

// KeyMetadataResponse is the GetKeyMetadata answer.
type KeyMetadataResponse struct {
	KeySpec   string   `json:"keySpec"`
	KeyUsage  []string `json:"keyUsage"`
	KeyStatus string   `json:"keyStatus"`
}

// EncryptResponse is the Encrypt answer; binary fields are base64 on the
// wire (encoding/json does that for []byte).
type EncryptResponse struct {
	Ciphertext                   []byte `json:"ciphertext"`
	CiphertextMetadata           []byte `json:"ciphertextMetadata,omitempty"`
	InitializationVector         []byte `json:"initializationVector"`
	AuthenticationTag            []byte `json:"authenticationTag"`
	CiphertextDataIntegrityValue []byte `json:"ciphertextDataIntegrityValue,omitempty"`
}

// DecryptResponse is the Decrypt answer.
type DecryptResponse struct {
	Plaintext []byte `json:"plaintext"`
}

// call is a parsed, validated API request.
type call struct {
	Op       Operation
	KeyID    string
	Metadata RequestMetadata

	Plaintext          []byte
	Ciphertext         []byte
	CiphertextMetadata []byte
	AAD                []byte
	IV                 []byte
	Tag                []byte
	HasAAD             bool
	WantCDIV           bool
	Algorithm          string
	CDIVAlgorithm      string
}

// Limits of the spec. The proxy accepts more than the minimums (4300 bytes
// of plaintext, 8192 of AAD) up to what the AAD layout can carry.
const (
	maxKeyIDLen       = 128
	maxAADLen         = 0xffff // its length is a 2-byte field of the GCM AAD
	maxCiphertextMeta = 20
	maxBodyBytes      = 1 << 20
)

var errTrailing = errors.New("trailing data after the JSON object")

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// ValidKeyID reports whether id is a legal externalKeyId (1–128 of
// [A-Za-z0-9._-]).
func ValidKeyID(id string) bool { return keyIDPattern.MatchString(id) }

// route splits an API path below the proxy's URI path into the operation
// and key. ok is false for any path that is not one of the four URIs.
func route(uriPath, path string) (op Operation, keyID string, ok bool) {
	rest, found := strings.CutPrefix(path, uriPath+"/")
	if !found {
		return "", "", false
	}
	if rest == "health" {
		return OpGetHealthStatus, "", true
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] != "keys" || parts[1] == "" {
		return "", "", false
	}
	switch parts[2] {
	case "metadata":
		op = OpGetKeyMetadata
	case "encrypt":
		op = OpEncrypt
	case "decrypt":
		op = OpDecrypt
	default:
		return "", "", false
	}
	return op, parts[1], true
}

// parseCall decodes and validates the body of an operation.
// GetHealthStatus is validated too, but only for what its section of the
// XKS spec requires (requestMetadata with kmsRequestId and kmsOperation,
// required since spec 0.0.15): the error table's "ALL except
// GetHealthStatus" for ValidationException predates that change, and
// AWS's own test client expects the refusal.
func parseCall(op Operation, keyID string, body []byte) (*call, *Error) {
	c := &call{Op: op, KeyID: keyID}
	var w wireRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	err := dec.Decode(&w)
	if err == nil && dec.More() {
		err = errTrailing
	}
	if err != nil {
		return nil, xksErr(ErrValidation, "request body is not a JSON object: "+jsonErrText(err))
	}
	if op != OpGetHealthStatus && !ValidKeyID(keyID) {
		return nil, xksErr(ErrValidation, "externalKeyId must be 1-128 characters of [A-Za-z0-9._-]")
	}
	if w.RequestMetadata == nil {
		return nil, xksErr(ErrValidation, "requestMetadata is required")
	}
	c.Metadata = *w.RequestMetadata
	md := c.Metadata
	switch {
	case md.AWSPrincipalARN == "" && op != OpGetHealthStatus:
		return nil, xksErr(ErrValidation, "requestMetadata.awsPrincipalArn is required")
	case md.KMSOperation == "":
		return nil, xksErr(ErrValidation, "requestMetadata.kmsOperation is required")
	case md.KMSRequestID == "":
		return nil, xksErr(ErrValidation, "requestMetadata.kmsRequestId is required")
	case md.KMSKeyARN == "" && (op == OpEncrypt || op == OpDecrypt):
		return nil, xksErr(ErrValidation, "requestMetadata.kmsKeyArn is required")
	}
	if op == OpGetHealthStatus || op == OpGetKeyMetadata {
		return c, nil
	}

	if w.EncryptionAlgorithm == nil {
		return nil, xksErr(ErrValidation, "encryptionAlgorithm is required")
	}
	c.Algorithm = *w.EncryptionAlgorithm
	if c.Algorithm != AlgorithmAESGCM {
		return nil, xksErr(ErrValidation, "encryptionAlgorithm must be AES_GCM")
	}
	var e *Error
	if c.AAD, c.HasAAD, e = optionalB64("additionalAuthenticatedData", w.AdditionalAuthenticatedData, maxAADLen); e != nil {
		return nil, e
	}

	if op == OpEncrypt {
		if w.Plaintext == nil {
			return nil, xksErr(ErrValidation, "plaintext is required")
		}
		if c.Plaintext, e = decodeB64("plaintext", *w.Plaintext); e != nil {
			return nil, e
		}
		if w.CiphertextDataIntegrityValueAlgorithm != nil {
			c.CDIVAlgorithm = *w.CiphertextDataIntegrityValueAlgorithm
			if c.CDIVAlgorithm != CDIVSHA256 {
				return nil, xksErr(ErrValidation, "ciphertextDataIntegrityValueAlgorithm must be SHA_256")
			}
			c.WantCDIV = true
		}
		return c, nil
	}

	for _, f := range []struct {
		name string
		v    *string
		dst  *[]byte
	}{
		{"ciphertext", w.Ciphertext, &c.Ciphertext},
		{"initializationVector", w.InitializationVector, &c.IV},
		{"authenticationTag", w.AuthenticationTag, &c.Tag},
	} {
		if f.v == nil {
			return nil, xksErr(ErrValidation, f.name+" is required")
		}
		if *f.dst, e = decodeB64(f.name, *f.v); e != nil {
			return nil, e
		}
	}
	if c.CiphertextMetadata, _, e = optionalB64("ciphertextMetadata", w.CiphertextMetadata, maxCiphertextMeta); e != nil {
		return nil, e
	}
	return c, nil
}

func decodeB64(name, s string) ([]byte, *Error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, xksErr(ErrValidation, name+" is not valid base64: "+err.Error())
	}
	return b, nil
}

func optionalB64(name string, s *string, max int) ([]byte, bool, *Error) {
	if s == nil {
		return nil, false, nil
	}
	b, e := decodeB64(name, *s)
	if e != nil {
		return nil, false, e
	}
	if len(b) > max {
		return nil, false, xksErr(ErrValidation, name+" is longer than "+strconv.Itoa(max)+" bytes")
	}
	return b, true, nil
}

// jsonErrText names the problem without quoting the input: a decoder
// error about a plaintext field must not echo the plaintext.
func jsonErrText(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errTrailing):
		return err.Error()
	case errors.As(err, &se):
		return "syntax error at byte " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		return "field " + te.Field + " must be " + te.Type.String()
	default:
		return "unreadable JSON"
	}
}
