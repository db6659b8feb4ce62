package testdb_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/testdb"
)

// connect opens a connection to uri, closed when the test ends.
func connect(t *testing.T, uri string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), uri)
	if err != nil {
		t.Fatalf("pgx.Connect(%q) = %v", uri, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestPostgres(t *testing.T) {
	var uri string
	outer := t
	t.Run("fresh", func(t *testing.T) {
		uri = testdb.Postgres(t)
		// Left open until the outer test ends: the cleanup must drop the
		// database from under it.
		conn := connect(outer, uri)
		var name string
		var tables int
		err := conn.QueryRow(t.Context(), `SELECT current_database(),
			(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast'))`).Scan(&name, &tables)
		if err != nil {
			t.Fatalf("querying %q: %v", uri, err)
		}
		if !strings.HasPrefix(name, "latchkey_test_") {
			t.Errorf("Postgres() connects to database %q, want latchkey_test_...", name)
		}
		if tables != 0 {
			t.Errorf("Postgres() database %q has %d relations, want 0", name, tables)
		}

		// Only the database name differs from TEST_DATABASE_URL.
		base, _ := url.Parse(os.Getenv("TEST_DATABASE_URL"))
		got, err := url.Parse(uri)
		if err != nil {
			t.Fatalf("Postgres() = %q, not a URL: %v", uri, err)
		}
		if got.Path != "/"+name {
			t.Errorf("Postgres() = %q, want path /%s", uri, name)
		}
		got.Path, base.Path, base.RawPath = "", "", ""
		if diff := cmp.Diff(base.String(), got.String()); diff != "" {
			t.Errorf("Postgres() = %q, want TEST_DATABASE_URL with another database; diff (-want +got):\n%s", uri, diff)
		}

		// A second database is another one.
		if other := testdb.Postgres(t); other == uri {
			t.Errorf("Postgres() twice = %q both times, want two databases", uri)
		}
		if _, err := conn.Exec(t.Context(), "CREATE TABLE t (id int)"); err != nil {
			t.Fatalf("creating a table: %v", err)
		}
	})
	if uri == "" {
		t.Skip("no PostgreSQL")
	}

	u, _ := url.Parse(uri)
	name := strings.TrimPrefix(u.Path, "/")
	var exists bool
	admin := connect(t, os.Getenv("TEST_DATABASE_URL"))
	if err := admin.QueryRow(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatalf("looking for database %s: %v", name, err)
	}
	if exists {
		t.Errorf("database %s exists after its test ended, want it dropped", name)
	}
}

func TestEach(t *testing.T) {
	got := map[string]string{}
	testdb.Each(t, func(t *testing.T, databaseURI string) {
		got[filepath.Base(t.Name())] = databaseURI
	})
	if uri := got["database=sqlite"]; uri != "sqlite://:memory:" {
		t.Errorf("Each ran database=sqlite with %q, want sqlite://:memory:", uri)
	}
	uri, ran := got["database=postgres"]
	wantPostgres := os.Getenv("TEST_DATABASE_URL") != "" && !testing.Short()
	if ran != wantPostgres {
		t.Errorf("Each ran database=postgres: %v, want %v", ran, wantPostgres)
	}
	if ran && !strings.HasPrefix(uri, "postgres") {
		t.Errorf("Each ran database=postgres with %q, want a postgres URI", uri)
	}
}

// TestPostgresWithoutURL runs Postgres in a child test process without
// TEST_DATABASE_URL: outside CI the test is skipped, in CI it fails.
func TestPostgresWithoutURL(t *testing.T) {
	if os.Getenv("TESTDB_CHILD") != "" {
		testdb.Postgres(t)
		t.Log("Postgres returned")
		return
	}
	tests := []struct {
		name     string
		ci       string
		wantFail bool
	}{
		{name: "outside CI", ci: "", wantFail: false},
		{name: "in CI", ci: "true", wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestPostgresWithoutURL$", "-test.v")
			cmd.Env = append(os.Environ(), "TESTDB_CHILD=1", "TEST_DATABASE_URL=", "CI="+tt.ci)
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tt.wantFail {
				t.Errorf("Postgres(t) with CI=%q: test failed %v, want %v; output:\n%s", tt.ci, failed, tt.wantFail, out)
			}
			if strings.Contains(string(out), "Postgres returned") {
				t.Errorf("Postgres(t) with CI=%q returned, want it to stop the test; output:\n%s", tt.ci, out)
			}
		})
	}
}

func TestSQLiteFile(t *testing.T) {
	uri := testdb.SQLiteFile(t)
	path, ok := strings.CutPrefix(uri, "sqlite://")
	if !ok || !filepath.IsAbs(path) {
		t.Fatalf("SQLiteFile() = %q, want sqlite:// and an absolute path", uri)
	}
	if info, err := os.Stat(filepath.Dir(path)); err != nil || !info.IsDir() {
		t.Errorf("SQLiteFile() = %q: directory %v, want it to exist", uri, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("SQLiteFile() = %q: file exists (%v), want a fresh path", uri, err)
	}
}
