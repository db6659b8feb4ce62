package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

func TestIssueParseRoundTrip(t *testing.T) {
	t.Parallel()
	keys := keysFor(t)
	for _, alg := range algorithms {
		t.Run("alg="+alg, func(t *testing.T) {
			t.Parallel()
			i := newTestIssuer(t, testNow, keys[alg])
			tok, issued, err := i.Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: []string{"user", "admin"}})
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			want := &Claims{
				RegisteredClaims: jwt.RegisteredClaims{
					Issuer:    testIssuer,
					Subject:   testSubject,
					Audience:  jwt.ClaimStrings{testAudience},
					ExpiresAt: jwt.NewNumericDate(testNow.Add(testTTL)),
					NotBefore: jwt.NewNumericDate(testNow),
					IssuedAt:  jwt.NewNumericDate(testNow),
					ID:        issued.ID,
				},
				SessionID: testSession,
				Roles:     []string{"user", "admin"},
				Scope:     "user admin",
				Email:     testEmail,
			}
			if diff := cmp.Diff(want, issued); diff != "" {
				t.Errorf("Issue claims (-want +got):\n%s", diff)
			}
			got, err := i.Parse(tok)
			if err != nil {
				t.Fatalf("Parse(%q) = %v, want nil", tok, err)
			}
			if diff := cmp.Diff(issued, got); diff != "" {
				t.Errorf("Parse(%q) claims (-issued +parsed):\n%s", tok, diff)
			}
			header := decodeSegment(t, tok, 0)
			wantHeader := map[string]any{"alg": alg, "kid": keys[alg].ID(), "typ": "at+jwt"}
			if diff := cmp.Diff(wantHeader, header); diff != "" {
				t.Errorf("header of %q (-want +got):\n%s", tok, diff)
			}
		})
	}
}

func TestIssue(t *testing.T) {
	t.Parallel()
	i := newTestIssuer(t, testNow, keysFor(t)["ES256"])
	t.Run("unique jti", func(t *testing.T) {
		t.Parallel()
		_, a, errA := i.Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: nil})
		_, b, errB := i.Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: nil})
		if errA != nil || errB != nil {
			t.Fatalf("Issue = %v, %v", errA, errB)
		}
		if a.ID == "" || a.ID == b.ID {
			t.Errorf("jti = %q and %q, want two distinct ids", a.ID, b.ID)
		}
	})
	t.Run("no roles", func(t *testing.T) {
		t.Parallel()
		tok, _, err := i.Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: nil})
		if err != nil {
			t.Fatalf("Issue: %v", err)
		}
		payload := decodeSegment(t, tok, 1)
		if diff := cmp.Diff([]any{}, payload["roles"]); diff != "" || payload["scope"] != "" {
			t.Errorf("payload = %v, want roles [] and scope \"\"", payload)
		}
	})
	t.Run("caller's roles not shared", func(t *testing.T) {
		t.Parallel()
		roles := []string{"user"}
		_, c, err := i.Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: roles})
		if err != nil {
			t.Fatalf("Issue: %v", err)
		}
		roles[0] = "admin"
		if c.Roles[0] != "user" {
			t.Errorf("claims roles = %v after the caller changed its slice, want [user]", c.Roles)
		}
	})
	for _, tc := range []struct{ name, subject, session string }{
		{"no subject", "", testSession},
		{"no session", testSubject, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tok, _, err := i.Issue(Subject{UserID: tc.subject, SessionID: tc.session, Email: testEmail, Roles: nil}); err == nil {
				t.Errorf("Issue(%q, %q) = %q, nil, want an error", tc.subject, tc.session, tok)
			}
		})
	}
}

