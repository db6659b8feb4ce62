package keys

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/signingkey"
	"github.com/latchkey/latchkey/internal/database"
	"github.com/latchkey/latchkey/internal/token"
)

// Key states, as Store.List reports them.
const (
	StateNext     = "next"     // introduced ahead: published, not signing yet
	StateCurrent  = "current"  // signs new tokens
	StatePrevious = "previous" // signed before a rotation; verifies until retired
)

// Times are the waits that make a rotation safe for verifiers.
type Times struct {
	// Publish is how long a key must be published before it signs, so
	// that verifiers caching the JWKS and every replica know it.
	Publish time.Duration
	// Drain is how long after it stopped signing a key still verifies: the
	// longest-lived access token it signed, plus clock skew and the time
	// replicas take to notice the rotation.
	Drain time.Duration
}

// TooNewError refuses a rotation step that would come before verifiers
// are ready for it.
type TooNewError struct {
	KeyID string
	What  string        // "promote" or "retire"
	Wait  time.Duration // how much longer to wait
}

func (e *TooNewError) Error() string {
	return fmt.Sprintf("too early to %s key %s: wait %s more (or force it)", e.What, e.KeyID, e.Wait.Round(time.Second))
}

// ErrKeyNotFound is a kid that names no key in the database.
var ErrKeyNotFound = errors.New("no such signing key")

// ErrRetireCurrent refuses to retire the key that signs.
var ErrRetireCurrent = errors.New("the current signing key cannot be retired: rotate first")

// Info describes one key held in the database, never its material.
type Info struct {
	ID         string
	Algorithm  string
	State      string // StateNext, StateCurrent or StatePrevious
	CreatedAt  time.Time
	PromotedAt *time.Time // when it began to sign
	DemotedAt  *time.Time // when it stopped signing (previous keys)
	Encrypted  bool
}

// sealedPrefix starts a private key sealed with the key-encryption key; a
// plain PKCS #8 key starts with 0x30 (a DER SEQUENCE), so they never mix up.
var sealedPrefix = []byte("latchkey-aes256gcm-v1:")

// Store manages the signing keys held in the database: it keeps one
// introduced ahead, rotates and retires them, and seals their private parts
// with AES-256-GCM when it has a key-encryption key.
type Store struct {
	db   *ent.Client
	aead cipher.AEAD // nil: keys are stored plain
	// previous opens keys sealed with the key-encryption key that aead's
	// replaces, which Prepare seals again with aead; nil: none.
	previous cipher.AEAD
}

// NewStore returns a Store over db. kek is the 32-byte
// key-encryption key, or empty to store keys plain; previous, if not
// empty, is the key-encryption key kek replaces.
func NewStore(db *ent.Client, kek, previous []byte) (*Store, error) {
	ks := &Store{db: db}
	if len(kek) == 0 {
		if len(previous) != 0 {
			return nil, errors.New("a previous key-encryption key without a key-encryption key to replace it")
		}
		return ks, nil
	}
	var err error
	if ks.aead, err = newAEAD(kek); err != nil {
		return nil, err
	}
	if len(previous) != 0 {
		if ks.previous, err = newAEAD(previous); err != nil {
			return nil, fmt.Errorf("previous %w", err)
		}
	}
	return ks, nil
}

