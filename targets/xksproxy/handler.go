package xksproxy

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// proxyVendor and friends fill the health answer; the spec wants the
// product and version in the model fields.
const (
	proxyVendor = "kmsconform"
	proxyModel  = "kmsconform xksproxy 1"
	ekmVendor   = "kmsconform"
	ekmModel    = "kmsconform software key manager 1"
)

// respWriter records the request when the answer starts, not after the
// handler returns: a client that has its answer must find the request in
// Requests and in the log.
type respWriter struct {
	http.ResponseWriter
	status int
	name   ErrorName
	done   func(status int)
	fired  bool
}

func (w *respWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
	w.finish()
	w.ResponseWriter.WriteHeader(s)
}

func (w *respWriter) finish() {
	if !w.fired {
		w.fired = true
		w.done(w.status)
	}
}

func (p *Proxy) fail(w *respWriter, e *Error) {
	w.name = e.Name
	writeError(w, e)
}

func (p *Proxy) serveAPI(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := Request{
		Time:         start,
		Method:       r.Method,
		Path:         r.URL.Path,
		Host:         r.Host,
		ContentType:  r.Header.Get("Content-Type"),
		AmzDate:      r.Header.Get("X-Amz-Date"),
		PlaintextLen: -1,
		BodyBytes:    r.ContentLength,
	}
	var w *respWriter
	w = &respWriter{ResponseWriter: rw, done: func(status int) {
		rec.Status, rec.ErrorName = status, w.name
		// The log line shows what was kept: the same caps, and only a
		// summary of a request that failed authentication.
		kept := p.rec.add(rec)
		p.log.LogAttrs(r.Context(), slog.LevelInfo, "xks request",
			slog.String("op", string(kept.Operation)),
			slog.String("path", kept.Path),
			slog.String("keyId", kept.KeyID),
			slog.String("kmsOperation", kept.Metadata.KMSOperation),
			slog.String("kmsRequestId", kept.Metadata.KMSRequestID),
			slog.String("accessKeyId", kept.AccessKeyID),
			slog.Bool("signatureValid", kept.SignatureValid),
			slog.Int64("bodyBytes", kept.BodyBytes),
			slog.Int("status", kept.Status),
			slog.String("errorName", string(kept.ErrorName)),
			slog.String("fault", string(kept.Fault)),
			slog.Duration("elapsed", time.Since(start)))
	}}
	// A request that ends without an answer (client gone, body too slow)
	// is recorded with status 0.
	defer w.finish()

	op, keyID, ok := route(p.uriPath, r.URL.Path)
	if !ok || r.URL.RawQuery != "" {
		p.fail(w, xksErr(ErrInvalidURIPath, "no XKS API at this path; the URI path is "+p.uriPath))
		return
	}
	rec.Operation, rec.KeyID = op, keyID
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		e := xksErr(ErrValidation, "method "+r.Method+" not allowed; XKS API calls use POST")
		e.status = http.StatusMethodNotAllowed
		p.fail(w, e)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			if rec.BodyBytes < 0 {
				rec.BodyBytes = int64(len(body))
			}
			p.fail(w, xksErr(ErrValidation, "request body exceeds "+strconv.Itoa(maxBodyBytes)+" bytes"))
			return
		}
		// The client went away mid-body, or sent it too slowly for
		// ReadTimeout: drop the connection. Returning would let net/http
		// answer an empty 200, which a client still there would take
		// for a malformed success.
		panic(http.ErrAbortHandler)
	}
	rec.BodyBytes = int64(len(body))

	ai, authErr := p.api.verify(r, body)
	rec.AccessKeyID = ai.AccessKeyID
	rec.SignatureValid = authErr == nil
	if authErr != nil {
		// Only a summary of this request is recorded (see Request): the
		// body is not even parsed.
		rec.AuthError = authErr.Message
	} else {
		rec.Region, rec.Service = ai.Region, ai.Service
		rec.SignedHeaders, rec.Signature = ai.SignedHeaders, ai.Signature
		rec.fillFromBody(body)
	}

	if f := p.proxyFault(); f != FaultNone {
		if p.injectFault(w, r, f, &rec) {
			return
		}
	}
	if authErr != nil {
		p.fail(w, authErr)
		return
	}
	c, verr := parseCall(op, keyID, body)
	clear(body)
	if verr != nil {
		p.fail(w, verr)
		return
	}
	if op == OpGetHealthStatus {
		var resp any = p.health()
		switch f := p.proxyFault(); f {
		case FaultHealthUnavailable, FaultHealthDegraded, FaultHealthPartiallyUnavailable:
			rec.Fault = f
		case FaultBadHealthAnswer:
			rec.Fault = f
			resp = misshape(resp, p.shapedHealth.Add(1)-1, nil)
		}
		writeJSON(w, http.StatusOK, resp)
		return
	}
	if f := p.keyFault(keyID); f != FaultNone {
		if p.injectFault(w, r, f, &rec) {
			return
		}
	}
	if rule, deny := p.denied(c); deny {
		p.log.LogAttrs(r.Context(), slog.LevelInfo, "xks access denied",
			slog.String("kmsRequestId", capString(c.Metadata.KMSRequestID, maxRecordedString)),
			slog.Any("rule", rule))
		p.fail(w, xksErr(ErrAccessDenied, "denied by the proxy's authorization rules"))
		return
	}
	resp, e := p.execute(c)
	if e != nil {
		p.fail(w, e)
		return
	}
	if f := p.shapeFault(keyID); f.shapes(op) {
		rec.Fault = f
		n := &p.shapedEncrypt
		if op == OpGetKeyMetadata {
			n = &p.shapedMetadata
		}
		resp = misshape(resp, n.Add(1)-1, c.AAD)
	}
	writeJSON(w, http.StatusOK, resp)
}

