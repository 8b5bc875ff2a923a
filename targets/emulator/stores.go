package emulator

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
)

const maxStores = 10 // spec §8

type xksCredential struct {
	AccessKeyId        *string
	RawSecretAccessKey *string
}

type createStoreInput struct {
	CustomKeyStoreName               *string
	CloudHsmClusterId                *string
	TrustAnchorCertificate           *string
	KeyStorePassword                 *string
	CustomKeyStoreType               *string
	XksProxyUriEndpoint              *string
	XksProxyUriPath                  *string
	XksProxyVpcEndpointServiceName   *string
	XksProxyVpcEndpointServiceOwner  *string
	XksProxyAuthenticationCredential *xksCredential
	XksProxyConnectivity             *string
}

type updateStoreInput struct {
	CustomKeyStoreId                 *string
	NewCustomKeyStoreName            *string
	KeyStorePassword                 *string
	CloudHsmClusterId                *string
	XksProxyUriEndpoint              *string
	XksProxyUriPath                  *string
	XksProxyVpcEndpointServiceName   *string
	XksProxyVpcEndpointServiceOwner  *string
	XksProxyAuthenticationCredential *xksCredential
	XksProxyConnectivity             *string
}

type storeIDInput struct {
	CustomKeyStoreId *string
}

type describeStoresInput struct {
	CustomKeyStoreId   *string
	CustomKeyStoreName *string
	Limit              *int64
	Marker             *string
}

// storeEntry is CustomKeyStoresListEntry. Secrets have no field here, so
// no code path can return them.
type storeEntry struct {
	CustomKeyStoreId       string
	CustomKeyStoreName     string
	CustomKeyStoreType     string
	ConnectionState        string
	ConnectionErrorCode    string `json:",omitempty"`
	CreationDate           epochTime
	CloudHsmClusterId      string          `json:",omitempty"`
	TrustAnchorCertificate string          `json:",omitempty"`
	XksProxyConfiguration  *xksProxyOutput `json:",omitempty"`
	KeyStorePassword       string          `json:",omitempty"` // never set, but by a mutant
}

type xksProxyOutput struct {
	Connectivity            string
	AccessKeyId             string
	UriEndpoint             string
	UriPath                 string
	VpcEndpointServiceName  string `json:",omitempty"`
	VpcEndpointServiceOwner string `json:",omitempty"`
}

func (s *store) entry() storeEntry {
	out := storeEntry{
		CustomKeyStoreId:   s.ID,
		CustomKeyStoreName: s.Name,
		CustomKeyStoreType: s.Type,
		ConnectionState:    s.State,
		CreationDate:       epochTime(s.Created),
	}
	// ConnectionErrorCode exists only in FAILED (spec §4.2).
	if s.State == stateFailed {
		out.ConnectionErrorCode = s.ErrorCode
	}
	if s.Type == typeCloudHSM {
		out.CloudHsmClusterId = s.ClusterID
		out.TrustAnchorCertificate = s.TrustAnchor
	} else {
		x := &xksProxyOutput{Connectivity: s.Connectivity, AccessKeyId: s.AccessKeyID, UriEndpoint: s.Endpoint, UriPath: s.Path}
		if s.Connectivity == connVPC {
			x.VpcEndpointServiceName, x.VpcEndpointServiceOwner = s.VpcService, s.VpcOwner
		}
		out.XksProxyConfiguration = x
	}
	return out
}

func validateCredential(v *violations, c *xksCredential) {
	if c == nil {
		return
	}
	v.str("xksProxyAuthenticationCredential.accessKeyId", c.AccessKeyId, true, 20, 30, patAccessKeyID, true)
	v.str("xksProxyAuthenticationCredential.rawSecretAccessKey", c.RawSecretAccessKey, true, 43, 64, patSecretKey, true)
}

