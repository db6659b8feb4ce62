package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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

// devMailToken polls every server's /dev/mail for a mail to to with a link
// to path (any replica's sender may have sent it) and returns its token.
func devMailToken(t *testing.T, servers []*testServer, to, path string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range servers {
			resp, err := http.Get(s.URL + "/dev/mail?to=" + url.QueryEscape(to))
			if err != nil {
				t.Fatal(err)
			}
			var mails []devMail
			err = json.NewDecoder(resp.Body).Decode(&mails)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range mails {
				if tok := tokenInLink(m.Text, path); tok != "" {
					return tok
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no mail to %s with %s within 10s", to, path)
	return ""
}

// TestResetTokenConcurrentUses spends one reset token from many clients
// at once, through two replicas on one database: exactly one succeeds,
// the others get INVALID_TOKEN with reason used.
func TestResetTokenConcurrentUses(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		env := testEnv(uri)
		servers := []*testServer{startServer(t, env)}
		if !strings.HasPrefix(uri, "sqlite") {
			servers = append(servers, startServer(t, env))
		}
		email := uniqueEmail(t, "race")
		servers[0].register(t, email)
		if r := servers[0].post(t, "", requestResetDoc, map[string]any{"email": email}); len(r.Errors) > 0 {
			t.Fatal(string(r.Body))
		}
		tok := devMailToken(t, servers, email, "/reset-password")
		const n = 12
		results := make(chan gqlResponse, n)
		start := make(chan struct{})
		for i := range n {
			go func() {
				<-start
				results <- servers[i%len(servers)].post(t, "", resetPasswordDoc, map[string]any{"token": tok, "pw": fmt.Sprintf("racing passphrase %d", i)})
			}()
		}
		close(start)
		succeeded := 0
		for range n {
			r := <-results
			switch {
			case len(r.Errors) == 0:
				succeeded++
			case r.code() != "INVALID_TOKEN" || r.ext("reason") != "used":
				t.Errorf("concurrent resetPassword = %s, want success or INVALID_TOKEN used", r.Body)
			}
		}
		if succeeded != 1 {
			t.Errorf("%d of %d concurrent uses of one token succeeded, want exactly 1", succeeded, n)
		}
	})
}

// TestMailRequestsRevealNothing: requestPasswordReset and
// resendVerificationEmail answer with the same body, and in the same time
// (medians of many interleaved tries, within a generous bound), whether
// or not the address has an account.
func TestMailRequestsRevealNothing(t *testing.T) {
	// Not in parallel: the package's other tests would time themselves
	// into the comparison.
	// MAIL_RESEND_INTERVAL=0: the known address is asked for again and
	// again, each unknown one once, and a repeat within the interval
	// queues nothing; that would time recent requests, not accounts.
	s := startServer(t, testEnv(testdb.SQLiteMemory, "RATE_LIMIT_MAIL", "0", "RATE_LIMIT_MAIL_RECIPIENT", "0", "MAIL_RESEND_INTERVAL", "0"))
	known := uniqueEmail(t, "known")
	s.register(t, known)
	for _, doc := range []string{requestResetDoc, resendVerifyDoc} {
		const tries = 60
		var times [2][]time.Duration
		var bodies [2]string
		try := func(which int) {
			addr := known
			if which == 1 {
				addr = uniqueEmail(t, "unknown")
			}
			start := time.Now()
			r := s.post(t, "", doc, map[string]any{"email": addr})
			times[which] = append(times[which], time.Since(start))
			bodies[which] = string(r.Body)
		}
		for i := range tries {
			// Each kind follows each kind as often: the mail worker's
			// work for one request overlaps the next.
			try(i % 2)
			try(1 - i%2)
		}
		if bodies[0] != bodies[1] {
			t.Errorf("%s: body for an account %s, without one %s", doc, bodies[0], bodies[1])
		}
		a, b := median(times[0]), median(times[1])
		t.Logf("%s: median %v with an account, %v without", doc, a, b)
		if diff := max(a, b) - min(a, b); diff > max(2*time.Millisecond, max(a, b)/2) {
			t.Errorf("%s: median %v with an account, %v without: they differ by more than half", doc, a, b)
		}
	}
}

// median is the middle of ds.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestMailThrottles: RATE_LIMIT_MAIL counts a client address's requests
// and RATE_LIMIT_MAIL_RECIPIENT an address's mails, accounts or not.
func TestMailThrottles(t *testing.T) {
	t.Parallel()
	t.Run("address", func(t *testing.T) {
		s := startServer(t, testEnv(testdb.SQLiteMemory, "RATE_LIMIT_MAIL", "3/1h", "RATE_LIMIT_MAIL_RECIPIENT", "0"))
		for i := range 3 {
			if r := s.post(t, "", requestResetDoc, map[string]any{"email": uniqueEmail(t, "a")}); len(r.Errors) > 0 {
				t.Fatalf("request #%d: %s", i+1, r.Body)
			}
		}
		r := s.post(t, "", resendVerifyDoc, map[string]any{"email": uniqueEmail(t, "a")})
		wantCode(t, "the 4th mail request from one address", r, "RATE_LIMITED")
		if r.ext("retryAfter") == nil {
			t.Error("RATE_LIMITED without retryAfter")
		}
	})
	t.Run("token", func(t *testing.T) {
		s := startServer(t, testEnv(testdb.SQLiteMemory, "RATE_LIMIT_TOKEN", "3/1h"))
		bad := map[string]any{"token": strings.Repeat("B", 43)}
		for i := range 3 {
			wantCode(t, fmt.Sprintf("verifyEmail(bad token) #%d", i+1), s.post(t, "", verifyEmailDoc, bad), "INVALID_TOKEN")
		}
		wantCode(t, "the 4th bad token from one address", s.post(t, "", verifyEmailDoc, bad), "RATE_LIMITED")
	})
	t.Run("recipient", func(t *testing.T) {
		s := startServer(t, testEnv(testdb.SQLiteMemory, "RATE_LIMIT_MAIL", "0", "RATE_LIMIT_MAIL_RECIPIENT", "2/1h"))
		known := uniqueEmail(t, "known")
		s.register(t, known) // its verification mail counts: one left
		unknown := uniqueEmail(t, "unknown")
		s.post(t, "", requestResetDoc, map[string]any{"email": unknown})
		for _, addr := range []string{known, unknown} {
			if r := s.post(t, "", requestResetDoc, map[string]any{"email": addr}); len(r.Errors) > 0 {
				t.Fatalf("second mail to %s: %s", addr, r.Body)
			}
			wantCode(t, "third mail to "+addr, s.post(t, "", requestResetDoc, map[string]any{"email": addr}), "RATE_LIMITED")
		}
		if r := s.post(t, "", requestResetDoc, map[string]any{"email": uniqueEmail(t, "other")}); len(r.Errors) > 0 {
			t.Errorf("another recipient: %s", r.Body)
		}
	})
}
