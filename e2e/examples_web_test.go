package e2e

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/apitest"
)

// TestExampleWebBrowser builds examples/web against a service in production
// mode whose access tokens live three seconds, with no refresh grace
// (REFRESH_REUSE_INTERVAL=0: a refresh token spent twice ends the session),
// and CORS_ALLOWED_ORIGINS listing only the page's origin. In headless
// Chromium, one profile, it registers, logs out and in, opens a second tab,
// lets the token expire and has both tabs ask who the user is at once: both
// must stay signed in, on a single refreshToken call between them. Logging
// out in one tab signs out the other, and the same page from an unlisted
// origin cannot reach the service.
func TestExampleWebBrowser(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "examples", "web")
	chromium := chromiumFor(t, dir)

	out := t.TempDir()
	page := httptest.NewServer(http.FileServer(http.Dir(out)))
	t.Cleanup(page.Close)
	otherOrigin := strings.Replace(page.URL, "127.0.0.1", "localhost", 1)

	const secret = "a shared secret of at least thirty-two bytes"
	s := startService(t, apitest.Env("sqlite://:memory:",
		"DEBUG", "false", "JWT_SECRET_KEY", secret,
		"ACCESS_TOKEN_TTL", "3s", "REFRESH_REUSE_INTERVAL", "0",
		"CORS_ALLOWED_ORIGINS", page.URL))

	// Type-check and build the page for this service, as a developer would.
	build := exec.CommandContext(t.Context(), "npm", "run", "--silent", "build", "--", "--outDir", out, "--emptyOutDir", "--logLevel", "error")
	build.Dir = dir
	build.Env = append(os.Environ(), "VITE_LATCHKEY_URL="+s.URL+"/query")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("npm run build: %v\n%s", err, b)
	}

	type shown struct{ State, Email, Error string }
	var report struct {
		Email string
		Steps struct {
			Registered, LoggedOut, LoggedIn, SecondTab, OtherOrigin shown
			AfterExpiry, LoggedOutBoth                              struct{ A, B shown }
		}
		Exchanges []struct {
			Phase, Tab, Op, Origin, AllowOrigin string
			Errors                              []struct{ Code, Reason string }
		}
		Failed, OffLoopback, ConsoleErrors, PageErrors []string
		Error                                          string
	}
	runNodeScript(t, dir, []string{"CHROMIUM=" + chromium}, &report, "browser-test.mjs", page.URL, otherOrigin, "3")
	if report.Error != "" {
		t.Fatalf("in the browser: %s\nreport: %+v", report.Error, report)
	}
	if len(report.OffLoopback) > 0 || len(report.PageErrors) > 0 {
		t.Errorf("requests off loopback %q, page errors %q; want none", report.OffLoopback, report.PageErrors)
	}
	for _, e := range report.ConsoleErrors {
		if !strings.HasPrefix(e, "C: ") {
			t.Errorf("console error %q; want errors only in tab C, whose origin CORS refuses", e)
		}
	}

	signedIn := func(step string, got shown) {
		t.Helper()
		if got.State != "signed-in" || got.Email != report.Email || got.Error != "" {
			t.Errorf("%s: page shows %+v, want signed in as %s without error", step, got, report.Email)
		}
	}
	signedOut := func(step string, got shown) {
		t.Helper()
		if got.State != "signed-out" {
			t.Errorf("%s: page shows %+v, want signed out", step, got)
		}
	}
	signedIn("after register", report.Steps.Registered)
	signedOut("after logout", report.Steps.LoggedOut)
	signedIn("after login", report.Steps.LoggedIn)
	signedIn("second tab", report.Steps.SecondTab)
	signedIn("tab A after expiry", report.Steps.AfterExpiry.A)
	signedIn("tab B after expiry", report.Steps.AfterExpiry.B)
	signedOut("tab A after its logout", report.Steps.LoggedOutBoth.A)
	signedOut("tab B after tab A's logout", report.Steps.LoggedOutBoth.B)

	refreshes := 0
	expired := map[string]bool{}
	answered := map[string]bool{}
	for _, x := range report.Exchanges {
		if x.Origin != page.URL || x.AllowOrigin != page.URL {
			t.Errorf("%s %s: Origin %q got Access-Control-Allow-Origin %q, want the page's origin %s", x.Tab, x.Op, x.Origin, x.AllowOrigin, page.URL)
		}
		if x.Phase != "expired" {
			continue
		}
		switch {
		case x.Op == "RefreshToken" && len(x.Errors) == 0:
			refreshes++
		case x.Op == "RefreshToken":
			t.Errorf("tab %s: refreshToken failed with %+v", x.Tab, x.Errors)
		case x.Op == "Me" && len(x.Errors) == 1 && x.Errors[0].Code == "UNAUTHENTICATED" && x.Errors[0].Reason == "expired":
			expired[x.Tab] = true
		case x.Op == "Me" && len(x.Errors) == 0:
			answered[x.Tab] = true
		default:
			t.Errorf("tab %s: %s answered %+v", x.Tab, x.Op, x.Errors)
		}
	}
	if refreshes != 1 || !expired["A"] || !expired["B"] || !answered["A"] || !answered["B"] {
		t.Errorf("after expiry: %d refreshes, expired in tabs %v, answered in tabs %v; want 1 refresh for both tabs A and B, each refused as expired and then answered\nexchanges: %+v",
			refreshes, expired, answered, report.Exchanges)
	}

	if report.Steps.OtherOrigin.State != "signed-out" || report.Steps.OtherOrigin.Error == "" {
		t.Errorf("page from %s (not in CORS_ALLOWED_ORIGINS) shows %+v, want signed out with an error", otherOrigin, report.Steps.OtherOrigin)
	}
	blocked := false
	for _, f := range report.Failed {
		blocked = blocked || strings.HasPrefix(f, "C: POST "+s.URL+"/query")
	}
	if !blocked {
		t.Errorf("requests from %s that failed: %q; want its login refused by CORS", otherOrigin, report.Failed)
	}
}
