package main

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/testdb"
)

// adminFixture is a service with an administrator, created as an operator
// does, with the users command.
type adminFixture struct {
	*testServer
	env   map[string]string
	admin payload
}

// startAdmin starts the service on uri (an SQLite file instead of memory,
// so that the command reaches the server's database), and creates and
// logs in an administrator with `latchkey users create --admin`.
func startAdmin(t *testing.T, uri string, overrides ...string) *adminFixture {
	t.Helper()
	if strings.HasSuffix(uri, ":memory:") {
		uri = testdb.SQLiteFile(t)
	}
	env := testEnv(uri, overrides...)
	s := startServer(t, env)
	email := uniqueEmail(t, "admin")
	createUser(t, env, email, "--admin")
	return &adminFixture{testServer: s, env: env, admin: s.login(t, email, testPassword)}
}

// createUser runs `latchkey users create EMAIL flags... --password-stdin`
// with testPassword on its standard input.
func createUser(t testing.TB, env map[string]string, email string, flags ...string) string {
	t.Helper()
	var out strings.Builder
	args := append([]string{"latchkey", "users", "create", email, "--password-stdin"}, flags...)
	if err := run(t.Context(), args, func(k string) string { return env[k] }, strings.NewReader(testPassword+"\n"), &out, &out); err != nil {
		t.Fatalf("users create %s: %v\n%s", email, err, out.String())
	}
	return out.String()
}

const usersDoc = `query($first: Int, $after: String, $filter: UserFilter) {
	users(first: $first, after: $after, filter: $filter) {
		edges { cursor node { id email roles disabled emailVerified } }
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
		totalCount
	}
}`

type userConn struct {
	Edges []struct {
		Cursor string
		Node   struct {
			ID, Email     string
			Roles         []string
			Disabled      bool
			EmailVerified bool
		}
	}
	PageInfo struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
	TotalCount int
}

func (c userConn) emails() []string {
	var out []string
	for _, e := range c.Edges {
		out = append(out, e.Node.Email)
	}
	return out
}

func (f *adminFixture) users(t *testing.T, vars map[string]any) userConn {
	t.Helper()
	var c userConn
	f.post(t, f.admin.AccessToken, usersDoc, vars).field(t, "users", &c)
	return c
}

