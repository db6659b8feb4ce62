package password

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCheck checks that every password the policy accepts is valid text of
// the right length, not common and not the email, and that every refusal is
// one of the policy's errors.
func FuzzCheck(f *testing.F) {
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
		if err := Check(password, email); err != nil {
			if !slices.ContainsFunc(policyErrors, func(e error) bool { return errors.Is(err, e) }) {
				t.Errorf("Check(%q, %q) = %v, want one of the policy's errors", password, email, err)
			}
			return
		}
		if !utf8.ValidString(password) {
			t.Errorf("Check(%q) = nil for invalid UTF-8", password)
		}
		if n := utf8.RuneCountInString(password); n < minRunes || n > maxRunes {
			t.Errorf("Check(%q) = nil for %d runes, want %d to %d", password, n, minRunes, maxRunes)
		}
		if isCommon(password) {
			t.Errorf("Check(%q) = nil for a common password", password)
		}
		if strings.EqualFold(password, strings.TrimSpace(email)) {
			t.Errorf("Check(%q, %q) = nil for the email", password, email)
		}
	})
}

// FuzzVerify feeds arbitrary stored hashes to the parser and Verify. Inputs
// that parse are computed only when cheap: the cost bounds are the parser's
// to enforce, and a fuzzer that found m=1048576,t=100 would stall.
func FuzzVerify(f *testing.F) {
	h, err := NewHasher(lowCostParams, 2, 0, nil)
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
		if encoded == Unusable || LegacyScheme(encoded) != "" {
			// Unusable and the legacy schemes have tests and a fuzzer
			// of their own (FuzzParseLegacy).
			return
		}
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
		if want := string(ph.derive(nil, password, len(ph.key))) == string(ph.key); ok != want {
			t.Errorf("Verify(%q, %q) = %t, want %t", encoded, password, ok, want)
		}
	})
}

// policyErrors are the errors Check may return.
var policyErrors = []error{ErrNotText, ErrTooShort, ErrTooLong, ErrCommon, ErrIsEmail}