// newAEAD returns AES-256-GCM with the key-encryption key kek.
func newAEAD(kek []byte) (cipher.AEAD, error) {
	if len(kek) != 32 {
		return nil, fmt.Errorf("key-encryption key of %d bytes, want 32", len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	return aead, nil
}

// ErrKeysEncrypted is a sealed key met without a key-encryption key.
var ErrKeysEncrypted = errors.New("signing keys in the database are encrypted and no key-encryption key is set")

// ErrWrongKeyEncryptionKey is a sealed key the key-encryption key does not
// open.
var ErrWrongKeyEncryptionKey = errors.New("the key-encryption key does not decrypt the signing keys in the database")

// seal returns the stored form of der for the key kid: sealed when ks has
// a key-encryption key. The kid is authenticated with it, so that a sealed
// key cannot be moved to another row.
func (ks *Store) seal(kid string, der []byte) ([]byte, error) {
	if ks.aead == nil {
		return der, nil
	}
	nonce := make([]byte, ks.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append(append([]byte{}, sealedPrefix...), nonce...)
	return ks.aead.Seal(out, nonce, der, []byte(kid)), nil
}

// open returns the PKCS #8 DER of a stored key, and whether it is stored
// otherwise than seal would store it now: plain while ks has a
// key-encryption key, or sealed with the previous one.
func (ks *Store) open(kid string, stored []byte) (der []byte, stale bool, err error) {
	sealed, ok := bytes.CutPrefix(stored, sealedPrefix)
	if !ok {
		return stored, ks.aead != nil, nil
	}
	if ks.aead == nil {
		return nil, false, ErrKeysEncrypted
	}
	if der, ok := unseal(ks.aead, kid, sealed); ok {
		return der, false, nil
	}
	if ks.previous != nil {
		if der, ok := unseal(ks.previous, kid, sealed); ok {
			return der, true, nil
		}
	}
	return nil, false, ErrWrongKeyEncryptionKey
}

// unseal opens sealed, a nonce and a ciphertext, for the key kid.
func unseal(aead cipher.AEAD, kid string, sealed []byte) ([]byte, bool) {
	n := aead.NonceSize()
	if len(sealed) < n {
		return nil, false
	}
	der, err := aead.Open(nil, sealed[:n], sealed[n:], []byte(kid))
	return der, err == nil
}

// create generates a new ES256 key and stores it, promoted at promoted
// (nil: introduced ahead).
func (ks *Store) create(ctx context.Context, tx *ent.Tx, now time.Time, promoted *time.Time) (string, error) {
	k, err := token.GenerateES256()
	if err != nil {
		return "", fmt.Errorf("generating signing key: %w", err)
	}
	der, err := k.MarshalPrivate()
	if err != nil {
		return "", fmt.Errorf("encoding signing key: %w", err)
	}
	stored, err := ks.seal(k.ID(), der)
	if err != nil {
		return "", fmt.Errorf("encrypting signing key: %w", err)
	}
	err = tx.SigningKey.Create().
		SetID(k.ID()).
		SetAlgorithm(k.Algorithm()).
		SetPrivateKey(stored).
		SetCreatedAt(now.UTC()).
		SetNillablePromotedAt(promoted).
		Exec(ctx)
	if err != nil {
		return "", fmt.Errorf("storing signing key: %w", err)
	}
	return k.ID(), nil
}

// rows returns every key, the oldest first.
func rows(ctx context.Context, db *ent.Client) ([]*ent.SigningKey, error) {
	rs, err := db.SigningKey.Query().
		Order(ent.Asc(signingkey.FieldCreatedAt), ent.Asc(signingkey.FieldID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading signing keys: %w", err)
	}
	return rs, nil
}

// current returns the index of the signing key among rs: the one promoted
// last, or -1 when none is.
func current(rs []*ent.SigningKey) int {
	cur := -1
	for i, r := range rs {
		if r.PromotedAt != nil && (cur < 0 || !r.PromotedAt.Before(*rs[cur].PromotedAt)) {
			cur = i
		}
	}
	return cur
}

// Prepare makes the keys ready to serve: a signing key (the oldest key,
// for keys stored before rotation existed, or a new one), a key introduced
// ahead for the next rotation, and every private key sealed with ks's
// key-encryption key when it has one, keys sealed with the previous one
// included. It also checks that every key opens. Call it where
// replicas cannot race, under the migration lock.
func (ks *Store) Prepare(ctx context.Context, now time.Time) error {
	return database.WithTx(ctx, ks.db, func(tx *ent.Tx) error {
		rs, err := rows(ctx, tx.Client())
		if err != nil {
			return err
		}
		for _, r := range rs {
			der, stale, err := ks.open(r.ID, r.PrivateKey)
			if err != nil {
				return fmt.Errorf("signing key %s: %w", r.ID, err)
			}
			if stale {
				sealed, err := ks.seal(r.ID, der)
				if err != nil {
					return fmt.Errorf("encrypting signing key %s: %w", r.ID, err)
				}
				if err := tx.SigningKey.UpdateOne(r).SetPrivateKey(sealed).Exec(ctx); err != nil {
					return fmt.Errorf("encrypting signing key %s: %w", r.ID, err)
				}
			}
		}
		switch {
		case len(rs) == 0:
			if _, err := ks.create(ctx, tx, now, &now); err != nil {
				return err
			}
		case current(rs) < 0:
			// Keys from before rotation: the oldest signed.
			if err := tx.SigningKey.UpdateOne(rs[0]).SetPromotedAt(rs[0].CreatedAt).Exec(ctx); err != nil {
				return fmt.Errorf("promoting signing key %s: %w", rs[0].ID, err)
			}
			rs[0].PromotedAt = &rs[0].CreatedAt
		}
		if !slices.ContainsFunc(rs, func(r *ent.SigningKey) bool { return r.PromotedAt == nil }) {
			if _, err := ks.create(ctx, tx, now, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// Load returns the signing key and the other keys that verify, in one
// query. Without a promoted key (Prepare has not run) the oldest signs.
func (ks *Store) Load(ctx context.Context) (token.Key, []token.Key, error) {
	rs, err := rows(ctx, ks.db)
	if err != nil {
		return token.Key{}, nil, err
	}
	if len(rs) == 0 {
		return token.Key{}, nil, errors.New("no signing key in the database")
	}
	cur := max(current(rs), 0)
	var (
		signing token.Key
		verify  []token.Key
	)
	for i, r := range rs {
		der, _, err := ks.open(r.ID, r.PrivateKey)
		if err != nil {
			return token.Key{}, nil, fmt.Errorf("signing key %s: %w", r.ID, err)
		}
		k, err := token.ParsePrivate(r.ID, der)
		if err != nil {
			return token.Key{}, nil, fmt.Errorf("decoding signing key %s: %w", r.ID, err)
		}
		if i == cur {
			signing = k
		} else {
			verify = append(verify, k)
		}
	}
	return signing, verify, nil
}

// List describes every key, the oldest first.
func (ks *Store) List(ctx context.Context) ([]Info, error) {
	rs, err := rows(ctx, ks.db)
	if err != nil {
		return nil, err
	}
	return describe(rs), nil
}

// describe gives the state of each of rs.
func describe(rs []*ent.SigningKey) []Info {
	cur := current(rs)
	out := make([]Info, len(rs))
	for i, r := range rs {
		info := Info{
			ID:         r.ID,
			Algorithm:  r.Algorithm,
			CreatedAt:  r.CreatedAt,
			PromotedAt: r.PromotedAt,
			Encrypted:  bytes.HasPrefix(r.PrivateKey, sealedPrefix),
		}
		switch {
		case i == cur:
			info.State = StateCurrent
		case r.PromotedAt == nil:
			info.State = StateNext
		default:
			info.State = StatePrevious
			// It stopped signing when the first key after it was promoted.
			for _, o := range rs {
				if o.PromotedAt != nil && o.PromotedAt.After(*r.PromotedAt) && (info.DemotedAt == nil || o.PromotedAt.Before(*info.DemotedAt)) {
					info.DemotedAt = o.PromotedAt
				}
			}
			if info.DemotedAt == nil { // promoted in the same instant as the current key
				info.DemotedAt = rs[cur].PromotedAt
			}
		}
		out[i] = info
	}
	return out
}

// Rotate promotes the key introduced ahead (the oldest, if several) to sign
// from now on, and introduces a new key ahead for the next rotation. The
// key that signed until now keeps verifying until it is retired. Unless
// force is set, a key published less than times.Publish ago is not
// promoted: the error is a *TooNewError. It returns the promoted and the
// introduced kids.
func (ks *Store) Rotate(ctx context.Context, now time.Time, times Times, force bool) (promoted, introduced string, err error) {
	now = database.Time(now)
	err = database.WithTx(ctx, ks.db, func(tx *ent.Tx) error {
		rs, err := rows(ctx, tx.Client())
		if err != nil {
			return err
		}
		i := slices.IndexFunc(rs, func(r *ent.SigningKey) bool { return r.PromotedAt == nil })
		if i < 0 {
			if !force {
				return errors.New("no key introduced ahead: start the service once, or force a rotation to an unpublished key")
			}
			if promoted, err = ks.create(ctx, tx, now, &now); err != nil {
				return err
			}
		} else {
			next := rs[i]
			if wait := next.CreatedAt.Add(times.Publish).Sub(now); wait > 0 && !force {
				return &TooNewError{KeyID: next.ID, What: "promote", Wait: wait}
			}
			if cur := current(rs); cur >= 0 && !now.After(*rs[cur].PromotedAt) {
				return errors.New("the current key was promoted in the same instant: try again")
			}
			if err := tx.SigningKey.UpdateOne(next).SetPromotedAt(now).Exec(ctx); err != nil {
				return fmt.Errorf("promoting signing key %s: %w", next.ID, err)
			}
			promoted = next.ID
		}
		introduced, err = ks.create(ctx, tx, now, nil)
		return err
	})
	if err != nil {
		return "", "", err
	}
	return promoted, introduced, nil
}

// Retire deletes the previous key kid, whose tokens then fail everywhere
// within a refresh interval. Unless force is set, a key that stopped
// signing less than times.Drain ago is kept: the error is a
// *TooNewError. A key introduced ahead may be retired at once; the
// current key never. With kid empty, Retire deletes every previous key
// whose drain time has passed. It returns the retired kids.
func (ks *Store) Retire(ctx context.Context, kid string, now time.Time, times Times, force bool) ([]string, error) {
	var retired []string
	err := database.WithTx(ctx, ks.db, func(tx *ent.Tx) error {
		rs, err := rows(ctx, tx.Client())
		if err != nil {
			return err
		}
		for _, info := range describe(rs) {
			if kid != "" && info.ID != kid {
				continue
			}
			switch info.State {
			case StateCurrent:
				if kid != "" {
					return ErrRetireCurrent
				}
				continue
			case StateNext:
				if kid == "" {
					continue
				}
			case StatePrevious:
				if wait := info.DemotedAt.Add(times.Drain).Sub(now); wait > 0 && !force {
					if kid == "" {
						continue
					}
					return &TooNewError{KeyID: info.ID, What: "retire", Wait: wait}
				}
			}
			retired = append(retired, info.ID)
		}
		if kid != "" && len(retired) == 0 {
			return ErrKeyNotFound
		}
		if _, err := tx.SigningKey.Delete().Where(signingkey.IDIn(retired...)).Exec(ctx); err != nil {
			return fmt.Errorf("retiring signing keys %v: %w", retired, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return retired, nil
}
