package password

import (
	"errors"
	"strings"
	"testing"
)

// FuzzVerifyLegacy checks that ParseLegacy and Verify never panic, that every
// refusal wraps exactly one of the three errors, that a parsed hash shows no
// salt or key, and that nothing is accepted without the right password: a
// fuzzer cannot find a preimage, so any password Verify accepts must be the
// one a fixture was made with.
//
// Verify runs only for cheap parameters, so that the fuzzer does not spend
// seconds on each input that asks for ten million iterations.
func FuzzVerifyLegacy(f *testing.F) {
	fs := loadFixtures(f)
	right := map[string]string{} // hash → its password
	for _, fx := range fs {
		right[fx.Hash] = fx.Password
		f.Add(fx.Hash, fx.Password)
		f.Add(fx.Hash, wrongPassword(fx.Password))
		f.Add(fx.Hash, "")
	}
	for _, encoded := range []string{
		"", "$", "$$", "$$$", "pbkdf2", "scrypt", "$2b$", "$2y$", "\x00",
		"pbkdf2:sha256:600000$$", "pbkdf2:sha256:1$a$", "pbkdf2:sha256:1$a$" + hex32 + "$",
		"pbkdf2:sha256:-1$a$" + hex32, "pbkdf2:sha256:1e6$a$" + hex32,
		"pbkdf2:sha256:1$ü$" + hex32, "pbkdf2:sha256:1$a$" + strings.ToUpper(hex32),
		"pbkdf2:sha1:1$a$" + hex32[:40], "pbkdf2:sha512:1:1$a$" + hex64,
		"scrypt:0:0:0$a$", "scrypt:2:1:1$a$" + hex64, "scrypt:4:1:16$a$" + hex64,
		"scrypt:18446744073709551616:1:1$a$" + hex64,
		"$2b$99$" + strings.Repeat(".", 53), "$2a$04$" + strings.Repeat("/", 53),
		"$2y$04$" + strings.Repeat("\xff", 53),
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43),
		strings.Repeat("pbkdf2:", 2000) + "$a$b", "plain$$password",
	} {
		f.Add(encoded, "password")
	}
	f.Fuzz(func(t *testing.T, encoded, password string) {
		l, err := ParseLegacy(encoded)
		if err != nil {
			n := 0
			for _, kind := range []error{ErrUnknownScheme, ErrMalformed, ErrOutOfBounds} {
				if errors.Is(err, kind) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("ParseLegacy(%q) = %v, want exactly one of %v, %v, %v", encoded, err, ErrUnknownScheme, ErrMalformed, ErrOutOfBounds)
			}
			if LegacyScheme(encoded) == "" && !errors.Is(err, ErrUnknownScheme) {
				t.Fatalf("ParseLegacy(%q) = %v, want %v for a hash of no legacy scheme", encoded, err, ErrUnknownScheme)
			}
			return
		}
		if got, want := l.Scheme(), LegacyScheme(encoded); got != want || got == "" {
			t.Fatalf("ParseLegacy(%q).Scheme() = %q, want %q", encoded, got, want)
		}
		params, _, _ := strings.Cut(encoded, "$")
		if l.Scheme() == SchemeBcrypt {
			params = encoded[:len("$2b$12$")]
		}
		if got := l.String(); got != params {
			t.Fatalf("ParseLegacy(%q).String() = %q, want %q, the parameters only", encoded, got, params)
		}
		if !cheap(l) {
			return
		}
		ok, err := l.Verify(password)
		if err != nil {
			t.Fatalf("ParseLegacy(%q).Verify(%q) = %v, want no error for a hash it parsed", encoded, password, err)
		}
		want, isFixture := right[encoded]
		if isFixture && ok != samePassword(l, password, want) {
			t.Fatalf("ParseLegacy(%q).Verify(%q) = %v, want %v: its password is %q", encoded, password, ok, !ok, want)
		}
		if ok && !isFixture {
			// Another spelling of a fixture, such as a bcrypt salt whose
			// unused last bits differ, may accept that fixture's password.
			for _, fx := range fs {
				if samePassword(l, password, fx.Password) {
					return
				}
			}
			t.Fatalf("ParseLegacy(%q).Verify(%q) = true, want false: no fixture has that password", encoded, password)
		}
	})
}

// samePassword reports whether a and b are the same password for l's scheme,
// as Werkzeug and bcrypt see it too. bcrypt reads the first 72 bytes only,
// and Verify refuses a NUL byte.
// PBKDF2 and scrypt key HMAC with the password, and HMAC pads a key with NUL
// bytes to the digest's block size, so trailing NULs within it do not count.
// (A key longer than the block is hashed first, so such a password is also
// the same as its digest; no fixture password is that long.)
func samePassword(l Legacy, a, b string) bool {
	block := 64 // SHA-256's, which scrypt uses
	switch l.scheme {
	case SchemeBcrypt:
		return a[:min(len(a), 72)] == b[:min(len(b), 72)] && !strings.Contains(a+b, "\x00")
	case SchemeWerkzeugPBKDF2:
		block = l.digest().BlockSize()
	}
	if len(a) <= block && len(b) <= block {
		a, b = strings.TrimRight(a, "\x00"), strings.TrimRight(b, "\x00")
	}
	return a == b
}

// cheap reports whether verifying l takes at most about a millisecond.
func cheap(l Legacy) bool {
	switch l.scheme {
	case SchemeWerkzeugPBKDF2:
		return l.iter <= 1000
	case SchemeWerkzeugScrypt:
		return l.n*l.r*l.p <= 1<<14
	case SchemeBcrypt:
		return l.method[4:6] <= "05"
	}
	return false
}
