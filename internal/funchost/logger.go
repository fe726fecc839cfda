package funchost

import (
	"context"
	"io"
	"log/slog"
)

// NewLogger returns a JSON slog logger that writes records below Warn to stdout
// and Warn and above to stderr. The Functions host logs a handler's stdout lines
// at Information and classifies stderr lines containing "warn" or "error" as
// warnings or errors, so each JSON line ("level":"ERROR", ...) lands at its
// level. Records below level are dropped.
func NewLogger(stdout, stderr io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	return slog.New(&splitHandler{
		out: slog.NewJSONHandler(stdout, opts),
		err: slog.NewJSONHandler(stderr, opts),
	})
}

// splitHandler routes each record to one of two handlers by level.
type splitHandler struct {
	out, err slog.Handler
}

func (h *splitHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.pick(l).Enabled(ctx, l)
}

func (h *splitHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.pick(r.Level).Handle(ctx, r)
}

func (h *splitHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &splitHandler{out: h.out.WithAttrs(attrs), err: h.err.WithAttrs(attrs)}
}

func (h *splitHandler) WithGroup(name string) slog.Handler {
	return &splitHandler{out: h.out.WithGroup(name), err: h.err.WithGroup(name)}
}

func (h *splitHandler) pick(l slog.Level) slog.Handler {
	if l >= slog.LevelWarn {
		return h.err
	}
	return h.out
}
