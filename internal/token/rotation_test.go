package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSetKeys(t *testing.T) {
	t.Parallel()
	keys := keysFor(t)
	i := newTestIssuer(t, testNow, keys["ES256"])
	before, _, err := i.Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: nil})
	if err != nil {
		t.Fatal(err)
	}
	// Promote the RSA key, keeping the ES256 key for verification.
	if err := i.SetKeys(keys["RS256"], keys["ES256"]); err != nil {
		t.Fatalf("SetKeys: %v", err)
	}
	if got, want := i.SigningKeyID(), keys["RS256"].ID(); got != want {
		t.Errorf("SigningKeyID() = %q, want %q", got, want)
	}
	after, _, err := i.Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: nil})
	if err != nil {
		t.Fatal(err)
	}
	if kid := decodeSegment(t, after, 0)["kid"]; kid != keys["RS256"].ID() {
		t.Errorf("kid after SetKeys = %v, want %q", kid, keys["RS256"].ID())
	}
	for _, tok := range []string{before, after} {
		if _, err := i.Parse(tok); err != nil {
			t.Errorf("Parse(%q) = %v, want nil", tok, err)
		}
	}
	var gotKids []string
	for _, k := range i.JWKS().Keys {
		gotKids = append(gotKids, k.Kid)
	}
	if diff := cmp.Diff([]string{keys["RS256"].ID(), keys["ES256"].ID()}, gotKids); diff != "" {
		t.Errorf("JWKS kids (-want +got):\n%s", diff)
	}

	// Retire the ES256 key: its tokens fail.
	if err := i.SetKeys(keys["RS256"]); err != nil {
		t.Fatal(err)
	}
	if _, err := i.Parse(before); !errors.Is(err, ErrInvalid) || Reason(err) != reasonUnknownKey {
		t.Errorf("Parse(token of a retired key) = %v (%s), want ErrInvalid (unknown_key)", err, Reason(err))
	}

	// Wrong keys change nothing.
	public, err := NewPublicKey("", keys["EdDSA"].public)
	if err != nil {
		t.Fatal(err)
	}
	if err := i.SetKeys(public); err == nil {
		t.Error("SetKeys(verify-only key) = nil, want an error")
	}
	if got := i.SigningKeyID(); got != keys["RS256"].ID() {
		t.Errorf("SigningKeyID() after a refused SetKeys = %q, want %q", got, keys["RS256"].ID())
	}
}

// TestSetKeysConcurrent runs Issue, Parse and JWKS while the keys change,
// for the race detector.
func TestSetKeysConcurrent(t *testing.T) {
	t.Parallel()
	keys := keysFor(t)
	i := newTestIssuer(t, testNow, keys["ES256"], keys["EdDSA"])
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				tok, _, err := i.Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: nil})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := i.Parse(tok); err != nil {
					t.Errorf("Parse = %v", err)
				}
				_ = i.JWKS()
			}
		})
	}
	for n := range 50 {
		signing, other := keys["ES256"], keys["EdDSA"]
		if n%2 == 1 {
			signing, other = other, signing
		}
		if err := i.SetKeys(signing, other); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

func TestParseReloadsOnUnknownKey(t *testing.T) {
	t.Parallel()
	keys := keysFor(t)
	other := newTestIssuer(t, testNow, keys["EdDSA"])
	tok, _, err := other.Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: nil})
	if err != nil {
		t.Fatal(err)
	}
	var (
		calls atomic.Int32
		i     *Issuer
	)
	i, err = NewIssuer(Options{
		Issuer: testIssuer, Audience: testAudience, TTL: testTTL, Now: at(testNow),
		Reload: func() bool {
			calls.Add(1)
			return i.SetKeys(keys["ES256"], keys["EdDSA"]) == nil
		},
	}, keys["ES256"])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := i.Parse(tok); err != nil {
		t.Errorf("Parse(token of a key the reload finds) = %v, want nil", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("reload called %d times, want 1", n)
	}
	// A known kid does not reload.
	if _, err := i.Parse(tok); err != nil || calls.Load() != 1 {
		t.Errorf("Parse again = %v with %d reloads, want nil with 1", err, calls.Load())
	}
}

