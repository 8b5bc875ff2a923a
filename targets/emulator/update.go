package emulator

import (
	"context"
)

func (e *Emulator) opUpdateCustomKeyStore(ctx context.Context, body []byte) (any, *apiError) {
	var in updateStoreInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.str("customKeyStoreId", in.CustomKeyStoreId, true, 1, 64, namedPattern{}, false)
	v.str("newCustomKeyStoreName", in.NewCustomKeyStoreName, false, 1, 256, namedPattern{}, false)
	v.str("keyStorePassword", in.KeyStorePassword, false, 7, 32, namedPattern{}, true)
	v.str("cloudHsmClusterId", in.CloudHsmClusterId, false, 19, 24, patCluster, false)
	v.str("xksProxyUriEndpoint", in.XksProxyUriEndpoint, false, 10, 128, patUriEndpoint, false)
	uriPath := patUriPath
	if e.mut(mutUpdateUriPathUnchecked) {
		uriPath = namedPattern{}
	}
	v.str("xksProxyUriPath", in.XksProxyUriPath, false, 10, 128, uriPath, false)
	v.str("xksProxyVpcEndpointServiceName", in.XksProxyVpcEndpointServiceName, false, 20, 64, patVpcService, false)
	v.str("xksProxyVpcEndpointServiceOwner", in.XksProxyVpcEndpointServiceOwner, false, 12, 12, patAccountID, false)
	validateCredential(&v, in.XksProxyAuthenticationCredential)
	v.enum("xksProxyConnectivity", in.XksProxyConnectivity, false, connPublic, connVPC)
	if err := v.err(); err != nil {
		return nil, err
	}
	hsmParams := in.KeyStorePassword != nil || in.CloudHsmClusterId != nil
	xksParams := in.XksProxyUriEndpoint != nil || in.XksProxyUriPath != nil || in.XksProxyVpcEndpointServiceName != nil ||
		in.XksProxyVpcEndpointServiceOwner != nil || in.XksProxyAuthenticationCredential != nil || in.XksProxyConnectivity != nil
	// Only these may change while CONNECTED: the name, and for XKS the
	// credential and the path. C-1 is read the way the operation doc and
	// the DG read it; the narrower exception text is older.
	onlyLive := (in.KeyStorePassword == nil || e.mut(mutUpdatePasswordLive)) && in.CloudHsmClusterId == nil && in.XksProxyUriEndpoint == nil &&
		in.XksProxyVpcEndpointServiceName == nil && in.XksProxyVpcEndpointServiceOwner == nil && in.XksProxyConnectivity == nil

	e.lock()
	e.settleLocked()
	s := e.st.Stores[*in.CustomKeyStoreId]
	if s == nil {
		e.mu.Unlock()
		return nil, storeNotFound()
	}
	// Parameters of the other store type (U, spec §2.4): ValidationException.
	if s.Type == typeCloudHSM && xksParams {
		e.mu.Unlock()
		return nil, invalid("XksProxy parameters are not valid for a custom key store of type AWS_CLOUDHSM.")
	}
	if s.Type == typeXKS && hsmParams {
		e.mu.Unlock()
		return nil, invalid("KeyStorePassword and CloudHsmClusterId are not valid for a custom key store of type EXTERNAL_KEY_STORE.")
	}
	if !(s.State == stateDisconnected || (s.State == stateConnected && onlyLive)) {
		e.mu.Unlock()
		return nil, clientErr(errStoreInvalidState, "Custom key store %s is in the %s state. Only the name, the XKS proxy credential and the XKS proxy URI path can be changed while it is CONNECTED; every other change requires DISCONNECTED.", s.ID, s.State)
	}
	if in.NewCustomKeyStoreName != nil {
		// Renaming a store to its own name is a no-op (U, spec §2.4).
		if o := e.st.storeByName(*in.NewCustomKeyStoreName); o != nil && o.ID != s.ID && !e.mut(mutUpdateRenameCollides) {
			e.mu.Unlock()
			return nil, clientErr(errStoreNameInUse, "Custom key store name '%s' is already in use in this account and Region.", *in.NewCustomKeyStoreName)
		}
	}
	if s.Type == typeCloudHSM {
		defer e.mu.Unlock()
		return e.updateCloudHSMLocked(s, &in)
	}

	cfg, err := e.newXKSConfigLocked(s, &in)
	if err != nil {
		e.mu.Unlock()
		return nil, err
	}
	state, gen := s.State, s.gen
	e.mu.Unlock()

	// KMS checks the new values with the proxy before accepting them
	// (spec §2.4). A VPC store has no path to its proxy while disconnected,
	// so only a public or a connected store is checked (I).
	if xksParams && (cfg.Connectivity == connPublic || state == stateConnected) && !e.mut(mutUpdateXksCredential) {
		if f := e.xks.health(ctx, cfg, "UpdateCustomKeyStore"); f != nil {
			return nil, f.adminError()
		}
	}

	e.lock()
	defer e.mu.Unlock()
	e.settleLocked()
	if cur := e.st.Stores[s.ID]; cur != s || s.gen != gen {
		// The store changed while the proxy was being asked; the request
		// was checked against a state that no longer exists.
		return nil, clientErr(errStoreInvalidState, "Custom key store %s changed state during the update. Retry the request.", s.ID)
	}
	if in.NewCustomKeyStoreName != nil {
		if o := e.st.storeByName(*in.NewCustomKeyStoreName); o != nil && o.ID != s.ID && !e.mut(mutUpdateRenameCollides) {
			return nil, clientErr(errStoreNameInUse, "Custom key store name '%s' is already in use in this account and Region.", *in.NewCustomKeyStoreName)
		}
	}
	if err := e.xksUniqueLocked(s.ID, cfg); err != nil {
		return nil, err
	}
	if in.NewCustomKeyStoreName != nil {
		s.Name = *in.NewCustomKeyStoreName
	}
	s.applyXKS(cfg)
	if err := e.commitLocked(); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (e *Emulator) updateCloudHSMLocked(s *store, in *updateStoreInput) (any, *apiError) {
	if in.CloudHsmClusterId != nil && *in.CloudHsmClusterId != s.ClusterID {
		id := *in.CloudHsmClusterId
		c := e.st.Clusters[id]
		if c == nil {
			return nil, clientErr(errClusterNotFound, "AWS CloudHSM cluster %s was not found.", id)
		}
		// Related means restored from the same backup history; with no
		// original cluster left, the trust anchor is the remaining proof.
		orig := e.st.Clusters[s.ClusterID]
		related := c.TrustAnchorCertificate == s.TrustAnchor
		if orig != nil {
			related = orig.lineage() == c.lineage()
		}
		if !related {
			return nil, clientErr(errClusterNotRelated, "AWS CloudHSM cluster %s does not share a backup history with the original cluster %s.", id, s.ClusterID)
		}
		if !c.active() {
			return nil, clientErr(errClusterNotActive, "AWS CloudHSM cluster %s is not initialized and active.", id)
		}
		if p := c.creationProblem(); p != "" {
			return nil, clientErr(errClusterInvalidConf, "AWS CloudHSM cluster %s is not configured correctly. %s", id, p)
		}
		s.ClusterID = id
	}
	if in.NewCustomKeyStoreName != nil {
		s.Name = *in.NewCustomKeyStoreName
	}
	if in.KeyStorePassword != nil {
		// KMS stores the password as given; it learns whether it is right
		// only at the next Connect (INVALID_CREDENTIALS).
		s.Password = *in.KeyStorePassword
	}
	if err := e.commitLocked(); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// newXKSConfigLocked applies the requested changes to a copy of the store's
// proxy configuration and checks the connectivity rules of spec §2.4.
func (e *Emulator) newXKSConfigLocked(s *store, in *updateStoreInput) (xksConfig, *apiError) {
	cfg := s.xks()
	if in.XksProxyAuthenticationCredential != nil {
		cfg.AccessKeyID = *in.XksProxyAuthenticationCredential.AccessKeyId
		cfg.Secret = *in.XksProxyAuthenticationCredential.RawSecretAccessKey
	}
	if in.XksProxyUriPath != nil {
		cfg.Path = *in.XksProxyUriPath
	}
	if in.XksProxyUriEndpoint != nil {
		cfg.Endpoint = *in.XksProxyUriEndpoint
	}
	if in.XksProxyConnectivity != nil && *in.XksProxyConnectivity != cfg.Connectivity {
		if in.XksProxyUriEndpoint == nil {
			return cfg, invalid("You must specify a new XksProxyUriEndpoint when you change XksProxyConnectivity.")
		}
		cfg.Connectivity = *in.XksProxyConnectivity
		if cfg.Connectivity == connVPC {
			if in.XksProxyVpcEndpointServiceName == nil {
				return cfg, invalid("XksProxyVpcEndpointServiceName is required when XksProxyConnectivity is VPC_ENDPOINT_SERVICE.")
			}
			cfg.VpcOwner = e.opts.AccountID
		} else if (in.XksProxyVpcEndpointServiceName != nil && *in.XksProxyVpcEndpointServiceName != "") || in.XksProxyVpcEndpointServiceOwner != nil {
			return cfg, invalid("XksProxyVpcEndpointServiceName must be null or empty when XksProxyConnectivity is PUBLIC_ENDPOINT.")
		}
	} else if cfg.Connectivity == connPublic && (in.XksProxyVpcEndpointServiceName != nil || in.XksProxyVpcEndpointServiceOwner != nil) {
		return cfg, invalid("XksProxyVpcEndpointServiceName and XksProxyVpcEndpointServiceOwner are valid only when XksProxyConnectivity is VPC_ENDPOINT_SERVICE.")
	}
	if cfg.Connectivity == connVPC {
		if in.XksProxyVpcEndpointServiceName != nil {
			cfg.VpcService = *in.XksProxyVpcEndpointServiceName
		}
		if in.XksProxyVpcEndpointServiceOwner != nil {
			cfg.VpcOwner = *in.XksProxyVpcEndpointServiceOwner
		}
		if in.XksProxyVpcEndpointServiceName != nil || in.XksProxyVpcEndpointServiceOwner != nil || in.XksProxyUriEndpoint != nil || in.XksProxyConnectivity != nil {
			if err := e.vpcServiceProblemLocked(cfg, false); err != nil {
				return cfg, err
			}
		}
	}
	return cfg, nil
}
