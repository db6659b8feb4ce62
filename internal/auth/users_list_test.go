package auth

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/internal/database"
	"github.com/latchkey/latchkey/internal/testdb"
)

// TestListUsersTies pages one user at a time through users created at the
// same instant: the cursor's id breaks the tie, so that every user comes
// once, newest first then by id descending.
func TestListUsersTies(t *testing.T) {
	testdb.Each(t, func(t *testing.T, uri string) {
		s, client := newTestService(t, uri, time.Now)
		at := database.Time(time.Now())
		var want []string
		for i := range 7 {
			created := at
			if i >= 5 {
				created = at.Add(-time.Second) // two older ones
			}
			_, err := client.User.Create().SetID(uuid.New()).SetEmail(string(rune('a'+i)) + "@example.com").
				SetPasswordHash("x").SetRoles([]string{RoleUser}).SetCreatedAt(created).SetUpdatedAt(created).Save(t.Context())
			if err != nil {
				t.Fatal(err)
			}
		}
		all, err := client.User.Query().Order(ent.Desc("created_at"), ent.Desc("id")).All(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range all {
			want = append(want, u.Email)
		}
		var got []string
		var after *string
		for range 10 {
			page, err := s.ListUsers(t.Context(), 1, after, UserFilter{}, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range page.Items {
				got = append(got, u.Email)
			}
			if !page.HasNextPage {
				break
			}
			after = &page.Cursors[len(page.Cursors)-1]
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("users one page at a time (-want +got):\n%s", diff)
		}
	})
}
