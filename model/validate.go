package model

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Input constraints of spec §1.1 (botocore's model of KMS). Real KMS rejects
// a violation with ValidationException before anything else (spec §3.3).

var (
	reClusterID   = regexp.MustCompile(`^cluster-[2-7a-zA-Z]{11,16}$`)
	reEndpoint    = regexp.MustCompile(`^https://[a-zA-Z0-9.-]+$`)
	rePath        = regexp.MustCompile(`^(/[a-zA-Z0-9/_-]+/kms/xks/v\d{1,2})$|^(/kms/xks/v\d{1,2})$`)
	reVpcService  = regexp.MustCompile(`^(com|eu)\.amazonaws\.vpce\.([a-z]+-){2,3}\d+\.vpce-svc-[0-9a-z]+$`)
	reAccountID   = regexp.MustCompile(`^[0-9]{12}$`)
	reAccessKeyID = regexp.MustCompile(`^[A-Z2-7]+$`)
	reSecret      = regexp.MustCompile(`^[a-zA-Z0-9/+=]+$`)
	reXksKeyID    = regexp.MustCompile(`^[a-zA-Z0-9-_.]+$`)
	reMarker      = regexp.MustCompile(`^[\x{0020}-\x{00FF}]*$`)
)

// Wire paths of the members Call.Omit can name.
const (
	OmitName        = "CustomKeyStoreName"
	OmitAccessKeyID = "XksProxyAuthenticationCredential.AccessKeyId"
	OmitSecret      = "XksProxyAuthenticationCredential.RawSecretAccessKey"
)

// Enumerations the service checks.
var (
	enumStoreType    = []string{string(CloudHSM), string(External)}
	enumConnectivity = []string{string(PublicEndpoint), string(VpcEndpointService)}
	enumOrigin       = []string{string(OriginAwsKms), string(OriginExternal), string(OriginAwsCloudHSM), string(OriginExternalKeyStore)}
	enumKeySpec      = []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
		"ECC_SECG_P256K1", "SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512", "SM2",
		"ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ECC_NIST_EDWARDS25519", "ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"}
	enumKeyUsage = []string{"SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT", "ENCAPSULATE_DECAPSULATE"}
)

// violations collects constraint violations in AWS's wording.
type violations []string

func (v *violations) str(field string, p *string, min, max int, re *regexp.Regexp, sensitive bool) {
	if p == nil {
		return
	}
	s := *p
	value := fmt.Sprintf("Value '%s' at '%s'", s, field)
	if sensitive {
		// AWS never echoes a sensitive member's value.
		value = fmt.Sprintf("Value at '%s'", field)
	}
	n := len([]rune(s))
	switch {
	case n < min:
		*v = append(*v, fmt.Sprintf("%s failed to satisfy constraint: Member must have length greater than or equal to %d", value, min))
	case n > max:
		*v = append(*v, fmt.Sprintf("%s failed to satisfy constraint: Member must have length less than or equal to %d", value, max))
	case re != nil && !matches(re, s):
		*v = append(*v, fmt.Sprintf("%s failed to satisfy constraint: Member must satisfy regular expression pattern: %s", value, re))
	}
}

func (v *violations) enum(field string, p *string, allowed []string) {
	if p == nil {
		return
	}
	for _, a := range allowed {
		if *p == a {
			return
		}
	}
	*v = append(*v, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]",
		*p, field, strings.Join(allowed, ", ")))
}