func TestUsersList(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		f := startAdmin(t, uri)
		var registered []string // oldest first
		for i := range 5 {
			name := "plain"
			if i%2 == 0 {
				name = "Searched"
			}
			registered = append(registered, f.register(t, uniqueEmail(t, name)).User.Email)
		}
		all := append([]string{f.admin.User.Email}, registered...)
		slices.Reverse(all) // newest first

		// Page through everything, two at a time.
		var got []string
		vars := map[string]any{"first": 2}
		for pages := 0; ; pages++ {
			c := f.users(t, vars)
			got = append(got, c.emails()...)
			if c.TotalCount != len(all) {
				t.Errorf("totalCount = %d, want %d", c.TotalCount, len(all))
			}
			if c.PageInfo.HasPreviousPage != (pages > 0) {
				t.Errorf("page %d: hasPreviousPage = %v", pages, c.PageInfo.HasPreviousPage)
			}
			if !c.PageInfo.HasNextPage {
				break
			}
			vars["after"] = *c.PageInfo.EndCursor
		}
		if diff := cmp.Diff(all, got); diff != "" {
			t.Errorf("users, newest first (-want +got):\n%s", diff)
		}

		for _, tc := range []struct {
			name   string
			filter map[string]any
			want   []string
		}{
			{"search", map[string]any{"search": "SEARCHED"}, []string{all[0], all[2], all[4]}},
			{"role", map[string]any{"role": "admin"}, []string{f.admin.User.Email}},
			{"verified", map[string]any{"emailVerified": true}, []string{f.admin.User.Email}},
			{"disabled", map[string]any{"disabled": true}, nil},
			{"not disabled", map[string]any{"disabled": false, "search": "plain"}, []string{all[1], all[3]}},
		} {
			c := f.users(t, map[string]any{"filter": tc.filter})
			if diff := cmp.Diff(tc.want, c.emails()); diff != "" {
				t.Errorf("users(filter: %v) (-want +got):\n%s", tc.filter, diff)
			}
			if c.TotalCount != len(tc.want) {
				t.Errorf("users(filter: %v) totalCount = %d, want %d", tc.filter, c.TotalCount, len(tc.want))
			}
		}

		// Refusals.
		cursor := *f.users(t, map[string]any{"first": 1}).PageInfo.EndCursor
		forged := []byte(cursor)
		forged[3] ^= 1
		const small = `query($first: Int, $after: String) { users(first: $first, after: $after) { totalCount } }`
		for _, tc := range []struct {
			name   string
			vars   map[string]any
			code   string
			field  string
			bearer string
		}{
			{"first 0", map[string]any{"first": 0}, "BAD_USER_INPUT", "first", f.admin.AccessToken},
			{"first 101", map[string]any{"first": 101}, "BAD_USER_INPUT", "first", f.admin.AccessToken},
			{"first 100", map[string]any{"first": 100}, "COMPLEXITY_LIMIT_EXCEEDED", "", f.admin.AccessToken},
			{"forged cursor", map[string]any{"after": string(forged)}, "BAD_USER_INPUT", "after", f.admin.AccessToken},
			{"garbage cursor", map[string]any{"after": "nope"}, "BAD_USER_INPUT", "after", f.admin.AccessToken},
			{"not an admin", nil, "FORBIDDEN", "", f.login(t, registered[0], testPassword).AccessToken},
			{"no token", nil, "UNAUTHENTICATED", "", ""},
		} {
			doc := small
			if tc.code == "COMPLEXITY_LIMIT_EXCEEDED" {
				doc = usersDoc // 100 times its selection is over MAX_QUERY_COMPLEXITY
			}
			r := f.post(t, tc.bearer, doc, tc.vars)
			wantCode(t, "users "+tc.name, r, tc.code)
			if tc.field != "" && r.ext("field") != tc.field {
				t.Errorf("users %s: field = %v, want %s", tc.name, r.ext("field"), tc.field)
			}
		}
		// A cursor of auditEvents is no cursor of users.
		var audit auditConn
		f.post(t, f.admin.AccessToken, auditEventsDoc, map[string]any{"first": 1}).field(t, "auditEvents", &audit)
		wantCode(t, "users after an auditEvents cursor", f.post(t, f.admin.AccessToken, usersDoc, map[string]any{"after": *audit.PageInfo.EndCursor}), "BAD_USER_INPUT")
	})
}

const setRolesDoc = `mutation($id: ID!, $roles: [String!]!) { setUserRoles(id: $id, roles: $roles) { id roles } }`

func TestSetUserRoles(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		f := startAdmin(t, uri)
		other := f.register(t, uniqueEmail(t, "other"))
		wantCode(t, "users as a plain user", f.post(t, other.AccessToken, usersDoc, nil), "FORBIDDEN")

		var got struct {
			ID    string
			Roles []string
		}
		f.post(t, f.admin.AccessToken, setRolesDoc, map[string]any{"id": other.User.ID, "roles": []string{"editor", "admin", "editor"}}).field(t, "setUserRoles", &got)
		if diff := cmp.Diff([]string{"user", "editor", "admin"}, got.Roles); diff != "" {
			t.Errorf("setUserRoles roles (-want +got):\n%s", diff)
		}
		// At once, with the same access token.
		if r := f.post(t, other.AccessToken, usersDoc, nil); len(r.Errors) > 0 {
			t.Errorf("users right after setUserRoles(admin): %s", r.Body)
		}
		v := validate(t, f.testServer, other.AccessToken)
		if !slices.Contains(v.Roles, "admin") {
			t.Errorf("validateToken roles = %v, want admin among them", v.Roles)
		}
		f.post(t, f.admin.AccessToken, setRolesDoc, map[string]any{"id": other.User.ID, "roles": []string{}}).field(t, "setUserRoles", &got)
		if diff := cmp.Diff([]string{"user"}, got.Roles); diff != "" {
			t.Errorf("setUserRoles([]) roles (-want +got):\n%s", diff)
		}
		wantCode(t, "users right after the admin role went", f.post(t, other.AccessToken, usersDoc, nil), "FORBIDDEN")

		many := make([]string, 20)
		for i := range many {
			many[i] = "r" + strings.Repeat("x", i)
		}
		for _, tc := range []struct {
			name  string
			roles []string
		}{
			{"uppercase", []string{"Admin"}},
			{"digit first", []string{"1st"}},
			{"too long", []string{"a" + strings.Repeat("b", 32)}},
			{"space", []string{"a b"}},
			{"21 roles with user", many},
		} {
			r := f.post(t, f.admin.AccessToken, setRolesDoc, map[string]any{"id": other.User.ID, "roles": tc.roles})
			wantCode(t, "setUserRoles "+tc.name, r, "BAD_USER_INPUT")
			if r.ext("field") != "roles" {
				t.Errorf("setUserRoles %s: field = %v, want roles", tc.name, r.ext("field"))
			}
		}
		r := f.post(t, f.admin.AccessToken, setRolesDoc, map[string]any{"id": "00000000-0000-0000-0000-000000000000", "roles": []string{}})
		if len(r.Errors) > 0 || string(r.Data["setUserRoles"]) != "null" {
			t.Errorf("setUserRoles of no such user = %s, want null", r.Body)
		}
		wantCode(t, "setUserRoles as a plain user", f.post(t, other.AccessToken, setRolesDoc, map[string]any{"id": other.User.ID, "roles": []string{"admin"}}), "FORBIDDEN")
		wantCode(t, "setUserRoles without a token", f.post(t, "", setRolesDoc, map[string]any{"id": other.User.ID, "roles": []string{"admin"}}), "UNAUTHENTICATED")
		// The only administrator cannot demote themselves.
		wantCode(t, "setUserRoles of the last admin", f.post(t, f.admin.AccessToken, setRolesDoc, map[string]any{"id": f.admin.User.ID, "roles": []string{}}), "LAST_ADMIN")
	})
}

