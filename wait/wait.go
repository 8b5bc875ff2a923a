// Package wait waits for an AWS KMS custom key store to reach a connection
// state. The KMS API defines no waiter for it, and a hand-written "wait for
// CONNECTED" loop hangs for ever on a store that went FAILED; ForState stops
// at once on FAILED (returning its ConnectionErrorCode) and on any state that
// is neither pending nor wanted.
//
// It works with any client that has DescribeCustomKeyStores, such as
// *kms.Client of the AWS SDK for Go v2.
package wait

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// DescribeAPI is the one call ForState makes.
type DescribeAPI interface {
	DescribeCustomKeyStores(ctx context.Context, in *kms.DescribeCustomKeyStoresInput, optFns ...func(*kms.Options)) (*kms.DescribeCustomKeyStoresOutput, error)
}

// Options say what to wait for and how.
type Options struct {
	// Want are the states to wait for (CONNECTED when empty).
	Want []types.ConnectionStateType
	// Pending are the states to keep polling through (CONNECTING and
	// DISCONNECTING when empty). Any other state that is not wanted ends
	// the wait with an error.
	Pending []types.ConnectionStateType
	// Timeout bounds the wait (20 minutes, KMS's documented longest
	// connect, when zero).
	Timeout time.Duration
	// Poll is the spacing of two observations (5 s when zero; a wanted
	// state must be seen Stable times in a row, Poll apart).
	Poll time.Duration
	// Stable is how many observations in a row must show a wanted state
	// (1 when zero).
	Stable int
	// Observe, when set, is called with every observation (to log
	// progress).
	Observe func(Observation)
}

// Observation is one DescribeCustomKeyStores answer about the store.
type Observation struct {
	State     types.ConnectionStateType
	ErrorCode types.ConnectionErrorCodeType
	At        time.Time
}

// FailedError is the error of a wait that found the store FAILED when
// FAILED was not wanted.
type FailedError struct{ Code types.ConnectionErrorCodeType }

func (e *FailedError) Error() string {
	return fmt.Sprintf("the custom key store is FAILED with ConnectionErrorCode %s", e.Code)
}

// UnexpectedError is the error of a wait that found the store in a state
// that is neither pending nor wanted.
type UnexpectedError struct{ State types.ConnectionStateType }

func (e *UnexpectedError) Error() string {
	return fmt.Sprintf("the custom key store went %s, neither a pending nor a wanted state", e.State)
}

// ErrTimeout is wrapped by the error of a wait that ran out of time.
var ErrTimeout = errors.New("timed out waiting for the custom key store")

// ForState polls the store until it shows a wanted state Stable times in a
// row, and returns that observation. It stops early, with a *FailedError,
// on FAILED (unless wanted), with an *UnexpectedError on any other state
// neither pending nor wanted, with an error wrapping ErrTimeout at the
// deadline, and with the API's error if DescribeCustomKeyStores fails (for
// example CustomKeyStoreNotFoundException).
func ForState(ctx context.Context, api DescribeAPI, storeID string, o Options) (Observation, error) {
	want, pending := o.Want, o.Pending
	if len(want) == 0 {
		want = []types.ConnectionStateType{types.ConnectionStateTypeConnected}
	}
	if len(pending) == 0 {
		pending = []types.ConnectionStateType{types.ConnectionStateTypeConnecting, types.ConnectionStateTypeDisconnecting}
	}
	timeout, poll, stable := o.Timeout, o.Poll, max(o.Stable, 1)
	if timeout <= 0 {
		timeout = 20 * time.Minute
	}
	if poll <= 0 {
		poll = 5 * time.Second
	}
	deadline := time.Now().Add(timeout)
	seen := 0
	var last Observation
	for {
		out, err := api.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(storeID)})
		if err != nil {
			return last, err
		}
		if len(out.CustomKeyStores) != 1 {
			return last, fmt.Errorf("DescribeCustomKeyStores by id returned %d stores", len(out.CustomKeyStores))
		}
		s := out.CustomKeyStores[0]
		last = Observation{State: s.ConnectionState, ErrorCode: s.ConnectionErrorCode, At: time.Now()}
		if o.Observe != nil {
			o.Observe(last)
		}
		switch {
		case slices.Contains(want, last.State):
			seen++
			if seen >= stable {
				return last, nil
			}
		case last.State == types.ConnectionStateTypeFailed:
			return last, &FailedError{Code: last.ErrorCode}
		case slices.Contains(pending, last.State):
			seen = 0
		default:
			return last, &UnexpectedError{State: last.State}
		}
		if time.Now().After(deadline) {
			return last, fmt.Errorf("%w: still %s after %s", ErrTimeout, last.State, timeout)
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return last, ctx.Err()
		case <-t.C:
		}
	}
}

// Settled waits for the store to leave CONNECTING and DISCONNECTING, and
// returns where it ended (FAILED included: no error for it).
func Settled(ctx context.Context, api DescribeAPI, storeID string, o Options) (Observation, error) {
	o.Want = []types.ConnectionStateType{types.ConnectionStateTypeConnected, types.ConnectionStateTypeDisconnected, types.ConnectionStateTypeFailed}
	o.Pending = []types.ConnectionStateType{types.ConnectionStateTypeConnecting, types.ConnectionStateTypeDisconnecting}
	return ForState(ctx, api, storeID, o)
}
