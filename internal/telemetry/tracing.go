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
func NewTracerProvider(ctx context.Context, cfg config.Tracing) (*sdktrace.TracerProvider, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	headers := make(map[string]string, len(cfg.Headers))
	for k, v := range cfg.Headers {
		headers[k] = v.Reveal()
	}
	exporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.Endpoint), otlptracehttp.WithHeaders(headers))
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", cfg.ServiceName)}
	for k, v := range cfg.ResourceAttributes {
		if k != "service.name" {
			attrs = append(attrs, attribute.String(k, v))
		}
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSampler(sampler(cfg.Sampler, cfg.SamplerArg)),
	), nil
}

// sampler is the sampler of an OTEL_TRACES_SAMPLER name, which config has
// checked.
func sampler(name string, ratio float64) sdktrace.Sampler {
	switch name {
	case "always_on":
		return sdktrace.AlwaysSample()
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio)
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample())
}

// Tracer returns the tracer of the service's own spans from tp, or nil
// when tp is nil: tracing is off.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer(instrumentation)
}
