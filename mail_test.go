package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testdb"
)

const (
	requestResetDoc  = `mutation($email: String!) { requestPasswordReset(email: $email) }`
	resetPasswordDoc = `mutation($token: String!, $pw: String!) { resetPassword(input: {token: $token, newPassword: $pw}) }`
	verifyEmailDoc   = `mutation($token: String!) { verifyEmail(token: $token) }`
	resendVerifyDoc  = `mutation($email: String!) { resendVerificationEmail(email: $email) }`
	meVerifiedDoc    = `{ me { email emailVerified emailVerifiedAt pendingEmail } }`
)

// tokenInLink finds the token of a link of the kind path in a mail body.
func tokenInLink(body, path string) string {
	m := regexp.MustCompile(regexp.QuoteMeta(path) + `\?token=([A-Za-z0-9_-]{43})`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// devMail is one mail of GET /dev/mail.
type devMail struct {
	MessageID string `json:"messageId"`
	To        string `json:"to"`
	Subject   string `json:"subject"`
	Text      string `json:"text"`
	HTML      string `json:"html"`
}

// waitDevMail polls /dev/mail until a mail to to whose text holds path
// arrives, and returns it.
func waitDevMail(t *testing.T, s *testServer, to, path string) devMail {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.URL + "/dev/mail?to=" + url.QueryEscape(to))
		if err != nil {
			t.Fatal(err)
		}
		var mails []devMail
		err = json.NewDecoder(resp.Body).Decode(&mails)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET /dev/mail: %v", err)
		}
		for _, m := range mails {
			if strings.Contains(m.Text, path) {
				return m
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no mail to %s with %s within 10s; log:\n%s", to, path, s.logs.String())
	return devMail{}
}

// TestPasswordResetDevMail runs the reset flow as `go run .` shows it: no
// SMTP server, the mail read back from /dev/mail.
func TestPasswordResetDevMail(t *testing.T) {
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri))
		email := uniqueEmail(t, "reset")
		p := s.register(t, email)

		for _, addr := range []string{email, uniqueEmail(t, "nobody")} {
			r := s.post(t, "", requestResetDoc, map[string]any{"email": addr})
			if len(r.Errors) > 0 || !strings.Contains(string(r.Body), `"requestPasswordReset":true`) {
				t.Fatalf("requestPasswordReset(%q) = %s, want true", addr, r.Body)
			}
		}
		wantCode(t, "requestPasswordReset(malformed)", s.post(t, "", requestResetDoc, map[string]any{"email": "nope"}), "BAD_USER_INPUT")

		m := waitDevMail(t, s, email, "/reset-password")
		tok := tokenInLink(m.Text, "/reset-password")
		if tok == "" || !strings.Contains(m.HTML, tok) {
			t.Fatalf("reset mail without a token in both bodies: %+v", m)
		}
		// A refused password spends nothing.
		wantCode(t, "resetPassword(weak)", s.post(t, "", resetPasswordDoc, map[string]any{"token": tok, "pw": "short"}), "BAD_USER_INPUT")
		const newPassword = "a new passphrase 2026"
		if r := s.post(t, "", resetPasswordDoc, map[string]any{"token": tok, "pw": newPassword}); len(r.Errors) > 0 {
			t.Fatalf("resetPassword = %s, want true", r.Body)
		}
		r := s.post(t, "", resetPasswordDoc, map[string]any{"token": tok, "pw": newPassword + "!"})
		wantCode(t, "resetPassword(spent token)", r, "INVALID_TOKEN")
		if got := r.ext("reason"); got != "used" {
			t.Errorf("resetPassword(spent token) reason = %v, want used", got)
		}
		r = s.post(t, "", resetPasswordDoc, map[string]any{"token": strings.Repeat("A", 43), "pw": newPassword})
		if wantCode(t, "resetPassword(unknown token)", r, "INVALID_TOKEN"); r.ext("reason") != "invalid" {
			t.Errorf("resetPassword(unknown token) reason = %v, want invalid", r.ext("reason"))
		}
		// Every session ended; the new password logs in, verified by the reset.
		wantCode(t, "refresh after reset", s.refresh(t, p.RefreshToken), "INVALID_REFRESH_TOKEN")
		wantCode(t, "login with the old password", s.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": email, "password": testPassword}}), "INVALID_CREDENTIALS")
		after := s.login(t, email, newPassword)
		if r := s.post(t, after.AccessToken, meVerifiedDoc, nil); !strings.Contains(string(r.Body), `"emailVerified":true`) {
			t.Errorf("me after reset = %s, want emailVerified true", r.Body)
		}
		waitDevMail(t, s, email, "password of your")
	})
}

