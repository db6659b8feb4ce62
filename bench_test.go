package main

import (
	"os"
	"testing"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/testdb"
)

// benchDatabases runs fn against in-memory SQLite and, when
// TEST_DATABASE_URL is set, a fresh PostgreSQL database.
func benchDatabases(b *testing.B, fn func(b *testing.B, uri string)) {
	b.Run("database=sqlite", func(b *testing.B) { fn(b, testdb.SQLiteMemory) })
	if os.Getenv("TEST_DATABASE_URL") != "" {
		b.Run("database=postgres", func(b *testing.B) { fn(b, testdb.Postgres(b)) })
	}
}

// productionHashing is the environment with the default (OWASP) argon2id
// parameters instead of the tests' cheap ones.
func productionHashing(uri string, overrides ...string) map[string]string {
	return apitest.ProductionHashing(uri, overrides...)
}

// BenchmarkLogin measures one login over HTTP, argon2id at its defaults
// (m=19456 KiB, t=2, p=1) included.
func BenchmarkLogin(b *testing.B) {
	benchDatabases(b, func(b *testing.B, uri string) {
		s := startServer(b, productionHashing(uri))
		email := uniqueEmail(b, "bench")
		s.register(b, email)
		b.ResetTimer()
		for b.Loop() {
			s.login(b, email, testPassword)
		}
	})
}

// BenchmarkMe measures one authenticated me query over HTTP: JWT
// verification and the one query that loads the user with its session's
// liveness.
func BenchmarkMe(b *testing.B) {
	benchDatabases(b, func(b *testing.B, uri string) {
		s := startServer(b, testEnv(uri))
		p := s.register(b, uniqueEmail(b, "bench"))
		b.ResetTimer()
		for b.Loop() {
			if r := s.post(b, p.AccessToken, meDoc, nil); len(r.Errors) > 0 {
				b.Fatal(r.Body)
			}
		}
	})
}

// BenchmarkRefresh measures one refresh-token rotation over HTTP.
func BenchmarkRefresh(b *testing.B) {
	benchDatabases(b, func(b *testing.B, uri string) {
		s := startServer(b, testEnv(uri))
		tok := s.register(b, uniqueEmail(b, "bench")).RefreshToken
		b.ResetTimer()
		for b.Loop() {
			var p payload
			s.refresh(b, tok).field(b, "refreshToken", &p)
			tok = p.RefreshToken
		}
	})
}
