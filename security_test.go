package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/testdb"
)

// claimsOf decodes the payload of a JWT without verifying it.
func claimsOf(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.MapClaims
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func headerOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	return apitest.HeaderOf(t, tok)
}

// ecPublicKey fetches from the service's JWKS the ES256 key that signs:
// the first one (the others verify, or are introduced ahead).
func ecPublicKey(t *testing.T, s *testServer) (*ecdsa.PublicKey, string) {
	t.Helper()
	resp, err := http.Get(s.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kty, Kid, Alg, Use, Crv, X, Y string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) == 0 {
		t.Fatal("JWKS has no keys")
	}
	k := set.Keys[0]
	if k.Kty != "EC" || k.Alg != "ES256" || k.Use != "sig" || k.Crv != "P-256" || k.Kid == "" {
		t.Fatalf("JWKS key = %+v, want an ES256 signing key", k)
	}
	x, _ := base64.RawURLEncoding.DecodeString(k.X)
	y, _ := base64.RawURLEncoding.DecodeString(k.Y)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatalf("JWKS key: %v", err)
	}
	return pub, k.Kid
}

func TestTokenClaims(t *testing.T) {
	t.Parallel()
	s := startServer(t, testEnv("sqlite://:memory:", "JWT_ISSUER", "https://auth.example.com", "JWT_AUDIENCE", "shop"))
	p := s.register(t, uniqueEmail(t, "claims"))
	pub, kid := ecPublicKey(t, s)
	tok, err := jwt.Parse(p.AccessToken, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer("https://auth.example.com"), jwt.WithAudience("shop"), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("verifying the access token with the JWKS key alone: %v", err)
	}
	if tok.Header["kid"] != kid {
		t.Errorf("kid = %v, want %s", tok.Header["kid"], kid)
	}
	c := tok.Claims.(jwt.MapClaims)
	v := validate(t, s, p.AccessToken)
	for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "roles", "scope", "email"} {
		if _, ok := c[name]; !ok {
			t.Errorf("claim %s missing from %v", name, c)
		}
	}
	if c["sub"] != p.User.ID || c["sid"] != *v.SessionID || c["email"] != p.User.Email || c["scope"] != "user" {
		t.Errorf("claims = %v, want sub %s, sid %s, email %s, scope user", c, p.User.ID, *v.SessionID, p.User.Email)
	}
}

func TestForgedTokensRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, testEnv("sqlite://:memory:"))
	p := s.register(t, uniqueEmail(t, "forged"))
	pub, kid := ecPublicKey(t, s)
	claims := claimsOf(t, p.AccessToken)

	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	sign := func(method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(method, c)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		out, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	none := func() string {
		h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT", "kid": kid})
		b, _ := json.Marshal(claims)
		return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(b) + "."
	}
	for _, tc := range []struct{ name, token string }{
		{"alg none", none()},
		{"HS256 with the public key as PEM", sign(jwt.SigningMethodHS256, pemKey, kid, claims)},
		{"HS256 with the public key as DER", sign(jwt.SigningMethodHS256, der, kid, claims)},
		{"tampered payload", tamper(t, p.AccessToken)},
		{"another key under our kid", sign(jwt.SigningMethodES256, other, kid, claims)},
		{"unknown kid", sign(jwt.SigningMethodES256, other, "not-ours", claims)},
		{"no kid", sign(jwt.SigningMethodES256, other, "", claims)},
		{"truncated", p.AccessToken[:len(p.AccessToken)-10]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.post(t, tc.token, meDoc, nil)
			wantUnauthenticated(t, "me", r, "invalid")
			if v := validate(t, s, tc.token); v.Valid || v.UserID != nil {
				t.Errorf("validateToken = %+v, want not valid", v)
			}
		})
	}
}

