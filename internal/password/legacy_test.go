package password

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// fixture is a record of testdata/legacy.json, which
// scripts/legacy-fixtures.py writes with real Werkzeug, bcrypt and htpasswd.
type fixture struct {
	Password  string `json:"password"`
	Hash      string `json:"hash"`
	Scheme    string `json:"scheme"`  // as LegacyScheme returns it
	Refused   bool   `json:"refused"` // refused as ErrUnknownScheme
	MadeBy    string `json:"made_by"`
	StandsFor string `json:"stands_for"`
}

func loadFixtures(tb testing.TB) []fixture {
	tb.Helper()
	b, err := os.ReadFile("testdata/legacy.json")
	if err != nil {
		tb.Fatal(err)
	}
	var fs []fixture
	if err := json.Unmarshal(b, &fs); err != nil {
		tb.Fatalf("testdata/legacy.json: %v", err)
	}
	return fs
}

// wrongPassword differs from password within bcrypt's first 72 bytes.
func wrongPassword(password string) string { return "wrong " + password }

func TestLegacyFixtures(t *testing.T) {
	t.Parallel()
	for _, f := range loadFixtures(t) {
		t.Run(f.MadeBy+"/"+f.StandsFor, func(t *testing.T) {
			t.Parallel()
			if got := LegacyScheme(f.Hash); got != f.Scheme {
				t.Errorf("LegacyScheme(%q) = %q, want %q", f.Hash, got, f.Scheme)
			}
			l, err := ParseLegacy(f.Hash)
			if f.Refused {
				if !errors.Is(err, ErrUnknownScheme) {
					t.Errorf("ParseLegacy(%q) = %v, want %v", f.Hash, err, ErrUnknownScheme)
				}
				if ok, err := VerifyLegacy(f.Hash, f.Password); ok || !errors.Is(err, ErrUnknownScheme) {
					t.Errorf("VerifyLegacy(%q, right password) = %v, %v, want false, %v", f.Hash, ok, err, ErrUnknownScheme)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLegacy(%q) = %v, want nil error", f.Hash, err)
			}
			if got := l.Scheme(); got != f.Scheme {
				t.Errorf("ParseLegacy(%q).Scheme() = %q, want %q", f.Hash, got, f.Scheme)
			}
			if testing.Short() && !cheap(l) {
				// Werkzeug's and bcrypt's defaults take seconds under -race.
				t.Skip("skipping a hash at its library's default cost in short mode")
			}
			if ok, err := l.Verify(f.Password); !ok || err != nil {
				t.Errorf("ParseLegacy(%q).Verify(%q) = %v, %v, want true, nil", f.Hash, f.Password, ok, err)
			}
			if !cheap(l) {
				// A wrong password takes the path that the cheap fixtures
				// of the same scheme test; at a default cost it would only
				// double the seconds.
				return
			}
			if ok, err := l.Verify(wrongPassword(f.Password)); ok || err != nil {
				t.Errorf("ParseLegacy(%q).Verify(%q) = %v, %v, want false, nil", f.Hash, wrongPassword(f.Password), ok, err)
			}
			if f.Scheme == SchemeBcrypt && len(f.Password) > 72 {
				// bcrypt reads the first 72 bytes only; the hashes made by
				// Python's bcrypt and htpasswd say the same.
				if ok, err := l.Verify(f.Password[:72]); !ok || err != nil {
					t.Errorf("ParseLegacy(%q).Verify(first 72 bytes) = %v, %v, want true, nil", f.Hash, ok, err)
				}
			}
		})
	}
}

// TestLegacyFixturesCover pins the fixture file to the defaults the
// migration promises to verify, so that a regeneration cannot drop one.
func TestLegacyFixturesCover(t *testing.T) {
	t.Parallel()
	fs := loadFixtures(t)
	for _, prefix := range []string{
		"scrypt:32768:8:1$",      // Werkzeug 3.0, 3.1 default
		"pbkdf2:sha256:1000000$", // Werkzeug 3.1 method="pbkdf2"
		"pbkdf2:sha256:600000$",  // Werkzeug 2.3 default, 3.0 method="pbkdf2"
		"pbkdf2:sha256:260000$",  // Werkzeug 2.0-2.2 default
		"pbkdf2:sha256:150000$",  // Werkzeug 1.0 default
		"pbkdf2:sha1:", "pbkdf2:sha224:", "pbkdf2:sha384:", "pbkdf2:sha512:",
		"$2a$", "$2b$12$", "$2y$",
		"plain$", "sha256$", // removed in Werkzeug 3.0, refused
	} {
		found := false
		for _, f := range fs {
			found = found || strings.HasPrefix(f.Hash, prefix)
		}
		if !found {
			t.Errorf("testdata/legacy.json has no hash starting %q; rerun scripts/legacy-fixtures.py", prefix)
		}
	}
	for _, madeBy := range []string{"werkzeug 2.", "werkzeug 3.", "bcrypt ", "htpasswd "} {
		found := false
		for _, f := range fs {
			found = found || strings.HasPrefix(f.MadeBy, madeBy)
		}
		if !found {
			t.Errorf("testdata/legacy.json has nothing made by %q; rerun scripts/legacy-fixtures.py", madeBy)
		}
	}
	// TestLegacyFixtures tries a wrong password on the cheap fixtures only.
	cheapScheme := map[string]bool{}
	for _, f := range fs {
		if l, err := ParseLegacy(f.Hash); err == nil && cheap(l) {
			cheapScheme[l.Scheme()] = true
		}
	}
	for _, scheme := range []string{SchemeWerkzeugPBKDF2, SchemeWerkzeugScrypt, SchemeBcrypt} {
		if !cheapScheme[scheme] {
			t.Errorf("testdata/legacy.json has no cheap %s hash to try a wrong password on", scheme)
		}
	}
}

// Keys of the right lengths for hand-made hashes: their parameters are what
// is tested, so their keys need not match any password.
var (
	hex32 = strings.Repeat("ab", 32)
	hex64 = strings.Repeat("cd", 64)
)

func TestParseLegacyAtBounds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		encoded, scheme string
	}{
		{"pbkdf2:sha256:10000000$salt$" + hex32, SchemeWerkzeugPBKDF2},
		{"pbkdf2:sha512:1$s$" + hex64, SchemeWerkzeugPBKDF2},
		{"pbkdf2:sha1:1000$" + strings.Repeat("s", MaxWerkzeugSaltLen) + "$" + hex32[:40], SchemeWerkzeugPBKDF2},
		{"pbkdf2:sha256:1000$!#%&'()*+,-./:;<=>?@[]^_`{|}~$" + hex32, SchemeWerkzeugPBKDF2},
		{"scrypt:524288:1:16$salt$" + hex64, SchemeWerkzeugScrypt},        // 128·N·R = 64 MiB
		{"scrypt:32768:16:16$salt$" + hex64, SchemeWerkzeugScrypt},        // 64 MiB
		{"scrypt:2:1:1$salt$" + hex64, SchemeWerkzeugScrypt},              // the least N
		{"scrypt:2:262144:1$salt$" + hex64, SchemeWerkzeugScrypt},         // 64 MiB
		{"$2b$15$" + strings.Repeat("a", 53), SchemeBcrypt},               // MaxBcryptCost
		{"$2y$04$" + strings.Repeat("./Az09", 8) + "abcde", SchemeBcrypt}, // bcrypt.MinCost
	} {
		l, err := ParseLegacy(tc.encoded)
		if err != nil {
			t.Errorf("ParseLegacy(%q) = %v, want nil error", tc.encoded, err)
			continue
		}
		if got := l.Scheme(); got != tc.scheme {
			t.Errorf("ParseLegacy(%q).Scheme() = %q, want %q", tc.encoded, got, tc.scheme)
		}
	}
}

