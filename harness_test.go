package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/bench"
)

// testEnv is the environment tests start the service with: quick password
// hashing, any free port. Tests add or override variables.
func testEnv(databaseURI string, overrides ...string) map[string]string {
	return apitest.Env(databaseURI, overrides...)
}

// testServer is one run() of the service, stopped when the test ends.
type testServer struct {
	URL  string
	logs *bench.LogBuffer
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
	logs := bench.NewLogBuffer()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"latchkey"}, func(k string) string { return env[k] }, nil, logs, logs)
	}()
	stop = func() error {
		cancel()
		return <-done
	}
	var addr string
	select {
	case addr = <-logs.Addr():
	case err := <-done:
		cancel()
		return nil, nil, fmt.Errorf("run() = %w before listening; logs:\n%s", err, logs)
	case <-time.After(20 * time.Second):
		stop()
		return nil, nil, fmt.Errorf("service did not listen; logs:\n%s", logs)
	}
	s = &testServer{URL: bench.BaseURL(addr), logs: logs}
	if err := apitest.WaitForReady(s.URL); err != nil {
		stop()
		return nil, nil, fmt.Errorf("%w; logs:\n%s", err, logs)
	}
	return s, stop, nil
}

// gqlError is one entry of a GraphQL response's errors.
type gqlError = apitest.Error

// gqlResponse is a GraphQL response with its HTTP status and headers.
type gqlResponse apitest.Response

// code is the extensions.code of the first error, "" when there is none.
func (r gqlResponse) code() string { return apitest.Response(r).Code() }

// ext is extension key of the first error.
func (r gqlResponse) ext(key string) any { return apitest.Response(r).Ext(key) }

// field decodes data.name into v.
func (r gqlResponse) field(t testing.TB, name string, v any) {
	t.Helper()
	apitest.Response(r).Field(t, name, v)
}

// client is s as the client side of the tests sees it.
func (s *testServer) client() *apitest.Server { return &apitest.Server{URL: s.URL} }

// post sends a GraphQL operation with an optional Bearer token.
func (s *testServer) post(t testing.TB, bearer, query string, vars map[string]any) gqlResponse {
	t.Helper()
	return gqlResponse(s.client().Post(t, bearer, query, vars))
}

func bearerHeader(tok string) string { return apitest.BearerHeader(tok) }

// postHeaders sends a GraphQL operation with the given request headers.
func (s *testServer) postHeaders(t testing.TB, headers map[string]string, query string, vars map[string]any) gqlResponse {
	t.Helper()
	return gqlResponse(s.client().PostHeaders(t, headers, query, vars))
}

func doGraphQL(t testing.TB, req *http.Request) gqlResponse {
	t.Helper()
	return gqlResponse(apitest.Do(t, req))
}

// payload is the AuthPayload as tests read it.
type payload = apitest.Payload

type userData = apitest.User

const (
	registerDoc = apitest.RegisterDoc
	loginDoc    = apitest.LoginDoc
	refreshDoc  = apitest.RefreshDoc
	meDoc       = apitest.MeDoc
)

// testPassword is a password the policy accepts.
const testPassword = apitest.Password

// register creates a user and returns the payload, failing the test on any
// error.
func (s *testServer) register(t testing.TB, email string) payload {
	t.Helper()
	return s.client().Register(t, email)
}

// login logs in and returns the payload, failing the test on any error.
func (s *testServer) login(t testing.TB, email, password string) payload {
	t.Helper()
	return s.client().Login(t, email, password)
}

// refresh sends a refreshToken mutation.
func (s *testServer) refresh(t testing.TB, tok string) gqlResponse {
	t.Helper()
	return gqlResponse(s.client().Refresh(t, tok))
}

// wantCode fails the test unless r's first error has code.
func wantCode(t testing.TB, what string, r gqlResponse, code string) {
	t.Helper()
	apitest.WantCode(t, what, apitest.Response(r), code)
}

// wantUnauthenticated fails the test unless r is UNAUTHENTICATED with
// extensions.reason reason.
func wantUnauthenticated(t testing.TB, what string, r gqlResponse, reason string) {
	t.Helper()
	apitest.WantUnauthenticated(t, what, apitest.Response(r), reason)
}

// uniqueEmail returns an address no other test uses.
func uniqueEmail(t testing.TB, name string) string {
	return apitest.UniqueEmail(name)
}

// sleepSeconds waits n seconds of real time.
func sleepSeconds(n int) {
	time.Sleep(time.Duration(n) * time.Second)
}
