package main

import (
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/latchkey/latchkey/internal/testdb"
)

// otlpReceiver is an OTLP/HTTP trace collector: it decodes each protobuf
// export and keeps the spans with their service names.
type otlpReceiver struct {
	URL string

	mu      sync.Mutex
	exports int
	spans   []receivedSpan
}

type receivedSpan struct {
	service string
	*tracepb.Span
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	recv := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP export %s %s (%s), want POST /v1/traces of application/x-protobuf", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Errorf("gzip: %v", err)
				return
			}
			body = gz
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			t.Errorf("reading export: %v", err)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &req); err != nil {
			t.Errorf("decoding export: %v", err)
			http.Error(w, "bad protobuf", http.StatusBadRequest)
			return
		}
		recv.mu.Lock()
		recv.exports++
		for _, rs := range req.GetResourceSpans() {
			service := attr(rs.GetResource().GetAttributes(), "service.name")
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					recv.spans = append(recv.spans, receivedSpan{service: service, Span: sp})
				}
			}
		}
		recv.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	recv.URL = srv.URL
	return recv
}

func (r *otlpReceiver) received() (exports int, spans []receivedSpan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exports, append([]receivedSpan(nil), r.spans...)
}

// attr is the string value of attribute key, "" when absent.
func attr(attrs []*commonpb.KeyValue, key string) string {
	for _, kv := range attrs {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

func TestTracingExportsOperationAndDatabaseSpans(t *testing.T) {
	testdb.Each(t, func(t *testing.T, uri string) {
		recv := newOTLPReceiver(t)
		// The service's environment turns tracing on; the OpenTelemetry
		// SDK reads the endpoint and the service name from the process's,
		// as it does in production, where the two are one.
		otel := []string{"OTEL_EXPORTER_OTLP_ENDPOINT", recv.URL, "OTEL_SERVICE_NAME", "latchkey-test"}
		for i := 0; i < len(otel); i += 2 {
			t.Setenv(otel[i], otel[i+1])
		}
		s, stop, err := launch(testEnv(uri, otel...))
		if err != nil {
			t.Fatal(err)
		}
		email := uniqueEmail(t, "tracing")
		reg := s.register(t, email)
		const (
			callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
			callerSpan  = "00f067aa0ba902b7"
		)
		me := s.postHeaders(t, map[string]string{
			"Authorization": bearerHeader(reg.AccessToken),
			"traceparent":   "00-" + callerTrace + "-" + callerSpan + "-01",
		}, `query Profile { me { id } }`, nil)
		if len(me.Errors) > 0 {
			t.Fatalf("me: %s", me.Body)
		}
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			resp, err := http.Get(s.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		if err := stop(); err != nil { // flushes the last spans
			t.Fatalf("run() = %v", err)
		}

		_, spans := recv.received()
		byID := map[string]receivedSpan{}
		for _, sp := range spans {
			byID[hex.EncodeToString(sp.GetSpanId())] = sp
			if sp.service != "latchkey-test" {
				t.Errorf("span %q has service.name %q, want latchkey-test (OTEL_SERVICE_NAME)", sp.GetName(), sp.service)
			}
			for _, kv := range sp.GetAttributes() {
				v := kv.GetValue().GetStringValue()
				for _, secret := range []string{testPassword, reg.AccessToken, reg.RefreshToken} {
					if strings.Contains(v, secret) {
						t.Errorf("span %q attribute %s holds a secret", sp.GetName(), kv.GetKey())
					}
				}
			}
		}
		for _, sp := range spans {
			for _, kv := range sp.GetAttributes() {
				if p := kv.GetValue().GetStringValue(); kv.GetKey() == "url.path" && slices.Contains([]string{"/healthz", "/readyz", "/metrics"}, p) {
					t.Errorf("span %q of %s: probes and scrapes are not traced", sp.GetName(), p)
				}
			}
		}
		parent := func(sp receivedSpan) (receivedSpan, bool) {
			p, ok := byID[hex.EncodeToString(sp.GetParentSpanId())]
			return p, ok
		}
		find := func(name string) receivedSpan {
			t.Helper()
			for _, sp := range spans {
				if sp.GetName() == name {
					return sp
				}
			}
			names := make([]string, len(spans))
			for i, sp := range spans {
				names[i] = sp.GetName()
			}
			t.Fatalf("no span %q among %d: %v", name, len(spans), names)
			return receivedSpan{}
		}

		register := find("mutation register")
		if p, ok := parent(register); !ok || p.GetName() != "POST /query" || p.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
			t.Errorf("mutation register's parent = %q (found %t), want the server span POST /query", p.GetName(), ok)
		}
		if got := attr(register.GetAttributes(), "graphql.operation.type"); got != "mutation" {
			t.Errorf("graphql.operation.type = %q, want mutation", got)
		}
		// Database spans: children (or grandchildren, in a transaction) of
		// the operation, and none outside a request (the migration).
		var underRegister, inserts int
		for _, sp := range spans {
			if !strings.HasPrefix(sp.GetName(), "sql.") {
				continue
			}
			if len(sp.GetParentSpanId()) == 0 {
				t.Errorf("database span %q without a parent", sp.GetName())
			}
			for p, ok := parent(sp); ok; p, ok = parent(p) {
				if p.GetSpanId() != nil && hex.EncodeToString(p.GetSpanId()) == hex.EncodeToString(register.GetSpanId()) {
					underRegister++
					for _, kv := range sp.GetAttributes() {
						if strings.Contains(kv.GetValue().GetStringValue(), "INSERT INTO") {
							inserts++
						}
					}
					break
				}
			}
		}
		if underRegister < 3 || inserts < 3 {
			t.Errorf("register has %d database spans, %d of them inserts; want at least 3 of each (user, session, refresh token)", underRegister, inserts)
		}

		meSpan := find("query me")
		if got := hex.EncodeToString(meSpan.GetTraceId()); got != callerTrace {
			t.Errorf("query me trace id = %s, want the caller's %s", got, callerTrace)
		}
		if got := attr(meSpan.GetAttributes(), "graphql.operation.name"); got != "Profile" {
			t.Errorf("graphql.operation.name = %q, want Profile", got)
		}
		server, _ := parent(meSpan)
		if got := hex.EncodeToString(server.GetParentSpanId()); got != callerSpan {
			t.Errorf("server span's parent = %s, want the caller's span %s", got, callerSpan)
		}

		// The request's log lines name its trace.
		var found bool
		for raw := range strings.SplitSeq(s.logs.String(), "\n") {
			var l struct {
				Msg       string `json:"msg"`
				RequestID string `json:"request_id"`
				TraceID   string `json:"trace_id"`
				SpanID    string `json:"span_id"`
			}
			if json.Unmarshal([]byte(raw), &l) != nil || l.Msg != "request" || l.RequestID != me.Header.Get("X-Request-Id") {
				continue
			}
			found = true
			if l.TraceID != callerTrace || l.SpanID != hex.EncodeToString(server.GetSpanId()) {
				t.Errorf("access line trace_id, span_id = %s, %s; want %s, %s", l.TraceID, l.SpanID, callerTrace, hex.EncodeToString(server.GetSpanId()))
			}
		}
		if !found {
			t.Error("no access line for the me request")
		}
	})
}

// TestNoTracingWhenUnset: without an endpoint in the service's environment
// nothing is exported, even with the standard variable in the process's
// own environment, where the OpenTelemetry SDK would read it, and no log
// line names a trace, even for a caller's.
func TestNoTracingWhenUnset(t *testing.T) {
	recv := newOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", recv.URL)
	s, stop, err := launch(testEnv(testdb.SQLiteMemory, "OTEL_SERVICE_NAME", "latchkey-test"))
	if err != nil {
		t.Fatal(err)
	}
	reg := s.register(t, uniqueEmail(t, "untraced"))
	s.postHeaders(t, map[string]string{
		"Authorization": bearerHeader(reg.AccessToken),
		"traceparent":   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}, meDoc, nil)
	if err := stop(); err != nil {
		t.Fatalf("run() = %v", err)
	}
	if exports, _ := recv.received(); exports != 0 {
		t.Errorf("%d exports reached the collector, want none", exports)
	}
	if logs := s.logs.String(); strings.Contains(logs, `"trace_id"`) || strings.Contains(logs, "4bf92f3577b34da6a3ce929d0e0e4736") {
		t.Errorf("logs name a trace while tracing is off:\n%s", logs)
	}
	if !strings.Contains(s.logs.String(), `"tracing":{"enabled":false}`) {
		t.Errorf("the start line does not say tracing is off:\n%s", s.logs.String())
	}
}
