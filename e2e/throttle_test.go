package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/testdb"
)

// metric reads the value of the unlabelled metric name from a replica's
// /metrics.
func metric(t *testing.T, s *service, name string) float64 {
	t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in %s/metrics", name, s.URL)
	return 0
}

// passwordHashes reads from a replica's /metrics how many password hashes
// it computed.
func passwordHashes(t *testing.T, s *service) int {
	return int(metric(t, s, "latchkey_password_hash_duration_seconds_count"))
}

// TestLoginThrottleReplicas sends 100 wrong passwords for one account at
// once to three processes on one PostgreSQL: each attempt is counted
// before its hash in one atomic statement, so together they compute at
// most LOGIN_MAX_FAILURES hashes.
func TestLoginThrottleReplicas(t *testing.T) {
	t.Parallel()
	const maxFailures, burst = 10, 100
	env := apitest.Env(testdb.Postgres(t), "LOGIN_MAX_FAILURES", fmt.Sprint(maxFailures), "RATE_LIMIT_LOGIN", "0")
	replicas := []*service{startService(t, env), startService(t, env), startService(t, env)}
	email := apitest.UniqueEmail("burst")
	replicas[0].Register(t, email)
	before := 0
	for _, r := range replicas {
		before += passwordHashes(t, r)
	}

	codes := make([]string, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			r, _, err := apitest.Call(http.DefaultClient, replicas[i%len(replicas)].URL, "", apitest.LoginDoc,
				map[string]any{"input": map[string]any{"email": email, "password": fmt.Sprint("wrong password ", i)}})
			if err != nil {
				t.Error(err)
				return
			}
			codes[i] = r.Code()
		})
	}
	wg.Wait()
	after := 0
	for _, r := range replicas {
		after += passwordHashes(t, r)
	}
	count := map[string]int{}
	for _, c := range codes {
		count[c]++
	}
	if after-before > maxFailures {
		t.Errorf("%d concurrent wrong logins on 3 replicas computed %d password hashes, want at most %d (codes %v)", burst, after-before, maxFailures, count)
	}
	if count["INVALID_CREDENTIALS"] > maxFailures || count["INVALID_CREDENTIALS"]+count["RATE_LIMITED"] != burst {
		t.Errorf("codes %v, want at most %d INVALID_CREDENTIALS and the rest RATE_LIMITED", count, maxFailures)
	}
}
