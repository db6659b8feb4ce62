package main

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/testdb"
)

func TestRegisterLoginMe(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri))
		start := time.Now()
		r := s.post(t, "", registerDoc, map[string]any{"input": map[string]any{
			"email": "  Ada.Lovelace@Example.COM ", "password": testPassword, "displayName": " Ada ",
		}})
		if len(r.Errors) > 0 {
			t.Fatalf("register: %s", r.Body)
		}
		var reg payload
		r.field(t, "register", &reg)
		if reg.User.Email != "ada.lovelace@example.com" {
			t.Errorf("register email = %q, want trimmed and lowercased", reg.User.Email)
		}
		if reg.User.DisplayName == nil || *reg.User.DisplayName != "Ada" {
			t.Errorf("register displayName = %v, want Ada", reg.User.DisplayName)
		}
		if diff := cmp.Diff([]string{"user"}, reg.User.Roles); diff != "" {
			t.Errorf("roles (-want +got):\n%s", diff)
		}
		if reg.TokenType != "Bearer" || reg.ExpiresIn != 900 {
			t.Errorf("tokenType, expiresIn = %q, %d, want Bearer, 900", reg.TokenType, reg.ExpiresIn)
		}
		if d := reg.ExpiresAt.Sub(start.Add(15 * time.Minute)); d < -2*time.Second || d > 2*time.Second {
			t.Errorf("expiresAt = %v, want about now+15m", reg.ExpiresAt)
		}
		if d := reg.RefreshExpiresAt.Sub(start.Add(720 * time.Hour)); d < -2*time.Second || d > 2*time.Second {
			t.Errorf("refreshExpiresAt = %v, want about now+720h", reg.RefreshExpiresAt)
		}
		if reg.RefreshToken == "" || reg.RefreshToken == reg.AccessToken {
			t.Errorf("refreshToken = %q, want an opaque token of its own", reg.RefreshToken)
		}

		var me userData
		r = s.post(t, reg.AccessToken, meDoc, nil)
		r.field(t, "me", &me)
		if diff := cmp.Diff(reg.User, me); diff != "" {
			t.Errorf("me differs from register's user (-register +me):\n%s", diff)
		}

		login := s.login(t, "ADA.LOVELACE@example.com", testPassword)
		if login.User.ID != reg.User.ID {
			t.Errorf("login user id = %s, want %s", login.User.ID, reg.User.ID)
		}
		if login.User.LastLoginAt == nil || login.User.LastLoginAt.Before(reg.User.CreatedAt) {
			t.Errorf("login lastLoginAt = %v, want set", login.User.LastLoginAt)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", r.Header.Get("Cache-Control"))
		}
	})
}

func TestRegisterRefusals(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri))
		s.register(t, "taken@example.com")
		long := strings.Repeat("x", 101)
		tests := []struct {
			name, email, password string
			displayName           *string
			code, field           string
		}{
			{"malformed email", "not-an-email", testPassword, nil, "BAD_USER_INPUT", "email"},
			{"empty email", "", testPassword, nil, "BAD_USER_INPUT", "email"},
			{"short password", "a@example.com", "short12", nil, "BAD_USER_INPUT", "password"},
			{"long password", "a@example.com", strings.Repeat("p", 257), nil, "BAD_USER_INPUT", "password"},
			{"common password", "a@example.com", "password123", nil, "BAD_USER_INPUT", "password"},
			{"password is the email", "someone@example.com", "Someone@Example.com", nil, "BAD_USER_INPUT", "password"},
			{"display name too long", "a@example.com", testPassword, &long, "BAD_USER_INPUT", "displayName"},
			{"email taken", "taken@example.com", testPassword, nil, "EMAIL_TAKEN", ""},
			{"email taken in another case", " TAKEN@Example.com", testPassword, nil, "EMAIL_TAKEN", ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				in := map[string]any{"email": tc.email, "password": tc.password}
				if tc.displayName != nil {
					in["displayName"] = *tc.displayName
				}
				r := s.post(t, "", registerDoc, map[string]any{"input": in})
				wantCode(t, "register", r, tc.code)
				if tc.field != "" && r.ext("field") != tc.field {
					t.Errorf("register field = %v, want %q", r.ext("field"), tc.field)
				}
				if r.Data["register"] != nil && string(r.Data["register"]) != "null" {
					t.Errorf("register data = %s, want null", r.Data["register"])
				}
			})
		}
	})
}

