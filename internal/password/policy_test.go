package password

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCommonPasswords(t *testing.T) {
	t.Parallel()
	list := commonPasswords()
	if len(list) < 10000 {
		t.Errorf("commonPasswords() has %d entries, want at least 10000", len(list))
	}
	if !slices.IsSorted(list) {
		t.Error("commonPasswords() is not sorted: a binary search misses entries")
	}
	for _, p := range list {
		if n := utf8.RuneCountInString(p); n < minRunes || p != strings.ToLower(p) || strings.TrimSpace(p) != p {
			t.Errorf("commonPasswords() has %q, want lowercased, trimmed, at least %d runes", p, minRunes)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	list := commonPasswords()
	for _, tc := range []struct {
		password, email string
		want            error
	}{
		{"correct horse battery staple", "ada@example.com", nil},
		{"password123", "ada@example.com", ErrCommon},
		{"PassWord123", "ada@example.com", ErrCommon},
		{"QWERTYUIOP", "ada@example.com", ErrCommon},
		{list[0], "ada@example.com", ErrCommon},
		{strings.ToUpper(list[len(list)-1]), "ada@example.com", ErrCommon},
		{"short", "ada@example.com", ErrTooShort},
		{strings.Repeat("é", 257), "ada@example.com", ErrTooLong},
		{"ada.lovelace@example.com", " Ada.Lovelace@example.com", ErrIsEmail},
		{"ada.lovelace", "ada.lovelace@example.com", ErrIsEmail},
		{"\xff\xfe long enough", "ada@example.com", ErrNotText},
	} {
		if got := Check(tc.password, tc.email); !errors.Is(got, tc.want) {
			t.Errorf("Check(%q, %q) = %v, want %v", tc.password, tc.email, got, tc.want)
		}
	}
}
