package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/token"
)

// reloadGap is the least time between two reloads of the keys that tokens
// with an unknown kid set off, so that forged kids cost little.
const reloadGap = time.Second

// Ring loads the signing and verification keys from where the
// configuration says (a shared secret, a PEM key from the environment or a
// file, or the database) and keeps an Issuer's keys current: every
// JWT_KEYS_REFRESH_INTERVAL, and when a token names an unknown kid.
type Ring struct {
	cfg    config.Config
	store  *Store // nil unless the keys are held in the database
	logger *slog.Logger
	issuer *token.Issuer

	mu         sync.Mutex
	lastReload time.Time
}

// Issuer returns the Issuer whose keys the Ring keeps current.
func (kr *Ring) Issuer() *token.Issuer { return kr.issuer }

// New loads the keys and returns a Ring with an Issuer that uses them.
func New(ctx context.Context, cfg config.Config, client *ent.Client, logger *slog.Logger) (*Ring, error) {
	kr := &Ring{cfg: cfg, logger: logger}
	if cfg.DatabaseKeys() {
		var err error
		if kr.store, err = OpenStore(cfg, client); err != nil {
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
		Leeway:          cfg.JWTClockSkew,
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
func (kr *Ring) load(ctx context.Context) (token.Key, []token.Key, error) {
	cfg := kr.cfg
	switch {
	case cfg.JWTSecretKey != "":
		return token.HMACKey([]byte(cfg.JWTSecretKey.Reveal())), nil, nil
	case cfg.PrivateKeySet():
		return kr.loadPEM()
	}
	signing, verify, err := kr.store.Load(ctx)
	if err != nil {
		return token.Key{}, nil, StoreError(err)
	}
	return signing, verify, nil
}

// OpenStore returns the store of the keys held in the database, sealing
// them with KEY_ENCRYPTION_KEY when it is set, and opening those sealed
// with KEY_ENCRYPTION_KEY_PREVIOUS.
func OpenStore(cfg config.Config, client *ent.Client) (*Store, error) {
	ks, err := NewStore(client, []byte(cfg.KeyEncryptionKey.Reveal()), []byte(cfg.KeyEncryptionKeyPrevious.Reveal()))
	if err != nil {
		return nil, fmt.Errorf("KEY_ENCRYPTION_KEY: %w", err)
	}
	return ks, nil
}

// Prepare creates the keys held in the database when there are none, and
// seals them again when the key-encryption key was replaced; it does
// nothing when the keys come from elsewhere. It runs under the migration
// lock (database.Migrate), so that replicas starting together agree.
func Prepare(ctx context.Context, cfg config.Config, client *ent.Client) error {
	if !cfg.DatabaseKeys() {
		return nil
	}
	store, err := OpenStore(cfg, client)
	if err != nil {
		return err
	}
	return StoreError(store.Prepare(ctx, time.Now()))
}

// StoreError names KEY_ENCRYPTION_KEY in the errors it causes.
func StoreError(err error) error {
	if IsKeyEncryptionError(err) {
		return fmt.Errorf("KEY_ENCRYPTION_KEY: %w", err)
	}
	return err
}

// IsKeyEncryptionError reports whether err comes of a KEY_ENCRYPTION_KEY that
// does not open the keys in the database, which no retry mends.
func IsKeyEncryptionError(err error) bool {
	return errors.Is(err, ErrKeysEncrypted) || errors.Is(err, ErrWrongKeyEncryptionKey)
}

// RotationTimes are the waits of a safe rotation of database keys: a key is
// published for as long as verifiers cache the JWKS, plus the time replicas
// take to re-read the keys, before it signs; and it verifies for the
// lifetime of its last token, plus that time and Apollo Router's 60 s of
// clock skew, after it stopped signing.
func RotationTimes(cfg config.Config) Times {
	return Times{
		Publish: JWKSMaxAge + cfg.JWTKeysRefreshInterval,
		Drain:   cfg.AccessTokenTTL + cfg.JWTKeysRefreshInterval + clockSkew,
	}
}

// clockSkew is the clock difference verifiers allow (Apollo Router: 60 s).
const clockSkew = 60 * time.Second

// loadPEM reads the PEM private key and the previous public keys, from the
// environment or their files. Errors name the variable.
func (kr *Ring) loadPEM() (token.Key, []token.Key, error) {
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
func (kr *Ring) reloadable() bool {
	return kr.store != nil || kr.cfg.JWTPrivateKeyFile != "" || kr.cfg.JWTPreviousPublicKeysFile != ""
}

// refresh loads the keys again and hands them to the Issuer when they
// changed. Reloads, periodic or for an unknown kid, run one at a time.
func (kr *Ring) refresh(ctx context.Context) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	return kr.refreshLocked(ctx)
}

// refreshLocked is refresh with kr.mu held.
func (kr *Ring) refreshLocked(ctx context.Context) error {
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
func (kr *Ring) reloadUnknown() bool {
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

// Watch refreshes the keys every JWT_KEYS_REFRESH_INTERVAL until ctx ends,
// so that a rotation reaches every replica within that time. A failed
// refresh keeps the keys the Issuer has.
func (kr *Ring) Watch(ctx context.Context) {
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

// JWKSMaxAge is how long verifiers may cache the keys: a new key is
// introduced at least that long before it signs.
const JWKSMaxAge = 5 * time.Minute
