package bench

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// ColdOptions configure a measurement of the first logins after a start.
type ColdOptions struct {
	// Binary is the service's binary; it runs with this process's
	// environment and PORT=0, on the port the kernel picks.
	Binary string
	// Logins is how many users log in at once in each round.
	Logins int
	// Runs is how many times the service is started.
	Runs int
	// Idle, when positive, adds a round after this long without requests.
	Idle time.Duration
	// Progress receives a line per round; nil means none.
	Progress io.Writer
}

// ColdResult is what Cold measured: the same logins in rounds, "cold"
// right after /readyz turned 200, "warm" a second later, and "idle" after
// ColdOptions.Idle without requests, each over every run.
type ColdResult struct {
	Binary string      `json:"binary"`
	Logins int         `json:"logins"`
	Runs   int         `json:"runs"`
	Idle   float64     `json:"idleSeconds,omitempty"`
	Rounds []ColdRound `json:"rounds"`
}

// ColdRound is one round over every run: the latencies of all its logins,
// their errors by code, the slowest login of each run, and the service's
// resident memory right before the round.
type ColdRound struct {
	Stats
	SlowestMs []float64 `json:"slowestMsPerRun"`
	BeforeMiB []float64 `json:"rssBeforeMiBPerRun"`
}

// Cold registers opts.Logins users on a first start of the service, then
// opts.Runs times starts it again and logs them all in at once: right after
// it is ready, a second later, and after opts.Idle if set. It stops the
// service with SIGTERM after each run.
func Cold(ctx context.Context, opts ColdOptions) (*ColdResult, error) {
	if opts.Logins < 1 || opts.Runs < 1 {
		return nil, fmt.Errorf("logins %d and runs %d must be at least 1", opts.Logins, opts.Runs)
	}
	password := "bench " + rand.Text()
	runID := strings.ToLower(rand.Text()[:10])
	emails := make([]string, opts.Logins)
	for i := range emails {
		emails[i] = "cold-" + runID + "-" + strconv.Itoa(i) + "@example.com"
	}
	svc, err := startService(ctx, opts.Binary)
	if err != nil {
		return nil, err
	}
	c := NewClient(svc.endpoint, opts.Logins)
	for _, e := range emails {
		if err := c.Do(ctx, "", registerQuery, map[string]any{"email": e, "password": password}, "register", nil); err != nil {
			return nil, errors.Join(fmt.Errorf("registering %s: %w", e, err), svc.stop())
		}
	}
	if err := svc.stop(); err != nil {
		return nil, err
	}

	names := []string{"cold", "warm"}
	if opts.Idle > 0 {
		names = append(names, "idle")
	}
	records := make([]opRecord, len(names))
	res := &ColdResult{Binary: opts.Binary, Logins: opts.Logins, Runs: opts.Runs, Idle: opts.Idle.Seconds(), Rounds: make([]ColdRound, len(names))}
	for run := range opts.Runs {
		svc, err := startService(ctx, opts.Binary)
		if err != nil {
			return nil, err
		}
		c := NewClient(svc.endpoint, opts.Logins)
		for i, name := range names {
			switch name {
			case "warm":
				time.Sleep(time.Second)
			case "idle":
				time.Sleep(opts.Idle)
			}
			before := svc.rss()
			lat, errs := loginAll(ctx, c, emails, password)
			rec := &records[i]
			if rec.errors == nil {
				rec.errors = map[string]int64{}
			}
			rec.latencies = append(rec.latencies, lat...)
			slowest := time.Duration(0)
			for j, d := range lat {
				slowest = max(slowest, d)
				if errs[j] != nil {
					rec.errors[errorKind(errs[j])]++
				}
			}
			r := &res.Rounds[i]
			r.SlowestMs = append(r.SlowestMs, float64(slowest.Microseconds())/1000)
			r.BeforeMiB = append(r.BeforeMiB, before)
			if opts.Progress != nil {
				fmt.Fprintf(opts.Progress, "run %d %-4s  %d logins, slowest %v, rss before %.1f MiB\n", run+1, name, len(lat), slowest.Round(time.Millisecond), before)
			}
		}
		if err := svc.stop(); err != nil {
			return nil, err
		}
	}
	for i, name := range names {
		res.Rounds[i].Stats = stats(name, &records[i], 0)
	}
	return res, nil
}

