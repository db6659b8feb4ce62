package telemetry

import (
	"context"
	"fmt"

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
