package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// controlHandler serves the control plane. Bodies are JSON; errors are
// {"error": "..."} with 400, 404 or 409. Every path is documented in doc.go.
func (e *Emulator) controlHandler() http.Handler {
	mux := http.NewServeMux()
	p := strings.TrimSuffix(ControlPrefix, "/")
	reply := func(w http.ResponseWriter, v any, err error) {
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, ErrNotFound) {
				status = http.StatusNotFound
			}
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		if v == nil {
			v = map[string]any{}
		}
		_ = json.NewEncoder(w).Encode(v)
	}
	body := func(r *http.Request, v any) error {
		dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
		if err := dec.Decode(v); err != nil {
			return fmt.Errorf("emulator: control request body: %w", err)
		}
		return nil
	}
	mux.HandleFunc("POST "+p+"/reset", func(w http.ResponseWriter, r *http.Request) { reply(w, nil, e.Reset()) })
	mux.HandleFunc("POST "+p+"/clock/advance", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Seconds float64 `json:"seconds"`
		}
		if err := body(r, &in); err != nil {
			reply(w, nil, err)
			return
		}
		if err := e.Advance(time.Duration(in.Seconds * float64(time.Second))); err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		reply(w, nil, nil)
	})
	mux.HandleFunc("GET "+p+"/stores/{id}", func(w http.ResponseWriter, r *http.Request) {
		st, err := e.Store(r.PathValue("id"))
		reply(w, st, err)
	})
	mux.HandleFunc("POST "+p+"/stores/{id}/hold", func(w http.ResponseWriter, r *http.Request) { reply(w, nil, e.Hold(r.PathValue("id"))) })
	mux.HandleFunc("POST "+p+"/stores/{id}/release", func(w http.ResponseWriter, r *http.Request) { reply(w, nil, e.Release(r.PathValue("id"))) })
	mux.HandleFunc("POST "+p+"/stores/{id}/settle", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		st, err := e.Settle(ctx, r.PathValue("id"))
		reply(w, st, err)
	})
	mux.HandleFunc("POST "+p+"/stores/{id}/expedite", func(w http.ResponseWriter, r *http.Request) { reply(w, nil, e.Expedite(r.PathValue("id"))) })
	mux.HandleFunc("PUT "+p+"/clusters/{id}", func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
		if err != nil {
			reply(w, nil, fmt.Errorf("emulator: control request body: %w", err))
			return
		}
		c, err := decodeClusterBody(raw)
		if err != nil {
			reply(w, nil, err)
			return
		}
		c.ID = r.PathValue("id")
		reply(w, nil, e.PutCluster(c))
	})
	mux.HandleFunc("GET "+p+"/clusters/{id}", func(w http.ResponseWriter, r *http.Request) {
		c, err := e.Cluster(r.PathValue("id"))
		reply(w, c, err)
	})
	mux.HandleFunc("DELETE "+p+"/clusters/{id}", func(w http.ResponseWriter, r *http.Request) { reply(w, nil, e.DeleteCluster(r.PathValue("id"))) })
	mux.HandleFunc("POST "+p+"/clusters/{id}/kmsuser-password", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Password string `json:"password"`
		}
		if err := body(r, &in); err != nil {
			reply(w, nil, err)
			return
		}
		reply(w, nil, e.SetKmsUserPassword(r.PathValue("id"), in.Password))
	})
	mux.HandleFunc("PUT "+p+"/vpc-endpoint-services/{name}", func(w http.ResponseWriter, r *http.Request) {
		var s VpcEndpointService
		if err := body(r, &s); err != nil {
			reply(w, nil, err)
			return
		}
		s.Name = r.PathValue("name")
		reply(w, nil, e.PutVpcEndpointService(&s))
	})
	mux.HandleFunc("DELETE "+p+"/vpc-endpoint-services/{name}", func(w http.ResponseWriter, r *http.Request) {
		reply(w, nil, e.DeleteVpcEndpointService(r.PathValue("name")))
	})
	mux.HandleFunc("PUT "+p+"/xks-routes/{host}", func(w http.ResponseWriter, r *http.Request) {
		var rt XKSRoute
		if err := body(r, &rt); err != nil {
			reply(w, nil, err)
			return
		}
		reply(w, nil, e.RouteXKS(r.PathValue("host"), rt))
	})
	mux.HandleFunc("POST "+p+"/xks-routes/{host}/break", func(w http.ResponseWriter, r *http.Request) { reply(w, nil, e.BreakXKS(r.PathValue("host"))) })
	mux.HandleFunc("PUT "+p+"/keys/{id}/backing", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Deleted bool `json:"deleted"`
		}
		if err := body(r, &in); err != nil {
			reply(w, nil, err)
			return
		}
		reply(w, nil, e.SetBackingKeyDeleted(r.PathValue("id"), in.Deleted))
	})
	mux.HandleFunc("POST "+p+"/keys/{id}/expire-deletion", func(w http.ResponseWriter, r *http.Request) {
		reply(w, nil, e.ExpireKeyDeletion(r.PathValue("id")))
	})
	return mux
}

