package token

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

// b64 decodes unpadded base64url, failing t on error.
func b64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("decoding %q: %v", s, err)
	}
	return b
}

func TestThumbprintTestVectors(t *testing.T) {
	t.Parallel()
	// RFC 7638 section 3.1.
	rfc7638 := &rsa.PublicKey{
		N: new(big.Int).SetBytes(b64(t, "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")),
		E: 65537,
	}
	// RFC 8037 appendix A.3.
	rfc8037 := ed25519.PublicKey(b64(t, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"))
	for _, tc := range []struct {
		name   string
		public crypto.PublicKey
		want   string
	}{
		{"RFC 7638 RSA", rfc7638, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{"RFC 8037 Ed25519", rfc8037, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k, err := NewPublicKey("", tc.public)
			if err != nil {
				t.Fatalf("NewPublicKey: %v", err)
			}
			if k.ID() != tc.want {
				t.Errorf("NewPublicKey(\"\", %s).ID() = %q, want %q", tc.name, k.ID(), tc.want)
			}
		})
	}
}

// wantThumbprint computes the RFC 7638 thumbprint of jwk apart from the code
// under test: encoding/json sorts map keys and writes no white space.
func wantThumbprint(t *testing.T, jwk JWK) string {
	t.Helper()
	required := map[string]string{"kty": jwk.Kty}
	switch jwk.Kty {
	case "EC":
		required["crv"], required["x"], required["y"] = jwk.Crv, jwk.X, jwk.Y
	case "RSA":
		required["n"], required["e"] = jwk.N, jwk.E
	case "OKP":
		required["crv"], required["x"] = jwk.Crv, jwk.X
	}
	b, err := json.Marshal(required)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// publicKeyOf reads the public key of a JWK as a verifier would.
func publicKeyOf(t *testing.T, jwk JWK) crypto.PublicKey {
	t.Helper()
	switch jwk.Kty {
	case "EC":
		point := append(append([]byte{4}, b64(t, jwk.X)...), b64(t, jwk.Y)...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			t.Fatalf("JWK %+v: %v", jwk, err)
		}
		return pub
	case "RSA":
		return &rsa.PublicKey{N: new(big.Int).SetBytes(b64(t, jwk.N)), E: int(new(big.Int).SetBytes(b64(t, jwk.E)).Int64())}
	case "OKP":
		return ed25519.PublicKey(b64(t, jwk.X))
	}
	t.Fatalf("JWK of kty %q", jwk.Kty)
	return nil
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	keys := keysFor(t)
	i := newTestIssuer(t, testNow, keys["ES256"], keys["HS256"], keys["RS256"], keys["EdDSA"])
	set := i.JWKS()
	var kids []string
	for _, jwk := range set.Keys {
		kids = append(kids, jwk.Kid)
	}
	if diff := cmp.Diff([]string{keys["ES256"].ID(), keys["RS256"].ID(), keys["EdDSA"].ID()}, kids); diff != "" {
		t.Errorf("JWKS kids (-want +got):\n%s", diff)
	}
	wantMembers := map[string]string{"EC": "alg crv kid kty use x y", "RSA": "alg e kid kty n use", "OKP": "alg crv kid kty use x"}
	for _, jwk := range set.Keys {
		t.Run("alg="+jwk.Alg, func(t *testing.T) {
			t.Parallel()
			k := keys[jwk.Alg]
			raw, err := json.Marshal(jwk)
			if err != nil {
				t.Fatal(err)
			}
			var members map[string]any
			if err := json.Unmarshal(raw, &members); err != nil {
				t.Fatal(err)
			}
			var names []string
			for name := range members {
				names = append(names, name)
			}
			slices.Sort(names)
			if got := strings.Join(names, " "); got != wantMembers[jwk.Kty] {
				t.Errorf("JWK %s has members %q, want %q (never d, p, q, dp, dq, qi, k)", raw, got, wantMembers[jwk.Kty])
			}
			if jwk.Use != "sig" || jwk.Kid != k.ID() {
				t.Errorf("JWK %s: want use sig, kid %q", raw, k.ID())
			}
			if got, want := jwk.Kid, wantThumbprint(t, jwk); got != want {
				t.Errorf("JWK %s: kid %q, want its thumbprint %q", raw, got, want)
			}
			// A verifier with the JWK alone checks our tokens.
			pub := publicKeyOf(t, jwk)
			tok, _, err := newTestIssuer(t, testNow, k).Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: nil})
			if err != nil {
				t.Fatal(err)
			}
			_, err = jwt.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil },
				jwt.WithValidMethods([]string{jwk.Alg}), jwt.WithTimeFunc(at(testNow)))
			if err != nil {
				t.Errorf("verifying %q with JWK %s: %v", tok, raw, err)
			}
		})
	}
}

