// Package token issues and verifies access-token JWTs and makes opaque
// refresh tokens. It knows nothing of GraphQL, HTTP or databases.
//
// Verification is strict: the kid header must name one of the Issuer's keys
// and the token's alg must be that key's, so a token cannot choose how it
// is checked; exp, iss and aud are required, nbf is checked, and there is
// no leeway.
package token
