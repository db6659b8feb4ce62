package auth

import (
	"slices"
	"testing"

	"github.com/latchkey/latchkey/ent/user"
)

// TestUserColumns fails when the users table gains a column that the
// queries do not read, so that they never return a user short of a field.
func TestUserColumns(t *testing.T) {
	got, want := slices.Sorted(slices.Values(userColumns)), slices.Sorted(slices.Values(user.Columns))
	if !slices.Equal(got, want) {
		t.Errorf("userColumns = %v, want every column of users: %v", got, want)
	}
}
