package main

import (
	"database/sql"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/database"
	"github.com/latchkey/latchkey/internal/testdb"
)

const (
	requestEmailChangeDoc = `mutation($email: String!, $pw: String!) { requestEmailChange(input: {newEmail: $email, password: $pw}) }`
	confirmEmailChangeDoc = `mutation($token: String!) { confirmEmailChange(token: $token) }`
)

// openDB opens the database of env as the service does, for what a test
// reads or writes past the API; it is closed when the test ends.
func openDB(t testing.TB, env map[string]string) *sql.DB {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	db, client, err := database.Open(cfg.Database, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return db
}

// count runs query, a SELECT COUNT(*), with args.
func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestMailFlowsAudited runs every mail flow of one account and reads its
// audit trail: each flow records its event, with the address it concerns.
func TestMailFlowsAudited(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		f := startAdmin(t, uri, "REQUIRE_EMAIL_VERIFICATION", "true")
		email, newEmail := uniqueEmail(t, "audited"), uniqueEmail(t, "moved")
		login := func(pw string) gqlResponse {
			return f.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": email, "password": pw}})
		}
		wantCode(t, "register", f.post(t, "", registerDoc, map[string]any{"input": map[string]any{"email": email, "password": testPassword}}), "EMAIL_NOT_VERIFIED")
		wantCode(t, "login before verifying", login(testPassword), "EMAIL_NOT_VERIFIED")
		tok := tokenInLink(waitDevMail(t, f.testServer, email, "/verify-email").Text, "/verify-email")
		if r := f.post(t, "", verifyEmailDoc, map[string]any{"token": tok}); len(r.Errors) > 0 {
			t.Fatalf("verifyEmail = %s", r.Body)
		}
		p := f.login(t, email, testPassword)

		if r := f.post(t, "", requestResetDoc, map[string]any{"email": email}); len(r.Errors) > 0 {
			t.Fatalf("requestPasswordReset = %s", r.Body)
		}
		tok = tokenInLink(waitDevMail(t, f.testServer, email, "/reset-password").Text, "/reset-password")
		const newPassword = "a new passphrase 2026"
		if r := f.post(t, "", resetPasswordDoc, map[string]any{"token": tok, "pw": newPassword}); len(r.Errors) > 0 {
			t.Fatalf("resetPassword = %s", r.Body)
		}
		p = f.login(t, email, newPassword)
		if r := f.post(t, p.AccessToken, requestEmailChangeDoc, map[string]any{"email": newEmail, "pw": newPassword}); len(r.Errors) > 0 {
			t.Fatalf("requestEmailChange = %s", r.Body)
		}
		tok = tokenInLink(waitDevMail(t, f.testServer, newEmail, "/confirm-email").Text, "/confirm-email")
		if r := f.post(t, "", confirmEmailChangeDoc, map[string]any{"token": tok}); len(r.Errors) > 0 {
			t.Fatalf("confirmEmailChange = %s", r.Body)
		}

		events := f.auditEvents(t, map[string]any{"filter": map[string]any{"userId": p.User.ID}})
		type event struct{ Type, Actor, Reason, Email string }
		var got []event
		for _, e := range events.Edges {
			n := e.Node
			ev := event{Type: n.Type}
			if n.ActorID != nil {
				ev.Actor = "user"
				if *n.ActorID != p.User.ID {
					ev.Actor = *n.ActorID
				}
			}
			if n.Reason != nil {
				ev.Reason = *n.Reason
			}
			if n.Email != nil {
				ev.Email = *n.Email
			}
			got = append(got, ev)
		}
		want := []event{
			{Type: "EMAIL_CHANGED", Actor: "user", Email: newEmail},
			{Type: "EMAIL_CHANGE_REQUESTED", Actor: "user", Email: newEmail},
			{Type: "LOGIN_SUCCEEDED", Actor: "user"},
			{Type: "PASSWORD_RESET", Actor: "user"},
			{Type: "PASSWORD_RESET_REQUESTED"},
			{Type: "LOGIN_SUCCEEDED", Actor: "user"},
			{Type: "EMAIL_VERIFIED", Actor: "user", Email: email},
			{Type: "LOGIN_FAILED", Reason: "email_not_verified"},
			{Type: "USER_CREATED", Actor: "user", Email: email},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("audit events of the mail flows (-want +got):\n%s", diff)
		}
	})
}