func TestJWKSEmpty(t *testing.T) {
	t.Parallel()
	hsOnly := newTestIssuer(t, testNow, keysFor(t)["HS256"])
	for _, tc := range []struct {
		name string
		set  JWKSet
	}{
		{"HS256 only", hsOnly.JWKS()},
		{"zero JWKSet", JWKSet{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tc.set)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := string(b), `{"keys":[]}`; got != want {
				t.Errorf("json.Marshal(%s JWKS) = %s, want %s", tc.name, got, want)
			}
		})
	}
	if _, ok := keysFor(t)["HS256"].PublicJWK(); ok {
		t.Errorf("HMACKey(...).PublicJWK() = _, true, want false")
	}
	if _, ok := (Key{}).PublicJWK(); ok {
		t.Errorf("Key{}.PublicJWK() = _, true, want false")
	}
}

func TestPrivateRoundTrip(t *testing.T) {
	t.Parallel()
	keys := keysFor(t)
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		t.Run("alg="+alg, func(t *testing.T) {
			t.Parallel()
			k := keys[alg]
			der, err := k.MarshalPrivate()
			if err != nil {
				t.Fatalf("MarshalPrivate: %v", err)
			}
			for _, id := range []string{"stored-id", ""} {
				parsed, err := ParsePrivate(id, der)
				if err != nil {
					t.Fatalf("ParsePrivate(%q): %v", id, err)
				}
				wantID := id
				if id == "" {
					wantID = k.ID() // the test keys have thumbprint ids
				}
				if parsed.ID() != wantID || parsed.Algorithm() != alg {
					t.Errorf("ParsePrivate(%q) = %v, want %s key %q", id, parsed, alg, wantID)
				}
				if !parsed.sameKey(k) {
					t.Errorf("ParsePrivate(%q) has another public key than the key marshaled", id)
				}
				again, err := parsed.MarshalPrivate()
				if err != nil || !bytes.Equal(again, der) {
					t.Errorf("MarshalPrivate after ParsePrivate = %x, %v, want %x", again, err, der)
				}
			}
			// Tokens signed with the parsed key verify with the original.
			parsed, _ := ParsePrivate(k.ID(), der)
			tok, _, err := newTestIssuer(t, testNow, parsed).Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: nil})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := newTestIssuer(t, testNow, k).Parse(tok); err != nil {
				t.Errorf("Parse(%q) = %v, want nil", tok, err)
			}
		})
	}
}

func TestGenerateES256(t *testing.T) {
	t.Parallel()
	a, errA := GenerateES256()
	b, errB := GenerateES256()
	if errA != nil || errB != nil {
		t.Fatalf("GenerateES256() = %v, %v", errA, errB)
	}
	if a.Algorithm() != "ES256" || a.ID() == b.ID() {
		t.Errorf("GenerateES256() = %v and %v, want two distinct ES256 keys", a, b)
	}
	jwk, _ := a.PublicJWK()
	if want := wantThumbprint(t, jwk); a.ID() != want {
		t.Errorf("GenerateES256().ID() = %q, want the thumbprint %q", a.ID(), want)
	}
}

