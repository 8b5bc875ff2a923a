package xksproxy

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
)

// Fault is an injected misbehaviour. Its string value is also its name in
// the HTTP control API.
type Fault string

// The faults. A proxy-wide fault applies to every request (TLS and
// unreachable faults to every connection); a key fault to GetKeyMetadata,
// Encrypt and Decrypt of that key. Proxy-wide wins over per-key.
const (
	// FaultNone clears a fault.
	FaultNone Fault = ""

	// FaultUnreachable closes the listener and every open connection:
	// dials are refused until the fault is cleared, when the proxy listens
	// again on the same address. Proxy-wide only.
	FaultUnreachable Fault = "unreachable"
	// FaultSlow delays the answer by Options.SlowDelay (default 300 ms,
	// past KMS's 250 ms timeout), then answers normally.
	FaultSlow Fault = "slow"

	// Error answers, each with the spec's status and errorName.
	FaultAuthenticationFailed Fault = "authentication-failed" // 401
	FaultAccessDenied         Fault = "access-denied"         // 403
	FaultInvalidURIPath       Fault = "invalid-uri-path"      // 404
	FaultKeyNotFound          Fault = "key-not-found"         // 404
	FaultValidation           Fault = "validation"            // 400
	FaultInvalidState         Fault = "invalid-state"         // 400
	FaultThrottling           Fault = "throttling"            // 429
	FaultInternal             Fault = "internal"              // 500
	FaultUnsupportedOperation Fault = "unsupported-operation" // 501
	FaultDependencyTimeout    Fault = "dependency-timeout"    // 503

	// FaultNonJSON answers 200 with a text/html body.
	FaultNonJSON Fault = "non-json"
	// FaultMalformedJSON answers 200 application/json with a truncated
	// JSON document.
	FaultMalformedJSON Fault = "malformed-json"

	// Answer-shape faults answer 200 with a body the XKS spec (§7.2 of
	// the API spec: "Response Payload Parameters") does not allow, each
	// answer breaking the next rule in turn, so that a client making
	// several calls meets every one.
	//
	// FaultBadMetadataAnswer shapes GetKeyMetadata: no keySpec, then no
	// keyStatus, then no keyUsage, then 11 keyUsage entries (at most 10).
	FaultBadMetadataAnswer Fault = "bad-metadata-answer"
	// FaultBadEncryptAnswer shapes Encrypt: an 8-byte initializationVector
	// (12 or 16), then a 12-byte authenticationTag (16), then 21 bytes of
	// ciphertextMetadata (at most 20), then a ciphertext one byte longer
	// than the plaintext, each with the integrity value of what the answer
	// carries; then a wrong ciphertextDataIntegrityValue.
	FaultBadEncryptAnswer Fault = "bad-encrypt-answer"
	// FaultBadHealthAnswer shapes GetHealthStatus (proxy-wide only): no
	// xksProxyFleetSize, then a fleet size of 0, then no ekmFleetDetails,
	// then 11 of them (1 to 10).
	FaultBadHealthAnswer Fault = "bad-health-answer"

	// TLS faults swap the server certificate or protocol; proxy-wide only.
	FaultTLSExpired    Fault = "tls-expired"      // certificate expired yesterday
	FaultTLSWrongName  Fault = "tls-wrong-name"   // certificate for wrong-name.invalid only
	FaultTLSUntrusted  Fault = "tls-untrusted-ca" // certificate from a CA outside CACertPEM
	FaultTLSOldVersion Fault = "tls-old-version"  // the server speaks only TLS 1.0/1.1

	// Health faults change only GetHealthStatus answers; proxy-wide only.
	FaultHealthUnavailable          Fault = "health-unavailable"           // every EKM UNAVAILABLE
	FaultHealthDegraded             Fault = "health-degraded"              // every EKM DEGRADED
	FaultHealthPartiallyUnavailable Fault = "health-partially-unavailable" // first EKM UNAVAILABLE, others ACTIVE
)

type faultInfo struct {
	errName   ErrorName // error answer, if any
	proxyOnly bool
}

var faults = map[Fault]faultInfo{
	FaultUnreachable:                {proxyOnly: true},
	FaultSlow:                       {},
	FaultAuthenticationFailed:       {errName: ErrAuthenticationFailed},
	FaultAccessDenied:               {errName: ErrAccessDenied},
	FaultInvalidURIPath:             {errName: ErrInvalidURIPath},
	FaultKeyNotFound:                {errName: ErrKeyNotFound},
	FaultValidation:                 {errName: ErrValidation},
	FaultInvalidState:               {errName: ErrInvalidState},
	FaultThrottling:                 {errName: ErrThrottling},
	FaultInternal:                   {errName: ErrInternal},
	FaultUnsupportedOperation:       {errName: ErrUnsupportedOperation},
	FaultDependencyTimeout:          {errName: ErrDependencyTimeout},
	FaultNonJSON:                    {},
	FaultMalformedJSON:              {},
	FaultBadMetadataAnswer:          {},
	FaultBadEncryptAnswer:           {},
	FaultBadHealthAnswer:            {proxyOnly: true},
	FaultTLSExpired:                 {proxyOnly: true},
	FaultTLSWrongName:               {proxyOnly: true},
	FaultTLSUntrusted:               {proxyOnly: true},
	FaultTLSOldVersion:              {proxyOnly: true},
	FaultHealthUnavailable:          {proxyOnly: true},
	FaultHealthDegraded:             {proxyOnly: true},
	FaultHealthPartiallyUnavailable: {proxyOnly: true},
}

