package telemetry

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/internal/auth"
)

// schemaStub is an executable schema with the root fields the labels need.
type schemaStub struct{ graphql.ExecutableSchema }

func (schemaStub) Schema() *ast.Schema {
	return &ast.Schema{
		Query:    &ast.Definition{Fields: ast.FieldList{{Name: "me"}, {Name: "validateToken"}, {Name: "__schema"}}},
		Mutation: &ast.Definition{Fields: ast.FieldList{{Name: "login"}}},
	}
}

func newExtension(t testing.TB) *GraphQL {
	t.Helper()
	g := NewGraphQL(NewMetrics(&sql.DB{}), nil)
	if err := g.Validate(schemaStub{}); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestOperationLabel(t *testing.T) {
	g := newExtension(t)
	tests := []struct{ doc, want string }{
		{`{ me { id } }`, "me"},
		{`query Anything { me { id } }`, "me"},
		{`mutation { a: login(input: {}) { accessToken } b: login(input: {}) { accessToken } }`, "login"},
		{`{ me { id } __typename }`, "me"},
		{`{ ... on Query { me { id } } }`, "me"},
		{`{ me { id } validateToken(token: "") { valid } }`, OperationMultiple},
		{`{ me { id } ... on Query { validateToken(token: "") { valid } } }`, OperationMultiple},
		{`{ __schema { types { name } } __typename }`, OperationIntrospection},
		{`{ somethingNew }`, OperationOther},
	}
	for _, tt := range tests {
		doc := parseLinked(t, tt.doc)
		if got := g.label(doc.Operations[0]); got != tt.want {
			t.Errorf("label(%q) = %q, want %q", tt.doc, got, tt.want)
		}
	}
	if got := g.label(nil); got != OperationInvalid {
		t.Errorf("label(nil) = %q, want %q", got, OperationInvalid)
	}
}

// TestOperationLabelFragmentFanOut labels documents whose fragments spread
// each other sixteen times over, twenty deep: more spreads than an int
// counts. The bound is for liveness only: walking every spread would take
// hours.
func TestOperationLabelFragmentFanOut(t *testing.T) {
	g := newExtension(t)
	tests := []struct{ name, typ, leaf, want string }{
		{"one root field", "Query", "me { id }", "me"},
		{"introspection", "Query", "__typename", OperationIntrospection},
		{"two root fields in the last", "Query", `me { id } validateToken(token: "") { valid }`, OperationMultiple},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString("{ ...f0 }")
			for i := range 20 {
				fmt.Fprintf(&b, " fragment f%d on %s {%s }", i, tt.typ, strings.Repeat(fmt.Sprintf(" ...f%d", i+1), 16))
			}
			fmt.Fprintf(&b, " fragment f20 on %s { %s }", tt.typ, tt.leaf)
			op := parseLinked(t, b.String()).Operations[0]
			done := make(chan string, 1)
			go func() { done <- g.label(op) }()
			select {
			case got := <-done:
				if got != tt.want {
					t.Errorf("label(fan-out to %q) = %q, want %q", tt.leaf, got, tt.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("label(fan-out): no answer within 10s")
			}
		})
	}
}

// parseLinked parses doc and points its fragment spreads at their
// fragments, as validation does.
func parseLinked(t *testing.T, doc string) *ast.QueryDocument {
	t.Helper()
	qd, err := parser.ParseQuery(&ast.Source{Input: doc})
	if err != nil {
		t.Fatalf("parsing %q: %v", doc, err)
	}
	var link func(ast.SelectionSet)
	link = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				link(s.SelectionSet)
			case *ast.InlineFragment:
				link(s.SelectionSet)
			case *ast.FragmentSpread:
				s.Definition = qd.Fragments.ForName(s.Name)
			}
		}
	}
	for _, op := range qd.Operations {
		link(op.SelectionSet)
	}
	for _, f := range qd.Fragments {
		link(f.SelectionSet)
	}
	return qd
}

func TestLogHandlerAddsRequestAndTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(NewLogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := auth.WithRequest(context.Background(), &auth.Request{ID: "req-1"})
	ctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID}))

	logger.InfoContext(ctx, "in a request")
	logger.Info("outside any request")
	dec := json.NewDecoder(&buf)
	var in, out map[string]any
	if err := dec.Decode(&in); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"request_id": "req-1", "trace_id": traceID.String(), "span_id": spanID.String(), "component": "test"} {
		if in[k] != want {
			t.Errorf("line in a request: %s = %v, want %s", k, in[k], want)
		}
	}
	for _, k := range []string{"request_id", "trace_id", "span_id"} {
		if _, ok := out[k]; ok {
			t.Errorf("line outside any request has %s", k)
		}
	}
}

// BenchmarkObserve is what the use cases pay per login or refresh.
func BenchmarkObserve(b *testing.B) {
	m := NewMetrics(&sql.DB{})
	for b.Loop() {
		m.ObserveLogin(auth.LoginSucceeded)
		m.ObserveRefresh(auth.RefreshRotated)
		m.ObservePasswordHash(50 * time.Millisecond)
	}
}

// BenchmarkInterceptResponse is what every GraphQL request pays for its
// count, its latency and its label.
func BenchmarkInterceptResponse(b *testing.B) {
	g := newExtension(b)
	doc, err := parser.ParseQuery(&ast.Source{Input: `query Me { me { id email } }`})
	if err != nil {
		b.Fatal(err)
	}
	ctx := graphql.WithOperationContext(context.Background(), &graphql.OperationContext{
		Operation: doc.Operations[0],
		Stats:     graphql.Stats{OperationStart: time.Now()},
	})
	resp := &graphql.Response{}
	next := func(context.Context) *graphql.Response { return resp }
	for b.Loop() {
		g.InterceptResponse(ctx, next)
	}
}