func TestParseLegacyRefuses(t *testing.T) {
	t.Parallel()
	// salt is in every Werkzeug case below, so that the test can check that
	// no error quotes it; the keys, hex32 and hex64, are checked likewise.
	const salt = "SaLtSeCrEt"
	for _, tc := range []struct {
		name, encoded string
		want          error
	}{
		// Parameters beyond the bounds: each would take seconds or
		// gigabytes if it were hashed.
		{"pbkdf2 iterations above 10^7", "pbkdf2:sha256:10000001$" + salt + "$" + hex32, ErrOutOfBounds},
		{"pbkdf2 iterations 10^12", "pbkdf2:sha512:1000000000000$" + salt + "$" + hex64, ErrOutOfBounds},
		{"pbkdf2 iterations beyond int64", "pbkdf2:sha256:99999999999999999999999$" + salt + "$" + hex32, ErrOutOfBounds},
		{"pbkdf2 zero iterations", "pbkdf2:sha256:0$" + salt + "$" + hex32, ErrOutOfBounds},
		{"scrypt N 2^21", "scrypt:2097152:1:1$" + salt + "$" + hex64, ErrOutOfBounds},
		{"scrypt N 2^20, 128 MiB", "scrypt:1048576:1:1$" + salt + "$" + hex64, ErrOutOfBounds},
		{"scrypt R 17, 68 MiB", "scrypt:32768:17:1$" + salt + "$" + hex64, ErrOutOfBounds},
		{"scrypt 2^30 R", "scrypt:32768:1073741824:1$" + salt + "$" + hex64, ErrOutOfBounds},
		{"scrypt P 17", "scrypt:32768:8:17$" + salt + "$" + hex64, ErrOutOfBounds},
		{"scrypt N not a power of two", "scrypt:32767:8:1$" + salt + "$" + hex64, ErrOutOfBounds},
		{"scrypt N 1", "scrypt:1:8:1$" + salt + "$" + hex64, ErrOutOfBounds},
		{"scrypt R 0", "scrypt:32768:0:1$" + salt + "$" + hex64, ErrOutOfBounds},
		{"scrypt P 0", "scrypt:32768:8:0$" + salt + "$" + hex64, ErrOutOfBounds},
		{"bcrypt cost 16", "$2b$16$" + strings.Repeat("a", 53), ErrOutOfBounds},
		{"bcrypt cost 31", "$2a$31$" + strings.Repeat("a", 53), ErrOutOfBounds},
		{"bcrypt cost 3", "$2y$03$" + strings.Repeat("a", 53), ErrOutOfBounds},

		// Not as Werkzeug or bcrypt write them.
		{"pbkdf2 without parameters", "pbkdf2$" + salt + "$" + hex32, ErrMalformed},
		{"pbkdf2 without iterations", "pbkdf2:sha256$" + salt + "$" + hex32, ErrMalformed},
		{"pbkdf2 empty iterations", "pbkdf2:sha256:$" + salt + "$" + hex32, ErrMalformed},
		{"pbkdf2 four parameters", "pbkdf2:sha256:1000:1$" + salt + "$" + hex32, ErrMalformed},
		{"pbkdf2 leading zero", "pbkdf2:sha256:0600000$" + salt + "$" + hex32, ErrMalformed},
		{"pbkdf2 signed iterations", "pbkdf2:sha256:+600000$" + salt + "$" + hex32, ErrMalformed},
		{"pbkdf2 negative iterations", "pbkdf2:sha256:-1$" + salt + "$" + hex32, ErrMalformed},
		{"pbkdf2 underscore iterations", "pbkdf2:sha256:600_000$" + salt + "$" + hex32, ErrMalformed},
		{"pbkdf2 uppercase hex", "pbkdf2:sha256:1000$" + salt + "$" + strings.ToUpper(hex32), ErrMalformed},
		{"pbkdf2 short key", "pbkdf2:sha256:1000$" + salt + "$" + hex32[2:], ErrMalformed},
		{"pbkdf2 sha512 with a sha256 key", "pbkdf2:sha512:1000$" + salt + "$" + hex32, ErrMalformed},
		{"pbkdf2 odd hex", "pbkdf2:sha256:1000$" + salt + "$" + hex32[1:] + "g", ErrMalformed},
		{"pbkdf2 empty salt", "pbkdf2:sha256:1000$$" + hex32, ErrMalformed},
		{"pbkdf2 long salt", "pbkdf2:sha256:1000$" + strings.Repeat(salt, 13) + "$" + hex32, ErrMalformed},
		{"pbkdf2 salt with a space", "pbkdf2:sha256:1000$" + salt + " x$" + hex32, ErrMalformed},
		{"pbkdf2 salt not ASCII", "pbkdf2:sha256:1000$" + salt + "ü$" + hex32, ErrMalformed},
		{"pbkdf2 third dollar", "pbkdf2:sha256:1000$" + salt + "$" + hex32 + "$", ErrMalformed},
		{"pbkdf2 no key", "pbkdf2:sha256:1000$" + salt, ErrMalformed},
		{"scrypt without parameters", "scrypt$" + salt + "$" + hex64, ErrMalformed},
		{"scrypt two parameters", "scrypt:32768:8$" + salt + "$" + hex64, ErrMalformed},
		{"scrypt leading zero", "scrypt:032768:8:1$" + salt + "$" + hex64, ErrMalformed},
		{"scrypt 32-byte key", "scrypt:32768:8:1$" + salt + "$" + hex32, ErrMalformed},
		{"bcrypt short", "$2b$12$" + strings.Repeat("a", 52), ErrMalformed},
		{"bcrypt long", "$2b$12$" + strings.Repeat("a", 54), ErrMalformed},
		{"bcrypt not base64", "$2b$12$" + strings.Repeat("a", 52) + "+", ErrMalformed},
		{"bcrypt one-digit cost", "$2b$4$" + strings.Repeat("a", 54), ErrMalformed},
		{"bcrypt cost not digits", "$2b$1a$" + strings.Repeat("a", 53), ErrMalformed},

		// Other schemes.
		{"empty", "", ErrUnknownScheme},
		{"argon2id", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43), ErrUnknownScheme},
		{"werkzeug plain", "plain$$secret", ErrUnknownScheme},
		{"werkzeug salted sha256", "sha256$" + salt + "$" + hex32, ErrUnknownScheme},
		{"werkzeug unsalted sha1", "sha1$$" + hex32[:40], ErrUnknownScheme},
		{"pbkdf2 md5", "pbkdf2:md5:1000$" + salt + "$" + hex32[:32], ErrUnknownScheme},
		{"pbkdf2 sha3", "pbkdf2:sha3_256:1000$" + salt + "$" + hex32, ErrUnknownScheme},
		{"django pbkdf2", "pbkdf2_sha256$600000$" + salt + "$" + "q83vEjRWeJA=", ErrUnknownScheme},
		{"passlib pbkdf2", "$pbkdf2-sha256$29000$" + salt + "$" + "q83vEjRWeJA", ErrUnknownScheme},
		{"bcrypt $2x$", "$2x$10$" + strings.Repeat("a", 53), ErrUnknownScheme},
		{"bcrypt $2$", "$2$10$" + strings.Repeat("a", 53), ErrUnknownScheme},
		{"sha512-crypt", "$6$" + salt + "$" + hex32, ErrUnknownScheme},
		{"scrypt prefix only", "scryptx:1:1:1$" + salt + "$" + hex64, ErrUnknownScheme},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := ParseLegacy(tc.encoded)
			if !errors.Is(err, tc.want) {
				t.Errorf("ParseLegacy(%q) = %v, want %v", tc.encoded, err, tc.want)
			}
			ok, verr := VerifyLegacy(tc.encoded, "password")
			if ok || !errors.Is(verr, tc.want) {
				t.Errorf("VerifyLegacy(%q, password) = %v, %v, want false, %v", tc.encoded, ok, verr, tc.want)
			}
			// Refused before any hashing: far less than the least
			// legacy hash in the fixtures, even under -race.
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("refusing %q took %v, want it refused before hashing", tc.encoded, d)
			}
			if err != nil {
				for _, secret := range []string{salt, hex32, hex64[:32], "secret"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("ParseLegacy(%q) error %q quotes the hash", tc.encoded, err)
					}
				}
			}
		})
	}
}

