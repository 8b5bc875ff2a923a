package drive

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kmsconform/kmsconform/model"
)

// The raw body of an answer, which the SDK does not keep: it drops members
// its model does not know, so a target that answers more than it should
// (a secret echoed back, a body where the documentation says "a JSON object
// with no properties") would pass unseen.

// maxBody bounds what is kept of one answer's body.
const maxBody = 1 << 20

type bodySinkKey struct{}

// withBodySink makes a call sent on the raw path with ctx keep its
// answer's raw body in *sink.
func withBodySink(ctx context.Context, sink *[]byte) context.Context {
	return context.WithValue(ctx, bodySinkKey{}, sink)
}

func bodySink(ctx context.Context) *[]byte {
	s, _ := ctx.Value(bodySinkKey{}).(*[]byte)
	return s
}

// keepBody is an SDK option that copies the raw answer body into sink
// (at most maxBody bytes) before the SDK's deserializer reads it.
func keepBody(sink *[]byte) func(*kms.Options) {
	return func(o *kms.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			// After the operation's deserializer: closer to the transport,
			// so it sees the response first.
			return s.Deserialize.Add(middleware.DeserializeMiddlewareFunc("kmsconform-keep-body",
				func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleDeserialize(ctx, in)
					if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp.Body != nil {
						b, rerr := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
						rest := resp.Body
						resp.Body = struct {
							io.Reader
							io.Closer
						}{io.MultiReader(bytes.NewReader(b), rest), rest}
						if rerr == nil {
							*sink = append((*sink)[:0], b[:min(len(b), maxBody)]...)
						}
					}
					return out, md, err
				}), middleware.After)
		})
	}
}

// checkBody checks an answer: no secret of the run in its raw body, "a
// JSON object with no properties" for a successful Connect, Disconnect,
// Update or Delete, and the fields wrongFields checks in other successful
// answers.
func checkBody(op model.Op, success bool, ans Answer, m *Mapper) error {
	if success && ans.Wrong != "" {
		return endWith(Fail, "%s answered with a wrong field: %s", op, ans.Wrong)
	}
	if len(ans.Body) == 0 {
		return nil // not kept
	}
	s := string(ans.Body)
	for _, secret := range m.secrets() {
		if strings.Contains(s, secret) {
			return endWith(Fail, "the answer to %s carries a secret the run sent (a KeyStorePassword or an XKS secret access key)", op)
		}
	}
	if !success {
		return nil
	}
	switch op {
	case model.OpConnectCustomKeyStore, model.OpDisconnectCustomKeyStore, model.OpUpdateCustomKeyStore, model.OpDeleteCustomKeyStore:
		var doc map[string]any
		if err := json.Unmarshal(ans.Body, &doc); err != nil || doc == nil || len(doc) > 0 {
			return endWith(Fail, "%s answered %s; the documentation says it returns a JSON object with no properties", op, m.redact(strings.TrimSpace(short(s))))
		}
	case model.OpEnableKey, model.OpDisableKey:
		// No output members: "an empty HTTP body" (the API reference), or
		// an empty JSON object.
		var doc map[string]any
		if strings.TrimSpace(s) != "" && (json.Unmarshal(ans.Body, &doc) != nil || doc == nil || len(doc) > 0) {
			return endWith(Fail, "%s answered %s; it has no output: an empty body or an empty JSON object", op, m.redact(strings.TrimSpace(short(s))))
		}
	}
	return nil
}

func short(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
