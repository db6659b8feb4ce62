package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/bench"
	"github.com/latchkey/latchkey/internal/testdb"
)

// federationDir holds the Node side of the federation tests: a second
// subgraph, an Apollo Gateway and the composition check, with their npm
// dependencies pinned in package-lock.json.
const federationDir = "testdata/federation"

// startNode runs node script from federationDir with env added, waits for
// the {"msg": "listening", "addr": URL} line it prints once it listens, as
// the service does, and returns that URL. The process is killed when the
// test ends.
func startNode(t *testing.T, script string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = federationDir
	cmd.Env = append(os.Environ(), env...)
	logs := bench.NewLogBuffer()
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting node %s: %v", script, err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	select {
	case url := <-logs.Addr():
		return strings.TrimSuffix(url, "/")
	case <-time.After(90 * time.Second):
		t.Fatalf("node %s did not listen; output:\n%s", script, logs.String())
	}
	return ""
}

// composition is what compose.mjs prints.
type composition struct {
	Errors []string `json:"errors"`
	Hints  []struct {
		Code      string   `json:"code"`
		Message   string   `json:"message"`
		Subgraphs []string `json:"subgraphs"`
	} `json:"hints"`
	SupergraphSDL string `json:"supergraphSdl"`
}

// TestApolloFederation puts Latchkey, in production mode (introspection
// off), into a supergraph with a second subgraph that extends User, with
// the real Apollo tools as they ship: @apollo/composition composes it
// without an error or a hint about Latchkey's schema, with and without the
// router's auth directives (FEDERATION_AUTH_DIRECTIVES), and a stock Apollo
// Gateway with IntrospectAndCompose serves it, forwarding the client's
// Authorization header and address; two clients behind it are throttled
// apart.
func TestApolloFederation(t *testing.T) {
	t.Parallel()
	npmProject(t, federationDir)
	const secret = "a shared secret of at least thirty-two bytes"
	// The gateway connects from 127.0.0.1, its clients from other loopback
	// addresses: only the gateway is a trusted proxy.
	latchkey := startService(t, apitest.Env(testdb.SQLiteMemory, "DEBUG", "false", "JWT_SECRET_KEY", secret,
		"TRUSTED_PROXIES", "127.0.0.1/32", "RATE_LIMIT_LOGIN", "3/15m"))
	profiles := startNode(t, "subgraph.mjs")

	compose := func(t *testing.T, latchkeyURL string) composition {
		var c composition
		runNodeScript(t, federationDir, nil, &c, "compose.mjs", "latchkey="+latchkeyURL+"/query", "profiles="+profiles)
		for _, e := range c.Errors {
			t.Errorf("composition error: %s", e)
		}
		for _, h := range c.Hints {
			if len(h.Subgraphs) == 0 || slices.Contains(h.Subgraphs, "latchkey") {
				t.Errorf("composition hint about Latchkey's schema: %s: %s", h.Code, h.Message)
			} else {
				t.Logf("composition hint about %v: %s: %s", h.Subgraphs, h.Code, h.Message)
			}
		}
		// What a router reads: the entity and its two owners.
		for _, want := range []string{
			`@join__type(graph: LATCHKEY, key: "id")`,
			`@join__type(graph: PROFILES, key: "id")`,
			"email: String! @join__field(graph: LATCHKEY)\n",
			`avatarUrl: String! @join__field(graph: PROFILES)`,
		} {
			if !strings.Contains(c.SupergraphSDL, want) {
				t.Errorf("supergraph lacks %s", want)
			}
		}
		return c
	}

	t.Run("composition", func(t *testing.T) {
		c := compose(t, latchkey.URL)
		if strings.Contains(c.SupergraphSDL, "@authenticated") || strings.Contains(c.SupergraphSDL, "@requiresScopes") {
			t.Errorf("the default supergraph has the router's auth directives, which Apollo Gateway refuses")
		}
	})

	t.Run("composition with FEDERATION_AUTH_DIRECTIVES", func(t *testing.T) {
		routerAuth := startService(t, apitest.Env(testdb.SQLiteMemory, "DEBUG", "false", "JWT_SECRET_KEY", secret, "FEDERATION_AUTH_DIRECTIVES", "true"))
		c := compose(t, routerAuth.URL)
		// The authorization directives a router can enforce, no stricter
		// than Latchkey: the user of a login has no token yet.
		for _, want := range []string{
			`me: User @join__field(graph: LATCHKEY) @authenticated`,
			`@join__field(graph: LATCHKEY) @authenticated @requiresScopes(scopes: [["admin"]])`,
		} {
			if !strings.Contains(c.SupergraphSDL, want) {
				t.Errorf("supergraph lacks %s", want)
			}
		}
	})

	t.Run("gateway", func(t *testing.T) {
		gw := &apitest.Server{URL: startNode(t, "gateway.mjs", "LATCHKEY_URL="+latchkey.URL+"/query", "PROFILES_URL="+profiles)}
		email := apitest.UniqueEmail("gateway")
		reg := gw.Register(t, email)
		bob := gw.Register(t, apitest.UniqueEmail("bob"))
		login := gw.Login(t, strings.ToUpper(email), apitest.Password)
		if login.User.ID != reg.User.ID {
			t.Fatalf("login through the gateway: user %s, want %s", login.User.ID, reg.User.ID)
		}
		avatar := func(id string) string { return "https://avatars.example.com/" + id + ".png" }

		// me: email from Latchkey, avatarUrl from the other subgraph.
		var me struct{ ID, Email, AvatarURL string }
		r := gw.Post(t, login.AccessToken, `{ me { id email avatarUrl } }`, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("me through the gateway: %s", r.Body)
		}
		r.Field(t, "me", &me)
		if me.ID != reg.User.ID || me.Email != email || me.AvatarURL != avatar(reg.User.ID) {
			t.Errorf("me through the gateway = %+v, want %s with its avatar", me, email)
		}
		r = gw.Post(t, "", `{ me { id avatarUrl } }`, nil)
		apitest.WantCode(t, "me through the gateway without a token", r, "UNAUTHENTICATED")

		// spotlight comes from the other subgraph; the gateway fetches the
		// rest from Latchkey's _entities, with the client's token.
		spotlight := `query($id: ID!) { spotlight(id: $id) { id email avatarUrl } }`
		r = gw.Post(t, login.AccessToken, spotlight, map[string]any{"id": reg.User.ID})
		var own struct{ Email, AvatarURL string }
		r.Field(t, "spotlight", &own)
		if len(r.Errors) > 0 || own.Email != email {
			t.Errorf("own user through _entities: %s, want the email", r.Body)
		}
		r = gw.Post(t, login.AccessToken, spotlight, map[string]any{"id": bob.User.ID})
		apitest.WantCode(t, "another user's email through _entities", r, "FORBIDDEN")
		if strings.Contains(r.Body, bob.User.Email) {
			t.Errorf("another user's email reached the client: %s", r.Body)
		}
		r = gw.Post(t, "", `query($id: ID!) { spotlight(id: $id) { displayName avatarUrl } }`, map[string]any{"id": bob.User.ID})
		apitest.WantCode(t, "_entities through the gateway without a token", r, "UNAUTHENTICATED")

		// Two clients behind the gateway, at 127.0.0.2 and 127.0.0.3: the
		// first spends its address's login budget on junk, the second still
		// logs in, because the gateway forwards each client's address.
		from := func(ip string) *http.Client {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
			return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
		}
		loginFrom := func(c *http.Client, email, password string) apitest.Response {
			r, _, err := apitest.Call(c, gw.URL, "", apitest.LoginDoc, map[string]any{"input": map[string]any{"email": email, "password": password}})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		junk, other := from("127.0.0.2"), from("127.0.0.3")
		for i := range 3 {
			apitest.WantCode(t, "junk login", loginFrom(junk, apitest.UniqueEmail(fmt.Sprint("junk", i)), "wrong password"), "INVALID_CREDENTIALS")
		}
		apitest.WantCode(t, "junk past its address's limit", loginFrom(junk, apitest.UniqueEmail("junk"), "wrong password"), "RATE_LIMITED")
		apitest.WantCode(t, "another client behind the same gateway", loginFrom(other, email, apitest.Password), "")
	})
}
