package password

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCommonPasswords(t *testing.T) {
	t.Parallel()
	set := commonPasswords()
	if len(set) < 10000 {
		t.Errorf("commonPasswords() has %d entries, want at least 10000", len(set))
	}
	for p := range set {
		if n := utf8.RuneCountInString(p); n < minRunes || p != strings.ToLower(p) || strings.TrimSpace(p) != p {
			t.Errorf("commonPasswords() has %q, want lowercased, trimmed, at least %d runes", p, minRunes)
		}
	}
}
