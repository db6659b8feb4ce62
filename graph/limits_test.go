package graph

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/google/go-cmp/cmp"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/latchkey/latchkey/graph/model"
)

// testSchema is the executable schema with no services behind it: enough
// to parse, validate and analyse documents.
func testSchema(complexity ComplexityRoot) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{Resolvers: &Resolver{}, Complexity: complexity})
}

// operation parses and validates doc against es, as gqlgen does before
// any extension sees it.
func operation(t testing.TB, es graphql.ExecutableSchema, doc string) *ast.OperationDefinition {
	t.Helper()
	qd, errs := gqlparser.LoadQueryWithRules(es.Schema(), doc, nil)
	if len(errs) > 0 {
		t.Fatalf("document %.100q: %v", doc, errs)
	}
	return qd.Operations[0]
}

// ordinaryDocuments are documents that clients send, with their shape.
var ordinaryDocuments = []struct {
	name, doc string
	vars      map[string]any
	want      shape
}{
	{name: "typename", doc: `{ __typename }`, want: shape{rootFields: 1, depth: 1, complexity: 1}},
	{
		name: "me",
		doc:  `{ me { id email roles sessions { id current } } }`,
		want: shape{rootFields: 1, depth: 3, complexity: 7},
	},
	{
		name: "aliases",
		doc:  `{ a: me { id } b: me { id email } }`,
		want: shape{rootFields: 2, depth: 2, complexity: 5},
	},
	{
		name: "fragments and inline fragments",
		doc:  `query { ...Q } fragment Q on Query { me { ...U } } fragment U on User { id ... on User { email } }`,
		want: shape{rootFields: 1, depth: 2, complexity: 3},
	},
	{
		name: "a fragment spread twice counts twice",
		doc:  `{ me { ...U ...U } } fragment U on User { id }`,
		want: shape{rootFields: 1, depth: 2, complexity: 3},
	},
	{
		name: "a root fragment spread twice",
		doc:  `{ ...Q ...Q } fragment Q on Query { me { id } validateToken(token: "t") { valid } }`,
		want: shape{rootFields: 4, depth: 2, complexity: 8},
	},
	{
		name: "schema introspection",
		doc:  `{ __schema { types { name fields { name } } } }`,
		want: shape{rootFields: 1, introspects: true},
	},
	{
		name: "type introspection",
		doc:  `query { ...T } fragment T on Query { __type(name: "User") { name fields { name type { name ofType { name } } } } }`,
		want: shape{rootFields: 1, introspects: true, complexity: 8},
	},
	{
		name: "mutation",
		doc:  `mutation($p: String!) { login(input: {email: "a@example.com", password: $p}) { accessToken user { id } } }`,
		vars: map[string]any{"p": "secret"},
		want: shape{rootFields: 1, depth: 3, complexity: 4},
	},
	{
		name: "entities",
		doc:  `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id email } } }`,
		vars: map[string]any{"r": []any{map[string]any{"__typename": "User", "id": "1"}}},
		want: shape{rootFields: 1, depth: 2, complexity: 3},
	},
	{name: "service", doc: `{ _service { sdl } }`, want: shape{rootFields: 1, depth: 2, complexity: 2}},
	{
		name: "small fan-out",
		doc:  fragmentFanOut(3, 4, "{ me { ...f0 } }", "User", "id"),
		want: shape{rootFields: 1, depth: 2, complexity: 1 + 4*4*4},
	},
}

func TestAnalyse(t *testing.T) {
	es := testSchema(ComplexityRoot{})
	for _, tt := range ordinaryDocuments {
		t.Run(tt.name, func(t *testing.T) {
			got := analyse(t.Context(), es, operation(t, es, tt.doc), tt.vars)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(shape{})); diff != "" {
				t.Errorf("analyse(%q) (-want +got):\n%s", tt.doc, diff)
			}
		})
	}
}

