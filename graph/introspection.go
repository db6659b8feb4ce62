package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// introspectionGate decides introspection itself instead of gqlgen's
// switch, which would also turn off federation's _service: a router
// composes the supergraph from _service { sdl }, in production too. With
// introspection off, an operation that asks __schema or __type is refused
// before any resolver runs; everything else, _service included, runs.
type introspectionGate struct {
	enabled bool
}

var (
	_ graphql.HandlerExtension        = introspectionGate{}
	_ graphql.OperationContextMutator = introspectionGate{}
)

func (introspectionGate) ExtensionName() string { return "IntrospectionGate" }

func (introspectionGate) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext refuses introspection when it is off, and lets
// gqlgen's introspection resolvers (and _service) run otherwise.
func (g introspectionGate) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if !g.enabled && oc.Operation != nil && introspects(oc.Operation.SelectionSet) {
		// gqlgen's code for a document the schema refuses, as Apollo Server
		// answers an introspection query with introspection off.
		return refusal(errcode.ValidationFailed, "introspection is disabled; a federation router reads the schema from _service { sdl }")
	}
	oc.DisableIntrospection = false
	return nil
}

// introspects reports whether the root selection set asks __schema or
// __type, fragments included. Validation allows them nowhere else.
func introspects(set ast.SelectionSet) bool {
	for f := range fields(set) {
		if isIntrospection(f) {
			return true
		}
	}
	return false
}