func TestLegacyScheme(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ encoded, want string }{
		{"pbkdf2:sha256:600000$s$" + hex32, SchemeWerkzeugPBKDF2},
		{"pbkdf2$s$x", SchemeWerkzeugPBKDF2}, // claimed, though malformed
		{"scrypt:32768:8:1$s$" + hex64, SchemeWerkzeugScrypt},
		{"scrypt", SchemeWerkzeugScrypt},
		{"$2a$10$x", SchemeBcrypt},
		{"$2b$", SchemeBcrypt},
		{"$2y$12$x", SchemeBcrypt},
		{"$argon2id$v=19$m=19456,t=2,p=1$x$y", ""},
		{"$2x$10$x", ""},
		{"pbkdf2_sha256$1$s$x", ""},
		{"sha256$s$x", ""},
		{"", ""},
	} {
		if got := LegacyScheme(tc.encoded); got != tc.want {
			t.Errorf("LegacyScheme(%q) = %q, want %q", tc.encoded, got, tc.want)
		}
	}
}

// TestLegacyShowsNoSecret prints and logs a parsed hash every way and finds
// neither its salt nor its key.
func TestLegacyShowsNoSecret(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ encoded, want string }{
		{"pbkdf2:sha256:600000$SaLtSeCrEt$" + hex32, "pbkdf2:sha256:600000"},
		{"scrypt:32768:8:1$SaLtSeCrEt$" + hex64, "scrypt:32768:8:1"},
		{"$2b$12$SaLtSeCrEtSaLtSeCrEtSaLtSeCrEtSaLtSeCrEtSaLtSeCrEtabc", "$2b$12$"},
	} {
		l, err := ParseLegacy(tc.encoded)
		if err != nil {
			t.Fatalf("ParseLegacy(%q) = %v, want nil error", tc.encoded, err)
		}
		var logged bytes.Buffer
		slog.New(slog.NewTextHandler(&logged, nil)).Info("hash", "hash", l)
		shown := fmt.Sprintf("%v %+v %#v %s", l, l, l, l) + logged.String()
		for _, secret := range []string{"SaLtSeCrEt", "abab", "cdcd"} {
			if strings.Contains(shown, secret) {
				t.Errorf("ParseLegacy(%q) shows %q: %s", tc.encoded, secret, shown)
			}
		}
		if got := l.String(); got != tc.want {
			t.Errorf("ParseLegacy(%q).String() = %q, want %q", tc.encoded, got, tc.want)
		}
	}
}