// TestLastAdminConcurrent has two administrators demote each other at the
// same moment, again and again: one succeeds, the other gets LAST_ADMIN,
// and one administrator is always left.
func TestLastAdminConcurrent(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		f := startAdmin(t, uri)
		b := f.register(t, uniqueEmail(t, "second"))
		admins := []payload{f.admin, b}
		grant := func(by, to payload) {
			t.Helper()
			if r := f.post(t, by.AccessToken, setRolesDoc, map[string]any{"id": to.User.ID, "roles": []string{"admin"}}); len(r.Errors) > 0 {
				t.Fatalf("setUserRoles(admin): %s", r.Body)
			}
		}
		grant(f.admin, b)
		lastAdmin := 0
		defer func() { t.Logf("LAST_ADMIN in %d of 20 rounds", lastAdmin) }()
		for round := range 20 {
			var wg sync.WaitGroup
			codes := make([]string, 2)
			for i := range admins {
				wg.Go(func() {
					codes[i] = f.post(t, admins[i].AccessToken, setRolesDoc, map[string]any{"id": admins[1-i].User.ID, "roles": []string{}}).code()
				})
			}
			wg.Wait()
			// The loser either passed @hasRole before the winner committed
			// and finds no other admin under the lock (LAST_ADMIN), or came
			// after and is no admin any more (FORBIDDEN).
			survivor := slices.Index(codes, "")
			if survivor < 0 || (codes[1-survivor] != "LAST_ADMIN" && codes[1-survivor] != "FORBIDDEN") {
				t.Fatalf("round %d: codes of two admins demoting each other = %q, want one success and one LAST_ADMIN or FORBIDDEN", round, codes)
			}
			if codes[1-survivor] == "LAST_ADMIN" {
				lastAdmin++
			}
			var c userConn
			f.post(t, admins[survivor].AccessToken, usersDoc, map[string]any{"filter": map[string]any{"role": "admin"}}).field(t, "users", &c)
			if diff := cmp.Diff([]string{admins[survivor].User.Email}, c.emails()); diff != "" {
				t.Fatalf("round %d: admins left (-want +got):\n%s", round, diff)
			}
			grant(admins[survivor], admins[1-survivor])
		}
	})
}

const (
	disableDoc = `mutation($id: ID!) { disableUser(id: $id) { id disabled } }`
	enableDoc  = `mutation($id: ID!) { enableUser(id: $id) { id disabled } }`
	deleteDoc  = `mutation($id: ID!) { deleteUser(id: $id) }`
)

