package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// npmInstall serializes npm ci: two tests installing at once would race on
// npm's cache.
var npmInstall sync.Mutex

// needTool skips the test on a developer machine that lacks what, and fails
// it in CI (CI set), which installs everything the tests use.
func needTool(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("this test needs %s", what)
	}
	t.Skipf("this test needs %s", what)
}

// npmProject makes the npm project in dir ready for a test: node and npm on
// PATH, and its packages installed from package-lock.json with npm ci when
// node_modules does not hold them yet. It returns dir's absolute path.
func npmProject(t *testing.T, dir string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Node processes: skipped in -short mode")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			needTool(t, tool+" on PATH")
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	npmInstall.Lock()
	defer npmInstall.Unlock()
	// npm ci writes node_modules/.package-lock.json last.
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil {
		return dir
	}
	cmd := exec.CommandContext(t.Context(), "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
	return dir
}
