package token

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fuzzES256 is a fixed ES256 test key (PKCS #8, used nowhere else), so that inputs kept under
// testdata/fuzz mean the same on every run.
const fuzzES256 = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFmeKz8wfMeI7lrBEWo7a7m1R0nV1fUEvvefO5Jc34qShRANCAAQpAWwJ+HwdvTxPQIK1hAVS190BrDPTFNtawaDTUSxo+tfXibNrHH3lF7ABKMAnXfdqLX8qE7MYcYBrgV6hqrts"

// fuzzKeys are fixed keys of every algorithm but RS256, whose signing is
// too slow to fuzz: HS256, ES256 and EdDSA, in that order.
func fuzzKeys(t testing.TB) []Key {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(fuzzES256)
	if err != nil {
		t.Fatal(err)
	}
	es, err := ParsePrivate("es", der)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := NewKey("ed", ed25519.NewKeyFromSeed([]byte("a fixed seed of thirty-two bytes")))
	if err != nil {
		t.Fatal(err)
	}
	return []Key{HMACKey([]byte("a shared secret of at least thirty-two bytes")), es, ed}
}

// fuzzIssuer verifies with every fuzz key, its clock at testNow.
func fuzzIssuer(t testing.TB) (*Issuer, []Key) {
	t.Helper()
	keys := fuzzKeys(t)
	return newTestIssuer(t, testNow, keys[1], keys...), keys
}

// checkParse fails t unless Parse's answer for tok is sound: an accepted
// token has our algorithm, a known kid, a future exp, our iss and aud, a
// sub and a sid; a refusal is exactly one of ErrExpired and ErrInvalid, and
// ErrExpired only for a token that is ours but for its exp.
func checkParse(t *testing.T, i *Issuer, tok string, claims *Claims, err error) {
	t.Helper()
	if err != nil {
		if claims != nil {
			t.Errorf("Parse(%q) = %v, %v, want nil claims with an error", tok, claims, err)
		}
		if errors.Is(err, ErrExpired) == errors.Is(err, ErrInvalid) {
			t.Fatalf("Parse(%q) = %v, want exactly one of %v and %v", tok, err, ErrExpired, ErrInvalid)
		}
		reasons := []string{reasonExpired, reasonMalformed, reasonBadSignature, reasonUnknownKey, reasonInvalidClaims}
		if r := Reason(err); !slices.Contains(reasons, r) || (r == reasonExpired) != errors.Is(err, ErrExpired) {
			t.Errorf("Reason(Parse(%q)) = %q for %v, want one of %v matching the error", tok, r, err, reasons)
		}
		if !errors.Is(err, ErrExpired) {
			return
		}
	}
	header := decodeSegment(t, tok, 0)
	kid, _ := header["kid"].(string)
	k, ok := i.keys.Load().byID[kid]
	if !ok || header["alg"] != k.alg {
		t.Fatalf("Parse(%q) = %v, %v, want refused: header %v is not one of our keys", tok, claims, err, header)
	}
	if err != nil {
		// Expired: the signature must be good and exp must have passed.
		parsed, verr := jwt.ParseWithClaims(tok, &Claims{}, func(*jwt.Token) (any, error) { return k.verificationKey(), nil },
			jwt.WithoutClaimsValidation(), jwt.WithValidMethods([]string{k.alg}))
		if verr != nil {
			t.Fatalf("Parse(%q) = %v, want %v: the signature does not verify (%v)", tok, err, ErrInvalid, verr)
		}
		c := parsed.Claims.(*Claims)
		if c.ExpiresAt == nil || testNow.Before(c.ExpiresAt.Time) {
			t.Fatalf("Parse(%q) = %v, want %v: exp %v has not passed", tok, err, ErrInvalid, c.ExpiresAt)
		}
		return
	}
	if claims.ExpiresAt == nil || !testNow.Before(claims.ExpiresAt.Time) {
		t.Errorf("Parse(%q) accepted exp %v at %v", tok, claims.ExpiresAt, testNow)
	}
	if claims.NotBefore != nil && testNow.Before(claims.NotBefore.Time) {
		t.Errorf("Parse(%q) accepted nbf %v at %v", tok, claims.NotBefore, testNow)
	}
	if claims.Issuer != testIssuer || !slices.Contains(claims.Audience, testAudience) {
		t.Errorf("Parse(%q) accepted iss %q, aud %q, want %q and %q", tok, claims.Issuer, claims.Audience, testIssuer, testAudience)
	}
	if claims.Subject == "" || claims.SessionID == "" {
		t.Errorf("Parse(%q) accepted sub %q, sid %q, want both", tok, claims.Subject, claims.SessionID)
	}
	if len(tok) > maxTokenLen {
		t.Errorf("Parse(%q) accepted %d bytes, want at most %d", tok, len(tok), maxTokenLen)
	}
}

// accepts reports whether i accepts tok.
func accepts(i *Issuer, tok string) bool {
	_, err := i.Parse(tok)
	return err == nil
}

// reheader returns tok with its header replaced by header.
func reheader(t testing.TB, tok string, header map[string]any) string {
	t.Helper()
	_, rest, _ := strings.Cut(tok, ".")
	return segment(t, header) + "." + rest
}

func FuzzParse(f *testing.F) {
	i, keys := fuzzIssuer(f)
	var valid []string
	for _, k := range keys {
		tok, _, err := newTestIssuer(f, testNow, k).Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: []string{"user"}})
		if err != nil {
			f.Fatal(err)
		}
		if _, err := i.Parse(tok); err != nil {
			f.Fatalf("Parse(%q) = %v, want nil: the fuzz issuer must accept the seeds", tok, err)
		}
		valid = append(valid, tok)
	}
	es := keys[1]
	expired, _, err := newTestIssuer(f, testNow.Add(-time.Hour), es).Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: nil})
	if err != nil {
		f.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(es.public)
	if err != nil {
		f.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	seeds := []string{
		"", ".", "..", "...", "a.b.c", "garbage", "\x00", "eyJ", "e30.e30.", "e30.e30.e30",
		strings.Repeat("a", maxTokenLen+1),
		valid[1] + strings.Repeat("A", maxTokenLen),
		expired,
		segment(f, map[string]any{"alg": "none", "kid": es.id}) + "." + segment(f, validClaims()) + ".",
		forge(f, jwt.SigningMethodHS256, der, es.id, nil),
		forge(f, jwt.SigningMethodHS256, pemKey, es.id, nil),
		forge(f, jwt.SigningMethodHS256, []byte(es.id), es.id, nil),
		forge(f, jwt.SigningMethodES256, es.private, "unknown", nil),
		forge(f, jwt.SigningMethodES256, es.private, "", nil),
		forge(f, jwt.SigningMethodES256, es.private, es.id, func(c jwt.MapClaims) { delete(c, "exp") }),
		forge(f, jwt.SigningMethodES256, es.private, es.id, func(c jwt.MapClaims) { c["aud"] = "api" }),
		forge(f, jwt.SigningMethodES256, es.private, es.id, func(c jwt.MapClaims) { c["exp"] = 1e300 }),
	}
	for _, tok := range valid {
		seeds = append(seeds, tok, tok[:len(tok)/2], tok[:len(tok)-1], tok+".", strings.ReplaceAll(tok, ".", ".\n"))
		for _, alg := range []string{"none", "HS256", "RS256", "PS256", "ES256", "ES384", "EdDSA"} {
			for _, k := range keys {
				seeds = append(seeds, reheader(f, tok, map[string]any{"alg": alg, "kid": k.id, "typ": "at+jwt"}))
			}
		}
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		claims, err := i.Parse(tok)
		checkParse(t, i, tok, claims, err)
	})
}

