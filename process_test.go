package main

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/testdb"
)

// TestInternalErrorsRevealNothing breaks the database under a running
// service: the client gets INTERNAL_SERVER_ERROR with the request id, and
// the log has the cause under the same id.
func TestInternalErrorsRevealNothing(t *testing.T) {
	uri := testdb.SQLiteFile(t)
	s := startServer(t, testEnv(uri))
	email := uniqueEmail(t, "broken")
	s.register(t, email)

	db, err := sql.Open("sqlite", config.Database{Path: strings.TrimPrefix(uri, "sqlite://")}.SQLiteDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP TABLE refresh_tokens`); err != nil {
		t.Fatal(err)
	}
	r := s.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": email, "password": testPassword}})
	wantCode(t, "login on a broken database", r, "INTERNAL_SERVER_ERROR")
	id := r.Header.Get("X-Request-Id")
	if r.ext("requestId") != id || id == "" {
		t.Errorf("requestId = %v, want the X-Request-Id %q", r.ext("requestId"), id)
	}
	if msg := r.Errors[0].Message; msg != "internal server error" {
		t.Errorf("message = %q, want nothing of the cause", msg)
	}
	for _, leak := range []string{"refresh_tokens", "SQL", "sqlite", "no such table"} {
		if strings.Contains(r.Body, leak) {
			t.Errorf("response reveals %q: %s", leak, r.Body)
		}
	}
	if logs := s.logs.String(); !strings.Contains(logs, id) || !strings.Contains(logs, "refresh_tokens") {
		t.Errorf("logs lack the request id %s with the cause", id)
	}
}

// buildBinary builds the service once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "latchkey-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "latchkey")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

// startProcess runs the built binary with env and waits until it is ready.
func startProcess(t *testing.T, env map[string]string) (*exec.Cmd, string) {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatalf("building: %v", err)
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case a := <-addr:
		base := "http://" + strings.Replace(a, "[::]", "127.0.0.1", 1)
		if err := waitForReady(base); err != nil {
			t.Fatal(err)
		}
		return cmd, base
	case <-time.After(30 * time.Second):
		t.Fatal("the service did not start")
	}
	return nil, ""
}

// TestRestartKeepsTokens stops the built binary with SIGTERM and starts it
// again on the same SQLite file: the tokens issued before still work,
// signed with the key kept in the database.
func TestRestartKeepsTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	env := testEnv(testdb.SQLiteFile(t))
	cmd, base := startProcess(t, env)
	s := &testServer{URL: base}
	p := s.register(t, uniqueEmail(t, "restart"))

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after SIGTERM the service exited with %v, want 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the service did not stop on SIGTERM")
	}

	_, base = startProcess(t, env)
	s = &testServer{URL: base}
	if r := s.post(t, p.AccessToken, meDoc, nil); len(r.Errors) > 0 {
		t.Errorf("me with an access token from before the restart: %s", r.Body)
	}
	if r := s.refresh(t, p.RefreshToken); len(r.Errors) > 0 {
		t.Errorf("refresh with a token from before the restart: %s", r.Body)
	}
}

// TestReplicasMigrateTogether starts three instances at once against one
// empty PostgreSQL database: all become ready, they agree on one signing
// key, and each accepts the others' tokens.
func TestReplicasMigrateTogether(t *testing.T) {
	uri := testdb.Postgres(t)
	servers := make([]*testServer, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var stop func() error
			servers[i], stop, errs[i] = launch(testEnv(uri))
			if errs[i] == nil {
				t.Cleanup(func() { stop() })
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	var jwks []string
	for _, s := range servers {
		resp, err := http.Get(s.URL + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		jwks = append(jwks, readAll(t, resp))
	}
	if jwks[0] != jwks[1] || jwks[1] != jwks[2] {
		t.Errorf("replicas publish different keys:\n%s", strings.Join(jwks, "\n"))
	}
	p := servers[0].register(t, uniqueEmail(t, "replicas"))
	for i, s := range servers[1:] {
		if r := s.post(t, p.AccessToken, meDoc, nil); len(r.Errors) > 0 {
			t.Errorf("replica %d refuses replica 0's token: %s", i+1, r.Body)
		}
	}
}

// TestLoginUpgradesPasswordHash restarts the service with stronger argon2id
// parameters: the next login stores the password under the new ones.
func TestLoginUpgradesPasswordHash(t *testing.T) {
	uri := testdb.SQLiteFile(t)
	email := uniqueEmail(t, "rehash")
	storedHash := func() string {
		db, err := sql.Open("sqlite", config.Database{Path: strings.TrimPrefix(uri, "sqlite://")}.SQLiteDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var h string
		if err := db.QueryRow(`SELECT password_hash FROM users WHERE email = ?`, email).Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}

	weak, stop, err := launch(testEnv(uri))
	if err != nil {
		t.Fatal(err)
	}
	weak.register(t, email)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	before := storedHash()
	if !strings.Contains(before, "$m=64,t=1,p=1$") {
		t.Fatalf("stored hash %q, want the test parameters m=64,t=1,p=1", before)
	}

	strong := startServer(t, testEnv(uri, "PASSWORD_HASH_MEMORY", "128", "PASSWORD_HASH_ITERATIONS", "2"))
	strong.login(t, email, testPassword)
	after := storedHash()
	if !strings.HasPrefix(after, "$argon2id$v=19$m=128,t=2,p=1$") {
		t.Errorf("hash after login = %q, want it upgraded to m=128,t=2,p=1", after)
	}
	strong.login(t, email, testPassword)
	if again := storedHash(); again != after {
		t.Errorf("a login with current parameters rehashed the password again")
	}
}