func TestDisableUser(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		f := startAdmin(t, uri)
		email := uniqueEmail(t, "victim")
		first := f.register(t, email)
		second := f.login(t, email, testPassword)

		wantCode(t, "disableUser as a plain user", f.post(t, first.AccessToken, disableDoc, map[string]any{"id": second.User.ID}), "FORBIDDEN")
		wantCode(t, "disableUser without a token", f.post(t, "", disableDoc, map[string]any{"id": second.User.ID}), "UNAUTHENTICATED")
		r := f.post(t, f.admin.AccessToken, disableDoc, map[string]any{"id": f.admin.User.ID})
		wantCode(t, "disableUser of oneself", r, "BAD_USER_INPUT")
		if r.ext("field") != "id" {
			t.Errorf("disableUser of oneself: field = %v, want id", r.ext("field"))
		}
		wantCode(t, "enableUser of oneself", f.post(t, f.admin.AccessToken, enableDoc, map[string]any{"id": f.admin.User.ID}), "BAD_USER_INPUT")

		var got struct {
			ID       string
			Disabled bool
		}
		f.post(t, f.admin.AccessToken, disableDoc, map[string]any{"id": first.User.ID}).field(t, "disableUser", &got)
		if !got.Disabled {
			t.Errorf("disableUser = %+v, want disabled", got)
		}
		for _, p := range []payload{first, second} {
			wantUnauthenticated(t, "me after disableUser", f.post(t, p.AccessToken, meDoc, nil), "revoked")
			wantCode(t, "refreshToken after disableUser", f.refresh(t, p.RefreshToken), "INVALID_REFRESH_TOKEN")
		}
		login := func(pw string) gqlResponse {
			return f.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": email, "password": pw}})
		}
		wantCode(t, "login of a disabled account", login(testPassword), "ACCOUNT_DISABLED")
		wantCode(t, "login of a disabled account, wrong password", login("wrong password!"), "INVALID_CREDENTIALS")

		f.post(t, f.admin.AccessToken, enableDoc, map[string]any{"id": first.User.ID}).field(t, "enableUser", &got)
		if got.Disabled {
			t.Errorf("enableUser = %+v, want enabled", got)
		}
		if r := login(testPassword); len(r.Errors) > 0 {
			t.Errorf("login after enableUser: %s", r.Body)
		}
		// Sessions stay ended.
		wantCode(t, "old refresh token after enableUser", f.refresh(t, second.RefreshToken), "INVALID_REFRESH_TOKEN")

		for _, doc := range []string{disableDoc, enableDoc} {
			r := f.post(t, f.admin.AccessToken, doc, map[string]any{"id": "00000000-0000-0000-0000-000000000000"})
			if len(r.Errors) > 0 || strings.Contains(r.Body, `"id"`) {
				t.Errorf("%s of no such user = %s, want null", doc, r.Body)
			}
		}
	})
}

func TestDeleteUser(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		f := startAdmin(t, uri)
		email := uniqueEmail(t, "deleted")
		p := f.register(t, email)

		wantCode(t, "deleteUser as a plain user", f.post(t, p.AccessToken, deleteDoc, map[string]any{"id": f.admin.User.ID}), "FORBIDDEN")
		wantCode(t, "deleteUser without a token", f.post(t, "", deleteDoc, map[string]any{"id": p.User.ID}), "UNAUTHENTICATED")
		r := f.post(t, f.admin.AccessToken, deleteDoc, map[string]any{"id": f.admin.User.ID})
		wantCode(t, "deleteUser of oneself", r, "BAD_USER_INPUT")
		if r.ext("field") != "id" {
			t.Errorf("deleteUser of oneself: field = %v, want id", r.ext("field"))
		}

		var deleted bool
		f.post(t, f.admin.AccessToken, deleteDoc, map[string]any{"id": p.User.ID}).field(t, "deleteUser", &deleted)
		if !deleted {
			t.Error("deleteUser = false, want true")
		}
		f.post(t, f.admin.AccessToken, deleteDoc, map[string]any{"id": p.User.ID}).field(t, "deleteUser", &deleted)
		if deleted {
			t.Error("deleteUser again = true, want false")
		}
		wantUnauthenticated(t, "me after deleteUser", f.post(t, p.AccessToken, meDoc, nil), "revoked")
		wantCode(t, "refreshToken after deleteUser", f.refresh(t, p.RefreshToken), "INVALID_REFRESH_TOKEN")
		if r := f.post(t, f.admin.AccessToken, `query($id: ID!) { user(id: $id) { id } }`, map[string]any{"id": p.User.ID}); string(r.Data["user"]) != "null" {
			t.Errorf("user(id) after deleteUser = %s, want null", r.Body)
		}
		if r := f.post(t, f.admin.AccessToken, entitiesDoc, map[string]any{"reps": userReps(p.User.ID)}); !strings.Contains(string(r.Data["_entities"]), "null") {
			t.Errorf("_entities after deleteUser = %s, want [null]", r.Body)
		}
		again := f.register(t, email)

		// The trail keeps the events, without the email.
		events := f.auditEvents(t, map[string]any{"filter": map[string]any{"userId": p.User.ID}})
		types := events.types()
		if diff := cmp.Diff([]string{"USER_DELETED", "USER_CREATED"}, types); diff != "" {
			t.Errorf("audit events of the deleted user (-want +got):\n%s", diff)
		}
		for _, e := range events.Edges {
			if e.Node.Email != nil {
				t.Errorf("%s event of a deleted user has email %q", e.Node.Type, *e.Node.Email)
			}
		}
		if events.Edges[0].Node.ActorID == nil || *events.Edges[0].Node.ActorID != f.admin.User.ID {
			t.Errorf("USER_DELETED actorId = %v, want the admin", events.Edges[0].Node.ActorID)
		}
		if got := f.auditEvents(t, map[string]any{"filter": map[string]any{"userId": again.User.ID}}); got.Edges[0].Node.Email == nil {
			t.Error("USER_CREATED of the email registered again has no email")
		}
	})
}

