package password

import (
	"errors"
	"strings"
	"testing"
)

// cheapPBKDF2 is Werkzeug 3.1.8's pbkdf2:sha256 at one iteration of
// referencePassword, from testdata/legacy.json.
const cheapPBKDF2 = "pbkdf2:sha256:1$n7tE5862WxpQOuIu$9f87f9e6568818cde5302d965d97a71d93de1b813cff7bb4eff05e9610cd2c5a"

// TestHasherVerifyLegacy checks that the Hasher, which every password check
// goes through, verifies the fixtures made by Werkzeug and bcrypt at a low
// cost (each scheme has some), asks for a rehash on a match only, and
// refuses what ParseLegacy refuses.
func TestHasherVerifyLegacy(t *testing.T) {
	t.Parallel()
	h := newLowCostHasher(t, 2)
	for _, f := range loadFixtures(t) {
		t.Run(f.MadeBy+"/"+f.StandsFor, func(t *testing.T) {
			t.Parallel()
			l, err := ParseLegacy(f.Hash)
			if f.Refused {
				if ok, rehash, err := h.Verify(t.Context(), f.Hash, f.Password); ok || rehash || err == nil {
					t.Errorf("Verify(%q, right password) = %t, %t, %v, want false, false, an error", f.Hash, ok, rehash, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLegacy(%q) = %v", f.Hash, err)
			}
			if !cheap(l) {
				// TestLegacyFixtures verifies every fixture at its library's
				// default cost; here the Hasher's path is what is tested.
				t.Skip("a hash at its library's default cost: TestLegacyFixtures verifies it")
			}
			if ok, rehash, err := h.Verify(t.Context(), f.Hash, f.Password); !ok || !rehash || err != nil {
				t.Errorf("Verify(%q, %q) = %t, %t, %v, want true, true, nil", f.Hash, f.Password, ok, rehash, err)
			}
			if ok, rehash, err := h.Verify(t.Context(), f.Hash, wrongPassword(f.Password)); ok || rehash || err != nil {
				t.Errorf("Verify(%q, wrong) = %t, %t, %v, want false, false, nil", f.Hash, ok, rehash, err)
			}
		})
	}
}

// TestHasherVerifyUnusable checks that no password matches Unusable, not
// even the empty one or the sentinel itself, and that it is no error.
func TestHasherVerifyUnusable(t *testing.T) {
	t.Parallel()
	h := newLowCostHasher(t, 1)
	for _, pw := range []string{"", Unusable, referencePassword, strings.Repeat("x", 256)} {
		if ok, rehash, err := h.Verify(t.Context(), Unusable, pw); ok || rehash || err != nil {
			t.Errorf("Verify(Unusable, %q) = %t, %t, %v, want false, false, nil", pw, ok, rehash, err)
		}
	}
}

func TestScheme(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, encoded, want string
		wantErr             error
	}{
		{"argon2id", referenceHashT2P1, SchemeArgon2id, nil},
		{"werkzeug pbkdf2", cheapPBKDF2, SchemeWerkzeugPBKDF2, nil},
		{"werkzeug scrypt", "scrypt:32768:8:1$rCbWx2WmKeKkIIZ3$" + strings.Repeat("ab", 64), SchemeWerkzeugScrypt, nil},
		{"bcrypt", "$2b$12$MdgIqVGHjifqPIyE9XjaE.yDzM0VsQwO5EYHvO6R51dMZDxFn4FYu", SchemeBcrypt, nil},
		{"argon2id out of bounds", malformedHashes["memory over 1 GiB"], "", ErrMalformed},
		{"argon2i", malformedHashes["argon2i"], "", ErrUnknownScheme},
		{"pbkdf2 out of bounds", "pbkdf2:sha256:10000001$salt$" + strings.Repeat("00", 32), "", ErrOutOfBounds},
		{"scrypt of 1 GiB", "scrypt:1048576:8:1$salt$" + strings.Repeat("00", 64), "", ErrOutOfBounds},
		{"bcrypt cost 31", "$2b$31$MdgIqVGHjifqPIyE9XjaE.yDzM0VsQwO5EYHvO6R51dMZDxFn4FYu", "", ErrOutOfBounds},
		{"werkzeug plain", "plain$$secret", "", ErrUnknownScheme},
		{"django", "pbkdf2_sha256$870000$salt$aGFzaA==", "", ErrUnknownScheme},
		{"unusable", Unusable, "", ErrUnknownScheme},
		{"empty", "", "", ErrUnknownScheme},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Scheme(tc.encoded)
			if got != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("Scheme(%.60q) = %q, %v, want %q, %v", tc.encoded, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
