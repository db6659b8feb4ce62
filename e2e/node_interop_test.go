package e2e

import (
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/testdb"
)

// nodeResult is what verify.mjs prints for one token.
type nodeResult struct {
	OK      bool           `json:"ok"`
	Code    string         `json:"code"`
	Kid     string         `json:"kid"`
	Alg     string         `json:"alg"`
	Payload map[string]any `json:"payload"`
}

// verifyWithNode verifies tokens with npm jose's createRemoteJWKSet against
// the running service's JWKS.
func verifyWithNode(t *testing.T, dir, issuer, audience, jwksURL string, tokens ...string) []nodeResult {
	t.Helper()
	cmd := exec.Command("node", append([]string{"verify.mjs", issuer, audience, jwksURL}, tokens...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node verify.mjs: %v\n%s%s", err, out, stderr)
	}
	var results []nodeResult
	for line := range strings.Lines(strings.TrimSpace(string(out))) {
		var r nodeResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("node verify.mjs printed %q: %v", line, err)
		}
		results = append(results, r)
	}
	if len(results) != len(tokens) {
		t.Fatalf("node verify.mjs printed %d results for %d tokens:\n%s", len(results), len(tokens), out)
	}
	return results
}

// TestNodeVerifier verifies the service's tokens with the jose library of
// npm, fetching the keys from the running service (createRemoteJWKSet), for
// every key type; a tampered token and one for another audience fail.
func TestNodeVerifier(t *testing.T) {
	t.Parallel()
	dir := npmProject(t, filepath.Join("..", "interop", "node"))
	const issuer = "https://auth.example.com"
	for _, alg := range []string{"ES256 database", "RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			env := apitest.Env(testdb.SQLiteMemory, "JWT_ISSUER", issuer)
			if !strings.Contains(alg, "database") {
				env["JWT_PRIVATE_KEY"] = apitest.PEMKeys(t)[alg].Private
			}
			s := startService(t, env)
			p := s.Register(t, apitest.UniqueEmail("node"))
			tampered := apitest.Tamper(t, p.AccessToken)
			jwksURL := s.URL + "/.well-known/jwks.json"
			got := verifyWithNode(t, dir, issuer, "api", jwksURL, p.AccessToken, tampered)
			wantAlg := strings.Fields(alg)[0]
			if r := got[0]; !r.OK || r.Alg != wantAlg || r.Kid != apitest.HeaderOf(t, p.AccessToken)["kid"] || r.Payload["sub"] != p.User.ID || r.Payload["scope"] != "user" {
				t.Errorf("node jose on a valid token = %+v, want ok with alg %s and sub %s", r, wantAlg, p.User.ID)
			}
			if r := got[1]; r.OK || r.Code != "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" {
				t.Errorf("node jose on a tampered token = %+v, want ERR_JWS_SIGNATURE_VERIFICATION_FAILED", r)
			}
			if r := verifyWithNode(t, dir, issuer, "other-api", jwksURL, p.AccessToken)[0]; r.OK || r.Code != "ERR_JWT_CLAIM_VALIDATION_FAILED" {
				t.Errorf("node jose for another audience = %+v, want ERR_JWT_CLAIM_VALIDATION_FAILED", r)
			}
		})
	}
}
