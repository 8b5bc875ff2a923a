package main

import (
	"fmt"
	"io"
	"log/slog"
)

// logFormats are the values of -log-format for serve and xks-proxy.
const logFormatUsage = "log format on stderr: text (key=value) or json (one object per line)"

// newLogger is the one logger of serve and xks-proxy: log/slog to stderr,
// text by default. quiet keeps warnings and errors but drops the line per
// request (logged at Info).
func newLogger(w io.Writer, format string, quiet bool) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if quiet {
		opts.Level = slog.LevelWarn
	}
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", format)
}
