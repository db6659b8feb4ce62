package password

import (
	"crypto/pbkdf2"
	"crypto/sha1" //nolint:gosec // to verify Werkzeug's pbkdf2:sha1 hashes, never to make one
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"math"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"
)

// Names of the legacy schemes, as Legacy.Scheme and LegacyScheme return them.
const (
	// SchemeWerkzeugPBKDF2 is Werkzeug's pbkdf2:HASH:ITER$SALT$HEX, the
	// default of Werkzeug before 3.0.
	SchemeWerkzeugPBKDF2 = "werkzeug-pbkdf2"
	// SchemeWerkzeugScrypt is Werkzeug's scrypt:N:R:P$SALT$HEX, the default
	// of Werkzeug 3.0 and later.
	SchemeWerkzeugScrypt = "werkzeug-scrypt"
	// SchemeBcrypt is bcrypt's $2a$, $2b$ and $2y$ (Flask-Bcrypt, passlib,
	// htpasswd, PHP).
	SchemeBcrypt = "bcrypt"
)

// Bounds on what an imported hash may ask for, so that none makes a login
// allocate without limit or spin for minutes; the migration's contract sets
// all but MaxBcryptCost and MaxWerkzeugSaltLen. Every default of Werkzeug 1.0
// to 3.1 (pbkdf2:sha256 at 150,000, 260,000, 600,000 and 1,000,000
// iterations; scrypt:32768:8:1, 32 MiB) and bcrypt's usual costs (10 to 12)
// are far inside them. At the bounds a verification takes seconds
// (BenchmarkVerifyLegacyAtBounds): ten to thirty times a default's.
const (
	// MaxPBKDF2Iterations bounds Werkzeug pbkdf2's ITER: ten times
	// Werkzeug 3.1's default.
	MaxPBKDF2Iterations = 10_000_000
	// MaxScryptN bounds Werkzeug scrypt's N, a power of two.
	MaxScryptN = 1 << 20
	// MaxScryptMemory bounds scrypt's memory, 128·N·R bytes. Werkzeug's
	// default takes 32 MiB.
	MaxScryptMemory = 64 << 20
	// MaxScryptP bounds Werkzeug scrypt's P: P passes run one after another
	// in the same memory, so P multiplies the time only.
	MaxScryptP = 16
	// MaxBcryptCost bounds bcrypt's cost, 2^cost rounds: cost 15 takes
	// about what pbkdf2:sha256 at MaxPBKDF2Iterations takes, eight times
	// the cost 12 of Flask-Bcrypt and passlib.
	MaxBcryptCost = 15
	// MaxWerkzeugSaltLen bounds a Werkzeug salt's length in bytes.
	// Werkzeug 2.2 and 3.1 make 16 characters unless told otherwise.
	MaxWerkzeugSaltLen = 128
)

// scryptKeyLen is the key length of Werkzeug's scrypt: hashlib.scrypt's
// default dklen.
const scryptKeyLen = 64

// Errors ParseLegacy and VerifyLegacy return, wrapped with the detail. Each
// means Latchkey cannot verify the hash natively; users import reports such a
// line as unknown_hash. The messages never quote the hash, its salt or key.
var (
	// ErrUnknownScheme is a hash of none of the legacy schemes: an
	// argon2id hash (the Hasher's), Werkzeug's removed plain and HMAC
	// methods, Django, passlib, crypt, or anything else.
	ErrUnknownScheme = errors.New("unknown password hash scheme")
	// ErrMalformed is a hash of a legacy scheme that is not spelled as
	// that scheme's library writes it.
	ErrMalformed = errors.New("malformed legacy password hash")
	// ErrOutOfBounds is a well-formed legacy hash whose parameters exceed
	// the bounds above (MaxPBKDF2Iterations and the rest).
	ErrOutOfBounds = errors.New("legacy password hash parameters out of bounds")
)

// pbkdf2Digests are the digests Werkzeug's pbkdf2 may name, by the name it
// writes (hashlib's).
var pbkdf2Digests = map[string]func() hash.Hash{
	"sha1":   sha1.New,
	"sha224": sha256.New224,
	"sha256": sha256.New,
	"sha384": sha512.New384,
	"sha512": sha512.New,
}

