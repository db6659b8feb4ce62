package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/lestrrat-go/jwx/v3/jwk"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/testdb"
)

// pemKey is a private key in PEM and its public key in PEM.
type pemKey struct {
	alg     string
	private string
	public  string
}

func newPEMKey(alg string, k crypto.Signer) (pemKey, error) {
	p, err := apitest.NewPEMKey(alg, k)
	return pemKey{alg: p.Alg, private: p.Private, public: p.Public}, err
}

// pemKeys makes one PEM key pair per algorithm, once per test binary: RSA
// key generation is slow.
func pemKeys(t testing.TB) map[string]pemKey {
	t.Helper()
	keys := map[string]pemKey{}
	for alg, p := range apitest.PEMKeys(t) {
		keys[alg] = pemKey{alg: p.Alg, private: p.Private, public: p.Public}
	}
	return keys
}

// getJSON fetches url and decodes its JSON body into v, returning the
// response headers.
func getJSON(t testing.TB, url string, v any) http.Header {
	t.Helper()
	return apitest.GetJSON(t, url, v)
}

// jwksBytes fetches the service's JWKS as it is served.
func jwksBytes(t testing.TB, s *testServer) []byte {
	t.Helper()
	var raw json.RawMessage
	getJSON(t, s.URL+"/.well-known/jwks.json", &raw)
	return raw
}

// verifyIndependently verifies tok with the keys of the JWKS alone, with
// go-jose and with jwx, neither of which shares code with golang-jwt, and
// returns the claims go-jose read.
func verifyIndependently(t *testing.T, jwks []byte, tok, issuer, audience string) map[string]any {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatalf("go-jose: decoding JWKS %s: %v", jwks, err)
	}
	parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatalf("go-jose: parsing %s: %v", tok, err)
	}
	if len(parsed.Headers) != 1 {
		t.Fatalf("go-jose: %d signatures, want 1", len(parsed.Headers))
	}
	h := parsed.Headers[0]
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("go-jose: JWKS has %d keys with kid %q, want 1: %s", len(keys), h.KeyID, jwks)
	}
	if keys[0].Algorithm != h.Algorithm || keys[0].Use != "sig" {
		t.Errorf("go-jose: JWK alg %q use %q, want the token's alg %q and use sig", keys[0].Algorithm, keys[0].Use, h.Algorithm)
	}
	var (
		std    josejwt.Claims
		claims map[string]any
	)
	if err := parsed.Claims(keys[0].Key, &std, &claims); err != nil {
		t.Fatalf("go-jose: verifying with JWKS key %q: %v", h.KeyID, err)
	}
	if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: issuer, AnyAudience: josejwt.Audience{audience}, Time: time.Now()}, 0); err != nil {
		t.Errorf("go-jose: claims %+v: %v", std, err)
	}

	jwxSet, err := jwk.Parse(jwks)
	if err != nil {
		t.Fatalf("jwx: parsing JWKS %s: %v", jwks, err)
	}
	if _, err := jwxjwt.Parse([]byte(tok), jwxjwt.WithKeySet(jwxSet), jwxjwt.WithIssuer(issuer), jwxjwt.WithAudience(audience),
		jwxjwt.WithValidate(true), jwxjwt.WithAcceptableSkew(0)); err != nil {
		t.Errorf("jwx: verifying %s with the JWKS: %v", tok, err)
	}
	return claims
}