const deleteAccountDoc = `mutation($pw: String!) { deleteAccount(password: $pw) }`

func TestDeleteAccount(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		f := startAdmin(t, uri)
		email := uniqueEmail(t, "leaving")
		p := f.register(t, email)
		wantCode(t, "deleteAccount without a token", f.post(t, "", deleteAccountDoc, map[string]any{"pw": testPassword}), "UNAUTHENTICATED")
		wantCode(t, "deleteAccount with a wrong password", f.post(t, p.AccessToken, deleteAccountDoc, map[string]any{"pw": "not the password"}), "INVALID_CREDENTIALS")
		wantCode(t, "deleteAccount of the last admin", f.post(t, f.admin.AccessToken, deleteAccountDoc, map[string]any{"pw": testPassword}), "LAST_ADMIN")

		var ok bool
		f.post(t, p.AccessToken, deleteAccountDoc, map[string]any{"pw": testPassword}).field(t, "deleteAccount", &ok)
		if !ok {
			t.Error("deleteAccount = false, want true")
		}
		wantUnauthenticated(t, "me after deleteAccount", f.post(t, p.AccessToken, meDoc, nil), "revoked")
		wantCode(t, "login after deleteAccount", f.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": email, "password": testPassword}}), "INVALID_CREDENTIALS")
		f.register(t, email)
		events := f.auditEvents(t, map[string]any{"filter": map[string]any{"userId": p.User.ID, "types": []string{"USER_DELETED"}}})
		if len(events.Edges) != 1 || *events.Edges[0].Node.ActorID != p.User.ID {
			t.Errorf("USER_DELETED events of deleteAccount = %+v, want one by the user", events.Edges)
		}
	})
}

