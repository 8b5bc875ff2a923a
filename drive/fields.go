package drive

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/kmsconform/kmsconform/model"
)

// The fields of a successful answer, against the model's world: every
// field of a DescribeCustomKeyStores entry and of a key's KeyMetadata that
// the documentation fixes for a store or key of this run.

// earliestCreation bounds a plausible CreationDate from below (custom key
// stores did not exist before).
var earliestCreation = time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)

// checkEntryFields compares a DescribeCustomKeyStores entry with store s of
// the model's world, as this run named it (m). created remembers the first
// CreationDate seen per store id, which must never change.
func checkEntryFields(e types.CustomKeyStoresListEntry, s model.Store, m *Mapper, created map[string]time.Time) error {
	id := aws.ToString(e.CustomKeyStoreId)
	if want := m.Name(s.Name); aws.ToString(e.CustomKeyStoreName) != want {
		return endWith(Fail, "the store is listed with name %q, not %q", aws.ToString(e.CustomKeyStoreName), want)
	}
	if s.State == model.Failed && e.ConnectionState == types.ConnectionStateTypeFailed && string(e.ConnectionErrorCode) != string(s.ErrorCode) {
		return endWith(Fail, "the FAILED store is listed with ConnectionErrorCode %q; the model expects %s", e.ConnectionErrorCode, s.ErrorCode)
	}
	switch c := e.CreationDate; {
	case c == nil:
		return endWith(Fail, "the store is listed without CreationDate")
	case c.Before(earliestCreation) || c.After(time.Now().Add(time.Hour)):
		return endWith(Fail, "the store is listed with CreationDate %s, which is not plausible", c.UTC().Format(time.RFC3339))
	default:
		if first, seen := created[id]; seen && !first.Equal(*c) {
			return endWith(Fail, "the store's CreationDate changed from %s to %s", first.UTC().Format(time.RFC3339Nano), c.UTC().Format(time.RFC3339Nano))
		}
		created[id] = *c
	}
	if s.Type == model.CloudHSM {
		if want := m.v(s.ClusterID); aws.ToString(e.CloudHsmClusterId) != want {
			return endWith(Fail, "the store is listed with CloudHsmClusterId %q, not %q", aws.ToString(e.CloudHsmClusterId), want)
		}
		// The certificate as given, whatever line breaks a target keeps.
		if got, want := noSpace(aws.ToString(e.TrustAnchorCertificate)), noSpace(m.v(s.TrustAnchor)); got != want {
			return endWith(Fail, "the store is listed with a TrustAnchorCertificate other than the one it was created with")
		}
		if e.XksProxyConfiguration != nil {
			return endWith(Fail, "a CloudHSM store is listed with an XksProxyConfiguration")
		}
		return nil
	}
	x := e.XksProxyConfiguration
	if x == nil {
		return endWith(Fail, "an external key store is listed without XksProxyConfiguration")
	}
	if aws.ToString(e.CloudHsmClusterId) != "" || aws.ToString(e.TrustAnchorCertificate) != "" {
		return endWith(Fail, "an external key store is listed with CloudHSM fields")
	}
	if string(x.Connectivity) != string(s.Connectivity) {
		return endWith(Fail, "the store is listed with XksProxyConnectivity %q, not %s", x.Connectivity, s.Connectivity)
	}
	if want := m.v(s.Endpoint); aws.ToString(x.UriEndpoint) != want {
		return endWith(Fail, "the store is listed with XksProxyUriEndpoint %q, not %q", aws.ToString(x.UriEndpoint), want)
	}
	if want := m.v(s.Path); aws.ToString(x.UriPath) != want {
		return endWith(Fail, "the store is listed with XksProxyUriPath %q, not %q", aws.ToString(x.UriPath), want)
	}
	if want := m.v(s.Credential.AccessKeyID); aws.ToString(x.AccessKeyId) != want {
		return endWith(Fail, "the store is listed with the credential's AccessKeyId %q, not %q", aws.ToString(x.AccessKeyId), want)
	}
	if s.Connectivity == model.VpcEndpointService {
		if want := m.v(s.VpcService); aws.ToString(x.VpcEndpointServiceName) != want {
			return endWith(Fail, "the store is listed with XksProxyVpcEndpointServiceName %q, not %q", aws.ToString(x.VpcEndpointServiceName), want)
		}
		if s.VpcOwner != "" && aws.ToString(x.VpcEndpointServiceOwner) != m.v(s.VpcOwner) {
			return endWith(Fail, "the store is listed with XksProxyVpcEndpointServiceOwner %q, not %q", aws.ToString(x.VpcEndpointServiceOwner), m.v(s.VpcOwner))
		}
	} else if aws.ToString(x.VpcEndpointServiceName) != "" {
		return endWith(Fail, "a public-endpoint store is listed with a VPC endpoint service name")
	}
	return nil
}

