package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/bench"
	"github.com/latchkey/latchkey/internal/testdb"
)

// TestColdStartLogins starts the built binary, hashing at the production
// cost, and logs 20 users in at once as soon as /readyz answers, as users
// reach a freshly scaled-up replica: every login succeeds, none is shed
// with RATE_LIMITED while the new process's hash memory is first touched.
// The runtime runs under the memory policy the binary ships with.
func TestColdStartLogins(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	// The production hashing and memory policy, as the binary ships.
	env := apitest.ProductionHashing(testdb.SQLiteFile(t))
	delete(env, "MEMORY_LIMIT_MIB")
	if raceDetector {
		// The detector slows every hash several times over, and the other
		// packages' tests share the cores: the shipped wait is checked by
		// the run without it (CI's step for the shipped binary).
		env["PASSWORD_HASH_MAX_WAIT"] = "10s"
	}
	const users = 20
	emails := make([]string, users)
	s := startService(t, env)
	for i := range emails {
		emails[i] = apitest.UniqueEmail(fmt.Sprintf("cold-%d", i))
		s.Register(t, emails[i])
	}
	s.stop(t)

	s = startService(t, env)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: users}}
	t.Cleanup(client.CloseIdleConnections)
	results := atOnce(client, s.URL, "", apitest.LoginDoc, users, func(i int) map[string]any {
		return map[string]any{"input": map[string]any{"email": emails[i], "password": apitest.Password}}
	})

	var slowest time.Duration
	for i, res := range results {
		slowest = max(slowest, res.took)
		switch {
		case res.err != nil:
			t.Errorf("login %d: %v", i, res.err)
		case res.r.Status != http.StatusOK || len(res.r.Errors) > 0:
			t.Errorf("login %d right after the start: HTTP %d %s, want a session", i, res.r.Status, res.r.Body)
		}
	}
	t.Logf("%d logins at once right after the start, the slowest in %v", users, slowest.Round(time.Millisecond))

	if got := metric(t, s, "go_gc_gomemlimit_bytes"); got != 24<<20 {
		t.Errorf("the runtime's soft memory limit is %v bytes, want MEMORY_LIMIT_MIB's default, 24 MiB", got)
	}
	if got := metric(t, s, "go_gc_gogc_percent"); got != 400 {
		t.Errorf("the runtime's GOGC is %v, want the default under the soft limit, 400", got)
	}
}

// TestLoadToolCold runs the load tool's cold measurement on the built
// binary: each round logs every user in without an error and reports the
// process's memory, and a binary that exits before it listens is an error
// carrying its output.
func TestLoadToolCold(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	// Cold runs the binary with this process's environment.
	for k, v := range apitest.Env(testdb.SQLiteFile(t)) {
		t.Setenv(k, v)
	}
	const logins = 3
	res, err := bench.Cold(t.Context(), bench.ColdOptions{Binary: binary, Logins: logins, Runs: 1})
	if err != nil {
		t.Fatalf("Cold: %v", err)
	}
	if len(res.Rounds) != 2 {
		t.Fatalf("Cold rounds = %+v, want cold and warm", res.Rounds)
	}
	for i, name := range []string{"cold", "warm"} {
		r := res.Rounds[i]
		if r.Operation != name || r.Requests != logins || r.Errors != 0 || len(r.SlowestMs) != 1 || len(r.BeforeMiB) != 1 || r.BeforeMiB[0] <= 0 {
			t.Errorf("round %d = %+v, want %s: %d logins, no error, one run's slowest and memory", i, r, name, logins)
		}
	}

	t.Setenv("DATABASE_URI", "unsupported://nowhere")
	_, err = bench.Cold(t.Context(), bench.ColdOptions{Binary: binary, Logins: 1, Runs: 1})
	if err == nil || !strings.Contains(err.Error(), "exited before listening") || !strings.Contains(err.Error(), "DATABASE_URI") {
		t.Errorf("Cold of a service that cannot start = %v, want its exit and output", err)
	}
}
