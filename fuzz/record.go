package fuzz

import (
	"context"
	"reflect"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go/middleware"

	"github.com/kmsconform/kmsconform/drive"
)

// SDKCall is one SDK call as it was made: the operation, its input and
// output structs (pointers to the kms package's XxxInput and XxxOutput)
// and the answer's error code.
type SDKCall struct {
	Op     string
	Input  any
	Output any
	Code   string // "success" or the exception name
}

// recorder captures the SDK calls of a client: the printer works from what
// was really sent, so it never repeats the model→SDK translation, which
// lives in drive.Mapper alone.
type recorder struct {
	client *kms.Client

	mu    sync.Mutex
	on    bool
	calls []SDKCall
}

func newRecorder(c *kms.Client) *recorder {
	r := &recorder{}
	r.client = kms.New(c.Options(), func(o *kms.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("kmsconformRecord", r.handle), middleware.Before)
		})
	})
	return r
}

func (r *recorder) handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleInitialize(ctx, in)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.on {
		op := strings.TrimSuffix(reflect.TypeOf(in.Parameters).Elem().Name(), "Input")
		r.calls = append(r.calls, SDKCall{Op: op, Input: in.Parameters, Output: out.Result, Code: drive.Classify(err).Code})
	}
	return out, md, err
}

func (r *recorder) start() {
	r.mu.Lock()
	r.on, r.calls = true, nil
	r.mu.Unlock()
}

func (r *recorder) stop() []SDKCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = false
	c := r.calls
	r.calls = nil
	return c
}
