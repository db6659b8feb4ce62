package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/testdb"
)

// exitCode is the exit status of a command that returned err.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("running the binary: %v", err)
	return -1
}

// output is a command's combined output without its log lines, which are
// JSON objects on standard error.
func output(combined string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(combined), "\n") {
		if !strings.HasPrefix(l, `{"time":`) {
			out = append(out, l)
		}
	}
	return out
}

// TestUsersImportBinary imports a user for each hash that real Werkzeug
// (every default from 2.2 to 3.1) and bcrypt made, with the binary as an
// operator runs it, and logs in each whose hash is of a low cost (every
// scheme has some) with the binary serving: the right password works and
// upgrades the hash to argon2id (users legacy no longer lists the user), a
// wrong one is INVALID_CREDENTIALS. Exit statuses are
// the process's: 1 with refused lines, 0 when all are imported or exist, 2
// on a usage error.
func TestUsersImportBinary(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the binary")
	}
	fs := apitest.LegacyFixtures(t, "../internal/password/testdata/legacy.json")
	testdb.Each(t, func(t *testing.T, uri string) {
		if strings.HasSuffix(uri, ":memory:") {
			uri = testdb.SQLiteFile(t)
		}
		env := apitest.Env(uri, "RATE_LIMIT_LOGIN", "0")
		dir := t.TempDir()
		var lines []string
		for i, f := range fs {
			l, _ := json.Marshal(map[string]any{"email": fmt.Sprintf("fixture-%d@example.com", i), "password_hash": f.Hash, "legacy_id": i})
			lines = append(lines, string(l))
		}
		input := filepath.Join(dir, "users.jsonl")
		if err := os.WriteFile(input, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		report := filepath.Join(dir, "report.jsonl")
		out, err := runCommand(t, env, "users", "import", input, "--report", report)
		if code := exitCode(t, err); code != 1 {
			t.Errorf("users import with refused hashes exits %d, want 1; output:\n%s", code, out)
		}
		statuses := readStatuses(t, report)
		for i, f := range fs {
			want := "imported"
			if f.Refused {
				want = "unknown_hash"
			}
			if statuses[i+1] != want {
				t.Errorf("report of %s %q = %q, want %q", f.MadeBy, f.StandsFor, statuses[i+1], want)
			}
		}
		if out, err := runCommand(t, env, "users", "import", input, "--report", report, "--on-unknown-hash", "reset"); exitCode(t, err) != 0 {
			t.Errorf("users import --on-unknown-hash reset exits %v, want 0; output:\n%s", err, out)
		}
		if out, err := runCommand(t, env, "users", "import", input, "--format", "xml"); exitCode(t, err) != 2 {
			t.Errorf("users import --format xml exits %v, want 2; output:\n%s", err, out)
		}
		before := legacy(t, env)

		s := startService(t, env)
		for i, f := range fs {
			email := fmt.Sprintf("fixture-%d@example.com", i)
			if f.Refused {
				apitest.WantCode(t, "login to a user imported without a usable password",
					s.Post(t, "", apitest.LoginDoc, map[string]any{"input": map[string]any{"email": email, "password": f.Password}}), "INVALID_CREDENTIALS")
				continue
			}
			if before[email] != f.Scheme {
				t.Errorf("users legacy lists %s as %q, want %q", f.StandsFor, before[email], f.Scheme)
			}
			if f.Password == "" {
				continue // login refuses an empty password before any hashing
			}
			if atLibraryDefault(f.Hash) {
				// internal/password verifies these at their cost; under
				// -race a login at Werkzeug's 1,000,000 iterations takes
				// seconds, and the schemes are all here at a low cost.
				continue
			}
			apitest.WantCode(t, "login with a wrong password to "+f.StandsFor,
				s.Post(t, "", apitest.LoginDoc, map[string]any{"input": map[string]any{"email": email, "password": "wrong " + f.Password}}), "INVALID_CREDENTIALS")
			s.Login(t, email, f.Password)
			s.Login(t, email, f.Password) // against the argon2id hash it was upgraded to
		}
		after := legacy(t, env)
		for i, f := range fs {
			email := fmt.Sprintf("fixture-%d@example.com", i)
			if _, listed := after[email]; !f.Refused && listed != (f.Password == "" || atLibraryDefault(f.Hash)) {
				t.Errorf("users legacy lists %s (%s) after its login: %t", f.StandsFor, f.MadeBy, listed)
			}
		}
	})
}

func readStatuses(t *testing.T, path string) map[int]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			Line   int    `json:"line"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("report line %q: %v", sc.Text(), err)
		}
		out[r.Line] = r.Status
	}
	return out
}

// legacy runs users legacy and returns the scheme of each email it lists.
func legacy(t *testing.T, env map[string]string) map[string]string {
	t.Helper()
	combined, err := runCommand(t, env, "users", "legacy")
	if err != nil {
		t.Fatalf("users legacy: %v\n%s", err, combined)
	}
	lines := output(combined)
	got := map[string]string{}
	for _, l := range lines[1 : len(lines)-1] {
		f := strings.Fields(l)
		got[f[1]] = f[2]
	}
	if want := fmt.Sprintf("%d accounts", len(got)); !strings.HasPrefix(lines[len(lines)-1], want) {
		t.Errorf("users legacy ends %q, want %q", lines[len(lines)-1], want)
	}
	return got
}

// atLibraryDefault reports whether hash is a Werkzeug or bcrypt hash at a
// cost above the low ones the fixtures also hold: over 1,000 pbkdf2
// iterations, scrypt's N over 16,384, bcrypt's cost over 5.
func atLibraryDefault(hash string) bool {
	parts := strings.Split(hash, "$")
	method := strings.Split(parts[0], ":")
	switch {
	case method[0] == "pbkdf2" && len(method) == 3:
		n, _ := strconv.Atoi(method[2])
		return n > 1000
	case method[0] == "scrypt" && len(method) == 4:
		n, _ := strconv.Atoi(method[1])
		return n > 1<<14
	case strings.HasPrefix(hash, "$2") && len(parts) > 2:
		n, _ := strconv.Atoi(parts[2])
		return n > 5
	}
	return false
}
