package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/config"
)

const usage = `usage:
  latchkey-bench [flags] SCENARIO      load a running service
  latchkey-bench floor [flags] FLOOR   measure a floor on the service's database
  latchkey-bench cold [flags] BINARY   the first logins after the service starts
  latchkey-bench tables [-into FILE] [-note TEXT] DIR...
                                       Markdown tables of scripts/perf.sh's runs

SCENARIO is one of me, login, refresh, register, mixed.
FLOOR is one of me, login, refresh (bare HTTP handlers in a process of
their own), login-raw, refresh-raw (argon2id, or the rotation transaction,
in process); it reads the service's settings (DATABASE_URI,
JWT_SECRET_KEY, PASSWORD_HASH_*, ...) from the environment.

flags:
`

// ErrRequestsFailed is returned, after the report is written, when some
// requests of the run failed.
var ErrRequestsFailed = errors.New("requests failed")

// Main is the latchkey-bench command: args are its arguments without the
// program name, getenv the environment the floors read the service's
// settings from. It writes the report to stdout and progress to stderr.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "floor-server" {
		return floorServer(ctx, args[1:], getenv, stdout)
	}
	if len(args) > 0 && args[0] == "cold" {
		return cold(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "tables" {
		return tables(args[1:], stdout, stderr)
	}
	floor := len(args) > 0 && args[0] == "floor"
	if floor {
		args = args[1:]
	}
	fs := flag.NewFlagSet("latchkey-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	target := fs.String("url", "http://127.0.0.1:8080", "the service's URL (its /query is loaded), or several, comma-separated, one per replica, which the requests take in turn")
	concurrency := fs.Int("c", 8, "concurrent clients, each with one request in flight")
	duration := fs.Duration("d", 10*time.Second, "how long the load lasts, setup not included")
	asJSON := fs.Bool("json", false, "write the report as JSON")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	every := fs.Duration("progress", time.Second, "interval of the progress lines on stderr")
	pid := fs.Int("pid", 0, "the service's process id, whose memory is sampled from /proc (0: none)")
	tok := fs.String("token", "", "access token for the me scenario (default: register a user)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want one scenario")
	}
	name := normalize(fs.Arg(0))
	progress := stderr
	if *quiet {
		progress = nil
	}

	var (
		res *Result
		err error
	)
	if floor {
		res, err = runFloor(ctx, name, getenv, *concurrency, *duration, progress, *every)
	} else {
		res, err = Run(ctx, Options{URL: *target, Scenario: name, Concurrency: *concurrency, Duration: *duration,
			Progress: progress, ProgressEvery: *every, PID: *pid, Token: *tok})
	}
	if err != nil {
		return err
	}
	if *asJSON {
		err = WriteJSON(stdout, res)
	} else {
		err = WriteText(stdout, res)
	}
	if err != nil {
		return err
	}
	if res.Errors > 0 {
		return fmt.Errorf("%d of %d %w", res.Errors, res.Requests, ErrRequestsFailed)
	}
	return nil
}

// runFloor measures the floor of name.
func runFloor(ctx context.Context, name string, getenv func(string) string, workers int, d time.Duration, progress io.Writer, every time.Duration) (*Result, error) {
	if !slices.Contains(Floors, name) {
		return nil, fmt.Errorf("unknown floor %q (want one of %s)", name, strings.Join(Floors, ", "))
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration:\n%w", err)
	}
	switch name {
	case "login-raw":
		return FloorLogin(ctx, cfg, workers, d, progress, every)
	case "refresh-raw":
		return FloorRefresh(ctx, cfg, workers, d, progress, every)
	}
	return floorHTTP(ctx, name, workers, d, progress, every)
}

// floorTargets describe the floors served over HTTP.
var floorTargets = map[string]string{
	"me":      "bare net/http handler: verify the JWT, read the user of its live session",
	"login":   "bare net/http handler: read the hash, verify it, insert the session and its token, sign",
	"refresh": "bare net/http handler: the rotation transaction, then sign",
}

// floorHTTP runs the floor handlers in a process of their own, as the
// service runs in one, and loads them with the scenario name, whose
// clients send what they send the service. The child inherits this
// process's environment.
func floorHTTP(ctx context.Context, name string, workers int, d time.Duration, progress io.Writer, every time.Duration) (*Result, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "floor-server") //nolint:gosec // this very program

	cmd.Stderr = os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the floor server: %w", err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 5 || f[0] != "floor" {
		return nil, fmt.Errorf("the floor server did not start: %q", line)
	}
	res, err := Run(ctx, Options{URL: "http://" + f[1] + "/", Scenario: name, Concurrency: workers, Duration: d, Progress: progress, ProgressEvery: every,
		PID: cmd.Process.Pid, Token: f[2], Email: f[3], Password: f[4]})
	if err != nil {
		return nil, err
	}
	res.Scenario, res.Target = name+" floor", floorTargets[name]
	return res, nil
}

// floorServer is the child process of floorHTTP.
func floorServer(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) != 0 {
		return errors.New("floor-server takes no arguments")
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	return FloorServer(ctx, cfg, ln, stdout)
}

// tables is the tables command: the Markdown tables of the runs in the
// directories, written to stdout or into a document between its markers.
func tables(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("latchkey-bench tables", flag.ContinueOnError)
	fs.SetOutput(stderr)
	into := fs.String("into", "", "replace the tables of this document instead of writing them to stdout")
	note := fs.String("note", "", "a paragraph before the tables")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("tables: want the directories of the runs, one per database")
	}
	if *into == "" {
		return WriteTables(stdout, *note, fs.Args())
	}
	var b strings.Builder
	if err := WriteTables(&b, *note, fs.Args()); err != nil {
		return err
	}
	return ReplaceTables(*into, []byte(b.String()))
}
