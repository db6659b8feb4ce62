// Package apitest is the client side of the service's tests: the
// environment a test starts the service with, waiting until it is ready,
// posting GraphQL documents and reading their answers and error codes. The
// in-process tests of package main and the end-to-end tests of e2e/ share
// it; only tests import it.
package apitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// Env is the environment tests start the service with: quick password
// hashing, any free port, and no soft memory limit (in-process tests run
// many services in one process, which one service's limit would throttle).
// Tests add or override variables, given as pairs.
func Env(databaseURI string, overrides ...string) map[string]string {
	env := map[string]string{
		"PORT":                      "0",
		"DATABASE_URI":              databaseURI,
		"PASSWORD_HASH_MEMORY":      "64",
		"PASSWORD_HASH_ITERATIONS":  "1",
		"PASSWORD_HASH_CONCURRENCY": "4",
		"MEMORY_LIMIT_MIB":          "0",
	}
	for i := 0; i+1 < len(overrides); i += 2 {
		env[overrides[i]] = overrides[i+1]
	}
	return env
}

// ProductionHashing is Env with the default (OWASP) argon2id parameters
// instead of the tests' cheap ones, for what measures or floods logins.
func ProductionHashing(databaseURI string, overrides ...string) map[string]string {
	env := Env(databaseURI, overrides...)
	delete(env, "PASSWORD_HASH_MEMORY")
	delete(env, "PASSWORD_HASH_ITERATIONS")
	delete(env, "PASSWORD_HASH_CONCURRENCY")
	return env
}

// WaitForReady polls base's /readyz until it answers 200.
func WaitForReady(base string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s/readyz never answered 200", base)
}

// Error is one entry of a GraphQL response's errors.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Response is a GraphQL response with its HTTP status and headers.
type Response struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []Error                    `json:"errors"`
	Status int                        `json:"-"`
	Header http.Header                `json:"-"`
	Body   string                     `json:"-"`
}

// Code is the extensions.code of the first error, "" when there is none.
func (r Response) Code() string {
	c, _ := r.Ext("code").(string)
	return c
}

// Ext is the extension key of the first error, nil when there is none.
func (r Response) Ext(key string) any {
	if len(r.Errors) == 0 {
		return nil
	}
	return r.Errors[0].Extensions[key]
}

// Field decodes data.name into v, failing the test when it cannot.
func (r Response) Field(t testing.TB, name string, v any) {
	t.Helper()
	raw, ok := r.Data[name]
	if !ok {
		t.Fatalf("response has no data.%s: %s", name, r.Body)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decoding data.%s: %v (%s)", name, err, raw)
	}
}

// Payload is the AuthPayload as tests read it.
type Payload struct {
	AccessToken      string    `json:"accessToken"`
	TokenType        string    `json:"tokenType"`
	ExpiresIn        int       `json:"expiresIn"`
	ExpiresAt        time.Time `json:"expiresAt"`
	RefreshToken     string    `json:"refreshToken"`
	RefreshExpiresAt time.Time `json:"refreshExpiresAt"`
	User             User      `json:"user"`
}

// User is the User type as tests read it.
type User struct {
	ID            string     `json:"id"`
	Email         string     `json:"email"`
	DisplayName   *string    `json:"displayName"`
	Roles         []string   `json:"roles"`
	EmailVerified bool       `json:"emailVerified"`
	CreatedAt     time.Time  `json:"createdAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`
	LastLoginAt   *time.Time `json:"lastLoginAt"`
}

const payloadFields = `accessToken tokenType expiresIn expiresAt refreshToken refreshExpiresAt
	user { id email displayName roles emailVerified createdAt updatedAt lastLoginAt }`

// The documents of the flows every test goes through, answering a whole
// Payload or User.
const (
	RegisterDoc = `mutation($input: RegisterInput!) { register(input: $input) { ` + payloadFields + ` } }`
	LoginDoc    = `mutation($input: LoginInput!) { login(input: $input) { ` + payloadFields + ` } }`
	RefreshDoc  = `mutation($t: String!) { refreshToken(input: {refreshToken: $t}) { ` + payloadFields + ` } }`
	MeDoc       = `{ me { id email displayName roles emailVerified createdAt updatedAt lastLoginAt } }`
)

// Password is a password the policy accepts.
const Password = "correct horse battery staple"

// UniqueEmail returns an address no other test uses.
func UniqueEmail(name string) string {
	return fmt.Sprintf("%s-%d@example.com", name, time.Now().UnixNano())
}

// Server is a running service as a client sees it: its base URL.
type Server struct {
	URL string
}