// Faults lists every fault, sorted.
func Faults() []Fault {
	out := make([]Fault, 0, len(faults))
	for f := range faults {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// ErrorName is the errorName the fault answers with, or "" for faults that
// do not answer with an XKS error.
func (f Fault) ErrorName() ErrorName { return faults[f].errName }

// KeyScoped reports whether the fault can be set on a single key.
func (f Fault) KeyScoped() bool {
	fi, ok := faults[f]
	return ok && !fi.proxyOnly
}

func (f Fault) isTLS() bool {
	switch f {
	case FaultTLSExpired, FaultTLSWrongName, FaultTLSUntrusted, FaultTLSOldVersion:
		return true
	}
	return false
}

func (f Fault) check(keyScope bool) error {
	if f == FaultNone {
		return nil
	}
	fi, ok := faults[f]
	if !ok {
		return fmt.Errorf("xksproxy: unknown fault %q", string(f))
	}
	if keyScope && fi.proxyOnly {
		return fmt.Errorf("xksproxy: fault %q applies to the whole proxy, not to one key", string(f))
	}
	return nil
}

// faultMessage is the errorMessage of an injected error: it says the error
// is injected, so nobody debugging a log mistakes it for a real failure.
func faultMessage(f Fault) string { return "injected fault: " + string(f) }

// The shapes the answer-shape faults take in turn.
const (
	badMetadataShapes = 4
	badEncryptShapes  = 5
	badHealthShapes   = 4
)

// shapes reports whether f is an answer-shape fault for API op.
func (f Fault) shapes(op Operation) bool {
	return f == FaultBadMetadataAnswer && op == OpGetKeyMetadata || f == FaultBadEncryptAnswer && op == OpEncrypt
}

// misshape breaks a successful GetHealthStatus, GetKeyMetadata or Encrypt
// answer with shape n (modulo the number of shapes of its API). A broken Encrypt
// answer carries the integrity value of what it does carry (aad is the
// request's), so that only the one break is wrong.
func misshape(resp any, n uint64, aad []byte) any {
	switch r := resp.(type) {
	case KeyMetadataResponse:
		doc := map[string]any{"keySpec": r.KeySpec, "keyUsage": r.KeyUsage, "keyStatus": r.KeyStatus}
		switch n % badMetadataShapes {
		case 0:
			delete(doc, "keySpec")
		case 1:
			delete(doc, "keyStatus")
		case 2:
			delete(doc, "keyUsage")
		default:
			usage := slices.Clone(r.KeyUsage)
			for i := 0; len(usage) < 11; i++ {
				usage = append(usage, "USAGE_"+strconv.Itoa(i))
			}
			doc["keyUsage"] = usage
		}
		return doc
	case HealthResponse:
		doc := map[string]any{"xksProxyFleetSize": r.XksProxyFleetSize, "xksProxyVendor": r.XksProxyVendor,
			"xksProxyModel": r.XksProxyModel, "ekmVendor": r.EkmVendor, "ekmFleetDetails": r.EkmFleetDetails}
		switch n % badHealthShapes {
		case 0:
			delete(doc, "xksProxyFleetSize")
		case 1:
			doc["xksProxyFleetSize"] = 0
		case 2:
			delete(doc, "ekmFleetDetails")
		default:
			ekms := slices.Clone(r.EkmFleetDetails)
			for len(ekms) < 11 {
				ekms = append(ekms, EKMStatus{ID: "ekm-extra-" + strconv.Itoa(len(ekms)+1), Model: ekmModel, HealthStatus: "ACTIVE"})
			}
			doc["ekmFleetDetails"] = ekms
		}
		return doc
	case EncryptResponse:
		switch n % badEncryptShapes {
		case 0:
			r.InitializationVector = r.InitializationVector[:8]
		case 1:
			r.AuthenticationTag = r.AuthenticationTag[:12]
		case 2:
			r.CiphertextMetadata = append(slices.Clone(r.CiphertextMetadata), make([]byte, 21-len(r.CiphertextMetadata))...)
		case 3:
			r.Ciphertext = append(slices.Clone(r.Ciphertext), 0)
		default:
			r.CiphertextDataIntegrityValue = make([]byte, 32)
			return r
		}
		if r.CiphertextDataIntegrityValue != nil {
			r.CiphertextDataIntegrityValue = cdiv(aad, r.CiphertextMetadata, r.InitializationVector, r.Ciphertext, r.AuthenticationTag)
		}
		return r
	}
	return resp
}