// loginAll logs every user in at once and returns each login's latency and
// error.
func loginAll(ctx context.Context, c *Client, emails []string, password string) ([]time.Duration, []error) {
	lat := make([]time.Duration, len(emails))
	errs := make([]error, len(emails))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, e := range emails {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			errs[i] = c.Do(ctx, "", loginQuery, map[string]any{"email": e, "password": password}, "login", nil)
			lat[i] = time.Since(t0)
		})
	}
	close(start)
	wg.Wait()
	return lat, errs
}

// service is a process of the service's binary.
type service struct {
	cmd      *exec.Cmd
	endpoint string
	logs     *LogBuffer
	// exited is closed when the process has ended, waitErr then being
	// what Wait returned.
	exited  chan struct{}
	waitErr error
}

// startService runs binary with this process's environment on a port the
// kernel picks, read from its "listening" log line, and waits until its
// /readyz answers 200.
func startService(ctx context.Context, binary string) (*service, error) {
	s := &service{logs: NewLogBuffer(), exited: make(chan struct{})}
	s.cmd = exec.CommandContext(ctx, binary) //nolint:gosec // the binary the operator names
	s.cmd.Env = append(os.Environ(), "PORT=0")
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the service: %w", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	fail := func(what string) (*service, error) {
		_ = s.cmd.Process.Kill()
		<-s.exited
		return nil, fmt.Errorf("the service %s (%v); its output:\n%s", what, s.cmd.ProcessState, s.logs)
	}
	deadline := time.After(60 * time.Second)
	var base string
	select {
	case addr := <-s.logs.Addr():
		base = BaseURL(addr)
	case <-s.exited:
		return fail("exited before listening")
	case <-deadline:
		return fail("did not listen")
	}
	s.endpoint = base + "/query"
	probe := &http.Client{Timeout: time.Second}
	for {
		if resp, err := probe.Get(base + "/readyz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.exited:
			return fail("exited before it was ready")
		case <-deadline:
			return fail("did not become ready")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// rss is the service's resident memory in MiB, 0 when it cannot be read.
func (s *service) rss() float64 {
	kib, err := RSS(s.cmd.Process.Pid)
	if err != nil {
		return 0
	}
	return mib(kib)
}

// stop ends the service with SIGTERM and waits for it.
func (s *service) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	<-s.exited
	if s.waitErr != nil {
		return fmt.Errorf("the service exited with %w; its output:\n%s", s.waitErr, s.logs)
	}
	return nil
}

// cold is the cold command.
func cold(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("latchkey-bench cold", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: latchkey-bench cold [flags] BINARY\n\n"+
			"Starts the service's BINARY with this environment (PORT aside) and logs users in at once\n"+
			"right after it is ready, a second later, and after -idle.\n\nflags:\n")
		fs.PrintDefaults()
	}
	logins := fs.Int("c", 20, "users logged in at once")
	runs := fs.Int("runs", 3, "starts of the service")
	idle := fs.Duration("idle", 0, "add a round after this long without requests (0: none)")
	asJSON := fs.Bool("json", false, "write the report as JSON")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want the service's binary")
	}
	progress := stderr
	if *quiet {
		progress = nil
	}
	res, err := Cold(ctx, ColdOptions{Binary: fs.Arg(0), Logins: *logins, Runs: *runs, Idle: *idle, Progress: progress})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(res)
	} else {
		err = WriteColdText(stdout, res)
	}
	if err != nil {
		return err
	}
	for _, r := range res.Rounds {
		if r.Errors > 0 {
			return fmt.Errorf("%d of %d logins of the %s round: %w", r.Errors, r.Requests, r.Operation, ErrRequestsFailed)
		}
	}
	return nil
}

// WriteColdText writes r as a table for people.
func WriteColdText(w io.Writer, r *ColdResult) error {
	fmt.Fprintf(w, "%d logins at once, %d starts of %s\n", r.Logins, r.Runs, r.Binary)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tlogins\terrors\tp50 ms\tp90 ms\tmax ms\tslowest per run ms\trss before MiB\t")
	for _, rd := range r.Rounds {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%s\t%s\t\n", rd.Operation, rd.Requests, rd.Errors,
			rd.Latency.P50, rd.Latency.P90, rd.Latency.Max, joinFloats(rd.SlowestMs, "%.0f"), joinFloats(rd.BeforeMiB, "%.1f"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, rd := range r.Rounds {
		for code, n := range rd.ErrorsByCode {
			fmt.Fprintf(w, "%s round: %d %s\n", rd.Operation, n, code)
		}
	}
	return nil
}

func joinFloats(v []float64, format string) string {
	s := make([]string, len(v))
	for i, f := range v {
		s[i] = fmt.Sprintf(format, f)
	}
	return strings.Join(s, " ")
}
