package emulator

import (
	"strings"
)

// VpcEndpointService is a simulated Amazon VPC endpoint service in front of
// an XKS proxy: what KMS checks for VPC_ENDPOINT_SERVICE connectivity
// (spec §2.1).
type VpcEndpointService struct {
	Name string `json:"name"`
	// Owner is the account that owns the service; empty means the
	// emulator's account.
	Owner string `json:"owner,omitempty"`
	// AllowsKMS says the allowed principals include cks.kms.<region>.amazonaws.com.
	AllowsKMS          bool   `json:"allowsKms"`
	AvailabilityZones  int    `json:"availabilityZones"`
	AcceptanceRequired bool   `json:"acceptanceRequired,omitempty"`
	PrivateDNSName     string `json:"privateDnsName"`
	PrivateDNSVerified bool   `json:"privateDnsVerified"`
	// AnyPrivateDNSName makes the verified private DNS name match every
	// XksProxyUriEndpoint host: for callers (the conformance target's
	// control plane) that create a service before they know which endpoint
	// a store will name.
	AnyPrivateDNSName bool `json:"anyPrivateDnsName,omitempty"`
}

// NewHealthyVpcEndpointService returns a service that meets every KMS
// requirement for the given private DNS name (the XKS endpoint host).
func NewHealthyVpcEndpointService(name, privateDNSName string) *VpcEndpointService {
	return &VpcEndpointService{Name: name, AllowsKMS: true, AvailabilityZones: 2, PrivateDNSName: privateDNSName, PrivateDNSVerified: true}
}

// vpcProblem returns the ConnectionErrorCode and the exception for a VPC
// endpoint service that KMS cannot use, or "" when it can.
func (e *Emulator) vpcProblemLocked(c xksConfig) (code, exception, msg string) {
	svc := e.st.VpcServices[c.VpcService]
	owner := e.opts.AccountID
	if svc != nil && svc.Owner != "" {
		owner = svc.Owner
	}
	if svc == nil || !svc.AllowsKMS || (c.VpcOwner != "" && c.VpcOwner != owner) {
		return "XKS_VPC_ENDPOINT_SERVICE_NOT_FOUND", errXksVpcSvcNotFound,
			"The VPC endpoint service " + c.VpcService + " was not found, or it does not allow the principal cks.kms." + e.opts.Region + ".amazonaws.com."
	}
	host := strings.TrimPrefix(c.Endpoint, "https://")
	switch {
	case svc.AvailabilityZones < 2:
		return "XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION", errXksVpcSvcInvalid, "The VPC endpoint service must have a load balancer in at least two Availability Zones."
	case svc.AcceptanceRequired:
		return "XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION", errXksVpcSvcInvalid, "The VPC endpoint service must not require acceptance of connection requests."
	case !svc.PrivateDNSVerified || (svc.PrivateDNSName != host && !svc.AnyPrivateDNSName):
		return "XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION", errXksVpcSvcInvalid, "The VPC endpoint service must have a verified private DNS name equal to the XksProxyUriEndpoint host."
	}
	return "", "", ""
}

func (e *Emulator) vpcServiceProblemLocked(c xksConfig, _ bool) *apiError {
	if _, exc, msg := e.vpcProblemLocked(c); exc != "" {
		return clientErr(exc, "%s", msg)
	}
	return nil
}
