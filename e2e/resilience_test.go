package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/testdb"
)

// peakRSS is the peak resident set size of process pid (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading the service's peak memory: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// floodRSSLimit bounds the service's peak memory under the flood. Measured
// on the 2-core development machine: 100 MiB (the binary's pages, two
// argon2id slots of 19 MiB, and 500 connections and their requests under
// the runtime's soft limit); docs/performance.md has the breakdown.
const floodRSSLimit = 128 << 20

// probeTimeout bounds each me and /healthz call during the flood. Under the
// race detector the service runs several times slower, and with the other
// packages' tests sharing the cores a call can wait behind the flood for
// several seconds (one did, 5 s, in CI): there the bound only checks that
// the calls are answered at all.
func probeTimeout() time.Duration {
	if raceDetector {
		return 30 * time.Second
	}
	return 5 * time.Second
}

// TestLoginFlood fires 500 concurrent logins at the built binary, hashing at
// the production cost, while another client calls me and /healthz: every
// login is answered (a success, INVALID_CREDENTIALS, or RATE_LIMITED when
// its hash would wait too long), me and /healthz keep answering, and the
// process's peak memory stays bounded (checked without the race detector,
// whose runtime takes several times the memory).
func TestLoginFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary and floods it")
	}
	env := apitest.ProductionHashing(testdb.SQLiteFile(t))
	// The memory policy as the binary ships (MEMORY_LIMIT_MIB's default).
	delete(env, "MEMORY_LIMIT_MIB")
	// Throttles off: the flood must meet the hasher's bound, not the
	// account's lockout.
	env["LOGIN_MAX_FAILURES"] = "0"
	env["RATE_LIMIT_LOGIN"] = "0"
	s := startService(t, env)
	base := s.URL
	email := apitest.UniqueEmail("flood")
	me := s.Register(t, email)

	const logins = 500
	flood := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: logins}}
	probe := &http.Client{Timeout: probeTimeout(), Transport: &http.Transport{}}
	t.Cleanup(flood.CloseIdleConnections)
	t.Cleanup(probe.CloseIdleConnections)

	// The probe calls me and /healthz in a loop until the flood is over.
	var (
		meTimes, healthTimes []time.Duration
		probeErrs            []string
	)
	done, probed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(probed)
		for {
			select {
			case <-done:
				return
			default:
			}
			r, took, err := apitest.Call(probe, base, me.AccessToken, apitest.MeDoc, nil)
			switch {
			case err != nil:
				probeErrs = append(probeErrs, fmt.Sprintf("me: %v", err))
			case r.Status != http.StatusOK || len(r.Errors) > 0:
				probeErrs = append(probeErrs, fmt.Sprintf("me: %d %s", r.Status, r.Body))
			default:
				meTimes = append(meTimes, took)
			}
			status, took, err := apitest.GetStatus(probe, base+"/healthz")
			if err != nil || status != http.StatusOK {
				probeErrs = append(probeErrs, fmt.Sprintf("/healthz: %d %v", status, err))
			} else {
				healthTimes = append(healthTimes, took)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	// A third each: the right password, a wrong one, an unknown email.
	began := time.Now()
	results := atOnce(flood, base, "", apitest.LoginDoc, logins, func(i int) map[string]any {
		who, password := email, apitest.Password
		switch i % 3 {
		case 1:
			password = "wrong password"
		case 2:
			who = fmt.Sprintf("nobody-%d@example.com", i)
		}
		return map[string]any{"input": map[string]any{"email": who, "password": password}}
	})
	elapsed := time.Since(began)
	close(done)
	<-probed

	counts := map[string]int{}
	var slowest time.Duration
	for i, res := range results {
		slowest = max(slowest, res.took)
		switch {
		case res.err != nil:
			t.Errorf("login %d: %v", i, res.err)
			continue
		case res.r.Status >= 500:
			t.Errorf("login %d: HTTP %d %s", i, res.r.Status, res.r.Body)
			continue
		}
		code := res.r.Code()
		counts[code]++
		switch code {
		case "":
			var p apitest.Payload
			res.r.Field(t, "login", &p)
			if p.AccessToken == "" || i%3 != 0 {
				t.Errorf("login %d succeeded with %s", i, res.r.Body)
			}
		case "INVALID_CREDENTIALS":
			if i%3 == 0 {
				t.Errorf("login %d with the right password: %s", i, res.r.Body)
			}
		case "RATE_LIMITED":
			if v, ok := res.r.Ext("retryAfter").(float64); !ok || v < 1 {
				t.Errorf("login %d: RATE_LIMITED without a retryAfter: %s", i, res.r.Body)
			}
		default:
			t.Errorf("login %d: %s", i, res.r.Body)
		}
	}
	for _, e := range probeErrs {
		t.Errorf("during the flood, %s", e)
	}
	if len(meTimes) < 3 {
		t.Errorf("me answered %d times during the flood of %v, want it to keep answering", len(meTimes), elapsed)
	}
	rss := peakRSS(t, s.cmd.Process.Pid)
	t.Logf("%d logins in %v (slowest %v): %d succeeded, %d INVALID_CREDENTIALS, %d shed with RATE_LIMITED",
		logins, elapsed.Round(time.Millisecond), slowest.Round(time.Millisecond), counts[""], counts["INVALID_CREDENTIALS"], counts["RATE_LIMITED"])
	t.Logf("me during the flood: %d calls, p50 %v, p99 %v, max %v; /healthz max %v",
		len(meTimes), apitest.Percentile(meTimes, 50), apitest.Percentile(meTimes, 99), apitest.Percentile(meTimes, 100), apitest.Percentile(healthTimes, 100))
	t.Logf("peak RSS of the service: %.1f MiB (limit %d MiB)", float64(rss)/(1<<20), floodRSSLimit>>20)
	if rss > floodRSSLimit && !raceDetector {
		t.Errorf("peak RSS %d MiB, over the limit of %d MiB", rss>>20, floodRSSLimit>>20)
	}
	// The flood leaves nothing behind: the next login is served.
	s.Login(t, email, apitest.Password)
}

// pgCluster is a throwaway PostgreSQL cluster of the test's own, made with
// initdb and run with pg_ctl on a free port, so that a test may stop and
// start it without disturbing the shared server.
type pgCluster struct {
	bin, dir, data string
	port           int
	// asPostgres runs the binaries as the postgres OS user: initdb
	// refuses to run as root.
	asPostgres bool
}

// pgBin is the directory of PostgreSQL's server binaries: PG_BIN, or where
// Debian and Ubuntu install them (/usr/lib/postgresql/15/bin), the newest
// version when there are several.
func pgBin() string {
	if dir := os.Getenv("PG_BIN"); dir != "" {
		return dir
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	slices.SortFunc(found, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(a))))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(b))))
		return va - vb
	})
	if len(found) == 0 {
		return "/usr/lib/postgresql/15/bin"
	}
	return filepath.Dir(found[len(found)-1])
}