// TestPrivateKeySources starts the service with a PEM key of each type,
// from JWT_PRIVATE_KEY and from JWT_PRIVATE_KEY_FILE, and checks that its
// tokens carry the key's algorithm, its thumbprint as kid and typ at+jwt,
// and that go-jose and jwx verify them from the JWKS alone.
func TestPrivateKeySources(t *testing.T) {
	t.Parallel()
	type keyCase struct{ alg, source string }
	cases := []keyCase{{"ES256", "database"}}
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		for _, source := range []string{"JWT_PRIVATE_KEY", "JWT_PRIVATE_KEY_FILE"} {
			cases = append(cases, keyCase{alg, source})
		}
	}
	for _, tc := range cases {
		alg := tc.alg
		t.Run(alg+"/"+tc.source, func(t *testing.T) {
			const issuer = "https://auth.example.com"
			env := testEnv(testdb.SQLiteMemory, "JWT_ISSUER", issuer)
			k := pemKeys(t)[alg]
			switch tc.source {
			case "JWT_PRIVATE_KEY":
				env[tc.source], env["DEBUG"] = k.private, "false"
			case "JWT_PRIVATE_KEY_FILE":
				path := filepath.Join(t.TempDir(), "private.pem")
				if err := os.WriteFile(path, []byte(k.private), 0o600); err != nil {
					t.Fatal(err)
				}
				env[tc.source], env["DEBUG"] = path, "false"
			}
			s := startServer(t, env)
			p := s.register(t, uniqueEmail(t, "pem"))
			h := headerOf(t, p.AccessToken)
			if h["alg"] != alg || h["typ"] != "at+jwt" {
				t.Errorf("header = %v, want alg %s and typ at+jwt", h, alg)
			}
			jwks := jwksBytes(t, s)
			var set struct{ Keys []map[string]any }
			if err := json.Unmarshal(jwks, &set); err != nil {
				t.Fatal(err)
			}
			// Database keys have a second key introduced ahead.
			wantKeys := 1
			if tc.source == "database" {
				wantKeys = 2
			}
			if len(set.Keys) != wantKeys || set.Keys[0]["kid"] != h["kid"] || set.Keys[0]["alg"] != alg || set.Keys[0]["use"] != "sig" {
				t.Errorf("JWKS = %s, want %d keys, the first the %s key with kid %v", jwks, wantKeys, alg, h["kid"])
			}
			claims := verifyIndependently(t, jwks, p.AccessToken, issuer, "api")
			if claims["sub"] != p.User.ID {
				t.Errorf("verified sub = %v, want %s", claims["sub"], p.User.ID)
			}
			if r := s.post(t, p.AccessToken, meDoc, nil); len(r.Errors) > 0 {
				t.Errorf("me: %s", r.Body)
			}
		})
	}
}

// TestBadKeySettingsStopStart checks that a key the service cannot use
// stops it with an error naming the variable, and never the key.
func TestBadKeySettingsStopStart(t *testing.T) {
	t.Parallel()
	small, err := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // too small on purpose
	if err != nil {
		t.Fatal(err)
	}
	weak, err := newPEMKey("RS256", small)
	if err != nil {
		t.Fatal(err)
	}
	good := pemKeys(t)["ES256"]
	for _, tc := range []struct {
		name     string
		env      []string
		variable string
	}{
		{"RSA 1024", []string{"JWT_PRIVATE_KEY", weak.private}, "JWT_PRIVATE_KEY"},
		{"public key as private", []string{"JWT_PRIVATE_KEY", good.public}, "JWT_PRIVATE_KEY"},
		{"missing file", []string{"JWT_PRIVATE_KEY_FILE", "/nonexistent/private.pem"}, "JWT_PRIVATE_KEY_FILE"},
		{"private key as previous", []string{"JWT_PRIVATE_KEY", good.private, "JWT_PREVIOUS_PUBLIC_KEYS", weak.private}, "JWT_PREVIOUS_PUBLIC_KEYS"},
		{"secret and key", []string{"JWT_PRIVATE_KEY", good.private, "JWT_SECRET_KEY", "a shared secret of at least thirty-two bytes"}, "JWT_PRIVATE_KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(testdb.SQLiteMemory, tc.env...)
			var out strings.Builder
			err := run(t.Context(), []string{"latchkey"}, func(k string) string { return env[k] }, nil, &syncWriter{w: &out}, &syncWriter{w: &out})
			if err == nil || !strings.Contains(err.Error(), tc.variable) {
				t.Fatalf("run() = %v, want an error naming %s", err, tc.variable)
			}
			for _, k := range []pemKey{weak, good} {
				body := strings.Split(k.private, "\n")[1]
				if strings.Contains(err.Error(), body) || strings.Contains(out.String(), body) {
					t.Errorf("run() reveals the private key: %v\n%s", err, out.String())
				}
			}
		})
	}
}