func TestSharedSecretTokens(t *testing.T) {
	t.Parallel()
	const secret = "a shared secret of at least thirty-two bytes"
	// No leeway, so that a token expiring this second is expired.
	s := startServer(t, testEnv("sqlite://:memory:", "JWT_SECRET_KEY", secret, "JWT_ISSUER", "https://auth.example.com", "JWT_CLOCK_SKEW", "0s"))
	p := s.register(t, uniqueEmail(t, "hs"))
	if h := headerOf(t, p.AccessToken); h["alg"] != "HS256" || h["kid"] == nil {
		t.Errorf("header = %v, want HS256 with a kid", h)
	}
	if _, err := jwt.Parse(p.AccessToken, func(*jwt.Token) (any, error) { return []byte(secret), nil }, jwt.WithValidMethods([]string{"HS256"})); err != nil {
		t.Errorf("verifying with the shared secret: %v", err)
	}
	resp, err := http.Get(s.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); strings.TrimSpace(body) != `{"keys":[]}` {
		t.Errorf("JWKS with only a shared secret = %s, want no keys", body)
	}

	kid := headerOf(t, p.AccessToken)["kid"].(string)
	now := time.Now()
	forge := func(change func(jwt.MapClaims)) string {
		c := claimsOf(t, p.AccessToken)
		change(c)
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
		tok.Header["kid"] = kid
		tok.Header["typ"] = "at+jwt"
		out, err := tok.SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		name, token, reason, validation string
	}{
		{"expired", forge(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() }), "expired", "expired"},
		{"expires now", forge(func(c jwt.MapClaims) { c["exp"] = now.Unix() }), "expired", "expired"},
		{"no exp", forge(func(c jwt.MapClaims) { delete(c, "exp") }), "invalid", "invalid_claims"},
		{"wrong aud", forge(func(c jwt.MapClaims) { c["aud"] = []string{"elsewhere"} }), "invalid", "invalid_claims"},
		{"wrong iss", forge(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }), "invalid", "invalid_claims"},
		{"nbf in the future", forge(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), "invalid", "invalid_claims"},
		{"signed with the secret for another purpose (typ JWT)", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsOf(t, p.AccessToken))
			tok.Header["kid"] = kid
			out, _ := tok.SignedString([]byte(secret))
			return out
		}(), "invalid", "invalid_claims"},
		{"other secret", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsOf(t, p.AccessToken))
			tok.Header["kid"] = kid
			out, _ := tok.SignedString([]byte("another secret of at least thirty-two bytes"))
			return out
		}(), "invalid", "bad_signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.post(t, tc.token, meDoc, nil)
			wantUnauthenticated(t, "me", r, tc.reason)
			if v := validate(t, s, tc.token); v.Valid || v.Reason == nil || *v.Reason != tc.validation {
				t.Errorf("validateToken = %+v, want reason %s", v, tc.validation)
			}
		})
	}
	t.Run("forged with the secret and a live session", func(t *testing.T) {
		// Whoever holds the shared secret can mint tokens: that is HS256.
		tok := forge(func(c jwt.MapClaims) { c["jti"] = "another" })
		if r := s.post(t, tok, meDoc, nil); len(r.Errors) > 0 {
			t.Errorf("me: %s", r.Body)
		}
	})
}

func TestRequestLimitsAndTransport(t *testing.T) {
	t.Parallel()
	s := startServer(t, testEnv("sqlite://:memory:"))
	t.Run("body over 1 MiB", func(t *testing.T) {
		body := `{"query":"{ __typename }","variables":{"x":"` + strings.Repeat("a", 1<<20) + `"}}`
		resp, err := http.Post(s.URL+"/query", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status = %d, want 413", resp.StatusCode)
		}
	})
	t.Run("mutation by GET", func(t *testing.T) {
		email := uniqueEmail(t, "get")
		q := `mutation { register(input: {email: "` + email + `", password: "` + testPassword + `"}) { accessToken } }`
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/query?query="+url.QueryEscape(q), nil)
		r := doGraphQL(t, req)
		if r.Status == http.StatusOK && len(r.Errors) == 0 {
			t.Errorf("GET mutation = %d %s, want refused", r.Status, r.Body)
		}
		// Not executed: the email is still free.
		s.register(t, email)
	})
	t.Run("query by GET", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/graphql?query="+url.QueryEscape(`{ me { id } }`), nil)
		r := doGraphQL(t, req)
		wantCode(t, "GET me", r, "UNAUTHENTICATED")
	})
	t.Run("complexity", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("{")
		for i := range 200 {
			b.WriteString(" a" + strconv.Itoa(i) + ": me { id email roles }")
		}
		b.WriteString(" }")
		r := s.post(t, "", b.String(), nil)
		wantCode(t, "complex query", r, "COMPLEXITY_LIMIT_EXCEEDED")
	})
	t.Run("parse error", func(t *testing.T) {
		wantCode(t, "broken document", s.post(t, "", `{ me {`, nil), "GRAPHQL_PARSE_FAILED")
		wantCode(t, "unknown field", s.post(t, "", `{ nope }`, nil), "GRAPHQL_VALIDATION_FAILED")
	})
}

