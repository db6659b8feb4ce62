package auth

import (
	"strings"
	"testing"
	"unicode/utf8"
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

func FuzzValidatePassword(f *testing.F) {
	for _, seed := range []struct{ password, email string }{
		{"password", "ada@example.com"},
		{"gh7#kQzm", "ada@example.com"},
		{"ada@example.com", "ada@example.com"},
		{"ADA.LOVELACE", "ada.lovelace@example.com"},
		{strings.Repeat("鍵", 256), ""},
		{strings.Repeat("鍵", 257), ""},
		{"gh7#kQz\xff", ""},
		{"\xf0\x9f\x94", ""},
	} {
		f.Add(seed.password, seed.email)
	}
	f.Fuzz(func(t *testing.T, password, email string) {
		if err := ValidatePassword("password", password, email); err != nil {
			wantValidationError(t, "ValidatePassword", err, "password")
			return
		}
		if !utf8.ValidString(password) {
			t.Errorf("ValidatePassword(%q) = nil for invalid UTF-8", password)
		}
		if n := utf8.RuneCountInString(password); n < passwordMinRunes || n > passwordMaxRunes {
			t.Errorf("ValidatePassword(%q) = nil for %d runes, want %d to %d", password, n, passwordMinRunes, passwordMaxRunes)
		}
		if _, common := commonPasswords()[strings.ToLower(password)]; common {
			t.Errorf("ValidatePassword(%q) = nil for a common password", password)
		}
		if strings.EqualFold(password, strings.TrimSpace(email)) {
			t.Errorf("ValidatePassword(%q, %q) = nil for the email", password, email)
		}
	})
}

// FuzzVerify feeds arbitrary stored hashes to the parser and Verify. Inputs
// that parse are computed only when cheap: the cost bounds are the parser's
// to enforce, and a fuzzer that found m=1048576,t=100 would stall.
func FuzzVerify(f *testing.F) {
	h, err := NewHasher(lowCostHashParams, 2, 0, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(referenceHashT2P1, referencePassword)
	f.Add(referenceHashT3P2, "wrong")
	for _, encoded := range malformedHashes {
		if len(encoded) < 1000 {
			f.Add(encoded, referencePassword)
		}
	}
	f.Fuzz(func(t *testing.T, encoded, password string) {
		ph, err := parsePHC(encoded)
		if err != nil {
			if ok, needsRehash, err := h.Verify(t.Context(), encoded, password); err == nil || ok || needsRehash {
				t.Errorf("Verify(%q) = %t, %t, %v, want an error as parsePHC gives", encoded, ok, needsRehash, err)
			}
			return
		}
		// Accepted hashes have one spelling, within bounds.
		if got := ph.String(); got != encoded {
			t.Errorf("parsePHC(%q).String() = %q, want the input back", encoded, got)
		}
		if err := ph.params.validate(); err != nil {
			t.Errorf("parsePHC(%q) params %+v: %v", encoded, ph.params, err)
		}
		if len(ph.salt) < argonMinSaltLen || len(ph.salt) > argonMaxSaltLen || len(ph.key) < argonMinKeyLen || len(ph.key) > argonMaxKeyLen {
			t.Errorf("parsePHC(%q) salt %d bytes, key %d bytes, out of bounds", encoded, len(ph.salt), len(ph.key))
		}
		if uint64(ph.params.Memory)*uint64(ph.params.Iterations) > 4096 {
			return
		}
		ok, _, err := h.Verify(t.Context(), encoded, password)
		if err != nil {
			t.Fatalf("Verify(%q) = %v, though parsePHC accepted it", encoded, err)
		}
		if want := string(ph.derive(password, len(ph.key))) == string(ph.key); ok != want {
			t.Errorf("Verify(%q, %q) = %t, want %t", encoded, password, ok, want)
		}
	})
}
