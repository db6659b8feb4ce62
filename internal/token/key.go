package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"

	"github.com/golang-jwt/jwt/v5"
)

// The algorithms a Key can have, as JWS names them.
const (
	algHS256 = "HS256"
	algES256 = "ES256"
	algRS256 = "RS256"
	algEdDSA = "EdDSA"
)

// hmacKeyID is the kid of every HS256 key. It is a constant: a kid derived
// from the secret would let anyone test guesses of a weak secret offline.
const hmacKeyID = "hs256"

// minRSABits is the smallest RSA modulus accepted, as NIST SP 800-131A asks.
const minRSABits = 2048

// Key is one signing or verification key: its id (the JWT kid), its
// algorithm, and its key material. The zero Key is not usable. A Key never
// prints or logs its material.
type Key struct {
	id      string
	alg     string
	method  jwt.SigningMethod
	private crypto.Signer    // nil for HMAC and verify-only keys
	public  crypto.PublicKey // nil for HMAC keys
	secret  []byte           // HMAC keys only
}

// ID returns the key id, sent as the kid header of the tokens it signs.
func (k Key) ID() string { return k.id }

// Algorithm returns the JWS algorithm of the key: "HS256", "ES256", "RS256"
// or "EdDSA".
func (k Key) Algorithm() string { return k.alg }

// String describes the key without its material.
func (k Key) String() string {
	if k.alg == "" {
		return "token.Key{}"
	}
	return fmt.Sprintf("%s key %q", k.alg, k.id)
}

// GoString describes the key without its material, for %#v.
func (k Key) GoString() string { return k.String() }

// LogValue logs the key's id and algorithm, never its material.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kid", k.id), slog.String("alg", k.alg))
}

// HMACKey returns an HS256 key with the shared secret. Its kid is always
// "hs256".
func HMACKey(secret []byte) Key {
	return Key{
		id:     hmacKeyID,
		alg:    algHS256,
		method: jwt.SigningMethodHS256,
		secret: append([]byte(nil), secret...),
	}
}

// NewKey returns a signing key for private, with an algorithm given by its
// type: ES256 for an ECDSA P-256 key, RS256 for an RSA key of at least 2048
// bits, EdDSA for an Ed25519 key. Other keys are refused. An empty id is
// replaced by the RFC 7638 thumbprint of the public key.
func NewKey(id string, private crypto.Signer) (Key, error) {
	switch p := private.(type) {
	case *ecdsa.PrivateKey:
		if p == nil {
			return Key{}, errors.New("nil ECDSA key")
		}
	case *rsa.PrivateKey:
		if p == nil {
			return Key{}, errors.New("nil RSA key")
		}
	case ed25519.PrivateKey:
		if len(p) != ed25519.PrivateKeySize {
			return Key{}, fmt.Errorf("Ed25519 private key of %d bytes, want %d", len(p), ed25519.PrivateKeySize)
		}
	default:
		return Key{}, fmt.Errorf("unsupported private key type %T", private)
	}
	k, err := NewPublicKey(id, private.Public())
	if err != nil {
		return Key{}, err
	}
	k.private = private
	return k, nil
}

// NewPublicKey returns a verification-only key for public, with the
// algorithm rules of NewKey. An empty id is replaced by the RFC 7638
// thumbprint of the key.
func NewPublicKey(id string, public crypto.PublicKey) (Key, error) {
	k := Key{id: id, public: public}
	switch p := public.(type) {
	case *ecdsa.PublicKey:
		if p == nil || p.Curve != elliptic.P256() {
			return Key{}, errors.New("ECDSA key is not on curve P-256")
		}
		if _, err := p.Bytes(); err != nil {
			return Key{}, fmt.Errorf("invalid ECDSA key: %w", err)
		}
		k.alg, k.method = algES256, jwt.SigningMethodES256
	case *rsa.PublicKey:
		if p == nil || p.N == nil {
			return Key{}, errors.New("nil RSA key")
		}
		if n := p.N.BitLen(); n < minRSABits {
			return Key{}, fmt.Errorf("RSA key of %d bits, want at least %d", n, minRSABits)
		}
		if p.E < 3 || p.E%2 == 0 {
			return Key{}, fmt.Errorf("invalid RSA public exponent %d", p.E)
		}
		k.alg, k.method = algRS256, jwt.SigningMethodRS256
	case ed25519.PublicKey:
		if len(p) != ed25519.PublicKeySize {
			return Key{}, fmt.Errorf("Ed25519 public key of %d bytes, want %d", len(p), ed25519.PublicKeySize)
		}
		k.alg, k.method = algEdDSA, jwt.SigningMethodEdDSA
	default:
		return Key{}, fmt.Errorf("unsupported public key type %T", public)
	}
	if k.id == "" {
		k.id = k.thumbprint()
	}
	return k, nil
}

// GenerateES256 returns a new ES256 signing key whose id is its thumbprint.
func GenerateES256() (Key, error) {
	private, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("generating ES256 key: %w", err)
	}
	return NewKey("", private)
}

