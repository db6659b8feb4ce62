package e2e

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/apitest"
)

// TestPlaygroundBrowser loads the playground in headless Chromium, runs the
// example document's Login and then Me with Ctrl-Enter, as a person would,
// and checks that Me answers with the user's email: the fetcher sent the
// token of Login by itself. Every request stays on loopback and nothing
// breaks the Content-Security-Policy. With UPDATE_SCREENSHOTS=1 it writes
// docs/playground.png for docs/playground.md.
func TestPlaygroundBrowser(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "internal", "playground", "web")
	chromium := chromiumFor(t, dir)
	s := startService(t, apitest.Env("sqlite://:memory:"))
	// The example document's variables.
	const email = "ada@example.com"
	s.Register(t, email)

	shot := filepath.Join(t.TempDir(), "playground.png")
	var report struct {
		Requests      []string `json:"requests"`
		OffLoopback   []string `json:"offLoopback"`
		CSPViolations []string `json:"cspViolations"`
		ConsoleErrors []string `json:"consoleErrors"`
		Login         string   `json:"login"`
		Me            string   `json:"me"`
		TokenStatus   string   `json:"tokenStatus"`
		Error         string   `json:"error"`
	}
	runNodeScript(t, dir, []string{"CHROMIUM=" + chromium}, &report, "browser-test.mjs", s.URL, shot)
	if report.Error != "" {
		t.Fatalf("in the browser: %s\nreport: %+v", report.Error, report)
	}
	if len(report.OffLoopback) > 0 {
		t.Errorf("requests left loopback: %q", report.OffLoopback)
	}
	for _, r := range report.Requests {
		if !strings.Contains(r, " "+s.URL+"/") {
			t.Errorf("request %s went elsewhere than the service at %s", r, s.URL)
		}
	}
	if len(report.CSPViolations) > 0 || len(report.ConsoleErrors) > 0 {
		t.Errorf("CSP violations %q, console errors %q; want none", report.CSPViolations, report.ConsoleErrors)
	}

	var login struct {
		Data struct {
			Login struct{ AccessToken string } `json:"login"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(report.Login), &login); err != nil || login.Data.Login.AccessToken == "" {
		t.Errorf("Login response pane = %s (%v), want an access token", report.Login, err)
	}
	var me struct {
		Data struct {
			Me *struct{ Email string } `json:"me"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(report.Me), &me); err != nil || me.Data.Me == nil || me.Data.Me.Email != email {
		t.Errorf("Me response pane = %s (%v), want the email %s", report.Me, err, email)
	}
	if !strings.Contains(report.TokenStatus, email) {
		t.Errorf("token status = %q, want it to name %s", report.TokenStatus, email)
	}

	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil || img.Bounds().Dx() < 1000 {
		t.Fatalf("screenshot: %v, bounds %v; want a PNG of the page", err, img)
	}
	if os.Getenv("UPDATE_SCREENSHOTS") != "" {
		b, err := os.ReadFile(shot)
		if err == nil {
			err = os.WriteFile(filepath.Join("..", "docs", "playground.png"), b, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