func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri))
		s.register(t, "known@example.com")
		var messages []string
		for _, tc := range []struct{ name, email, password string }{
			{"wrong password", "known@example.com", "wrong password here"},
			{"unknown email", "unknown@example.com", testPassword},
			{"empty password", "known@example.com", ""},
		} {
			r := s.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": tc.email, "password": tc.password}})
			wantCode(t, tc.name, r, "INVALID_CREDENTIALS")
			if len(r.Errors) > 0 {
				messages = append(messages, r.Errors[0].Message)
			}
		}
		if len(slices.Compact(messages)) != 1 {
			t.Errorf("login messages = %q, want one message for every failure", messages)
		}
	})
}

func TestAuthDirective(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri))
		p := s.register(t, uniqueEmail(t, "directive"))
		tests := []struct {
			name, authorization, reason string
		}{
			{"no header", "", "missing"},
			{"other scheme", "Basic dXNlcjpwYXNz", "invalid"},
			{"empty bearer", "Bearer ", "invalid"},
			{"garbage", "Bearer not.a.jwt", "invalid"},
			{"refresh token as access token", "Bearer " + p.RefreshToken, "invalid"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				for _, doc := range []string{meDoc, `{ sessions { id } }`, `mutation { logoutAll }`} {
					r := s.postHeaders(t, map[string]string{"Authorization": tc.authorization}, doc, nil)
					wantUnauthenticated(t, doc, r, tc.reason)
				}
			})
		}
		t.Run("lowercase scheme", func(t *testing.T) {
			r := s.postHeaders(t, map[string]string{"Authorization": "bearer " + p.AccessToken}, meDoc, nil)
			if len(r.Errors) > 0 {
				t.Errorf("me with 'bearer': %s", r.Body)
			}
		})
		t.Run("revoked", func(t *testing.T) {
			r := s.post(t, p.AccessToken, `mutation { logout }`, nil)
			if string(r.Data["logout"]) != "true" {
				t.Fatalf("logout = %s, want true", r.Body)
			}
			r = s.post(t, p.AccessToken, meDoc, nil)
			wantUnauthenticated(t, "me after logout", r, "revoked")
		})
	})
}

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri, "REFRESH_REUSE_INTERVAL", "1h"))
		first := s.register(t, uniqueEmail(t, "rotate"))

		r := s.refresh(t, first.RefreshToken)
		var second payload
		r.field(t, "refreshToken", &second)
		if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
			t.Fatalf("refresh returned the same tokens")
		}
		if second.User.ID != first.User.ID {
			t.Errorf("refresh user = %s, want %s", second.User.ID, first.User.ID)
		}
		if !sameSession(t, s, first.AccessToken, second.AccessToken) {
			t.Errorf("refresh started a new session, want the same")
		}

		// Within the reuse interval the spent token gives another pair.
		r = s.refresh(t, first.RefreshToken)
		var sibling payload
		r.field(t, "refreshToken", &sibling)
		if sibling.RefreshToken == second.RefreshToken {
			t.Errorf("grace refresh returned the same refresh token again")
		}
		// Each pair stays valid, each refresh token single use in turn.
		for _, p := range []payload{second, sibling} {
			if r := s.post(t, p.AccessToken, meDoc, nil); len(r.Errors) > 0 {
				t.Errorf("me with a grace pair: %s", r.Body)
			}
			r := s.refresh(t, p.RefreshToken)
			if len(r.Errors) > 0 {
				t.Errorf("refresh of a grace pair: %s", r.Body)
			}
		}
		wantCode(t, "unknown token", s.refresh(t, "nonsense"), "INVALID_REFRESH_TOKEN")
		wantCode(t, "empty token", s.refresh(t, ""), "INVALID_REFRESH_TOKEN")
	})
}