// FuzzClaims signs arbitrary headers and payloads with our keys, so that
// the claim checks, not the signature, decide.
func FuzzClaims(f *testing.F) {
	i, keys := fuzzIssuer(f)
	header := func(k Key) []byte {
		b, _ := json.Marshal(map[string]any{"alg": k.alg, "kid": k.id, "typ": "at+jwt"})
		return b
	}
	payload := func(change func(jwt.MapClaims)) []byte {
		c := validClaims()
		if change != nil {
			change(c)
		}
		b, _ := json.Marshal(c)
		return b
	}
	for n, k := range keys {
		signing := base64.RawURLEncoding.EncodeToString(header(k)) + "." + base64.RawURLEncoding.EncodeToString(payload(nil))
		sig, err := k.method.Sign(signing, k.signingKey())
		if err != nil {
			f.Fatal(err)
		}
		if tok := signing + "." + base64.RawURLEncoding.EncodeToString(sig); !accepts(i, tok) {
			f.Fatalf("Parse(%q) refused, want accepted: the fuzz issuer must accept the seeds", tok)
		}
		for _, p := range [][]byte{
			payload(nil),
			payload(func(c jwt.MapClaims) { delete(c, "exp") }),
			payload(func(c jwt.MapClaims) { c["exp"] = testNow.Unix() }),
			payload(func(c jwt.MapClaims) { c["exp"] = float64(testNow.Unix()) + 0.5 }),
			payload(func(c jwt.MapClaims) { c["exp"] = 1e300 }),
			payload(func(c jwt.MapClaims) { c["exp"] = -1e300 }),
			payload(func(c jwt.MapClaims) { c["exp"] = "9999999999" }),
			payload(func(c jwt.MapClaims) { c["nbf"] = 1e300 }),
			payload(func(c jwt.MapClaims) { c["aud"] = "api" }),
			payload(func(c jwt.MapClaims) { c["aud"] = []any{1, "api"} }),
			payload(func(c jwt.MapClaims) { c["iss"] = nil }),
			payload(func(c jwt.MapClaims) { c["roles"] = "admin" }),
			[]byte(`{"exp":1e999}`),
			[]byte(`{"exp":9223372036854775808,"iss":"https://auth.example.com","aud":"api","sub":"s","sid":"s"}`),
			[]byte(`{"exp":1893554345,"exp":1,"iss":"https://auth.example.com","aud":"api","sub":"s","sid":"s"}`),
			[]byte(`null`), []byte(`[]`), []byte(`{`), []byte(``),
		} {
			f.Add(uint8(n), header(k), p)
		}
		f.Add(uint8(n), []byte(`{"alg":"none","kid":"es"}`), payload(nil))
		f.Add(uint8(n), []byte(`{"alg":"HS256","kid":"es"}`), payload(nil))
		f.Add(uint8(n), []byte(`{"alg":"ES256","kid":["es"]}`), payload(nil))
		f.Add(uint8(n), []byte(`{"alg":"ES256","kid":"es","crit":["exp"]}`), payload(nil))
	}
	f.Fuzz(func(t *testing.T, key uint8, header, payload []byte) {
		k := keys[int(key)%len(keys)]
		signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
		sig, err := k.method.Sign(signing, k.signingKey())
		if err != nil {
			t.Fatal(err)
		}
		tok := signing + "." + base64.RawURLEncoding.EncodeToString(sig)
		claims, err := i.Parse(tok)
		checkParse(t, i, tok, claims, err)
	})
}
