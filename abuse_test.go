package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testdb"
)

// loginAs sends a login mutation with extra request headers.
func (s *testServer) loginAs(t testing.TB, headers map[string]string, email, password string) gqlResponse {
	t.Helper()
	return s.postHeaders(t, headers, loginDoc, map[string]any{"input": map[string]any{"email": email, "password": password}})
}

// retryAfter is the first error's extensions.retryAfter in whole seconds.
func retryAfter(t testing.TB, r gqlResponse) int {
	t.Helper()
	v, ok := r.ext("retryAfter").(float64)
	if !ok || v != float64(int(v)) || v < 1 {
		t.Errorf("retryAfter = %v, want whole seconds >= 1; body %s", r.ext("retryAfter"), r.Body)
	}
	return int(v)
}

func TestBruteForceOneAccount(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri, "LOGIN_LOCKOUT", "2s"))
		victim, bystander := uniqueEmail(t, "victim"), uniqueEmail(t, "bystander")
		s.register(t, victim)
		s.register(t, bystander)
		for i := range 10 {
			wantCode(t, fmt.Sprintf("failure %d", i+1), s.loginAs(t, nil, victim, "wrong password "+fmt.Sprint(i)), "INVALID_CREDENTIALS")
		}
		r := s.loginAs(t, nil, victim, "another wrong password")
		wantCode(t, "11th attempt", r, "RATE_LIMITED")
		if got := retryAfter(t, r); got > 2 {
			t.Errorf("first lockout retryAfter = %d, want at most LOGIN_LOCKOUT (2s)", got)
		}
		// The right password is refused too: the throttle is the account's.
		wantCode(t, "right password while throttled", s.loginAs(t, nil, victim, testPassword), "RATE_LIMITED")
		// Another account from the same address is not affected.
		if r := s.loginAs(t, nil, bystander, testPassword); len(r.Errors) > 0 {
			t.Errorf("another account while one is throttled: %s", r.Body)
		}
		// An unknown email is throttled the same way, so a refusal tells
		// nothing about whether an account exists.
		ghost := uniqueEmail(t, "ghost")
		for range 10 {
			s.loginAs(t, nil, ghost, "wrong password")
		}
		wantCode(t, "unknown email after 10 failures", s.loginAs(t, nil, ghost, "wrong password"), "RATE_LIMITED")
	})
}

func TestLoginBackoffGrowsAndSuccessResets(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		// No known addresses: after the success, failures from its address
		// would go to a budget of their own, not to the account's count.
		s := startServer(t, testEnv(uri, "LOGIN_MAX_FAILURES", "2", "LOGIN_LOCKOUT", "1s", "LOGIN_MAX_LOCKOUT", "3s", "LOGIN_KNOWN_ADDRESS_TTL", "0"))
		email := uniqueEmail(t, "backoff")
		s.register(t, email)
		fail := func() gqlResponse { return s.loginAs(t, nil, email, "wrong password") }
		fail()
		fail()
		r := fail()
		wantCode(t, "after 2 failures", r, "RATE_LIMITED")
		if got := retryAfter(t, r); got != 1 {
			t.Errorf("first lockout = %ds, want 1", got)
		}
		waitOut(t, r)
		wantCode(t, "third failure", fail(), "INVALID_CREDENTIALS")
		r = fail()
		if got := retryAfter(t, r); got != 2 {
			t.Errorf("second lockout = %ds, want 2 (doubled)", got)
		}
		waitOut(t, r)
		fail()
		if got := retryAfter(t, fail()); got != 3 {
			t.Errorf("third lockout = %ds, want 3 (LOGIN_MAX_LOCKOUT)", got)
		}
		waitOut(t, fail())
		s.login(t, email, testPassword)
		// The success cleared the count: two more failures before a lockout.
		wantCode(t, "first failure after success", fail(), "INVALID_CREDENTIALS")
		wantCode(t, "second failure after success", fail(), "INVALID_CREDENTIALS")
	})
}

// waitOut sleeps through a RATE_LIMITED response's retryAfter: the lockout
// is real time in the database, as every replica sees it.
func waitOut(t *testing.T, r gqlResponse) {
	t.Helper()
	if r.code() != "RATE_LIMITED" {
		t.Fatalf("want RATE_LIMITED to wait out, got %s", r.Body)
	}
	sleepSeconds(retryAfter(t, r))
}

