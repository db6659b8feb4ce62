package main

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/latchkey/latchkey/internal/testdb"
	"github.com/latchkey/latchkey/internal/token"
)

// scrape reads the service's /metrics as Prometheus would.
func (s *testServer) scrape(t testing.TB) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d, want 200", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// sample returns the value of the series of name with exactly labels
// (name, value pairs): a counter's or gauge's value, a histogram's count.
// ok is false when there is no such series.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	fam, found := fams[name]
	if !found {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range fam.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if want[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetricsAfterFlow(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s := startServer(t, testEnv(uri, "REFRESH_REUSE_INTERVAL", "2s", "LOGIN_MAX_FAILURES", "2"))
		before := s.scrape(t)
		// Every series exists from the start, at zero.
		for _, series := range [][]string{
			{"latchkey_logins_total", "outcome", "success"},
			{"latchkey_refreshes_total", "outcome", "reuse_detected"},
			{"latchkey_throttled_total", "limit", "password-hash"},
			{"latchkey_graphql_requests_total", "operation", "changePassword", "result", "ok"},
		} {
			if _, ok := sample(before, series[0], series[1:]...); !ok {
				t.Errorf("%s%v missing before any request", series[0], series[1:])
			}
		}

		email := uniqueEmail(t, "metrics")
		reg := s.register(t, email)              // 1 hash
		login := s.login(t, email, testPassword) // 1 hash
		for range 2 {
			r := s.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": email, "password": "wrong password here"}}) // 1 hash each
			wantCode(t, "wrong password", r, "INVALID_CREDENTIALS")
		}
		r := s.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": email, "password": testPassword}}) // refused before hashing
		wantCode(t, "login after two failures", r, "RATE_LIMITED")
		r = s.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": "not an email", "password": testPassword}})
		wantCode(t, "malformed email", r, "BAD_USER_INPUT")

		first := s.refresh(t, reg.RefreshToken)
		if len(first.Errors) > 0 {
			t.Fatalf("refresh: %s", first.Body)
		}
		if r := s.refresh(t, reg.RefreshToken); len(r.Errors) > 0 {
			t.Fatalf("refresh within the reuse interval: %s", r.Body)
		}
		wantCode(t, "unknown refresh token", s.refresh(t, "no-such-token"), "INVALID_REFRESH_TOKEN")
		time.Sleep(2100 * time.Millisecond)
		wantCode(t, "reuse after the interval", s.refresh(t, reg.RefreshToken), "REFRESH_TOKEN_REUSED")

		if r := s.post(t, login.AccessToken, `query Whoami { me { id } }`, nil); len(r.Errors) > 0 {
			t.Fatalf("me: %s", r.Body)
		}
		wantCode(t, "me without a token", s.post(t, "", meDoc, nil), "UNAUTHENTICATED")
		s.post(t, "", `{ a: validateToken(token: "x") { valid } b: validateToken(token: "y") { valid } }`, nil)
		s.post(t, "", `{ validateToken(token: "x") { valid } me { id } }`, nil)
		wantCode(t, "unknown field", s.post(t, "", `{ noSuchField }`, nil), "GRAPHQL_VALIDATION_FAILED")
		s.post(t, "", `{ __typename }`, nil)

		after := s.scrape(t)
		counts := []struct {
			name   string
			labels []string
			want   float64
		}{
			{"latchkey_logins_total", []string{"outcome", "success"}, 1},
			{"latchkey_logins_total", []string{"outcome", "invalid_credentials"}, 2},
			{"latchkey_logins_total", []string{"outcome", "rate_limited"}, 1},
			{"latchkey_logins_total", []string{"outcome", "bad_input"}, 1},
			{"latchkey_logins_total", []string{"outcome", "error"}, 0},
			{"latchkey_refreshes_total", []string{"outcome", "rotated"}, 1},
			{"latchkey_refreshes_total", []string{"outcome", "grace_reuse"}, 1},
			{"latchkey_refreshes_total", []string{"outcome", "reuse_detected"}, 1},
			{"latchkey_refreshes_total", []string{"outcome", "invalid"}, 1},
			{"latchkey_refreshes_total", []string{"outcome", "error"}, 0},
			{"latchkey_throttled_total", []string{"limit", "login-account"}, 1},
			{"latchkey_throttled_total", []string{"limit", "register"}, 0},
			{"latchkey_password_hash_duration_seconds", nil, 4},
			{"latchkey_graphql_requests_total", []string{"operation", "register", "result", "ok"}, 1},
			{"latchkey_graphql_requests_total", []string{"operation", "login", "result", "ok"}, 1},
			{"latchkey_graphql_requests_total", []string{"operation", "login", "result", "error"}, 4},
			{"latchkey_graphql_requests_total", []string{"operation", "refreshToken", "result", "ok"}, 2},
			{"latchkey_graphql_requests_total", []string{"operation", "refreshToken", "result", "error"}, 2},
			{"latchkey_graphql_requests_total", []string{"operation", "me", "result", "ok"}, 1},
			{"latchkey_graphql_requests_total", []string{"operation", "me", "result", "error"}, 1},
			{"latchkey_graphql_requests_total", []string{"operation", "validateToken", "result", "ok"}, 1},
			{"latchkey_graphql_requests_total", []string{"operation", "multiple", "result", "error"}, 1},
			{"latchkey_graphql_requests_total", []string{"operation", "invalid", "result", "error"}, 1},
			{"latchkey_graphql_requests_total", []string{"operation", "introspection", "result", "ok"}, 1},
			{"latchkey_graphql_request_duration_seconds", []string{"operation", "login"}, 5},
			{"latchkey_graphql_request_duration_seconds", []string{"operation", "sessions"}, 0},
		}
		for _, c := range counts {
			got, ok := sample(after, c.name, c.labels...)
			if !ok {
				t.Errorf("%s%v: no such series", c.name, c.labels)
				continue
			}
			was, _ := sample(before, c.name, c.labels...)
			if got-was != c.want {
				t.Errorf("%s%v grew by %v, want %v", c.name, c.labels, got-was, c.want)
			}
		}
		// No label comes from what a client wrote: the operation name
		// Whoami is counted as me.
		for _, m := range after["latchkey_graphql_requests_total"].GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "Whoami") || strings.Contains(l.GetValue(), "noSuchField") {
					t.Errorf("label %s=%q comes from the client", l.GetName(), l.GetValue())
				}
			}
		}
		for _, name := range []string{"go_sql_max_open_connections", "go_sql_open_connections", "go_sql_wait_count_total"} {
			if _, ok := sample(after, name, "db_name", "latchkey"); !ok {
				t.Errorf("%s{db_name=latchkey} missing: the pool's stats are not exported", name)
			}
		}
		if v, _ := sample(after, "go_sql_max_open_connections", "db_name", "latchkey"); v < 1 {
			t.Errorf("go_sql_max_open_connections = %v, want the pool's limit", v)
		}
		if _, ok := after["process_resident_memory_bytes"]; !ok {
			t.Error("process_resident_memory_bytes missing")
		}
	})
}

