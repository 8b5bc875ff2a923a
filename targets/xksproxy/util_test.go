package xksproxy

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
)

func ioNopCloser(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }

func newTestLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

func fmtSprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