// TestLegacyNUL pins what a NUL byte does: PBKDF2 and scrypt pad their HMAC
// key with NULs, so Werkzeug accepts "\x00" for the empty password, and so
// does Verify; Python's bcrypt refuses any NUL, and so does Verify, where
// x/crypto/bcrypt would accept "\x00" for the empty password.
func TestLegacyNUL(t *testing.T) {
	t.Parallel()
	want := map[string]bool{SchemeWerkzeugPBKDF2: true, SchemeWerkzeugScrypt: true, SchemeBcrypt: false}
	seen := map[string]bool{}
	for _, f := range loadFixtures(t) {
		if f.Password != "" || f.Refused {
			continue
		}
		seen[f.Scheme] = true
		for _, password := range []string{"\x00", "\x00\x00"} {
			if ok, err := VerifyLegacy(f.Hash, password); ok != want[f.Scheme] || err != nil {
				t.Errorf("VerifyLegacy(%q, %q) = %v, %v, want %v, nil", f.Hash, password, ok, err, want[f.Scheme])
			}
		}
		if ok, err := VerifyLegacy(f.Hash, "\x00x"); ok || err != nil {
			t.Errorf("VerifyLegacy(%q, %q) = %v, %v, want false, nil", f.Hash, "\x00x", ok, err)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("testdata/legacy.json has empty-password hashes of %v, want one of each of %v", seen, want)
	}
}

func TestLegacyZeroVerifiesNothing(t *testing.T) {
	t.Parallel()
	var l Legacy
	if ok, err := l.Verify(""); ok || err != nil {
		t.Errorf("Legacy{}.Verify(\"\") = %v, %v, want false, nil", ok, err)
	}
}

// BenchmarkVerifyLegacy times a verification at each default the fixtures
// hold, with argon2id at OWASP's minimum beside them for comparison. A wrong
// password costs the same as a right one.
func BenchmarkVerifyLegacy(b *testing.B) {
	fs := loadFixtures(b)
	for _, bc := range []struct{ name, prefix string }{
		{"werkzeug-pbkdf2/sha256-1000000", "pbkdf2:sha256:1000000$"},
		{"werkzeug-pbkdf2/sha256-600000", "pbkdf2:sha256:600000$"},
		{"werkzeug-pbkdf2/sha256-260000", "pbkdf2:sha256:260000$"},
		{"werkzeug-scrypt/32768-8-1", "scrypt:32768:8:1$"},
		{"bcrypt/10", "$2b$10$"},
		{"bcrypt/12", "$2b$12$"},
	} {
		i := fixtureIndex(b, fs, bc.prefix)
		l, err := ParseLegacy(fs[i].Hash)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if ok, err := l.Verify(fs[i].Password); !ok || err != nil {
					b.Fatalf("Verify = %v, %v, want true, nil", ok, err)
				}
			}
		})
	}
	b.Run("argon2id/19456-2-1", func(b *testing.B) {
		salt := []byte("sixteen byte slt")
		for b.Loop() {
			argon2.IDKey([]byte("correct horse battery staple"), salt, 2, 19456, 1, 32)
		}
	})
}

