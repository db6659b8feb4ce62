// Package graph is Latchkey's GraphQL adapter: resolvers, directives, the
// error presenter and the conversion of Ent entities to GraphQL models. It
// holds no database client; every resolver calls one auth.Service method.
package graph

import "github.com/latchkey/latchkey/internal/auth"

// Resolver is the root resolver.
type Resolver struct {
	auth *auth.Service
}