// newPGCluster creates and starts a cluster, and stops it when the test
// ends. Without the binaries it skips the test, or fails it in CI.
func newPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	bin := pgBin()
	if _, err := os.Stat(filepath.Join(bin, "pg_ctl")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL server binaries are needed in CI (set PG_BIN): %v", err)
		}
		t.Skipf("no PostgreSQL server binaries (set PG_BIN): %v", err)
	}
	dir := t.TempDir()
	c := &pgCluster{bin: bin, dir: dir, data: filepath.Join(dir, "data"), port: freePort(t), asPostgres: os.Geteuid() == 0}
	if c.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, initdb needs the postgres OS user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		// t.TempDir's parent is private to root: let postgres through to a
		// directory of its own.
		if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	c.run(t, "initdb", "-D", c.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
	t.Cleanup(func() {
		if out, err := c.command("pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil && c.running() {
			t.Errorf("stopping the test's PostgreSQL: %v: %s", err, out)
		}
	})
	c.start(t)
	return c
}

// URI is the cluster's postgres database.
func (c *pgCluster) URI() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

func (c *pgCluster) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, name)
	if c.asPostgres {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (c *pgCluster) run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := c.command(name, args...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		t.Fatalf("%s: %v\n%s\nserver log:\n%s", name, err, out, log)
	}
}

// start starts the server and waits until it accepts connections.
func (c *pgCluster) start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c fsync=off", c.port, c.dir)
	c.run(t, "pg_ctl", "-D", c.data, "-l", filepath.Join(c.dir, "log"), "-o", opts, "-w", "-t", "60", "start")
}

