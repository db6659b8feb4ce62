package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEndpoint(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/query"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080/query"},
		{"https://auth.example.com/graphql", "https://auth.example.com/graphql"},
	} {
		got, err := Endpoint(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Endpoint(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "127.0.0.1:8080", "ftp://host/", "http://"} {
		if got, err := Endpoint(in); err == nil {
			t.Errorf("Endpoint(%q) = %q, want an error", in, got)
		}
	}
}

// TestSummarize checks the percentiles, throughput and error counts that
// summarize derives from the workers' records.
func TestSummarize(t *testing.T) {
	recs := make([]recorder, 2)
	for i := 1; i <= 100; i++ {
		var err error
		if i%10 == 0 {
			err = &RequestError{Kind: "RATE_LIMITED"}
		}
		op := "me"
		if i > 90 {
			op = "login"
		}
		recs[i%2].add(op, time.Duration(i)*time.Millisecond, err)
	}
	recs[0].add("login", 200*time.Millisecond, errors.New("odd"))
	res := summarize(recs, 2, 2*time.Second)

	want := Stats{
		Requests:     101,
		Errors:       11,
		ErrorsByCode: map[string]int64{"RATE_LIMITED": 10, "error": 1},
		Throughput:   45,
		Latency:      Latency{Mean: 51.980, P50: 51, P90: 91, P99: 100, Max: 200},
	}
	if diff := cmp.Diff(want, res.Stats); diff != "" {
		t.Errorf("summarize totals (-want +got):\n%s", diff)
	}
	var ops []string
	for _, o := range res.Operations {
		ops = append(ops, o.Operation)
	}
	if diff := cmp.Diff([]string{"login", "me"}, ops); diff != "" {
		t.Errorf("summarize operations (-want +got):\n%s", diff)
	}
	if me := res.Operations[1]; me.Requests != 90 || me.Errors != 9 || me.Latency.Max != 90 {
		t.Errorf("me = %+v, want 90 requests, 9 errors, max 90 ms", me)
	}
}

func TestRSS(t *testing.T) {
	kib, err := RSS(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if kib < 1024 {
		t.Errorf("RSS(self) = %d KiB, want at least a MiB", kib)
	}
	if _, err := RSS(1 << 30); err == nil {
		t.Error("RSS(no such process) = nil error, want one")
	}
}

func TestReports(t *testing.T) {
	res := &Result{
		Scenario: "mixed", Target: "http://x/query", Concurrency: 4, Seconds: 1, GoMaxProcs: 2,
		Stats: Stats{Requests: 10, Errors: 2, ErrorsByCode: map[string]int64{"RATE_LIMITED": 2}, Throughput: 8,
			Latency: Latency{P50: 1, P90: 2, P99: 3, Max: 4}},
		Operations: []Stats{{Operation: "login", Requests: 4, Errors: 2}, {Operation: "me", Requests: 6}},
		Memory:     &Memory{PID: 7, IdleMiB: 30, LoadMiB: 40, PeakMiB: 50},
	}
	var text bytes.Buffer
	if err := WriteText(&text, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"scenario mixed", "p99 ms", "login", "all", "errors: RATE_LIMITED 2", "50.0 MiB at most"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("WriteText() = %q, want it to contain %q", text.String(), want)
		}
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, res); err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("WriteJSON() wrote %q: %v", js.String(), err)
	}
	if diff := cmp.Diff(res, &back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}
