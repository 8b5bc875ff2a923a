package xksproxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// ControlPrefix is the path prefix of the control API.
const ControlPrefix = "/kmsconform/control/v1"

// maxControlBodyBytes bounds a control request's body, which is read
// before its signature is checked. The largest real one, a deny-rule
// list, is a few hundred bytes per rule.
const maxControlBodyBytes = 64 << 10

// ControlHandler is the HTTP control API. Every request must be signed
// with SigV4 by one of the proxy's credentials for service
// ControlServiceName (any Region), e.g.
//
//	curl --aws-sigv4 "aws:amz:us-east-1:kmsconform-control" --user "$AKID:$SECRET" \
//	  -X PUT -d '{"fault":"throttling"}' http://127.0.0.1:8444/kmsconform/control/v1/fault
//
// Bodies and answers are JSON; errors use the XKS error format. Routes,
// below ControlPrefix:
//
//	GET    /status                     endpoint, path, access key ids, faults
//	GET    /ca.pem                     the CA certificate (PEM)
//	GET    /keys                       list keys
//	POST   /keys                       create {"keyId","keySpec"?,"keyUsage"?,"keyStatus"?}
//	GET    /keys/{id}                  one key
//	PATCH  /keys/{id}                  change {"keySpec"?,"keyUsage"?,"keyStatus"?}
//	DELETE /keys/{id}                  delete
//	PUT    /fault                      proxy-wide fault {"fault":"slow"}
//	DELETE /fault                      clear the proxy-wide fault
//	PUT    /keys/{id}/fault            key fault {"fault":"internal"}
//	DELETE /keys/{id}/fault            clear a key fault
//	DELETE /faults                     clear every fault
//	GET    /requests                   recorded requests (see Request; bounded by MaxRecorded and MaxRecordedBytes)
//	DELETE /requests                   forget them
//	GET    /deny-rules                 authorization rules
//	PUT    /deny-rules                 replace them: [{"awsPrincipalArn"?,"kmsOperation"?,"operation"?,"keyId"?}]
//	GET    /credentials                accepted access key ids (never secrets)
//	POST   /credentials                add {"accessKeyId","secretAccessKey"}
//	DELETE /credentials/{accessKeyId}  remove
//
// The Go methods of Proxy do the same without HTTP.
func (p *Proxy) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, f func(http.ResponseWriter, *http.Request, []byte) (any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBodyBytes))
			if err != nil {
				var tooBig *http.MaxBytesError
				if !errors.As(err, &tooBig) {
					panic(http.ErrAbortHandler) // client gone or too slow: nobody to answer
				}
				e := xksErr(ErrValidation, "request body exceeds "+strconv.Itoa(maxControlBodyBytes)+" bytes")
				e.status = http.StatusRequestEntityTooLarge
				writeError(w, e)
				return
			}
			if _, e := p.ctlAuth.verify(r, body); e != nil {
				writeError(w, e)
				return
			}
			out, err := f(w, r, body)
			if errors.Is(err, errWritten) {
				return
			}
			if err != nil {
				var xe *Error
				if !errors.As(err, &xe) {
					xe = ctlErr(err)
				}
				writeError(w, xe)
				return
			}
			if out == nil {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			writeJSON(w, http.StatusOK, out)
		})
	}
	pre := ControlPrefix
	h("GET "+pre+"/status", func(http.ResponseWriter, *http.Request, []byte) (any, error) {
		return p.status(), nil
	})
	h("GET "+pre+"/ca.pem", func(w http.ResponseWriter, _ *http.Request, _ []byte) (any, error) {
		if p.certs == nil {
			return nil, xksErr(ErrKeyNotFound, "plain HTTP proxy has no CA")
		}
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(p.certs.caPEM)
		return nil, errWritten
	})
	h("GET "+pre+"/keys", func(http.ResponseWriter, *http.Request, []byte) (any, error) {
		return p.keys.List(), nil
	})
	h("POST "+pre+"/keys", func(_ http.ResponseWriter, _ *http.Request, body []byte) (any, error) {
		var in struct {
			KeyID string `json:"keyId"`
			keyPatch
		}
		if err := strictJSON(body, &in); err != nil {
			return nil, err
		}
		return p.keys.Create(in.KeyID, KeyOptions{Spec: in.Spec, Usage: in.Usage, Status: in.Status})
	})
	h("GET "+pre+"/keys/{id}", func(_ http.ResponseWriter, r *http.Request, _ []byte) (any, error) {
		k, ok := p.keys.Get(r.PathValue("id"))
		if !ok {
			return nil, ErrNoSuchKey
		}
		return k, nil
	})
	h("PATCH "+pre+"/keys/{id}", func(_ http.ResponseWriter, r *http.Request, body []byte) (any, error) {
		var in keyPatch
		if err := strictJSON(body, &in); err != nil {
			return nil, err
		}
		id := r.PathValue("id")
		if _, ok := p.keys.Get(id); !ok {
			return nil, ErrNoSuchKey
		}
		if in.Spec != "" {
			if err := p.keys.SetSpec(id, in.Spec); err != nil {
				return nil, err
			}
		}
		if in.Usage != nil {
			if err := p.keys.SetUsage(id, in.Usage); err != nil {
				return nil, err
			}
		}
		if in.Status != "" {
			if err := p.keys.SetStatus(id, in.Status); err != nil {
				return nil, err
			}
		}
		k, _ := p.keys.Get(id)
		return k, nil
	})
	h("DELETE "+pre+"/keys/{id}", func(_ http.ResponseWriter, r *http.Request, _ []byte) (any, error) {
		return nil, p.keys.Delete(r.PathValue("id"))
	})
	h("PUT "+pre+"/fault", func(_ http.ResponseWriter, _ *http.Request, body []byte) (any, error) {
		var in struct {
			Fault Fault `json:"fault"`
		}
		if err := strictJSON(body, &in); err != nil {
			return nil, err
		}
		return nil, p.SetFault(in.Fault)
	})
	h("DELETE "+pre+"/fault", func(http.ResponseWriter, *http.Request, []byte) (any, error) {
		return nil, p.SetFault(FaultNone)
	})
	h("PUT "+pre+"/keys/{id}/fault", func(_ http.ResponseWriter, r *http.Request, body []byte) (any, error) {
		var in struct {
			Fault Fault `json:"fault"`
		}
		if err := strictJSON(body, &in); err != nil {
			return nil, err
		}
		return nil, p.SetKeyFault(r.PathValue("id"), in.Fault)
	})
	h("DELETE "+pre+"/keys/{id}/fault", func(_ http.ResponseWriter, r *http.Request, _ []byte) (any, error) {
		return nil, p.SetKeyFault(r.PathValue("id"), FaultNone)
	})
	h("DELETE "+pre+"/faults", func(http.ResponseWriter, *http.Request, []byte) (any, error) {
		return nil, p.ClearFaults()
	})
	h("GET "+pre+"/requests", func(http.ResponseWriter, *http.Request, []byte) (any, error) {
		return p.Requests(), nil
	})
	h("DELETE "+pre+"/requests", func(http.ResponseWriter, *http.Request, []byte) (any, error) {
		p.ResetRequests()
		return nil, nil
	})
	h("GET "+pre+"/deny-rules", func(http.ResponseWriter, *http.Request, []byte) (any, error) {
		return nonNil(p.DenyRules()), nil
	})
	h("PUT "+pre+"/deny-rules", func(_ http.ResponseWriter, _ *http.Request, body []byte) (any, error) {
		var in []DenyRule
		if err := strictJSON(body, &in); err != nil {
			return nil, err
		}
		p.SetDenyRules(in)
		return nil, nil
	})
	h("GET "+pre+"/credentials", func(http.ResponseWriter, *http.Request, []byte) (any, error) {
		return p.accessKeyIDs(), nil
	})
	h("POST "+pre+"/credentials", func(_ http.ResponseWriter, _ *http.Request, body []byte) (any, error) {
		var in struct {
			AccessKeyID     string `json:"accessKeyId"`
			SecretAccessKey string `json:"secretAccessKey"`
		}
		if err := strictJSON(body, &in); err != nil {
			return nil, err
		}
		return nil, p.AddCredential(Credential{AccessKeyID: in.AccessKeyID, SecretAccessKey: in.SecretAccessKey})
	})
	h("DELETE "+pre+"/credentials/{akid}", func(_ http.ResponseWriter, r *http.Request, _ []byte) (any, error) {
		return nil, p.RemoveCredential(r.PathValue("akid"))
	})
	return controlFallback{mux}
}

