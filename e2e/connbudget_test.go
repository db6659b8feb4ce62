package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/testdb"
)

// concurrentMe sends n me requests with bearer at once and returns their
// answers and how long the slowest took.
func concurrentMe(t *testing.T, base, bearer string, n int) ([]apitest.Response, time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 60 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	began := time.Now()
	calls := atOnce(client, base, bearer, `{ me { id } }`, n, func(int) map[string]any { return nil })
	took := time.Since(began)
	answers := make([]apitest.Response, n)
	for i, c := range calls {
		if c.err != nil {
			t.Fatalf("me %d: %v", i, c.err)
		}
		answers[i] = c.r
	}
	return answers, took
}

// wantInternal checks that every answer is INTERNAL_SERVER_ERROR with a
// request id and no internals.
func wantInternal(t *testing.T, what string, answers []apitest.Response) {
	t.Helper()
	for i, r := range answers {
		if r.Code() != "INTERNAL_SERVER_ERROR" || r.Ext("requestId") == nil {
			t.Errorf("%s %d: %s, want INTERNAL_SERVER_ERROR with a requestId", what, i, r.Body)
			continue
		}
		for _, leak := range leaks {
			if strings.Contains(r.Errors[0].Message, leak) {
				t.Errorf("%s %d: the message %q reveals %q", what, i, r.Errors[0].Message, leak)
			}
		}
	}
}

// TestPoolExhausted holds every connection of the service's pool
// (DATABASE_MAX_CONNS=2) in statements that wait on a table lock, with
// eight me requests at once: two wait in PostgreSQL, six for a connection
// of the pool. Every one ends at REQUEST_TIMEOUT with
// INTERNAL_SERVER_ERROR, none hangs, each is logged as "request timed
// out", and once the lock is gone me answers again.
func TestPoolExhausted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary on PostgreSQL")
	}
	t.Parallel()
	uri := testdb.Postgres(t)
	const requestTimeout = 2 * time.Second
	s := startService(t, apitest.Env(uri, "DATABASE_MAX_CONNS", "2", "REQUEST_TIMEOUT", requestTimeout.String()))
	me := s.Register(t, apitest.UniqueEmail("pool"))

	db, _ := openPostgres(t, uri)
	ctx := t.Context()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `LOCK TABLE users, sessions IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	answers, took := concurrentMe(t, s.URL, me.AccessToken, 8)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	wantInternal(t, "me while the pool is exhausted", answers)
	// A bound for a hang, not a speed: every request ends once its
	// deadline has passed, give or take a busy machine.
	if took > requestTimeout+10*time.Second {
		t.Errorf("the requests waiting for the pool took %v, want them ended at REQUEST_TIMEOUT (%v)", took, requestTimeout)
	}
	if !strings.Contains(s.logs.String(), `"msg":"request timed out"`) {
		t.Errorf("no log line says the request timed out waiting for the database; logs:\n%s", s.logs)
	}
	apitest.Eventually(t, 10*time.Second, "me once the lock is gone", func() bool {
		return s.Post(t, me.AccessToken, `{ me { id } }`, nil).Code() == ""
	})
}

// TestConnectionsRefused runs the service as a role of its own, then has
// PostgreSQL refuse that role's connections (CONNECTION LIMIT 0) and ends
// those it has: every request fails with INTERNAL_SERVER_ERROR before its
// deadline, none waits for it, the log line carries PostgreSQL's reason (too many connections,
// SQLSTATE 53300), and once the limit is lifted the service answers again
// by itself.
func TestConnectionsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary on PostgreSQL")
	}
	t.Parallel()
	uri := testdb.Postgres(t)
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	role := "latchkey_role_" + strings.TrimPrefix(dbName, "latchkey_test_")
	admin, _ := openPostgres(t, uri)
	ctx := t.Context()
	server, _ := openPostgres(t, strings.Replace(uri, "/"+dbName, "/postgres", 1))
	exec := func(sql string) {
		t.Helper()
		if _, err := admin.ExecContext(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	ident := quoteIdent(role)
	exec("CREATE ROLE " + ident + " LOGIN")
	t.Cleanup(func() {
		// The role owns the database and its tables: drop the database
		// first (testdb's own drop then finds nothing).
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, sql := range []string{
			"DROP DATABASE IF EXISTS " + quoteIdent(dbName) + " WITH (FORCE)",
			"DROP ROLE IF EXISTS " + ident,
		} {
			if _, err := server.ExecContext(ctx, sql); err != nil {
				t.Errorf("%s: %v", sql, err)
			}
		}
	})
	exec("ALTER DATABASE " + quoteIdent(dbName) + " OWNER TO " + ident)
	as := *u
	as.User = url.User(role)

	const requestTimeout = 20 * time.Second
	s := startService(t, apitest.Env(as.String(), "DATABASE_MAX_CONNS", "4", "REQUEST_TIMEOUT", requestTimeout.String()))
	me := s.Register(t, apitest.UniqueEmail("refused"))

	exec("ALTER ROLE " + ident + " CONNECTION LIMIT 0")
	exec(fmt.Sprintf("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '%s'", role))
	apitest.Eventually(t, 10*time.Second, "the service's connections ended", func() bool {
		var n int
		err := admin.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE usename = $1", role).Scan(&n)
		return err == nil && n == 0
	})
	answers, took := concurrentMe(t, s.URL, me.AccessToken, 6)
	wantInternal(t, "me while PostgreSQL refuses connections", answers)
	// Refused, not waiting: the answers come before the deadline.
	if took >= requestTimeout {
		t.Errorf("requests took %v while PostgreSQL refused connections, want them failed before REQUEST_TIMEOUT (%v)", took, requestTimeout)
	}
	if !strings.Contains(s.logs.String(), "SQLSTATE 53300") {
		t.Errorf("no log line carries PostgreSQL's refusal (SQLSTATE 53300); logs:\n%s", s.logs)
	}

	exec("ALTER ROLE " + ident + " CONNECTION LIMIT -1")
	apitest.Eventually(t, 10*time.Second, "me once connections are allowed again", func() bool {
		return s.Post(t, me.AccessToken, `{ me { id } }`, nil).Code() == ""
	})
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