// MarshalPrivate returns the private key in PKCS #8 DER form, for storage.
// HMAC and verify-only keys have none to return.
func (k Key) MarshalPrivate() ([]byte, error) {
	if k.private == nil {
		return nil, fmt.Errorf("%v has no private key to marshal", k)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.private)
	if err != nil {
		return nil, fmt.Errorf("marshaling %v: %w", k, err)
	}
	return der, nil
}

// ParsePrivate returns the signing key of a PKCS #8 DER private key, as
// MarshalPrivate writes it. An empty id is replaced by the thumbprint.
func ParsePrivate(id string, der []byte) (Key, error) {
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return Key{}, fmt.Errorf("parsing PKCS #8 key: %w", err)
	}
	return signerKey(id, parsed)
}

// signerKey returns the signing key of a parsed private key.
func signerKey(id string, parsed any) (Key, error) {
	private, ok := parsed.(crypto.Signer)
	if !ok {
		return Key{}, fmt.Errorf("unsupported private key type %T", parsed)
	}
	return NewKey(id, private)
}

// canSign reports whether k holds what signing needs.
func (k Key) canSign() bool {
	if k.alg == algHS256 {
		return len(k.secret) > 0
	}
	return k.private != nil
}

// signingKey returns the key golang-jwt signs with for k's method.
func (k Key) signingKey() any {
	if k.alg == algHS256 {
		return k.secret
	}
	return k.private
}

// verificationKey returns the key golang-jwt verifies with for k's method.
func (k Key) verificationKey() any {
	if k.alg == algHS256 {
		return k.secret
	}
	return k.public
}

// sameKey reports whether k and o verify the same signatures.
func (k Key) sameKey(o Key) bool {
	if k.alg != o.alg {
		return false
	}
	if k.alg == algHS256 {
		return hmac.Equal(k.secret, o.secret)
	}
	pub, ok := k.public.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(o.public)
}

// JWK is one public key as RFC 7517 writes it, with the members of RFC 7518
// (EC and RSA) and RFC 8037 (OKP) that verifiers need.
type JWK struct {
	Kty string `json:"kty,omitempty"` // "EC", "RSA" or "OKP"
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"` // always "sig"
	Crv string `json:"crv,omitempty"` // "P-256" (EC) or "Ed25519" (OKP)
	X   string `json:"x,omitempty"`   // EC and OKP
	Y   string `json:"y,omitempty"`   // EC
	N   string `json:"n,omitempty"`   // RSA modulus
	E   string `json:"e,omitempty"`   // RSA exponent
}

// JWKSet is a JWK Set document, as served at /.well-known/jwks.json.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// MarshalJSON writes the set with "keys" an array, never null, as RFC 7517
// requires.
func (s JWKSet) MarshalJSON() ([]byte, error) {
	keys := s.Keys
	if keys == nil {
		keys = []JWK{}
	}
	return json.Marshal(struct {
		Keys []JWK `json:"keys"`
	}{keys})
}

// PublicJWK returns the public key of k as a JWK. It returns false for HMAC
// keys, which are never published, and for the zero Key.
func (k Key) PublicJWK() (JWK, bool) {
	jwk, ok := publicMembers(k.public)
	if !ok {
		return JWK{}, false
	}
	jwk.Kid, jwk.Alg, jwk.Use = k.id, k.alg, "sig"
	return jwk, true
}

// publicMembers returns the members of the JWK of public that its RFC 7638
// thumbprint covers.
func publicMembers(public crypto.PublicKey) (JWK, bool) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch p := public.(type) {
	case *ecdsa.PublicKey:
		// Uncompressed point: 0x04 || X || Y, each coordinate padded to the
		// field size, as RFC 7518 section 6.2.1.2 requires.
		point, err := p.Bytes()
		if err != nil {
			return JWK{}, false
		}
		size := (len(point) - 1) / 2
		return JWK{Kty: "EC", Crv: "P-256", X: b64(point[1 : 1+size]), Y: b64(point[1+size:])}, true
	case *rsa.PublicKey:
		return JWK{Kty: "RSA", N: b64(p.N.Bytes()), E: b64(big.NewInt(int64(p.E)).Bytes())}, true
	case ed25519.PublicKey:
		return JWK{Kty: "OKP", Crv: "Ed25519", X: b64(p)}, true
	}
	return JWK{}, false
}

// thumbprint returns the RFC 7638 JWK thumbprint of k's public key:
// base64url SHA-256 of its required members, in lexicographic order,
// without white space.
func (k Key) thumbprint() string {
	m, _ := publicMembers(k.public)
	var canonical string
	switch m.Kty {
	case "EC":
		canonical = fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, m.Crv, m.X, m.Y)
	case "RSA":
		canonical = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, m.E, m.N)
	case "OKP":
		canonical = fmt.Sprintf(`{"crv":%q,"kty":"OKP","x":%q}`, m.Crv, m.X)
	}
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