// TestSuccessfulLoginsNotCounted logs in more often than the address's
// limit of failed logins allows: each success gives its attempt back.
func TestSuccessfulLoginsNotCounted(t *testing.T) {
	t.Parallel()
	const limit = 3
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri, "RATE_LIMIT_LOGIN", fmt.Sprintf("%d/15m", limit)))
		email := uniqueEmail(t, "regular")
		s.register(t, email)
		for i := range 2 * limit {
			wantCode(t, fmt.Sprintf("login %d", i+1), s.loginAs(t, nil, email, testPassword), "")
		}
		for i := range limit {
			wantCode(t, fmt.Sprintf("failure %d", i+1), s.loginAs(t, nil, email, "wrong password"), "INVALID_CREDENTIALS")
		}
		wantCode(t, "past the address's limit", s.loginAs(t, nil, email, testPassword), "RATE_LIMITED")
	})
}

func TestThrottlePerAddress(t *testing.T) {
	t.Parallel()
	const limit = 5
	t.Run("untrusted peer cannot rotate X-Forwarded-For", func(t *testing.T) {
		s := startServer(t, testEnv("sqlite://:memory:", "RATE_LIMIT_LOGIN", fmt.Sprintf("%d/15m", limit)))
		for i := range limit {
			h := map[string]string{"X-Forwarded-For": randomIP(), "X-Real-IP": randomIP()}
			wantCode(t, "failure", s.loginAs(t, h, uniqueEmail(t, fmt.Sprint("spray", i)), "wrong password"), "INVALID_CREDENTIALS")
		}
		h := map[string]string{"X-Forwarded-For": randomIP()}
		r := s.loginAs(t, h, uniqueEmail(t, "spray-last"), "wrong password")
		wantCode(t, "password spraying past the address limit", r, "RATE_LIMITED")
		retryAfter(t, r)
	})
	t.Run("trusted proxy's X-Forwarded-For is believed", func(t *testing.T) {
		s := startServer(t, testEnv("sqlite://:memory:", "RATE_LIMIT_LOGIN", fmt.Sprintf("%d/15m", limit), "TRUSTED_PROXIES", "127.0.0.0/8,::1"))
		for i := range 2 * limit {
			// Each request from another client behind the proxy.
			h := map[string]string{"X-Forwarded-For": randomIP() + ", 127.0.0.1"}
			wantCode(t, "client behind the proxy", s.loginAs(t, h, uniqueEmail(t, fmt.Sprint("proxied", i)), "wrong password"), "INVALID_CREDENTIALS")
		}
		// One client behind the proxy is limited on its own address.
		h := map[string]string{"X-Forwarded-For": "203.0.113.9"}
		for range limit {
			s.loginAs(t, h, uniqueEmail(t, "one-client"), "wrong password")
		}
		wantCode(t, "one client past its limit", s.loginAs(t, h, uniqueEmail(t, "one-client"), "wrong password"), "RATE_LIMITED")
		// The client's own address is what a session records.
		p := s.postHeaders(t, map[string]string{"X-Forwarded-For": "198.51.100.7"}, registerDoc, map[string]any{"input": map[string]any{"email": uniqueEmail(t, "behind"), "password": testPassword}})
		var reg payload
		p.field(t, "register", &reg)
		var list []sessionData
		s.post(t, reg.AccessToken, sessionsDoc, nil).field(t, "sessions", &list)
		if len(list) != 1 || list[0].IPAddress == nil || *list[0].IPAddress != "198.51.100.7" {
			t.Errorf("session behind a trusted proxy: %+v, want ipAddress 198.51.100.7", list)
		}
	})
}

func randomIP() string {
	return fmt.Sprintf("%d.%d.%d.%d", 1+rand.IntN(223), rand.IntN(256), rand.IntN(256), 1+rand.IntN(254))
}

