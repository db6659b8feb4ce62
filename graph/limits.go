package graph

import (
	"context"
	"fmt"
	"math"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
)

// shapeLimits refuses operations too large, too deep, with too many root
// fields or too complex, before any resolver runs: the document's size
// before it is even parsed, the rest once it is validated, from one
// analysis of the document as written (see analyse).
type shapeLimits struct {
	maxBytes, maxTokens, maxDepth, maxRootFields, maxComplexity int
	es                                                          graphql.ExecutableSchema
}

var (
	_ graphql.HandlerExtension          = (*shapeLimits)(nil)
	_ graphql.OperationParameterMutator = (*shapeLimits)(nil)
	_ graphql.OperationContextMutator   = (*shapeLimits)(nil)
)

func (*shapeLimits) ExtensionName() string { return "ShapeLimits" }

// Validate keeps the schema, whose complexity functions the complexity
// limit asks.
func (l *shapeLimits) Validate(es graphql.ExecutableSchema) error {
	l.es = es
	return nil
}

// MutateOperationParameters refuses a document over maxBytes, or of more
// than maxTokens tokens, unparsed: validation compares the fields of a
// selection set pairwise (OverlappingFieldsCanBeMerged), so its work grows
// with the square of a document's fields, and a document of many small
// fields ({ me { id } me { id } ...}) costs seconds to validate within
// the byte limit alone.
func (l *shapeLimits) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if len(p.Query) > l.maxBytes {
		return refusal(codeQueryTooLarge, "document of %d bytes is over the limit of %d", len(p.Query), l.maxBytes)
	}
	if tokensOver(p.Query, l.maxTokens) {
		return refusal(codeQueryTooLarge, "document of more than %d tokens", l.maxTokens)
	}
	return nil
}

// tokensOver reports whether the document has more than limit tokens,
// reading no further than that. A lexical error ends the count: the parser
// reports it.
func tokensOver(doc string, limit int) bool {
	lex := lexer.New(&ast.Source{Input: doc})
	for n := 0; ; n++ {
		tok, err := lex.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return false
		}
		if n >= limit {
			return true
		}
	}
}

// MutateOperationContext refuses an operation over maxRootFields, maxDepth
// or maxComplexity. Aliases count as fields: 100 aliased logins are 100
// root fields. Complexity is gqlgen's: a field costs 1 plus its
// selections, or what the schema's complexity function for it says, and
// __schema costs nothing.
func (l *shapeLimits) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	s := shapeOf(ctx, l.es, oc)
	switch {
	case s.rootFields > l.maxRootFields:
		return refusal(codeComplexityLimit, "operation has %d root fields, over the limit of %d", s.rootFields, l.maxRootFields)
	case s.depth > l.maxDepth:
		return refusal(codeComplexityLimit, "operation is deeper than the limit of %d", l.maxDepth)
	case s.complexity > l.maxComplexity:
		return refusal(codeComplexityLimit, "operation has complexity %d, which exceeds the limit of %d", s.complexity, l.maxComplexity)
	}
	return nil
}

// shape is what the limits and the introspection gate know of an
// operation, or of one selection set in it.
type shape struct {
	// rootFields counts the fields of the selection set, those of its
	// fragments included, a fragment spread twice counted twice.
	rootFields int
	// introspects is whether one of those fields is __schema or __type.
	introspects bool
	// depth is how deep fields nest below the selection set,
	// introspection left out: tools' introspection queries nest deeper
	// than any operation on our types needs to, and the complexity limit
	// bounds them.
	depth int
	// complexity is what gqlgen's complexity.Calculate computes.
	complexity int
}

// add adds the shape of the selections o to those of s.
func (s *shape) add(o shape) {
	s.rootFields = addSat(s.rootFields, o.rootFields)
	s.introspects = s.introspects || o.introspects
	s.depth = max(s.depth, o.depth)
	s.complexity = addSat(s.complexity, o.complexity)
}

// shapeStats names the shape of an operation in its stats, where the
// introspection gate and the limits find it analysed once.
const shapeStats = "Shape"

