package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/latchkey/latchkey/internal/auth"
)

// directives implements @auth and @hasRole: the only place fields are
// guarded. The principal they find goes to the resolver in its context.
func directives(svc *auth.Service) DirectiveRoot {
	return DirectiveRoot{
		Auth: func(ctx context.Context, _ any, next graphql.Resolver) (any, error) {
			p, err := svc.Authenticate(ctx)
			if err != nil {
				return nil, err
			}
			return next(auth.WithPrincipal(ctx, p))
		},
		HasRole: func(ctx context.Context, _ any, next graphql.Resolver, role string) (any, error) {
			p, err := svc.Authorize(ctx, role)
			if err != nil {
				return nil, err
			}
			return next(auth.WithPrincipal(ctx, p))
		},
	}
}