func TestRateLimitsPerAddress(t *testing.T) {
	t.Parallel()
	s := startServer(t, testEnv("sqlite://:memory:", "RATE_LIMIT_REGISTER", "3/1h", "RATE_LIMIT_REFRESH", "3/15m", "RATE_LIMIT_VALIDATE", "3/1m"))
	t.Run("register", func(t *testing.T) {
		var p payload
		for i := range 3 {
			p = s.register(t, uniqueEmail(t, fmt.Sprint("reg", i)))
		}
		r := s.post(t, "", registerDoc, map[string]any{"input": map[string]any{"email": uniqueEmail(t, "reg-over"), "password": testPassword}})
		wantCode(t, "4th registration", r, "RATE_LIMITED")
		retryAfter(t, r)

		// Unknown refresh tokens count; past 3 a guess is refused, but a
		// good token from the same address still goes through.
		for range 3 {
			wantCode(t, "guessed refresh token", s.refresh(t, "guess-"+randomIP()), "INVALID_REFRESH_TOKEN")
		}
		wantCode(t, "guess past the limit", s.refresh(t, "guess-"+randomIP()), "RATE_LIMITED")
		var rotated payload
		s.refresh(t, p.RefreshToken).field(t, "refreshToken", &rotated)
		if rotated.RefreshToken == "" {
			t.Error("a valid refresh token from a throttled address was refused")
		}
		p = rotated

		// Expired and revoked tokens do not count against validateToken's
		// callers; forged ones do.
		for range 5 {
			if v := validate(t, s, p.AccessToken); !v.Valid {
				t.Errorf("validateToken(valid) = %+v", v)
			}
		}
		for range 3 {
			if v := validate(t, s, tamper(t, p.AccessToken)); v.Valid {
				t.Errorf("validateToken(tampered) valid")
			}
		}
		r = s.post(t, "", validateDoc, map[string]any{"t": tamper(t, p.AccessToken)})
		wantCode(t, "forged token past the limit", r, "RATE_LIMITED")
		// A valid token is never refused for the address's failures: 100
		// forgeries a minute through one relying service must not block
		// its valid checks.
		if v := validate(t, s, p.AccessToken); !v.Valid {
			t.Errorf("validateToken(valid) from a throttled address = %+v, want valid", v)
		}
	})
}

func TestGraphQLShapeLimits(t *testing.T) {
	t.Parallel()
	s := startServer(t, testEnv("sqlite://:memory:"))
	email := uniqueEmail(t, "alias")
	s.register(t, email)

	t.Run("100 aliased logins", func(t *testing.T) {
		r := s.post(t, "", aliasedLogins(email, 100), nil)
		wantCode(t, "100 aliased logins", r, "COMPLEXITY_LIMIT_EXCEEDED")
		if len(r.Data) > 0 {
			t.Errorf("data = %s, want none: refused before any resolver", r.Body)
		}
		// Not one attempt was made: the account is not throttled.
		s.login(t, email, testPassword)
	})
	t.Run("aliased logins within the root limit each count", func(t *testing.T) {
		r := s.post(t, "", aliasedLogins(email, 15), nil)
		codes := map[string]int{}
		for _, e := range r.Errors {
			c, _ := e.Extensions["code"].(string)
			codes[c]++
		}
		if codes["INVALID_CREDENTIALS"] != 10 || codes["RATE_LIMITED"] != 5 {
			t.Errorf("15 aliased wrong logins gave %v, want 10 INVALID_CREDENTIALS then 5 RATE_LIMITED", codes)
		}
	})
	t.Run("too deep", func(t *testing.T) {
		deep := startServer(t, testEnv("sqlite://:memory:", "MAX_QUERY_DEPTH", "1"))
		r := deep.post(t, "", `{ me { id } }`, nil)
		wantCode(t, "depth 2 over a limit of 1", r, "COMPLEXITY_LIMIT_EXCEEDED")
		r = deep.post(t, "", `query { ...F } fragment F on Query { me { ... on User { id } } }`, nil)
		wantCode(t, "depth through fragments", r, "COMPLEXITY_LIMIT_EXCEEDED")
		if r := deep.post(t, "", `{ __typename }`, nil); len(r.Errors) > 0 {
			t.Errorf("depth 1: %s", r.Body)
		}
	})
	t.Run("deeply nested document", func(t *testing.T) {
		doc := strings.Repeat("{ me ", 500) + strings.Repeat("}", 500)
		r := s.post(t, "", doc, nil)
		if r.Status >= 500 || len(r.Errors) == 0 {
			t.Errorf("deeply nested document = %d %.200s, want a GraphQL error", r.Status, r.Body)
		}
	})
	t.Run("100 KB document", func(t *testing.T) {
		doc := "{ me { id } }" + strings.Repeat(" ", 100<<10)
		r := s.post(t, "", doc, nil)
		wantCode(t, "100 KB document", r, "QUERY_TOO_LARGE")
	})
	t.Run("batch of 50", func(t *testing.T) {
		ops := make([]string, 50)
		for i := range ops {
			ops[i] = `{"query":"{ __typename }"}`
		}
		resp, err := http.Post(s.URL+"/query", "application/json", strings.NewReader("["+strings.Join(ops, ",")+"]"))
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("batch: status %d %s, want 400", resp.StatusCode, body)
		}
	})
}

