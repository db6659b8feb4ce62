package token

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Errors of Parse. Every error Parse returns matches exactly one of them
// under errors.Is.
var (
	// ErrExpired is a token that would be valid but for its exp.
	ErrExpired = errors.New("token expired")
	// ErrInvalid is a token that is wrong in any other way: malformed, badly
	// signed, by an unknown key, for another issuer or audience, not yet
	// valid, without exp, sub or sid.
	ErrInvalid = errors.New("invalid token")
)

// accessTokenType is the typ header of access tokens (RFC 9068).
const accessTokenType = "at+jwt"

// maxTokenLen bounds the work an attacker can make Parse do.
const maxTokenLen = 8 << 10

// Claims are the claims of an access token.
type Claims struct {
	jwt.RegisteredClaims          // iss, sub, aud, exp, nbf, iat, jti
	SessionID            string   `json:"sid"`
	Roles                []string `json:"roles"`
	Scope                string   `json:"scope"` // the roles, space separated
	Email                string   `json:"email"`
	// EmailVerified says whether the user had proven, when the token was
	// issued, that they receive mail at Email.
	EmailVerified bool `json:"email_verified"`
}

// Subject is whom an access token is issued to.
type Subject struct {
	UserID, SessionID string
	Email             string
	EmailVerified     bool
	Roles             []string
}

// Options configure an Issuer.
type Options struct {
	Issuer   string           // the iss claim, required
	Audience string           // the aud claim, required
	TTL      time.Duration    // the lifetime of an access token, positive
	Now      func() time.Time // the clock; nil means time.Now
	// ClaimsNamespace, when not empty, adds Hasura-style claims under this
	// key (e.g. "https://hasura.io/jwt/claims"): x-hasura-user-id,
	// x-hasura-default-role and x-hasura-allowed-roles.
	ClaimsNamespace string
	// Leeway is the clock skew Parse allows on exp and nbf, for replicas
	// whose clocks drift apart.
	Leeway time.Duration
	// Reload, when not nil, is called when a token names a kid the Issuer
	// does not know; if it returns true (it changed the keys with SetKeys),
	// the token is checked once more. It limits its own rate.
	Reload func() bool
}

// Issuer signs access tokens with one key and verifies them with a set of
// keys that includes it. SetKeys replaces the keys while it runs, for
// rotation. It is safe for concurrent use.
type Issuer struct {
	issuer    string
	audience  string
	ttl       time.Duration
	now       func() time.Time
	namespace string
	leeway    time.Duration
	reload    func() bool
	keys      atomic.Pointer[keySet]
}

// keySet is the signing key and the verification keys of an Issuer at one
// time, with the parser that admits their algorithms.
type keySet struct {
	signing Key
	keys    []Key          // verification keys, the signing key first
	byID    map[string]Key // keys by kid
	parser  *jwt.Parser
	jwks    JWKSet // the public keys, as JWKS serves them
	// verified are the access tokens these keys verified.
	verified verified
}

// reservedClaims are the claims a namespace may not replace.
var reservedClaims = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "roles", "scope", "email"}

// NewIssuer returns an Issuer that signs with signing, which must hold
// private material, and verifies with signing and verify. Keys with the same
// id must be the same key.
func NewIssuer(opts Options, signing Key, verify ...Key) (*Issuer, error) {
	var errs []error
	if opts.Issuer == "" {
		errs = append(errs, errors.New("empty issuer"))
	}
	if opts.Audience == "" {
		errs = append(errs, errors.New("empty audience"))
	}
	if opts.TTL <= 0 {
		errs = append(errs, fmt.Errorf("access token TTL %v, want more than 0", opts.TTL))
	}
	if slices.Contains(reservedClaims, opts.ClaimsNamespace) {
		errs = append(errs, fmt.Errorf("claims namespace %q is a claim of its own", opts.ClaimsNamespace))
	}
	i := &Issuer{
		issuer:    opts.Issuer,
		audience:  opts.Audience,
		ttl:       opts.TTL,
		now:       opts.Now,
		namespace: opts.ClaimsNamespace,
		leeway:    opts.Leeway,
		reload:    opts.Reload,
	}
	if i.now == nil {
		i.now = time.Now
	}
	if err := i.SetKeys(signing, verify...); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return i, nil
}