// BenchmarkVerifyLegacyAtBounds times the dearest hashes ParseLegacy
// accepts: what one imported hash can make a login cost at most. Each takes
// seconds: run it with -benchtime 1x.
func BenchmarkVerifyLegacyAtBounds(b *testing.B) {
	for _, bc := range []struct{ name, encoded string }{
		{"werkzeug-pbkdf2/sha256-10000000", "pbkdf2:sha256:10000000$salt$" + hex32},
		{"werkzeug-pbkdf2/sha512-10000000", "pbkdf2:sha512:10000000$salt$" + hex64},
		{"werkzeug-scrypt/32768-16-16", "scrypt:32768:16:16$salt$" + hex64},
		{"werkzeug-scrypt/524288-1-16", "scrypt:524288:1:16$salt$" + hex64},
		{"bcrypt/15", "$2b$15$" + strings.Repeat("a", 53)},
	} {
		l, err := ParseLegacy(bc.encoded)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := l.Verify("password"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// fixtureIndex returns the index of the first fixture whose hash starts with
// prefix.
func fixtureIndex(tb testing.TB, fs []fixture, prefix string) int {
	tb.Helper()
	for i, f := range fs {
		if strings.HasPrefix(f.Hash, prefix) {
			return i
		}
	}
	tb.Fatalf("testdata/legacy.json has no hash starting %q", prefix)
	return -1
}