// Legacy is a parsed legacy hash, ready to verify passwords. Its zero value
// verifies nothing. Printed or logged, it shows its scheme and parameters
// only, never the salt or the key.
type Legacy struct {
	scheme string
	// method is the parameters part as stored: "pbkdf2:sha256:600000",
	// "scrypt:32768:8:1" or "$2b$12$".
	method string

	// Werkzeug: the salt's bytes, used as they are (not decoded), and the
	// key decoded from its hex.
	salt, key []byte
	digest    func() hash.Hash
	iter      int
	n, r, p   int

	// bcrypt: the whole hash, which x/crypto/bcrypt parses itself.
	bcrypt []byte
}

// ParseLegacy parses encoded as a hash of one of the legacy schemes, strictly
// as its library writes it, and checks its parameters against the bounds. It
// does no hashing, so it is cheap: users import calls it for every line.
//
//   - Werkzeug pbkdf2: pbkdf2:HASH:ITER$SALT$HEX with HASH one of sha1,
//     sha224, sha256, sha384 and sha512, 1 ≤ ITER ≤ MaxPBKDF2Iterations, HEX
//     the lowercase hex of a key as long as HASH's digest.
//   - Werkzeug scrypt: scrypt:N:R:P$SALT$HEX with N a power of two from 2
//     to MaxScryptN, 128·N·R ≤ MaxScryptMemory, 1 ≤ P ≤ MaxScryptP, HEX the
//     lowercase hex of a 64-byte key.
//   - bcrypt: $2a$, $2b$ or $2y$, a cost of two digits from 4 to
//     MaxBcryptCost, and 53 characters of bcrypt's base64.
//
// A Werkzeug SALT is 1 to MaxWerkzeugSaltLen printable ASCII characters.
// Werkzeug always writes the parameters; the short forms it would also read
// (pbkdf2$…, pbkdf2:sha256$…, scrypt$…) mean its version's defaults, which
// the hash does not record, and are ErrMalformed. Numbers are plain decimals.
//
// Every error wraps one of ErrUnknownScheme, ErrMalformed and ErrOutOfBounds.
func ParseLegacy(encoded string) (Legacy, error) {
	switch LegacyScheme(encoded) {
	case SchemeWerkzeugPBKDF2:
		return parsePBKDF2(encoded)
	case SchemeWerkzeugScrypt:
		return parseScrypt(encoded)
	case SchemeBcrypt:
		return parseBcrypt(encoded)
	}
	return Legacy{}, ErrUnknownScheme
}

// LegacyScheme returns the name of the legacy scheme encoded claims by its
// prefix, whether or not it is well formed, or "" for anything else,
// argon2id included. users legacy uses it to list who is left to rehash.
func LegacyScheme(encoded string) string {
	method, _, _ := strings.Cut(encoded, "$")
	switch {
	case method == "pbkdf2" || strings.HasPrefix(method, "pbkdf2:"):
		return SchemeWerkzeugPBKDF2
	case method == "scrypt" || strings.HasPrefix(method, "scrypt:"):
		return SchemeWerkzeugScrypt
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		return SchemeBcrypt
	}
	return ""
}

// VerifyLegacy parses encoded as ParseLegacy does and reports whether
// password matches it. A hash ParseLegacy refuses is an error, and nothing is
// hashed: the time it takes does not depend on the hash's parameters.
func VerifyLegacy(encoded, password string) (bool, error) {
	l, err := ParseLegacy(encoded)
	if err != nil {
		return false, err
	}
	return l.Verify(password)
}

// Verify reports whether password (its UTF-8 bytes) matches l, comparing in
// constant time. It takes what l's scheme and parameters take: at Werkzeug's
// and bcrypt's defaults, about what an argon2id Verify takes or more (see
// the package's benchmarks), and for scrypt 128·N·R bytes of memory. An error
// is a failure of the hash function itself, never a wrong password.
//
// Verify accepts what Werkzeug and Python's bcrypt accept, quirks included:
// PBKDF2 and scrypt key HMAC with the password, which pads it with NUL bytes
// to the digest's block size, so that "secret" and "secret\x00" are the same
// password; bcrypt reads the first 72 bytes of a password only, and refuses
// a password holding a NUL byte, which no bcrypt hash was made from (the C
// implementations end the password there) and which x/crypto/bcrypt would
// otherwise let match another password ("" and "\x00").
func (l Legacy) Verify(password string) (bool, error) {
	switch l.scheme {
	case SchemeWerkzeugPBKDF2:
		key, err := pbkdf2.Key(l.digest, password, l.salt, l.iter, len(l.key))
		if err != nil {
			return false, fmt.Errorf("%s: %w", l.scheme, err)
		}
		return subtle.ConstantTimeCompare(key, l.key) == 1, nil
	case SchemeWerkzeugScrypt:
		key, err := scrypt.Key([]byte(password), l.salt, l.n, l.r, l.p, len(l.key))
		if err != nil {
			return false, fmt.Errorf("%s: %w", l.scheme, err)
		}
		return subtle.ConstantTimeCompare(key, l.key) == 1, nil
	case SchemeBcrypt:
		if strings.IndexByte(password, 0) >= 0 {
			return false, nil
		}
		// x/crypto/bcrypt reads $2y$ as $2b$ (they are the same algorithm),
		// compares in constant time, and like every bcrypt uses the first
		// 72 bytes of the password only.
		err := bcrypt.CompareHashAndPassword(l.bcrypt, []byte(password))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("%s: %w", l.scheme, err)
		}
		return true, nil
	}
	return false, nil
}

