// Package bench is Latchkey's load tool: it runs a named scenario (me,
// login, refresh, register, mixed) against a running service with a given
// concurrency for a given time, and reports throughput and latency
// percentiles, errors by code, and the memory of the service's process. It
// also measures the floors the service's figures are bounded by: for me,
// login and refresh, bare net/http handlers in a process of their own that
// do each scenario's job with the least work, loaded by the same clients;
// and, in process, the raw argon2id rate and the raw rotation transaction.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scenarios are the names Run accepts, in the order the reports list them.
var Scenarios = []string{"me", "login", "refresh", "register", "mixed"}

// Options configure one run.
type Options struct {
	// URL is the service's GraphQL endpoint, or its base URL, to which
	// "/query" is added; or several, comma-separated, one per replica,
	// which the requests take in turn.
	URL string
	// Scenario is one of Scenarios.
	Scenario string
	// Concurrency is the number of clients, each with one request in flight.
	Concurrency int
	// Duration is how long the load lasts, setup not included.
	Duration time.Duration
	// Progress receives a line per ProgressEvery while the load runs; nil
	// means none.
	Progress io.Writer
	// ProgressEvery defaults to one second.
	ProgressEvery time.Duration
	// PID is the service's process, whose resident memory is sampled from
	// /proc; zero means none.
	PID int
	// Token is an access token for the me scenario; empty means register a
	// user and use its token.
	Token string
	// Email and Password, when Email is not empty, are those of an
	// existing user the scenario logs in as, instead of registering one.
	Email, Password string
}

// Run prepares the scenario (registering the users it needs), runs the
// load, and returns what it measured. Failed requests are counted by error
// code, not retried and not hidden; an error is returned only when the load
// could not run at all.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Concurrency < 1 {
		return nil, fmt.Errorf("concurrency %d must be at least 1", opts.Concurrency)
	}
	if opts.Duration <= 0 {
		return nil, fmt.Errorf("duration %s must be positive", opts.Duration)
	}
	endpoints, err := Endpoints(opts.URL)
	if err != nil {
		return nil, err
	}
	mem := newMemorySampler(opts.PID)
	mem.idle = mem.sample()
	l, err := prepare(ctx, NewReplicasClient(endpoints, opts.Concurrency), opts.Scenario, opts.Concurrency, opts.Token, opts.Email, opts.Password)
	if err != nil {
		return nil, err
	}
	res := drive(ctx, opts.Concurrency, opts.Duration, opts.Progress, opts.ProgressEvery, mem, l.Step)
	res.Scenario = opts.Scenario
	res.Target = strings.Join(endpoints, ",")
	return res, nil
}

// Endpoint returns the GraphQL endpoint of a service URL: the URL itself
// when it names a path, else its /query.
func Endpoint(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("url %q: want http://HOST[:PORT][/PATH]", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/query"
	}
	return u.String(), nil
}

// A stepFunc makes one request as client worker and says which operation
// it was and how it failed, if it did.
type stepFunc func(ctx context.Context, worker int) (op string, err error)

// drive runs step with n workers for d, and collects the latencies of every
// request and the errors of the failed ones. A request cut off by the end of
// the run counts for nothing.
func drive(ctx context.Context, n int, d time.Duration, progress io.Writer, every time.Duration, mem *memorySampler, step stepFunc) *Result {
	if every <= 0 {
		every = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()

	var done, failed atomic.Int64
	recs := make([]recorder, n)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := &recs[w]
			for ctx.Err() == nil {
				t0 := time.Now()
				op, err := step(ctx, w)
				took := time.Since(t0)
				if ctx.Err() != nil {
					return
				}
				rec.add(op, took, err)
				if err != nil {
					failed.Add(1)
				}
				done.Add(1)
			}
		}()
	}
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()

	tick := time.NewTicker(min(every, 200*time.Millisecond))
	defer tick.Stop()
	lastReport, lastDone := start, int64(0)
loop:
	for {
		select {
		case <-stopped:
			break loop
		case now := <-tick.C:
			mem.during()
			if progress != nil && now.Sub(lastReport) >= every {
				total := done.Load()
				fmt.Fprintf(progress, "%6.1fs  %8d requests  %6d errors  %9.1f req/s%s\n",
					now.Sub(start).Seconds(), total, failed.Load(),
					float64(total-lastDone)/now.Sub(lastReport).Seconds(), mem.progress())
				lastReport, lastDone = now, total
			}
		}
	}
	res := summarize(recs, n, time.Since(start))
	res.Memory = mem.result()
	return res
}

// recorder keeps one worker's measurements; only that worker writes it.
type recorder struct {
	ops map[string]*opRecord
}

type opRecord struct {
	latencies []time.Duration
	errors    map[string]int64
}

