package telemetry

import (
	"context"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
)

// Operation labels besides the schema's root fields. A label is a root
// field's name, never a name the client chose, so the label set is fixed.
const (
	// OperationInvalid is a request with no operation to run: a document
	// that does not parse or validate, or one refused before it ran.
	OperationInvalid = "invalid"
	// OperationMultiple asks for several different root fields.
	OperationMultiple = "multiple"
	// OperationIntrospection asks only for __schema, __type or __typename.
	OperationIntrospection = "introspection"
	// OperationOther is a root field the schema did not have at start.
	OperationOther = "other"
)

// GraphQL is the gqlgen extension that counts and times each GraphQL
// request by operation.
type GraphQL struct {
	metrics *Metrics
	// ops holds every operation label's series, resolved in Validate.
	ops map[string]operationSeries
}

type operationSeries struct {
	ok, failed prometheus.Counter
	duration   prometheus.Observer
}

var (
	_ graphql.HandlerExtension    = (*GraphQL)(nil)
	_ graphql.ResponseInterceptor = (*GraphQL)(nil)
)

// NewGraphQL returns the extension that records GraphQL requests in m.
func NewGraphQL(m *Metrics) *GraphQL {
	return &GraphQL{metrics: m}
}

// ExtensionName names the extension for gqlgen.
func (*GraphQL) ExtensionName() string { return "Telemetry" }

// Validate resolves the series of every root field of schema, and of the
// labels that stand for the rest.
func (g *GraphQL) Validate(schema graphql.ExecutableSchema) error {
	labels := []string{OperationInvalid, OperationMultiple, OperationIntrospection, OperationOther}
	s := schema.Schema()
	for _, def := range []*ast.Definition{s.Query, s.Mutation} {
		if def == nil {
			continue
		}
		for _, f := range def.Fields {
			if !strings.HasPrefix(f.Name, "__") {
				labels = append(labels, f.Name)
			}
		}
	}
	g.ops = make(map[string]operationSeries, len(labels))
	for _, l := range labels {
		g.ops[l] = operationSeries{
			ok:       g.metrics.requests.WithLabelValues(l, "ok"),
			failed:   g.metrics.requests.WithLabelValues(l, "error"),
			duration: g.metrics.duration.WithLabelValues(l),
		}
	}
	return nil
}

// InterceptResponse counts and times the response of one request, from
// when its body was read, and leaves the operation's label for the access
// log.
func (g *GraphQL) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	start := time.Now()
	op := OperationInvalid
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		if !oc.Stats.OperationStart.IsZero() {
			start = oc.Stats.OperationStart
		}
		op = g.label(oc.Operation)
	}
	if slot, ok := ctx.Value(slotKey{}).(*operationSlot); ok {
		slot.name = op
	}
	resp := next(ctx)
	series := g.ops[op]
	series.duration.Observe(time.Since(start).Seconds())
	if resp == nil || len(resp.Errors) > 0 {
		series.failed.Inc()
	} else {
		series.ok.Inc()
	}
	return resp
}

// label is the operation label of op.
func (g *GraphQL) label(op *ast.OperationDefinition) string {
	if op == nil {
		return OperationInvalid
	}
	name := ""
	introspection := true
	var walk func(ast.SelectionSet) bool
	walk = func(set ast.SelectionSet) bool {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if strings.HasPrefix(s.Name, "__") {
					continue
				}
				introspection = false
				if name != "" && name != s.Name {
					return false
				}
				name = s.Name
			case *ast.InlineFragment:
				if !walk(s.SelectionSet) {
					return false
				}
			case *ast.FragmentSpread:
				if s.Definition != nil && !walk(s.Definition.SelectionSet) {
					return false
				}
			}
		}
		return true
	}
	switch {
	case !walk(op.SelectionSet):
		return OperationMultiple
	case introspection:
		return OperationIntrospection
	}
	if _, ok := g.ops[name]; !ok {
		return OperationOther
	}
	return name
}

// operationSlot receives the operation label of a request.
type operationSlot struct{ name string }

type slotKey struct{}

// WithOperationSlot returns ctx with room for the operation label of a
// GraphQL request, and a function that returns the label once the request
// has been served: "" when it was no GraphQL request.
func WithOperationSlot(ctx context.Context) (context.Context, func() string) {
	slot := &operationSlot{}
	return context.WithValue(ctx, slotKey{}, slot), func() string { return slot.name }
}
