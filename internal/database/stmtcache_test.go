package database

import (
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
)

// TestStmtCache checks on a real SQLite database that repeated statements
// run through one cached statement each, that a statement whose rows are
// still open is not reused under them, and that DDL is not cached.
func TestStmtCache(t *testing.T) {
	db, client, err := Open(config.Database{Dialect: "sqlite", Path: ":memory:"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, "CREATE TABLE n (v INTEGER)"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := db.ExecContext(ctx, "INSERT INTO n (v) VALUES (?)", i); err != nil {
			t.Fatal(err)
		}
	}

	const query = "SELECT v FROM n WHERE v >= ? ORDER BY v"
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	outer, err := tx.QueryContext(ctx, query, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for outer.Next() {
		var v int
		if err := outer.Scan(&v); err != nil {
			t.Fatal(err)
		}
		// The same text while the outer rows are open: a statement of its own.
		var inner int
		if err := tx.QueryRowContext(ctx, query, v).Scan(&inner); err != nil {
			t.Fatal(err)
		}
		if inner != v {
			t.Errorf("inner query(%d) = %d, want %d", v, inner, v)
		}
		got = append(got, v)
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	outer.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != 0 || got[2] != 2 {
		t.Errorf("outer query = %v, want [0 1 2]", got)
	}
	first := cachedStmts(t, db)[query]
	for want := range 3 {
		var v int
		if err := db.QueryRowContext(ctx, query, want).Scan(&v); err != nil || v != want {
			t.Errorf("query(%d) = %d, %v, want %d", want, v, err, want)
		}
	}

	stmts := cachedStmts(t, db)
	if len(stmts) != 2 || stmts[query] == nil || stmts["INSERT INTO n (v) VALUES (?)"] == nil {
		t.Errorf("cached statements = %v, want the SELECT and the INSERT only", slices.Collect(maps.Keys(stmts)))
	}
	if first == nil || stmts[query] != first {
		t.Error("the SELECT was prepared again: its runs did not go through its cached statement")
	}
	if stmts[query] != nil && stmts[query].busy {
		t.Error("cached statement still busy after its rows closed")
	}
}

// cachedStmts returns a copy of the statement cache of db's one SQLite
// connection.
func cachedStmts(t *testing.T, db *sql.DB) map[string]*cachedStmt {
	t.Helper()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out map[string]*cachedStmt
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*cachingConn)
		if !ok {
			return fmt.Errorf("SQLite connection is a %T, want *cachingConn", dc)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		out = maps.Clone(c.stmts)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
