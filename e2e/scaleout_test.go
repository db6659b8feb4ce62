package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/testdb"
	"github.com/latchkey/latchkey/internal/token"
)

// roundRobin spreads requests over replicas, each call to the next one.
type roundRobin struct {
	bases  []string
	next   atomic.Uint64
	client *http.Client
}

// post sends one GraphQL operation to the next replica.
func (rr *roundRobin) post(bearer, query string, vars map[string]any) (apitest.Response, error) {
	return rr.postTo(int(rr.next.Add(1)%uint64(len(rr.bases))), bearer, query, vars)
}

// postTo sends one GraphQL operation to replica i.
func (rr *roundRobin) postTo(i int, bearer, query string, vars map[string]any) (apitest.Response, error) {
	base := rr.bases[i%len(rr.bases)]
	r, _, err := apitest.Call(rr.client, base, bearer, query, vars)
	if err == nil && r.Status != http.StatusOK {
		err = fmt.Errorf("%s: HTTP %d %s", base, r.Status, r.Body)
	}
	return r, err
}

// authPayload posts an operation that answers an AuthPayload under field
// to the next replica.
func (rr *roundRobin) authPayload(field, bearer, query string, vars map[string]any) (apitest.Payload, apitest.Response, error) {
	r, err := rr.post(bearer, query, vars)
	p, err := decodePayload(field, r, err)
	return p, r, err
}

// decodePayload decodes the AuthPayload of r under field, unless r is an
// error.
func decodePayload(field string, r apitest.Response, err error) (apitest.Payload, error) {
	var p apitest.Payload
	if err == nil && len(r.Errors) == 0 {
		raw, ok := r.Data[field]
		if !ok {
			return p, fmt.Errorf("no data.%s: %s", field, r.Body)
		}
		err = json.Unmarshal(raw, &p)
	}
	return p, err
}

