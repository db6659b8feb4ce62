package telemetry

import (
	"context"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
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
// request by operation and, when tracing, runs it in a span of its own.
type GraphQL struct {
	metrics *Metrics
	tracer  trace.Tracer // nil when not tracing
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

// NewGraphQL returns the extension that records GraphQL requests in m,
// and traces them with tp unless tp is nil.
func NewGraphQL(m *Metrics, tp trace.TracerProvider) *GraphQL {
	return &GraphQL{metrics: m, tracer: Tracer(tp)}
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
	var oc *graphql.OperationContext
	if graphql.HasOperationContext(ctx) {
		oc = graphql.GetOperationContext(ctx)
		if !oc.Stats.OperationStart.IsZero() {
			start = oc.Stats.OperationStart
		}
		op = g.label(oc.Operation)
	}
	if slot, ok := ctx.Value(slotKey{}).(*operationSlot); ok {
		slot.name = op
	}
	var span trace.Span
	if g.tracer != nil {
		ctx, span = g.startSpan(ctx, oc, op, start)
	}
	resp := next(ctx)
	if span != nil {
		endSpan(span, resp)
	}
	series := g.ops[op]
	series.duration.Observe(time.Since(start).Seconds())
	if resp == nil || len(resp.Errors) > 0 {
		series.failed.Inc()
	} else {
		series.ok.Inc()
	}
	return resp
}

// startSpan starts the span of an operation labelled op, named as
// OpenTelemetry names GraphQL spans: its type and name, here the label. The
// document is no attribute: its arguments may be passwords and tokens.
func (g *GraphQL) startSpan(ctx context.Context, oc *graphql.OperationContext, op string, start time.Time) (context.Context, trace.Span) {
	kind := "graphql"
	attrs := []attribute.KeyValue{attribute.String("latchkey.operation", op)}
	if oc != nil && oc.Operation != nil {
		kind = string(oc.Operation.Operation)
		attrs = append(attrs, attribute.String("graphql.operation.type", kind))
		if oc.Operation.Name != "" {
			attrs = append(attrs, attribute.String("graphql.operation.name", oc.Operation.Name))
		}
	}
	return g.tracer.Start(ctx, kind+" "+op, trace.WithTimestamp(start), trace.WithAttributes(attrs...))
}

// endSpan records the error codes of resp on span and ends it; an internal
// error marks the span as failed.
func endSpan(span trace.Span, resp *graphql.Response) {
	if resp != nil && len(resp.Errors) > 0 {
		codes := make([]string, 0, len(resp.Errors))
		for _, e := range resp.Errors {
			code, _ := e.Extensions["code"].(string)
			codes = append(codes, code)
			if code == "INTERNAL_SERVER_ERROR" {
				span.SetStatus(otelcodes.Error, "internal server error")
			}
		}
		span.SetAttributes(attribute.StringSlice("graphql.error.codes", codes))
	}
	span.End()
}

// label is the operation label of op. It walks each fragment once,
// however often it is spread: a second walk finds no root field the first
// did not, and walking every spread of fragments that spread each other
// sixteen times over would take hours over a document of a kilobyte, on
// requests the limits refuse too.
func (g *GraphQL) label(op *ast.OperationDefinition) string {
	if op == nil {
		return OperationInvalid
	}
	name := ""
	introspection := true
	walked := map[string]bool{}
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
				if s.Definition == nil || walked[s.Name] {
					continue
				}
				walked[s.Name] = true
				if !walk(s.Definition.SelectionSet) {
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
