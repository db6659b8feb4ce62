package main

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/graph"
	"github.com/latchkey/latchkey/internal/auth"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/playground"
	"github.com/latchkey/latchkey/internal/telemetry"
	"github.com/latchkey/latchkey/internal/token"
)

// NewServer returns the service's HTTP handler: the GraphQL endpoint, the
// playground, the JWKS, the probes and the metrics, behind the middleware
// every response passes through. metrics also records GraphQL requests;
// tp, unless nil, traces each request and GraphQL operation.
func NewServer(cfg config.Config, logger *slog.Logger, svc *auth.Service, issuer *token.Issuer, db *sql.DB, metrics *telemetry.Metrics, tp trace.TracerProvider) http.Handler {
	gql := guardGraphQL(cfg.MaxBodyBytes, cfg.RequestTimeout, graph.NewHandler(svc, graph.Options{
		Introspection: cfg.Introspection,
		MaxComplexity: cfg.MaxComplexity,
		MaxDepth:      cfg.MaxDepth,
		MaxRootFields: cfg.MaxRootFields,
		MaxQueryBytes: cfg.MaxQueryBytes,
		Logger:        logger,
		Extensions:    []graphql.HandlerExtension{telemetry.NewGraphQL(metrics, tp)},
	}))
	mux := http.NewServeMux()
	for _, path := range []string{"/query", "/graphql"} {
		mux.Handle("POST "+path, gql)
		mux.Handle("GET "+path, gql)
	}
	if cfg.Playground {
		pg := playground.Handler()
		mux.Handle("GET /{$}", pg)
		mux.Handle("GET "+playground.AssetPrefix, pg)
	}
	mux.HandleFunc("GET "+jwksPath, func(w http.ResponseWriter, r *http.Request) {
		// Verifiers may cache the keys, and pick up a new one within minutes.
		w.Header().Set("Cache-Control", jwksCacheControl)
		writeJSON(w, http.StatusOK, issuer.JWKS())
	})
	mux.HandleFunc("GET "+openIDConfigurationPath, openIDConfiguration(cfg, issuer))
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /metrics", metrics.Handler())
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			logger.WarnContext(ctx, "not ready", "error", err)
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})

	h := recoverer(logger, mux)
	h = cors(cfg, h)
	h = accessLog(logger, telemetry.Tracer(tp), h)
	return requestContext(cfg.TrustedProxies, h)
}

// healthz says the process answers; it asks nothing of the database.
func healthz(w http.ResponseWriter, _ *http.Request) {
	_, _ = io.WriteString(w, "ok\n")
}
