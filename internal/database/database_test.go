package database

import (
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/testdb"
)

// TestMigrateConcurrently migrates two databases at once in one process, as
// in-process tests and commands beside each other do: under the race
// detector it fails if the migrations share Ent's table descriptors
// unguarded, and each database gets the whole schema.
func TestMigrateConcurrently(t *testing.T) {
	cfg := config.Database{Dialect: "sqlite", Path: ":memory:"}
	var wg sync.WaitGroup
	for range 2 {
		db, client, err := Open(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		wg.Go(func() {
			if err := Migrate(t.Context(), db, client, cfg, nil); err != nil {
				t.Errorf("Migrate: %v", err)
				return
			}
			if _, err := client.User.Query().Count(t.Context()); err != nil {
				t.Errorf("the migrated database has no users table: %v", err)
			}
		})
	}
	wg.Wait()
}

// TestPostgresUUIDParameters checks that a uuid.UUID parameter goes to
// PostgreSQL as the UUID it is, and that pgx encodes it without the
// detour through its string (and an error formatted on every statement)
// that its driver.Valuer alone would take.
func TestPostgresUUIDParameters(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL skipped in -short mode")
	}
	db, client, err := Open(config.Database{Dialect: "postgres", URL: testdb.Postgres(t), MaxConns: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	id := uuid.New()
	var got uuid.UUID
	var text string
	if err := db.QueryRowContext(t.Context(), "SELECT $1::uuid, $1::uuid::text", id).Scan(&got, &text); err != nil {
		t.Fatal(err)
	}
	if got != id || text != id.String() {
		t.Errorf("sent %s, PostgreSQL saw %s and gave back %s", id, text, got)
	}
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		m := dc.(*stdlib.Conn).Conn().TypeMap()
		buf := make([]byte, 0, 64)
		for _, v := range []any{id, &id} {
			if allocs := testing.AllocsPerRun(100, func() {
				if _, err := m.Encode(pgtype.UUIDOID, pgtype.BinaryFormatCode, v, buf); err != nil {
					t.Fatal(err)
				}
			}); allocs > 1 {
				// One: the pgtype.UUID handed on to pgx's own plan. The
				// detour through the string took 19.
				t.Errorf("encoding a %T allocates %.0f times, want at most 1", v, allocs)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
