package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// testEnv is the environment tests start the service with: quick password
// hashing, any free port. Tests add or override variables.
func testEnv(databaseURI string, overrides ...string) map[string]string {
	env := map[string]string{
		"PORT":                      "0",
		"DATABASE_URI":              databaseURI,
		"PASSWORD_HASH_MEMORY":      "64",
		"PASSWORD_HASH_ITERATIONS":  "1",
		"PASSWORD_HASH_CONCURRENCY": "4",
	}
	for i := 0; i+1 < len(overrides); i += 2 {
		env[overrides[i]] = overrides[i+1]
	}
	return env
}

// testServer is one run() of the service, stopped when the test ends.
type testServer struct {
	URL  string
	logs *logBuffer
}

// startServer runs the service as main does, with env as its environment,
// waits until /readyz answers, and stops it when the test ends.
func startServer(t testing.TB, env map[string]string) *testServer {
	t.Helper()
	s, stop, err := launch(env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("run() = %v, want nil after shutdown", err)
		}
	})
	return s
}

// launch starts run() and waits until it is ready; stop ends it and returns
// what run returned. It may be called from any goroutine.
func launch(env map[string]string) (s *testServer, stop func() error, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logBuffer{addr: make(chan string, 1)}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"latchkey"}, func(k string) string { return env[k] }, logs, logs)
	}()
	stop = func() error {
		cancel()
		return <-done
	}
	var addr string
	select {
	case addr = <-logs.addr:
	case err := <-done:
		cancel()
		return nil, nil, fmt.Errorf("run() = %w before listening; logs:\n%s", err, logs)
	case <-time.After(20 * time.Second):
		stop()
		return nil, nil, fmt.Errorf("service did not listen; logs:\n%s", logs)
	}
	s = &testServer{URL: "http://" + strings.Replace(addr, "[::]", "127.0.0.1", 1), logs: logs}
	if err := waitForReady(s.URL); err != nil {
		stop()
		return nil, nil, fmt.Errorf("%w; logs:\n%s", err, logs)
	}
	return s, stop, nil
}

// waitForReady polls /readyz until it answers 200.
func waitForReady(base string) error {
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

// logBuffer keeps the service's log lines and reports the address it
// listens on.
type logBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	addr chan string
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
			select {
			case l.addr <- line.Addr:
			default:
			}
		}
	}
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// gqlError is one entry of a GraphQL response's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// gqlResponse is a GraphQL response with its HTTP status and headers.
type gqlResponse struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []gqlError                 `json:"errors"`
	Status int                        `json:"-"`
	Header http.Header                `json:"-"`
	Body   string                     `json:"-"`
}

// code is the extensions.code of the first error, "" when there is none.
func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// ext is extension key of the first error.
func (r gqlResponse) ext(key string) any {
	if len(r.Errors) == 0 {
		return nil
	}
	return r.Errors[0].Extensions[key]
}

// field decodes data.name into v.
func (r gqlResponse) field(t testing.TB, name string, v any) {
	t.Helper()
	raw, ok := r.Data[name]
	if !ok {
		t.Fatalf("response has no data.%s: %s", name, r.Body)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decoding data.%s: %v (%s)", name, err, raw)
	}
}

// post sends a GraphQL operation with an optional Bearer token.
func (s *testServer) post(t testing.TB, bearer, query string, vars map[string]any) gqlResponse {
	t.Helper()
	return s.postHeaders(t, map[string]string{"Authorization": bearerHeader(bearer)}, query, vars)
}

func bearerHeader(tok string) string {
	if tok == "" {
		return ""
	}
	return "Bearer " + tok
}

// postHeaders sends a GraphQL operation with the given request headers.
func (s *testServer) postHeaders(t testing.TB, headers map[string]string, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/query", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	return doGraphQL(t, req)
}

func doGraphQL(t testing.TB, req *http.Request) gqlResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := gqlResponse{Status: resp.StatusCode, Header: resp.Header, Body: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/") {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("decoding response %q: %v", raw, err)
		}
	}
	return out
}

// payload is the AuthPayload as tests read it.
type payload struct {
	AccessToken      string    `json:"accessToken"`
	TokenType        string    `json:"tokenType"`
	ExpiresIn        int       `json:"expiresIn"`
	ExpiresAt        time.Time `json:"expiresAt"`
	RefreshToken     string    `json:"refreshToken"`
	RefreshExpiresAt time.Time `json:"refreshExpiresAt"`
	User             userData  `json:"user"`
}

type userData struct {
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

const (
	registerDoc = `mutation($input: RegisterInput!) { register(input: $input) { ` + payloadFields + ` } }`
	loginDoc    = `mutation($input: LoginInput!) { login(input: $input) { ` + payloadFields + ` } }`
	refreshDoc  = `mutation($t: String!) { refreshToken(input: {refreshToken: $t}) { ` + payloadFields + ` } }`
	meDoc       = `{ me { id email displayName roles emailVerified createdAt updatedAt lastLoginAt } }`
)

// testPassword is a password the policy accepts.
const testPassword = "correct horse battery staple"

// register creates a user and returns the payload, failing the test on any
// error.
func (s *testServer) register(t testing.TB, email string) payload {
	t.Helper()
	r := s.post(t, "", registerDoc, map[string]any{"input": map[string]any{"email": email, "password": testPassword}})
	if len(r.Errors) > 0 {
		t.Fatalf("register(%q) errors: %s", email, r.Body)
	}
	var p payload
	r.field(t, "register", &p)
	return p
}

// login logs in and returns the payload, failing the test on any error.
func (s *testServer) login(t testing.TB, email, password string) payload {
	t.Helper()
	r := s.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": email, "password": password}})
	if len(r.Errors) > 0 {
		t.Fatalf("login(%q) errors: %s", email, r.Body)
	}
	var p payload
	r.field(t, "login", &p)
	return p
}

// refresh sends a refreshToken mutation.
func (s *testServer) refresh(t testing.TB, tok string) gqlResponse {
	t.Helper()
	return s.post(t, "", refreshDoc, map[string]any{"t": tok})
}

// wantCode fails the test unless r's first error has code.
func wantCode(t testing.TB, what string, r gqlResponse, code string) {
	t.Helper()
	if got := r.code(); got != code {
		t.Errorf("%s: code = %q, want %q; body %s", what, got, code, r.Body)
	}
}

// wantUnauthenticated fails the test unless r is UNAUTHENTICATED with
// extensions.reason reason.
func wantUnauthenticated(t testing.TB, what string, r gqlResponse, reason string) {
	t.Helper()
	wantCode(t, what, r, "UNAUTHENTICATED")
	if got := r.ext("reason"); got != reason {
		t.Errorf("%s: reason = %v, want %q; body %s", what, got, reason, r.Body)
	}
}

// uniqueEmail returns an address no other test uses.
func uniqueEmail(t testing.TB, name string) string {
	return fmt.Sprintf("%s-%d@example.com", name, time.Now().UnixNano())
}

// sleepSeconds waits n seconds of real time.
func sleepSeconds(n int) {
	time.Sleep(time.Duration(n) * time.Second)
}
