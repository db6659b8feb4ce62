package e2e

import (
	"bytes"
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/testdb"
)

// keysCLI runs the built binary's keys command with env and returns its
// output and error.
func keysCLI(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	return runCommand(t, env, append([]string{"keys"}, args...)...)
}

// signingKid returns the kid of a token freshly issued by s.
func signingKid(t *testing.T, s *apitest.Server, email string) string {
	t.Helper()
	return apitest.HeaderOf(t, s.Login(t, email, apitest.Password).AccessToken)["kid"].(string)
}

// works reports whether tok passes @auth and validateToken on s. The two
// must agree, unless the replica re-read its keys in the middle of the
// check, which validateToken asked before and after @auth shows.
func works(t *testing.T, s *apitest.Server, tok string) bool {
	t.Helper()
	before := s.Validate(t, tok).Valid
	r := s.Post(t, tok, apitest.MeDoc, nil)
	after := s.Validate(t, tok).Valid
	if before == after && (len(r.Errors) == 0) != after {
		t.Errorf("me and validateToken disagree on a token: %s, valid %v", r.Body, after)
	}
	return after
}

// TestDatabaseKeyRotation rotates the keys held in PostgreSQL under two
// replica processes in production mode, with keys encrypted at rest, using
// the keys command as an operator would: tokens signed before the rotation
// keep working, new tokens carry the new kid on both replicas, the retired
// key's tokens fail everywhere, and all of it holds across a restart.
func TestDatabaseKeyRotation(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the binary")
	}
	uri := testdb.Postgres(t)
	env := apitest.Env(uri,
		"DEBUG", "false",
		"KEY_ENCRYPTION_KEY", base64.StdEncoding.EncodeToString(testKEK),
		"JWT_KEYS_REFRESH_INTERVAL", "1s",
	)
	serviceA := startService(t, env)
	a, b := serviceA.Server, startService(t, env).Server
	email := apitest.UniqueEmail("rotation")
	before := a.Register(t, email)
	oldKid := apitest.HeaderOf(t, before.AccessToken)["kid"].(string)
	if kid := signingKid(t, b, email); kid != oldKid {
		t.Fatalf("replicas sign with %s and %s, want one key", oldKid, kid)
	}

	out, err := keysCLI(t, env, "list")
	if err != nil || !strings.Contains(out, oldKid) || !strings.Contains(out, "current") || !strings.Contains(out, "next") || strings.Contains(out, "false") {
		t.Fatalf("keys list = %v:\n%s\nwant the current key %s and a next key, both encrypted", err, out, oldKid)
	}
	// The next key was introduced a moment ago: verifiers may not have it.
	if out, err := keysCLI(t, env, "rotate"); err == nil || !strings.Contains(out, "too early") {
		t.Errorf("keys rotate right after start = %v:\n%s\nwant refused as too early", err, out)
	}

	out, err = keysCLI(t, env, "rotate", "--force")
	if err != nil {
		t.Fatalf("keys rotate --force: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^promoted ([\w-]+):`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keys rotate --force printed no promoted key:\n%s", out)
	}
	newKid := m[1]
	for _, s := range []*apitest.Server{a, b} {
		apitest.Eventually(t, 15*time.Second, "replica signs with the new key "+newKid, func() bool { return signingKid(t, s, email) == newKid })
		if !works(t, s, before.AccessToken) {
			t.Errorf("token of the previous key refused by %s after the rotation", s.URL)
		}
	}
	after := b.Login(t, email, apitest.Password)

	// Retiring the previous key too early is refused; forced, it goes.
	if out, err := keysCLI(t, env, "retire", oldKid); err == nil || !strings.Contains(out, "too early") {
		t.Errorf("keys retire right after the rotation = %v:\n%s\nwant refused as too early", err, out)
	}
	if out, err := keysCLI(t, env, "retire", newKid, "--force"); err == nil || !strings.Contains(out, "cannot be retired") {
		t.Errorf("keys retire of the signing key = %v:\n%s\nwant refused: the current key cannot be retired", err, out)
	}
	if out, err := keysCLI(t, env, "retire", oldKid, "--force"); err != nil || !strings.Contains(out, "retired "+oldKid) {
		t.Fatalf("keys retire --force = %v:\n%s", err, out)
	}
	for _, s := range []*apitest.Server{a, b} {
		apitest.Eventually(t, 15*time.Second, "replica refuses the retired key's token", func() bool { return !works(t, s, before.AccessToken) })
		if v := s.Validate(t, before.AccessToken); v.Reason == nil || *v.Reason != "unknown_key" {
			t.Errorf("validateToken(retired key's token) reason = %v, want unknown_key", v.Reason)
		}
		if !works(t, s, after.AccessToken) {
			t.Errorf("token of the new key refused by %s", s.URL)
		}
	}

	// Restart replica A: it loads the same keys.
	serviceA.stop(t)
	a = startService(t, env).Server
	if !works(t, a, after.AccessToken) || works(t, a, before.AccessToken) {
		t.Error("after a restart: want the new key's token accepted and the retired key's refused")
	}
	if kid := signingKid(t, a, email); kid != newKid {
		t.Errorf("after a restart the replica signs with %s, want %s", kid, newKid)
	}
	if kids := apitest.JWKSKids(t, a.URL); len(kids) != 2 || kids[0] != newKid || slices.Contains(kids, oldKid) {
		t.Errorf("JWKS kids after the rotation = %v, want %s first and a key introduced ahead, without %s", kids, newKid, oldKid)
	}
}