// aliasedLogins is one mutation of n aliased logins to email, each with
// another wrong password.
func aliasedLogins(email string, n int) string {
	var b strings.Builder
	b.WriteString("mutation {")
	for i := range n {
		fmt.Fprintf(&b, ` a%d: login(input: {email: %q, password: "guess %d"}) { accessToken }`, i, email, i)
	}
	b.WriteString(" }")
	return b.String()
}

// TestLimitsFragmentFanOut posts documents whose fragments spread each
// other sixteen times over: 2 KiB that expand to more fields than an int
// counts. The limits must refuse them from the document as written, not
// by expanding it; before they did, such a document held a core for hours
// before any refusal, so each request has a liveness bound (not a
// measurement: an answer within it is all that is asked).
func TestLimitsFragmentFanOut(t *testing.T) {
	t.Parallel()
	s := startServer(t, testEnv(testdb.SQLiteMemory, "SHUTDOWN_TIMEOUT", "1s"))
	tests := []struct {
		name, doc string
		get       bool
	}{
		{name: "root fields", doc: fragmentFanOut(2<<10, "{ ...f0 }", "Query", "__typename")},
		{name: "root fields by GET", doc: fragmentFanOut(2<<10, "{ ...f0 }", "Query", "__typename"), get: true},
		{name: "fields of one root field", doc: fragmentFanOut(2<<10, "{ me { ...f0 } }", "User", "id")},
		{name: "introspection", doc: fragmentFanOut(2<<10, `{ __type(name: "User") { ...f0 } }`, "__Type", "name")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.doc) > 2<<10 {
				t.Fatalf("document of %d bytes, want at most 2 KiB", len(tt.doc))
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var req *http.Request
			if tt.get {
				req, _ = http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/query?query="+url.QueryEscape(tt.doc), nil)
			} else {
				body := fmt.Sprintf(`{"query":%q}`, tt.doc)
				req, _ = http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/query", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
			}
			r := doGraphQL(t, req)
			wantCode(t, tt.name, r, "COMPLEXITY_LIMIT_EXCEEDED")
		})
	}
}

// fragmentFanOut is a document of at most size bytes: operation, which
// spreads f0, then fragments on typ in which each spreads the next sixteen
// times, as many as fit, the last selecting leaf.
func fragmentFanOut(size int, operation, typ, leaf string) string {
	last := func(i int) string { return fmt.Sprintf(" fragment f%d on %s { %s }", i, typ, leaf) }
	var b strings.Builder
	b.WriteString(operation)
	for i := 0; ; i++ {
		next := fmt.Sprintf(" fragment f%d on %s {%s }", i, typ, strings.Repeat(fmt.Sprintf(" ...f%d", i+1), 16))
		if b.Len()+len(next)+len(last(i+1)) > size {
			b.WriteString(last(i))
			return b.String()
		}
		b.WriteString(next)
	}
}

// introspectionQuery is graphql-js's getIntrospectionQuery with every
// option on, as GraphiQL and codegen tools send it.
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    description
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL
  fields(includeDeprecated: true) { name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}`

// TestLimitsManyFields sends a document of thousands of small fields under
// the byte limit, whose validation costs the square of its fields: it is
// refused by its token count before it is parsed. A full introspection
// query, the largest document tools send, is within the limit.
func TestLimitsManyFields(t *testing.T) {
	t.Parallel()
	s := startServer(t, testEnv(testdb.SQLiteMemory))
	doc := "{" + strings.Repeat(" me { id }", 2500) + " }"
	r := s.post(t, "", doc, nil)
	wantCode(t, fmt.Sprintf("a document of 2,500 fields (%d bytes)", len(doc)), r, "QUERY_TOO_LARGE")

	r = s.post(t, "", introspectionQuery, nil)
	wantCode(t, "graphql-js's introspection query", r, "")
	if !strings.Contains(r.Body, `"__schema"`) {
		t.Errorf("introspection query: %s", r.Body)
	}
}
