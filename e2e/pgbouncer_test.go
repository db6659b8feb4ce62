package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/bench"
	"github.com/latchkey/latchkey/internal/testdb"
)

// pgbouncerExecMode is the pgx connection-string parameter that makes the
// service work behind PgBouncer in transaction mode, as docs/operations.md
// gives it: statements are sent without named prepared statements, which a
// transaction-mode PgBouncer before 1.21 cannot carry from one server
// connection to the next.
const pgbouncerExecMode = "default_query_exec_mode=exec"

// startPgBouncer runs PgBouncer in front of the database of uri in
// transaction mode, with poolSize server connections at most, and returns
// the URI of that database through it. Without pgbouncer it skips the
// test, or fails it in CI.
func startPgBouncer(t *testing.T, uri string, poolSize int) string {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pgbouncer is needed in CI (apt-get install pgbouncer)")
		}
		t.Skip("no pgbouncer (apt-get install pgbouncer)")
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	dir := t.TempDir()
	listen := freePort(t)
	ini := fmt.Sprintf(`[databases]
%s = host=%s port=%s dbname=%s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = %d
max_client_conn = 500
ignore_startup_parameters = extra_float_digits
`, name, host, port, name, listen, filepath.Join(dir, "users.txt"), poolSize)
	if err := os.WriteFile(filepath.Join(dir, "pgbouncer.ini"), []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.txt"), []byte(`"`+u.User.Username()+`" ""`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{filepath.Join(dir, "pgbouncer.ini")}
	if os.Geteuid() == 0 {
		// PgBouncer refuses to run as root; it reads its files, then
		// switches.
		args = append([]string{"-u", "postgres"}, args...)
	}
	cmd := exec.Command(bin, args...)
	logs := bench.NewLogBuffer()
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("pgbouncer's log:\n%s", logs)
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(listen))
	apitest.Eventually(t, 10*time.Second, "pgbouncer listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	through := *u
	through.Host = addr
	return through.String()
}

// withParam is uri with one more query parameter, given as name=value.
func withParam(uri, param string) string {
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + param
}

// TestPgBouncerTransactionMode runs the built binary through PgBouncer in
// transaction mode with two server connections for two replicas of ten
// connections each, so that every client connection is served by whichever
// server connection is free: the migrate command, two replicas starting
// together (each migrates under the migration lock), and concurrent
// clients that register, log in, call me, refresh and log out, spread over
// both replicas. It needs the URI's default_query_exec_mode=exec, and a
// migration lock that a pooler cannot separate from its transaction.
func TestPgBouncerTransactionMode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PgBouncer and the binary")
	}
	t.Parallel()
	direct := testdb.Postgres(t)
	uri := withParam(startPgBouncer(t, direct, 2), pgbouncerExecMode)
	env := apitest.Env(uri, "DATABASE_MAX_CONNS", "10",
		"LOGIN_MAX_FAILURES", "0", "RATE_LIMIT_LOGIN", "0", "RATE_LIMIT_REGISTER", "0",
		"RATE_LIMIT_REFRESH", "0", "RATE_LIMIT_VALIDATE", "0")

	if out, err := runCommand(t, env, "migrate"); err != nil {
		t.Fatalf("latchkey migrate through PgBouncer: %v\n%s", err, out)
	}
	// Both replicas migrate at their start, one after the other under
	// the lock; a lock left behind on a pooled server connection would
	// hang the second.
	replicas := make([]*service, 2)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { replicas[i] = startService(t, env) })
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	rr := &roundRobin{client: &http.Client{Timeout: 30 * time.Second}}
	for _, s := range replicas {
		rr.bases = append(rr.bases, s.URL)
	}
	t.Cleanup(rr.client.CloseIdleConnections)

	const clients, refreshes = 12, 5
	client := func(i int) error {
		email := apitest.UniqueEmail(fmt.Sprintf("bouncer-%d", i))
		creds := map[string]any{"input": map[string]any{"email": email, "password": apitest.Password}}
		if _, r, err := rr.authPayload("register", "", apitest.RegisterDoc, creds); err != nil || len(r.Errors) > 0 {
			return unexpected("register", r, err)
		}
		p, r, err := rr.authPayload("login", "", apitest.LoginDoc, creds)
		if err != nil || len(r.Errors) > 0 {
			return unexpected("login", r, err)
		}
		for step := range refreshes {
			r, err := rr.post(p.AccessToken, `{ me { email } }`, nil)
			var me struct{ Email string }
			if err != nil || len(r.Errors) > 0 || json.Unmarshal(r.Data["me"], &me) != nil || me.Email != email {
				return unexpected(fmt.Sprintf("me %d", step), r, err)
			}
			if p, r, err = rr.authPayload("refreshToken", "", apitest.RefreshDoc, map[string]any{"t": p.RefreshToken}); err != nil || len(r.Errors) > 0 {
				return unexpected(fmt.Sprintf("refresh %d", step), r, err)
			}
		}
		r, err = rr.post(p.AccessToken, `mutation { logout }`, nil)
		if err != nil || string(r.Data["logout"]) != "true" {
			return unexpected("logout", r, err)
		}
		if r, err := rr.post(p.AccessToken, `{ me { id } }`, nil); err != nil || r.Code() != "UNAUTHENTICATED" || r.Ext("reason") != "revoked" {
			return unexpected("me after logout, want UNAUTHENTICATED revoked", r, err)
		}
		return nil
	}
	for i := range clients {
		wg.Go(func() {
			if err := client(i); err != nil {
				t.Errorf("client %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		for i, s := range replicas {
			t.Logf("replica %d's logs:\n%s", i, s.logs)
		}
		return
	}
	for _, s := range replicas {
		s.stop(t)
	}

	db, ctx := openPostgres(t, direct)
	countChecks(t, ctx, db, append(integrityChecks,
		countCheck{"users", `SELECT count(*) FROM users`, clients},
		countCheck{"live sessions", `SELECT count(*) FROM sessions WHERE revoked_at IS NULL`, clients},
		// pg_locks is the cluster's: only this test's database counts, not
		// the locks of tests running beside it.
		countCheck{"advisory locks left behind", `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, 0},
	))
}
