package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// introspectionGate decides introspection itself instead of gqlgen's
// switch, which would also turn off federation's _service: a router
// composes the supergraph from _service { sdl }, in production too. With
// introspection off, an operation that asks __schema or __type is refused
// before any resolver runs; everything else, _service included, runs.
type introspectionGate struct {
	enabled bool
	es      graphql.ExecutableSchema
}

var (
	_ graphql.HandlerExtension        = (*introspectionGate)(nil)
	_ graphql.OperationContextMutator = (*introspectionGate)(nil)
)

func (*introspectionGate) ExtensionName() string { return "IntrospectionGate" }

// Validate keeps the schema, to analyse operations with.
func (g *introspectionGate) Validate(es graphql.ExecutableSchema) error {
	g.es = es
	return nil
}

// MutateOperationContext refuses introspection when it is off, and lets
// gqlgen's introspection resolvers (and _service) run otherwise.
//
// Validation allows __schema and __type among the root fields only, where
// the operation's shape finds them, through fragments too.
func (g *introspectionGate) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if !g.enabled && oc.Operation != nil && shapeOf(ctx, g.es, oc).introspects {
		// gqlgen's code for a document the schema refuses, as Apollo Server
		// answers an introspection query with introspection off.
		return refusal(errcode.ValidationFailed, "introspection is disabled; a federation router reads the schema from _service { sdl }")
	}
	oc.DisableIntrospection = false
	return nil
}
