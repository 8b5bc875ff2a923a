package xkscheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
)

const (
	secHealth    = "§7.2 GetHealthStatus"
	secMetadata  = "§7.2 GetKeyMetadata"
	secEncrypt   = "§7.2 Encrypt"
	secDecrypt   = "§7.2 Decrypt"
	secAuth      = "§7.3"
	secErrors    = "§7.4"
	secTransport = "§7.1"
)

// authChecks sends a valid request of api to suffix signed wrongly in
// every way a client can: each must get AuthenticationFailedException 401.
func (k *checker) authChecks(ctx context.Context, api, suffix string, body func() any) {
	other := Credential{AccessKeyID: "AKIAKMSCONFORMNOSUCH", SecretAccessKey: k.cfg.Credential.SecretAccessKey}
	wrongSecret := Credential{AccessKeyID: k.cfg.Credential.AccessKeyID, SecretAccessKey: "kmsconformWrongSecretxxxxxxxxxxxxxxxxxxxxxx"}
	cases := []struct {
		name string
		sg   signing
	}{
		{"auth-unsigned", signing{unsigned: true}},
		{"auth-wrong-access-key-id", signing{cred: &other}},
		{"auth-wrong-secret", signing{cred: &wrongSecret}},
		{"auth-signed-6-minutes-ago", signing{skew: -6 * time.Minute}},
		{"auth-signed-6-minutes-ahead", signing{skew: 6 * time.Minute}},
		{"auth-other-service", signing{service: "kms"}},
	}
	if k.cfg.RegionGiven {
		r := "eu-west-1"
		if k.cfg.Region == r {
			r = "us-west-2"
		}
		cases = append(cases, struct {
			name string
			sg   signing
		}{"auth-other-region", signing{region: r}})
	}
	for _, c := range cases {
		a := k.c.post(ctx, suffix, body(), c.sg)
		k.record(api, c.name, secAuth, "D", expected("AuthenticationFailedException", 401), a,
			expectError(a, api, "AuthenticationFailedException", 401, laxAuth))
	}
}

// commonErrors are the validation, path and method checks every API shares.
func (k *checker) commonErrors(ctx context.Context, api, suffix string, body func() map[string]any, sec string) {
	noMD := body()
	delete(noMD, "requestMetadata")
	a := k.c.post(ctx, suffix, noMD, signing{})
	k.record(api, "missing-requestMetadata", sec, "D", expected("ValidationException", 400), a,
		expectError(a, api, "ValidationException", 400, laxShape))
	emptyMD := body()
	emptyMD["requestMetadata"] = map[string]any{}
	a = k.c.post(ctx, suffix, emptyMD, signing{})
	k.record(api, "empty-requestMetadata", sec, "D", expected("ValidationException", 400), a,
		expectError(a, api, "ValidationException", 400, laxShape))
	a = k.c.post(ctx, suffix, []byte(`{"requestMetadata":`), signing{})
	k.record(api, "not-json", sec, "D", expected("ValidationException", 400), a,
		expectError(a, api, "ValidationException", 400, laxShape))
	b, _ := json.Marshal(body())
	a = k.c.do(ctx, http.MethodPost, "/kmsconform-no-such-prefix"+k.c.path+suffix, b, signing{})
	k.record(api, "wrong-path", secErrors, "D", expected("InvalidUriPathException", 404), a,
		expectError(a, api, "InvalidUriPathException", 404, "the proxy serves a path KMS was not configured with"))
	// §7.1: "A GET to an API URI must be answered 405".
	a = k.c.do(ctx, http.MethodGet, k.c.path+suffix, nil, signing{})
	k.record(api, "method-GET", secTransport, "D", expected("", http.StatusMethodNotAllowed), a,
		expectError(a, api, "", http.StatusMethodNotAllowed, "KMS only POSTs; a proxy answering GET is laxer than the spec"))
	k.authChecks(ctx, api, suffix, func() any { return body() })
}

