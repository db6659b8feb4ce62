package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/internal/auth"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/telemetry"
)

// requestContext gives every request an id and puts the facts the use cases
// need in its context. It sets the headers every response carries.
func requestContext(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := remoteAddr(r)
		fromProxy := isTrusted(trusted, peer)
		id := r.Header.Get("X-Request-Id")
		if !fromProxy || !validRequestID(id) {
			id = newRequestID()
		}
		h := w.Header()
		h.Set("X-Request-Id", id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// GraphQL responses carry tokens; nothing here is for shared caches
		// but the JWKS, which says so itself.
		h.Set("Cache-Control", "no-store")
		ctx := auth.WithRequest(r.Context(), &auth.Request{
			ID:            id,
			Authorization: r.Header.Get("Authorization"),
			ClientIP:      clientIP(r, trusted, peer, fromProxy),
			UserAgent:     r.UserAgent(),
		})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requestIDChars are the characters a proxy's request id may have.
const requestIDChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."

// validRequestID accepts ids of proxies that are short and plain.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !strings.ContainsRune(requestIDChars, c) {
			return false
		}
	}
	return true
}

// remoteAddr is the address of the connection's peer.
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func isTrusted(trusted []netip.Prefix, a netip.Addr) bool {
	return a.IsValid() && slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(a) })
}

// clientIP is the peer's address, or, when the peer is a trusted proxy, the
// nearest address in X-Forwarded-For (else X-Real-IP) that is not a trusted
// proxy. Addresses a client wrote itself, left of that, are ignored.
func clientIP(r *http.Request, trusted []netip.Prefix, peer netip.Addr, fromProxy bool) string {
	if !fromProxy {
		return addrString(peer)
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !isTrusted(trusted, a) {
			return a.String()
		}
	}
	if a, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("X-Real-IP"))); err == nil && len(hops) == 0 {
		return a.Unmap().String()
	}
	return addrString(peer)
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// cors answers cross-origin requests as the contract says: in development
// without a list any origin is echoed back; otherwise only the listed ones,
// and only those may send credentials.
func cors(cfg config.Config, next http.Handler) http.Handler {
	anyOrigin := cfg.Debug && len(cfg.CORSAllowedOrigins) == 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		listed := slices.Contains(cfg.CORSAllowedOrigins, origin)
		allowed := listed || anyOrigin || slices.Contains(cfg.CORSAllowedOrigins, "*")
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "X-Request-Id")
			if listed {
				h.Set("Access-Control-Allow-Credentials", "true")
			}
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if allowed {
				h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id, Apollo-Require-Preflight")
				h.Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic outside the resolvers into a 500, logged with
// its stack.
func recoverer(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				logger.ErrorContext(r.Context(), "panic", "panic", v, "stack", string(debug.Stack()))
				http.Error(w, "internal server error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// accessLog writes one line per request once it is served and, unless
// tracer is nil, serves it in a server span, the child of the caller's span
// when a W3C traceparent header names one. The line has the path but never
// the query string, which may carry a GraphQL document and its variables
// (GET /query?query=...&variables=...). Probes and metrics scrapes, which
// come every few seconds, are logged at debug level and not traced.
//
// The span and the log line are made in functions of their own, not in
// the closure: their attributes would make its frame, which stays on the
// stack for the whole request, about 1 KiB larger, and a login's deepest
// call (the token's ECDSA signature) would then take its goroutine's stack
// from 16 to 32 KiB (docs/performance.md, Memory).
func accessLog(logger *slog.Logger, tracer trace.Tracer, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, operation := telemetry.WithOperationSlot(r.Context())
		rec := &statusRecorder{ResponseWriter: w}
		routine := false
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			routine = true
		}
		if tracer != nil && !routine {
			var span trace.Span
			ctx, span = startSpan(ctx, tracer, r)
			defer endSpan(span, rec)
		}
		next.ServeHTTP(rec, r.WithContext(ctx))
		logRequest(ctx, logger, r, rec, start, routine, operation)
	})
}

// startSpan starts r's server span, a child of the trace its headers carry.
//
//go:noinline
func startSpan(ctx context.Context, tracer trace.Tracer, r *http.Request) (context.Context, trace.Span) {
	return tracer.Start(propagation.TraceContext{}.Extract(ctx, propagation.HeaderCarrier(r.Header)), spanName(r),
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
}

// endSpan ends span with the response's status.
//
//go:noinline
func endSpan(span trace.Span, rec *statusRecorder) {
	status := rec.code()
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if status >= http.StatusInternalServerError {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

// logRequest writes r's access log line: routine probes and scrapes at
// debug level, the rest at info.
//
//go:noinline
func logRequest(ctx context.Context, logger *slog.Logger, r *http.Request, rec *statusRecorder, start time.Time, routine bool, operation func() string) {
	level := slog.LevelInfo
	if routine {
		level = slog.LevelDebug
	}
	if !logger.Enabled(ctx, level) {
		return
	}
	// The record is made here rather than by logger.LogAttrs, which would
	// walk the stack for a source location the handler never writes.
	now := time.Now()
	line := slog.NewRecord(now, level, "request", 0)
	line.AddAttrs(
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", rec.code()),
		slog.Int64("bytes", rec.bytes),
		slog.Float64("duration_ms", float64(now.Sub(start).Microseconds())/1000),
		slog.String("client_ip", auth.RequestFrom(ctx).ClientIP),
	)
	if op := operation(); op != "" {
		line.AddAttrs(slog.String("operation", op))
	}
	_ = logger.Handler().Handle(ctx, line)
}

// spanName names a request's span by its method and, for the service's own
// paths, the path: a bounded set of names.
func spanName(r *http.Request) string {
	switch r.URL.Path {
	case "/query", "/graphql", "/", JWKSPath, OpenIDConfigurationPath:
		return r.Method + " " + r.URL.Path
	}
	return r.Method
}

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// code is the status sent: 200 when the handler wrote nothing.
func (w *statusRecorder) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// newRequestID returns 16 random bytes in hex.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