// Post sends a GraphQL operation with an optional Bearer token.
func (s *Server) Post(t testing.TB, bearer, query string, vars map[string]any) Response {
	t.Helper()
	return s.PostHeaders(t, map[string]string{"Authorization": BearerHeader(bearer)}, query, vars)
}

// BearerHeader is the Authorization header carrying tok, "" for none.
func BearerHeader(tok string) string {
	if tok == "" {
		return ""
	}
	return "Bearer " + tok
}

// PostHeaders sends a GraphQL operation with the given request headers;
// those with an empty value are left out.
func (s *Server) PostHeaders(t testing.TB, headers map[string]string, query string, vars map[string]any) Response {
	t.Helper()
	req, err := NewRequest(s.URL, headers, query, vars)
	if err != nil {
		t.Fatal(err)
	}
	return Do(t, req)
}

// NewRequest is the POST of a GraphQL operation to base's /query.
func NewRequest(base string, headers map[string]string, query string, vars map[string]any) (*http.Request, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, base+"/query", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	return req, nil
}

// Do sends a GraphQL request and reads the response, failing the test on a
// transport error or a JSON body it cannot decode.
func Do(t testing.TB, req *http.Request) Response {
	t.Helper()
	r, _, err := Exchange(http.DefaultClient, req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return r
}

// Exchange sends a GraphQL request with c and reads the response, without
// failing a test: load generators call it from goroutines. It returns how
// long the exchange took.
func Exchange(c *http.Client, req *http.Request) (Response, time.Duration, error) {
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return Response{}, time.Since(start), err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil {
		return Response{}, took, err
	}
	out := Response{Status: resp.StatusCode, Header: resp.Header, Body: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/") {
		if err := json.Unmarshal(raw, &out); err != nil {
			return out, took, fmt.Errorf("decoding response %q: %w", raw, err)
		}
	}
	return out, took, nil
}

// Call sends one GraphQL operation to base with c, without failing a test,
// for load generators running in goroutines: it returns the response, how
// long the exchange took, or the transport error.
func Call(c *http.Client, base, bearer, query string, vars map[string]any) (Response, time.Duration, error) {
	req, err := NewRequest(base, map[string]string{"Authorization": BearerHeader(bearer)}, query, vars)
	if err != nil {
		return Response{}, 0, err
	}
	return Exchange(c, req)
}

// Register creates a user with Password and returns the payload, failing
// the test on any error.
func (s *Server) Register(t testing.TB, email string) Payload {
	t.Helper()
	return s.authenticate(t, "register", RegisterDoc, email, Password)
}

// Login logs in and returns the payload, failing the test on any error.
func (s *Server) Login(t testing.TB, email, password string) Payload {
	t.Helper()
	return s.authenticate(t, "login", LoginDoc, email, password)
}

// authenticate sends doc, whose input is an email and a password, and
// returns the payload under field, failing the test on any error.
func (s *Server) authenticate(t testing.TB, field, doc, email, password string) Payload {
	t.Helper()
	r := s.Post(t, "", doc, map[string]any{"input": map[string]any{"email": email, "password": password}})
	if len(r.Errors) > 0 {
		t.Fatalf("%s(%q) errors: %s", field, email, r.Body)
	}
	var p Payload
	r.Field(t, field, &p)
	return p
}

// Refresh sends a refreshToken mutation.
func (s *Server) Refresh(t testing.TB, tok string) Response {
	t.Helper()
	return s.Post(t, "", RefreshDoc, map[string]any{"t": tok})
}

// WantCode fails the test unless r's first error has code.
func WantCode(t testing.TB, what string, r Response, code string) {
	t.Helper()
	if got := r.Code(); got != code {
		t.Errorf("%s: code = %q, want %q; body %s", what, got, code, r.Body)
	}
}

// WantUnauthenticated fails the test unless r is UNAUTHENTICATED with
// extensions.reason reason.
func WantUnauthenticated(t testing.TB, what string, r Response, reason string) {
	t.Helper()
	WantCode(t, what, r, "UNAUTHENTICATED")
	if got := r.Ext("reason"); got != reason {
		t.Errorf("%s: reason = %v, want %q; body %s", what, got, reason, r.Body)
	}
}

// ReadAll reads and closes resp's body, failing the test on an error.
func ReadAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// GetStatus is the status of a GET of url with c, and how long it took, or
// the transport error.
func GetStatus(c *http.Client, url string) (int, time.Duration, error) {
	start := time.Now()
	resp, err := c.Get(url)
	if err != nil {
		return 0, time.Since(start), err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), nil
}

// Percentile is the p-th percentile (0..100) of ds, nearest rank.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Eventually polls ok every 100 ms until it holds, failing t after limit.
func Eventually(t testing.TB, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
