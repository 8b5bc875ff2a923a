package wait

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// script answers DescribeCustomKeyStores with one state after another
// (the last one for ever).
type script struct {
	states []types.ConnectionStateType
	code   types.ConnectionErrorCodeType
	calls  int
	err    error
}

func (s *script) DescribeCustomKeyStores(ctx context.Context, in *kms.DescribeCustomKeyStoresInput, _ ...func(*kms.Options)) (*kms.DescribeCustomKeyStoresOutput, error) {
	if s.err != nil {
		return nil, s.err
	}
	st := s.states[min(s.calls, len(s.states)-1)]
	s.calls++
	e := types.CustomKeyStoresListEntry{CustomKeyStoreId: in.CustomKeyStoreId, ConnectionState: st}
	if st == types.ConnectionStateTypeFailed {
		e.ConnectionErrorCode = s.code
	}
	return &kms.DescribeCustomKeyStoresOutput{CustomKeyStores: []types.CustomKeyStoresListEntry{e}}, nil
}

const (
	connecting    = types.ConnectionStateTypeConnecting
	connected     = types.ConnectionStateTypeConnected
	failed        = types.ConnectionStateTypeFailed
	disconnected  = types.ConnectionStateTypeDisconnected
	disconnecting = types.ConnectionStateTypeDisconnecting
)

func fast(o Options) Options {
	o.Poll = time.Microsecond
	return o
}

func TestForState(t *testing.T) {
	ctx := context.Background()
	s := &script{states: []types.ConnectionStateType{connecting, connecting, connected}}
	got, err := ForState(ctx, s, "cks-1", fast(Options{Stable: 3}))
	if err != nil || got.State != connected || s.calls != 5 {
		t.Fatalf("connected: %+v %v after %d calls", got, err, s.calls)
	}
	// CONNECTED, then back to CONNECTING: the stable count starts again.
	s = &script{states: []types.ConnectionStateType{connected, connecting, connected}}
	if _, err := ForState(ctx, s, "cks-1", fast(Options{Stable: 2})); err != nil || s.calls != 4 {
		t.Fatalf("restarted count: %v after %d calls", err, s.calls)
	}
	// FAILED stops at once with its code.
	s = &script{states: []types.ConnectionStateType{connecting, failed}, code: types.ConnectionErrorCodeTypeInvalidCredentials}
	_, err = ForState(ctx, s, "cks-1", fast(Options{}))
	var fe *FailedError
	if !errors.As(err, &fe) || fe.Code != types.ConnectionErrorCodeTypeInvalidCredentials || s.calls != 2 {
		t.Fatalf("failed: %v after %d calls", err, s.calls)
	}
	// A state neither pending nor wanted stops at once.
	s = &script{states: []types.ConnectionStateType{disconnected}}
	var ue *UnexpectedError
	if _, err := ForState(ctx, s, "cks-1", fast(Options{})); !errors.As(err, &ue) || ue.State != disconnected {
		t.Fatalf("unexpected: %v", err)
	}
	// FAILED may be wanted.
	s = &script{states: []types.ConnectionStateType{disconnecting, failed}}
	if got, err := Settled(ctx, s, "cks-1", fast(Options{})); err != nil || got.State != failed {
		t.Fatalf("settled: %+v %v", got, err)
	}
	// The deadline.
	s = &script{states: []types.ConnectionStateType{connecting}}
	if _, err := ForState(ctx, s, "cks-1", Options{Timeout: time.Millisecond, Poll: time.Millisecond}); !errors.Is(err, ErrTimeout) {
		t.Fatalf("timeout: %v", err)
	}
	// The API's error.
	boom := errors.New("CustomKeyStoreNotFoundException")
	if _, err := ForState(ctx, &script{err: boom}, "cks-1", fast(Options{})); !errors.Is(err, boom) {
		t.Fatalf("api error: %v", err)
	}
	// A cancelled context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ForState(cctx, &script{states: []types.ConnectionStateType{connecting}}, "cks-1", Options{Poll: time.Hour}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
