package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"

	"github.com/latchkey/latchkey/graph/model"
	"github.com/latchkey/latchkey/internal/auth"
)

// directives implements @auth, @hasRole and @selfOrRole: the only place
// fields are guarded. The principal they find goes to the resolver in its context.
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
		SelfOrRole: func(ctx context.Context, obj any, next graphql.Resolver, role string) (any, error) {
			u, ok := obj.(*model.User)
			if !ok {
				return nil, fmt.Errorf("@selfOrRole on a field of %T, not of User", obj)
			}
			if inAuthPayload(ctx) {
				return next(ctx)
			}
			p, err := svc.AuthorizeUser(ctx, u.ID, role)
			if err != nil {
				return nil, err
			}
			return next(auth.WithPrincipal(ctx, p))
		},
	}
}

// inAuthPayload reports whether the field being resolved belongs to the
// user of an AuthPayload. register, login and refreshToken return one only
// to whoever just presented that user's credentials, before the caller has
// an access token to send.
func inAuthPayload(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	return fc != nil && fc.Parent != nil && fc.Parent.Object == "AuthPayload"
}
