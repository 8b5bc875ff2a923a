package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// ControlServiceName is the SigV4 service name of the control plane when
// the emulator checks signatures (Options.Credentials, serve's
// -verify-sigv4): the request is signed by one of the API's credentials, in
// the emulator's Region, for this service. It differs from "kms", so that a
// signed KMS request is never a control request, and from the XKS proxy's
// control API ("kmsconform-control"), so that neither is the other's.
const ControlServiceName = "kmsconform-emulator-control"

// settleLimit bounds the wait of a control-plane settle.
const settleLimit = 30 * time.Second

// maxControlBody bounds a control request body.
const maxControlBody = 1 << 20

// controlRefusal is a control request refused before or instead of its
// work, with the status that says why.
type controlRefusal struct {
	status int
	msg    string
}

func (c *controlRefusal) Error() string { return "emulator: control plane: " + c.msg }

func refuse(status int, format string, args ...any) *controlRefusal {
	return &controlRefusal{status: status, msg: fmt.Sprintf(format, args...)}
}

// guardControl lets through only control requests that cannot come from a
// web page, and, when the emulator checks signatures, only signed ones. A
// page can make a browser send a simple request (a POST with a text/plain
// body, no preflight) to any address, loopback included, and a DNS
// rebinding makes its own name resolve to 127.0.0.1. So, in this order:
//
//   - the Host must be the address the request came in on (IP:port), a
//     loopback form of its port (localhost, 127.0.0.1, [::1]) or one of
//     Options.ControlHosts: a rebound name is none of them (421);
//   - a request with an Origin header, whatever its value ("null" too, as
//     sandboxed frames and file: pages send it), or with Sec-Fetch-Site
//     cross-site or same-site, comes from a web page (403);
//   - a request with a body, and every request but GET and HEAD, must be
//     Content-Type application/json, which no simple request can carry
//     (415);
//   - under Options.Credentials, the request must be signed (SigV4,
//     ControlServiceName), its SignedHeaders covering host and, when it
//     has one, content-type (403).
//
// Every refusal is a JSON error like the control plane's others, and a
// log line.
func (e *Emulator) guardControl(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// What the log keeps of a request is bounded: it is written before
		// (or instead of) authentication.
		method, path := logTruncate(r.Method, 16), logTruncate(r.URL.Path, 160)
		body, ref := e.admitControl(w, r)
		if ref != nil {
			e.log.Warn("control request refused", "method", method, "path", path, "status", ref.status, "why", ref.msg)
			writeControlError(w, ref.status, ref)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(rec, r)
		e.log.Info("control", "method", method, "path", path, "status", rec.status)
	})
}

// admitControl applies the checks of guardControl and returns the body.
func (e *Emulator) admitControl(w http.ResponseWriter, r *http.Request) ([]byte, *controlRefusal) {
	if !e.controlHostOK(r) {
		return nil, refuse(http.StatusMisdirectedRequest, "the Host %q is not the address this server serves; "+
			"use the address it prints (or a loopback form of it), or accept a name with -control-host", logTruncate(r.Host, 128))
	}
	if o, ok := r.Header["Origin"]; ok {
		return nil, refuse(http.StatusForbidden, "a request with an Origin (%q) comes from a web page; the control plane serves none",
			logTruncate(strings.Join(o, ","), 128))
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s == "cross-site" || s == "same-site" {
		return nil, refuse(http.StatusForbidden, "a %s request comes from a web page; the control plane serves none", s)
	}
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || r.ContentLength != 0 {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			return nil, refuse(http.StatusUnsupportedMediaType, "a %s needs Content-Type: application/json (got %q)",
				logTruncate(r.Method, 16), logTruncate(r.Header.Get("Content-Type"), 64))
		}
	}
	if r.ContentLength > maxControlBody {
		return nil, refuse(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", maxControlBody)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, refuse(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", maxControlBody)
		}
		return nil, refuse(http.StatusBadRequest, "the body could not be read")
	}
	if len(e.opts.Credentials) > 0 {
		var mustSign []string
		if _, ok := r.Header["Content-Type"]; ok {
			mustSign = append(mustSign, "content-type")
		}
		if aerr := e.verifySigV4For(r, body, ControlServiceName, mustSign...); aerr != nil {
			return nil, refuse(http.StatusForbidden, "%s: %s (sign with SigV4 for the service %s in %s, "+
				"e.g. curl --aws-sigv4 \"aws:amz:%s:%s\" --user \"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY\")",
				aerr.Code, aerr.Message, ControlServiceName, e.opts.Region, e.opts.Region, ControlServiceName)
		}
	}
	return body, nil
}

// controlHostOK says whether a request's Host names the address it came in
// on. The port must be that address's port (a Host without one means 80);
// the name must be that address's IP, a loopback name of the port
// (localhost, any loopback IP: never an attacker's name, which is what a
// DNS rebinding needs), or one the operator listed in ControlHosts.
func (e *Emulator) controlHostOK(r *http.Request) bool {
	hostName, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		hostName = r.Host
	}
	for _, h := range e.opts.ControlHosts {
		// An entry with a port matches that Host exactly; one without,
		// the name on any port.
		if strings.EqualFold(h, r.Host) || strings.EqualFold(h, hostName) {
			return true
		}
	}
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if local == nil {
		e.srvMu.Lock()
		if e.ln != nil {
			local = e.ln.Addr()
		}
		e.srvMu.Unlock()
	}
	if local == nil {
		return false
	}
	lhost, lport, err := net.SplitHostPort(local.String())
	if err != nil {
		return false
	}
	name, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		name, port = strings.TrimSuffix(strings.TrimPrefix(r.Host, "["), "]"), "80"
	}
	if port != lport {
		return false
	}
	if strings.EqualFold(name, "localhost") {
		return true
	}
	ip := net.ParseIP(name)
	if ip == nil {
		return false
	}
	lip := net.ParseIP(lhost)
	return ip.IsLoopback() || lip != nil && !lip.IsUnspecified() && ip.Equal(lip)
}

// routeAddrOK refuses, unless AllowRemoteRoutes, a route whose address is
// not loopback: an unauthenticated caller must not be able to send a
// store's signed XKS traffic to another machine. An empty address breaks
// the route and is always allowed.
func (e *Emulator) routeAddrOK(addr string) *controlRefusal {
	if addr == "" || e.opts.AllowRemoteRoutes {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return refuse(http.StatusBadRequest, "the route's addr %q is not host:port", logTruncate(addr, 128))
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return refuse(http.StatusForbidden, "the route's addr %q is not a loopback address; start serve with -allow-remote "+
		"(Options.AllowRemoteRoutes) to route to another host", logTruncate(addr, 128))
}

func writeControlError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// statusRecorder keeps the status of an answer for the log line.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// controlHandler serves the control plane behind guardControl. Bodies are
// JSON; errors are {"error": "..."} with 400, 403, 404, 409, 413, 415 or
// 421. Every path is documented in doc.go.
func (e *Emulator) controlHandler() http.Handler {
	mux := http.NewServeMux()
	p := strings.TrimSuffix(ControlPrefix, "/")
	reply := func(w http.ResponseWriter, v any, err error) {
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			status := http.StatusBadRequest
			var ref *controlRefusal
			if errors.Is(err, ErrNotFound) {
				status = http.StatusNotFound
			} else if errors.As(err, &ref) {
				status = ref.status
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
		ctx, cancel := context.WithTimeout(r.Context(), settleLimit)
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
		if ref := e.routeAddrOK(rt.Addr); ref != nil {
			reply(w, nil, ref)
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
	return e.guardControl(mux)
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
