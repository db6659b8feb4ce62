// Package testdb gives a test a fresh SQLite or PostgreSQL database.
//
// PostgreSQL comes from TEST_DATABASE_URL, a postgres:// URI of a server
// where its user may create databases, for example
//
//	TEST_DATABASE_URL='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' go test -race ./...
//
// Without it the PostgreSQL tests are skipped, except in CI (CI set), where
// they fail: PostgreSQL is never skipped silently.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// SQLiteMemory is the URI of a fresh in-memory SQLite database: each
// connection opened with it gets its own.
const SQLiteMemory = "sqlite://:memory:"

// Each runs fn as subtest "database=sqlite" with a fresh in-memory SQLite
// URI, and as subtest "database=postgres" with the URI of a freshly created
// PostgreSQL database (see Postgres). With -short only SQLite runs.
func Each(t *testing.T, fn func(t *testing.T, databaseURI string)) {
	t.Helper()
	t.Run("database=sqlite", func(t *testing.T) {
		fn(t, SQLiteMemory)
	})
	t.Run("database=postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("PostgreSQL skipped in -short mode")
		}
		fn(t, Postgres(t))
	})
}

// Postgres returns the URI of a fresh, empty PostgreSQL database created
// for this test on the server of TEST_DATABASE_URL, and drops it when the
// test ends. The URI is TEST_DATABASE_URL with only the database name
// changed. When TEST_DATABASE_URL is unset, Postgres skips the test, or
// fails it when CI is set.
func Postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TEST_DATABASE_URL must be set in CI")
		}
		t.Skip("TEST_DATABASE_URL not set: skipping PostgreSQL")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Not the error: it would show the URL, password included.
		t.Fatal("TEST_DATABASE_URL must be a postgres:// or postgresql:// URI")
	}

	name := "latchkey_test_" + randomHex(8)
	admin, err := pgx.Connect(t.Context(), base)
	if err != nil {
		t.Fatalf("connecting to TEST_DATABASE_URL: %v", err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(t.Context(), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// t.Context is canceled by the time cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := drop(ctx, base, name); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})

	u.Path, u.RawPath = "/"+name, ""
	// A database named in the query would override the path.
	q := u.Query()
	if q.Has("dbname") || q.Has("database") {
		q.Del("dbname")
		q.Del("database")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// drop drops database name on the server of base, closing any connection
// the test left open.
func drop(ctx context.Context, base, name string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// SQLiteFile returns the URI of a SQLite database file, not yet created, in
// the test's temporary directory: for tests that need the database to
// outlive one connection or process.
func SQLiteFile(t testing.TB) string {
	t.Helper()
	return "sqlite://" + filepath.Join(t.TempDir(), "auth.db")
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: it panics rather than return an error
	return hex.EncodeToString(b)
}

// OpenPostgres opens the PostgreSQL database uri through database/sql, for
// a test that checks what the service wrote there; it is closed when the
// test ends.
func OpenPostgres(t testing.TB, uri string) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(uri)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	return db
}