// TestDeleteAccountThrottled counts wrong passwords of deleteAccount like
// failed logins.
func TestDeleteAccountThrottled(t *testing.T) {
	t.Parallel()
	s := startServer(t, testEnv(testdb.SQLiteMemory, "LOGIN_MAX_FAILURES", "3"))
	p := s.register(t, uniqueEmail(t, "throttled"))
	var codes []string
	for range 4 {
		codes = append(codes, s.post(t, p.AccessToken, deleteAccountDoc, map[string]any{"pw": "not the password"}).code())
	}
	want := []string{"INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "RATE_LIMITED"}
	if diff := cmp.Diff(want, codes); diff != "" {
		t.Errorf("deleteAccount with wrong passwords (-want +got):\n%s", diff)
	}
	wantCode(t, "deleteAccount with the right password while throttled", s.post(t, p.AccessToken, deleteAccountDoc, map[string]any{"pw": testPassword}), "RATE_LIMITED")
}

const auditEventsDoc = `query($first: Int, $after: String, $filter: AuditEventFilter) {
	auditEvents(first: $first, after: $after, filter: $filter) {
		edges { cursor node { id type occurredAt userId actorId sessionId ipAddress userAgent reason roles email } }
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
	}
}`

type auditConn struct {
	Edges []struct {
		Cursor string
		Node   struct {
			ID, Type                     string
			UserID, ActorID, SessionID   *string
			IPAddress, UserAgent, Reason *string
			Email                        *string
			Roles                        []string
		}
	}
	PageInfo struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
}

func (c auditConn) types() []string {
	var out []string
	for _, e := range c.Edges {
		out = append(out, e.Node.Type)
	}
	return out
}

func (f *adminFixture) auditEvents(t *testing.T, vars map[string]any) auditConn {
	t.Helper()
	if _, ok := vars["first"]; !ok {
		vars["first"] = 20 // 50 times auditEventsDoc's selection is over MAX_QUERY_COMPLEXITY
	}
	var c auditConn
	f.post(t, f.admin.AccessToken, auditEventsDoc, vars).field(t, "auditEvents", &c)
	return c
}

const myAuditDoc = `query($first: Int, $after: String) { me { auditEvents(first: $first, after: $after) {
	edges { node { type reason actorId sessionId ipAddress userAgent email } }
	pageInfo { hasNextPage endCursor }
} } }`

func TestAuditEvents(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, uri string) {
		f := startAdmin(t, uri, "LOGIN_MAX_FAILURES", "2", "REFRESH_REUSE_INTERVAL", "0")
		email := uniqueEmail(t, "audited")
		p := f.register(t, email)
		login := func(pw string) gqlResponse {
			return f.postHeaders(t, map[string]string{"User-Agent": "audit-test/1"}, loginDoc, map[string]any{"input": map[string]any{"email": email, "password": pw}})
		}
		wantCode(t, "login with a wrong password", login("wrong password!"), "INVALID_CREDENTIALS")
		l := login(testPassword)
		var second payload
		l.field(t, "login", &second)
		// Unknown accounts leave no trace.
		f.post(t, "", loginDoc, map[string]any{"input": map[string]any{"email": uniqueEmail(t, "nobody"), "password": "whatever it is"}})
		// A reused refresh token.
		if r := f.refresh(t, second.RefreshToken); len(r.Errors) > 0 {
			t.Fatalf("refresh: %s", r.Body)
		}
		wantCode(t, "refresh token reused", f.refresh(t, second.RefreshToken), "REFRESH_TOKEN_REUSED")
		f.post(t, p.AccessToken, `mutation($in: ChangePasswordInput!) { changePassword(input: $in) }`,
			map[string]any{"in": map[string]any{"currentPassword": testPassword, "newPassword": testPassword + "!"}})
		// The user reads their own trail.
		var me struct {
			AuditEvents auditConn
		}
		f.post(t, p.AccessToken, myAuditDoc, map[string]any{"first": 2}).field(t, "me", &me)
		if diff := cmp.Diff([]string{"PASSWORD_CHANGED", "REFRESH_TOKEN_REUSED"}, me.AuditEvents.types()); diff != "" {
			t.Errorf("me { auditEvents(first: 2) } (-want +got):\n%s", diff)
		}
		f.post(t, f.admin.AccessToken, setRolesDoc, map[string]any{"id": p.User.ID, "roles": []string{"editor"}})
		f.post(t, f.admin.AccessToken, disableDoc, map[string]any{"id": p.User.ID})
		wantCode(t, "login of a disabled account", login(testPassword+"!"), "ACCOUNT_DISABLED")
		wantCode(t, "login with a wrong password again", login("wrong again"), "INVALID_CREDENTIALS")
		wantCode(t, "login, throttled", login("wrong again"), "RATE_LIMITED")
		// A flood of refusals is recorded once a minute.
		wantCode(t, "login, throttled again", login(testPassword+"!"), "RATE_LIMITED")
		f.post(t, f.admin.AccessToken, enableDoc, map[string]any{"id": p.User.ID})

		want := []string{"USER_ENABLED", "LOGIN_FAILED", "LOGIN_FAILED", "LOGIN_FAILED", "USER_DISABLED", "ROLES_CHANGED",
			"PASSWORD_CHANGED", "REFRESH_TOKEN_REUSED", "LOGIN_SUCCEEDED", "LOGIN_FAILED", "USER_CREATED"}
		events := f.auditEvents(t, map[string]any{"filter": map[string]any{"userId": p.User.ID}})
		if diff := cmp.Diff(want, events.types()); diff != "" {
			t.Fatalf("audit events (-want +got):\n%s", diff)
		}
		reasons := map[int]string{1: "rate_limited", 2: "invalid_credentials", 3: "disabled", 9: "invalid_credentials"}
		for i, reason := range reasons {
			if got := events.Edges[i].Node.Reason; got == nil || *got != reason {
				t.Errorf("event %d (%s) reason = %v, want %s", i, want[i], got, reason)
			}
			if got := events.Edges[i].Node.UserAgent; got == nil || *got != "audit-test/1" {
				t.Errorf("event %d (%s) userAgent = %v, want audit-test/1", i, want[i], got)
			}
			if events.Edges[i].Node.IPAddress == nil || events.Edges[i].Node.ActorID != nil {
				t.Errorf("event %d (%s) = %+v, want an ipAddress and no actorId", i, want[i], events.Edges[i].Node)
			}
		}
		roles := events.Edges[5].Node
		if diff := cmp.Diff([]string{"user", "editor"}, roles.Roles); diff != "" || *roles.ActorID != f.admin.User.ID {
			t.Errorf("ROLES_CHANGED = %+v, want roles user, editor by the admin", roles)
		}
		if reused := events.Edges[7].Node; reused.SessionID == nil || *reused.SessionID != *events.Edges[8].Node.SessionID {
			t.Errorf("REFRESH_TOKEN_REUSED = %+v, want the session of the login", reused)
		}
		if succeeded := events.Edges[8].Node; succeeded.SessionID == nil || *succeeded.ActorID != p.User.ID || *succeeded.UserID != p.User.ID ||
			succeeded.UserAgent == nil || *succeeded.UserAgent != "audit-test/1" || succeeded.IPAddress == nil {
			t.Errorf("LOGIN_SUCCEEDED = %+v, want the session, the user as actor, the user agent and address", succeeded)
		}
		if created := events.Edges[10].Node; created.Email == nil || *created.Email != email {
			t.Errorf("USER_CREATED = %+v, want the email", created)
		}

		// Filters and pages.
		only := f.auditEvents(t, map[string]any{"filter": map[string]any{"userId": p.User.ID, "types": []string{"LOGIN_FAILED", "USER_CREATED"}}})
		if diff := cmp.Diff([]string{"LOGIN_FAILED", "LOGIN_FAILED", "LOGIN_FAILED", "LOGIN_FAILED", "USER_CREATED"}, only.types()); diff != "" {
			t.Errorf("audit events of two types (-want +got):\n%s", diff)
		}
		var paged []string
		vars := map[string]any{"first": 4, "filter": map[string]any{"userId": p.User.ID}}
		for {
			c := f.auditEvents(t, vars)
			paged = append(paged, c.types()...)
			if !c.PageInfo.HasNextPage {
				break
			}
			vars["after"] = *c.PageInfo.EndCursor
		}
		if diff := cmp.Diff(want, paged); diff != "" {
			t.Errorf("audit events in pages of 4 (-want +got):\n%s", diff)
		}
		none := f.auditEvents(t, map[string]any{"filter": map[string]any{"userId": p.User.ID, "since": "2999-01-01T00:00:00Z"}})
		if len(none.Edges) != 0 {
			t.Errorf("audit events since 2999 = %v, want none", none.types())
		}

		// Nobody else but admins reads a user's trail.
		other := f.register(t, uniqueEmail(t, "nosy"))
		r := f.post(t, other.AccessToken, `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { id auditEvents { edges { node { type } } } } } }`,
			map[string]any{"reps": userReps(p.User.ID)})
		wantCode(t, "another user's auditEvents", r, "FORBIDDEN")
		const small = `query($first: Int, $after: String) { auditEvents(first: $first, after: $after) { pageInfo { hasNextPage } } }`
		wantCode(t, "auditEvents as a plain user", f.post(t, other.AccessToken, small, nil), "FORBIDDEN")
		wantCode(t, "auditEvents without a token", f.post(t, "", small, nil), "UNAUTHENTICATED")
		wantCode(t, "auditEvents after a forged cursor", f.post(t, f.admin.AccessToken, small, map[string]any{"after": "AAAA" + *events.PageInfo.EndCursor}), "BAD_USER_INPUT")
		wantCode(t, "auditEvents first 101", f.post(t, f.admin.AccessToken, small, map[string]any{"first": 101}), "BAD_USER_INPUT")
		wantCode(t, "auditEvents first 0", f.post(t, f.admin.AccessToken, small, map[string]any{"first": 0}), "BAD_USER_INPUT")
	})
}