// crash stops the server the way a crash would: every backend killed, no
// checkpoint, connections cut.
func (c *pgCluster) crash(t *testing.T) {
	t.Helper()
	c.run(t, "pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop")
}

// freeze stops (SIGSTOP) the server's processes, the postmaster first so
// that it forks no more: a database that accepts connections and answers
// nothing, the fault where a request could wait for ever. thaw resumes them.
func (c *pgCluster) freeze(t *testing.T) { c.signal(t, syscall.SIGSTOP) }
func (c *pgCluster) thaw(t *testing.T)   { c.signal(t, syscall.SIGCONT) }

// signal sends sig to the postmaster and to each of its children. A
// SIGSTOP is delivered asynchronously: the postmaster is watched until it
// has stopped, and its children are listed again until a pass finds none
// not signaled yet, so that a backend it forked a moment after the signal
// is frozen too.
func (c *pgCluster) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.data, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	postmaster, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0]))
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	if err := syscall.Kill(postmaster, sig); err != nil {
		t.Fatalf("signaling the postmaster: %v", err)
	}
	if sig == syscall.SIGSTOP {
		apitest.Eventually(t, 10*time.Second, "the postmaster stopped", func() bool {
			state, _ := procState(postmaster)
			return state == "T"
		})
	}
	signaled := map[int]bool{}
	for {
		found := false
		procs, err := os.ReadDir("/proc")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range procs {
			pid, err := strconv.Atoi(p.Name())
			if err != nil || signaled[pid] {
				continue
			}
			if _, ppid := procState(pid); ppid == postmaster {
				_ = syscall.Kill(pid, sig)
				signaled[pid], found = true, true
			}
		}
		if !found {
			return
		}
	}
}

// procState reads the state letter and the parent of process pid from
// /proc; "" and 0 when it is gone.
func procState(pid int) (state string, ppid int) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return "", 0
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 2 {
		return "", 0
	}
	ppid, _ = strconv.Atoi(fields[1])
	return fields[0], ppid
}

