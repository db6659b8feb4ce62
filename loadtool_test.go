package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/bench"
	"github.com/latchkey/latchkey/internal/testdb"
)

// TestLoadTool runs every scenario of the load tool against the service
// and checks that each sent requests that all succeeded, with sane figures.
// The tool speaks only HTTP, so one database is enough; scripts/perf.sh,
// which CI runs briefly, drives it against both.
func TestLoadTool(t *testing.T) {
	t.Parallel()
	s := startServer(t, testEnv(testdb.SQLiteMemory, "RATE_LIMIT_REGISTER", "0"))
	for _, scenario := range bench.Scenarios {
		t.Run("scenario="+scenario, func(t *testing.T) {
			// Long enough for some requests to finish on a busy machine
			// under the race detector (each takes milliseconds): requests
			// in flight at the end are not counted.
			d := 500 * time.Millisecond
			if scenario == "mixed" {
				d = 2 * time.Second // time for each client to reach the rarer operations
			}
			res, err := bench.Run(t.Context(), bench.Options{
				URL: s.URL, Scenario: scenario, Concurrency: 3, Duration: d, PID: os.Getpid(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests == 0 || res.Errors != 0 {
				t.Fatalf("Run(%s) = %d requests, errors %v, want some and none", scenario, res.Requests, res.ErrorsByCode)
			}
			l := res.Latency
			if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) || res.Throughput <= 0 {
				t.Errorf("Run(%s) = throughput %v, latency %+v, want positive and ordered", scenario, res.Throughput, l)
			}
			if res.Memory == nil || res.Memory.IdleMiB <= 0 || res.Memory.PeakMiB <= 0 {
				t.Errorf("Run(%s).Memory = %+v, want the process's RSS", scenario, res.Memory)
			}
			var ops []string
			for _, o := range res.Operations {
				ops = append(ops, o.Operation)
			}
			if want := []string{"login", "me", "refresh", "register"}; scenario == "mixed" && !slices.Equal(ops, want) {
				t.Errorf("Run(mixed) operations = %v, want %v", ops, want)
			}
		})
	}
}

// TestLoadToolCountsErrors checks that refused requests are counted by
// their error code, not hidden among the successes.
func TestLoadToolCountsErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, testEnv(testdb.SQLiteMemory, "RATE_LIMIT_REGISTER", "3/1h"))
	res, err := bench.Run(t.Context(), bench.Options{URL: s.URL, Scenario: "register", Concurrency: 2, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if ok := res.Requests - res.Errors; ok != 3 || res.Errors == 0 || res.ErrorsByCode["RATE_LIMITED"] != res.Errors {
		t.Errorf("register with 3 allowed = %d requests, errors %v, want 3 successes and the rest RATE_LIMITED", res.Requests, res.ErrorsByCode)
	}

	res, err = bench.Run(t.Context(), bench.Options{URL: s.URL, Scenario: "me", Concurrency: 2, Duration: 300 * time.Millisecond, Token: "not.a.token"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.ErrorsByCode["UNAUTHENTICATED"] != res.Requests || res.Throughput != 0 {
		t.Errorf("me with a bad token = %d requests, errors %v, throughput %v, want all UNAUTHENTICATED", res.Requests, res.ErrorsByCode, res.Throughput)
	}
}

// TestLoadToolCommand runs the command as an operator does: progress on
// stderr while it runs, the report as JSON or text on stdout, and a failure
// status when requests failed.
func TestLoadToolCommand(t *testing.T) {
	t.Parallel()
	s := startServer(t, testEnv(testdb.SQLiteMemory, "RATE_LIMIT_REGISTER", "5/1h"))
	getenv := func(string) string { return "" }

	var stdout, stderr bytes.Buffer
	err := bench.Main(t.Context(), []string{"-url", s.URL, "-c", "2", "-d", "500ms", "-progress", "100ms", "-json", "me"}, getenv, &stdout, &stderr)
	if err != nil {
		t.Fatalf("latchkey-bench me = %v; stderr:\n%s", err, &stderr)
	}
	var res bench.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("latchkey-bench -json wrote %q: %v", &stdout, err)
	}
	if res.Scenario != "me" || res.Requests == 0 || res.Concurrency != 2 {
		t.Errorf("latchkey-bench -json = %+v, want me with requests by 2 clients", res)
	}
	if lines := strings.Count(stderr.String(), "req/s"); lines < 2 {
		t.Errorf("stderr = %q, want progress lines while it runs", &stderr)
	}

	stdout.Reset()
	stderr.Reset()
	err = bench.Main(t.Context(), []string{"-url", s.URL, "-c", "2", "-d", "300ms", "-q", "register"}, getenv, &stdout, &stderr)
	if !errors.Is(err, bench.ErrRequestsFailed) {
		t.Errorf("latchkey-bench register beyond the limit = %v, want ErrRequestsFailed", err)
	}
	if out := stdout.String(); !strings.Contains(out, "p99 ms") || !strings.Contains(out, "RATE_LIMITED") {
		t.Errorf("text report = %q, want the latency table and the RATE_LIMITED count", out)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr with -q = %q, want nothing", &stderr)
	}

	if err := bench.Main(t.Context(), []string{"-url", s.URL, "nosuch"}, getenv, &stdout, &stderr); err == nil {
		t.Error("latchkey-bench nosuch = nil, want an error")
	}
}

// BenchmarkScenarios runs each load-tool scenario against the service in
// this process, with GOMAXPROCS clients (-cpu sets them), on SQLite and,
// with TEST_DATABASE_URL, PostgreSQL: ns/op is the service's time per
// request under that concurrency. Hashing is at the production cost.
//
//	go test -run '^$' -bench Scenarios -benchtime 3s .
func BenchmarkScenarios(b *testing.B) {
	benchDatabases(b, func(b *testing.B, uri string) {
		s := startServer(b, productionHashing(uri, "RATE_LIMIT_REGISTER", "0"))
		for _, scenario := range bench.Scenarios {
			b.Run("scenario="+scenario, func(b *testing.B) {
				endpoint, err := bench.Endpoint(s.URL)
				if err != nil {
					b.Fatal(err)
				}
				clients := runtime.GOMAXPROCS(0)
				l, err := bench.Prepare(b.Context(), bench.NewClient(endpoint, clients), scenario, clients, "")
				if err != nil {
					b.Fatal(err)
				}
				var next atomic.Int64
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					w := int(next.Add(1)-1) % clients
					for pb.Next() {
						if op, err := l.Step(b.Context(), w); err != nil {
							b.Errorf("%s: %v", op, err)
						}
					}
				})
			})
		}
	})
}