func (r *recorder) add(op string, took time.Duration, err error) {
	if r.ops == nil {
		r.ops = map[string]*opRecord{}
	}
	o := r.ops[op]
	if o == nil {
		o = &opRecord{errors: map[string]int64{}}
		r.ops[op] = o
	}
	o.latencies = append(o.latencies, took)
	if err != nil {
		o.errors[errorKind(err)]++
	}
}

// Result is what one run measured.
type Result struct {
	Scenario    string  `json:"scenario"`
	Target      string  `json:"target"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	// Stats are of every request of the run; Operations break them down
	// by GraphQL operation when the scenario mixes several.
	Stats
	Operations []Stats `json:"operations,omitempty"`
	Memory     *Memory `json:"memory,omitempty"`
	GoMaxProcs int     `json:"gomaxprocs"`
}

// Stats are the figures of a set of requests.
type Stats struct {
	// Operation names the operation; empty for a run's totals.
	Operation string `json:"operation,omitempty"`
	// Requests counts the requests that completed, failed ones included.
	Requests int64 `json:"requests"`
	// Errors counts the failed requests, and ErrorsByCode breaks them down
	// by extensions.code, HTTP status ("http_503") or "transport".
	Errors       int64            `json:"errors"`
	ErrorsByCode map[string]int64 `json:"errorsByCode,omitempty"`
	// Throughput is successful requests per second.
	Throughput float64 `json:"throughput"`
	// Latency is over every completed request, failed ones included.
	Latency Latency `json:"latencyMs"`
}

// Latency percentiles in milliseconds.
type Latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

// Memory is the resident set size of the service's process, from
// /proc/PID/status, sampled five times a second: before the scenario's
// setup, the median during the load, and the highest seen during it.
type Memory struct {
	PID     int     `json:"pid"`
	IdleMiB float64 `json:"idleMiB"`
	LoadMiB float64 `json:"loadMiB"`
	PeakMiB float64 `json:"peakMiB"`
}

// summarize merges the workers' records into a Result.
func summarize(recs []recorder, n int, elapsed time.Duration) *Result {
	all := opRecord{errors: map[string]int64{}}
	byOp := map[string]*opRecord{}
	for _, r := range recs {
		for name, o := range r.ops {
			m := byOp[name]
			if m == nil {
				m = &opRecord{errors: map[string]int64{}}
				byOp[name] = m
			}
			m.latencies = append(m.latencies, o.latencies...)
			all.latencies = append(all.latencies, o.latencies...)
			for k, v := range o.errors {
				m.errors[k] += v
				all.errors[k] += v
			}
		}
	}
	res := &Result{Concurrency: n, Seconds: elapsed.Seconds(), Stats: stats("", &all, elapsed), GoMaxProcs: runtime.GOMAXPROCS(0)}
	if len(byOp) > 1 {
		for _, name := range slices.Sorted(maps.Keys(byOp)) {
			res.Operations = append(res.Operations, stats(name, byOp[name], elapsed))
		}
	}
	return res
}

func stats(name string, o *opRecord, elapsed time.Duration) Stats {
	s := Stats{Operation: name, Requests: int64(len(o.latencies))}
	for _, v := range o.errors {
		s.Errors += v
	}
	if s.Errors > 0 {
		s.ErrorsByCode = o.errors
	}
	if elapsed > 0 {
		s.Throughput = float64(s.Requests-s.Errors) / elapsed.Seconds()
	}
	lat := o.latencies
	if len(lat) == 0 {
		return s
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	at := func(p float64) float64 { return ms(lat[min(len(lat)-1, int(p*float64(len(lat))))]) }
	s.Latency = Latency{
		Mean: ms(sum / time.Duration(len(lat))),
		P50:  at(0.50),
		P90:  at(0.90),
		P99:  at(0.99),
		Max:  ms(lat[len(lat)-1]),
	}
	return s
}

// RequestError is a request that completed and failed.
type RequestError struct {
	// Kind is the GraphQL error's extensions.code, "http_STATUS", "transport"
	// or "bad_response".
	Kind   string
	Detail string
}

func (e *RequestError) Error() string {
	if e.Detail == "" {
		return e.Kind
	}
	return e.Kind + ": " + e.Detail
}

// errorKind is the key an error is counted under.
func errorKind(err error) string {
	var re *RequestError
	if errors.As(err, &re) {
		return re.Kind
	}
	return "error"
}

// NewClient returns a GraphQL client of endpoint whose connection pool
// keeps one connection per worker alive.
func NewClient(endpoint string, workers int) *Client {
	return &Client{
		endpoint: endpoint,
		http: &http.Client{
			Timeout: 60 * time.Second,
			Transport: &http.Transport{
				Proxy:               nil,
				MaxIdleConns:        workers,
				MaxIdleConnsPerHost: workers,
				IdleConnTimeout:     90 * time.Second,
				DisableCompression:  true,
			},
		},
	}
}

// normalize trims a scenario name.
func normalize(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