func TestParseRefusesForgeries(t *testing.T) {
	t.Parallel()
	keys := keysFor(t)
	es, rs, hs := keys["ES256"], keys["RS256"], keys["HS256"]
	i := newTestIssuer(t, testNow, es, rs, keys["EdDSA"])
	valid, _, err := i.Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: []string{"user"}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	publicDER := func(k Key) []byte {
		der, err := x509.MarshalPKIXPublicKey(k.public)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	publicPEM := func(k Key) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: publicDER(k)})
	}
	none := func(kid string) string {
		return segment(t, map[string]any{"alg": "none", "typ": "JWT", "kid": kid}) + "." + segment(t, validClaims()) + "."
	}
	expired := func(c jwt.MapClaims) { c["exp"] = testNow.Unix() }
	parts := strings.Split(valid, ".")
	// typed signs the valid claims with our key under the typ header typ
	// (none when typ is nil): a JWT of ours made for another purpose.
	typed := func(typ any) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, validClaims())
		tok.Header["kid"] = es.ID()
		if typ == nil {
			delete(tok.Header, "typ")
		} else {
			tok.Header["typ"] = typ
		}
		s, err := tok.SignedString(es.private)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	for _, tc := range []struct {
		name, token, reason string
	}{
		{"alg none", none(es.ID()), reasonBadSignature},
		{"typ JWT, signed by our key", typed("JWT"), reasonInvalidClaims},
		{"no typ, signed by our key", typed(nil), reasonInvalidClaims},
		{"typ not a string", typed(7), reasonInvalidClaims},
		{"alg none without signature or kid", strings.TrimSuffix(none(""), "."), reasonMalformed},
		{"alg None", segment(t, map[string]any{"alg": "None", "kid": es.ID()}) + "." + parts[1] + ".", reasonBadSignature},
		{"HS256 with the ES256 public key as PEM", forge(t, jwt.SigningMethodHS256, publicPEM(es), es.ID(), nil), reasonBadSignature},
		{"HS256 with the ES256 public key as DER", forge(t, jwt.SigningMethodHS256, publicDER(es), es.ID(), nil), reasonBadSignature},
		{"HS256 with the RSA public key as PEM", forge(t, jwt.SigningMethodHS256, publicPEM(rs), rs.ID(), nil), reasonBadSignature},
		{"HS256 with the RSA public key as DER", forge(t, jwt.SigningMethodHS256, publicDER(rs), rs.ID(), nil), reasonBadSignature},
		{"PS256 with our RSA key", forge(t, jwt.SigningMethodPS256, rs.private, rs.ID(), nil), reasonBadSignature},
		{"RS256 under the ES256 kid", forge(t, jwt.SigningMethodRS256, rs.private, es.ID(), nil), reasonBadSignature},
		{"ES256 under the RS256 kid", forge(t, jwt.SigningMethodES256, es.private, rs.ID(), nil), reasonBadSignature},
		{"tampered payload", withPayload(t, valid, func(c map[string]any) { c["roles"] = []string{"user", "admin"} }), reasonBadSignature},
		{"tampered header", segment(t, map[string]any{"alg": "ES256", "kid": es.ID(), "typ": "at+jwt", "x": 1}) + "." + parts[1] + "." + parts[2], reasonBadSignature},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(forge(t, jwt.SigningMethodES256, es.private, es.ID(), nil), ".")[2], reasonBadSignature},
		{"no signature", parts[0] + "." + parts[1] + ".", reasonBadSignature},
		{"another key under our kid", forge(t, jwt.SigningMethodES256, other, es.ID(), nil), reasonBadSignature},
		{"unknown kid", forge(t, jwt.SigningMethodES256, other, "not-ours", nil), reasonUnknownKey},
		{"no kid", forge(t, jwt.SigningMethodES256, es.private, "", nil), reasonUnknownKey},
		{"kid not a string", segment(t, map[string]any{"alg": "ES256", "kid": 7}) + "." + parts[1] + "." + parts[2], reasonUnknownKey},
		{"HS256 under an HMAC kid, to an issuer without HS256", forge(t, jwt.SigningMethodHS256, hs.secret, hs.ID(), nil), reasonBadSignature},
		{"wrong iss", forge(t, jwt.SigningMethodES256, es.private, es.ID(), func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }), reasonInvalidClaims},
		{"no iss", forge(t, jwt.SigningMethodES256, es.private, es.ID(), func(c jwt.MapClaims) { delete(c, "iss") }), reasonInvalidClaims},
		{"wrong aud", forge(t, jwt.SigningMethodES256, es.private, es.ID(), func(c jwt.MapClaims) { c["aud"] = []string{"elsewhere"} }), reasonInvalidClaims},
		{"no aud", forge(t, jwt.SigningMethodES256, es.private, es.ID(), func(c jwt.MapClaims) { delete(c, "aud") }), reasonInvalidClaims},
		{"nbf in the future", forge(t, jwt.SigningMethodES256, es.private, es.ID(), func(c jwt.MapClaims) { c["nbf"] = testNow.Add(time.Second).Unix() }), reasonInvalidClaims},
		{"no exp", forge(t, jwt.SigningMethodES256, es.private, es.ID(), func(c jwt.MapClaims) { delete(c, "exp") }), reasonInvalidClaims},
		{"no sub", forge(t, jwt.SigningMethodES256, es.private, es.ID(), func(c jwt.MapClaims) { delete(c, "sub") }), reasonInvalidClaims},
		{"no sid", forge(t, jwt.SigningMethodES256, es.private, es.ID(), func(c jwt.MapClaims) { c["sid"] = "" }), reasonInvalidClaims},
		{"exp a string", forge(t, jwt.SigningMethodES256, es.private, es.ID(), func(c jwt.MapClaims) { c["exp"] = "2100-01-01" }), reasonMalformed},
		{"expired with a bad signature", withPayload(t, valid, func(c map[string]any) { c["exp"] = testNow.Add(-time.Hour).Unix() }), reasonBadSignature},
		{"expired by another key under our kid", forge(t, jwt.SigningMethodES256, other, es.ID(), expired), reasonBadSignature},
		{"expired and wrong iss", forge(t, jwt.SigningMethodES256, es.private, es.ID(), func(c jwt.MapClaims) { expired(c); c["iss"] = "x" }), reasonInvalidClaims},
		{"expired and nbf in the future", forge(t, jwt.SigningMethodES256, es.private, es.ID(), func(c jwt.MapClaims) { expired(c); c["nbf"] = testNow.Add(time.Hour).Unix() }), reasonInvalidClaims},
		{"expired without sub", forge(t, jwt.SigningMethodES256, es.private, es.ID(), func(c jwt.MapClaims) { expired(c); delete(c, "sub") }), reasonInvalidClaims},
		{"expired, unknown kid", forge(t, jwt.SigningMethodES256, other, "not-ours", expired), reasonUnknownKey},
		{"oversized", forge(t, jwt.SigningMethodES256, es.private, es.ID(), func(c jwt.MapClaims) { c["email"] = strings.Repeat("a", maxTokenLen) }), reasonMalformed},
		{"truncated", valid[:len(valid)-10], reasonBadSignature},
		{"truncated to two segments", parts[0] + "." + parts[1], reasonMalformed},
		{"four segments", valid + "." + parts[2], reasonMalformed},
		{"padded", valid + "==", reasonMalformed},
		{"line break in the signature", parts[0] + "." + parts[1] + "." + parts[2][:10] + "\n" + parts[2][10:], reasonMalformed},
		{"standard base64", parts[0] + "." + parts[1] + "." + "+/" + parts[2][2:], reasonMalformed},
		{"space around", " " + valid, reasonMalformed},
		{"bearer prefix", "Bearer " + valid, reasonMalformed},
		{"garbage", "garbage", reasonMalformed},
		{"empty", "", reasonMalformed},
		{"dots", "..", reasonMalformed},
		{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("{")) + "." + parts[1] + "." + parts[2], reasonMalformed},
		{"header an array", segment(t, []any{"ES256"}) + "." + parts[1] + "." + parts[2], reasonMalformed},
		{"payload an array", parts[0] + "." + segment(t, []any{1}) + "." + parts[2], reasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := i.Parse(tc.token)
			if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrExpired) || got != nil {
				t.Fatalf("Parse(%q) = %v, %v, want nil, %v", tc.token, got, err, ErrInvalid)
			}
			if r := Reason(err); r != tc.reason {
				t.Errorf("Reason(Parse(%q)) = %q, want %q (error %v)", tc.token, r, tc.reason, err)
			}
		})
	}
}