// TestAnalyseComplexityIsGqlgens pins the complexity limit to gqlgen's
// numbers, which it replaces, with and without complexity functions in
// the schema.
func TestAnalyseComplexityIsGqlgens(t *testing.T) {
	var custom ComplexityRoot
	custom.Query.Me = func(child int) int { return 10 * child }
	custom.User.Sessions = func(child int) int { return 5 + child }
	custom.Mutation.Login = func(child int, _ model.LoginInput) int { return 0 } // under 1: gqlgen's default
	custom.Query.User = func(child int, id string) int { return len(id) * child }
	schemas := map[string]graphql.ExecutableSchema{
		"default":      testSchema(ComplexityRoot{}),
		"custom costs": testSchema(custom),
		"the schema's": testSchema(complexityRoot()),
	}
	docs := ordinaryDocuments
	docs = append(docs, struct {
		name, doc string
		vars      map[string]any
		want      shape
	}{name: "user", doc: `query($id: ID!) { user(id: $id) { id } }`, vars: map[string]any{"id": "12345"}})
	for _, d := range []struct{ name, doc string }{
		{"users default", `{ users { edges { cursor node { id email } } pageInfo { endCursor } totalCount } }`},
		{"users first", `{ users(first: 7) { edges { node { id auditEvents(first: 3) { edges { node { id type } } } } } } }`},
		{"users first over", `{ users(first: 1000) { edges { node { id } } } }`},
		{"audit events", `{ auditEvents(first: 9, filter: {types: [LOGIN_FAILED]}) { edges { node { id } } } }`},
		{"me audit events", `{ me { auditEvents { pageInfo { hasNextPage } } } }`},
	} {
		docs = append(docs, struct {
			name, doc string
			vars      map[string]any
			want      shape
		}{name: d.name, doc: d.doc})
	}
	for name, es := range schemas {
		for _, tt := range docs {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				op := operation(t, es, tt.doc)
				got := analyse(t.Context(), es, op, tt.vars).complexity
				want := complexity.Calculate(t.Context(), es, op, tt.vars)
				if got != want {
					t.Errorf("complexity of %q = %d, want gqlgen's %d", tt.doc, got, want)
				}
			})
		}
	}
}

// TestAnalyseFragmentFanOut analyses documents that expand to more fields
// than an int counts. Each must be answered, saturated, from the document
// as written; the bound is for liveness only: walking every spread would
// take hours.
func TestAnalyseFragmentFanOut(t *testing.T) {
	es := testSchema(ComplexityRoot{})
	tests := []struct {
		name, doc string
		want      shape
	}{
		{
			name: "root fields",
			doc:  fragmentFanOut(20, 16, "{ ...f0 }", "Query", "__typename"),
			want: shape{rootFields: math.MaxInt, depth: 1, complexity: math.MaxInt},
		},
		{
			name: "fields of one root field",
			doc:  fragmentFanOut(20, 16, "{ me { ...f0 } }", "User", "id"),
			want: shape{rootFields: 1, depth: 2, complexity: math.MaxInt},
		},
		{
			name: "introspection",
			doc:  fragmentFanOut(20, 16, `{ __type(name: "User") { ...f0 } }`, "__Type", "name"),
			want: shape{rootFields: 1, introspects: true, complexity: math.MaxInt},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := operation(t, es, tt.doc)
			got := within(t, 10*time.Second, func() shape { return analyse(t.Context(), es, op, nil) })
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(shape{})); diff != "" {
				t.Errorf("analyse(%d bytes of fan-out) (-want +got):\n%s", len(tt.doc), diff)
			}
		})
	}
}

// within returns what f returns, failing the test if it has not returned
// after d.
func within[T any](t *testing.T, d time.Duration, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(d):
		t.Fatalf("no answer within %v", d)
		panic("unreachable")
	}
}

// fragmentFanOut is operation, which spreads f0, and levels fragments on
// typ in which each spreads the next fan times; the last selects leaf.
func fragmentFanOut(levels, fan int, operation, typ, leaf string) string {
	var b strings.Builder
	b.WriteString(operation)
	for i := range levels {
		fmt.Fprintf(&b, " fragment f%d on %s {%s }", i, typ, strings.Repeat(fmt.Sprintf(" ...f%d", i+1), fan))
	}
	fmt.Fprintf(&b, " fragment f%d on %s { %s }", levels, typ, leaf)
	return b.String()
}

// TestListComplexity checks that a list costs its page size times its
// selection, nested lists multiplied, and that the limit counts it so.
func TestListComplexity(t *testing.T) {
	es := testSchema(complexityRoot())
	for _, tt := range []struct {
		doc  string
		want int
	}{
		// edges 1 + node (1 + id 1) = 3 per user
		{`{ users(first: 10) { edges { node { id } } } }`, 1 + 10*3},
		{`{ users { edges { node { id } } } }`, 1 + 20*3},
		// an out-of-range first counts as 100: the field refuses it
		{`{ users(first: 100000) { edges { node { id } } } }`, 1 + 100*3},
		// 5 users of 4 events each: node (1 + id 1 + auditEvents (1 + 4 * (edges 1 + node 2)))
		{`{ users(first: 5) { edges { node { id auditEvents(first: 4) { edges { node { id } } } } } } }`, 1 + 5*(1+1+1+(1+4*3))},
		{`{ auditEvents(first: 2) { pageInfo { hasNextPage } } }`, 1 + 2*2},
	} {
		op := operation(t, es, tt.doc)
		if got := analyse(t.Context(), es, op, nil).complexity; got != tt.want {
			t.Errorf("complexity of %s = %d, want %d", tt.doc, got, tt.want)
		}
	}
}