func (e *Emulator) opCreateCustomKeyStore(ctx context.Context, body []byte) (any, *apiError) {
	var in createStoreInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.str("customKeyStoreName", in.CustomKeyStoreName, true, 1, e.pick(mutNameLengthOffByOne, 255, 256), namedPattern{}, false)
	v.str("cloudHsmClusterId", in.CloudHsmClusterId, false, 19, 24, patCluster, false)
	v.str("trustAnchorCertificate", in.TrustAnchorCertificate, false, 1, 5000, namedPattern{}, false)
	v.str("keyStorePassword", in.KeyStorePassword, false, e.pick(mutPasswordLengthOffByOne, 8, 7), 32, namedPattern{}, true)
	v.enum("customKeyStoreType", in.CustomKeyStoreType, false, typeCloudHSM, typeXKS)
	v.str("xksProxyUriEndpoint", in.XksProxyUriEndpoint, false, 10, 128, patUriEndpoint, false)
	v.str("xksProxyUriPath", in.XksProxyUriPath, false, 10, 128, patUriPath, false)
	v.str("xksProxyVpcEndpointServiceName", in.XksProxyVpcEndpointServiceName, false, 20, 64, patVpcService, false)
	v.str("xksProxyVpcEndpointServiceOwner", in.XksProxyVpcEndpointServiceOwner, false, 12, 12, patAccountID, false)
	validateCredential(&v, in.XksProxyAuthenticationCredential)
	v.enum("xksProxyConnectivity", in.XksProxyConnectivity, false, connPublic, connVPC)
	if err := v.err(); err != nil {
		return nil, err
	}
	typ := typeCloudHSM
	if in.CustomKeyStoreType != nil {
		typ = *in.CustomKeyStoreType
	}
	if typ == typeCloudHSM {
		return e.createCloudHSMStore(&in)
	}
	return e.createXKSStore(ctx, &in)
}

func (e *Emulator) createCloudHSMStore(in *createStoreInput) (any, *apiError) {
	// Parameters of the other store type: the error is U (spec §2.1); a
	// ValidationException naming them is the most plausible answer.
	if in.XksProxyConnectivity != nil || in.XksProxyUriEndpoint != nil || in.XksProxyUriPath != nil ||
		in.XksProxyVpcEndpointServiceName != nil || in.XksProxyVpcEndpointServiceOwner != nil || in.XksProxyAuthenticationCredential != nil {
		return nil, invalid("XksProxy parameters are not valid for a custom key store of type AWS_CLOUDHSM.")
	}
	var missing []string
	if in.CloudHsmClusterId == nil {
		missing = append(missing, "CloudHsmClusterId")
	}
	if in.TrustAnchorCertificate == nil {
		missing = append(missing, "TrustAnchorCertificate")
	}
	if in.KeyStorePassword == nil {
		missing = append(missing, "KeyStorePassword")
	}
	if len(missing) > 0 {
		return nil, invalid("%s is required for a custom key store of type AWS_CLOUDHSM.", strings.Join(missing, ", "))
	}
	name, clusterID, anchor, pw := *in.CustomKeyStoreName, *in.CloudHsmClusterId, *in.TrustAnchorCertificate, *in.KeyStorePassword

	e.lock()
	defer e.mu.Unlock()
	e.settleLocked()
	// The documented idempotent retry wins over every uniqueness error
	// (spec §2.1, §3.3).
	for _, s := range e.st.Stores {
		if s.Type == typeCloudHSM && s.State == stateDisconnected && s.Name == name && s.ClusterID == clusterID &&
			s.TrustAnchor == anchor && s.Password == pw {
			return map[string]string{"CustomKeyStoreId": s.ID}, nil
		}
	}
	if e.st.storeByName(name) != nil && !e.mut(mutCreateDuplicateName) {
		return nil, clientErr(errStoreNameInUse, "Custom key store name '%s' is already in use in this account and Region.", name)
	}
	c := e.st.Clusters[clusterID]
	if c == nil {
		return nil, clientErr(errClusterNotFound, "AWS CloudHSM cluster %s was not found.", clusterID)
	}
	if !c.active() {
		return nil, clientErr(errClusterNotActive, "AWS CloudHSM cluster %s is not initialized and active.", clusterID)
	}
	for _, s := range e.st.Stores {
		if s.Type != typeCloudHSM {
			continue
		}
		other := e.st.Clusters[s.ClusterID]
		if (s.ClusterID == clusterID || (other != nil && other.lineage() == c.lineage())) && !e.mut(mutCreateClusterInUse) {
			return nil, clientErr(errClusterInUse, "AWS CloudHSM cluster %s is already associated with a custom key store or shares a backup history with one.", clusterID)
		}
	}
	if c.TrustAnchorCertificate != anchor && !e.mut(mutCreateTrustAnchor) {
		return nil, clientErr(errIncorrectTrust, "The trust anchor certificate does not match the trust anchor certificate of AWS CloudHSM cluster %s.", clusterID)
	}
	if p := c.creationProblem(); p != "" {
		return nil, clientErr(errClusterInvalidConf, "AWS CloudHSM cluster %s is not configured correctly. %s", clusterID, p)
	}
	// The quota comes after the content checks: a request that would fail
	// anyway should say why (U; spec §3.3 leaves the order open).
	if len(e.st.Stores) >= e.storeQuota() {
		return nil, clientErr(errLimitExceeded, "You have reached the limit of %d custom key stores in this account and Region.", maxStores)
	}
	s := e.newStoreLocked(name, typeCloudHSM)
	s.ClusterID, s.TrustAnchor, s.Password = clusterID, anchor, pw
	if err := e.commitLocked(); err != nil {
		return nil, err
	}
	return map[string]string{"CustomKeyStoreId": s.ID}, nil
}