func TestRefreshReuseRevokesSession(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri, "REFRESH_REUSE_INTERVAL", "0"))
		first := s.register(t, uniqueEmail(t, "reuse"))
		other := s.login(t, first.User.Email, testPassword)

		var second payload
		s.refresh(t, first.RefreshToken).field(t, "refreshToken", &second)

		wantCode(t, "reused token", s.refresh(t, first.RefreshToken), "REFRESH_TOKEN_REUSED")
		// The whole session is revoked: its newest refresh token and access token too.
		wantCode(t, "newest refresh token", s.refresh(t, second.RefreshToken), "INVALID_REFRESH_TOKEN")
		wantUnauthenticated(t, "me with the revoked session's token", s.post(t, second.AccessToken, meDoc, nil), "revoked")
		// Another session of the same user is untouched.
		if r := s.post(t, other.AccessToken, meDoc, nil); len(r.Errors) > 0 {
			t.Errorf("me of another session: %s", r.Body)
		}
		if r := s.refresh(t, other.RefreshToken); len(r.Errors) > 0 {
			t.Errorf("refresh of another session: %s", r.Body)
		}
	})
}

// sameSession reports whether two access tokens are of one session, as
// validateToken tells.
func sameSession(t *testing.T, s *testServer, a, b string) bool {
	t.Helper()
	va, vb := validate(t, s, a), validate(t, s, b)
	return va.SessionID != nil && vb.SessionID != nil && *va.SessionID == *vb.SessionID
}

type validation = apitest.Validation

const validateDoc = apitest.ValidateDoc

func validate(t *testing.T, s *testServer, tok string) validation {
	t.Helper()
	return s.client().Validate(t, tok)
}

// concurrentRefresh refreshes one token n times at once, spread over the
// servers, and returns the responses.
func concurrentRefresh(t *testing.T, servers []*testServer, tok string, n int) []gqlResponse {
	t.Helper()
	out := make([]gqlResponse, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = servers[i%len(servers)].refresh(t, tok)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		testConcurrentRefresh(t, []*testServer{startServer(t, testEnv(uri, "REFRESH_REUSE_INTERVAL", "0"))},
			[]*testServer{startServer(t, testEnv(uri, "REFRESH_REUSE_INTERVAL", "1h"))})
	})
}

// TestConcurrentRefreshReplicas runs the concurrency cases against three
// service instances sharing one PostgreSQL database.
func TestConcurrentRefreshReplicas(t *testing.T) {
	t.Parallel()
	uri := testdb.Postgres(t)
	var strict, grace []*testServer
	for range 3 {
		strict = append(strict, startServer(t, testEnv(uri, "REFRESH_REUSE_INTERVAL", "0")))
		grace = append(grace, startServer(t, testEnv(uri, "REFRESH_REUSE_INTERVAL", "1h")))
	}
	testConcurrentRefresh(t, strict, grace)
}