// TestVerifyEmailDevMail verifies an address with the link register
// mailed, twice (idempotent), and checks the email_verified claim.
func TestVerifyEmailDevMail(t *testing.T) {
	s := startServer(t, testEnv(testdb.SQLiteMemory))
	email := uniqueEmail(t, "verify")
	p := s.register(t, email)
	if r := s.post(t, p.AccessToken, meVerifiedDoc, nil); !strings.Contains(string(r.Body), `"emailVerified":false`) {
		t.Fatalf("me after register = %s, want emailVerified false", r.Body)
	}
	tok := tokenInLink(waitDevMail(t, s, email, "/verify-email").Text, "/verify-email")
	for i := range 2 {
		if r := s.post(t, "", verifyEmailDoc, map[string]any{"token": tok}); len(r.Errors) > 0 {
			t.Fatalf("verifyEmail #%d = %s, want true", i+1, r.Body)
		}
	}
	r := s.post(t, p.AccessToken, meVerifiedDoc, nil)
	if !strings.Contains(string(r.Body), `"emailVerified":true`) || strings.Contains(string(r.Body), `"emailVerifiedAt":null`) {
		t.Errorf("me after verifyEmail = %s, want verified with a time", r.Body)
	}
	fresh := s.login(t, email, testPassword)
	if v := validate(t, s, fresh.AccessToken); !v.Valid {
		t.Fatalf("validateToken = %+v", v)
	}
	claims := decodeClaims(t, fresh.AccessToken)
	if claims["email_verified"] != true {
		t.Errorf("access token email_verified = %v, want true", claims["email_verified"])
	}
	// A resend for a verified account mails nothing, and answers true.
	if r := s.post(t, "", resendVerifyDoc, map[string]any{"email": email}); len(r.Errors) > 0 {
		t.Errorf("resendVerificationEmail = %s, want true", r.Body)
	}
}

// TestRequireEmailVerification: register queues the mail but starts no
// session; login refuses until the link is followed.
func TestRequireEmailVerification(t *testing.T) {
	s := startServer(t, testEnv(testdb.SQLiteMemory, "REQUIRE_EMAIL_VERIFICATION", "true"))
	email := uniqueEmail(t, "required")
	r := s.post(t, "", registerDoc, map[string]any{"input": map[string]any{"email": email, "password": testPassword}})
	wantCode(t, "register", r, "EMAIL_NOT_VERIFIED")
	wantCode(t, "login", s.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": email, "password": testPassword}}), "EMAIL_NOT_VERIFIED")
	wantCode(t, "login (wrong password)", s.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": email, "password": "wrong password 1"}}), "INVALID_CREDENTIALS")
	tok := tokenInLink(waitDevMail(t, s, email, "/verify-email").Text, "/verify-email")
	if r := s.post(t, "", verifyEmailDoc, map[string]any{"token": tok}); len(r.Errors) > 0 {
		t.Fatalf("verifyEmail = %s", r.Body)
	}
	s.login(t, email, testPassword)
}

// TestMailNotConfigured: production without a relay mails nothing and
// says so.
func TestMailNotConfigured(t *testing.T) {
	s := startServer(t, testEnv(testdb.SQLiteMemory, "MAIL_DRIVER", "none"))
	wantCode(t, "requestPasswordReset", s.post(t, "", requestResetDoc, map[string]any{"email": "a@example.com"}), "MAIL_NOT_CONFIGURED")
	resp, err := http.Get(s.URL + "/dev/mail")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /dev/mail = %d, want 404 without the log driver", resp.StatusCode)
	}
}

// decodeClaims returns the payload of a JWT, unverified.
func decodeClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}
