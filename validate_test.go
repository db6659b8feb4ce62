package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/internal/auth"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/testdb"
)

// countingService returns the use cases over uri with a database driver
// that counts the statements it sends.
func countingService(t testing.TB, uri string) (*auth.Service, *atomic.Int64) {
	t.Helper()
	env := testEnv(uri)
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	db, _, err := openDatabase(cfg.Database, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var statements atomic.Int64
	drv := dialect.DebugWithContext(entsql.OpenDB(entDialect(cfg.Database.Dialect), db), func(context.Context, ...any) { statements.Add(1) })
	client := ent.NewClient(ent.Driver(drv))
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if err := migrate(context.Background(), db, client, cfg, logger); err != nil {
		t.Fatal(err)
	}
	svc, _, err := services(context.Background(), cfg, client, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc, &statements
}

// TestValidateTokenOneRoundTrip checks that validateToken answers with one
// database statement: signature and expiry in memory, and the session's
// liveness (revocation, the user's standing) in one query.
func TestValidateTokenOneRoundTrip(t *testing.T) {
	testdb.Each(t, func(t *testing.T, uri string) {
		ctx := t.Context()
		svc, statements := countingService(t, uri)
		tokens, err := svc.Register(ctx, auth.RegisterInput{Email: uniqueEmail(t, "roundtrip"), Password: testPassword})
		if err != nil {
			t.Fatal(err)
		}
		check := func(what string, wantValid bool, wantReason string) {
			t.Helper()
			statements.Store(0)
			v, err := svc.ValidateToken(ctx, tokens.AccessToken)
			if err != nil || v.Valid != wantValid || v.Reason != wantReason {
				t.Fatalf("ValidateToken(%s) = %+v, %v, want valid %v reason %q", what, v, err, wantValid, wantReason)
			}
			if n := statements.Load(); n != 1 {
				t.Errorf("ValidateToken(%s) sent %d database statements, want 1", what, n)
			}
		}
		check("live session", true, "")
		p, err := svc.Authenticate(auth.WithRequest(ctx, &auth.Request{Authorization: "Bearer " + tokens.AccessToken}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.LogoutAll(auth.WithPrincipal(ctx, p)); err != nil {
			t.Fatal(err)
		}
		check("revoked session", false, auth.ReasonRevoked)
	})
}

// BenchmarkValidateToken measures validateToken over HTTP: signature and
// claims checked in memory, the session's liveness in one query.
func BenchmarkValidateToken(b *testing.B) {
	benchDatabases(b, func(b *testing.B, uri string) {
		s := startServer(b, testEnv(uri))
		tok := s.register(b, uniqueEmail(b, "bench")).AccessToken
		vars := map[string]any{"t": tok}
		b.ResetTimer()
		for b.Loop() {
			if r := s.post(b, "", validateDoc, vars); len(r.Errors) > 0 || !strings.Contains(string(r.Data["validateToken"]), `"valid":true`) {
				b.Fatal(r.Body)
			}
		}
	})
}

// BenchmarkValidateTokenService measures the use case alone, without HTTP
// and GraphQL.
func BenchmarkValidateTokenService(b *testing.B) {
	benchDatabases(b, func(b *testing.B, uri string) {
		svc, _ := countingService(b, uri)
		ctx := context.Background()
		tokens, err := svc.Register(ctx, auth.RegisterInput{Email: uniqueEmail(b, "bench"), Password: testPassword})
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			if v, err := svc.ValidateToken(ctx, tokens.AccessToken); err != nil || !v.Valid {
				b.Fatal(v, err)
			}
		}
	})
}
