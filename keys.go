package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	store  *auth.KeyStore // nil unless the keys are held in the database
	logger *slog.Logger
	issuer *token.Issuer

	mu         sync.Mutex
	lastReload time.Time
}

// newKeyring loads the keys and returns a keyring with an Issuer that uses
// them.
func newKeyring(ctx context.Context, cfg config.Config, client *ent.Client, logger *slog.Logger) (*keyring, error) {
	kr := &keyring{cfg: cfg, logger: logger}
	if cfg.DatabaseKeys() {
		var err error
		if kr.store, err = keyStore(cfg, client); err != nil {
			return nil, err
		}
	}
	signing, verify, err := kr.load(ctx)
	if err != nil {
		return nil, err
	}
	opts := token.Options{
		Issuer:          cfg.JWTIssuer,
		Audience:        cfg.JWTAudience,
		TTL:             cfg.AccessTokenTTL,
		ClaimsNamespace: cfg.JWTClaimsNamespace,
	}
	if kr.reloadable() {
		opts.Reload = kr.reloadUnknown
	}
	kr.issuer, err = token.NewIssuer(opts, signing, verify...)
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
	signing, verify, err := kr.store.Load(ctx)
	if err != nil {
		return token.Key{}, nil, keyStoreError(err)
	}
	return signing, verify, nil
}

// keyStore returns the store of the keys held in the database, sealing
// them with KEY_ENCRYPTION_KEY when it is set, and opening those sealed
// with KEY_ENCRYPTION_KEY_PREVIOUS.
func keyStore(cfg config.Config, client *ent.Client) (*auth.KeyStore, error) {
	ks, err := auth.NewKeyStore(client, []byte(cfg.KeyEncryptionKey.Reveal()), []byte(cfg.KeyEncryptionKeyPrevious.Reveal()))
	if err != nil {
		return nil, fmt.Errorf("KEY_ENCRYPTION_KEY: %w", err)
	}
	return ks, nil
}

// keyStoreError names KEY_ENCRYPTION_KEY in the errors it causes.
func keyStoreError(err error) error {
	if keyEncryptionError(err) {
		return fmt.Errorf("KEY_ENCRYPTION_KEY: %w", err)
	}
	return err
}

// keyEncryptionError reports whether err comes of a KEY_ENCRYPTION_KEY that
// does not open the keys in the database, which no retry mends.
func keyEncryptionError(err error) bool {
	return errors.Is(err, auth.ErrKeysEncrypted) || errors.Is(err, auth.ErrWrongKeyEncryptionKey)
}

// keyTimes are the waits of a safe rotation of database keys: a key is
// published for as long as verifiers cache the JWKS, plus the time replicas
// take to re-read the keys, before it signs; and it verifies for the
// lifetime of its last token, plus that time and Apollo Router's 60 s of
// clock skew, after it stopped signing.
func keyTimes(cfg config.Config) auth.KeyTimes {
	return auth.KeyTimes{
		Publish: jwksMaxAge + cfg.JWTKeysRefreshInterval,
		Drain:   cfg.AccessTokenTTL + cfg.JWTKeysRefreshInterval + clockSkew,
	}
}

// clockSkew is the clock difference verifiers allow (Apollo Router: 60 s).
const clockSkew = 60 * time.Second

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

// reloadable reports whether the keys can change while the service runs:
// keys in the database or in files can, keys in the environment cannot.
func (kr *keyring) reloadable() bool {
	return kr.store != nil || kr.cfg.JWTPrivateKeyFile != "" || kr.cfg.JWTPreviousPublicKeysFile != ""
}

// refresh loads the keys again and hands them to the Issuer when they
// changed. Reloads, periodic or for an unknown kid, run one at a time.
func (kr *keyring) refresh(ctx context.Context) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	return kr.refreshLocked(ctx)
}