func (c *pgCluster) running() bool {
	return c.command("pg_ctl", "-D", c.data, "status").Run() == nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// leaks are what an error sent to a client must never contain when the
// database fails: SQL, driver or network details.
var leaks = []string{"SQL", "sql", "SELECT", "INSERT", "UPDATE", "pgx", "pgconn", "postgres", "dial", "connection", "refused", "127.0.0.1", "goroutine", ".go:"}

// TestDatabaseOutage freezes PostgreSQL, then crashes it, under a load of
// registrations, logins and refreshes, and starts it again: while it hangs
// requests end at REQUEST_TIMEOUT, while it is down they fail fast, both
// with INTERNAL_SERVER_ERROR, /readyz says not ready and /healthz stays
// up; once it is back the service recovers by itself, every user and
// session is whole, and every refresh chain continues.
func TestDatabaseOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a PostgreSQL cluster of its own")
	}
	pg := newPGCluster(t)
	const requestTimeout = 3 * time.Second
	s := startService(t, apitest.Env(pg.URI(),
		"REQUEST_TIMEOUT", requestTimeout.String(),
		// Longer than the outage: a rotation that committed but whose
		// response was lost must still be retryable afterwards.
		"REFRESH_REUSE_INTERVAL", "2m",
		"RATE_LIMIT_REGISTER", "0",
	))
	c := &http.Client{Timeout: 3 * requestTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	t.Cleanup(c.CloseIdleConnections)

	// Users, each with two sessions: each session a refresh chain whose
	// client holds the last token it was given.
	type chain struct {
		email   string
		refresh string
		access  string
	}
	var chains []*chain
	var emails []string
	for i := range 6 {
		email := apitest.UniqueEmail(fmt.Sprint("outage", i))
		emails = append(emails, email)
		p := s.Register(t, email)
		chains = append(chains, &chain{email, p.RefreshToken, p.AccessToken})
		p = s.Login(t, email, apitest.Password)
		chains = append(chains, &chain{email, p.RefreshToken, p.AccessToken})
	}

	// Every exchange of the load, for the checks at the end.
	type exchange struct {
		what       string
		at         time.Time
		took       time.Duration
		r          apitest.Response
		err        error
		registered string // the email a register tried
	}
	var (
		mu        sync.Mutex
		exchanges []exchange
	)
	record := func(x exchange) {
		mu.Lock()
		defer mu.Unlock()
		exchanges = append(exchanges, x)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	loop := func(fn func()) {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				fn()
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	for _, ch := range chains {
		loop(func() {
			at := time.Now()
			r, took, err := apitest.Call(c, s.URL, "", apitest.RefreshDoc, map[string]any{"t": ch.refresh})
			if err == nil && len(r.Errors) == 0 {
				var p apitest.Payload
				if raw, ok := r.Data["refreshToken"]; ok && json.Unmarshal(raw, &p) == nil && p.RefreshToken != "" {
					ch.refresh, ch.access = p.RefreshToken, p.AccessToken
				}
			}
			record(exchange{what: "refresh", at: at, took: took, r: r, err: err})
		})
	}
	for i := range 2 {
		loop(func() {
			at := time.Now()
			r, took, err := apitest.Call(c, s.URL, "", apitest.LoginDoc, map[string]any{"input": map[string]any{"email": emails[i], "password": apitest.Password}})
			record(exchange{what: "login", at: at, took: took, r: r, err: err})
		})
	}
	var registrations atomic.Int64
	loop(func() {
		email := fmt.Sprintf("outage-new-%d-%d@example.com", time.Now().UnixNano(), registrations.Add(1))
		at := time.Now()
		r, took, err := apitest.Call(c, s.URL, "", apitest.RegisterDoc, map[string]any{"input": map[string]any{"email": email, "password": apitest.Password}})
		record(exchange{what: "register", at: at, took: took, r: r, err: err, registered: email})
	})
	// /healthz must answer throughout; /readyz is watched for its turns.
	var healthErrs []string
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if status, _, err := apitest.GetStatus(c, s.URL+"/healthz"); err != nil || status != http.StatusOK {
				healthErrs = append(healthErrs, fmt.Sprintf("%d %v", status, err))
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	waitReady := func(want int, within time.Duration) (time.Duration, bool) {
		start := time.Now()
		for time.Since(start) < within {
			if status, _, err := apitest.GetStatus(c, s.URL+"/readyz"); err == nil && status == want {
				return time.Since(start), true
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(start), false
	}
	// turns checks that /readyz turns to want within, after what happened.
	turns := func(want int, within time.Duration, after string) {
		t.Helper()
		if took, ok := waitReady(want, within); !ok {
			t.Errorf("/readyz still not %d %v after %s", want, took, after)
		} else {
			t.Logf("/readyz answered %d %v after %s", want, took.Round(time.Millisecond), after)
		}
	}
	// seen waits until the load has an exchange of kind what ("" for any)
	// that started after since and that ok accepts.
	seen := func(what string, since time.Time, ok func(exchange) bool, within time.Duration) bool {
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			mu.Lock()
			found := slices.ContainsFunc(exchanges, func(x exchange) bool {
				return (what == "" || x.what == what) && x.at.After(since) && ok(x)
			})
			mu.Unlock()
			if found {
				return true
			}
			time.Sleep(20 * time.Millisecond)
		}
		return false
	}
	succeeds := func(x exchange) bool { return x.err == nil && len(x.r.Errors) == 0 }
	fails := func(x exchange) bool { return x.err == nil && len(x.r.Errors) > 0 }
	for _, what := range []string{"refresh", "login", "register"} {
		if !seen(what, time.Time{}, succeeds, 30*time.Second) {
			t.Errorf("no %s succeeded before the outage", what)
		}
	}

	// First a database that hangs: requests end at REQUEST_TIMEOUT.
	pg.freeze(t)
	var thawed time.Time
	t.Cleanup(func() {
		if thawed.IsZero() {
			pg.thaw(t)
		}
	})
	frozen := time.Now()
	turns(http.StatusServiceUnavailable, 20*time.Second, "PostgreSQL froze") // the ping times out after 2 s; the rest is room for a loaded machine
	if !seen("", frozen, fails, 3*requestTimeout) {
		t.Errorf("no request begun while PostgreSQL was frozen failed within %v", 3*requestTimeout)
	}
	pg.thaw(t)
	thawed = time.Now()
	turns(http.StatusOK, 30*time.Second, "PostgreSQL thawed")
	if !seen("", thawed, succeeds, 30*time.Second) {
		t.Errorf("no request succeeded after PostgreSQL thawed")
	}
	// Then one that crashes.
	crashed := time.Now()
	pg.crash(t)
	turns(http.StatusServiceUnavailable, 10*time.Second, "PostgreSQL stopped")
	if !seen("", crashed, fails, 10*time.Second) {
		t.Errorf("no request begun while PostgreSQL was down failed")
	}
	pg.start(t)
	restarted := time.Now()
	recovery, ok := waitReady(http.StatusOK, 30*time.Second)
	if !ok {
		close(stop)
		wg.Wait()
		t.Fatalf("/readyz not 200 %v after PostgreSQL started again; logs:\n%s", recovery, s.logs)
	}
	// Load goes on until every kind of request has succeeded again, then
	// stops.
	for _, what := range []string{"refresh", "login", "register"} {
		if !seen(what, restarted, succeeds, 30*time.Second) {
			t.Errorf("no %s succeeded after PostgreSQL started again", what)
		}
	}
	close(stop)
	wg.Wait()

	// Requests failed fast, and only as INTERNAL_SERVER_ERROR with the
	// request id and nothing of the cause.
	var (
		failed                  []time.Duration
		okBefore, okAfter, errN int
		firstOK                 time.Duration = -1
	)
	var frozenFailed []time.Duration
	for _, x := range exchanges {
		// In flight while frozen, and failed.
		if x.at.Before(thawed) && x.at.Add(x.took).After(frozen) && x.err == nil && len(x.r.Errors) > 0 {
			frozenFailed = append(frozenFailed, x.took)
		}
		if x.took > requestTimeout+2*time.Second {
			t.Errorf("%s at +%v took %v, over REQUEST_TIMEOUT %v", x.what, x.at.Sub(crashed), x.took, requestTimeout)
		}
		if x.err != nil {
			t.Errorf("%s at +%v: %v", x.what, x.at.Sub(crashed), x.err)
			continue
		}
		if x.r.Status >= 500 {
			t.Errorf("%s at +%v: HTTP %d %s", x.what, x.at.Sub(crashed), x.r.Status, x.r.Body)
			continue
		}
		if len(x.r.Errors) == 0 {
			if x.at.Before(crashed) {
				okBefore++
			} else if x.at.After(restarted) {
				okAfter++
				if firstOK < 0 || x.at.Sub(restarted)+x.took < firstOK {
					firstOK = x.at.Sub(restarted) + x.took
				}
			}
			continue
		}
		errN++
		failed = append(failed, x.took)
		if x.r.Code() != "INTERNAL_SERVER_ERROR" {
			t.Errorf("%s at +%v: %s, want only INTERNAL_SERVER_ERROR", x.what, x.at.Sub(crashed), x.r.Body)
			continue
		}
		if id := x.r.Header.Get("X-Request-Id"); id == "" || x.r.Ext("requestId") != id {
			t.Errorf("%s: requestId %v, want the X-Request-Id %q", x.what, x.r.Ext("requestId"), id)
		}
		for _, leak := range leaks {
			if strings.Contains(x.r.Body, leak) {
				t.Errorf("%s: the error reveals %q: %s", x.what, leak, x.r.Body)
			}
		}
	}
	for _, e := range healthErrs {
		t.Errorf("/healthz during the outage: %s", e)
	}
	if okBefore == 0 || okAfter == 0 || errN == 0 {
		t.Errorf("%d successes before the crash, %d errors, %d successes after the restart: want each > 0", okBefore, errN, okAfter)
	}
	t.Logf("%d exchanges: %d ok before the crash, %d failed (p50 %v, max %v), %d ok after the restart",
		len(exchanges), okBefore, errN, apitest.Percentile(failed, 50), apitest.Percentile(failed, 100), okAfter)
	t.Logf("while frozen: %d failed, p50 %v, max %v (REQUEST_TIMEOUT %v)",
		len(frozenFailed), apitest.Percentile(frozenFailed, 50), apitest.Percentile(frozenFailed, 100), requestTimeout)
	if len(frozenFailed) == 0 {
		t.Errorf("no request failed while PostgreSQL was frozen")
	}
	t.Logf("recovery: /readyz 200 %v after PostgreSQL started again; first success of the load %v after",
		recovery.Round(time.Millisecond), firstOK.Round(time.Millisecond))

	// Every chain continues from the token its client holds, and its
	// access token works.
	for i, ch := range chains {
		r := s.Refresh(t, ch.refresh)
		if len(r.Errors) > 0 {
			t.Errorf("chain %d (%s) cannot continue after the outage: %s", i, ch.email, r.Body)
			continue
		}
		var p apitest.Payload
		r.Field(t, "refreshToken", &p)
		if r := s.Refresh(t, p.RefreshToken); len(r.Errors) > 0 {
			t.Errorf("chain %d: second refresh after the outage: %s", i, r.Body)
		}
		if r := s.Post(t, p.AccessToken, apitest.MeDoc, nil); len(r.Errors) > 0 {
			t.Errorf("chain %d: me after the outage: %s", i, r.Body)
		}
	}
	// Every registration tried is whole or absent: the email either logs
	// in or can be registered now.
	for _, x := range exchanges {
		if x.registered == "" {
			continue
		}
		if x.err == nil && len(x.r.Errors) == 0 {
			s.Login(t, x.registered, apitest.Password)
			continue
		}
		r := s.Post(t, "", apitest.RegisterDoc, map[string]any{"input": map[string]any{"email": x.registered, "password": apitest.Password}})
		if code := r.Code(); code != "" && code != "EMAIL_TAKEN" {
			t.Errorf("registering %s again after a failed attempt: %s", x.registered, r.Body)
		}
		s.Login(t, x.registered, apitest.Password)
	}

	checkConsistency(t, pg.URI())
}

// openPostgres opens the PostgreSQL database uri for checks, closed when
// the test ends, and a context that bounds them.
func openPostgres(t *testing.T, uri string) (*sql.DB, context.Context) {
	t.Helper()
	db := testdb.OpenPostgres(t, uri)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return db, ctx
}

// countCheck is a count the database must have: what counted, the query
// that counts it, and the count wanted.
type countCheck struct {
	what, query string
	want        int
}

// integrityChecks hold after any load: no user without a session, no
// session without its user, and every rotated token's parent spent, in
// the same session.
var integrityChecks = []countCheck{
	{"users without a session", `SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = u.id)`, 0},
	{"sessions without their user", `SELECT count(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)`, 0},
	{"refresh tokens whose parent is missing, unspent or of another session", `SELECT count(*) FROM refresh_tokens r LEFT JOIN refresh_tokens p ON p.id = r.parent_id
		WHERE r.parent_id IS NOT NULL AND (p.id IS NULL OR p.spent_at IS NULL OR p.session_id <> r.session_id)`, 0},
}

// countChecks runs checks against db.
func countChecks(t *testing.T, ctx context.Context, db *sql.DB, checks []countCheck) {
	t.Helper()
	for _, c := range checks {
		var n int
		if err := db.QueryRowContext(ctx, c.query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if n != c.want {
			t.Errorf("%d %s, want %d", n, c.what, c.want)
		}
	}
}

// checkConsistency checks, in the database itself, that no user or session
// was left half made: every user has a password hash, the user role and a
// session; every session has its user and a refresh token it can go on
// from; every rotated token's parent is spent, in the same session; and no
// session was revoked, since nothing in the load ends one.
func checkConsistency(t *testing.T, uri string) {
	t.Helper()
	db, ctx := openPostgres(t, uri)
	rows, err := db.QueryContext(ctx, `SELECT email, password_hash, roles::text FROM users`)
	if err != nil {
		t.Fatal(err)
	}
	users := 0
	for rows.Next() {
		var email, hash, roles string
		if err := rows.Scan(&email, &hash, &roles); err != nil {
			t.Fatal(err)
		}
		users++
		var list []string
		if err := json.Unmarshal([]byte(roles), &list); err != nil || !slices.Contains(list, "user") {
			t.Errorf("user %s has roles %s, want user among them", email, roles)
		}
		if !strings.HasPrefix(hash, "$argon2id$") {
			t.Errorf("user %s has no password hash", email)
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	countChecks(t, ctx, db, append(slices.Clone(integrityChecks),
		countCheck{"sessions without a refresh token", `SELECT count(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.session_id = s.id)`, 0},
		countCheck{"sessions without an unspent refresh token", `SELECT count(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.session_id = s.id AND r.spent_at IS NULL)`, 0},
		countCheck{"revoked sessions", `SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL`, 0},
	))
	var sessions, tokens int
	if err := db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM refresh_tokens)`).Scan(&sessions, &tokens); err != nil {
		t.Fatal(err)
	}
	t.Logf("consistent: %d users, %d sessions, %d refresh tokens", users, sessions, tokens)
}