func (v *violations) intRange(field string, p *int, min, max int) {
	if p == nil {
		return
	}
	switch {
	case *p < min:
		*v = append(*v, fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %d", *p, field, min))
	case *p > max:
		*v = append(*v, fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %d", *p, field, max))
	}
}

// blobLen checks the length of a sensitive blob member (a plaintext),
// whose value AWS never echoes.
func (v *violations) blobLen(field string, n *int, min, max int) {
	if n == nil {
		return
	}
	switch {
	case *n < min:
		*v = append(*v, fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", field, min))
	case *n > max:
		*v = append(*v, fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", field, max))
	}
}

func (v *violations) required(field string, present bool) {
	if !present {
		*v = append(*v, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", field))
	}
}

func (v *violations) credential(c *Credential, omit string) {
	if c == nil {
		return
	}
	// Both members are required inside the structure.
	const akid, secret = "xksProxyAuthenticationCredential.accessKeyId", "xksProxyAuthenticationCredential.rawSecretAccessKey"
	if omit == OmitAccessKeyID {
		v.required(akid, false)
	} else {
		v.str(akid, &c.AccessKeyID, 20, 30, reAccessKeyID, true)
	}
	if omit == OmitSecret {
		v.required(secret, false)
	} else {
		v.str(secret, &c.Secret, 43, 64, reSecret, true)
	}
}

// message renders the violations the way real KMS does.
func (v violations) message() string {
	if len(v) == 1 {
		return "1 validation error detected: " + v[0]
	}
	return fmt.Sprintf("%d validation errors detected: %s", len(v), strings.Join(v, "; "))
}

// matchCache memoizes pattern checks: exhaustive walks validate the same few
// strings millions of times.
var matchCache sync.Map // key: pattern + "\x00" + value

func matches(re *regexp.Regexp, s string) bool {
	k := re.String() + "\x00" + s
	if r, ok := matchCache.Load(k); ok {
		return r.(bool)
	}
	r := re.MatchString(s)
	if len(s) <= 256 {
		matchCache.Store(k, r)
	}
	return r
}

// validate returns the constraint violations of a call's inputs.
func validate(c Call) violations {
	var v violations
	storeID := func(required bool) {
		if required {
			v.required("customKeyStoreId", c.StoreID != nil)
		}
		v.str("customKeyStoreId", c.StoreID, 1, 64, nil, false)
	}
	keyID := func() {
		v.str("keyId", &c.KeyID, 1, 2048, nil, false)
	}
	switch c.Op {
	case OpCreateCustomKeyStore:
		in := c.Create
		if in == nil {
			in = &CreateStoreInput{}
		}
		if c.Omit == OmitName {
			v.required("customKeyStoreName", false)
		} else {
			v.str("customKeyStoreName", &in.Name, 1, 256, nil, false)
		}
		v.enum("customKeyStoreType", in.Type, enumStoreType)
		v.str("cloudHsmClusterId", in.ClusterID, 19, 24, reClusterID, false)
		v.str("trustAnchorCertificate", in.TrustAnchor, 1, 5000, nil, false)
		v.str("keyStorePassword", in.Password, 7, 32, nil, true)
		v.enum("xksProxyConnectivity", in.Connectivity, enumConnectivity)
		v.str("xksProxyUriEndpoint", in.Endpoint, 10, 128, reEndpoint, false)
		v.str("xksProxyUriPath", in.Path, 10, 128, rePath, false)
		v.credential(in.Credential, c.Omit)
		v.str("xksProxyVpcEndpointServiceName", in.VpcService, 20, 64, reVpcService, false)
		v.str("xksProxyVpcEndpointServiceOwner", in.VpcOwner, 12, 12, reAccountID, false)
	case OpUpdateCustomKeyStore:
		storeID(true)
		in := c.Update
		if in == nil {
			in = &UpdateStoreInput{}
		}
		v.str("newCustomKeyStoreName", in.NewName, 1, 256, nil, false)
		v.str("keyStorePassword", in.Password, 7, 32, nil, true)
		v.str("cloudHsmClusterId", in.ClusterID, 19, 24, reClusterID, false)
		v.enum("xksProxyConnectivity", in.Connectivity, enumConnectivity)
		v.str("xksProxyUriEndpoint", in.Endpoint, 10, 128, reEndpoint, false)
		v.str("xksProxyUriPath", in.Path, 10, 128, rePath, false)
		v.credential(in.Credential, c.Omit)
		v.str("xksProxyVpcEndpointServiceName", in.VpcService, 20, 64, reVpcService, false)
		v.str("xksProxyVpcEndpointServiceOwner", in.VpcOwner, 12, 12, reAccountID, false)
	case OpConnectCustomKeyStore, OpDisconnectCustomKeyStore, OpDeleteCustomKeyStore:
		storeID(true)
	case OpDescribeCustomKeyStores:
		storeID(false)
		v.str("customKeyStoreName", c.StoreName, 1, 256, nil, false)
		v.intRange("limit", c.Limit, 1, 1000)
		v.str("marker", c.Marker, 1, 1024, reMarker, false)
	case OpCreateKey:
		storeID(false)
		if in := c.CreateKey; in != nil {
			v.enum("origin", in.Origin, enumOrigin)
			v.str("xksKeyId", in.XksKeyID, 1, 128, reXksKeyID, false)
			v.enum("keySpec", in.KeySpec, enumKeySpec)
			v.enum("keyUsage", in.KeyUsage, enumKeyUsage)
		}
	case OpGenerateRandom:
		storeID(false)
		v.intRange("numberOfBytes", c.NumberOfBytes, 1, 1024)
	case OpScheduleKeyDeletion:
		keyID()
		v.intRange("pendingWindowInDays", c.PendingWindowDays, 1, 365)
	case OpEncrypt:
		keyID()
		v.blobLen("plaintext", c.PlaintextBytes, 1, 4096)
	default:
		if !c.Op.IsEnv() && c.Op != "" {
			keyID()
		}
	}
	return v
}

// Invalid reports whether a call breaks an input constraint, so that the
// only answer the model allows is ValidationException, whatever the world
// holds. A runner may then send values that name nothing real.
func Invalid(c Call) bool { return len(validate(c)) > 0 }