// Scheme returns l's scheme: SchemeWerkzeugPBKDF2, SchemeWerkzeugScrypt or
// SchemeBcrypt, or "" for the zero Legacy.
func (l Legacy) Scheme() string { return l.scheme }

// String returns l's parameters as the hash spells them, such as
// "pbkdf2:sha256:600000", "scrypt:32768:8:1" or "$2b$12$", without the salt
// or the key.
func (l Legacy) String() string { return l.method }

// GoString is String, so that %#v shows no salt or key either.
func (l Legacy) GoString() string { return l.method }

// LogValue is String, so that logging a Legacy shows no salt or key.
func (l Legacy) LogValue() slog.Value { return slog.StringValue(l.method) }

func parsePBKDF2(encoded string) (Legacy, error) {
	method, salt, key, err := splitWerkzeug(encoded)
	if err != nil {
		return Legacy{}, err
	}
	args := strings.Split(method, ":")
	if len(args) != 3 {
		return Legacy{}, fmt.Errorf("%w: %s wants pbkdf2:HASH:ITER", ErrMalformed, SchemeWerkzeugPBKDF2)
	}
	digest, ok := pbkdf2Digests[args[1]]
	if !ok {
		// hashlib would take md5, sha3_256 and others, but the spec (and
		// every Werkzeug default) stops at the SHA-1 and SHA-2 family.
		return Legacy{}, fmt.Errorf("%w: %s digest is not one of sha1, sha224, sha256, sha384, sha512", ErrUnknownScheme, SchemeWerkzeugPBKDF2)
	}
	iter, ok := parseDecimal(args[2])
	if !ok {
		return Legacy{}, fmt.Errorf("%w: %s iterations are not a decimal number", ErrMalformed, SchemeWerkzeugPBKDF2)
	}
	if iter < 1 || iter > MaxPBKDF2Iterations {
		return Legacy{}, fmt.Errorf("%w: %s iterations %d out of range 1..%d", ErrOutOfBounds, SchemeWerkzeugPBKDF2, iter, MaxPBKDF2Iterations)
	}
	k, err := decodeKey(key, digest().Size(), SchemeWerkzeugPBKDF2)
	if err != nil {
		return Legacy{}, err
	}
	return Legacy{
		scheme: SchemeWerkzeugPBKDF2, method: method,
		salt: []byte(salt), key: k, digest: digest, iter: iter,
	}, nil
}

func parseScrypt(encoded string) (Legacy, error) {
	method, salt, key, err := splitWerkzeug(encoded)
	if err != nil {
		return Legacy{}, err
	}
	args := strings.Split(method, ":")
	if len(args) != 4 {
		return Legacy{}, fmt.Errorf("%w: %s wants scrypt:N:R:P", ErrMalformed, SchemeWerkzeugScrypt)
	}
	n, okN := parseDecimal(args[1])
	r, okR := parseDecimal(args[2])
	p, okP := parseDecimal(args[3])
	if !okN || !okR || !okP {
		return Legacy{}, fmt.Errorf("%w: %s N, R and P are not decimal numbers", ErrMalformed, SchemeWerkzeugScrypt)
	}
	switch {
	case n < 2 || n > MaxScryptN || n&(n-1) != 0:
		return Legacy{}, fmt.Errorf("%w: %s N %d is not a power of two from 2 to %d", ErrOutOfBounds, SchemeWerkzeugScrypt, n, MaxScryptN)
	case r < 1 || r > MaxScryptMemory/128/n:
		return Legacy{}, fmt.Errorf("%w: %s 128·N·R with N %d and R %d exceeds %d bytes", ErrOutOfBounds, SchemeWerkzeugScrypt, n, r, MaxScryptMemory)
	case p < 1 || p > MaxScryptP:
		return Legacy{}, fmt.Errorf("%w: %s P %d out of range 1..%d", ErrOutOfBounds, SchemeWerkzeugScrypt, p, MaxScryptP)
	}
	k, err := decodeKey(key, scryptKeyLen, SchemeWerkzeugScrypt)
	if err != nil {
		return Legacy{}, err
	}
	return Legacy{
		scheme: SchemeWerkzeugScrypt, method: method,
		salt: []byte(salt), key: k, n: n, r: r, p: p,
	}, nil
}

