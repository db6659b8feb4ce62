package database

import (
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
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