func testConcurrentRefresh(t *testing.T, strict, grace []*testServer) {
	const n = 20
	t.Run("no reuse interval", func(t *testing.T) {
		p := strict[0].register(t, uniqueEmail(t, "strict"))
		results := concurrentRefresh(t, strict, p.RefreshToken, n)
		var ok, reused int
		var winner payload
		for _, r := range results {
			switch r.code() {
			case "":
				ok++
				r.field(t, "refreshToken", &winner)
			case "REFRESH_TOKEN_REUSED":
				reused++
			default:
				t.Errorf("refresh: unexpected %s", r.Body)
			}
		}
		if ok != 1 || reused != n-1 {
			t.Fatalf("%d concurrent refreshes: %d succeeded, %d reused; want 1 and %d", n, ok, reused, n-1)
		}
		// The session is revoked: the winner's pair is dead too.
		wantCode(t, "winner's refresh token", strict[0].refresh(t, winner.RefreshToken), "INVALID_REFRESH_TOKEN")
		if v := validate(t, strict[0], winner.AccessToken); v.Valid {
			t.Errorf("winner's access token still valid after reuse")
		}
	})
	t.Run("with reuse interval", func(t *testing.T) {
		p := grace[0].register(t, uniqueEmail(t, "grace"))
		results := concurrentRefresh(t, grace, p.RefreshToken, n)
		seen := map[string]bool{}
		for _, r := range results {
			if len(r.Errors) > 0 {
				t.Fatalf("refresh within the reuse interval failed: %s", r.Body)
			}
			var got payload
			r.field(t, "refreshToken", &got)
			if seen[got.RefreshToken] {
				t.Errorf("refresh token %q issued twice", got.RefreshToken)
			}
			seen[got.RefreshToken] = true
		}
		// Every pair works, and is single use in turn.
		for tok := range seen {
			if r := grace[0].refresh(t, tok); len(r.Errors) > 0 {
				t.Errorf("refresh of a concurrently issued token: %s", r.Body)
			}
		}
	})
}

func TestLogout(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri))
		email := uniqueEmail(t, "logout")
		a := s.register(t, email)
		b := s.login(t, email, testPassword)
		c := s.login(t, email, testPassword)

		r := s.post(t, "", `mutation { logout }`, nil)
		if string(r.Data["logout"]) != "false" {
			t.Errorf("logout with nothing = %s, want false", r.Body)
		}
		// By refresh token, without a Bearer token.
		r = s.post(t, "", `mutation($t: String) { logout(refreshToken: $t) }`, map[string]any{"t": b.RefreshToken})
		if string(r.Data["logout"]) != "true" {
			t.Errorf("logout(refreshToken) = %s, want true", r.Body)
		}
		wantCode(t, "refresh after logout", s.refresh(t, b.RefreshToken), "INVALID_REFRESH_TOKEN")
		if v := validate(t, s, b.AccessToken); v.Valid || v.Reason == nil || *v.Reason != "revoked" {
			t.Errorf("validateToken after logout = %+v, want revoked", v)
		}
		// Again: nothing left to end.
		r = s.post(t, "", `mutation($t: String) { logout(refreshToken: $t) }`, map[string]any{"t": b.RefreshToken})
		if string(r.Data["logout"]) != "false" {
			t.Errorf("second logout(refreshToken) = %s, want false", r.Body)
		}
		// By Bearer token.
		r = s.post(t, c.AccessToken, `mutation { logout }`, nil)
		if string(r.Data["logout"]) != "true" {
			t.Errorf("logout(Bearer) = %s, want true", r.Body)
		}
		if r := s.post(t, a.AccessToken, meDoc, nil); len(r.Errors) > 0 {
			t.Errorf("the remaining session ended too: %s", r.Body)
		}
		r = s.post(t, a.AccessToken, `mutation { logoutAll }`, nil)
		if string(r.Data["logoutAll"]) != "true" {
			t.Errorf("logoutAll = %s, want true", r.Body)
		}
		wantCode(t, "me after logoutAll", s.post(t, a.AccessToken, meDoc, nil), "UNAUTHENTICATED")
		wantCode(t, "refresh after logoutAll", s.refresh(t, a.RefreshToken), "INVALID_REFRESH_TOKEN")
	})
}

type sessionData struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	UserAgent  *string   `json:"userAgent"`
	IPAddress  *string   `json:"ipAddress"`
	Current    bool      `json:"current"`
}

const sessionsDoc = `{ sessions { id createdAt lastUsedAt expiresAt userAgent ipAddress current } }`

