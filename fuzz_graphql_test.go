package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/database"
	"github.com/latchkey/latchkey/internal/telemetry"
	"github.com/latchkey/latchkey/internal/testdb"
)

// fuzzService is the service's whole HTTP handler over in-memory SQLite,
// wired as serve() wires it, with a registered user's access token.
type fuzzService struct {
	handler http.Handler
	token   string
	logs    *tailBuffer
}

// fuzzTarget builds the fuzzService once per process: every input of a
// fuzzing worker goes to the same handler and database, as requests to a
// running service do.
var fuzzTarget = sync.OnceValues(func() (*fuzzService, error) {
	env := testEnv(testdb.SQLiteMemory)
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		return nil, err
	}
	logs := &tailBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, client, err := database.Open(cfg.Database, nil)
	if err != nil {
		return nil, err
	}
	if err := migrate(context.Background(), db, client, cfg, logger); err != nil {
		return nil, err
	}
	metrics := telemetry.NewMetrics(db)
	hasher, err := newHasher(cfg, metrics)
	if err != nil {
		return nil, err
	}
	svc, keys, err := services(context.Background(), cfg, client, hasher, logger, metrics, nil)
	if err != nil {
		return nil, err
	}
	fs := &fuzzService{handler: handler(cfg, logger, svc, keys.Issuer(), db, metrics, nil, nil), logs: logs}
	body, _ := json.Marshal(map[string]any{"query": registerDoc, "variables": map[string]any{
		"input": map[string]any{"email": "fuzz@example.com", "password": testPassword},
	}})
	req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	fs.handler.ServeHTTP(rec, req)
	var r struct {
		Data struct {
			Register struct{ AccessToken string } `json:"register"`
		} `json:"data"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || r.Data.Register.AccessToken == "" {
		return nil, fmt.Errorf("registering the fuzz user: %w: %s", err, rec.Body)
	}
	fs.token = r.Data.Register.AccessToken
	return fs, nil
})

// tailBuffer keeps the last 64 KiB written to it: the service's recent
// warnings and errors, to show when an input fails.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - 64<<10; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// Fuzz request modes: the low two bits pick the transport, bit 2 adds the
// fuzz user's Bearer token, bit 3 sends the body as text/plain.
const (
	modePOST   = 0
	modeGET    = 1
	modeBatch  = 2 // a JSON array of two operations
	modeRaw    = 3 // the document is the whole body
	modeBearer = 4
	modePlain  = 8
)

// fuzzRequest builds the HTTP request of one input. variables go in as JSON
// when they are JSON, else as a string.
func fuzzRequest(query, variables string, mode uint8, token string) *http.Request {
	var vars any = variables
	if json.Valid([]byte(variables)) {
		vars = json.RawMessage(variables)
	} else if variables == "" {
		vars = nil
	}
	op, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	var req *http.Request
	switch mode & 3 {
	case modeGET:
		q := url.Values{"query": {query}}
		if variables != "" {
			q.Set("variables", variables)
		}
		req = httptest.NewRequest(http.MethodGet, "/query?"+q.Encode(), nil)
	case modeBatch:
		req = httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader([]byte("["+string(op)+","+string(op)+"]")))
	case modeRaw:
		req = httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(query))
	default:
		req = httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(op))
	}
	req.Header.Set("Content-Type", "application/json")
	if mode&modePlain != 0 {
		req.Header.Set("Content-Type", "text/plain")
	}
	if mode&modeBearer != 0 {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// Each input from another client, so that the per-address limits do
	// not end the exploration early.
	req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:4321", rand.IntN(256), rand.IntN(256), 1+rand.IntN(254))
	return req
}

// fuzzLeaks are what no response may contain unless the input did: stack
// traces, SQL and driver text.
var fuzzLeaks = []string{"goroutine ", ".go:", "panic", "runtime error", "sql", "select ", "insert into", "update ", "sqlite", "pgx", "ent: ", "constraint", "no such"}

// FuzzGraphQL drives the whole HTTP handler with arbitrary documents,
// variables and transports: no panic, no 5xx, every GraphQL error with an
// extensions.code, no internal error (nothing here breaks the database),
// and nothing of the internals in any response.
func FuzzGraphQL(f *testing.F) {
	seeds := []struct {
		query, variables string
		mode             uint8
	}{
		{registerDoc, `{"input":{"email":"seed@example.com","password":"correct horse battery staple","displayName":"Seed"}}`, modePOST},
		{loginDoc, `{"input":{"email":"fuzz@example.com","password":"correct horse battery staple"}}`, modePOST},
		{loginDoc, `{"input":{"email":"FUZZ@example.com","password":"wrong"}}`, modeGET},
		{refreshDoc, `{"t":"not a token"}`, modePOST},
		{meDoc, ``, modePOST | modeBearer},
		{meDoc, ``, modeGET | modeBearer},
		{sessionsDoc, ``, modePOST | modeBearer},
		{validateDoc, `{"t":"eyJhbGciOiJub25lIn0.e30."}`, modePOST},
		{`mutation { logout }`, ``, modePOST},
		{`mutation($id: ID!) { revokeSession(id: $id) }`, `{"id":"00000000-0000-0000-0000-000000000000"}`, modePOST | modeBearer},
		{`mutation($i: ChangePasswordInput!) { changePassword(input: $i) }`, `{"i":{"currentPassword":"x","newPassword":"y"}}`, modePOST | modeBearer},
		{`{ user(id: "1") { id email } }`, ``, modePOST | modeBearer},
		{`{ _service { sdl } }`, ``, modePOST},
		{`query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id email } } }`, `{"r":[{"__typename":"User","id":"x"}]}`, modePOST | modeBearer},
		{`{ __schema { types { name fields { name args { name type { name ofType { name } } } } } } }`, ``, modePOST},
		{strings.Repeat("{ me ", 300) + strings.Repeat("}", 300), ``, modePOST},
		{strings.Repeat("[", 5000), ``, modePOST},
		{aliasedLogins("fuzz@example.com", 30), ``, modePOST},
		{`query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }`, ``, modePOST},
		{`query { ...A } fragment A on Query { me { id } ...A }`, ``, modePOST},
		{`query A { me { id } } query B { __typename }`, ``, modePOST},
		// Fragments that spread each other sixteen times over: a few
		// hundred bytes that expand past any count.
		{fragmentFanOut(1<<10, "{ ...f0 }", "Query", "__typename"), ``, modePOST},
		{fragmentFanOut(1<<10, "{ me { ...f0 } }", "User", "id"), ``, modeGET | modeBearer},
		{fragmentFanOut(1<<10, `{ __type(name: "User") { ...f0 } }`, "__Type", "name"), ``, modePOST},
		{fragmentFanOut(1<<10, "mutation { ...f0 }", "Mutation", "logout"), ``, modePOST},
		{fragmentFanOut(4<<10, `query($t: String!) { validateToken(token: $t) { ...f0 } }`, "TokenValidation", "valid"), `{"t":"x"}`, modePOST},
		{`{ ...A ...A ...B } fragment A on Query { me { ...U ...U } } fragment B on Query { ...A __typename } fragment U on User { id ... on User { ...V } } fragment V on User { email sessions { id } }`, ``, modePOST | modeBearer},
		{`{ me { ...U } } fragment U on User { a: id b: id ... on User { c: id ... on User { d: email } } }`, ``, modePOST | modeBearer},
		{`{ ` + strings.Repeat("... on Query { ", 200) + "__typename" + strings.Repeat(" }", 200) + ` }`, ``, modePOST},
		{`{ ...F } fragment F on Query { ...G } fragment G on Query { ...F }`, ``, modeGET},
		{`{ ...Missing }`, ``, modePOST},
		{`{ me { id } } # ` + strings.Repeat("x", 40<<10), ``, modePOST},
		{loginDoc, `{"input":{"email":"fuzz@example.com","password":"` + strings.Repeat("p", 100<<10) + `"}}`, modePOST},
		{"{ me { id } }\xff\xfe", "{\"input\":\"\xc3\x28\"}", modePOST},
		{loginDoc, "{\"input\":{\"email\":\"\xff@example.com\",\"password\":\"\xed\xa0\x80aaaaaaaa\"}}", modePOST},
		{loginDoc, `{"input":{"email":12,"password":true}}`, modePOST},
		{refreshDoc, `{"t":1e400}`, modePOST},
		{loginDoc, `[1,2]`, modePOST},
		{loginDoc, `"x"`, modePOST},
		{loginDoc, `null`, modePOST},
		{`{ __typename }`, ``, modeBatch},
		{`{"query":"{ me { id } }","variables":[]}`, ``, modeRaw},
		{`[{"query":"{ __typename }"}]`, ``, modeRaw},
		{`{"query":{"a":1}}`, ``, modeRaw},
		{``, ``, modeRaw},
		{`{ __typename }`, ``, modePOST | modePlain},
	}
	for _, s := range seeds {
		f.Add(s.query, s.variables, s.mode)
	}
	f.Fuzz(func(t *testing.T, query, variables string, mode uint8) {
		svc, err := fuzzTarget()
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		svc.handler.ServeHTTP(rec, fuzzRequest(query, variables, mode, svc.token))
		body := rec.Body.String()
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("%s\nresponse %d: %.2000s\nservice log: %.4000s", fmt.Sprintf(format, args...), rec.Code, body, svc.logs)
		}
		if rec.Code >= 500 {
			fail("HTTP %d", rec.Code)
		}
		// Leaks are looked for in what the service says, not in data: tokens
		// are random text, and data echoes what earlier inputs stored.
		input := strings.ToLower(query + variables)
		revealed := func(said string) {
			t.Helper()
			said = strings.ToLower(said)
			for _, leak := range fuzzLeaks {
				if strings.Contains(said, leak) && !strings.Contains(input, leak) {
					fail("the response reveals %q", leak)
				}
			}
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") && !strings.HasPrefix(body, `{"errors"`) {
			revealed(body) // plain refusals: 413, 405
			return
		}
		var r struct {
			Errors []gqlError `json:"errors"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			fail("the response is not JSON: %v", err)
		}
		for _, e := range r.Errors {
			ext, _ := json.Marshal(e.Extensions)
			revealed(e.Message + string(ext))
			code, _ := e.Extensions["code"].(string)
			switch code {
			case "":
				fail("error %q has no extensions.code", e.Message)
			case "INTERNAL_SERVER_ERROR":
				fail("internal error on a healthy database")
			}
		}
	})
}