// syncWriter serializes writes, for logs written from several goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestFileKeyRotation rotates file keys as docs/keys.md says, on a running
// service: introduce the next key's public key, swap the private key and
// keep the old public key, then drop it. Tokens of the old key keep working
// until the last step; new tokens carry the new kid at once after the swap.
func TestFileKeyRotation(t *testing.T) {
	t.Parallel()
	keys := pemKeys(t)
	oldKey, newKey := keys["ES256"], keys["RS256"]
	dir := t.TempDir()
	private, previous := filepath.Join(dir, "private.pem"), filepath.Join(dir, "previous.pem")
	write := func(path, data string) {
		t.Helper()
		// As Kubernetes updates a mounted Secret: write aside, rename over.
		if err := os.WriteFile(path+".tmp", []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	write(private, oldKey.private)
	write(previous, "")
	s := startServer(t, testEnv(testdb.SQLiteMemory,
		"JWT_PRIVATE_KEY_FILE", private, "JWT_PREVIOUS_PUBLIC_KEYS_FILE", previous, "JWT_KEYS_REFRESH_INTERVAL", "1s"))
	p := s.register(t, uniqueEmail(t, "filerotation"))
	oldKid := headerOf(t, p.AccessToken)["kid"].(string)

	kids := func() []string { return apitest.JWKSKids(t, s.URL) }

	// 1. Introduce the new key ahead: published, not signing.
	write(previous, newKey.public)
	apitest.Eventually(t, 20*time.Second, "new key published", func() bool { return len(kids()) == 2 })
	if kid := headerOf(t, s.login(t, p.User.Email, testPassword).AccessToken)["kid"]; kid != oldKid {
		t.Errorf("kid while the new key is only introduced = %v, want the old %s", kid, oldKid)
	}
	newKid := kids()[1]

	// 2. Promote it: the new key signs, the old one still verifies.
	write(private, newKey.private)
	write(previous, oldKey.public)
	apitest.Eventually(t, 20*time.Second, "new key signing", func() bool { return kids()[0] == newKid })
	fresh := s.login(t, p.User.Email, testPassword)
	if kid := headerOf(t, fresh.AccessToken)["kid"]; kid != newKid {
		t.Errorf("kid after the swap = %v, want %s", kid, newKid)
	}
	for name, tok := range map[string]string{"old": p.AccessToken, "new": fresh.AccessToken} {
		if r := s.post(t, tok, meDoc, nil); len(r.Errors) > 0 {
			t.Errorf("me with the %s key's token: %s", name, r.Body)
		}
	}

	// 3. Retire the old key: its tokens fail, the new key's work.
	write(previous, "")
	apitest.Eventually(t, 20*time.Second, "old key retired", func() bool { return !slices.Contains(kids(), oldKid) })
	r := s.post(t, p.AccessToken, meDoc, nil)
	wantUnauthenticated(t, "me with a retired key's token", r, "invalid")
	if v := validate(t, s, p.AccessToken); v.Valid || v.Reason == nil || *v.Reason != "unknown_key" {
		t.Errorf("validateToken(retired key's token) = %+v, want invalid with reason unknown_key", v)
	}
	if r := s.post(t, fresh.AccessToken, meDoc, nil); len(r.Errors) > 0 {
		t.Errorf("me with the new key's token: %s", r.Body)
	}
}

// TestOpenIDConfiguration checks the discovery document that verifiers
// which start from the issuer read: its keys' address comes from the
// configured issuer, whatever Host the request names.
func TestOpenIDConfiguration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, issuer, jwksURI string
		env                   []string
		algs                  []string
	}{
		{"database keys", "https://auth.example.com/", "https://auth.example.com/.well-known/jwks.json", nil, []string{"ES256"}},
		{"RSA key", "https://auth.example.com", "https://auth.example.com/.well-known/jwks.json", []string{"JWT_PRIVATE_KEY", pemKeys(t)["RS256"].private}, []string{"RS256"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, testEnv(testdb.SQLiteMemory, append([]string{"JWT_ISSUER", tc.issuer}, tc.env...)...))
			var doc struct {
				Issuer  string   `json:"issuer"`
				JWKSURI string   `json:"jwks_uri"`
				Algs    []string `json:"id_token_signing_alg_values_supported"`
			}
			req, err := http.NewRequest(http.MethodGet, s.URL+"/.well-known/openid-configuration", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = "evil.example.net"
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
				t.Fatalf("decoding the discovery document: %v", err)
			}
			if doc.Issuer != tc.issuer || doc.JWKSURI != tc.jwksURI || !slices.Equal(doc.Algs, tc.algs) {
				t.Errorf("openid-configuration with Host %s = %+v, want issuer %q, jwks_uri %q, algs %v", req.Host, doc, tc.issuer, tc.jwksURI, tc.algs)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=300" {
				t.Errorf("Cache-Control = %q, want public, max-age=300", cc)
			}
			if iss := claimsOf(t, s.register(t, uniqueEmail(t, "oidc")).AccessToken)["iss"]; iss != doc.Issuer {
				t.Errorf("token iss = %v, discovery issuer %q: they must be equal", iss, doc.Issuer)
			}
		})
	}
	t.Run("issuer not a URL", func(t *testing.T) {
		s := startServer(t, testEnv(testdb.SQLiteMemory, "JWT_ISSUER", "latchkey"))
		resp, err := http.Get(s.URL + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("openid-configuration with JWT_ISSUER=latchkey: status %d, want 404", resp.StatusCode)
		}
	})
}