func (e *Emulator) newStoreLocked(name, typ string) *store {
	e.st.Seq++
	s := &store{
		ID:      "cks-" + randomHex(17),
		Name:    name,
		Type:    typ,
		Seq:     e.st.Seq,
		Created: e.clock.Now(),
		State:   stateDisconnected,
	}
	e.st.Stores[s.ID] = s
	return s
}

// xksConfig is the proxy-related part of an XKS store, as requested.
type xksConfig struct {
	Connectivity, Endpoint, Path, VpcService, VpcOwner, AccessKeyID, Secret string
}

func (e *Emulator) createXKSStore(ctx context.Context, in *createStoreInput) (any, *apiError) {
	if in.CloudHsmClusterId != nil || in.TrustAnchorCertificate != nil || in.KeyStorePassword != nil {
		return nil, invalid("CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword are not valid for a custom key store of type EXTERNAL_KEY_STORE.")
	}
	var missing []string
	if in.XksProxyConnectivity == nil {
		missing = append(missing, "XksProxyConnectivity")
	}
	if in.XksProxyUriEndpoint == nil {
		missing = append(missing, "XksProxyUriEndpoint")
	}
	if in.XksProxyUriPath == nil {
		missing = append(missing, "XksProxyUriPath")
	}
	if in.XksProxyAuthenticationCredential == nil {
		missing = append(missing, "XksProxyAuthenticationCredential")
	}
	if len(missing) > 0 {
		return nil, invalid("%s is required for a custom key store of type EXTERNAL_KEY_STORE.", strings.Join(missing, ", "))
	}
	cfg := xksConfig{
		Connectivity: *in.XksProxyConnectivity,
		Endpoint:     *in.XksProxyUriEndpoint,
		Path:         *in.XksProxyUriPath,
		AccessKeyID:  *in.XksProxyAuthenticationCredential.AccessKeyId,
		Secret:       *in.XksProxyAuthenticationCredential.RawSecretAccessKey,
	}
	if cfg.Connectivity == connVPC {
		if in.XksProxyVpcEndpointServiceName == nil {
			return nil, invalid("XksProxyVpcEndpointServiceName is required when XksProxyConnectivity is VPC_ENDPOINT_SERVICE.")
		}
		cfg.VpcService = *in.XksProxyVpcEndpointServiceName
		cfg.VpcOwner = e.opts.AccountID
		if in.XksProxyVpcEndpointServiceOwner != nil {
			cfg.VpcOwner = *in.XksProxyVpcEndpointServiceOwner
		}
	} else if in.XksProxyVpcEndpointServiceName != nil || in.XksProxyVpcEndpointServiceOwner != nil {
		return nil, invalid("XksProxyVpcEndpointServiceName and XksProxyVpcEndpointServiceOwner are valid only when XksProxyConnectivity is VPC_ENDPOINT_SERVICE.")
	}
	name := *in.CustomKeyStoreName

	// Checks that need no network run first, under the lock; the health
	// check runs without it; then everything is checked again, because
	// another request may have taken the name or the URI meanwhile.
	check := func() *apiError {
		if e.st.storeByName(name) != nil && !e.mut(mutCreateXksDuplicateName) {
			return clientErr(errStoreNameInUse, "Custom key store name '%s' is already in use in this account and Region.", name)
		}
		if err := e.xksUniqueLocked("", cfg); err != nil {
			return err
		}
		if cfg.Connectivity == connVPC {
			if err := e.vpcServiceProblemLocked(cfg, false); err != nil {
				return err
			}
		}
		if len(e.st.Stores) >= e.storeQuota() {
			return clientErr(errLimitExceeded, "You have reached the limit of %d custom key stores in this account and Region.", maxStores)
		}
		return nil
	}
	e.lock()
	e.settleLocked()
	err := check()
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	// Only a public endpoint is reachable before Connect builds the VPC
	// interface endpoint (spec §2.1).
	if cfg.Connectivity == connPublic {
		if f := e.xks.health(ctx, cfg, "CreateCustomKeyStore"); f != nil {
			return nil, f.adminError()
		}
	}
	e.lock()
	defer e.mu.Unlock()
	e.settleLocked()
	if err := check(); err != nil {
		return nil, err
	}
	s := e.newStoreLocked(name, typeXKS)
	s.applyXKS(cfg)
	if err := e.commitLocked(); err != nil {
		return nil, err
	}
	return map[string]string{"CustomKeyStoreId": s.ID}, nil
}