func TestIssueClaimsNamespace(t *testing.T) {
	t.Parallel()
	const ns = "https://hasura.io/jwt/claims"
	i, err := NewIssuer(Options{Issuer: testIssuer, Audience: testAudience, TTL: testTTL, Now: at(testNow), ClaimsNamespace: ns}, keysFor(t)["ES256"])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		roles []string
		want  map[string]any
	}{
		{[]string{"user", "admin"}, map[string]any{"x-hasura-user-id": testSubject, "x-hasura-default-role": "user", "x-hasura-allowed-roles": []any{"user", "admin"}}},
		{[]string{"editor"}, map[string]any{"x-hasura-user-id": testSubject, "x-hasura-default-role": "editor", "x-hasura-allowed-roles": []any{"editor"}}},
		{nil, map[string]any{"x-hasura-user-id": testSubject, "x-hasura-default-role": "", "x-hasura-allowed-roles": []any{}}},
	} {
		tok, _, err := i.Issue(Subject{UserID: testSubject, SessionID: testSession, Email: testEmail, Roles: tc.roles})
		if err != nil {
			t.Fatal(err)
		}
		payload := decodeSegment(t, tok, 1)
		if diff := cmp.Diff(tc.want, payload[ns]); diff != "" {
			t.Errorf("Issue(roles %v) claims under %q (-want +got):\n%s", tc.roles, ns, diff)
		}
		if payload["sub"] != testSubject || payload["sid"] != testSession {
			t.Errorf("Issue(roles %v) payload = %v, want the plain claims kept", tc.roles, payload)
		}
		if _, err := i.Parse(tok); err != nil {
			t.Errorf("Parse(namespaced token) = %v, want nil", err)
		}
	}
	if _, err := NewIssuer(Options{Issuer: testIssuer, Audience: testAudience, TTL: testTTL, ClaimsNamespace: "sub"}, keysFor(t)["ES256"]); err == nil {
		t.Error(`NewIssuer(ClaimsNamespace "sub") = nil error, want refused`)
	}
}

func TestParsePrivatePEM(t *testing.T) {
	t.Parallel()
	keys := keysFor(t)
	pkcs8 := func(k Key) []byte {
		der, err := k.MarshalPrivate()
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	rsaKey := keys["RS256"].private.(*rsa.PrivateKey)
	ecKey := keys["ES256"].private.(*ecdsa.PrivateKey)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, alg string
		pem       []byte
	}{
		{"PKCS #8 RSA", "RS256", pkcs8(keys["RS256"])},
		{"PKCS #1 RSA", "RS256", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})},
		{"PKCS #8 P-256", "ES256", pkcs8(keys["ES256"])},
		{"SEC 1 P-256", "ES256", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})},
		{"PKCS #8 Ed25519", "EdDSA", pkcs8(keys["EdDSA"])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k, err := ParsePrivatePEM(tc.pem)
			if err != nil {
				t.Fatalf("ParsePrivatePEM: %v", err)
			}
			if k.Algorithm() != tc.alg || k.ID() != keys[tc.alg].ID() {
				t.Errorf("ParsePrivatePEM = %v, want %s key %q (the thumbprint)", k, tc.alg, keys[tc.alg].ID())
			}
			pub, err := k.MarshalPublicPEM()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParsePublicPEM(pub)
			if err != nil || len(got) != 1 || got[0].ID() != k.ID() || !got[0].sameKey(k) {
				t.Errorf("ParsePublicPEM(MarshalPublicPEM) = %v, %v, want [%v]", got, err, k)
			}
		})
	}
}

func TestParsePEMRefuses(t *testing.T) {
	t.Parallel()
	small, err := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // a key too small on purpose
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der384, err := x509.MarshalPKCS8PrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	pub384, err := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	es := keysFor(t)["ES256"]
	esPub, err := es.MarshalPublicPEM()
	if err != nil {
		t.Fatal(err)
	}
	esDER, err := es.MarshalPrivate()
	if err != nil {
		t.Fatal(err)
	}
	esPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: esDER})
	for _, tc := range []struct{ name, data string }{
		{"empty", ""},
		{"not PEM", "hello"},
		{"RSA 1024", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)}))},
		{"P-384", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der384}))},
		{"public key", string(esPub)},
		{"two keys", string(esPEM) + string(esPEM)},
		{"garbage body", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
		{"encrypted", "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"},
	} {
		if k, err := ParsePrivatePEM([]byte(tc.data)); err == nil {
			t.Errorf("ParsePrivatePEM(%s) = %v, nil, want an error", tc.name, k)
		}
	}
	for _, tc := range []struct{ name, data string }{
		{"private key", string(esPEM)},
		{"trailing text", string(esPub) + "junk"},
		{"P-384", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub384}))},
		{"garbage body", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"},
	} {
		if k, err := ParsePublicPEM([]byte(tc.data)); err == nil {
			t.Errorf("ParsePublicPEM(%s) = %v, nil, want an error", tc.name, k)
		}
	}
	if k, err := ParsePublicPEM([]byte(" \n")); err != nil || len(k) != 0 {
		t.Errorf("ParsePublicPEM(white space) = %v, %v, want no keys", k, err)
	}
}
