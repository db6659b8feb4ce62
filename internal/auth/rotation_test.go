package auth

import (
	"slices"
	"testing"

	"github.com/latchkey/latchkey/ent/user"
)

// TestRefreshRowUserColumns fails when the users table gains a column that
// the refresh query does not read, so that refresh never returns a user
// short of a field.
func TestRefreshRowUserColumns(t *testing.T) {
	got, want := slices.Sorted(slices.Values(userColumns)), slices.Sorted(slices.Values(user.Columns))
	if !slices.Equal(got, want) {
		t.Errorf("userColumns = %v, want every column of users: %v", got, want)
	}
}