func TestSessionsAndRevokeSession(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri))
		email := uniqueEmail(t, "sessions")
		a := s.register(t, email)
		b := s.login(t, email, testPassword)
		stranger := s.register(t, uniqueEmail(t, "stranger"))

		var list []sessionData
		s.post(t, a.AccessToken, sessionsDoc, nil).field(t, "sessions", &list)
		if len(list) != 2 {
			t.Fatalf("sessions = %d, want 2", len(list))
		}
		bSession := *validate(t, s, b.AccessToken).SessionID
		aSession := *validate(t, s, a.AccessToken).SessionID
		for _, sess := range list {
			if sess.Current != (sess.ID == aSession) {
				t.Errorf("session %s current = %v, want %v", sess.ID, sess.Current, sess.ID == aSession)
			}
			if sess.IPAddress == nil || *sess.IPAddress != "127.0.0.1" {
				t.Errorf("session ipAddress = %v, want 127.0.0.1", sess.IPAddress)
			}
			if sess.UserAgent == nil || !strings.HasPrefix(*sess.UserAgent, "Go-http-client") {
				t.Errorf("session userAgent = %v, want the client's", sess.UserAgent)
			}
		}
		if !list[0].CreatedAt.After(list[1].CreatedAt) && list[0].CreatedAt != list[1].CreatedAt {
			t.Errorf("sessions not newest first: %v", list)
		}

		revoke := `mutation($id: ID!) { revokeSession(id: $id) }`
		for _, tc := range []struct {
			name, bearer, id, want string
		}{
			{"another user's session", stranger.AccessToken, bSession, "false"},
			{"unknown id", a.AccessToken, "00000000-0000-0000-0000-000000000000", "false"},
			{"malformed id", a.AccessToken, "nope", "false"},
			{"own session", a.AccessToken, bSession, "true"},
			{"already revoked", a.AccessToken, bSession, "false"},
		} {
			r := s.post(t, tc.bearer, revoke, map[string]any{"id": tc.id})
			if got := string(r.Data["revokeSession"]); got != tc.want {
				t.Errorf("revokeSession(%s) = %s, want %s", tc.name, r.Body, tc.want)
			}
		}
		wantUnauthenticated(t, "me of the revoked session", s.post(t, b.AccessToken, meDoc, nil), "revoked")
		s.post(t, a.AccessToken, sessionsDoc, nil).field(t, "sessions", &list)
		if len(list) != 1 || list[0].ID != aSession {
			t.Errorf("sessions after revokeSession = %+v, want only the current", list)
		}
		if r := s.post(t, stranger.AccessToken, meDoc, nil); len(r.Errors) > 0 {
			t.Errorf("the stranger's session was touched: %s", r.Body)
		}
	})
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri))
		email := uniqueEmail(t, "change")
		a := s.register(t, email)
		b := s.login(t, email, testPassword)
		doc := `mutation($c: String!, $n: String!) { changePassword(input: {currentPassword: $c, newPassword: $n}) }`
		const newPassword = "a much better passphrase"

		r := s.post(t, a.AccessToken, doc, map[string]any{"c": "not the password", "n": newPassword})
		wantCode(t, "wrong current password", r, "INVALID_CREDENTIALS")
		r = s.post(t, a.AccessToken, doc, map[string]any{"c": testPassword, "n": "short"})
		wantCode(t, "weak new password", r, "BAD_USER_INPUT")
		if r.ext("field") != "newPassword" {
			t.Errorf("weak new password: field = %v, want newPassword", r.ext("field"))
		}
		wantCode(t, "no token", s.post(t, "", doc, map[string]any{"c": testPassword, "n": newPassword}), "UNAUTHENTICATED")

		r = s.post(t, a.AccessToken, doc, map[string]any{"c": testPassword, "n": newPassword})
		if string(r.Data["changePassword"]) != "true" {
			t.Fatalf("changePassword = %s, want true", r.Body)
		}
		// Every other session ends; the caller's goes on.
		wantUnauthenticated(t, "me of another session after changePassword", s.post(t, b.AccessToken, meDoc, nil), "revoked")
		wantCode(t, "refresh of another session", s.refresh(t, b.RefreshToken), "INVALID_REFRESH_TOKEN")
		if r := s.post(t, a.AccessToken, meDoc, nil); len(r.Errors) > 0 {
			t.Errorf("me of the caller's session: %s", r.Body)
		}
		wantCode(t, "login with the old password", s.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": email, "password": testPassword}}), "INVALID_CREDENTIALS")
		s.login(t, email, newPassword)
	})
}

