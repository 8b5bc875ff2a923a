package aws_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// kmsPlus stands in front of the AWS-like emulator, as real KMS would be,
// for what a test needs and the emulator lacks:
//
//   - it loses the answer of one chosen call (lose), after the emulator
//     acted on it (or, with "before", without passing it on);
//   - aliases (CreateAlias, UpdateAlias, DeleteAlias, DescribeKey of an
//     alias name), grants (CreateGrant, RetireGrant) and ListResourceTags
//     (of the tags CreateKey requests carried, when tags is set);
//   - a multi-Region CreateKey is answered with made-up metadata;
//   - it counts every KMS request by operation, those it answers too.
//
// What it answers itself it does not authenticate: the guard's refusals
// are what the tests look at, and a refused call never reaches it.
type kmsPlus struct {
	next http.Handler
	tags bool // answer ListResourceTags

	mu      sync.Mutex
	lossOp  string // the operation whose next answer is lost
	lossHow string // hang, cut, 500, before
	acted   chan struct{}
	calls   map[string]int
	aliases map[string]string            // alias name → key id
	grants  map[string]bool              // grant tokens given
	keyTags map[string][]json.RawMessage // key id → the Tags CreateKey sent
}

func newKMSPlus(next http.Handler) *kmsPlus {
	return &kmsPlus{next: next, calls: map[string]int{}, aliases: map[string]string{}, grants: map[string]bool{}, keyTags: map[string][]json.RawMessage{}}
}

// lose arms the loss of the next answer to op; the channel is closed when
// the call has reached the server (and the emulator has acted, but with
// "before").
func (k *kmsPlus) lose(op, how string) <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lossOp, k.lossHow, k.acted = op, how, make(chan struct{})
	return k.acted
}

func (k *kmsPlus) count(op string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.calls[op]
}

func kmsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
}

func kmsAnswer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(v)
}

func (k *kmsPlus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	if r.Header.Get("X-Amz-Target") == "" {
		k.next.ServeHTTP(w, r) // STS
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var in struct {
		KeyId, AliasName, TargetKeyId, GrantToken *string
		Tags                                      []json.RawMessage
		MultiRegion                               bool
	}
	_ = json.Unmarshal(body, &in)
	k.mu.Lock()
	k.calls[op]++
	lost := k.lossOp == op
	how, acted := k.lossHow, k.acted
	if lost {
		k.lossOp = ""
	}
	k.mu.Unlock()
	if lost && how == "before" {
		close(acted)
		<-r.Context().Done()
		return
	}
	rec := httptest.NewRecorder()
	if op == "CreateKey" && in.MultiRegion {
		// The emulator makes none: a multi-Region key's metadata, made up.
		kmsAnswer(rec, map[string]any{"KeyMetadata": map[string]any{"KeyId": "mrk-0123456789abcdef0123456789abcdef", "MultiRegion": true,
			"KeyState": "Enabled", "KeyManager": "CUSTOMER"}})
	} else {
		k.serve(rec, r, op, in.KeyId, in.AliasName, in.TargetKeyId, in.GrantToken, in.Tags)
	}
	if !lost {
		for h, v := range rec.Header() {
			w.Header()[h] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	close(acted)
	switch how {
	case "hang":
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	case "cut":
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = c.Close()
		}
	case "500":
		kmsError(w, http.StatusInternalServerError, "KMSInternalException", "An internal error occurred.")
	}
}

func (k *kmsPlus) serve(w http.ResponseWriter, r *http.Request, op string, keyID, alias, target, token *string, tags []json.RawMessage) {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch op {
	case "CreateAlias":
		if _, ok := k.aliases[str(alias)]; ok {
			kmsError(w, 400, "AlreadyExistsException", "alias exists")
			return
		}
		k.aliases[str(alias)] = str(target)
		kmsAnswer(w, struct{}{})
		return
	case "UpdateAlias":
		if _, ok := k.aliases[str(alias)]; !ok {
			kmsError(w, 400, "NotFoundException", "no such alias")
			return
		}
		k.aliases[str(alias)] = str(target)
		kmsAnswer(w, struct{}{})
		return
	case "DeleteAlias":
		if _, ok := k.aliases[str(alias)]; !ok {
			kmsError(w, 400, "NotFoundException", "no such alias")
			return
		}
		delete(k.aliases, str(alias))
		kmsAnswer(w, struct{}{})
		return
	case "CreateGrant":
		tok := fmt.Sprintf("grant-token-%d", len(k.grants)+1)
		k.grants[tok] = true
		kmsAnswer(w, map[string]string{"GrantToken": tok, "GrantId": "grant-id-" + tok})
		return
	case "RetireGrant":
		if !k.grants[str(token)] {
			kmsError(w, 400, "NotFoundException", "no such grant")
			return
		}
		delete(k.grants, str(token))
		kmsAnswer(w, struct{}{})
		return
	case "ListResourceTags":
		if k.tags {
			id := str(keyID)
			kmsAnswer(w, map[string]any{"Tags": k.keyTags[id[strings.LastIndex(id, "/")+1:]], "Truncated": false})
			return
		}
	case "DescribeKey":
		if strings.HasPrefix(str(keyID), "alias/") {
			key, ok := k.aliases[str(keyID)]
			if !ok {
				kmsError(w, 400, "NotFoundException", "Alias "+str(keyID)+" is not found.")
				return
			}
			kmsAnswer(w, map[string]any{"KeyMetadata": map[string]any{"KeyId": key, "KeyState": "Enabled", "KeyManager": "CUSTOMER"}})
			return
		}
	}
	k.mu.Unlock()
	k.next.ServeHTTP(w, r)
	k.mu.Lock()
	if rec, ok := w.(*httptest.ResponseRecorder); ok && op == "CreateKey" && rec.Code == 200 {
		var out struct{ KeyMetadata struct{ KeyId string } }
		if json.Unmarshal(rec.Body.Bytes(), &out) == nil {
			k.keyTags[out.KeyMetadata.KeyId] = tags
		}
	}
}
