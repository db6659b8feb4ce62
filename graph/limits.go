package graph

import (
	"context"
	"fmt"
	"iter"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Codes of the refusals below, as the contract names them.
const (
	codeComplexityLimit = "COMPLEXITY_LIMIT_EXCEEDED"
	codeQueryTooLarge   = "QUERY_TOO_LARGE"
)

// shapeLimits refuses operations too large, too deep or with too many root
// fields, before any resolver runs: the document's size before it is even
// parsed, depth and root fields once it is validated.
type shapeLimits struct {
	maxBytes, maxDepth, maxRootFields int
}

var (
	_ graphql.HandlerExtension          = shapeLimits{}
	_ graphql.OperationParameterMutator = shapeLimits{}
	_ graphql.OperationContextMutator   = shapeLimits{}
)

func (shapeLimits) ExtensionName() string { return "ShapeLimits" }

func (shapeLimits) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters refuses a document over maxBytes unparsed.
func (l shapeLimits) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if len(p.Query) > l.maxBytes {
		return refusal(codeQueryTooLarge, "document of %d bytes is over the limit of %d", len(p.Query), l.maxBytes)
	}
	return nil
}

// MutateOperationContext refuses an operation over maxDepth or
// maxRootFields. Aliases count as fields: 100 aliased logins are 100 root
// fields.
func (l shapeLimits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if n := countFields(oc.Operation.SelectionSet); n > l.maxRootFields {
		return refusal(codeComplexityLimit, "operation has %d root fields, over the limit of %d", n, l.maxRootFields)
	}
	if d := depth(oc.Operation.SelectionSet, l.maxDepth+1); d > l.maxDepth {
		return refusal(codeComplexityLimit, "operation is deeper than the limit of %d", l.maxDepth)
	}
	return nil
}

// countFields counts the fields of set, those of its fragments included.
func countFields(set ast.SelectionSet) int {
	n := 0
	for range fields(set) {
		n++
	}
	return n
}

// fields yields the fields of set, those of its fragments included,
// without descending into the fields' own selections.
func fields(set ast.SelectionSet) iter.Seq[*ast.Field] {
	return func(yield func(*ast.Field) bool) {
		walkFields(set, yield)
	}
}

func walkFields(set ast.SelectionSet, yield func(*ast.Field) bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if !yield(s) {
				return false
			}
		case *ast.InlineFragment:
			if !walkFields(s.SelectionSet, yield) {
				return false
			}
		case *ast.FragmentSpread:
			if s.Definition != nil && !walkFields(s.Definition.SelectionSet, yield) {
				return false
			}
		}
	}
	return true
}

// isIntrospection reports whether f asks __schema or __type.
func isIntrospection(f *ast.Field) bool {
	return f.Name == "__schema" || f.Name == "__type"
}

// depth is how deep the fields of set nest, fragments expanded, counted no
// further than stop. Introspection (__schema, __type) is left to the
// complexity limit: tools' introspection queries nest deeper than any
// operation on our types needs to.
func depth(set ast.SelectionSet, stop int) int {
	if stop <= 0 {
		return 0
	}
	deepest := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if isIntrospection(s) {
				continue
			}
			d = 1 + depth(s.SelectionSet, stop-1)
		case *ast.InlineFragment:
			d = depth(s.SelectionSet, stop)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				d = depth(s.Definition.SelectionSet, stop)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}

func refusal(code, format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{
		Message:    fmt.Sprintf(format, args...),
		Extensions: map[string]any{"code": code},
	}
}
