package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/internal/auth"
	"github.com/latchkey/latchkey/internal/telemetry"
	"github.com/latchkey/latchkey/internal/testdb"
)

// entitiesDoc asks for users as a federation router does, with the fields
// anyone authenticated may read.
const entitiesDoc = `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { id displayName createdAt } } }`

// privateEntitiesDoc asks for the fields only the user and administrators
// may read.
const privateEntitiesDoc = `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { id email roles lastLoginAt sessions { id } } } }`

// userReps are the representations of the users with ids.
func userReps(ids ...string) []map[string]any {
	reps := make([]map[string]any, len(ids))
	for i, id := range ids {
		reps[i] = map[string]any{"__typename": "User", "id": id}
	}
	return reps
}

// entity is a User as _entities returns it; nil for none.
type entity struct {
	ID          string     `json:"id"`
	Email       string     `json:"email"`
	Roles       []string   `json:"roles"`
	DisplayName *string    `json:"displayName"`
	Sessions    []struct{} `json:"sessions"`
}

// grantAdmin makes the user with email an administrator, as an operator
// does, with the roles command against the server's database.
func grantAdmin(t *testing.T, env map[string]string, email string) {
	t.Helper()
	var out strings.Builder
	if err := run(t.Context(), []string{"latchkey", "roles", "grant", email, "admin"}, func(k string) string { return env[k] }, nil, &out, &out); err != nil {
		t.Fatalf("roles grant: %v\n%s", err, out.String())
	}
}

// errorAt returns the code of the error at path ("_entities.1.email"), ""
// when there is none.
func errorAt(r gqlResponse, path string) string {
	for _, e := range r.Errors {
		parts := make([]string, len(e.Path))
		for i, p := range e.Path {
			parts[i] = fmt.Sprint(p)
		}
		if strings.Join(parts, ".") == path {
			code, _ := e.Extensions["code"].(string)
			return code
		}
	}
	return ""
}

// TestFederationServiceAuthDirectives checks the router's auth
// directives in the subgraph SDL: left out by default, so that Apollo
// Gateway composes Latchkey as shipped, kept with
// FEDERATION_AUTH_DIRECTIVES=true for Apollo Router to enforce.
func TestFederationServiceAuthDirectives(t *testing.T) {
	t.Parallel()
	sdl := func(env ...string) string {
		s := startServer(t, testEnv(testdb.SQLiteMemory, env...))
		var service struct{ SDL string }
		s.post(t, "", `{ _service { sdl } }`, nil).field(t, "_service", &service)
		return service.SDL
	}
	plain := sdl()
	for _, want := range []string{`me: User @auth`, `): User @hasRole(role: "admin")`, `import: ["@key","@shareable"]`, `type PageInfo @shareable`} {
		if !strings.Contains(plain, want) {
			t.Errorf("default _service.sdl lacks %s:\n%s", want, plain)
		}
	}
	if strings.Contains(plain, "authenticated") || strings.Contains(plain, "requiresScopes") {
		t.Errorf("default _service.sdl names @authenticated or @requiresScopes:\n%s", plain)
	}
	full := sdl("FEDERATION_AUTH_DIRECTIVES", "true")
	for _, want := range []string{
		`"@authenticated", "@requiresScopes"`, `me: User @auth @authenticated`,
		`@hasRole(role: "admin") @authenticated @requiresScopes(scopes: [["admin"]])`,
	} {
		if !strings.Contains(full, want) {
			t.Errorf("_service.sdl with FEDERATION_AUTH_DIRECTIVES=true lacks %s:\n%s", want, full)
		}
	}
}