// TestParseTyp accepts both spellings of the access-token type, in any
// case (RFC 9068 and RFC 8725 compare media types case-insensitively).
func TestParseTyp(t *testing.T) {
	t.Parallel()
	es := keysFor(t)["ES256"]
	i := newTestIssuer(t, testNow, es)
	for _, typ := range []string{"at+jwt", "AT+JWT", "application/at+jwt"} {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, validClaims())
		tok.Header["kid"], tok.Header["typ"] = es.ID(), typ
		s, err := tok.SignedString(es.private)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := i.Parse(s); err != nil {
			t.Errorf("Parse(typ %q) = %v, want accepted", typ, err)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	t.Parallel()
	keys := keysFor(t)
	for _, alg := range algorithms {
		issuer := newTestIssuer(t, testNow, keys[alg])
		tok, _, err := issuer.Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: nil})
		if err != nil {
			t.Fatal(err)
		}
		exp := testNow.Add(testTTL)
		for _, tc := range []struct {
			name   string
			now    time.Time
			leeway time.Duration // JWT_CLOCK_SKEW
			want   error
		}{
			{"at issue", testNow, 0, nil},
			{"one second before exp", exp.Add(-time.Second), 0, nil},
			{"one nanosecond before exp", exp.Add(-time.Nanosecond), 0, nil},
			{"at exp", exp, 0, ErrExpired},
			{"one second after exp", exp.Add(time.Second), 0, ErrExpired},
			{"a year after exp", exp.AddDate(1, 0, 0), 0, ErrExpired},
			{"one second before nbf", testNow.Add(-time.Second), 0, ErrInvalid},
			{"half a second after exp, 1s leeway", exp.Add(500 * time.Millisecond), time.Second, nil},
			{"two seconds after exp, 1s leeway", exp.Add(2 * time.Second), time.Second, ErrExpired},
			{"half a second before nbf, 1s leeway", testNow.Add(-500 * time.Millisecond), time.Second, nil},
			{"two seconds before nbf, 1s leeway", testNow.Add(-2 * time.Second), time.Second, ErrInvalid},
		} {
			t.Run(fmt.Sprintf("alg=%s/%s", alg, tc.name), func(t *testing.T) {
				t.Parallel()
				i, err := NewIssuer(Options{Issuer: testIssuer, Audience: testAudience, TTL: testTTL, Now: at(tc.now), Leeway: tc.leeway}, keys[alg])
				if err != nil {
					t.Fatal(err)
				}
				_, err = i.Parse(tok)
				if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
					t.Fatalf("Parse(%q) at %v = %v, want %v", tok, tc.now, err, tc.want)
				}
				if errors.Is(err, ErrExpired) && errors.Is(err, ErrInvalid) {
					t.Errorf("Parse(%q) = %v, matches both ErrExpired and ErrInvalid", tok, err)
				}
				if errors.Is(tc.want, ErrExpired) && Reason(err) != reasonExpired {
					t.Errorf("Reason(Parse(%q)) = %q, want %q", tok, Reason(err), reasonExpired)
				}
			})
		}
	}
}