// TestDisableAndDeleteEndMail: disabling a user spends their mail tokens
// and a reset asked for afterwards sends nothing; deleting a user, by an
// administrator or themselves, deletes their tokens and mail.
func TestDisableAndDeleteEndMail(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		f := startAdmin(t, uri)
		db := openDB(t, f.env)
		email := uniqueEmail(t, "disabled")
		p := f.register(t, email)
		verify := tokenInLink(waitDevMail(t, f.testServer, email, "/verify-email").Text, "/verify-email")
		if r := f.post(t, "", requestResetDoc, map[string]any{"email": email}); len(r.Errors) > 0 {
			t.Fatalf("requestPasswordReset = %s", r.Body)
		}
		reset := tokenInLink(waitDevMail(t, f.testServer, email, "/reset-password").Text, "/reset-password")

		f.post(t, f.admin.AccessToken, disableDoc, map[string]any{"id": p.User.ID})
		f.post(t, f.admin.AccessToken, enableDoc, map[string]any{"id": p.User.ID})
		for _, tc := range []struct {
			name, doc string
			vars      map[string]any
		}{
			{"verifyEmail", verifyEmailDoc, map[string]any{"token": verify}},
			{"resetPassword", resetPasswordDoc, map[string]any{"token": reset, "pw": "a new passphrase 2026"}},
		} {
			r := f.post(t, "", tc.doc, tc.vars)
			if wantCode(t, tc.name+" with a token mailed before disableUser", r, "INVALID_TOKEN"); r.ext("reason") != "used" {
				t.Errorf("%s with a token mailed before disableUser: reason = %v, want used", tc.name, r.ext("reason"))
			}
		}

		// Disabled again, the account gets no reset mail: the sender drops it.
		f.post(t, f.admin.AccessToken, disableDoc, map[string]any{"id": p.User.ID})
		if r := f.post(t, "", requestResetDoc, map[string]any{"email": email}); len(r.Errors) > 0 {
			t.Fatalf("requestPasswordReset of a disabled account = %s", r.Body)
		}
		waitOutboxDone(t, db)
		if n := countDevMail(t, f.testServer, email, "/reset-password"); n != 1 {
			t.Errorf("%d reset mails to %s, want only the one before disableUser", n, email)
		}
		requested := f.auditEvents(t, map[string]any{"filter": map[string]any{"userId": p.User.ID, "types": []string{"PASSWORD_RESET_REQUESTED"}}})
		if len(requested.Edges) != 1 {
			t.Errorf("%d PASSWORD_RESET_REQUESTED events, want 1", len(requested.Edges))
		}

		var deleted bool
		f.post(t, f.admin.AccessToken, deleteDoc, map[string]any{"id": p.User.ID}).field(t, "deleteUser", &deleted)
		leaving := uniqueEmail(t, "leaving")
		q := f.register(t, leaving)
		waitDevMail(t, f.testServer, leaving, "/verify-email")
		if r := f.post(t, q.AccessToken, deleteAccountDoc, map[string]any{"pw": testPassword}); len(r.Errors) > 0 {
			t.Fatalf("deleteAccount = %s", r.Body)
		}
		for _, id := range []string{p.User.ID, q.User.ID} {
			for _, table := range []string{"mail_tokens", "mail_outbox"} {
				if n := count(t, db, "SELECT COUNT(*) FROM "+table+" WHERE user_id = $1", id); n != 0 {
					t.Errorf("%d rows of %s of deleted user %s, want none", n, table, id)
				}
			}
		}
	})
}

// TestDisableUserDropsQueuedMail: mail still waiting for a relay that is
// down is dropped, its address forgotten, when its user is disabled.
func TestDisableUserDropsQueuedMail(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		f := startAdmin(t, uri, "MAIL_DRIVER", "smtp", "SMTP_URL", "smtp://127.0.0.1:1", "SMTP_TLS", "none",
			"SMTP_FROM", "latchkey@example.com", "SMTP_TIMEOUT", "1s")
		db := openDB(t, f.env)
		email := uniqueEmail(t, "queued")
		p := f.register(t, email)
		const pending = "SELECT COUNT(*) FROM mail_outbox WHERE user_id = $1 AND status = 'pending'"
		if n := count(t, db, pending, p.User.ID); n != 1 {
			t.Fatalf("%d pending mails after register, want 1", n)
		}
		f.post(t, f.admin.AccessToken, disableDoc, map[string]any{"id": p.User.ID})
		if n := count(t, db, pending, p.User.ID); n != 0 {
			t.Errorf("%d pending mails after disableUser, want none", n)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM mail_outbox WHERE user_id = $1 AND status = 'dropped' AND recipient = ''", p.User.ID); n != 1 {
			t.Errorf("%d dropped mails without an address after disableUser, want 1", n)
		}
	})
}

// waitOutboxDone waits until the sender has dealt with every queued mail.
func waitOutboxDone(t *testing.T, db *sql.DB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for count(t, db, "SELECT COUNT(*) FROM mail_outbox WHERE status = 'pending'") > 0 {
		if time.Now().After(deadline) {
			t.Fatal("mail still queued after 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countDevMail counts the mails to to whose text holds path.
func countDevMail(t *testing.T, s *testServer, to, path string) int {
	t.Helper()
	var mails []devMail
	getJSON(t, s.URL+"/dev/mail?to="+url.QueryEscape(to), &mails)
	n := 0
	for _, m := range mails {
		if strings.Contains(m.Text, path) {
			n++
		}
	}
	return n
}

// TestResetPasswordClearsLoginThrottle: an account locked by wrong
// passwords logs in right after a reset.
func TestResetPasswordClearsLoginThrottle(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri, "LOGIN_MAX_FAILURES", "2"))
		email := uniqueEmail(t, "locked")
		s.register(t, email)
		login := func(pw string) gqlResponse {
			return s.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": email, "password": pw}})
		}
		for range 2 {
			wantCode(t, "login with a wrong password", login("wrong password!"), "INVALID_CREDENTIALS")
		}
		wantCode(t, "login of a locked account", login(testPassword), "RATE_LIMITED")
		if r := s.post(t, "", requestResetDoc, map[string]any{"email": email}); len(r.Errors) > 0 {
			t.Fatalf("requestPasswordReset = %s", r.Body)
		}
		tok := tokenInLink(waitDevMail(t, s, email, "/reset-password").Text, "/reset-password")
		const newPassword = "a new passphrase 2026"
		if r := s.post(t, "", resetPasswordDoc, map[string]any{"token": tok, "pw": newPassword}); len(r.Errors) > 0 {
			t.Fatalf("resetPassword = %s", r.Body)
		}
		if r := login(newPassword); len(r.Errors) > 0 {
			t.Errorf("login right after resetPassword = %s, want a session", r.Body)
		}
	})
}
