package main

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/testdb"
)

// hashes is how many password hashes the servers computed so far.
func hashes(t *testing.T, servers ...*testServer) int {
	t.Helper()
	n := 0
	for _, s := range servers {
		v, _ := sample(s.scrape(t), "latchkey_password_hash_duration_seconds")
		n += int(v)
	}
	return n
}

// TestLoginThrottleBurst sends 100 wrong passwords for one account at once:
// each is counted before its hash, atomically, so at most
// LOGIN_MAX_FAILURES hashes run. e2e's TestLoginThrottleReplicas does the
// same on three processes.
func TestLoginThrottleBurst(t *testing.T) {
	t.Parallel()
	const maxFailures, burst = 10, 100
	testdb.Each(t, func(t *testing.T, uri string) {
		env := testEnv(uri, "LOGIN_MAX_FAILURES", fmt.Sprint(maxFailures), "RATE_LIMIT_LOGIN", "0")
		replicas := []*testServer{startServer(t, env)}
		email := uniqueEmail(t, "burst")
		replicas[0].register(t, email)
		before := hashes(t, replicas...)

		codes := make([]string, burst)
		var wg sync.WaitGroup
		for i := range burst {
			wg.Go(func() {
				codes[i] = replicas[i%len(replicas)].loginAs(t, nil, email, "wrong password "+fmt.Sprint(i)).code()
			})
		}
		wg.Wait()
		count := map[string]int{}
		for _, c := range codes {
			count[c]++
		}
		if got := hashes(t, replicas...) - before; got > maxFailures {
			t.Errorf("%d concurrent wrong logins on %d replicas computed %d password hashes, want at most %d (codes %v)", burst, len(replicas), got, maxFailures, count)
		}
		if count["INVALID_CREDENTIALS"] > maxFailures || count["INVALID_CREDENTIALS"]+count["RATE_LIMITED"] != burst {
			t.Errorf("codes %v, want at most %d INVALID_CREDENTIALS and the rest RATE_LIMITED", count, maxFailures)
		}
	})
}

// TestStrangerCannotLockOut locks an account from an attacker's address:
// the user, at the address they logged in from before, still logs in; an
// address the account never logged in from is held by the lock.
func TestStrangerCannotLockOut(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri, "TRUSTED_PROXIES", "127.0.0.0/8,::1", "LOGIN_MAX_FAILURES", "5", "RATE_LIMIT_LOGIN", "0"))
		from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }
		home, attacker, stranger := from("198.51.100.10"), from("203.0.113.66"), from("192.0.2.44")
		email := uniqueEmail(t, "target")
		s.register(t, email)
		wantCode(t, "login from home", s.loginAs(t, home, email, testPassword), "")

		for i := range 5 {
			wantCode(t, fmt.Sprintf("attacker's guess %d", i+1), s.loginAs(t, attacker, email, "guess"+fmt.Sprint(i)), "INVALID_CREDENTIALS")
		}
		wantCode(t, "attacker past the limit", s.loginAs(t, attacker, email, testPassword), "RATE_LIMITED")
		wantCode(t, "a stranger's address, right password", s.loginAs(t, stranger, email, testPassword), "RATE_LIMITED")
		wantCode(t, "the user at home, locked account", s.loginAs(t, home, email, testPassword), "")

		// Home has a budget of its own for the account, not an unlimited one.
		for i := range 5 {
			wantCode(t, fmt.Sprintf("wrong password from home %d", i+1), s.loginAs(t, home, email, "typo"+fmt.Sprint(i)), "INVALID_CREDENTIALS")
		}
		wantCode(t, "home past its own budget", s.loginAs(t, home, email, testPassword), "RATE_LIMITED")
	})
}

// TestChangePasswordThrottled guesses the current password with a stolen
// access token, twenty aliased guesses in one request: the session's limit
// refuses all but the first few before hashing, and the guesses count
// against the account like failed logins.
func TestChangePasswordThrottled(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri, "LOGIN_MAX_FAILURES", "8", "RATE_LIMIT_LOGIN", "0", "MAX_ROOT_FIELDS", "25"))
		email := uniqueEmail(t, "stolen")
		p := s.register(t, email)
		doc := "mutation {"
		for i := range 20 {
			doc += fmt.Sprintf(` g%d: changePassword(input: {currentPassword: "guess%d", newPassword: "a new passphrase %d"})`, i, i, i)
		}
		doc += " }"
		before := hashes(t, s)
		r := s.post(t, p.AccessToken, doc, nil)
		count := map[string]int{}
		for _, e := range r.Errors {
			code, _ := e.Extensions["code"].(string)
			count[code]++
		}
		if count["INVALID_CREDENTIALS"] != 5 || count["RATE_LIMITED"] != 15 {
			t.Errorf("20 aliased wrong current passwords: codes %v, want 5 INVALID_CREDENTIALS then 15 RATE_LIMITED", count)
		}
		if got := hashes(t, s) - before; got > 5 {
			t.Errorf("20 aliased wrong current passwords computed %d hashes, want at most 5", got)
		}
		// 5 of the account's 8 failures are spent: 3 wrong logins more lock it.
		for i := range 3 {
			wantCode(t, fmt.Sprintf("wrong login %d", i+1), s.loginAs(t, nil, email, "wrong"+fmt.Sprint(i)), "INVALID_CREDENTIALS")
		}
		wantCode(t, "login after 8 failures", s.loginAs(t, nil, email, testPassword), "RATE_LIMITED")
	})
}

// TestRoleChangeAtOnce grants a role to a user with a live token:
// validateToken reports it, as @hasRole enforces it, on the next request
// with the same token, because both read the roles from the database.
func TestRoleChangeAtOnce(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		if uri == testdb.SQLiteMemory {
			// The roles command must reach the same database as the server.
			uri = testdb.SQLiteFile(t)
		}
		env := testEnv(uri)
		s := startServer(t, env)
		email := uniqueEmail(t, "promoted")
		p := s.register(t, email)
		if v := validate(t, s, p.AccessToken); !slices.Equal(v.Roles, []string{"user"}) {
			t.Fatalf("validateToken before the grant: roles %v, want [user]", v.Roles)
		}
		wantCode(t, "user(id:) before the grant", s.post(t, p.AccessToken, `query($id: ID!) { user(id: $id) { id } }`, map[string]any{"id": p.User.ID}), "FORBIDDEN")
		grantAdmin(t, env, email)
		if v := validate(t, s, p.AccessToken); !slices.Contains(v.Roles, "admin") {
			t.Errorf("validateToken after the grant, same token: roles %v, want admin among them", v.Roles)
		}
		wantCode(t, "user(id:) after the grant, same token", s.post(t, p.AccessToken, `query($id: ID!) { user(id: $id) { id } }`, map[string]any{"id": p.User.ID}), "")
	})
}
