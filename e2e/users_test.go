package e2e

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/testdb"
)

// createAdmin runs `latchkey users create EMAIL --admin --password-stdin
// flags...` as the Kubernetes Job of k8s/README.md does, the password on
// its standard input, and returns its output and exit code.
func createAdmin(t *testing.T, env map[string]string, email, password string, flags ...string) (string, int) {
	t.Helper()
	args := append([]string{"users", "create", email, "--admin", "--password-stdin"}, flags...)
	return runStdin(t, env, password+"\n", args...)
}

// runStdin runs the built binary with args, env as its whole environment
// (PATH aside) and stdin as its standard input (a pipe, no terminal), and
// returns its output and exit code.
func runStdin(t *testing.T, env map[string]string, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := command(t, env, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("running %v: %v", args, err)
	}
	return string(out), 0
}

// TestUsersCreateFirstAdmin creates the first administrator with the built
// binary, before the service ever ran: the command migrates the database,
// the user is verified and an admin, an existing email exits 1, or 0 and
// unchanged with --if-not-exists; the service then lets the admin list
// users.
func TestUsersCreateFirstAdmin(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the binary")
	}
	testdb.Each(t, func(t *testing.T, uri string) {
		if strings.HasSuffix(uri, ":memory:") {
			uri = testdb.SQLiteFile(t)
		}
		env := apitest.Env(uri)
		email := apitest.UniqueEmail("first-admin")
		if out, code := createAdmin(t, env, email, apitest.Password, "--display-name", "First Admin"); code != 0 {
			t.Fatalf("users create = exit %d, want 0:\n%s", code, out)
		}
		if out, code := createAdmin(t, env, email, "another password entirely"); code != 1 {
			t.Errorf("users create of an existing email = exit %d, want 1:\n%s", code, out)
		}
		if out, code := createAdmin(t, env, email, "another password entirely", "--if-not-exists"); code != 0 || !strings.Contains(out, "unchanged") {
			t.Errorf("users create --if-not-exists of an existing email = exit %d, want 0 and unchanged:\n%s", code, out)
		}
		for _, tc := range []struct {
			name, stdin string
			args        []string
		}{
			{"a weak password", "short\n", []string{"users", "create", apitest.UniqueEmail("weak"), "--password-stdin"}},
			{"no terminal to ask on", apitest.Password + "\n", []string{"users", "create", apitest.UniqueEmail("noterm")}},
			{"no email", apitest.Password + "\n", []string{"users", "create", "--password-stdin"}},
			{"a password argument", "", []string{"users", "create", apitest.UniqueEmail("arg"), "--password", apitest.Password}},
		} {
			if out, code := runStdin(t, env, tc.stdin, tc.args...); code == 0 {
				t.Errorf("users create with %s = exit 0, want an error:\n%s", tc.name, out)
			}
		}

		s := startService(t, env)
		p := s.Login(t, email, apitest.Password) // the first password: --if-not-exists changed nothing
		if !p.User.EmailVerified || !slices.Contains(p.User.Roles, "admin") || p.User.DisplayName == nil || *p.User.DisplayName != "First Admin" {
			t.Errorf("created user = %+v, want verified, admin, First Admin", p.User)
		}
		if r := s.Post(t, p.AccessToken, `{ users(first: 10) { totalCount edges { node { email } } } }`, nil); len(r.Errors) > 0 || !strings.Contains(r.Body, email) {
			t.Errorf("users as the first admin = %s, want the admin listed", r.Body)
		}
		s.stop(t)
	})
}
