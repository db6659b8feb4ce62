package e2e

import (
	"testing"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/testdb"
)

// TestRestartKeepsTokens stops the built binary with SIGTERM and starts it
// again on the same SQLite file: the tokens issued before still work,
// signed with the key kept in the database.
func TestRestartKeepsTokens(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the binary")
	}
	env := apitest.Env(testdb.SQLiteFile(t))
	s := startService(t, env)
	p := s.Register(t, apitest.UniqueEmail("restart"))
	s.stop(t)

	s = startService(t, env)
	if r := s.Post(t, p.AccessToken, apitest.MeDoc, nil); len(r.Errors) > 0 {
		t.Errorf("me with an access token from before the restart: %s", r.Body)
	}
	if r := s.Refresh(t, p.RefreshToken); len(r.Errors) > 0 {
		t.Errorf("refresh with a token from before the restart: %s", r.Body)
	}
}
