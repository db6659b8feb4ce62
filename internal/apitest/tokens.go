package apitest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// HeaderOf decodes the header of a JWT without verifying it.
func HeaderOf(t testing.TB, tok string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// Tamper changes the email claim of a JWT, keeping its signature.
func Tamper(t testing.TB, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	claims["email"] = "mallory@example.com"
	raw, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// Validation is what validateToken answers.
type Validation struct {
	Valid     bool       `json:"valid"`
	Reason    *string    `json:"reason"`
	UserID    *string    `json:"userId"`
	SessionID *string    `json:"sessionId"`
	Roles     []string   `json:"roles"`
	ExpiresAt *time.Time `json:"expiresAt"`
}

// ValidateDoc asks validateToken for everything it answers.
const ValidateDoc = `query($t: String!) { validateToken(token: $t) { valid reason userId sessionId roles expiresAt } }`

// Validate asks s's validateToken about tok.
func (s *Server) Validate(t testing.TB, tok string) Validation {
	t.Helper()
	var v Validation
	s.Post(t, "", ValidateDoc, map[string]any{"t": tok}).Field(t, "validateToken", &v)
	return v
}

// GetJSON fetches url and decodes its JSON body into v, returning the
// response headers.
func GetJSON(t testing.TB, url string, v any) http.Header {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.Header
}

// PEMKey is a private key in PEM and its public key in PEM.
type PEMKey struct {
	Alg     string
	Private string
	Public  string
}

// testPEMKeys makes one PEM key pair per algorithm, once per test binary:
// RSA key generation is slow.
var testPEMKeys = sync.OnceValues(func() (map[string]PEMKey, error) {
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	keys := map[string]PEMKey{}
	for alg, k := range map[string]crypto.Signer{"RS256": rs, "ES256": ec, "EdDSA": ed} {
		keys[alg], err = NewPEMKey(alg, k)
		if err != nil {
			return nil, err
		}
	}
	return keys, nil
})

// NewPEMKey is k, for alg, in PEM.
func NewPEMKey(alg string, k crypto.Signer) (PEMKey, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return PEMKey{}, err
	}
	pub, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return PEMKey{}, err
	}
	return PEMKey{
		Alg:     alg,
		Private: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		Public:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
	}, nil
}

// PEMKeys are one key pair for each algorithm the service signs with
// (RS256, ES256, EdDSA), the same for the whole test binary.
func PEMKeys(t testing.TB) map[string]PEMKey {
	t.Helper()
	keys, err := testPEMKeys()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// JWKSKids returns the kids of the JWKS of the service at baseURL, in
// order.
func JWKSKids(t testing.TB, baseURL string) []string {
	t.Helper()
	var set struct{ Keys []struct{ Kid string } }
	GetJSON(t, baseURL+"/.well-known/jwks.json", &set)
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}