func TestProductionMode(t *testing.T) {
	t.Parallel()
	const secret = "a shared secret of at least thirty-two bytes"
	env := testEnv("sqlite://:memory:", "DEBUG", "false", "JWT_SECRET_KEY", secret, "CORS_ALLOWED_ORIGINS", "https://app.example.com")
	s := startServer(t, env)
	resp, err := http.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("playground in production: status %d, want 404", resp.StatusCode)
	}
	r := s.post(t, "", `{ __schema { types { name } } }`, nil)
	if len(r.Errors) == 0 {
		t.Errorf("introspection in production answered: %.200s", r.Body)
	}
	for _, tc := range []struct {
		origin, want, credentials string
	}{
		{"https://app.example.com", "https://app.example.com", "true"},
		{"https://evil.example.com", "", ""},
	} {
		req, _ := http.NewRequest(http.MethodOptions, s.URL+"/query", nil)
		req.Header.Set("Origin", tc.origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.want {
			t.Errorf("preflight from %s: Allow-Origin %q, want %q", tc.origin, got, tc.want)
		}
		if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != tc.credentials {
			t.Errorf("preflight from %s: Allow-Credentials %q, want %q", tc.origin, got, tc.credentials)
		}
	}

	dev := startServer(t, testEnv("sqlite://:memory:"))
	r = dev.postHeaders(t, map[string]string{"Origin": "http://localhost:5173"}, `{ __schema { queryType { name } } }`, nil)
	if len(r.Errors) > 0 {
		t.Errorf("introspection in development: %s", r.Body)
	}
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != "http://localhost:5173" {
		t.Errorf("development CORS: Allow-Origin %q, want the origin echoed", got)
	}
}

func TestBadConfigurationStopsStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		env      map[string]string
		variable string
	}{
		{"short secret in production", map[string]string{"DEBUG": "false", "JWT_SECRET_KEY": "short"}, "JWT_SECRET_KEY"},
		{"no key in production", map[string]string{"DEBUG": "false"}, "JWT_SECRET_KEY"},
		{"bad duration", map[string]string{"ACCESS_TOKEN_TTL": "soon"}, "ACCESS_TOKEN_TTL"},
		{"bad port", map[string]string{"PORT": "http"}, "PORT"},
		{"bad database", map[string]string{"DATABASE_URI": "mysql://x"}, "DATABASE_URI"},
		{"bad debug", map[string]string{"DEBUG": "maybe"}, "DEBUG"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), []string{"latchkey"}, func(k string) string { return tc.env[k] }, nil, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tc.variable) {
				t.Errorf("run() = %v, want an error naming %s", err, tc.variable)
			}
			if secret := tc.env["JWT_SECRET_KEY"]; secret != "" && strings.Contains(err.Error(), secret) {
				t.Errorf("run() error reveals the secret: %v", err)
			}
		})
	}
}