// refreshLocked is refresh with kr.mu held.
func (kr *keyring) refreshLocked(ctx context.Context) error {
	kr.lastReload = time.Now()
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
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if time.Since(kr.lastReload) < reloadGap {
		// Reloaded a moment ago, perhaps while this caller waited: the
		// token may name one of the keys just loaded.
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := kr.refreshLocked(ctx); err != nil {
		kr.logger.Warn("reloading signing keys", "error", err)
		return false
	}
	return true
}

// watch refreshes the keys every JWT_KEYS_REFRESH_INTERVAL until ctx ends,
// so that a rotation reaches every replica within that time. A failed
// refresh keeps the keys the Issuer has.
func (kr *keyring) watch(ctx context.Context) {
	if !kr.reloadable() {
		return
	}
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

// jwksPath is where the public keys are served, openIDConfigurationPath
// where verifiers discover them from the issuer.
const (
	jwksPath                = "/.well-known/jwks.json"
	openIDConfigurationPath = "/.well-known/openid-configuration"
)

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

// jwksMaxAge is how long verifiers may cache the keys: a new key is
// introduced at least that long before it signs.
const jwksMaxAge = 5 * time.Minute

// jwksCacheControl lets verifiers cache the keys for jwksMaxAge.
var jwksCacheControl = fmt.Sprintf("public, max-age=%d", int(jwksMaxAge.Seconds()))

// keysCommand runs latchkey keys list|rotate|retire, on the keys held in
// the database.
func keysCommand(ctx context.Context, args []string, cfg config.Config, client *ent.Client, stdout io.Writer) error {
	const usage = "usage: latchkey keys list | keys rotate [--force] | keys retire [KID] [--force]"
	if !cfg.DatabaseKeys() {
		return errors.New("keys: the signing keys come from JWT_SECRET_KEY or JWT_PRIVATE_KEY(_FILE), not the database; rotate them as docs/keys.md says")
	}
	if len(args) == 0 {
		return errors.New(usage)
	}
	command, force, rest := args[0], false, []string{}
	for _, a := range args[1:] {
		if a == "--force" || a == "-force" {
			force = true
		} else {
			rest = append(rest, a)
		}
	}
	store, err := keyStore(cfg, client)
	if err != nil {
		return err
	}
	now := time.Now()
	switch {
	case command == "list" && len(rest) == 0 && !force:
	case command == "rotate" && len(rest) == 0:
		promoted, introduced, err := store.Rotate(ctx, now, keyTimes(cfg), force)
		if err != nil {
			return keyStoreError(err)
		}
		fmt.Fprintf(stdout, "promoted %s: it signs new tokens within %s on every replica\nintroduced %s for the next rotation\n",
			promoted, cfg.JWTKeysRefreshInterval, introduced)
	case command == "retire" && len(rest) <= 1:
		kid := ""
		if len(rest) == 1 {
			kid = rest[0]
		}
		retired, err := store.Retire(ctx, kid, now, keyTimes(cfg), force)
		if err != nil {
			return keyStoreError(err)
		}
		if len(retired) == 0 {
			fmt.Fprintln(stdout, "no key to retire")
		}
		for _, id := range retired {
			fmt.Fprintf(stdout, "retired %s: its tokens are refused within %s on every replica\n", id, cfg.JWTKeysRefreshInterval)
		}
	default:
		return errors.New(usage)
	}
	keys, err := store.List(ctx)
	if err != nil {
		return err
	}
	times := keyTimes(cfg)
	fmt.Fprintf(stdout, "%-44s %-6s %-9s %-9s %-20s %s\n", "KID", "ALG", "STATE", "ENCRYPTED", "CREATED", "NOTE")
	for _, k := range keys {
		note := ""
		switch k.State {
		case auth.KeyNext:
			if at := k.CreatedAt.Add(times.Publish); at.After(now) {
				note = "rotate after " + at.UTC().Format(time.RFC3339)
			} else {
				note = "ready to rotate"
			}
		case auth.KeyCurrent:
			note = "signing since " + k.PromotedAt.UTC().Format(time.RFC3339)
		case auth.KeyPrevious:
			if at := k.DemotedAt.Add(times.Drain); at.After(now) {
				note = "retire after " + at.UTC().Format(time.RFC3339)
			} else {
				note = "ready to retire"
			}
		}
		fmt.Fprintf(stdout, "%-44s %-6s %-9s %-9t %-20s %s\n", k.ID, k.Algorithm, k.State, k.Encrypted, k.CreatedAt.UTC().Format(time.RFC3339), note)
	}
	return nil
}
