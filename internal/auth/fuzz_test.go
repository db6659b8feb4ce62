package auth

import (
	"strings"
	"testing"
)

func FuzzNormalizeEmail(f *testing.F) {
	for _, seed := range []string{
		"ada@example.com", "  Ada.Lovelace@Example.COM ", "a@b", "a b@c.de", "<a@b.c>", "A <a@b.c>",
		`"a"@b.c`, "a@b@c.de", "a@-b.c", "a@b-.c", "a@b..c", "a@[127.0.0.1]", "josé@example.com",
		"a\x00@b.c", "a\xff@b.c", "\u00a0a@b.c\u00a0", "\u0130@example.com", "A@B.C\u212a",
		strings.Repeat("a", 65) + "@b.c", strings.Repeat("a", 64) + "@" + strings.Repeat("b.", 95) + "cc",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeEmail(in)
		if err != nil {
			if out != "" {
				t.Errorf("NormalizeEmail(%q) = %q, %v, want \"\" with an error", in, out, err)
			}
			return
		}
		if again, err := NormalizeEmail(out); again != out || err != nil {
			t.Errorf("NormalizeEmail(%q) = %q, %v, want %q, nil: accepted output must be normalized", out, again, err, out)
		}
		if n := strings.Count(out, "@"); n != 1 {
			t.Errorf("NormalizeEmail(%q) = %q with %d '@', want 1", in, out, n)
		}
		if len(out) > emailMaxLen {
			t.Errorf("NormalizeEmail(%q) = %q of %d bytes, want at most %d", in, out, len(out), emailMaxLen)
		}
		for _, r := range out {
			if r <= ' ' || r >= 0x7f || ('A' <= r && r <= 'Z') {
				t.Fatalf("NormalizeEmail(%q) = %q with %q, want printable lowercase ASCII without spaces", in, out, r)
			}
		}
		if domain := out[strings.IndexByte(out, '@')+1:]; !strings.Contains(domain, ".") {
			t.Errorf("NormalizeEmail(%q) = %q, want a dot in the domain", in, out)
		}
	})
}