func (s *store) applyXKS(c xksConfig) {
	s.Connectivity, s.Endpoint, s.Path = c.Connectivity, c.Endpoint, c.Path
	s.VpcService, s.VpcOwner = c.VpcService, c.VpcOwner
	s.AccessKeyID, s.Secret = c.AccessKeyID, c.Secret
	if c.Connectivity != connVPC {
		s.VpcService, s.VpcOwner = "", ""
	}
}

func (s *store) xks() xksConfig {
	return xksConfig{Connectivity: s.Connectivity, Endpoint: s.Endpoint, Path: s.Path, VpcService: s.VpcService,
		VpcOwner: s.VpcOwner, AccessKeyID: s.AccessKeyID, Secret: s.Secret}
}

// xksUniqueLocked applies the URI uniqueness rules of spec §2.1 against
// every XKS store but self.
func (e *Emulator) xksUniqueLocked(self string, c xksConfig) *apiError {
	for _, o := range e.st.Stores {
		if o.ID == self || o.Type != typeXKS {
			continue
		}
		if o.Endpoint == c.Endpoint && o.Path == c.Path {
			return clientErr(errXksUriInUse, "The URI %s%s is already associated with another external key store in this Region.", c.Endpoint, c.Path)
		}
		// Two public stores may share an endpoint with different paths;
		// anything involving a VPC store may not.
		if o.Endpoint == c.Endpoint && (o.Connectivity == connVPC || c.Connectivity == connVPC) {
			return clientErr(errXksEndpointInUse, "The URI endpoint %s is already associated with another external key store in this Region.", c.Endpoint)
		}
		if c.Connectivity == connVPC && o.Connectivity == connVPC && o.VpcService == c.VpcService {
			return clientErr(errXksVpcSvcInUse, "The VPC endpoint service %s is already associated with another external key store in this Region.", c.VpcService)
		}
	}
	return nil
}