// TestKeysCommandRefusals checks the keys command's answers to what it
// cannot do.
func TestKeysCommandRefusals(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the binary")
	}
	db := apitest.Env(testdb.SQLiteFile(t))
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"shared secret", apitest.Env(testdb.SQLiteMemory, "JWT_SECRET_KEY", "a shared secret of at least thirty-two bytes"), []string{"list"}, "not the database"},
		{"no subcommand", db, nil, "usage"},
		{"unknown subcommand", db, []string{"spin"}, "usage"},
		{"unknown key", db, []string{"retire", "nope"}, "no such signing key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out, err := keysCLI(t, tc.env, tc.args...); err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("keys %v = %v:\n%s\nwant an error saying %q", tc.args, err, out, tc.want)
			}
		})
	}
	// Keys sealed with one key-encryption key do not open without it.
	sealed := apitest.Env(testdb.SQLiteFile(t), "KEY_ENCRYPTION_KEY", base64.StdEncoding.EncodeToString(testKEK))
	if out, err := keysCLI(t, sealed, "list"); err != nil {
		t.Fatalf("keys list: %v\n%s", err, out)
	}
	delete(sealed, "KEY_ENCRYPTION_KEY")
	if out, err := keysCLI(t, sealed, "list"); err == nil || !strings.Contains(out, "KEY_ENCRYPTION_KEY") {
		t.Errorf("keys list without the key-encryption key = %v:\n%s\nwant an error naming KEY_ENCRYPTION_KEY", err, out)
	}
	if out, err := runCommand(t, sealed); err == nil || !strings.Contains(out, "KEY_ENCRYPTION_KEY") {
		t.Errorf("serving without the key-encryption key = %v:\n%s\nwant an error naming KEY_ENCRYPTION_KEY", err, out)
	}

	// A new key-encryption key beside the previous one seals the keys
	// again at the start; then the new one alone opens them.
	oldKEK, newKEK := base64.StdEncoding.EncodeToString(testKEK), base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	sealed["KEY_ENCRYPTION_KEY"], sealed["KEY_ENCRYPTION_KEY_PREVIOUS"] = newKEK, oldKEK
	if out, err := keysCLI(t, sealed, "list"); err != nil {
		t.Fatalf("keys list with a new and the previous key-encryption key: %v\n%s", err, out)
	}
	delete(sealed, "KEY_ENCRYPTION_KEY_PREVIOUS")
	if out, err := keysCLI(t, sealed, "list"); err != nil {
		t.Errorf("keys list with the new key-encryption key alone: %v\n%s", err, out)
	}
	sealed["KEY_ENCRYPTION_KEY"] = oldKEK
	if out, err := keysCLI(t, sealed, "list"); err == nil || !strings.Contains(out, "KEY_ENCRYPTION_KEY") {
		t.Errorf("keys list with the replaced key-encryption key = %v:\n%s\nwant an error naming KEY_ENCRYPTION_KEY", err, out)
	}
}

// testKEK is a key-encryption key for the tests.
var testKEK = bytes.Repeat([]byte{7}, 32)