// latencyCheck calls send n times and judges the calls against KMS's budget.
func (k *checker) latencyCheck(api, sec string, send func() answer) {
	const n = 20
	var lats []time.Duration
	var last answer
	over, failed := 0, 0
	for range n {
		a := send()
		last = a
		if a.err != nil || a.status != http.StatusOK {
			failed++
			continue
		}
		lats = append(lats, a.latency)
		if a.latency > Budget {
			over++
		}
	}
	exp := []string{fmt.Sprintf("at most 5%% of calls over %s", Budget)}
	var j judgement
	switch {
	case failed == n:
		c := conditionOf(last, api)
		j = judgement{failure: "no call succeeded: " + last.observed(), cond: &c}
	case over*20 > len(lats):
		c := Condition{Fault: "slow"}
		j = judgement{failure: fmt.Sprintf("%d of %d calls over %s", over, len(lats), Budget), cond: &c}
	}
	st := stats(lats)
	last.latency = st.p50
	k.record(api, "latency", sec+", §4.3", "D", exp, last, j)
	cell := &k.cells[len(k.cells)-1]
	cell.Observed = fmt.Sprintf("p50 %s, p99 %s, %d of %d over %s", st.p50, st.p99, over, len(lats), Budget)
	k.finds = append(k.finds, fmt.Sprintf("latency %s: p50 %s, p99 %s, max %s over %d calls (KMS's budget %s)",
		api, st.p50, st.p99, st.max, len(lats), Budget))
}

type latencyStats struct{ p50, p99, max time.Duration }

func stats(lats []time.Duration) latencyStats {
	if len(lats) == 0 {
		return latencyStats{}
	}
	s := slices.Clone(lats)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		return s[min(len(s)-1, int(q*float64(len(s))))].Round(10 * time.Microsecond)
	}
	return latencyStats{p50: at(0.5), p99: at(0.99), max: s[len(s)-1].Round(10 * time.Microsecond)}
}

// ---- GetHealthStatus ----

var healthOps = []string{"KmsHealthCheck", "CreateCustomKeyStore", "ConnectCustomKeyStore", "UpdateCustomKeyStore"}

func (k *checker) healthChecks(ctx context.Context) {
	for _, op := range healthOps {
		a := k.c.post(ctx, "/health", healthBody(op), signing{})
		k.record(APIHealth, "happy-"+op, secHealth, "D", []string{"success"}, a, expectSuccess(a, APIHealth))
	}
	a := k.c.post(ctx, "/health", healthBody("ConnectCustomKeyStore"), signing{})
	j := expectSuccess(a, APIHealth)
	var unavailable, notActive int
	var ekms int
	if j.failure == "" {
		var bad string
		bad, ekms, unavailable, notActive = healthShape(a.body)
		if bad != "" {
			c := Condition{Fault: "bad-health-answer"}
			j = judgement{failure: bad, cond: &c}
		}
	}
	k.record(APIHealth, "answer-shape", secHealth, "I", []string{"success"}, a, j)
	var ja, jd judgement
	switch {
	case j.failure != "":
		ja = judgement{failure: "no answer of the right shape", cond: j.cond, message: j.message}
		jd = ja
	case unavailable == ekms:
		c := Condition{Fault: "ekm-unavailable"}
		ja = judgement{failure: fmt.Sprintf("every one of %d external key managers is UNAVAILABLE", ekms), cond: &c}
	}
	k.record(APIHealth, "ekm-available", secHealth+", §7.4", "D", []string{"success"}, a, ja)
	if jd.failure == "" && notActive > 0 {
		c := Condition{Fault: "ekm-degraded"}
		jd = judgement{failure: fmt.Sprintf("%d of %d external key managers are not ACTIVE", notActive, ekms), cond: &c,
			verdict: "informational"}
	}
	k.record(APIHealth, "ekm-all-active", secHealth, "I", []string{"success"}, a, jd)
	k.commonErrors(ctx, APIHealth, "/health", func() map[string]any { return healthBody("KmsHealthCheck") }, secHealth)
	k.latencyCheck(APIHealth, secHealth, func() answer { return k.c.post(ctx, "/health", healthBody("KmsHealthCheck"), signing{}) })
}

