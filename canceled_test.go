package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testdb"
)

// TestClientGoneIsNoServerError logs in with a client that goes away while
// the password is being hashed: the login is counted as canceled, not as an
// error, and the log has no "internal error" to page anyone for.
func TestClientGoneIsNoServerError(t *testing.T) {
	t.Parallel()
	// A hash slow enough for the client to leave in the middle of it, and
	// one slot, so that the start warms one such hash, not one per CPU.
	env := testEnv(testdb.SQLiteMemory, "PASSWORD_HASH_MEMORY", "65536", "PASSWORD_HASH_ITERATIONS", "4", "PASSWORD_HASH_CONCURRENCY", "1")
	s := startServer(t, env)
	email := uniqueEmail(t, "gone")
	s.register(t, email)

	body, _ := json.Marshal(map[string]any{"query": loginDoc, "variables": map[string]any{"input": map[string]any{"email": email, "password": testPassword}}})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the login answered before the client went away: make the hash slower")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("login: %v", err)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		canceled, _ := sample(s.scrape(t), "latchkey_logins_total", "outcome", "canceled")
		if canceled == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("latchkey_logins_total{outcome=canceled} = %v, want 1", canceled)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if errs, _ := sample(s.scrape(t), "latchkey_logins_total", "outcome", "error"); errs != 0 {
		t.Errorf("latchkey_logins_total{outcome=error} = %v, want 0 for a client that went away", errs)
	}
	if logs := s.logs.String(); strings.Contains(logs, "internal error") {
		t.Errorf("a client going away was logged as an internal error:\n%s", logs)
	}
}
