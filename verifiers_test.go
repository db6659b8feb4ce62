package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/testdb"
	"github.com/latchkey/latchkey/internal/web"
)

// The values the verifier configurations in docs/verifiers (and
// docs/keys.md, which shows them) are written for.
const (
	exampleIssuer    = "https://auth.example.com"
	exampleAudience  = "api"
	exampleNamespace = "https://hasura.io/jwt/claims"
)

// readVerifierConfig returns docs/verifiers/name, failing t unless
// docs/keys.md, where readers find it, shows it verbatim.
func readVerifierConfig(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("docs", "verifiers", name))
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile(filepath.Join("docs", "keys.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(guide, data) {
		t.Errorf("docs/keys.md does not show docs/verifiers/%s verbatim", name)
	}
	return data
}

// jwksAt fetches the JWKS from the running service at the path of the
// configured URL, which names the service as a cluster would.
func jwksAt(t *testing.T, s *testServer, configured string) []byte {
	t.Helper()
	u, err := url.Parse(configured)
	if err != nil {
		t.Fatalf("configured JWKS URL %q: %v", configured, err)
	}
	if u.Path != web.JWKSPath {
		t.Errorf("configured JWKS URL %q has path %q, want %q", configured, u.Path, web.JWKSPath)
	}
	var raw json.RawMessage
	getJSON(t, s.URL+u.Path, &raw)
	return raw
}