// injectFault applies an answer-shaping fault and reports whether it
// answered. FaultSlow only delays; the request then proceeds.
func (p *Proxy) injectFault(w *respWriter, r *http.Request, f Fault, rec *Request) bool {
	switch {
	case f == FaultSlow, f == FaultNonJSON, f == FaultMalformedJSON, f.ErrorName() != "":
		rec.Fault = f
	}
	if name := f.ErrorName(); name != "" {
		p.fail(w, xksErr(name, faultMessage(f)))
		return true
	}
	switch f {
	case FaultSlow:
		t := time.NewTimer(p.opts.SlowDelay)
		defer t.Stop()
		p.slowHeld.Add(1)
		defer p.slowHeld.Add(-1)
		select {
		case <-t.C:
			return false
		case <-r.Context().Done():
		case <-p.closing:
		}
		// Client gone or proxy closing: drop the connection rather than
		// answer late to nobody.
		panic(http.ErrAbortHandler)
	case FaultNonJSON:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "<html><body>injected fault: non-json</body></html>\n")
		return true
	case FaultMalformedJSON:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"injectedFault":"malformed-json","ciphertext":"`)
		return true
	}
	return false
}

func (p *Proxy) health() HealthResponse {
	status := func(int) string { return "ACTIVE" }
	switch p.proxyFault() {
	case FaultHealthUnavailable:
		status = func(int) string { return "UNAVAILABLE" }
	case FaultHealthDegraded:
		status = func(int) string { return "DEGRADED" }
	case FaultHealthPartiallyUnavailable:
		status = func(i int) string {
			if i == 0 {
				return "UNAVAILABLE"
			}
			return "ACTIVE"
		}
	}
	h := HealthResponse{XksProxyFleetSize: 1, XksProxyVendor: proxyVendor, XksProxyModel: proxyModel, EkmVendor: ekmVendor}
	for i := range p.opts.EKMCount {
		h.EkmFleetDetails = append(h.EkmFleetDetails, EKMStatus{ID: "ekm-" + strconv.Itoa(i+1), Model: ekmModel, HealthStatus: status(i)})
	}
	return h
}

func (p *Proxy) execute(c *call) (any, *Error) {
	info, material, ok := p.keys.lookup(c.KeyID)
	if !ok {
		return nil, xksErr(ErrKeyNotFound, "external key "+c.KeyID+" not found")
	}
	if c.Op == OpGetKeyMetadata {
		return KeyMetadataResponse{KeySpec: info.Spec, KeyUsage: info.Usage, KeyStatus: info.Status}, nil
	}
	if info.Status != KeyStatusEnabled {
		return nil, xksErr(ErrInvalidState, "external key "+c.KeyID+" is disabled")
	}
	need := UsageEncrypt
	if c.Op == OpDecrypt {
		need = UsageDecrypt
	}
	if info.Spec != KeySpecAES256 || !slices.Contains(info.Usage, need) {
		return nil, xksErr(ErrInvalidKeyUsage, "external key "+c.KeyID+" does not support "+need+" with AES_GCM")
	}
	if c.Op == OpEncrypt {
		var md []byte
		if !p.opts.NoCiphertextMetadata {
			md = ciphertextMetadata
		}
		ct, iv, tag, err := sealGCM(material, c.Plaintext, c.AAD, md)
		if err != nil {
			return nil, xksErr(ErrInternal, "encryption failed")
		}
		out := EncryptResponse{Ciphertext: ct, CiphertextMetadata: md, InitializationVector: iv, AuthenticationTag: tag}
		if c.WantCDIV {
			out.CiphertextDataIntegrityValue = cdiv(c.AAD, md, iv, ct, tag)
		}
		return out, nil
	}
	pt, ok := openGCM(material, c.Ciphertext, c.IV, c.Tag, c.AAD, c.CiphertextMetadata)
	if !ok {
		return nil, xksErr(ErrInvalidCiphertext, "the ciphertext, IV, tag, AAD or ciphertext metadata is invalid for this key")
	}
	return DecryptResponse{Plaintext: pt}, nil
}

// shapeFault is the answer-shape fault of a key request, if any: the
// key's own, else the proxy-wide one.
func (p *Proxy) shapeFault(keyID string) Fault {
	for _, f := range []Fault{p.keyFault(keyID), p.proxyFault()} {
		if f == FaultBadMetadataAnswer || f == FaultBadEncryptAnswer {
			return f
		}
	}
	return FaultNone
}