// SetKeys makes signing the key new tokens are signed with, and signing and
// verify the keys tokens are verified with, replacing the keys i had. It
// checks the keys as NewIssuer does and changes nothing when they are wrong.
func (i *Issuer) SetKeys(signing Key, verify ...Key) error {
	var errs []error
	if !signing.canSign() {
		errs = append(errs, fmt.Errorf("signing key %v cannot sign", signing))
	}
	ks := &keySet{signing: signing, byID: make(map[string]Key), jwks: JWKSet{Keys: []JWK{}}}
	// Every public-key algorithm passes the parser, so that a token of a
	// key rotated in meanwhile reaches key (and a reload); key pins each
	// token to its key's algorithm. HS256 passes only with a shared secret.
	algs := []string{algES256, algRS256, algEdDSA}
	for _, k := range append([]Key{signing}, verify...) {
		if k.method == nil {
			errs = append(errs, errors.New("zero verification key"))
			continue
		}
		if k.alg == algHS256 && len(k.secret) == 0 {
			errs = append(errs, errors.New("empty HMAC secret"))
			continue
		}
		if seen, ok := ks.byID[k.id]; ok {
			if !seen.sameKey(k) {
				errs = append(errs, fmt.Errorf("two different keys with id %q", k.id))
			}
			continue
		}
		ks.byID[k.id] = k
		ks.keys = append(ks.keys, k)
		if jwk, ok := k.PublicJWK(); ok {
			ks.jwks.Keys = append(ks.jwks.Keys, jwk)
		}
		if !slices.Contains(algs, k.alg) {
			algs = append(algs, k.alg)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	ks.parser = jwt.NewParser(
		jwt.WithValidMethods(algs),
		jwt.WithStrictDecoding(),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(i.leeway),
		jwt.WithIssuer(i.issuer),
		jwt.WithAudience(i.audience),
		jwt.WithTimeFunc(i.now),
	)
	i.keys.Store(ks)
	return nil
}

// SigningKeyID returns the kid of the key new tokens are signed with.
func (i *Issuer) SigningKeyID() string { return i.keys.Load().signing.id }

// TTL returns the lifetime of the access tokens i issues.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// Issue signs an access token for sub: its user in its session, with the
// user's email, roles and whether the email is verified. It returns the
// token and its claims.
func (i *Issuer) Issue(sub Subject) (string, *Claims, error) {
	subject, sessionID, email, roles := sub.UserID, sub.SessionID, sub.Email, sub.Roles
	if subject == "" || sessionID == "" {
		return "", nil, errors.New("issuing access token: empty subject or session id")
	}
	jti, err := uuid.NewRandom()
	if err != nil {
		return "", nil, fmt.Errorf("issuing access token: %w", err)
	}
	now := i.now()
	roles = append([]string{}, roles...) // "roles": [] rather than null
	claims := &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{i.audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(i.ttl)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        jti.String(),
		},
		SessionID:     sessionID,
		Roles:         roles,
		Scope:         strings.Join(roles, " "),
		Email:         email,
		EmailVerified: sub.EmailVerified,
	}
	var body jwt.Claims = claims
	if i.namespace != "" {
		body = &namespacedClaims{Claims: claims, namespace: i.namespace}
	}
	signing := i.keys.Load().signing
	t := jwt.NewWithClaims(signing.method, body)
	t.Header["kid"] = signing.id
	// RFC 9068: the header says this is an access token, so that it cannot
	// pass for an ID token or any other JWT.
	t.Header["typ"] = accessTokenType
	signed, err := t.SignedString(signing.signingKey())
	if err != nil {
		return "", nil, fmt.Errorf("signing access token with %v: %w", signing, err)
	}
	return signed, claims, nil
}

// Parse verifies an access token and returns its claims. Its errors match
// ErrExpired when the token is valid but for its exp, and ErrInvalid for
// everything else; Reason says more. A token that is both expired and wrong
// in some other way is ErrInvalid. A token the current keys verified before
// is not verified again, only checked for expiry; callers must not change
// the claims' slices and dates, which such calls share.
func (i *Issuer) Parse(token string) (*Claims, error) {
	if len(token) > maxTokenLen {
		return nil, refuse(reasonMalformed, fmt.Errorf("%d bytes, more than %d", len(token), maxTokenLen))
	}
	if !isCompactJWS(token) {
		return nil, refuse(reasonMalformed, errors.New("not base64url segments"))
	}
	claims, err := i.parse(token)
	if errors.Is(err, errUnknownKey) && i.reload != nil && i.reload() {
		claims, err = i.parse(token)
	}
	switch {
	case err == nil:
		return claims, nil
	case errors.Is(err, errUnknownKey):
		return nil, refuse(reasonUnknownKey, err)
	case errors.Is(err, errNotAccessToken), errors.Is(err, errNoSubject):
		return nil, refuse(reasonInvalidClaims, err)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, refuse(reasonMalformed, err)
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		if onlyExpired(err) && claims.Subject != "" && claims.SessionID != "" {
			return nil, &parseError{reason: reasonExpired, kind: ErrExpired, cause: err}
		}
		return nil, refuse(reasonInvalidClaims, err)
	default: // signature invalid, algorithm refused or unknown
		return nil, refuse(reasonBadSignature, err)
	}
}

// parse runs golang-jwt's checks of token with the keys i has now, or, for
// a token those keys verified before, checks only that it has not expired
// since.
func (i *Issuer) parse(token string) (*Claims, error) {
	ks := i.keys.Load()
	if c, ok := ks.verified.get(token); ok {
		// golang-jwt's rule for exp: valid while now is before exp plus the
		// leeway. nbf and iat, which passed, cannot fail later.
		if i.now().Before(c.ExpiresAt.Add(i.leeway)) {
			claims := *c
			return &claims, nil
		}
		ks.verified.forget(token)
	}
	claims := &Claims{}
	t, err := ks.parser.ParseWithClaims(token, claims, ks.key)
	if err == nil {
		// A token whose signature verifies but whose typ is not an access
		// token's (RFC 9068) is no access token: a JWT signed with a shared
		// secret for another purpose, say.
		if typ, _ := t.Header["typ"].(string); !strings.EqualFold(typ, accessTokenType) && !strings.EqualFold(typ, "application/"+accessTokenType) {
			err = fmt.Errorf("%w: %q", errNotAccessToken, typ)
		}
	}
	if err == nil && (claims.Subject == "" || claims.SessionID == "") {
		err = errNoSubject
	}
	if err == nil {
		c := *claims
		ks.verified.put(token, &c)
	}
	return claims, err
}

var (
	errUnknownKey     = errors.New("unknown kid")
	errAlgorithmKey   = errors.New("algorithm is not the key's")
	errNotAccessToken = errors.New("typ is not at+jwt")
	errNoSubject      = errors.New("missing sub or sid")
)

// key finds the verification key of t by its kid and pins the algorithm to
// the key's: a token may not choose how it is checked.
func (ks *keySet) key(t *jwt.Token) (any, error) {
	kid, ok := t.Header["kid"].(string)
	if !ok {
		return nil, fmt.Errorf("%w: no kid header", errUnknownKey)
	}
	k, ok := ks.byID[kid]
	if !ok {
		return nil, fmt.Errorf("%w %q", errUnknownKey, kid)
	}
	if t.Method == nil || t.Method.Alg() != k.alg {
		return nil, fmt.Errorf("%w: token %v, key %s", errAlgorithmKey, t.Header["alg"], k.alg)
	}
	return k.verificationKey(), nil
}

// isCompactJWS reports whether token has only the characters of three
// base64url segments, so that no decoder leniency (line breaks, padding)
// lets two spellings of one token through.
func isCompactJWS(token string) bool {
	for _, c := range []byte(token) {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// onlyExpired reports whether the claims error err of golang-jwt says that
// exp has passed and nothing else.
func onlyExpired(err error) bool {
	expired := false
	for _, leaf := range leaves(err) {
		switch leaf {
		case jwt.ErrTokenExpired: //nolint:errorlint // leaves are unwrapped already
			expired = true
		case jwt.ErrTokenInvalidClaims:
		default:
			return false
		}
	}
	return expired
}

// leaves returns the errors at the ends of err's tree of wrapped errors.
func leaves(err error) []error {
	switch e := err.(type) { //nolint:errorlint // walks the tree itself
	case interface{ Unwrap() []error }:
		var out []error
		for _, inner := range e.Unwrap() {
			out = append(out, leaves(inner)...)
		}
		return out
	case interface{ Unwrap() error }:
		if inner := e.Unwrap(); inner != nil {
			return leaves(inner)
		}
	}
	return []error{err}
}

// JWKS returns the public keys that verify i's tokens, for
// /.well-known/jwks.json, as SetKeys encoded them; callers must not change
// it. HMAC keys are never in it, so with only a shared secret its Keys are
// empty (not nil).
func (i *Issuer) JWKS() JWKSet {
	return i.keys.Load().jwks
}
