// Package web is Latchkey's HTTP layer: the routes, the middleware every
// response passes through (request id, client address, CORS, recovery,
// access log and tracing), the probes and the /.well-known documents. The
// GraphQL endpoint itself comes from package graph.
package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/playground"
	"github.com/latchkey/latchkey/internal/telemetry"
	"github.com/latchkey/latchkey/internal/token"
)

// Paths of the /.well-known documents: where the public keys are served,
// and where verifiers discover them from the issuer.
const (
	JWKSPath                = "/.well-known/jwks.json"
	OpenIDConfigurationPath = "/.well-known/openid-configuration"
)

// jwksCacheControl lets verifiers cache the keys for keys.JWKSMaxAge.
var jwksCacheControl = fmt.Sprintf("public, max-age=%d", int(keys.JWKSMaxAge.Seconds()))

// Deps are what the HTTP layer serves.
type Deps struct {
	Config config.Config
	Logger *slog.Logger
	// GraphQL answers /query and /graphql.
	GraphQL http.Handler
	// Issuer's keys are the JWKS.
	Issuer *token.Issuer
	// Database is pinged by /readyz.
	Database interface{ PingContext(context.Context) error }
	// Metrics answers /metrics.
	Metrics http.Handler
	// TracerProvider, unless nil, traces each request.
	TracerProvider trace.TracerProvider
	// DevMail, unless nil, answers GET /dev/mail: the mails the log
	// driver took, in development only.
	DevMail http.Handler
}

// New returns the service's HTTP handler: the GraphQL endpoint, the
// playground, the JWKS and discovery document, the probes and the metrics,
// behind the middleware every response passes through.
func New(d Deps) http.Handler {
	cfg := d.Config
	mux := http.NewServeMux()
	for _, path := range []string{"/query", "/graphql"} {
		mux.Handle("POST "+path, d.GraphQL)
		mux.Handle("GET "+path, d.GraphQL)
	}
	if cfg.Playground {
		pg := playground.Handler()
		mux.Handle("GET /{$}", pg)
		mux.Handle("GET "+playground.AssetPrefix, pg)
	}
	mux.HandleFunc("GET "+JWKSPath, func(w http.ResponseWriter, r *http.Request) {
		// Verifiers may cache the keys, and pick up a new one within minutes.
		w.Header().Set("Cache-Control", jwksCacheControl)
		writeJSON(w, http.StatusOK, d.Issuer.JWKS())
	})
	mux.HandleFunc("GET "+OpenIDConfigurationPath, openIDConfiguration(cfg, d.Issuer))
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /metrics", d.Metrics)
	if d.DevMail != nil && cfg.Debug {
		mux.Handle("GET /dev/mail", d.DevMail)
	}
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := d.Database.PingContext(ctx); err != nil {
			d.Logger.WarnContext(ctx, "not ready", "error", err)
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})

	h := recoverer(d.Logger, mux)
	h = cors(cfg, h)
	h = accessLog(d.Logger, telemetry.Tracer(d.TracerProvider), h)
	return requestContext(cfg.TrustedProxies, h)
}

// Starting answers while the database is not ready yet: alive, not ready,
// and 503 for the rest.
func Starting() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "starting", http.StatusServiceUnavailable)
	})
	return mux
}

// healthz says the process answers; it asks nothing of the database.
func healthz(w http.ResponseWriter, _ *http.Request) {
	_, _ = io.WriteString(w, "ok\n")
}

// openIDConfiguration serves the OpenID Connect discovery document, the
// part of it that verifiers read: the issuer, where its keys are, and their
// algorithms. The keys' address comes from the configured issuer, never
// from the request's Host header, which a client chooses; an issuer that
// is no http(s) URL has no discovery document (OpenID Connect Discovery
// requires one that is).
func openIDConfiguration(cfg config.Config, issuer *token.Issuer) http.HandlerFunc {
	isURL := strings.HasPrefix(cfg.JWTIssuer, "https://") || strings.HasPrefix(cfg.JWTIssuer, "http://")
	jwksURI := strings.TrimSuffix(cfg.JWTIssuer, "/") + JWKSPath
	return func(w http.ResponseWriter, r *http.Request) {
		if !isURL {
			http.Error(w, "no discovery document: JWT_ISSUER is not an http(s) URL; the keys are at "+JWKSPath, http.StatusNotFound)
			return
		}
		var algs []string
		for _, k := range issuer.JWKS().Keys {
			if !slices.Contains(algs, k.Alg) {
				algs = append(algs, k.Alg)
			}
		}
		if algs == nil {
			algs = []string{"HS256"}
		}
		w.Header().Set("Cache-Control", jwksCacheControl)
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                cfg.JWTIssuer,
			"jwks_uri":                              jwksURI,
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": algs,
		})
	}
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
