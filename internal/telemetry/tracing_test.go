package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/latchkey/latchkey/internal/config"
)

// collector is an OTLP/HTTP endpoint that keeps what it receives.
type collector struct {
	URL string

	mu      sync.Mutex
	headers []http.Header
	exports []*coltracepb.ExportTraceServiceRequest
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(raw, &req)
		}
		if r.URL.Path != "/v1/traces" || err != nil {
			t.Errorf("export to %s: %v; want a protobuf request to /v1/traces", r.URL.Path, err)
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.headers = append(c.headers, r.Header.Clone())
		c.exports = append(c.exports, &req)
		c.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

// environment makes env the OTEL_* variables of the process environment,
// where the OpenTelemetry SDK reads them (an empty value is unset to it),
// and returns a getenv over the same values for config.Load, as main
// passes os.Getenv. Tests that call it cannot run in parallel.
func environment(t *testing.T, env map[string]string) func(string) string {
	t.Helper()
	for _, k := range config.Variables() {
		if strings.HasPrefix(k, "OTEL_") {
			t.Setenv(k, env[k])
		}
	}
	return func(k string) string { return env[k] }
}

// TestTracerProviderReadsTheEnvironment checks that the OTEL_* variables
// that config leaves to the OpenTelemetry SDK reach it: where spans go,
// with which headers, service name, resource attributes and sampler.
func TestTracerProviderReadsTheEnvironment(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		wantSpans   int
		wantService string
		wantAttr    map[string]string
		wantHeader  map[string]string
	}{
		{
			name:        "defaults",
			env:         map[string]string{},
			wantSpans:   1,
			wantService: config.DefaultServiceName,
		},
		{
			name: "everything set",
			env: map[string]string{
				"OTEL_SERVICE_NAME":          "auth-test",
				"OTEL_RESOURCE_ATTRIBUTES":   "deployment.environment=test,service.namespace=shop%20one",
				"OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=k1",
				"OTEL_TRACES_SAMPLER":        "traceidratio",
				"OTEL_TRACES_SAMPLER_ARG":    "1",
			},
			wantSpans:   1,
			wantService: "auth-test",
			wantAttr:    map[string]string{"deployment.environment": "test", "service.namespace": "shop one"},
			wantHeader:  map[string]string{"X-Api-Key": "k1"},
		},
		{
			name:        "service.name from the resource attributes",
			env:         map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attributes"},
			wantSpans:   1,
			wantService: "from-attributes",
		},
		{
			name:      "sampler off",
			env:       map[string]string{"OTEL_TRACES_SAMPLER": "always_off"},
			wantSpans: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := newCollector(t)
			tt.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = col.URL
			cfg, err := config.Load(environment(t, tt.env))
			if err != nil {
				t.Fatal(err)
			}
			tp, err := NewTracerProvider(t.Context(), cfg.Tracing)
			if err != nil || tp == nil {
				t.Fatalf("NewTracerProvider(%v) = %v, %v; want a provider", cfg.Tracing, tp, err)
			}
			_, span := Tracer(tp).Start(t.Context(), "work")
			span.End()
			if err := tp.Shutdown(context.WithoutCancel(t.Context())); err != nil {
				t.Fatalf("Shutdown() = %v", err)
			}

			col.mu.Lock()
			defer col.mu.Unlock()
			spans := 0
			for i, req := range col.exports {
				for k, v := range tt.wantHeader {
					if got := col.headers[i].Get(k); got != v {
						t.Errorf("export header %s = %q, want %q (OTEL_EXPORTER_OTLP_HEADERS)", k, got, v)
					}
				}
				for _, rs := range req.GetResourceSpans() {
					attrs := map[string]string{}
					for _, kv := range rs.GetResource().GetAttributes() {
						attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
					}
					if attrs["service.name"] != tt.wantService {
						t.Errorf("service.name = %q, want %q", attrs["service.name"], tt.wantService)
					}
					for k, v := range tt.wantAttr {
						if attrs[k] != v {
							t.Errorf("resource attribute %s = %q, want %q (OTEL_RESOURCE_ATTRIBUTES)", k, attrs[k], v)
						}
					}
					for _, ss := range rs.GetScopeSpans() {
						spans += len(ss.GetSpans())
					}
				}
			}
			if spans != tt.wantSpans {
				t.Errorf("the collector received %d spans, want %d", spans, tt.wantSpans)
			}
		})
	}
}

// TestTracerProviderOff checks that no provider, and so no exporter,
// exists unless config turns tracing on, whatever the SDK would read.
func TestTracerProviderOff(t *testing.T) {
	col := newCollector(t)
	for _, env := range []map[string]string{
		{},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL, "OTEL_SDK_DISABLED": "true"},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": col.URL + "/v1/traces", "OTEL_TRACES_EXPORTER": "none"},
	} {
		cfg, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		if tp, err := NewTracerProvider(t.Context(), cfg.Tracing); tp != nil || err != nil {
			t.Errorf("NewTracerProvider(%v) with %v = %v, %v; want nil, nil", cfg.Tracing, env, tp, err)
		}
	}
}
