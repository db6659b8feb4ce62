package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "https://auth.example.com"
	testAudience = "api"
	testTTL      = 15 * time.Minute
	testSubject  = "0b8e4e0c-6d2f-4e55-9d3c-2b7d1c1f9a10"
	testSession  = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
	testEmail    = "ada@example.com"
)

// testNow is the fake clock's time in every test.
var testNow = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)

// algorithms lists every algorithm a Key can have, in test order.
var algorithms = []string{"HS256", "ES256", "RS256", "EdDSA"}

// at returns a clock stopped at now.
func at(now time.Time) func() time.Time { return func() time.Time { return now } }

// testKeys are one signing key per algorithm, made once per test binary
// because RSA key generation is slow.
var testKeys = sync.OnceValues(func() (map[string]Key, error) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	keys := map[string]Key{"HS256": HMACKey([]byte("a shared secret of at least thirty-two bytes"))}
	for alg, private := range map[string]crypto.Signer{"ES256": ec, "RS256": rs, "EdDSA": ed} {
		k, err := NewKey("", private)
		if err != nil {
			return nil, err
		}
		keys[alg] = k
	}
	return keys, nil
})

// keysFor returns the test keys, failing t if they could not be made.
func keysFor(t testing.TB) map[string]Key {
	t.Helper()
	keys, err := testKeys()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// newTestIssuer returns an Issuer of the test options with its clock at now.
func newTestIssuer(t testing.TB, now time.Time, signing Key, verify ...Key) *Issuer {
	t.Helper()
	i, err := NewIssuer(Options{Issuer: testIssuer, Audience: testAudience, TTL: testTTL, Now: at(now)}, signing, verify...)
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	return i
}

// validClaims are the claims Issue would write at testNow.
func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":   testIssuer,
		"sub":   testSubject,
		"aud":   []string{testAudience},
		"exp":   testNow.Add(testTTL).Unix(),
		"nbf":   testNow.Unix(),
		"iat":   testNow.Unix(),
		"jti":   "5b0f3a52-8d5e-4d4f-bb0e-1f1d2a3b4c5d",
		"sid":   testSession,
		"roles": []string{"user"},
		"scope": "user",
		"email": testEmail,
	}
}

// forge signs validClaims, changed by change, with method and key, under
// kid (no kid header when kid is "").
func forge(t testing.TB, method jwt.SigningMethod, key any, kid string, change func(jwt.MapClaims)) string {
	t.Helper()
	c := validClaims()
	if change != nil {
		change(c)
	}
	tok := jwt.NewWithClaims(method, c)
	tok.Header["typ"] = accessTokenType
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("signing forged token: %v", err)
	}
	return s
}

// segment encodes v as a JWT segment.
func segment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeSegment decodes segment n (0 header, 1 payload) of tok.
func decodeSegment(t testing.TB, tok string, n int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d segments, want 3", tok, len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[n])
	if err != nil {
		t.Fatalf("decoding segment %d of %q: %v", n, tok, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decoding segment %d of %q: %v", n, tok, err)
	}
	return m
}

// withPayload returns tok with its payload changed by change and its
// header and signature kept.
func withPayload(t testing.TB, tok string, change func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	payload := decodeSegment(t, tok, 1)
	change(payload)
	parts[1] = segment(t, payload)
	return strings.Join(parts, ".")
}