func TestValidateToken(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri))
		p := s.register(t, uniqueEmail(t, "validate"))
		v := validate(t, s, p.AccessToken)
		if !v.Valid || v.Reason != nil || v.UserID == nil || *v.UserID != p.User.ID || v.SessionID == nil || v.ExpiresAt == nil {
			t.Errorf("validateToken(valid) = %+v", v)
		}
		if diff := cmp.Diff([]string{"user"}, v.Roles); diff != "" {
			t.Errorf("validateToken roles (-want +got):\n%s", diff)
		}
		if !v.ExpiresAt.Equal(p.ExpiresAt) {
			t.Errorf("validateToken expiresAt = %v, want %v", v.ExpiresAt, p.ExpiresAt)
		}
		for _, tc := range []struct{ name, token, reason string }{
			{"garbage", "garbage", "malformed"},
			{"empty", "", "malformed"},
			{"tampered", tamper(t, p.AccessToken), "bad_signature"},
		} {
			v := validate(t, s, tc.token)
			want := validation{Reason: &tc.reason}
			if diff := cmp.Diff(want, v); diff != "" {
				t.Errorf("validateToken(%s) (-want +got):\n%s", tc.name, diff)
			}
		}
	})
}

func TestHasRole(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		if strings.HasSuffix(uri, ":memory:") {
			// The roles command must reach the same database as the server.
			uri = testdb.SQLiteFile(t)
		}
		env := testEnv(uri)
		s := startServer(t, env)
		admin := s.register(t, uniqueEmail(t, "admin"))
		other := s.register(t, uniqueEmail(t, "other"))
		doc := `query($id: ID!) { user(id: $id) { id email } }`

		r := s.post(t, admin.AccessToken, doc, map[string]any{"id": other.User.ID})
		wantCode(t, "user() as a plain user", r, "FORBIDDEN")
		wantCode(t, "user() without a token", s.post(t, "", doc, map[string]any{"id": other.User.ID}), "UNAUTHENTICATED")

		var out strings.Builder
		if err := run(t.Context(), []string{"latchkey", "roles", "grant", admin.User.Email, "admin"}, func(k string) string { return env[k] }, nil, &out, &out); err != nil {
			t.Fatalf("roles grant: %v\n%s", err, out.String())
		}
		r = s.post(t, admin.AccessToken, doc, map[string]any{"id": other.User.ID})
		var got struct{ ID, Email string }
		r.field(t, "user", &got)
		if got.ID != other.User.ID || got.Email != other.User.Email {
			t.Errorf("user(id) as admin = %+v, want %s", got, other.User.Email)
		}
		var me userData
		s.post(t, admin.AccessToken, meDoc, nil).field(t, "me", &me)
		if !slices.Contains(me.Roles, "admin") || !slices.Contains(me.Roles, "user") {
			t.Errorf("admin roles = %v, want user and admin", me.Roles)
		}
	})
}

func TestHTTPSurface(t *testing.T) {
	t.Parallel()
	s := startServer(t, testEnv("sqlite://:memory:"))
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 200, "ready"},
		{"/", 200, "<html"},
		{"/.well-known/jwks.json", 200, `"kty":"EC"`},
		{"/nope", 404, ""},
	} {
		resp, err := http.Get(s.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("GET %s = %d %q, want %d containing %q", tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
		if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s headers = %v, want X-Request-Id and nosniff", tc.path, resp.Header)
		}
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	return apitest.ReadAll(t, resp)
}

// tamper changes the email claim of a JWT, keeping its signature.
func tamper(t *testing.T, jwt string) string {
	t.Helper()
	return apitest.Tamper(t, jwt)
}
