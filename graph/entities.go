package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"

	"github.com/latchkey/latchkey/internal/auth"
)

// entitiesGuard holds the rules of _entities, a field the federation
// plugin generates and the schema cannot put a directive on: the caller
// must be authenticated, as @auth requires, and every representation must
// be a User's, by id. It runs before the generated code reads the
// representations, so a malformed one gets BAD_USER_INPUT rather than
// that code's internal errors, and an unauthenticated caller learns
// nothing from how its representations are read. More than maxReps
// representations are refused as BAD_USER_INPUT.
func entitiesGuard(svc *auth.Service, maxReps int) graphql.FieldMiddleware {
	return func(ctx context.Context, next graphql.Resolver) (any, error) {
		fc := graphql.GetFieldContext(ctx)
		if fc == nil || fc.Object != "Query" || fc.Field.Name != "_entities" {
			return next(ctx)
		}
		p, err := svc.Authenticate(ctx)
		if err != nil {
			return nil, err
		}
		reps, _ := fc.Args["representations"].([]map[string]any)
		if len(reps) > maxReps {
			return nil, &auth.ValidationError{Field: "representations", Message: fmt.Sprintf("at most %d per request", maxReps)}
		}
		for _, rep := range reps {
			if _, ok := rep["id"].(string); !ok || rep["__typename"] != "User" {
				return nil, errRepresentations
			}
		}
		return next(auth.WithPrincipal(ctx, p))
	}
}
