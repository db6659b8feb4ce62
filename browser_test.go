package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
)

// browserTools returns node and Chromium for a browser test whose npm
// project (with playwright-core) is dir, installing its packages when they
// are missing.
func browserTools(t *testing.T, dir string) (node, chromium string) {
	t.Helper()
	if testing.Short() {
		t.Skip("drives a browser")
	}
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		needTool(t, "Chromium (apt-get install chromium, or set CHROMIUM)")
	}
	npmProject(t, dir)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal(err)
	}
	return node, chromium
}

// runBrowserScript runs a Node script of dir with args and decodes the JSON
// report it prints into report.
func runBrowserScript(t *testing.T, dir, script string, report any, args ...string) {
	t.Helper()
	node, chromium := browserTools(t, dir)
	cmd := exec.CommandContext(t.Context(), node, append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", script, err, stdout.String(), stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), report); err != nil {
		t.Fatalf("node %s printed no report: %v\nstdout:\n%s\nstderr:\n%s", script, err, stdout.String(), stderr.String())
	}
}