// TestUserAgentNotUTF8 logs in with a User-Agent of bytes that are no
// UTF-8, which PostgreSQL's text refuses: the login succeeds and the
// session keeps the agent with the bad bytes replaced.
func TestUserAgentNotUTF8(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri))
		email := uniqueEmail(t, "agent")
		s.register(t, email)
		r := s.loginAs(t, map[string]string{"User-Agent": "Mozilla/5.0 \xff\xfe (\xc3)"}, email, testPassword)
		var p payload
		r.field(t, "login", &p)
		var list []sessionData
		s.post(t, p.AccessToken, sessionsDoc, nil).field(t, "sessions", &list)
		var agents []string
		for _, sess := range list {
			if sess.UserAgent != nil {
				agents = append(agents, *sess.UserAgent)
			}
		}
		if want := "Mozilla/5.0 \uFFFD (\uFFFD)"; !slices.Contains(agents, want) {
			t.Errorf("session user agents = %q, want one %q", agents, want)
		}
	})
}

// TestInternalErrorsRevealNothing breaks the database under a running
// service: the client gets INTERNAL_SERVER_ERROR with the request id, and
// the log has the cause under the same id.
func TestInternalErrorsRevealNothing(t *testing.T) {
	t.Parallel()
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

// TestLoginUpgradesPasswordHash restarts the service with stronger argon2id
// parameters: the next login stores the password under the new ones.
func TestLoginUpgradesPasswordHash(t *testing.T) {
	t.Parallel()
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

// TestLoginTimingUnknownEmail compares, in one run, logins with an unknown
// email and logins with a known email and a wrong password: their medians
// must agree within noise, or the time of a login would tell whether an
// email is registered. Logins that skip the hash (a password over the
// length limit) are timed too, to show the comparison would see a skipped
// hash.
func TestLoginTimingUnknownEmail(t *testing.T) {
	// Not in parallel: the package's other tests would time themselves
	// into the comparison.
	if testing.Short() {
		t.Skip("times 120 logins")
	}
	s := startServer(t, testEnv(testdb.SQLiteMemory,
		"PASSWORD_HASH_MEMORY", "4096", "PASSWORD_HASH_ITERATIONS", "1",
		"LOGIN_MAX_FAILURES", "0", "RATE_LIMIT_LOGIN", "0"))
	email := uniqueEmail(t, "timing")
	s.register(t, email)
	tooLong := strings.Repeat("x", 300)
	timeLogin := func(email, password string) time.Duration {
		start := time.Now()
		r := s.loginAs(t, nil, email, password)
		took := time.Since(start)
		wantCode(t, "timed login", r, "INVALID_CREDENTIALS")
		return took
	}
	for range 5 { // warm up
		timeLogin(email, "wrong password")
		timeLogin("nobody@example.com", "wrong password")
	}
	var known, unknown, unhashed []time.Duration
	for i := range 40 {
		// Alternate the order, so that neither kind always comes first.
		if i%2 == 0 {
			known = append(known, timeLogin(email, "wrong password"))
			unknown = append(unknown, timeLogin(fmt.Sprintf("nobody-%d@example.com", i), "wrong password"))
		} else {
			unknown = append(unknown, timeLogin(fmt.Sprintf("nobody-%d@example.com", i), "wrong password"))
			known = append(known, timeLogin(email, "wrong password"))
		}
		unhashed = append(unhashed, timeLogin(email, tooLong))
	}
	k, u, none := apitest.Percentile(known, 50), apitest.Percentile(unknown, 50), apitest.Percentile(unhashed, 50)
	t.Logf("median login: known email, wrong password %v; unknown email %v; no hash at all %v", k, u, none)
	const tolerance = 1.5
	if ratio := float64(max(k, u)) / float64(min(k, u)); ratio > tolerance {
		t.Errorf("unknown email %v vs wrong password %v: ratio %.2f over %.1f, the time tells whether an email is registered", u, k, ratio, tolerance)
	}
	// Without this the test could not fail for a skipped hash.
	if ratio := float64(k) / float64(none); ratio < 2*tolerance {
		t.Errorf("a login with its hash takes %v, one without %v: ratio %.2f, too small to see a skipped hash", k, none, ratio)
	}
}