func TestFederationService(t *testing.T) {
	t.Parallel()
	for _, introspection := range []string{"true", "false"} {
		t.Run("INTROSPECTION="+introspection, func(t *testing.T) {
			s := startServer(t, testEnv(testdb.SQLiteMemory, "INTROSPECTION", introspection))
			r := s.post(t, "", `{ _service { sdl } }`, nil)
			var service struct{ SDL string }
			r.field(t, "_service", &service)
			for _, want := range []string{
				`@link(`, `"https://specs.apollo.dev/federation/v2.7"`, `type User @key(fields: "id")`,
				`email: String! @selfOrRole(role: "admin")`,
			} {
				if !strings.Contains(service.SDL, want) {
					t.Errorf("_service.sdl lacks %s:\n%s", want, service.SDL)
				}
			}
			if r := s.post(t, "", `{ __typename }`, nil); len(r.Errors) > 0 {
				t.Errorf("__typename: %s", r.Body)
			}

			for _, doc := range []string{
				`{ __schema { types { name } } }`,
				`{ __type(name: "User") { name } }`,
				`{ _service { sdl } ... on Query { __schema { queryType { name } } } }`,
				`query { ...Schema } fragment Schema on Query { __schema { queryType { name } } }`,
			} {
				r := s.post(t, "", doc, nil)
				if introspection == "true" {
					if len(r.Errors) > 0 {
						t.Errorf("%s with introspection on: %s", doc, r.Body)
					}
					continue
				}
				wantCode(t, doc+" with introspection off", r, "GRAPHQL_VALIDATION_FAILED")
				if r.Data != nil {
					t.Errorf("%s with introspection off executed: %s", doc, r.Body)
				}
			}
		})
	}
}

func TestEntities(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		if strings.HasSuffix(uri, ":memory:") {
			// The roles command must reach the same database as the server.
			uri = testdb.SQLiteFile(t)
		}
		env := testEnv(uri)
		s := startServer(t, env)
		alice := s.register(t, uniqueEmail(t, "alice"))
		bob := s.register(t, uniqueEmail(t, "bob"))
		admin := s.register(t, uniqueEmail(t, "admin"))
		grantAdmin(t, env, admin.User.Email)
		const unknown = "00000000-0000-0000-0000-000000000000"
		reps := map[string]any{"reps": userReps(bob.User.ID, unknown, alice.User.ID, "not-a-uuid", strings.ToUpper(alice.User.ID))}

		r := s.post(t, "", entitiesDoc, reps)
		wantUnauthenticated(t, "_entities without a token", r, "missing")
		if strings.Contains(r.Body, bob.User.Email) || strings.Contains(r.Body, `"displayName"`) {
			t.Errorf("_entities without a token revealed users: %s", r.Body)
		}
		wantCode(t, "_entities with a forged token", s.post(t, tamper(t, alice.AccessToken), entitiesDoc, reps), "UNAUTHENTICATED")

		// Malformed representations are the client's mistake. Those that
		// are objects are refused after authentication; the others already
		// when gqlgen reads the argument.
		for _, tc := range []struct {
			reps         []any
			withoutToken string
		}{
			{[]any{map[string]any{}}, "UNAUTHENTICATED"},
			{[]any{map[string]any{"__typename": "Session", "id": alice.User.ID}}, "UNAUTHENTICATED"},
			{[]any{map[string]any{"__typename": "User"}}, "UNAUTHENTICATED"},
			{[]any{map[string]any{"__typename": "User", "id": nil}}, "UNAUTHENTICATED"},
			{[]any{map[string]any{"__typename": "User", "id": map[string]any{"id": alice.User.ID}}}, "UNAUTHENTICATED"},
			{[]any{map[string]any{"__typename": "User", "id": alice.User.ID}, "User"}, "BAD_USER_INPUT"},
		} {
			vars := map[string]any{"reps": tc.reps}
			r := s.post(t, alice.AccessToken, entitiesDoc, vars)
			if r.code() != "BAD_USER_INPUT" || r.ext("field") != "representations" {
				t.Errorf("_entities(%v): %s, want BAD_USER_INPUT on representations", tc.reps, r.Body)
			}
			wantCode(t, fmt.Sprintf("_entities(%v) without a token", tc.reps), s.post(t, "", entitiesDoc, vars), tc.withoutToken)
		}

		r = s.post(t, alice.AccessToken, entitiesDoc, reps)
		if len(r.Errors) > 0 {
			t.Fatalf("_entities as alice: %s", r.Body)
		}
		var got []*entity
		r.field(t, "_entities", &got)
		want := []string{bob.User.ID, "", alice.User.ID, "", alice.User.ID}
		if len(got) != len(want) {
			t.Fatalf("_entities = %s, want %d entries", r.Body, len(want))
		}
		for i, id := range want {
			switch {
			case id == "" && got[i] != nil:
				t.Errorf("_entities[%d] = %+v, want null", i, got[i])
			case id != "" && (got[i] == nil || got[i].ID != id):
				t.Errorf("_entities[%d] = %+v, want user %s", i, got[i], id)
			}
		}

		// The private fields: alice reads her own, not bob's.
		r = s.post(t, alice.AccessToken, privateEntitiesDoc, map[string]any{"reps": userReps(alice.User.ID, bob.User.ID)})
		r.field(t, "_entities", &got)
		if got[0] == nil || got[0].Email != alice.User.Email || len(got[0].Sessions) != 1 {
			t.Errorf("alice's own private fields = %+v, want her email and one session; body %s", got[0], r.Body)
		}
		if got[1] != nil || strings.Contains(r.Body, bob.User.Email) {
			t.Errorf("bob's private fields reached alice: %s", r.Body)
		}
		for _, field := range []string{"email", "roles", "lastLoginAt", "sessions"} {
			if code := errorAt(r, "_entities.1."+field); code != "FORBIDDEN" {
				t.Errorf("bob's %s as alice: code %q, want FORBIDDEN; body %s", field, code, r.Body)
			}
		}

		// An administrator reads everyone's.
		r = s.post(t, admin.AccessToken, privateEntitiesDoc, map[string]any{"reps": userReps(alice.User.ID, bob.User.ID)})
		if len(r.Errors) > 0 {
			t.Fatalf("_entities as admin: %s", r.Body)
		}
		r.field(t, "_entities", &got)
		if got[0].Email != alice.User.Email || got[1].Email != bob.User.Email || len(got[1].Sessions) != 1 {
			t.Errorf("_entities as admin = %s, want both users' private fields", r.Body)
		}

		// A revoked session's token reads nothing.
		if r := s.post(t, bob.AccessToken, `mutation { logoutAll }`, nil); len(r.Errors) > 0 {
			t.Fatalf("logoutAll: %s", r.Body)
		}
		r = s.post(t, bob.AccessToken, entitiesDoc, reps)
		wantUnauthenticated(t, "_entities with a revoked token", r, "revoked")
	})
}