// withStore decodes and checks the CustomKeyStoreId of a store operation,
// and runs fn on the store under the lock, after due transitions settled.
func (e *Emulator) withStore(body []byte, anyLength bool, fn func(s *store) (any, *apiError)) (any, *apiError) {
	var in storeIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	if anyLength {
		v.str("customKeyStoreId", in.CustomKeyStoreId, true, 0, 0, namedPattern{}, false)
	} else {
		v.str("customKeyStoreId", in.CustomKeyStoreId, true, 1, 64, namedPattern{}, false)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	e.lock()
	defer e.mu.Unlock()
	e.settleLocked()
	s := e.st.Stores[*in.CustomKeyStoreId]
	if s == nil {
		return nil, storeNotFound()
	}
	return fn(s)
}

func (e *Emulator) opConnectCustomKeyStore(ctx context.Context, body []byte) (any, *apiError) {
	return e.withStore(body, false, func(s *store) (any, *apiError) {
		switch s.State {
		case stateConnecting, stateConnected:
			// Valid per the exception text; a no-op (spec §3, C-3: the DG's
			// "must be DISCONNECTED" is read as advice, not a rejection).
			return struct{}{}, nil
		case stateDisconnecting, stateFailed:
			switch {
			case s.State == stateFailed && e.mut(mutConnectFromFailed):
			case s.State == stateDisconnecting && e.mut(mutConnectDisconnecting):
				return struct{}{}, nil
			case s.State == stateFailed && e.mut(mutConnectWrongException):
				return nil, clientErr(errKMSInvalidState, "Custom key store %s is in the %s state.", s.ID, s.State)
			default:
				return nil, clientErr(errStoreInvalidState, "Custom key store %s is in the %s state. To connect it, it must be DISCONNECTED.", s.ID, s.State)
			}
		}
		if s.Type == typeCloudHSM {
			// The "easily detected" configuration errors are synchronous and
			// leave the store DISCONNECTED (spec §2.2). A missing cluster or no
			// active HSM surface asynchronously, as CLUSTER_NOT_FOUND and
			// INSUFFICIENT_CLOUDHSM_HSMS (C-11: the specific error code exists
			// for exactly that condition).
			if c := e.st.Clusters[s.ClusterID]; c != nil {
				if !c.active() {
					return nil, clientErr(errClusterNotActive, "AWS CloudHSM cluster %s is not initialized and active.", c.ID)
				}
				if p := c.networkProblem(); p != "" {
					return nil, clientErr(errClusterInvalidConf, "AWS CloudHSM cluster %s is not configured correctly. %s", c.ID, p)
				}
			}
		}
		s.setState(stateConnecting, "", "")
		s.Due = e.clock.Now().Add(e.opts.ConnectDuration)
		if e.mut(mutConnectSkipsConnecting) && s.Type == typeCloudHSM {
			s.setState(stateConnected, "", "")
		}
		if err := e.commitLocked(); err != nil {
			return nil, err
		}
		if e.mut(mutConnectAnswersBody) {
			return map[string]any{"CustomKeyStoreId": s.ID, "ConnectionState": s.State}, nil
		}
		return struct{}{}, nil
	})
}

func (e *Emulator) opDisconnectCustomKeyStore(ctx context.Context, body []byte) (any, *apiError) {
	return e.withStore(body, e.mut(mutDisconnectIDAnyLength), func(s *store) (any, *apiError) {
		switch s.State {
		case stateDisconnected, stateDisconnecting:
			if s.State == stateDisconnected && e.mut(mutDisconnectTwice) {
				return struct{}{}, nil
			}
			return nil, clientErr(errStoreInvalidState, "Custom key store %s is in the %s state and cannot be disconnected.", s.ID, s.State)
		case stateFailed:
			// Nothing is connected, so there is nothing to tear down: the store
			// is DISCONNECTED at once and the error code goes (spec §3, I).
			if e.mut(mutDisconnectLeavesFailed) {
				return struct{}{}, nil
			}
			s.setState(stateDisconnected, "", "")
		default:
			s.setState(stateDisconnecting, "", "")
			s.Due = e.clock.Now().Add(e.opts.DisconnectDuration)
			if e.mut(mutDisconnectSkips) {
				e.endSessionLocked(s)
				s.setState(stateDisconnected, "", "")
			}
		}
		if err := e.commitLocked(); err != nil {
			return nil, err
		}
		return struct{}{}, nil
	})
}

func (e *Emulator) opDeleteCustomKeyStore(ctx context.Context, body []byte) (any, *apiError) {
	return e.withStore(body, false, func(s *store) (any, *apiError) {
		// State before keys: U (spec §3.3); the state check is the cheaper one
		// and the usual AWS order.
		if s.State != stateDisconnected && !(s.State == stateConnected && e.mut(mutDeleteWhileConnected)) {
			return nil, clientErr(errStoreInvalidState, "Custom key store %s is in the %s state. To delete it, it must be DISCONNECTED.", s.ID, s.State)
		}
		for _, k := range e.st.Keys {
			// PendingDeletion keys still exist, so they still count (spec §2.5, I).
			if k.StoreID == s.ID && !e.mut(mutDeleteWithKeys) {
				return nil, clientErr(errStoreHasCMKs, "Custom key store %s contains KMS keys. Delete them before deleting the key store.", s.ID)
			}
		}
		delete(e.st.Stores, s.ID)
		if err := e.commitLocked(); err != nil {
			return nil, err
		}
		return struct{}{}, nil
	})
}

func (e *Emulator) opDescribeCustomKeyStores(ctx context.Context, body []byte) (any, *apiError) {
	var in describeStoresInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.str("customKeyStoreId", in.CustomKeyStoreId, false, 1, 64, namedPattern{}, false)
	v.str("customKeyStoreName", in.CustomKeyStoreName, false, 1, 256, namedPattern{}, false)
	v.intRange("limit", in.Limit, false, 1, 1000)
	v.str("marker", in.Marker, false, 1, 1024, patMarker, false)
	if err := v.err(); err != nil {
		return nil, err
	}
	if in.CustomKeyStoreId != nil && in.CustomKeyStoreName != nil {
		// U (spec §2.6): AWS documents the two as alternatives.
		return nil, invalid("You can specify either CustomKeyStoreId or CustomKeyStoreName, but not both.")
	}
	start := int64(0)
	if in.Marker != nil {
		n, err := strconv.ParseInt(strings.TrimPrefix(*in.Marker, "m"), 10, 64)
		if (err != nil || !strings.HasPrefix(*in.Marker, "m") || n < 1) && !e.mut(mutDescribeAnyMarker) {
			return nil, clientErr(errInvalidMarker, "The marker %s is not valid.", *in.Marker)
		}
		start = n
	}
	limit := 100
	if in.Limit != nil && !e.mut(mutDescribeIgnoresLimit) {
		limit = int(*in.Limit)
	}
	e.lock()
	defer e.mu.Unlock()
	e.settleLocked()
	var match []*store
	for _, s := range e.st.storesInOrder() {
		switch {
		case in.CustomKeyStoreId != nil && s.ID != *in.CustomKeyStoreId:
		case in.CustomKeyStoreName != nil && s.Name != *in.CustomKeyStoreName:
		default:
			match = append(match, s)
		}
	}
	if len(match) == 0 && (in.CustomKeyStoreId != nil || in.CustomKeyStoreName != nil) {
		return nil, storeNotFound()
	}
	type output struct {
		CustomKeyStores []storeEntry
		NextMarker      string `json:",omitempty"`
		Truncated       bool
	}
	out := output{CustomKeyStores: []storeEntry{}}
	for _, s := range match {
		if s.Seq < start {
			continue
		}
		if len(out.CustomKeyStores) == limit {
			out.Truncated = true
			out.NextMarker = "m" + strconv.FormatInt(s.Seq, 10)
			break
		}
		en := s.entry()
		if e.mut(mutCreationDateNow) {
			en.CreationDate = epochTime(e.clock.Now())
		}
		if e.mut(mutDescribeLeaksPassword) {
			en.KeyStorePassword = s.Password
		}
		out.CustomKeyStores = append(out.CustomKeyStores, en)
	}
	return out, nil
}

func decode(body []byte, v any) *apiError {
	if len(strings.TrimSpace(string(body))) == 0 {
		// An empty body is read as an input with no members (U): the SDK
		// always sends "{}", and nothing is gained by refusing curl users.
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return clientErr(errSerialization, "%s", serializationMessage(err))
	}
	return nil
}

// serializationMessage describes a JSON error without quoting the request,
// which could contain a secret.
func serializationMessage(err error) string {
	var te *json.UnmarshalTypeError
	if asErr(err, &te) {
		if te.Field != "" {
			return "Unexpected value type for member " + te.Field + ": expected " + te.Type.String() + ", found " + te.Value + "."
		}
		return "Start of structure or map found where not expected."
	}
	if strings.Contains(err.Error(), "illegal base64") {
		return "Invalid base64 in a blob member."
	}
	return "The request body is not valid JSON."
}
