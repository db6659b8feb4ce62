package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/testdb"
)

// TestReplicasMigrateTogether starts three instances at once against one
// empty PostgreSQL database: all become ready, they agree on one signing
// key, and each accepts the others' tokens.
func TestReplicasMigrateTogether(t *testing.T) {
	t.Parallel()
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

// TestThrottleSharedByReplicas runs two instances on one PostgreSQL
// database: failures counted by either throttle logins on both.
func TestThrottleSharedByReplicas(t *testing.T) {
	t.Parallel()
	t.Run("account", func(t *testing.T) {
		uri := testdb.Postgres(t)
		servers := []*testServer{startServer(t, testEnv(uri)), startServer(t, testEnv(uri))}
		victim, bystander := uniqueEmail(t, "shared-victim"), uniqueEmail(t, "shared-bystander")
		servers[0].register(t, victim)
		servers[1].register(t, bystander)
		for i := range 10 {
			wantCode(t, fmt.Sprintf("failure %d on replica %d", i+1, i%2), servers[i%2].loginAs(t, nil, victim, fmt.Sprint("wrong password ", i)), "INVALID_CREDENTIALS")
		}
		for i, s := range servers {
			r := s.loginAs(t, nil, victim, testPassword)
			wantCode(t, fmt.Sprintf("right password on replica %d after 10 failures on both", i), r, "RATE_LIMITED")
			if r.code() == "RATE_LIMITED" {
				retryAfter(t, r)
			}
		}
		for i, s := range servers {
			if r := s.loginAs(t, nil, bystander, testPassword); len(r.Errors) > 0 {
				t.Errorf("another account on replica %d: %s", i, r.Body)
			}
		}
	})
	t.Run("address", func(t *testing.T) {
		uri := testdb.Postgres(t)
		env := testEnv(uri, "RATE_LIMIT_LOGIN", "4/15m", "LOGIN_MAX_FAILURES", "0")
		servers := []*testServer{startServer(t, env), startServer(t, env)}
		for i := range 4 {
			wantCode(t, fmt.Sprintf("failure %d", i+1), servers[i%2].loginAs(t, nil, uniqueEmail(t, fmt.Sprint("spray", i)), "wrong password"), "INVALID_CREDENTIALS")
		}
		for i, s := range servers {
			r := s.loginAs(t, nil, uniqueEmail(t, "spray-over"), "wrong password")
			wantCode(t, fmt.Sprintf("replica %d past the address limit counted on both", i), r, "RATE_LIMITED")
		}
	})
}
