package telemetry

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/XSAM/otelsql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/internal/config"
)

// instrumentation names the tracer of the service's own spans.
const instrumentation = "github.com/latchkey/latchkey"

// NewTracerProvider returns the tracer provider of cfg, exporting spans over
// OTLP/HTTP in batches, or nil when tracing is off: then nothing is
// recorded and no exporter exists. Shut it down to flush its last spans.
// The exporter connects at the first export, so a collector that is down
// costs no start.
//
// cfg only says whether tracing is on. The OpenTelemetry SDK reads the
// rest of OTEL_* from the process environment itself: the exporter its
// endpoint, headers and TLS files, the tracer provider its sampler and
// limits, the resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
// (service.name defaulting to config.DefaultServiceName).
func NewTracerProvider(ctx context.Context, cfg config.Tracing) (*sdktrace.TracerProvider, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", config.DefaultServiceName)),
		resource.WithFromEnv(), // after the default, so that it wins
		resource.WithTelemetrySDK(),
	)
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(res),
	), nil
}

// Tracer returns the tracer of the service's own spans from tp, or nil
// when tp is nil: tracing is off.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer(instrumentation)
}

// OpenDB opens a database over connector whose calls are spans of tp,
// children of the span in their context, or, with a nil tp, an untraced
// one. Calls outside any span (migrations, purges) are not traced. Spans carry the SQL text, whose values are all parameters,
// never the arguments.
func OpenDB(tp trace.TracerProvider, connector driver.Connector, system string) *sql.DB {
	if tp == nil {
		return sql.OpenDB(connector)
	}
	return otelsql.OpenDB(connector,
		otelsql.WithTracerProvider(tp),
		otelsql.WithAttributes(attribute.String("db.system.name", system)),
		otelsql.WithSpanOptions(otelsql.SpanOptions{
			OmitConnResetSession: true,
			OmitRows:             true,
			OmitConnectorConnect: true,
			SpanFilter: func(ctx context.Context, _ otelsql.Method, _ string, _ []driver.NamedValue) bool {
				return trace.SpanContextFromContext(ctx).IsValid()
			},
		}),
	)
}
