package main

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestPlaygroundPage checks the page and its assets: served from the binary,
// under a Content-Security-Policy that names no origin but this one, and
// only when PLAYGROUND is on.
func TestPlaygroundPage(t *testing.T) {
	t.Parallel()
	s := startServer(t, testEnv("sqlite://:memory:"))
	resp, err := http.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s, want 200 text/html", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	csp := parseCSP(resp.Header.Get("Content-Security-Policy"))
	for directive, want := range map[string][]string{
		"default-src":     {"'none'"},
		"script-src":      {"'self'"},
		"connect-src":     {"'self'"},
		"base-uri":        {"'none'"},
		"form-action":     {"'none'"},
		"frame-ancestors": {"'none'"},
	} {
		if got := csp[directive]; !slices.Equal(got, want) {
			t.Errorf("CSP %s = %q, want %q (policy %q)", directive, got, want, resp.Header.Get("Content-Security-Policy"))
		}
	}
	for directive, sources := range csp {
		for _, src := range sources {
			if src != "'self'" && src != "'none'" && src != "data:" && !strings.HasPrefix(src, "'nonce-") {
				t.Errorf("CSP %s allows %s; want only 'self', 'none', data: and a nonce", directive, src)
			}
		}
	}
	// GraphiQL's dialogs add <style> elements: the page hands them a nonce,
	// new for every page.
	nonce := regexp.MustCompile(`<meta property="csp-nonce" nonce="([^"]+)">`).FindStringSubmatch(page)
	if nonce == nil || len(nonce[1]) < 22 || !slices.Equal(csp["style-src"], []string{"'self'", "'nonce-" + nonce[1] + "'"}) {
		t.Errorf("CSP style-src = %q with page nonce %q, want 'self' and the page's nonce of at least 128 bits", csp["style-src"], nonce)
	}
	again, err := http.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, again)
	if nonce != nil && strings.Contains(again.Header.Get("Content-Security-Policy"), nonce[1]) {
		t.Errorf("second page has the nonce %s again, want a new one", nonce[1])
	}

	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1)
	var assets []string
	for _, ref := range refs {
		u, err := url.Parse(ref[1])
		if err != nil || u.Host != "" {
			t.Errorf("page refers to %q, want relative URLs only", ref[1])
			continue
		}
		if u.Scheme == "" {
			assets = append(assets, ref[1])
		}
	}
	if !slices.Equal(assets, []string{"playground/graphiql.css", "playground/graphiql.js", "dev/mail"}) {
		t.Errorf("page assets = %q, want the embedded CSS and JavaScript, and the link to /dev/mail", assets)
	}

	for _, tc := range []struct{ path, contentType string }{
		{"/playground/graphiql.js", "text/javascript"},
		{"/playground/graphiql.css", "text/css"},
	} {
		resp, err := http.Get(s.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		etag := resp.Header.Get("ETag")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType) || len(body) < 100_000 || etag == "" {
			t.Fatalf("GET %s = %d %s, %d bytes, ETag %q; want 200 %s, the bundle and an ETag",
				tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body), etag, tc.contentType)
		}
		req, _ := http.NewRequest(http.MethodGet, s.URL+tc.path, nil)
		req.Header.Set("If-None-Match", etag)
		again, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		again.Body.Close()
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag = %d, want 304", tc.path, again.StatusCode)
		}
	}

	t.Run("switched", func(t *testing.T) {
		const secret = "a shared secret of at least thirty-two bytes"
		for _, tc := range []struct {
			name   string
			env    map[string]string
			status int
		}{
			{"off in development", testEnv("sqlite://:memory:", "PLAYGROUND", "false"), http.StatusNotFound},
			{"on in production", testEnv("sqlite://:memory:", "DEBUG", "false", "JWT_SECRET_KEY", secret, "PLAYGROUND", "true"), http.StatusOK},
		} {
			s := startServer(t, tc.env)
			for _, path := range []string{"/", "/playground/graphiql.js"} {
				resp, err := http.Get(s.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.status {
					t.Errorf("%s: GET %s = %d, want %d", tc.name, path, resp.StatusCode, tc.status)
				}
			}
		}
	})
}

// parseCSP splits a Content-Security-Policy into its directives' sources.
func parseCSP(policy string) map[string][]string {
	m := map[string][]string{}
	for d := range strings.SplitSeq(policy, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	return m
}
