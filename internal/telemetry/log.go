package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/internal/auth"
)

// logHandler adds to each record logged with a request's context the
// request's id and, when the request is traced, its trace and span ids.
type logHandler struct {
	slog.Handler
}

// NewLogHandler returns h tagging every line logged with a request's
// context with request_id, and with trace_id and span_id when the request
// is traced, so that each line of a request can be found from any other
// and from its trace.
func NewLogHandler(h slog.Handler) slog.Handler {
	return logHandler{h}
}

// Handle adds the request's ids to r.
func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := auth.RequestFrom(ctx).ID; id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the request's ids on the handler with attrs.
func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the request's ids on the handler with the group.
func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{h.Handler.WithGroup(name)}
}