// errWritten tells the route wrapper the handler already answered.
var errWritten = errors.New("written")

type keyPatch struct {
	Spec   string   `json:"keySpec"`
	Usage  []string `json:"keyUsage"`
	Status string   `json:"keyStatus"`
}

// Status is the control API's summary of the proxy.
type Status struct {
	URIEndpoint  string           `json:"uriEndpoint"`
	URIPath      string           `json:"uriPath"`
	AccessKeyIDs []string         `json:"accessKeyIds"`
	Fault        Fault            `json:"fault,omitempty"`
	KeyFaults    map[string]Fault `json:"keyFaults"`
	Keys         int              `json:"keys"`
	Faults       []Fault          `json:"availableFaults"`
	// RecordedRequests and RecordedBytes are what the request ring holds.
	RecordedRequests int   `json:"recordedRequests"`
	RecordedBytes    int64 `json:"recordedBytes"`
}

func (p *Proxy) status() Status {
	n, b := p.rec.stats()
	return Status{
		URIEndpoint:  p.URIEndpoint(),
		URIPath:      p.uriPath,
		AccessKeyIDs: p.accessKeyIDs(),
		Fault:        p.Fault(),
		KeyFaults:    p.KeyFaults(),
		Keys:         len(p.keys.List()),
		Faults:       Faults(),

		RecordedRequests: n,
		RecordedBytes:    b,
	}
}

func (p *Proxy) accessKeyIDs() []string {
	out := []string{}
	for _, c := range p.Credentials() {
		out = append(out, c.AccessKeyID)
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// strictJSON refuses unknown fields: a typo in a control request should
// fail loudly rather than silently do nothing.
func strictJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return xksErr(ErrValidation, "request body: "+err.Error())
	}
	return nil
}

func ctlErr(err error) *Error {
	if errors.Is(err, ErrNoSuchKey) {
		return xksErr(ErrKeyNotFound, err.Error())
	}
	return xksErr(ErrValidation, err.Error())
}

// controlFallback answers unknown control paths in the XKS error format
// instead of the mux's plain-text 404/405.
type controlFallback struct{ mux *http.ServeMux }

func (c controlFallback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := c.mux.Handler(r); pattern == "" {
		e := xksErr(ErrInvalidURIPath, "no control route "+r.Method+" "+r.URL.Path)
		probe := r.Clone(r.Context())
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			probe.Method = m
			if _, pat := c.mux.Handler(probe); pat != "" {
				e.status = http.StatusMethodNotAllowed
				break
			}
		}
		writeError(w, e)
		return
	}
	c.mux.ServeHTTP(w, r)
}