// bcryptLen is the length of every bcrypt hash: "$2b$", two digits of cost,
// "$", 22 characters of salt and 31 of hash.
const bcryptLen = 60

func parseBcrypt(encoded string) (Legacy, error) {
	if len(encoded) != bcryptLen || encoded[6] != '$' {
		return Legacy{}, fmt.Errorf("%w: %s is $2b$NN$ and 53 characters", ErrMalformed, SchemeBcrypt)
	}
	for _, c := range []byte(encoded[7:]) {
		if !isBcryptBase64(c) {
			return Legacy{}, fmt.Errorf("%w: %s salt and hash are not bcrypt's base64", ErrMalformed, SchemeBcrypt)
		}
	}
	cost, ok := parseDecimal(strings.TrimPrefix(encoded[4:6], "0"))
	if !ok {
		return Legacy{}, fmt.Errorf("%w: %s cost is not two digits", ErrMalformed, SchemeBcrypt)
	}
	if cost < bcrypt.MinCost || cost > MaxBcryptCost {
		return Legacy{}, fmt.Errorf("%w: %s cost %d out of range %d..%d", ErrOutOfBounds, SchemeBcrypt, cost, bcrypt.MinCost, MaxBcryptCost)
	}
	return Legacy{scheme: SchemeBcrypt, method: encoded[:7], bcrypt: []byte(encoded)}, nil
}

// isBcryptBase64 reports whether c is in bcrypt's base64 alphabet,
// ./A-Za-z0-9.
func isBcryptBase64(c byte) bool {
	return c == '.' || c == '/' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}

// splitWerkzeug splits a Werkzeug hash METHOD$SALT$HEX and checks the salt.
// Werkzeug itself splits at the first two dollars, so a salt never holds
// one; neither does lowercase hex.
func splitWerkzeug(encoded string) (method, salt, key string, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 3 {
		return "", "", "", fmt.Errorf("%w: a Werkzeug hash is METHOD$SALT$HEX", ErrMalformed)
	}
	method, salt, key = parts[0], parts[1], parts[2]
	if len(salt) < 1 || len(salt) > MaxWerkzeugSaltLen {
		return "", "", "", fmt.Errorf("%w: Werkzeug salt of %d bytes, want 1..%d", ErrMalformed, len(salt), MaxWerkzeugSaltLen)
	}
	// Werkzeug's salts are letters and digits. Printable ASCII only keeps
	// "the salt's characters as bytes" free of any encoding question.
	for _, c := range []byte(salt) {
		if c < 0x21 || c > 0x7e {
			return "", "", "", fmt.Errorf("%w: Werkzeug salt is not printable ASCII", ErrMalformed)
		}
	}
	return method, salt, key, nil
}

// decodeKey decodes s, the lowercase hex that Python's bytes.hex writes, of
// a key of size bytes. Werkzeug compares the hex as text, so it would never
// match an uppercase spelling either.
func decodeKey(s string, size int, scheme string) ([]byte, error) {
	if len(s) != 2*size || strings.ContainsFunc(s, func(c rune) bool { return 'A' <= c && c <= 'F' }) {
		return nil, fmt.Errorf("%w: %s key is not %d characters of lowercase hex", ErrMalformed, scheme, 2*size)
	}
	k, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s key is not %d characters of lowercase hex", ErrMalformed, scheme, 2*size)
	}
	return k, nil
}

// parseDecimal parses s as a decimal number without sign or leading zeros,
// as Python's str(int) writes it. A number too large for an int is
// math.MaxInt, so that it fails its bound rather than the syntax.
func parseDecimal(s string) (int, bool) {
	if s == "" || (len(s) > 1 && s[0] == '0') || strings.ContainsFunc(s, func(c rune) bool { return c < '0' || c > '9' }) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return math.MaxInt, true
	}
	return n, true
}
