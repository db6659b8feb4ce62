// Package e2e holds the tests that need more than one process: they run
// the service's binary, built once by TestMain, several replicas of it,
// PostgreSQL clusters of their own, Node programs, an Apollo Gateway and
// Chromium. In -short mode they skip, and nothing is built.
//
// Under the race detector (go test -race, the README's command) the binary
// is built with -race too: the detector then watches the service through
// every test here, and the build only links the packages the test build
// already compiled. Without it, the binary is built exactly as the
// Dockerfile builds it, and the checks of the shipped artifact itself (a
// static binary, its memory under the pod's limit) run as well; CI runs
// them in a step of their own. The tests that mostly wait for other programs run in
// parallel; those that measure time or memory under load (the floods, the
// outage, the browsers' token expiry) run first, one at a time.
package e2e

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/bench"
)

// binary is the service's binary that TestMain built, "" in -short mode.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "latchkey-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// TestImageBinary runs the binary as another user, as the pod does.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "latchkey")
	build := buildAsDockerfile
	if raceDetector {
		build = buildWithRace
	}
	if err := build(binary); err != nil {
		fmt.Fprintf(os.Stderr, "building the service: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildWithRace builds the service with the race detector into bin.
func buildWithRace(bin string) error {
	cmd := exec.Command("go", "build", "-race", "-o", bin, ".")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -race: %w\n%s", err, out)
	}
	return nil
}

// buildAsDockerfile runs the Dockerfile's go build line in the module root,
// writing the binary to bin instead of the image's path: the binary the
// image ships.
func buildAsDockerfile(bin string) error {
	df, err := readDockerfile("../Dockerfile")
	if err != nil {
		return err
	}
	words := df.build
	var env []string
	for len(words) > 0 && strings.Contains(words[0], "=") {
		env, words = append(env, words[0]), words[1:]
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" {
		return fmt.Errorf("the Dockerfile's build line is %q, want [VAR=value...] go build ...", df.build)
	}
	args := append([]string(nil), words[1:]...)
	replaced := false
	for i := range args {
		if args[i] == "-o" && i+1 < len(args) {
			args[i+1], replaced = bin, true
		}
	}
	if !replaced {
		return fmt.Errorf("the Dockerfile's build line %q has no -o", df.build)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// service is a process of the built binary.
type service struct {
	*apitest.Server
	cmd  *exec.Cmd
	logs *bench.LogBuffer
	done chan struct{} // closed when the process has exited
	err  error         // what Wait returned, once done is closed
}

// requireBinary skips t in -short mode, where TestMain builds nothing.
func requireBinary(t testing.TB) {
	t.Helper()
	if binary == "" {
		t.Skip("runs the service's binary, which -short does not build")
	}
}

// startService runs the built binary with env as its whole environment
// (PATH aside), reads its address from its "listening" log line, waits
// until /readyz answers, and kills it when the test ends if it still runs.
func startService(t testing.TB, env map[string]string) *service {
	t.Helper()
	requireBinary(t)
	cmd := exec.Command(binary)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	s := &service{cmd: cmd, logs: bench.NewLogBuffer(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case addr := <-s.logs.Addr():
		s.Server = &apitest.Server{URL: bench.BaseURL(addr)}
	case <-s.done:
		t.Fatalf("the service exited with %v before listening; logs:\n%s", s.err, s.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("the service did not listen; logs:\n%s", s.logs)
	}
	if err := apitest.WaitForReady(s.URL); err != nil {
		t.Fatalf("%v; logs:\n%s", err, s.logs)
	}
	return s
}

// stop ends the service with SIGTERM, as an orchestrator does, and fails
// the test unless it exits cleanly within 20 seconds.
func (s *service) stop(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
		if s.err != nil {
			t.Fatalf("after SIGTERM the service exited with %v, want 0; logs:\n%s", s.err, s.logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the service did not stop on SIGTERM; logs:\n%s", s.logs)
	}
}

// runCommand runs the built binary with args and env as its whole
// environment (PATH aside), as an operator runs a command, and returns its
// output and error.
func runCommand(t testing.TB, env map[string]string, args ...string) (string, error) {
	t.Helper()
	out, err := command(t, env, args...).CombinedOutput()
	return string(out), err
}

// command is the built binary with args and env as its whole environment
// (PATH aside).
func command(t testing.TB, env map[string]string, args ...string) *exec.Cmd {
	t.Helper()
	requireBinary(t)
	cmd := exec.CommandContext(t.Context(), binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// call is one GraphQL request's answer, how long it took, and its error.
type call struct {
	r    apitest.Response
	took time.Duration
	err  error
}

// atOnce sends n GraphQL requests to base with client, all released at the
// same instant: request i is doc with vars(i), bearer, if not empty, its
// token.
func atOnce(client *http.Client, base, bearer, doc string, n int, vars func(i int) map[string]any) []call {
	calls := make([]call, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			<-start
			c := &calls[i]
			c.r, c.took, c.err = apitest.Call(client, base, bearer, doc, vars(i))
		})
	}
	close(start)
	wg.Wait()
	return calls
}
