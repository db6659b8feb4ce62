package bench

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/ent/refreshtoken"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/database"
	"github.com/latchkey/latchkey/internal/testdb"
)

// floorConfig is the service's configuration on databaseURI, with cheap
// password hashing.
func floorConfig(t *testing.T, databaseURI string) config.Config {
	t.Helper()
	env := map[string]string{
		"DATABASE_URI":              databaseURI,
		"PASSWORD_HASH_MEMORY":      "64",
		"PASSWORD_HASH_ITERATIONS":  "1",
		"PASSWORD_HASH_CONCURRENCY": "2",
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestFloorLogin(t *testing.T) {
	cfg := floorConfig(t, testdb.SQLiteMemory)
	res, err := FloorLogin(t.Context(), cfg, 3, 200*time.Millisecond, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != 0 {
		t.Errorf("FloorLogin() = %d hashes, %d errors, want some and none", res.Requests, res.Errors)
	}
}

// TestFloorRefresh checks that the floor's rotations are real: every one
// it counts spent a token in the database and stored its successor.
func TestFloorRefresh(t *testing.T) {
	testdb.Each(t, func(t *testing.T, uri string) {
		if uri == testdb.SQLiteMemory {
			uri = testdb.SQLiteFile(t)
		}
		cfg := floorConfig(t, uri)
		res, err := FloorRefresh(t.Context(), cfg, 3, 300*time.Millisecond, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests == 0 || res.Errors != 0 {
			t.Fatalf("FloorRefresh() = %d rotations, %d errors %v, want some and none", res.Requests, res.Errors, res.ErrorsByCode)
		}
		_, client, err := database.Open(cfg.Database, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		spent, err := client.RefreshToken.Query().Where(refreshtoken.SpentAtNotNil()).Count(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		live, err := client.RefreshToken.Query().Where(refreshtoken.SpentAtIsNil()).Count(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		// A rotation cut off by the end of the run may have committed
		// without being counted.
		if int64(spent) < res.Requests || int64(spent) > res.Requests+3 || live != 3 {
			t.Errorf("after %d rotations by 3 workers: %d spent and %d live tokens, want as many spent and 3 live", res.Requests, spent, live)
		}
	})
}

// startFloorServer serves the floors on cfg's database until the test ends
// and returns their URL and the line's token, email and password.
func startFloorServer(t *testing.T, cfg config.Config) (url, tok, email, secret string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	served := make(chan error, 1)
	go func() { served <- FloorServer(ctx, cfg, ln, pw) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("FloorServer() = %v, want nil", err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 5 || f[0] != "floor" {
		t.Fatalf("FloorServer wrote %q, %v, want \"floor ADDR TOKEN EMAIL PASSWORD\"", line, err)
	}
	return "http://" + f[1], f[2], f[3], f[4]
}

// TestFloorServer loads me's floor handler with the me scenario, with its
// token, with a forged one and with the token of a revoked session, whose
// failures must all be counted: the floor checks the session, as me does.
func TestFloorServer(t *testing.T) {
	testdb.Each(t, func(t *testing.T, uri string) {
		if uri == testdb.SQLiteMemory {
			uri = testdb.SQLiteFile(t)
		}
		cfg := floorConfig(t, uri)
		url, tok, _, _ := startFloorServer(t, cfg)

		res, err := Run(t.Context(), Options{URL: url, Scenario: "me", Concurrency: 2, Duration: 200 * time.Millisecond, Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests == 0 || res.Errors != 0 {
			t.Errorf("me floor = %d requests, %d errors %v, want some and none", res.Requests, res.Errors, res.ErrorsByCode)
		}

		res, err = Run(t.Context(), Options{URL: url, Scenario: "me", Concurrency: 2, Duration: 200 * time.Millisecond, Token: tok + "x"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests == 0 || res.Errors != res.Requests || res.ErrorsByCode["http_401"] != res.Requests {
			t.Errorf("me floor with a forged token = %d requests, errors %v, want every one http_401", res.Requests, res.ErrorsByCode)
		}

		_, client, err := database.Open(cfg.Database, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		if err := client.Session.Update().SetRevokedAt(time.Now()).Exec(t.Context()); err != nil {
			t.Fatal(err)
		}
		res, err = Run(t.Context(), Options{URL: url, Scenario: "me", Concurrency: 2, Duration: 200 * time.Millisecond, Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests == 0 || res.Errors != res.Requests || res.ErrorsByCode["http_401"] != res.Requests {
			t.Errorf("me floor with a revoked session's token = %d requests, errors %v, want every one http_401", res.Requests, res.ErrorsByCode)
		}
	})
}

// TestFloorServerLoginRefresh loads the floor handlers with the login and
// refresh scenarios and checks that their work is real: every login counted
// started a session, every refresh spent a token and stored its successor,
// the tokens they answer are the service's, and a wrong password or a
// spent token is refused.
func TestFloorServerLoginRefresh(t *testing.T) {
	testdb.Each(t, func(t *testing.T, uri string) {
		if uri == testdb.SQLiteMemory {
			uri = testdb.SQLiteFile(t)
		}
		cfg := floorConfig(t, uri)
		url, _, email, secret := startFloorServer(t, cfg)
		_, client, err := database.Open(cfg.Database, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		issuer, err := Issuer(t.Context(), cfg, client)
		if err != nil {
			t.Fatal(err)
		}
		count := func() (sessions, spent, live int) {
			t.Helper()
			var errs [3]error
			sessions, errs[0] = client.Session.Query().Count(t.Context())
			spent, errs[1] = client.RefreshToken.Query().Where(refreshtoken.SpentAtNotNil()).Count(t.Context())
			live, errs[2] = client.RefreshToken.Query().Where(refreshtoken.SpentAtIsNil()).Count(t.Context())
			if err := errors.Join(errs[:]...); err != nil {
				t.Fatal(err)
			}
			return sessions, spent, live
		}

		s0, _, _ := count()
		res, err := Run(t.Context(), Options{URL: url, Scenario: "login", Concurrency: 2, Duration: 300 * time.Millisecond, Email: email, Password: secret})
		if err != nil {
			t.Fatal(err)
		}
		s1, _, _ := count()
		// Prepare logs in once; a login cut off by the end may have committed.
		if res.Requests == 0 || res.Errors != 0 || int64(s1-s0) < res.Requests+1 || int64(s1-s0) > res.Requests+3 {
			t.Errorf("login floor = %d logins, %d errors %v, %d sessions started, want some logins, no errors, a session each", res.Requests, res.Errors, res.ErrorsByCode, s1-s0)
		}

		res, err = Run(t.Context(), Options{URL: url, Scenario: "refresh", Concurrency: 2, Duration: 300 * time.Millisecond, Email: email, Password: secret})
		if err != nil {
			t.Fatal(err)
		}
		_, spent, _ := count()
		if res.Requests == 0 || res.Errors != 0 || int64(spent) < res.Requests || int64(spent) > res.Requests+2 {
			t.Errorf("refresh floor = %d refreshes, %d errors %v, %d tokens spent, want some refreshes, no errors, a token spent each", res.Requests, res.Errors, res.ErrorsByCode, spent)
		}

		endpoint, err := Endpoint(url)
		if err != nil {
			t.Fatal(err)
		}
		c := NewClient(endpoint, 1)
		var first, second pair
		if err := c.Do(t.Context(), "", loginQuery, map[string]any{"email": email, "password": secret}, "login", &first); err != nil {
			t.Fatalf("login = %v, want tokens", err)
		}
		if err := c.Do(t.Context(), "", refreshQuery, map[string]any{"token": first.RefreshToken}, "refreshToken", &second); err != nil {
			t.Fatalf("refreshToken = %v, want tokens", err)
		}
		for _, tok := range []string{first.AccessToken, second.AccessToken} {
			if claims, err := issuer.Parse(tok); err != nil || claims.Email != email {
				t.Errorf("Parse(floor's access token) = %+v, %v, want %s's claims", claims, err, email)
			}
		}
		for _, tc := range []struct {
			name, query string
			vars        map[string]any
			field       string
		}{
			{"wrong password", loginQuery, map[string]any{"email": email, "password": secret + "x"}, "login"},
			{"unknown email", loginQuery, map[string]any{"email": "x" + email, "password": secret}, "login"},
			{"spent token", refreshQuery, map[string]any{"token": first.RefreshToken}, "refreshToken"},
			{"unknown token", refreshQuery, map[string]any{"token": "x" + second.RefreshToken}, "refreshToken"},
		} {
			var re *RequestError
			if err := c.Do(t.Context(), "", tc.query, tc.vars, tc.field, nil); !errors.As(err, &re) || re.Kind != "REFUSED" {
				t.Errorf("%s: Do() = %v, want REFUSED", tc.name, err)
			}
		}
	})
}