func TestParseKeyRotation(t *testing.T) {
	t.Parallel()
	keys := keysFor(t)
	old := newTestIssuer(t, testNow, keys["RS256"])
	tok, _, err := old.Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: nil})
	if err != nil {
		t.Fatal(err)
	}
	public, err := NewPublicKey(keys["RS256"].ID(), keys["RS256"].public)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		verify []Key
		want   error
	}{
		{"old key kept", []Key{keys["RS256"]}, nil},
		{"old key kept for verification only", []Key{public}, nil},
		{"old key retired", nil, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			i := newTestIssuer(t, testNow, keys["EdDSA"], tc.verify...)
			if _, err := i.Parse(tok); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Errorf("Parse(%q) = %v, want %v", tok, err, tc.want)
			}
		})
	}
}

func TestNewIssuerRefuses(t *testing.T) {
	t.Parallel()
	keys := keysFor(t)
	opts := Options{Issuer: testIssuer, Audience: testAudience, TTL: testTTL}
	public, err := NewPublicKey("", keys["ES256"].public)
	if err != nil {
		t.Fatal(err)
	}
	otherES, err := GenerateES256()
	if err != nil {
		t.Fatal(err)
	}
	sameID, err := NewKey(keys["ES256"].ID(), otherES.private)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		opts    Options
		signing Key
		verify  []Key
	}{
		{"no issuer", Options{Audience: testAudience, TTL: testTTL}, keys["ES256"], nil},
		{"no audience", Options{Issuer: testIssuer, TTL: testTTL}, keys["ES256"], nil},
		{"no TTL", Options{Issuer: testIssuer, Audience: testAudience}, keys["ES256"], nil},
		{"negative TTL", Options{Issuer: testIssuer, Audience: testAudience, TTL: -time.Minute}, keys["ES256"], nil},
		{"verify-only signing key", opts, public, nil},
		{"zero signing key", opts, Key{}, nil},
		{"empty HMAC secret", opts, HMACKey(nil), nil},
		{"zero verification key", opts, keys["ES256"], []Key{{}}},
		{"two keys with one id", opts, keys["ES256"], []Key{sameID}},
		{"two HMAC secrets", opts, keys["HS256"], []Key{HMACKey([]byte("another secret"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if i, err := NewIssuer(tc.opts, tc.signing, tc.verify...); err == nil {
				t.Errorf("NewIssuer(%+v, %v, %v) = %p, nil, want an error", tc.opts, tc.signing, tc.verify, i)
			}
		})
	}
	t.Run("same key twice", func(t *testing.T) {
		t.Parallel()
		i, err := NewIssuer(opts, keys["ES256"], keys["ES256"], public)
		if err != nil {
			t.Fatalf("NewIssuer = %v, want nil", err)
		}
		if n := len(i.JWKS().Keys); n != 1 {
			t.Errorf("JWKS has %d keys, want 1", n)
		}
		if i.TTL() != testTTL {
			t.Errorf("TTL() = %v, want %v", i.TTL(), testTTL)
		}
	})
}

func TestReason(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{ErrExpired, reasonExpired},
		{fmt.Errorf("checking: %w", ErrExpired), reasonExpired},
		{ErrInvalid, reasonInvalidClaims},
		{errors.New("sub is not a UUID"), reasonInvalidClaims},
		{refuse(reasonBadSignature, errors.New("x")), reasonBadSignature},
		{fmt.Errorf("wrapped: %w", refuse(reasonUnknownKey, errors.New("x"))), reasonUnknownKey},
	} {
		if got := Reason(tc.err); got != tc.want {
			t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