// TestLogsCarryRequestIDsAndNoSecrets runs a full flow on the real server
// and reads its logs: one access line per request under the id the
// response carried, every line of a request tagged with that id, and not
// one password, token or hash.
func TestLogsCarryRequestIDsAndNoSecrets(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		s, stop, err := launch(testEnv(uri, "REFRESH_REUSE_INTERVAL", "0", "DEBUG", "true"))
		if err != nil {
			t.Fatal(err)
		}
		stopped := false
		defer func() {
			if !stopped {
				stop()
			}
		}()
		const (
			password    = "first secret passphrase 1"
			newPassword = "second secret passphrase 2"
			wrong       = "wrong secret passphrase 3"
		)
		email := uniqueEmail(t, "logs")
		secrets := []string{password, newPassword, wrong, "$argon2id$"}
		type request struct{ id, method, path, operation string }
		var requests []request
		var payloads []payload
		do := func(what, method, path, bearer, query string, vars map[string]any, field string) gqlResponse {
			t.Helper()
			var r gqlResponse
			if method == http.MethodGet {
				q := url.Values{"query": {query}}
				req, err := http.NewRequest(http.MethodGet, s.URL+path+"?"+q.Encode(), nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", bearerHeader(bearer))
				r = doGraphQL(t, req)
			} else {
				r = s.post(t, bearer, query, vars)
			}
			id := r.Header.Get("X-Request-Id")
			if id == "" {
				t.Fatalf("%s: no X-Request-Id", what)
			}
			requests = append(requests, request{id: id, method: method, path: path, operation: field})
			if field != "" && len(r.Errors) == 0 {
				if raw := r.Data[field]; len(raw) > 0 && raw[0] == '{' {
					var p payload
					r.field(t, field, &p)
					if p.AccessToken != "" {
						payloads = append(payloads, p)
					}
				}
			}
			return r
		}
		creds := func(email, password string) map[string]any {
			return map[string]any{"input": map[string]any{"email": email, "password": password}}
		}

		do("register", "POST", "/query", "", registerDoc, creds(email, password), "register")
		do("login", "POST", "/query", "", loginDoc, creds(email, password), "login")
		reg, login := payloads[0], payloads[1]
		do("refresh", "POST", "/query", "", refreshDoc, map[string]any{"t": login.RefreshToken}, "refreshToken")
		r := do("reuse", "POST", "/query", "", refreshDoc, map[string]any{"t": login.RefreshToken}, "refreshToken")
		wantCode(t, "reuse", r, "REFRESH_TOKEN_REUSED")
		reuseID := r.Header.Get("X-Request-Id")
		do("me by GET", "GET", "/query", reg.AccessToken, `{ me { id email } }`, nil, "me")
		do("validateToken by GET", "GET", "/graphql", "", `{ validateToken(token: "`+reg.AccessToken+`") { valid } }`, nil, "validateToken")
		r = do("changePassword", "POST", "/query", reg.AccessToken,
			`mutation($c: String!, $n: String!) { changePassword(input: {currentPassword: $c, newPassword: $n}) }`,
			map[string]any{"c": password, "n": newPassword}, "changePassword")
		if len(r.Errors) > 0 {
			t.Fatalf("changePassword: %s", r.Body)
		}
		do("logout", "POST", "/query", reg.AccessToken, `mutation { logout }`, nil, "logout")
		r = do("failed login", "POST", "/query", "", loginDoc, creds(email, wrong), "login")
		wantCode(t, "failed login", r, "INVALID_CREDENTIALS")
		do("login with the new password", "POST", "/query", "", loginDoc, creds(email, newPassword), "login")
		last := payloads[len(payloads)-1]
		do("logout by refresh token", "POST", "/query", "", `mutation($t: String) { logout(refreshToken: $t) }`, map[string]any{"t": last.RefreshToken}, "logout")

		if len(payloads) != 4 {
			t.Fatalf("got %d token pairs, want 4 (register, login, refresh, login)", len(payloads))
		}
		for _, p := range payloads {
			parts := strings.Split(p.AccessToken, ".")
			secrets = append(secrets, p.AccessToken, parts[len(parts)-1], p.RefreshToken, hex.EncodeToString(token.HashRefreshToken(p.RefreshToken)))
		}
		if err := stop(); err != nil {
			t.Fatalf("run() = %v", err)
		}
		stopped = true
		logs := s.logs.String()

		for _, secret := range secrets {
			if strings.Contains(logs, secret) {
				t.Errorf("logs contain the secret %q", secret)
			}
		}

		type line struct {
			Msg       string `json:"msg"`
			Level     string `json:"level"`
			RequestID string `json:"request_id"`
			Method    string `json:"method"`
			Path      string `json:"path"`
			Status    int    `json:"status"`
			Operation string `json:"operation"`
			// Pointers: an access line must carry these, zero or not.
			Bytes    *int64   `json:"bytes"`
			Duration *float64 `json:"duration_ms"`
			ClientIP *string  `json:"client_ip"`
		}
		var lines []line
		ready := false
		for raw := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
			var l line
			if err := json.Unmarshal([]byte(raw), &l); err != nil {
				t.Fatalf("log line is not JSON: %q", raw)
			}
			switch {
			case l.Msg == "ready":
				ready = true
			case l.Msg == "shutting down":
				ready = false
			case ready && strings.HasPrefix(l.Msg, "mail"):
				// The mail sender's lines (the log driver's mails, their
				// outcomes) belong to no request: it runs on its own.
			case ready:
				// Nothing else but requests runs while the test talks to
				// the service: every line then belongs to one.
				if l.RequestID == "" {
					t.Errorf("log line without request_id: %s", raw)
				}
				lines = append(lines, l)
			}
		}
		for _, req := range requests {
			var access []line
			for _, l := range lines {
				if l.Msg == "request" && l.RequestID == req.id {
					access = append(access, l)
				}
			}
			if len(access) != 1 {
				t.Errorf("request %s %s (%s): %d access lines, want 1", req.method, req.path, req.id, len(access))
				continue
			}
			got := access[0]
			if got.Method != req.method || got.Path != req.path || got.Status != http.StatusOK || got.Operation != req.operation || got.Level != "INFO" {
				t.Errorf("access line = %+v, want %s %s 200 operation %s at INFO", got, req.method, req.path, req.operation)
			}
			if got.Bytes == nil || *got.Bytes <= 0 || got.Duration == nil || *got.Duration < 0 || got.ClientIP == nil || *got.ClientIP != "127.0.0.1" {
				t.Errorf("access line of %s %s: bytes %v, duration_ms %v, client_ip %v; want a body's size, a duration and 127.0.0.1", req.method, req.path, got.Bytes, got.Duration, got.ClientIP)
			}
		}
		found := false
		for _, l := range lines {
			if l.Msg == "refresh token reused, session revoked" {
				found = true
				if l.RequestID != reuseID {
					t.Errorf("reuse warning has request_id %q, want the request's %q", l.RequestID, reuseID)
				}
			}
		}
		if !found {
			t.Error("no warning about the reused refresh token")
		}
	})
}
