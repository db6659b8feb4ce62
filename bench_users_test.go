package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/database"
)

// seededUsers is how many users BenchmarkUsersPage lists.
const seededUsers = 100_000

// BenchmarkUsersPage lists users over HTTP as an administrator, from a
// database seeded with 100,000 users: the first page, a page 99,000 users
// deep (keyset pagination: it should cost what the first costs), and the
// first page with totalCount, which counts them all. SQLite is a file, as
// in production.
func BenchmarkUsersPage(b *testing.B) {
	benchDatabases(b, func(b *testing.B, uri string) {
		f := startAdminB(b, uri)
		seedUsers(b, f.env, seededUsers)
		const page = `query($after: String, $total: Boolean!) { users(first: 20, after: $after) {
			edges { cursor node { id email roles disabled createdAt } } pageInfo { hasNextPage endCursor } totalCount @include(if: $total) } }`
		// The cursor 99,000 users deep, reached page by page.
		deep := ""
		const walk = `query($after: String) { users(first: 100, after: $after) { pageInfo { endCursor } } }`
		for range 990 {
			var c struct{ PageInfo struct{ EndCursor string } }
			vars := map[string]any{}
			if deep != "" {
				vars["after"] = deep
			}
			f.post(b, f.admin.AccessToken, walk, vars).field(b, "users", &c)
			deep = c.PageInfo.EndCursor
		}
		for _, tc := range []struct {
			name  string
			after any
			total bool
		}{
			{"first", nil, false},
			{"deep", deep, false},
			{"first+totalCount", nil, true},
		} {
			b.Run(tc.name, func(b *testing.B) {
				vars := map[string]any{"after": tc.after, "total": tc.total}
				for b.Loop() {
					var c struct{ Edges []struct{ Cursor string } }
					f.post(b, f.admin.AccessToken, page, vars).field(b, "users", &c)
					if len(c.Edges) != 20 {
						b.Fatalf("page of %d users, want 20", len(c.Edges))
					}
				}
			})
		}
	})
}

// seedUsers inserts n users straight into the database of env, in
// batches, each created a second before the last.
func seedUsers(b *testing.B, env map[string]string, n int) {
	b.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	db, client, err := database.Open(cfg.Database, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	defer db.Close()
	start := time.Now().Add(-time.Duration(n+1) * time.Second)
	const batch = 1000
	for i := 0; i < n; i += batch {
		builders := make([]*ent.UserCreate, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			at := database.Time(start.Add(time.Duration(j) * time.Second))
			builders = append(builders, client.User.Create().
				SetID(uuid.New()).
				SetEmail(fmt.Sprintf("seeded-%06d@example.com", j)).
				SetPasswordHash("$argon2id$unused").
				SetRoles([]string{"user"}).
				SetCreatedAt(at).SetUpdatedAt(at))
		}
		if err := client.User.CreateBulk(builders...).Exec(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// startAdminB is startAdmin for benchmarks.
func startAdminB(b *testing.B, uri string) *adminFixture {
	b.Helper()
	if strings.HasSuffix(uri, ":memory:") {
		uri = "sqlite://" + b.TempDir() + "/auth.db"
	}
	env := testEnv(uri)
	s := startServer(b, env)
	email := uniqueEmail(b, "admin")
	createUser(b, env, email, "--admin")
	return &adminFixture{testServer: s, env: env, admin: s.login(b, email, testPassword)}
}
