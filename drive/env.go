package drive

import (
	"context"
	"errors"

	"github.com/kmsconform/kmsconform/model"
	"github.com/kmsconform/kmsconform/targets"
)

// The functions below open the harness's control-plane translation to
// package fuzz, whose state machines drive a target call by call rather
// than cell by cell, so that both packages share one model→target mapping.

// ApplyEnv carries out an environment call of the model (a backing change
// or the end of a deletion window; not OpSettle) through the target's
// capabilities. It fails with an error wrapping targets.ErrUnsupported
// when the target lacks the capability.
func ApplyEnv(ctx context.Context, t targets.Target, m *Mapper, c model.Call) error {
	r := &cellRun{client: t.KMS(), tgt: t, m: m}
	return envErr(r.applyEnv(ctx, c))
}

// PutBacking puts a model world's clusters, proxies and VPC endpoint
// services on the target through its capabilities.
func PutBacking(ctx context.Context, t targets.Target, m *Mapper, w model.World) error {
	r := &cellRun{client: t.KMS(), tgt: t, m: m}
	return envErr(r.putBacking(ctx, w))
}

// Redact removes the secrets of the mapper's backing from a text.
func (m *Mapper) Redact(s string) string { return m.redact(s) }

// envErr turns a verdict error into a plain one; unreachable means the
// target lacks the capability.
func envErr(err error) error {
	var ve *verdictError
	if errors.As(err, &ve) {
		if ve.verdict == Unreachable {
			return errors.Join(targets.ErrUnsupported, errors.New(ve.detail))
		}
		return errors.New(ve.detail)
	}
	return err
}
