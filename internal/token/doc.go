// Package token issues and verifies access-token JWTs and makes opaque
// refresh tokens. It knows nothing of GraphQL, HTTP or databases.
//
// Verification is strict: the kid header must name one of the Issuer's keys
// and the token's alg must be that key's, so a token cannot choose how it
// is checked; exp, iss and aud are required, nbf is checked, and there is
// no leeway. Tokens carry typ "at+jwt" (RFC 9068).
//
// An Issuer's keys change while it runs (SetKeys), for rotation: one key
// signs, any number verify, and a token naming an unknown kid may make the
// Issuer reload its keys (Options.Reload) before it is refused.
package token
