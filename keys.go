package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/internal/auth"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/token"
)

// reloadGap is the least time between two reloads of the keys that tokens
// with an unknown kid set off, so that forged kids cost little.
const reloadGap = time.Second

// keyring loads the signing and verification keys from where the
// configuration says (a shared secret, a PEM key from the environment or a
// file, or the database) and keeps an Issuer's keys current: every
// JWT_KEYS_REFRESH_INTERVAL, and when a token names an unknown kid.
type keyring struct {
	cfg    config.Config
	client *ent.Client
	logger *slog.Logger
	issuer *token.Issuer

	mu         sync.Mutex
	lastReload time.Time
}

// newKeyring loads the keys and returns a keyring with an Issuer that uses
// them.
func newKeyring(ctx context.Context, cfg config.Config, client *ent.Client, logger *slog.Logger) (*keyring, error) {
	kr := &keyring{cfg: cfg, client: client, logger: logger}
	signing, verify, err := kr.load(ctx)
	if err != nil {
		return nil, err
	}
	kr.issuer, err = token.NewIssuer(token.Options{
		Issuer:          cfg.JWTIssuer,
		Audience:        cfg.JWTAudience,
		TTL:             cfg.AccessTokenTTL,
		ClaimsNamespace: cfg.JWTClaimsNamespace,
		Reload:          kr.reloadUnknown,
	}, signing, verify...)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	logger.Info("signing keys loaded", "signing_kid", signing.ID(), "keys", len(verify)+1)
	return kr, nil
}

// load returns the signing key and the other verification keys.
func (kr *keyring) load(ctx context.Context) (token.Key, []token.Key, error) {
	cfg := kr.cfg
	switch {
	case cfg.JWTSecretKey != "":
		return token.HMACKey([]byte(cfg.JWTSecretKey.Reveal())), nil, nil
	case cfg.PrivateKeySet():
		return kr.loadPEM()
	}
	keys, err := auth.DatabaseKeys(ctx, kr.client, time.Now())
	if err != nil {
		return token.Key{}, nil, err
	}
	return keys[0], keys[1:], nil
}

// loadPEM reads the PEM private key and the previous public keys, from the
// environment or their files. Errors name the variable.
func (kr *keyring) loadPEM() (token.Key, []token.Key, error) {
	cfg := kr.cfg
	name, data := "JWT_PRIVATE_KEY", []byte(cfg.JWTPrivateKey.Reveal())
	if cfg.JWTPrivateKeyFile != "" {
		name = "JWT_PRIVATE_KEY_FILE"
		var err error
		if data, err = os.ReadFile(cfg.JWTPrivateKeyFile); err != nil {
			return token.Key{}, nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	signing, err := token.ParsePrivatePEM(data)
	if err != nil {
		return token.Key{}, nil, fmt.Errorf("%s: %w", name, err)
	}
	name, data = "JWT_PREVIOUS_PUBLIC_KEYS", []byte(cfg.JWTPreviousPublicKeys)
	if cfg.JWTPreviousPublicKeysFile != "" {
		name = "JWT_PREVIOUS_PUBLIC_KEYS_FILE"
		if data, err = os.ReadFile(cfg.JWTPreviousPublicKeysFile); err != nil {
			return token.Key{}, nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	verify, err := token.ParsePublicPEM(data)
	if err != nil {
		return token.Key{}, nil, fmt.Errorf("%s: %w", name, err)
	}
	return signing, verify, nil
}

// refresh loads the keys again and hands them to the Issuer when they
// changed.
func (kr *keyring) refresh(ctx context.Context) error {
	signing, verify, err := kr.load(ctx)
	if err != nil {
		return err
	}
	before := kr.issuer.JWKS()
	if err := kr.issuer.SetKeys(signing, verify...); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if kids(before) != kids(kr.issuer.JWKS()) {
		kr.logger.Info("signing keys changed", "signing_kid", signing.ID(), "keys", len(verify)+1)
	}
	return nil
}

// kids lists the kids of a JWKS, to tell whether keys changed.
func kids(set token.JWKSet) string {
	var ids []string
	for _, k := range set.Keys {
		ids = append(ids, k.Kid)
	}
	return strings.Join(ids, " ")
}

// reloadUnknown is the Issuer's Reload: a token named a kid it does not
// know, perhaps of a key another replica or a command just introduced.
// It reloads at most once per reloadGap and says whether the token is
// worth checking again.
func (kr *keyring) reloadUnknown() bool {
	if kr.cfg.JWTSecretKey != "" || (kr.cfg.PrivateKeySet() && kr.cfg.JWTPrivateKeyFile == "" && kr.cfg.JWTPreviousPublicKeysFile == "") {
		return false // the keys come from the environment and cannot change
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if time.Since(kr.lastReload) < reloadGap {
		// Reloaded a moment ago, perhaps while this caller waited: the
		// token may name one of the keys just loaded.
		return true
	}
	kr.lastReload = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := kr.refresh(ctx); err != nil {
		kr.logger.Warn("reloading signing keys", "error", err)
		return false
	}
	return true
}

// watch refreshes the keys every JWT_KEYS_REFRESH_INTERVAL until ctx ends,
// so that a rotation reaches every replica within that time. A failed
// refresh keeps the keys the Issuer has.
func (kr *keyring) watch(ctx context.Context) {
	t := time.NewTicker(kr.cfg.JWTKeysRefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := kr.refresh(ctx); err != nil && ctx.Err() == nil {
			kr.logger.Warn("refreshing signing keys", "error", err)
		}
	}
}

// jwksPath is where the public keys are served.
const jwksPath = "/.well-known/jwks.json"

// openIDConfiguration serves the OpenID Connect discovery document, the
// part of it that verifiers read: the issuer, where its keys are, and their
// algorithms.
func openIDConfiguration(cfg config.Config, issuer *token.Issuer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		jwksURI := strings.TrimSuffix(cfg.JWTIssuer, "/") + jwksPath
		if !strings.HasPrefix(cfg.JWTIssuer, "https://") && !strings.HasPrefix(cfg.JWTIssuer, "http://") {
			// The issuer is no URL: point at this service as the client
			// reached it.
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			jwksURI = scheme + "://" + r.Host + jwksPath
		}
		var algs []string
		for _, k := range issuer.JWKS().Keys {
			if !slices.Contains(algs, k.Alg) {
				algs = append(algs, k.Alg)
			}
		}
		if algs == nil {
			algs = []string{"HS256"}
		}
		w.Header().Set("Cache-Control", jwksCacheControl)
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                cfg.JWTIssuer,
			"jwks_uri":                              jwksURI,
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": algs,
		})
	}
}

// jwksCacheControl lets verifiers cache the keys for five minutes: a new
// key is introduced at least that long before it signs.
const jwksCacheControl = "public, max-age=300"