// sessionID is the sid claim of an access token.
func sessionID(accessToken string) (string, error) {
	parts := strings.Split(accessToken, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("access token has %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var claims struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return "", fmt.Errorf("access token claims: %w", err)
	}
	if claims.SID == "" {
		return "", fmt.Errorf("no sid in %s", raw)
	}
	return claims.SID, nil
}

// clientSession is what a client knows of one of its sessions after the
// load, and whether it ended it.
type clientSession struct {
	user    string
	refresh string // the last refresh token it was given
	revoked bool
}

// TestScaleOut runs three replicas of the built binary on one PostgreSQL
// database and spreads a mixed load over them round-robin: registrations,
// logins, refresh chains whose every step lands on another replica, me,
// logouts by access token and by refresh token, concurrent refreshes of
// one token sent to every replica at once, which with
// REFRESH_REUSE_INTERVAL=0 must give exactly one success and revoke the
// session, and a spent token coming back, which revokes its session. Each
// client checks its answers as it goes; then the database is
// checked against what the clients know: no dangling session or token,
// exactly one unspent refresh token per live session (the one its client
// holds), and the ended sessions, and only they, revoked.
func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three replicas of the binary")
	}
	uri := testdb.Postgres(t)
	// Throttles off: every request comes from 127.0.0.1, and the load is
	// about consistency, not limits.
	env := apitest.Env(uri, "REFRESH_REUSE_INTERVAL", "0",
		"LOGIN_MAX_FAILURES", "0", "RATE_LIMIT_LOGIN", "0", "RATE_LIMIT_REGISTER", "0",
		"RATE_LIMIT_REFRESH", "0", "RATE_LIMIT_VALIDATE", "0")
	rr := &roundRobin{client: &http.Client{Timeout: 30 * time.Second}}
	for range 3 {
		rr.bases = append(rr.bases, startService(t, env).URL)
	}
	t.Cleanup(rr.client.CloseIdleConnections)

	const (
		clients   = 25
		chain     = 6 // refreshes in a row on one session
		racers    = 6 // concurrent refreshes of one token, two to each replica
		logoutDoc = `mutation($t: String) { logout(refreshToken: $t) }`
	)
	var (
		mu       sync.Mutex
		sessions = map[string]*clientSession{} // by session id
		requests atomic.Int64
	)
	remember := func(p apitest.Payload, s *clientSession) error {
		sid, err := sessionID(p.AccessToken)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		sessions[sid] = s
		return nil
	}
	// wantMe checks that an access token is accepted as user, or refused
	// as revoked, by the next replica.
	wantMe := func(accessToken, user string, live bool) error {
		r, err := rr.post(accessToken, `{ me { id } }`, nil)
		requests.Add(1)
		if err != nil {
			return err
		}
		if !live {
			if r.Code() != "UNAUTHENTICATED" || r.Ext("reason") != "revoked" {
				return fmt.Errorf("me with a revoked session's token: %s, want UNAUTHENTICATED revoked", r.Body)
			}
			return nil
		}
		var me struct{ ID string }
		if len(r.Errors) > 0 || json.Unmarshal(r.Data["me"], &me) != nil || me.ID != user {
			return fmt.Errorf("me = %s, want user %s", r.Body, user)
		}
		return nil
	}

	// client is one user's whole story; it returns the first thing that
	// went wrong.
	client := func(i int) error {
		email := fmt.Sprintf("scale-%d-%d@example.com", i, time.Now().UnixNano())
		creds := map[string]any{"input": map[string]any{"email": email, "password": apitest.Password}}
		first, r, err := rr.authPayload("register", "", apitest.RegisterDoc, creds)
		requests.Add(1)
		if err != nil || len(r.Errors) > 0 {
			return unexpected("register", r, err)
		}
		user := first.User.ID
		s1 := &clientSession{user: user, refresh: first.RefreshToken}
		if err := remember(first, s1); err != nil {
			return err
		}
		if err := wantMe(first.AccessToken, user, true); err != nil {
			return err
		}
		second, r, err := rr.authPayload("login", "", apitest.LoginDoc, creds)
		requests.Add(1)
		if err != nil || len(r.Errors) > 0 {
			return unexpected("login", r, err)
		}
		s2 := &clientSession{user: user, refresh: second.RefreshToken}
		if err := remember(second, s2); err != nil {
			return err
		}

		// A refresh chain: each rotation on the next replica, the new
		// access token checked on the one after.
		last := first
		for step := range chain {
			p, r, err := rr.authPayload("refreshToken", "", apitest.RefreshDoc, map[string]any{"t": s1.refresh})
			requests.Add(1)
			if err != nil || len(r.Errors) > 0 {
				return unexpected(fmt.Sprintf("refresh %d", step), r, err)
			}
			if sid, _ := sessionID(p.AccessToken); sid != mustSID(last.AccessToken) {
				return fmt.Errorf("refresh %d moved to session %s", step, sid)
			}
			s1.refresh, last = p.RefreshToken, p
			if err := wantMe(p.AccessToken, user, true); err != nil {
				return err
			}
		}
		// How the story ends; a fifth of the clients keep both sessions.
		switch i % 5 {
		case 0: // logout with the access token of the second session
			r, err := rr.post(second.AccessToken, logoutDoc, nil)
			requests.Add(1)
			if err != nil || string(r.Data["logout"]) != "true" {
				return unexpected("logout", r, err)
			}
			s2.revoked = true
			if err := wantMe(second.AccessToken, user, false); err != nil {
				return err
			}
		case 1: // logout with the refresh token of the first session
			r, err := rr.post("", logoutDoc, map[string]any{"t": s1.refresh})
			requests.Add(1)
			if err != nil || string(r.Data["logout"]) != "true" {
				return unexpected("logout by refresh token", r, err)
			}
			s1.revoked = true
			if err := wantMe(last.AccessToken, user, false); err != nil {
				return err
			}
		case 2: // concurrent refreshes of one token on every replica
			var (
				wg     sync.WaitGroup
				wins   atomic.Int32
				reused atomic.Int32
				errs   = make([]error, racers)
				start  = make(chan struct{})
				winner apitest.Payload
			)
			for k := range racers {
				wg.Go(func() {
					<-start
					r, err := rr.postTo(k, "", apitest.RefreshDoc, map[string]any{"t": s2.refresh})
					p, err := decodePayload("refreshToken", r, err)
					switch {
					case err != nil:
						errs[k] = err
					case len(r.Errors) == 0:
						wins.Add(1)
						mu.Lock()
						winner = p
						mu.Unlock()
					case r.Code() == "REFRESH_TOKEN_REUSED":
						reused.Add(1)
					default:
						errs[k] = fmt.Errorf("concurrent refresh: %s", r.Body)
					}
				})
			}
			close(start)
			wg.Wait()
			requests.Add(racers)
			for _, err := range errs {
				if err != nil {
					return err
				}
			}
			if wins.Load() != 1 || reused.Load() != racers-1 {
				return fmt.Errorf("%d concurrent refreshes of one token: %d succeeded, %d REFRESH_TOKEN_REUSED; want 1 and %d",
					racers, wins.Load(), reused.Load(), racers-1)
			}
			s2.revoked, s2.refresh = true, winner.RefreshToken
			if err := wantMe(winner.AccessToken, user, false); err != nil {
				return err
			}
			r, err := rr.post("", apitest.RefreshDoc, map[string]any{"t": winner.RefreshToken})
			requests.Add(1)
			if err != nil || r.Code() != "INVALID_REFRESH_TOKEN" {
				return unexpected("refresh with the winner's token of a revoked session, want INVALID_REFRESH_TOKEN", r, err)
			}
		case 3: // the chain's first, spent token comes back: theft
			r, err := rr.post("", apitest.RefreshDoc, map[string]any{"t": first.RefreshToken})
			requests.Add(1)
			if err != nil || r.Code() != "REFRESH_TOKEN_REUSED" {
				return unexpected("refresh with a spent token, want REFRESH_TOKEN_REUSED", r, err)
			}
			s1.revoked = true
			r, err = rr.post("", apitest.RefreshDoc, map[string]any{"t": s1.refresh})
			requests.Add(1)
			if err != nil || r.Code() != "INVALID_REFRESH_TOKEN" {
				return unexpected("refresh with the chain's last token after the theft, want INVALID_REFRESH_TOKEN", r, err)
			}
		}
		// Every session's state, seen from the next replica.
		if err := wantMe(last.AccessToken, user, !s1.revoked); err != nil {
			return err
		}
		return wantMe(second.AccessToken, user, !s2.revoked)
	}

	began := time.Now()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			if err := client(i); err != nil {
				t.Errorf("client %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	t.Logf("%d clients, %d requests over %d replicas in %v", clients, requests.Load(), len(rr.bases), time.Since(began).Round(time.Millisecond))
	if t.Failed() {
		return
	}
	checkScaleOut(t, uri, clients, sessions)
}

// unexpected describes an answer that is not the one wanted: the transport
// error, or else the body.
func unexpected(what string, r apitest.Response, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %s", what, r.Body)
}

// mustSID is sessionID for tokens already checked.
func mustSID(accessToken string) string {
	sid, _ := sessionID(accessToken)
	return sid
}

// checkScaleOut checks the database after the load against what the
// clients know.
func checkScaleOut(t *testing.T, uri string, users int, sessions map[string]*clientSession) {
	t.Helper()
	db, ctx := openPostgres(t, uri)
	countChecks(t, ctx, db, append(slices.Clone(integrityChecks),
		countCheck{"users", `SELECT count(*) FROM users`, users},
		countCheck{"sessions", `SELECT count(*) FROM sessions`, len(sessions)},
		countCheck{"refresh tokens without their session", `SELECT count(*) FROM refresh_tokens r WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = r.session_id)`, 0},
		countCheck{"live sessions without exactly one unspent refresh token", `SELECT count(*) FROM sessions s WHERE s.revoked_at IS NULL
			AND (SELECT count(*) FROM refresh_tokens r WHERE r.session_id = s.id AND r.spent_at IS NULL) <> 1`, 0},
	))

	rows, err := db.QueryContext(ctx, `SELECT s.id::text, s.user_id::text, s.revoked_at IS NOT NULL,
		(SELECT r.token_hash FROM refresh_tokens r WHERE r.session_id = s.id AND r.spent_at IS NULL LIMIT 1)
		FROM sessions s`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	revoked := 0
	for rows.Next() {
		var (
			id, user  string
			isRevoked bool
			unspent   []byte
		)
		if err := rows.Scan(&id, &user, &isRevoked, &unspent); err != nil {
			t.Fatal(err)
		}
		s, ok := sessions[id]
		switch {
		case !ok:
			t.Errorf("session %s of user %s: no client started it", id, user)
			continue
		case s.user != user:
			t.Errorf("session %s belongs to user %s, want %s", id, user, s.user)
		case isRevoked != s.revoked:
			t.Errorf("session %s: revoked %v, want %v", id, isRevoked, s.revoked)
		case !s.revoked && !bytes.Equal(unspent, token.HashRefreshToken(s.refresh)):
			t.Errorf("session %s: its unspent refresh token is not the one its client holds", id)
		}
		if isRevoked {
			revoked++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("consistent: %d users, %d sessions (%d revoked)", users, len(sessions), revoked)
}