func TestMarshalPrivateRefuses(t *testing.T) {
	t.Parallel()
	public, err := NewPublicKey("", keysFor(t)["ES256"].public)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []Key{keysFor(t)["HS256"], public, {}} {
		if der, err := k.MarshalPrivate(); err == nil {
			t.Errorf("%v.MarshalPrivate() = %x, nil, want an error", k, der)
		}
	}
}

func TestParsePrivateRefuses(t *testing.T) {
	t.Parallel()
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  any
	}{
		{"P-384", p384},
		{"RSA 1024", rsa1024},
		{"X25519", x25519},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			der, err := x509.MarshalPKCS8PrivateKey(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if k, err := ParsePrivate("", der); err == nil {
				t.Errorf("ParsePrivate(%s) = %v, nil, want an error", tc.name, k)
			}
		})
	}
	for _, der := range [][]byte{nil, []byte("garbage")} {
		if k, err := ParsePrivate("", der); err == nil {
			t.Errorf("ParsePrivate(%q) = %v, nil, want an error", der, k)
		}
	}
}

// otherSigner is a crypto.Signer of a kind NewKey does not know.
type otherSigner struct{}

func (otherSigner) Public() crypto.PublicKey { return []byte("public") }
func (otherSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, nil
}

func TestNewKeyRefuses(t *testing.T) {
	t.Parallel()
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rs := keysFor(t)["RS256"].public.(*rsa.PublicKey)
	for _, tc := range []struct {
		name    string
		private crypto.Signer
	}{
		{"P-384", p384},
		{"RSA 1024", rsa1024},
		{"nil ECDSA", (*ecdsa.PrivateKey)(nil)},
		{"nil RSA", (*rsa.PrivateKey)(nil)},
		{"short Ed25519", ed25519.PrivateKey(make([]byte, 10))},
		{"unknown signer", otherSigner{}},
		{"nil", nil},
	} {
		t.Run("private "+tc.name, func(t *testing.T) {
			t.Parallel()
			if k, err := NewKey("", tc.private); err == nil {
				t.Errorf("NewKey(%s) = %v, nil, want an error", tc.name, k)
			}
		})
	}
	for _, tc := range []struct {
		name   string
		public crypto.PublicKey
	}{
		{"P-384", p384.Public()},
		{"RSA 1024", rsa1024.Public()},
		{"RSA even exponent", &rsa.PublicKey{N: rs.N, E: 65536}},
		{"nil ECDSA", (*ecdsa.PublicKey)(nil)},
		{"nil RSA", (*rsa.PublicKey)(nil)},
		{"short Ed25519", ed25519.PublicKey(make([]byte, 10))},
		{"bytes", []byte("a secret")},
		{"nil", nil},
	} {
		t.Run("public "+tc.name, func(t *testing.T) {
			t.Parallel()
			if k, err := NewPublicKey("", tc.public); err == nil {
				t.Errorf("NewPublicKey(%s) = %v, nil, want an error", tc.name, k)
			}
		})
	}
}

func TestKeyHidesMaterial(t *testing.T) {
	t.Parallel()
	const secret = "a shared secret nobody may print"
	hs := HMACKey([]byte(secret))
	es := keysFor(t)["ES256"]
	raw, err := es.private.(*ecdsa.PrivateKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d := new(big.Int).SetBytes(raw).String()
	for _, tc := range []struct {
		name string
		key  Key
		hide string
	}{
		{"HS256", hs, secret},
		{"ES256", es, d},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logged bytes.Buffer
			slog.New(slog.NewJSONHandler(&logged, nil)).Info("key", "key", tc.key)
			printed := fmt.Sprintf("%v %+v %#v %s", tc.key, tc.key, tc.key, tc.key) + logged.String()
			if strings.Contains(printed, tc.hide) || !strings.Contains(printed, tc.key.ID()) {
				t.Errorf("printing and logging a key gave %q, want its id and not its material", printed)
			}
		})
	}
}
