package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
)

// chromiumFor returns the Chromium of a browser test whose npm project
// (with playwright-core) is dir, installing its packages when they are
// missing, or skips the test (fails it in CI) without Chromium.
func chromiumFor(t *testing.T, dir string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("drives a browser")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		needTool(t, "Chromium (apt-get install chromium, or set CHROMIUM)")
	}
	npmProject(t, dir)
	return chromium
}

// runNodeScript runs node script in dir with args, env added to the
// environment, and decodes the JSON report it prints into report.
func runNodeScript(t *testing.T, dir string, env []string, report any, script string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "node", append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", script, err, stdout.String(), stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), report); err != nil {
		t.Fatalf("node %s printed no report: %v\nstdout:\n%s\nstderr:\n%s", script, err, stdout.String(), stderr.String())
	}
}