// TestVerifierConfigs checks the configurations of Apollo Router, Istio and
// Hasura that docs/keys.md shows against the tokens the service really issues with each
// key type: the issuer, audience, algorithms and claims they expect are the
// ones in the tokens, and the keys at their JWKS URL verify the tokens.
func TestVerifierConfigs(t *testing.T) {
	t.Parallel()
	var router struct {
		Authentication struct {
			Router struct {
				JWT struct {
					HeaderName        string `yaml:"header_name"`
					HeaderValuePrefix string `yaml:"header_value_prefix"`
					JWKS              []struct {
						URL          string   `yaml:"url"`
						Issuers      []string `yaml:"issuers"`
						Algorithms   []string `yaml:"algorithms"`
						PollInterval string   `yaml:"poll_interval"`
					} `yaml:"jwks"`
				} `yaml:"jwt"`
			} `yaml:"router"`
		} `yaml:"authentication"`
	}
	if err := yaml.UnmarshalWithOptions(readVerifierConfig(t, "apollo-router.yaml"), &router, yaml.Strict()); err != nil {
		t.Fatalf("apollo-router.yaml: %v", err)
	}
	rjwt := router.Authentication.Router.JWT
	if len(rjwt.JWKS) != 1 || rjwt.HeaderName != "Authorization" || rjwt.HeaderValuePrefix != "Bearer" {
		t.Fatalf("apollo-router.yaml: %+v, want one JWKS and the Authorization: Bearer header", rjwt)
	}
	if poll, err := time.ParseDuration(rjwt.JWKS[0].PollInterval); err != nil || poll > keys.JWKSMaxAge {
		t.Errorf("apollo-router.yaml poll_interval %q, want at most %v: a new key is published that long before it signs", rjwt.JWKS[0].PollInterval, keys.JWKSMaxAge)
	}

	type jwtRule struct {
		Issuer               string   `yaml:"issuer"`
		JWKSURI              string   `yaml:"jwksUri"`
		Audiences            []string `yaml:"audiences"`
		ForwardOriginalToken bool     `yaml:"forwardOriginalToken"`
	}
	var istio struct {
		Kind string `yaml:"kind"`
		Spec struct {
			JWTRules []jwtRule `yaml:"jwtRules"`
			Rules    []struct {
				From []struct {
					Source struct {
						RequestPrincipals []string `yaml:"requestPrincipals"`
					} `yaml:"source"`
				} `yaml:"from"`
			} `yaml:"rules"`
		} `yaml:"spec"`
	}
	var rules []jwtRule
	var principals []string
	dec := yaml.NewDecoder(bytes.NewReader(readVerifierConfig(t, "istio-requestauthentication.yaml")))
	for {
		istio.Spec.JWTRules, istio.Spec.Rules = nil, nil
		if err := dec.Decode(&istio); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("istio-requestauthentication.yaml: %v", err)
		}
		switch istio.Kind {
		case "RequestAuthentication":
			rules = append(rules, istio.Spec.JWTRules...)
		case "AuthorizationPolicy":
			for _, r := range istio.Spec.Rules {
				for _, f := range r.From {
					principals = append(principals, f.Source.RequestPrincipals...)
				}
			}
		}
	}
	if len(rules) != 1 || len(principals) != 1 {
		t.Fatalf("istio-requestauthentication.yaml: jwtRules %+v, requestPrincipals %v, want one of each", rules, principals)
	}

	var hasura struct {
		JWKURL          string `json:"jwk_url"`
		ClaimsNamespace string `json:"claims_namespace"`
		Issuer          string `json:"issuer"`
		Audience        string `json:"audience"`
	}
	found := false
	sc := bufio.NewScanner(bytes.NewReader(readVerifierConfig(t, "hasura.env")))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "HASURA_GRAPHQL_JWT_SECRET="); ok {
			dec := json.NewDecoder(strings.NewReader(v))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&hasura); err != nil {
				t.Fatalf("hasura.env: HASURA_GRAPHQL_JWT_SECRET: %v", err)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("hasura.env sets no HASURA_GRAPHQL_JWT_SECRET")
	}

	for _, alg := range []string{"ES256 database", "RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			env := testEnv(testdb.SQLiteMemory, "JWT_ISSUER", exampleIssuer, "JWT_AUDIENCE", exampleAudience, "JWT_CLAIMS_NAMESPACE", exampleNamespace)
			if !strings.Contains(alg, "database") {
				env["JWT_PRIVATE_KEY"] = pemKeys(t)[alg].private
			}
			s := startServer(t, env)
			p := s.register(t, uniqueEmail(t, "verifiers"))
			tok := p.AccessToken
			claims := claimsOf(t, tok)
			tokAlg := headerOf(t, tok)["alg"].(string)

			t.Run("apollo router", func(t *testing.T) {
				c := rjwt.JWKS[0]
				if !slices.Contains(c.Issuers, claims["iss"].(string)) || !slices.Contains(c.Algorithms, tokAlg) {
					t.Errorf("router accepts issuers %v and algorithms %v; the token has iss %v and alg %s", c.Issuers, c.Algorithms, claims["iss"], tokAlg)
				}
				verifyIndependently(t, jwksAt(t, s, c.URL), tok, c.Issuers[0], exampleAudience)
				if claims["scope"] != strings.Join(p.User.Roles, " ") {
					t.Errorf("scope = %v, want the roles %v space separated, as @requiresScopes reads them", claims["scope"], p.User.Roles)
				}
			})
			t.Run("istio", func(t *testing.T) {
				r := rules[0]
				if r.Issuer != claims["iss"] || !slices.Contains(r.Audiences, exampleAudience) || !r.ForwardOriginalToken {
					t.Errorf("jwtRule %+v; the token has iss %v and aud %v", r, claims["iss"], claims["aud"])
				}
				// Istio's request principal is iss/sub.
				if want := r.Issuer + "/*"; principals[0] != want {
					t.Errorf("requestPrincipals %v, want %s", principals, want)
				}
				verifyIndependently(t, jwksAt(t, s, r.JWKSURI), tok, r.Issuer, r.Audiences[0])
			})
			t.Run("hasura", func(t *testing.T) {
				if hasura.Issuer != claims["iss"] || hasura.Audience != exampleAudience {
					t.Errorf("Hasura issuer %q audience %q; the token has iss %v aud %v", hasura.Issuer, hasura.Audience, claims["iss"], claims["aud"])
				}
				verifyIndependently(t, jwksAt(t, s, hasura.JWKURL), tok, hasura.Issuer, hasura.Audience)
				ns, ok := claims[hasura.ClaimsNamespace].(map[string]any)
				if !ok {
					t.Fatalf("token has no claims under %q: %v", hasura.ClaimsNamespace, claims)
				}
				allowed, _ := ns["x-hasura-allowed-roles"].([]any)
				def, _ := ns["x-hasura-default-role"].(string)
				if ns["x-hasura-user-id"] != p.User.ID || def == "" || !slices.Contains(allowed, any(def)) {
					t.Errorf("Hasura claims %v, want x-hasura-user-id %s and a default role among the allowed roles", ns, p.User.ID)
				}
			})
		})
	}
}