func TestPrivateUserFields(t *testing.T) {
	t.Parallel()
	s := startServer(t, testEnv(testdb.SQLiteMemory))
	email := uniqueEmail(t, "private")
	const private = `user { id email roles lastLoginAt sessions { id current } }`

	// The user of an AuthPayload is the caller's own, before it has a token.
	r := s.post(t, "", `mutation($input: RegisterInput!) { register(input: $input) { accessToken `+private+` } }`,
		map[string]any{"input": map[string]any{"email": email, "password": testPassword}})
	if len(r.Errors) > 0 {
		t.Fatalf("register with private fields: %s", r.Body)
	}
	r = s.post(t, "", `mutation($input: LoginInput!) { login(input: $input) { accessToken `+private+` } }`,
		map[string]any{"input": map[string]any{"email": email, "password": testPassword}})
	if len(r.Errors) > 0 {
		t.Fatalf("login with private fields: %s", r.Body)
	}
	var login struct {
		AccessToken string
		User        struct {
			Email    string
			Roles    []string
			Sessions []struct{ Current bool }
		}
	}
	r.field(t, "login", &login)
	if login.User.Email != email || len(login.User.Sessions) != 2 {
		t.Errorf("login's user = %+v, want %s with two sessions", login.User, email)
	}

	// me: the caller's own, with the session that asks marked current.
	var me struct {
		Email    string
		Roles    []string
		Sessions []struct{ Current bool }
	}
	s.post(t, login.AccessToken, `{ me { email roles sessions { current } } }`, nil).field(t, "me", &me)
	current := 0
	for _, sess := range me.Sessions {
		if sess.Current {
			current++
		}
	}
	if diff := cmp.Diff([]string{"user"}, me.Roles); diff != "" || me.Email != email || len(me.Sessions) != 2 || current != 1 {
		t.Errorf("me = %+v, want %s, roles [user], two sessions, one current", me, email)
	}
}