// healthShape checks a GetHealthStatus answer's shape (rule xks.answer-shape).
func healthShape(body []byte) (bad string, ekms, unavailable, notActive int) {
	var h struct {
		FleetSize *int `json:"xksProxyFleetSize"`
		EKMs      *[]struct {
			ID           string `json:"id"`
			Model        string `json:"model"`
			HealthStatus string `json:"healthStatus"`
		} `json:"ekmFleetDetails"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return "the answer does not decode: " + err.Error(), 0, 0, 0
	}
	switch {
	case h.FleetSize == nil:
		return "no xksProxyFleetSize", 0, 0, 0
	case *h.FleetSize < 1:
		return fmt.Sprintf("xksProxyFleetSize %d (want > 0)", *h.FleetSize), 0, 0, 0
	case h.EKMs == nil:
		return "no ekmFleetDetails", 0, 0, 0
	case len(*h.EKMs) < 1 || len(*h.EKMs) > 10:
		return fmt.Sprintf("%d ekmFleetDetails (want 1 to 10)", len(*h.EKMs)), 0, 0, 0
	}
	for i, e := range *h.EKMs {
		switch e.HealthStatus {
		case "ACTIVE":
		case "DEGRADED":
			notActive++
		case "UNAVAILABLE":
			notActive++
			unavailable++
		default:
			return fmt.Sprintf("ekmFleetDetails[%d].healthStatus %q (want ACTIVE, DEGRADED or UNAVAILABLE)", i, e.HealthStatus), 0, 0, 0
		}
	}
	return "", len(*h.EKMs), unavailable, notActive
}

// ---- GetKeyMetadata ----

func (k *checker) metadataChecks(ctx context.Context, key Key) {
	suffix := keyPath(key.ID, "metadata")
	for _, op := range []string{"CreateKey", "DescribeKey"} {
		a := k.c.post(ctx, suffix, k.c.metadataBody(op), signing{})
		k.record(APIMetadata, "happy-"+op, secMetadata, "D", []string{"success"}, a, expectSuccess(a, APIMetadata))
	}
	a := k.c.post(ctx, suffix, k.c.metadataBody("CreateKey"), signing{})
	j := expectSuccess(a, APIMetadata)
	var md keyMD
	if j.failure == "" {
		var bad string
		md, bad = metadataShape(a.body)
		if bad != "" {
			c := Condition{KeyStatus: "bad-metadata-answer"}
			j = judgement{failure: bad, cond: &c}
		}
	}
	k.record(APIMetadata, "answer-shape", secMetadata, "I", []string{"success"}, a, j)
	jr := j
	if jr.failure == "" {
		jr = createKeyReady(md, key)
	} else {
		jr = judgement{failure: "no answer of the right shape", cond: j.cond, message: j.message}
	}
	k.record(APIMetadata, "createkey-ready", secMetadata+", §7.4", "D", []string{"success"}, a, jr)
	a = k.c.post(ctx, keyPath("kmsconform-no-such-key", "metadata"), k.c.metadataBody("CreateKey"), signing{})
	k.record(APIMetadata, "unknown-key", secErrors, "D", expected("KeyNotFoundException", 404), a,
		expectError(a, APIMetadata, "KeyNotFoundException", 404, "KMS would create a KMS key for an external key that does not exist"))
	k.commonErrors(ctx, APIMetadata, suffix, func() map[string]any { return k.c.metadataBody("CreateKey") }, secMetadata)
	k.latencyCheck(APIMetadata, secMetadata, func() answer { return k.c.post(ctx, suffix, k.c.metadataBody("DescribeKey"), signing{}) })
}

type keyMD struct {
	KeySpec   *string   `json:"keySpec"`
	KeyUsage  *[]string `json:"keyUsage"`
	KeyStatus *string   `json:"keyStatus"`
}

func metadataShape(body []byte) (keyMD, string) {
	var m keyMD
	if err := json.Unmarshal(body, &m); err != nil {
		return m, "the answer does not decode: " + err.Error()
	}
	switch {
	case m.KeySpec == nil:
		return m, "no keySpec"
	case m.KeyStatus == nil:
		return m, "no keyStatus"
	case *m.KeyStatus != "ENABLED" && *m.KeyStatus != "DISABLED":
		return m, fmt.Sprintf("keyStatus %q (want ENABLED or DISABLED)", *m.KeyStatus)
	case m.KeyUsage == nil:
		return m, "no keyUsage"
	case len(*m.KeyUsage) > 10:
		return m, fmt.Sprintf("%d keyUsage entries (at most 10)", len(*m.KeyUsage))
	}
	return m, ""
}

// createKeyReady: the checks CreateKey makes of GetKeyMetadata's answer.
func createKeyReady(m keyMD, key Key) judgement {
	switch {
	case *m.KeySpec != "AES_256":
		c := Condition{KeyStatus: "wrong-spec"}
		return judgement{failure: fmt.Sprintf("keySpec %q (KMS needs AES_256)", *m.KeySpec), cond: &c}
	case *m.KeyStatus != "ENABLED":
		c := Condition{KeyStatus: "disabled"}
		return judgement{failure: "keyStatus " + *m.KeyStatus, cond: &c}
	case !slices.Contains(*m.KeyUsage, UsageEncrypt) || !slices.Contains(*m.KeyUsage, UsageDecrypt):
		c := Condition{KeyStatus: "wrong-usage"}
		return judgement{failure: fmt.Sprintf("keyUsage %v lacks ENCRYPT or DECRYPT", *m.KeyUsage), cond: &c}
	}
	return judgement{}
}

// ---- Encrypt and Decrypt ----

func (k *checker) encrypt(ctx context.Context, id, op string, pt, aad []byte, flag bool) (answer, sealed, judgement) {
	a := k.c.post(ctx, keyPath(id, "encrypt"), k.c.encryptBody(op, pt, aad, flag), signing{})
	j := expectSuccess(a, APIEncrypt)
	var s sealed
	if j.failure != "" {
		return a, s, j
	}
	if err := json.Unmarshal(a.body, &s); err != nil {
		c := Condition{KeyStatus: "bad-encrypt-answer"}
		return a, s, judgement{failure: "the answer does not decode: " + err.Error(), cond: &c}
	}
	if bad := encryptShape(s, pt, aad, flag); bad != "" {
		c := Condition{KeyStatus: "bad-encrypt-answer"}
		return a, s, judgement{failure: bad, cond: &c}
	}
	return a, s, judgement{}
}

func encryptShape(s sealed, pt, aad []byte, flag bool) string {
	switch {
	case len(s.InitializationVector) != 12 && len(s.InitializationVector) != 16:
		return fmt.Sprintf("initializationVector of %d bytes (want 12 or 16)", len(s.InitializationVector))
	case len(s.AuthenticationTag) != 16:
		return fmt.Sprintf("authenticationTag of %d bytes (want 16)", len(s.AuthenticationTag))
	case len(s.CiphertextMetadata) > 20:
		return fmt.Sprintf("ciphertextMetadata of %d bytes (at most 20)", len(s.CiphertextMetadata))
	case len(s.Ciphertext) != len(pt):
		return fmt.Sprintf("ciphertext of %d bytes for a plaintext of %d (AES-GCM keeps the length)", len(s.Ciphertext), len(pt))
	case flag && s.CiphertextDataIntegrityValue == nil:
		return "no ciphertextDataIntegrityValue although ciphertextDataIntegrityValueAlgorithm was sent"
	case flag && !bytes.Equal(s.CiphertextDataIntegrityValue, cdiv(aad, s)):
		return "ciphertextDataIntegrityValue is not SHA-256(AAD ‖ ciphertextMetadata ‖ IV ‖ ciphertext ‖ tag)"
	}
	return ""
}

func (k *checker) decrypt(ctx context.Context, id, op string, s sealed, aad []byte) answer {
	return k.c.post(ctx, keyPath(id, "decrypt"), k.c.decryptBody(op, s, aad), signing{})
}

func sample(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func (k *checker) cryptoChecks(ctx context.Context, key Key) {
	pt, aad := sample(32, 1), sample(64, 2)
	for _, op := range []string{"Encrypt", "GenerateDataKey", "ReEncrypt"} {
		a, _, j := k.encrypt(ctx, key.ID, op, pt, aad, true)
		k.record(APIEncrypt, "happy-"+op, secEncrypt, "D", []string{"success"}, a, j)
	}
	a, sAAD, j := k.encrypt(ctx, key.ID, "Encrypt", pt, aad, true)
	k.record(APIEncrypt, "answer-shape", secEncrypt, "I", []string{"success"}, a, j)
	okAAD := j.failure == ""
	a, sNo, j := k.encrypt(ctx, key.ID, "Encrypt", pt, nil, false)
	k.record(APIEncrypt, "without-aad-or-cdiv", secEncrypt, "D", []string{"success"}, a, j)
	okNo := j.failure == ""
	big, bigAAD := sample(4300, 3), sample(8192, 4)
	a, sBig, j := k.encrypt(ctx, key.ID, "GenerateDataKey", big, bigAAD, true)
	k.record(APIEncrypt, "plaintext-4300-aad-8192", secEncrypt, "D", []string{"success"}, a, j)
	okBig := j.failure == ""

	encBody := func() map[string]any { return k.c.encryptBody("Encrypt", pt, aad, false) }
	badAlg := encBody()
	badAlg["encryptionAlgorithm"] = "RSAES_OAEP_SHA_256"
	a = k.c.post(ctx, keyPath(key.ID, "encrypt"), badAlg, signing{})
	k.record(APIEncrypt, "wrong-encryptionAlgorithm", secEncrypt, "D", expected("ValidationException", 400), a,
		expectError(a, APIEncrypt, "ValidationException", 400, laxShape))
	noPT := encBody()
	delete(noPT, "plaintext")
	a = k.c.post(ctx, keyPath(key.ID, "encrypt"), noPT, signing{})
	k.record(APIEncrypt, "missing-plaintext", secEncrypt, "D", expected("ValidationException", 400), a,
		expectError(a, APIEncrypt, "ValidationException", 400, laxShape))
	b64 := encBody()
	b64["plaintext"] = "not base64!"
	a = k.c.post(ctx, keyPath(key.ID, "encrypt"), b64, signing{})
	k.record(APIEncrypt, "plaintext-not-base64", secEncrypt, "D", expected("ValidationException", 400), a,
		expectError(a, APIEncrypt, "ValidationException", 400, laxShape))
	a = k.c.post(ctx, keyPath("kmsconform-no-such-key", "encrypt"), encBody(), signing{})
	k.record(APIEncrypt, "unknown-key", secErrors, "D", expected("KeyNotFoundException", 404), a,
		expectError(a, APIEncrypt, "KeyNotFoundException", 404, "the proxy encrypts under a key it does not have"))
	k.commonErrors(ctx, APIEncrypt, keyPath(key.ID, "encrypt"), encBody, secEncrypt)
	k.latencyCheck(APIEncrypt, secEncrypt, func() answer {
		return k.c.post(ctx, keyPath(key.ID, "encrypt"), k.c.encryptBody("Encrypt", pt, aad, true), signing{})
	})

	// Decrypt: round trips, then every change of what Encrypt gave.
	round := func(name, op string, ok bool, s sealed, want, aad []byte) {
		if !ok {
			k.unreachable(APIDecrypt, name, secDecrypt, "Encrypt gave no ciphertext to decrypt (see the Encrypt cells)")
			return
		}
		a := k.decrypt(ctx, key.ID, op, s, aad)
		j := expectSuccess(a, APIDecrypt)
		if j.failure == "" {
			var d struct {
				Plaintext []byte `json:"plaintext"`
			}
			if err := json.Unmarshal(a.body, &d); err != nil || !bytes.Equal(d.Plaintext, want) {
				c := Condition{Fault: "malformed", Approx: "the model has no proxy decrypting to another plaintext; taken as an invalid response"}
				j = judgement{failure: "the plaintext differs from the one encrypted", cond: &c}
			}
		}
		k.record(APIDecrypt, name, secDecrypt, "D", []string{"success"}, a, j)
	}
	round("round-trip-aad", "Decrypt", okAAD, sAAD, pt, aad)
	round("round-trip-no-aad", "Decrypt", okNo, sNo, pt, nil)
	round("happy-ReEncrypt", "ReEncrypt", okAAD, sAAD, pt, aad)
	round("round-trip-4300-aad-8192", "Decrypt", okBig, sBig, big, bigAAD)

	flip := func(b []byte) []byte { c := slices.Clone(b); c[0] ^= 1; return c }
	changes := []struct {
		name   string
		change func(*sealed, *[]byte)
	}{
		{"changed-aad", func(_ *sealed, a *[]byte) { *a = flip(*a) }},
		{"missing-aad", func(_ *sealed, a *[]byte) { *a = nil }},
		{"changed-tag", func(s *sealed, _ *[]byte) { s.AuthenticationTag = flip(s.AuthenticationTag) }},
		{"changed-ciphertext", func(s *sealed, _ *[]byte) { s.Ciphertext = flip(s.Ciphertext) }},
		{"changed-iv", func(s *sealed, _ *[]byte) { s.InitializationVector = flip(s.InitializationVector) }},
	}
	if okAAD && len(sAAD.CiphertextMetadata) > 0 {
		changes = append(changes, struct {
			name   string
			change func(*sealed, *[]byte)
		}{"changed-ciphertextMetadata", func(s *sealed, _ *[]byte) { s.CiphertextMetadata = flip(s.CiphertextMetadata) }})
	}
	for _, ch := range changes {
		if !okAAD {
			k.unreachable(APIDecrypt, ch.name, secErrors, "Encrypt gave no ciphertext to change (see the Encrypt cells)")
			continue
		}
		s, a2 := sAAD, slices.Clone(aad)
		ch.change(&s, &a2)
		a := k.decrypt(ctx, key.ID, "Decrypt", s, a2)
		k.record(APIDecrypt, ch.name, secErrors, "D", expected("InvalidCiphertextException", 400), a,
			expectError(a, APIDecrypt, "InvalidCiphertextException", 400, laxCiphertext))
	}
	if !okAAD {
		for _, n := range []string{"missing-initializationVector", "unknown-key", "latency"} {
			k.unreachable(APIDecrypt, n, secDecrypt, "Encrypt gave no ciphertext (see the Encrypt cells)")
		}
		return
	}
	decBody := func() map[string]any { return k.c.decryptBody("Decrypt", sAAD, aad) }
	noIV := decBody()
	delete(noIV, "initializationVector")
	a = k.c.post(ctx, keyPath(key.ID, "decrypt"), noIV, signing{})
	k.record(APIDecrypt, "missing-initializationVector", secDecrypt, "D", expected("ValidationException", 400), a,
		expectError(a, APIDecrypt, "ValidationException", 400, laxShape))
	a = k.c.post(ctx, keyPath("kmsconform-no-such-key", "decrypt"), decBody(), signing{})
	k.record(APIDecrypt, "unknown-key", secErrors, "D", expected("KeyNotFoundException", 404), a,
		expectError(a, APIDecrypt, "KeyNotFoundException", 404, "the proxy decrypts under a key it does not have"))
	k.commonErrors(ctx, APIDecrypt, keyPath(key.ID, "decrypt"), decBody, secDecrypt)
	k.latencyCheck(APIDecrypt, secDecrypt, func() answer { return k.decrypt(ctx, key.ID, "Decrypt", sAAD, aad) })
}

// usageChecks: a key of restricted usage must refuse the other operations
// with InvalidKeyUsageException (§7.4), and say its usage in GetKeyMetadata.
func (k *checker) usageChecks(ctx context.Context, key, main Key, haveMain bool) {
	name := func(s string) string { return s + "-" + key.ID }
	a := k.c.post(ctx, keyPath(key.ID, "metadata"), k.c.metadataBody("DescribeKey"), signing{})
	j := expectSuccess(a, APIMetadata)
	if j.failure == "" {
		md, bad := metadataShape(a.body)
		switch {
		case bad != "":
			c := Condition{KeyStatus: "bad-metadata-answer"}
			j = judgement{failure: bad, cond: &c}
		case key.can(UsageEncrypt) != slices.Contains(*md.KeyUsage, UsageEncrypt) || key.can(UsageDecrypt) != slices.Contains(*md.KeyUsage, UsageDecrypt):
			j = judgement{failure: fmt.Sprintf("keyUsage %v, want %v", *md.KeyUsage, key.Usage),
				message: "KMS decides from keyUsage whether CreateKey may use the key (§7.4): a wrong usage misleads it"}
		}
	}
	k.record(APIMetadata, name("usage"), secMetadata, "D", []string{"success"}, a, j)
	pt := sample(32, 5)
	var s sealed
	var haveS bool
	if key.can(UsageEncrypt) {
		a, s1, j := k.encrypt(ctx, key.ID, "Encrypt", pt, nil, false)
		k.record(APIEncrypt, name("usage-allowed"), secEncrypt, "D", []string{"success"}, a, j)
		s, haveS = s1, j.failure == ""
	} else {
		a := k.c.post(ctx, keyPath(key.ID, "encrypt"), k.c.encryptBody("Encrypt", pt, nil, false), signing{})
		k.record(APIEncrypt, name("usage-refused"), secErrors, "D", expected("InvalidKeyUsageException", 400), a,
			expectError(a, APIEncrypt, "InvalidKeyUsageException", 400, "the proxy encrypts with a key whose usage forbids it"))
	}
	foreign := false
	if !haveS && haveMain {
		_, s, _ = k.encrypt(ctx, main.ID, "Encrypt", pt, nil, false)
		haveS, foreign = s.Ciphertext != nil, true
	}
	if !haveS {
		k.unreachable(APIDecrypt, name("usage"), secDecrypt, "no ciphertext to decrypt")
		return
	}
	a = k.decrypt(ctx, key.ID, "Decrypt", s, nil)
	switch {
	case key.can(UsageDecrypt) && foreign:
		// Another key's ciphertext: past the usage check, decryption fails.
		k.record(APIDecrypt, name("usage-allowed"), secErrors, "I", expected("InvalidCiphertextException", 400), a,
			expectError(a, APIDecrypt, "InvalidCiphertextException", 400, laxCiphertext))
	case key.can(UsageDecrypt):
		k.record(APIDecrypt, name("usage-allowed"), secDecrypt, "D", []string{"success"}, a, expectSuccess(a, APIDecrypt))
	default:
		k.record(APIDecrypt, name("usage-refused"), secErrors, "I", expected("InvalidKeyUsageException", 400), a,
			expectError(a, APIDecrypt, "InvalidKeyUsageException", 400, "the proxy decrypts with a key whose usage forbids it"))
	}
}