// clusterFields are the fields of a cluster body KMS's checks read: a body
// without one of them describes a cluster that can never connect, so the
// control plane refuses it rather than store it. A field given explicitly
// is taken as it is, so a test can still register a broken cluster on
// purpose ("kmsUser": null, "hsms": [], "securityGroupOk": false).
var clusterFields = []string{"trustAnchorCertificate", "state", "hsms", "subnets", "securityGroupOk", "kmsUser"}

// clusterStates are the CloudHSM cluster states (DescribeClusters); only
// ACTIVE serves KMS, but the others are what a test breaks a cluster with.
var clusterStates = []string{"CREATE_IN_PROGRESS", "UNINITIALIZED", "INITIALIZE_IN_PROGRESS", "INITIALIZED", "ACTIVE",
	"UPDATE_IN_PROGRESS", "MODIFY_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "DELETE_IN_PROGRESS", "DELETED", "DEGRADED", "INACTIVE"}

// ExampleClusterBody is a PUT /_kmsconform/clusters/{id} body of a healthy
// cluster, quoted by the 400 for an incomplete one. The trust anchor must
// be the PEM the store is created with, byte for byte.
const ExampleClusterBody = `{"trustAnchorCertificate":"-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n","state":"ACTIVE",` +
	`"hsms":[{"id":"hsm-aaaaaaaaaaa","availabilityZone":"us-east-1a","state":"ACTIVE"},{"id":"hsm-bbbbbbbbbbb","availabilityZone":"us-east-1b","state":"ACTIVE"}],` +
	`"subnets":[{"id":"subnet-aaaaaaaaaaaaaaaaa","availabilityZone":"us-east-1a","private":true,"freeAddresses":10},` +
	`{"id":"subnet-bbbbbbbbbbbbbbbbb","availabilityZone":"us-east-1b","private":true,"freeAddresses":10}],` +
	`"securityGroupOk":true,"kmsUser":{"password":"kmsuserPassword1"}}`

// decodeClusterBody reads a cluster body of the control plane, refusing
// one that leaves out what a cluster needs, an unknown field (a typo would
// otherwise leave a default that never connects) or an unknown state.
func decodeClusterBody(raw []byte) (*Cluster, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("emulator: control request body: %w", err)
	}
	var missing []string
	for _, f := range clusterFields {
		if _, ok := fields[f]; !ok {
			missing = append(missing, f)
		}
	}
	if u, ok := fields["kmsUser"]; ok && !bytes.Equal(bytes.TrimSpace(u), []byte("null")) {
		var ku map[string]json.RawMessage
		if json.Unmarshal(u, &ku) == nil {
			if _, ok := ku["password"]; !ok {
				missing = append(missing, "kmsUser.password")
			}
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("emulator: the cluster body is missing %s: a cluster KMS can connect to needs "+
			"trustAnchorCertificate, state, hsms, subnets, securityGroupOk and kmsUser.password, e.g. %s "+
			"(to register a broken cluster on purpose, give the field explicitly, e.g. \"kmsUser\": null)",
			strings.Join(missing, ", "), ExampleClusterBody)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c Cluster
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("emulator: control request body: %w", err)
	}
	if c.TrustAnchorCertificate == "" {
		return nil, errors.New("emulator: the cluster body's trustAnchorCertificate is empty: give the PEM the key store is created with")
	}
	if !slices.Contains(clusterStates, c.State) {
		return nil, fmt.Errorf("emulator: the cluster body's state %q is not a CloudHSM cluster state (%s); KMS needs ACTIVE",
			c.State, strings.Join(clusterStates, ", "))
	}
	return &c, nil
}