// TestEntitiesBatched shows that _entities for many users costs one
// database query for the users, whatever their number: the service runs on
// an Ent client whose debug driver counts every statement a request makes.
func TestEntitiesBatched(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		// Only what HTTP requests send counts, not the test's own writes.
		c := newCountingStack(t, uri, func(ctx context.Context) bool { return auth.RequestFrom(ctx).ID != "" })
		statements, plain := c.statements, c.client
		logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
		srv := httptest.NewServer(handler(c.cfg, logger, c.svc, c.keys.Issuer(), c.db, telemetry.NewMetrics(c.db), nil, nil))
		t.Cleanup(srv.Close)
		s := &testServer{URL: srv.URL}

		caller := s.register(t, uniqueEmail(t, "gateway"))
		ids, now := make([]string, 100), time.Now()
		bulk := make([]*ent.UserCreate, len(ids))
		for i := range bulk {
			bulk[i] = plain.User.Create().SetEmail(fmt.Sprintf("batch-%d@example.com", i)).SetPasswordHash("unused").
				SetRoles([]string{auth.RoleUser}).SetCreatedAt(now).SetUpdatedAt(now)
		}
		users, err := plain.User.CreateBulk(bulk...).Save(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for i, u := range users {
			ids[i] = u.ID.String()
		}

		for _, n := range []int{1, 100} {
			statements.Store(0)
			r := s.post(t, caller.AccessToken, entitiesDoc, map[string]any{"reps": userReps(ids[:n]...)})
			var got []*entity
			r.field(t, "_entities", &got)
			if len(r.Errors) > 0 || len(got) != n || got[n-1] == nil || got[n-1].ID != ids[n-1] {
				t.Fatalf("_entities for %d users: %.300s", n, r.Body)
			}
			// One statement authenticates the caller, one loads the users.
			if got := statements.Load(); got != 2 {
				t.Errorf("_entities for %d users made %d database statements, want 2", n, got)
			}
		}

		// An administrator reading every user's sessions: one more
		// statement loads them all. The first user has two live sessions
		// and an ended one.
		plain.User.UpdateOneID(uuid.MustParse(caller.User.ID)).SetRoles([]string{auth.RoleUser, auth.RoleAdmin}).ExecX(t.Context())
		first := users[0].ID
		older := plain.Session.Create().SetUserID(first).SetCreatedAt(now.Add(-time.Hour)).SetLastUsedAt(now).SetExpiresAt(now.Add(time.Hour)).SaveX(t.Context())
		newer := plain.Session.Create().SetUserID(first).SetCreatedAt(now).SetLastUsedAt(now).SetExpiresAt(now.Add(time.Hour)).SaveX(t.Context())
		plain.Session.Create().SetUserID(first).SetCreatedAt(now).SetLastUsedAt(now).SetExpiresAt(now.Add(time.Hour)).SetRevokedAt(now).ExecX(t.Context())
		for _, n := range []int{1, 100} {
			statements.Store(0)
			r := s.post(t, caller.AccessToken, `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { id sessions { id } } } }`,
				map[string]any{"reps": userReps(ids[:n]...)})
			var got []struct {
				ID       string `json:"id"`
				Sessions []struct {
					ID string `json:"id"`
				} `json:"sessions"`
			}
			r.field(t, "_entities", &got)
			if len(r.Errors) > 0 || len(got) != n {
				t.Fatalf("_entities with sessions for %d users: %.300s", n, r.Body)
			}
			if s := got[0].Sessions; len(s) != 2 || s[0].ID != newer.ID.String() || s[1].ID != older.ID.String() {
				t.Errorf("sessions of the first user = %+v, want its two live sessions, newest first: %s, %s", s, newer.ID, older.ID)
			}
			if got[n-1].Sessions == nil || n > 1 && len(got[n-1].Sessions) != 0 {
				t.Errorf("sessions of user %s = %+v, want none", got[n-1].ID, got[n-1].Sessions)
			}
			// The caller, the users, and their sessions.
			if got := statements.Load(); got != 3 {
				t.Errorf("_entities with sessions for %d users made %d database statements, want 3", n, got)
			}
		}
	})
}

// BenchmarkEntities measures one _entities request for 100 users over
// HTTP, as a router sends it: the caller's authentication and the one
// query that loads the batch.
func BenchmarkEntities(b *testing.B) {
	benchDatabases(b, func(b *testing.B, uri string) {
		s := startServer(b, testEnv(uri, "RATE_LIMIT_REGISTER", "0"))
		caller := s.register(b, uniqueEmail(b, "gateway"))
		ids := make([]string, 100)
		for i := range ids {
			ids[i] = s.register(b, fmt.Sprintf("entity-%d-%s", i, uniqueEmail(b, "bench"))).User.ID
		}
		vars := map[string]any{"reps": userReps(ids...)}
		b.ResetTimer()
		for b.Loop() {
			if r := s.post(b, caller.AccessToken, entitiesDoc, vars); len(r.Errors) > 0 {
				b.Fatal(r.Body)
			}
		}
	})
}
