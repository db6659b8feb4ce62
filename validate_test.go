package main

import (
	"context"
	"database/sql"
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
	"github.com/latchkey/latchkey/internal/database"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/testdb"
)

// countingStack is the service over the database uri, migrated, on an Ent
// client whose driver counts the statements it sends.
type countingStack struct {
	cfg        config.Config
	db         *sql.DB
	client     *ent.Client
	svc        *auth.Service
	keys       *keys.Ring
	statements *atomic.Int64
}

// newCountingStack opens uri as the service does; its client counts the
// statements sent with a context for which counted holds, every statement
// when counted is nil.
func newCountingStack(t testing.TB, uri string, counted func(context.Context) bool) *countingStack {
	t.Helper()
	env := testEnv(uri)
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	db, _, err := database.Open(cfg.Database, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &countingStack{cfg: cfg, db: db, statements: new(atomic.Int64)}
	drv := dialect.DebugWithContext(entsql.OpenDB(database.Dialect(cfg.Database.Dialect), db), func(ctx context.Context, _ ...any) {
		if counted == nil || counted(ctx) {
			c.statements.Add(1)
		}
	})
	c.client = ent.NewClient(ent.Driver(drv))
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if err := migrate(context.Background(), db, c.client, cfg, logger); err != nil {
		t.Fatal(err)
	}
	hasher, err := newHasher(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.svc, c.keys, err = services(context.Background(), cfg, c.client, hasher, logger, nil, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// countingService returns the use cases over uri and the count of every
// statement they send.
func countingService(t testing.TB, uri string) (*auth.Service, *atomic.Int64) {
	t.Helper()
	c := newCountingStack(t, uri, nil)
	return c.svc, c.statements
}

// TestValidateTokenOneRoundTrip checks that validateToken answers with one
// database statement: signature and expiry in memory, and the session's
// liveness (revocation, the user's standing) in one query.
func TestValidateTokenOneRoundTrip(t *testing.T) {
	t.Parallel()
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