// checkKeyFields compares a key's KeyMetadata with key k of store s in the
// model's world, shown in state shown.
func checkKeyFields(md *types.KeyMetadata, k model.Key, s model.Store, shown model.KeyState, m *Mapper) error {
	if md == nil {
		return endWith(Fail, "no KeyMetadata")
	}
	switch {
	case model.KeyState(md.KeyState) != shown:
		return endWith(Fail, "the key shows %s; the model expects %s", md.KeyState, shown)
	case md.Enabled != (shown == model.KeyEnabled):
		return endWith(Fail, "the key is %s with Enabled %v: Enabled is true exactly when the key state is Enabled", md.KeyState, md.Enabled)
	case string(md.Origin) != string(model.OriginFor(s.Type)):
		return endWith(Fail, "the key has Origin %s, not %s", md.Origin, model.OriginFor(s.Type))
	case aws.ToString(md.CustomKeyStoreId) != m.StoreID(s.ID):
		return endWith(Fail, "the key has CustomKeyStoreId %q, not its store's %q", aws.ToString(md.CustomKeyStoreId), m.StoreID(s.ID))
	case md.KeyManager != types.KeyManagerTypeCustomer:
		return endWith(Fail, "the key has KeyManager %s, not CUSTOMER", md.KeyManager)
	case md.KeySpec != types.KeySpecSymmetricDefault || md.KeyUsage != types.KeyUsageTypeEncryptDecrypt:
		return endWith(Fail, "the key is %s for %s: a custom key store holds symmetric encryption keys only", md.KeySpec, md.KeyUsage)
	case (md.DeletionDate != nil) != (shown == model.KeyPendingDeletion):
		return endWith(Fail, "the key is %s with DeletionDate %v: a DeletionDate belongs to a key pending deletion", md.KeyState, md.DeletionDate)
	case aws.ToString(md.KeyId) == "" || !strings.HasSuffix(aws.ToString(md.Arn), ":key/"+aws.ToString(md.KeyId)):
		return endWith(Fail, "the key has KeyId %q and Arn %q: a key's ARN ends in key/ and its KeyId", aws.ToString(md.KeyId), aws.ToString(md.Arn))
	case aws.ToString(md.Description) != m.keyDescription():
		return endWith(Fail, "the key has Description %q, not the %q it was created with", aws.ToString(md.Description), m.keyDescription())
	case !slices.Equal(md.EncryptionAlgorithms, []types.EncryptionAlgorithmSpec{types.EncryptionAlgorithmSpecSymmetricDefault}):
		return endWith(Fail, "the key has EncryptionAlgorithms %v: a SYMMETRIC_DEFAULT key supports SYMMETRIC_DEFAULT only", md.EncryptionAlgorithms)
	case aws.ToBool(md.MultiRegion):
		return endWith(Fail, "the key is a multi-Region key: a custom key store holds single-Region keys only")
	}
	if s.Type == model.CloudHSM {
		if want := m.v(s.ClusterID); aws.ToString(md.CloudHsmClusterId) != want {
			return endWith(Fail, "the key has CloudHsmClusterId %q, not its store's %q", aws.ToString(md.CloudHsmClusterId), want)
		}
	} else if k.XksKeyID == model.XksKey1 || k.XksKeyID == model.XksKey2 {
		if md.XksKeyConfiguration == nil || aws.ToString(md.XksKeyConfiguration.Id) != m.v(k.XksKeyID) {
			return endWith(Fail, "the key's XksKeyConfiguration does not name its external key %q", m.v(k.XksKeyID))
		}
	}
	return nil
}

// detailOf is what a check's error says, without its verdict.
func detailOf(err error) string {
	var ve *verdictError
	if errors.As(err, &ve) {
		return ve.detail
	}
	return err.Error()
}

func noSpace(s string) string { return strings.Join(strings.Fields(s), "") }
