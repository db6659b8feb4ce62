package main

import (
	"testing"

	"github.com/latchkey/latchkey/internal/config"
)

// TestStmtCache checks on a real SQLite database that repeated statements
// run through one cached statement each, that a statement whose rows are
// still open is not reused under them, and that DDL is not cached.
func TestStmtCache(t *testing.T) {
	db, client, err := openDatabase(config.Database{Dialect: "sqlite", Path: ":memory:"}, nil)
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
	for want := range 3 {
		var v int
		if err := db.QueryRowContext(ctx, query, want).Scan(&v); err != nil || v != want {
			t.Errorf("query(%d) = %d, %v, want %d", want, v, err, want)
		}
	}

	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*cachingConn)
		if !ok {
			t.Fatalf("SQLite connection is a %T, want *cachingConn", dc)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.stmts) != 2 || c.stmts[query] == nil || c.stmts["INSERT INTO n (v) VALUES (?)"] == nil {
			t.Errorf("cached statements = %v, want the SELECT and the INSERT only", keys(c.stmts))
		}
		if c.stmts[query].busy {
			t.Error("cached statement still busy after its rows closed")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func keys(m map[string]*cachedStmt) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