// shapeOf returns the shape of oc's operation, analysing it on first use.
func shapeOf(ctx context.Context, es graphql.ExecutableSchema, oc *graphql.OperationContext) shape {
	if s, ok := oc.Stats.GetExtension(shapeStats).(shape); ok {
		return s
	}
	s := analyse(ctx, es, oc.Operation, oc.Variables)
	oc.Stats.SetExtension(shapeStats, s)
	return s
}

// analyse measures op in one walk of its document, fragments expanded in
// the counts but each analysed once, by name, whatever the number of its
// spreads: fragments that spread each other sixteen times over expand
// exponentially, and walking each spread would take hours over a document
// of a kilobyte. Counts saturate at math.MaxInt. Validation has refused
// fragment cycles; a cycle found anyway counts for nothing.
func analyse(ctx context.Context, es graphql.ExecutableSchema, op *ast.OperationDefinition, vars map[string]any) shape {
	a := analyser{ctx: ctx, es: es, schema: es.Schema(), vars: vars, fragments: map[string]shape{}}
	return a.selectionSet(op.SelectionSet)
}

type analyser struct {
	ctx    context.Context
	es     graphql.ExecutableSchema
	schema *ast.Schema
	vars   map[string]any
	// fragments holds the shape of each fragment analysed, by name.
	fragments map[string]shape
}

func (a *analyser) selectionSet(set ast.SelectionSet) shape {
	var s shape
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			s.add(a.field(sel))
		case *ast.InlineFragment:
			s.add(a.selectionSet(sel.SelectionSet))
		case *ast.FragmentSpread:
			s.add(a.fragment(sel))
		}
	}
	return s
}

func (a *analyser) fragment(spread *ast.FragmentSpread) shape {
	if s, ok := a.fragments[spread.Name]; ok {
		return s
	}
	if spread.Definition == nil {
		return shape{}
	}
	a.fragments[spread.Name] = shape{} // what a cycle back to it counts
	s := a.selectionSet(spread.Definition.SelectionSet)
	a.fragments[spread.Name] = s
	return s
}

// field is the shape of f as a selection: one field, and its own
// selections' depth and complexity as gqlgen's complexity walker counts
// them (github.com/99designs/gqlgen/complexity).
func (a *analyser) field(f *ast.Field) shape {
	s := shape{rootFields: 1, introspects: isIntrospection(f)}
	var typ *ast.Definition
	if f.Definition != nil {
		typ = a.schema.Types[f.Definition.Type.Name()]
	}
	if typ != nil && typ.Name == "__Schema" {
		return s
	}
	var child shape
	if typ == nil || typ.Kind == ast.Object || typ.Kind == ast.Interface || typ.Kind == ast.Union {
		child = a.selectionSet(f.SelectionSet)
	}
	if !s.introspects {
		s.depth = addSat(1, child.depth)
	}
	s.complexity = a.complexity(f, child.complexity)
	return s
}

// complexity is f's as gqlgen computes it, given that of its selections:
// the schema's complexity function for the field when it has one that
// says at least 1, else 1 plus child; on an interface, the costliest of
// its types'.
func (a *analyser) complexity(f *ast.Field, child int) int {
	if f.ObjectDefinition == nil {
		return addSat(1, child)
	}
	args := f.ArgumentMap(a.vars)
	if f.ObjectDefinition.Kind != ast.Interface {
		return a.fieldComplexity(f.ObjectDefinition, f.Name, child, args)
	}
	worst := 0
	for _, t := range a.schema.GetPossibleTypes(f.ObjectDefinition) {
		worst = max(worst, a.fieldComplexity(t, f.Name, child, args))
	}
	return worst
}

func (a *analyser) fieldComplexity(on *ast.Definition, field string, child int, args map[string]any) int {
	if c, ok := a.es.Complexity(a.ctx, on.Name, field, child, args); ok && c >= 1 {
		return c
	}
	return addSat(1, child)
}

// addSat adds counts a and b, at least 0 each, saturating at math.MaxInt.
func addSat(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// isIntrospection reports whether f asks __schema or __type.
func isIntrospection(f *ast.Field) bool {
	return f.Name == "__schema" || f.Name == "__type"
}

func refusal(code, format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{
		Message:    fmt.Sprintf(format, args...),
		Extensions: map[string]any{"code": code},
	}
}
