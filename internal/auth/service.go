// Package auth holds Latchkey's use cases: registration, login, refresh-token
// rotation, logout, password changes and the checks behind @auth, one file
// per flow. It owns the users, sessions, refresh tokens and throttle counts
// (the hand-written statements are all in queries.go), runs its
// transactions through one helper, and knows nothing of GraphQL or HTTP.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/internal/database"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/token"
)

// Roles every user has, and the one administrators have in addition.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// Lifetimes configures sessions and refresh tokens.
type Lifetimes struct {
	// RefreshTokenTTL is a session's idle lifetime; each rotation extends it.
	RefreshTokenTTL time.Duration
	// SessionMaxAge is a session's absolute lifetime from login.
	SessionMaxAge time.Duration
	// RefreshReuseInterval is how long a spent refresh token may come back
	// and still succeed; zero turns the grace off.
	RefreshReuseInterval time.Duration
	// AuditLogRetention is how long audit events are kept; zero keeps
	// them.
	AuditLogRetention time.Duration
}

// MailSettings configures the flows that mail: verification, reset and
// email change.
type MailSettings struct {
	// Enabled says whether mail is sent at all (a driver other than none):
	// without it, register queues nothing and the mutations that must mail
	// fail with ErrMailNotConfigured.
	Enabled bool
	// RequireVerification refuses login and register of an unverified
	// account with ErrEmailNotVerified.
	RequireVerification bool
	// The lifetimes of the tokens, counted from the sending.
	VerifyTTL, ResetTTL, ChangeTTL time.Duration
	// ResendInterval is the least time between two mails of one kind to
	// one recipient; a request within it mails nothing.
	ResendInterval time.Duration
	// Queued, when not nil, is called after a transaction that queued mail
	// has committed: it wakes the sender. It must not block.
	Queued func()
}

// Service runs the use cases against one database.
type Service struct {
	mail     MailSettings
	db       *ent.Client
	tokens   *token.Issuer
	hasher   *password.Hasher
	life     Lifetimes
	throttle *throttler
	clock    func() time.Time
	logger   *slog.Logger
	obs      Observer
	queries  queries // in the database's dialect
	// cursorKeyCache holds the cursor key once read (see cursorKey).
	cursorKeyCache atomic.Pointer[[]byte]
	// refusals spaces out the audit rows of refused logins.
	refusals refusalLog
}

// NewService returns a Service over db, a database of the Ent dialect
// dialect. clock is the time source; nil means time.Now.
// obs learns the outcomes of logins and refreshes and the throttled calls;
// nil observes nothing.
// mail configures the flows that send mail.
func NewService(db *ent.Client, dialect string, tokens *token.Issuer, hasher *password.Hasher, life Lifetimes, limits Limits, mail MailSettings, clock func() time.Time, logger *slog.Logger, obs Observer) *Service {
	if clock == nil {
		clock = time.Now
	}
	if obs == nil {
		obs = nopObserver{}
	}
	q := newQueries(dialect)
	return &Service{
		mail: mail,
		db:   db, tokens: tokens, hasher: hasher, life: life, throttle: newThrottler(db, limits, obs, q),
		clock: clock, logger: logger, obs: obs, queries: q,
	}
}

// now is the clock as dbTime keeps it.
func (s *Service) now() time.Time {
	return database.Time(s.clock())
}

// Tokens is a new access token and refresh token for one session.
type Tokens struct {
	AccessToken      string
	AccessExpiresAt  time.Time
	AccessTTL        time.Duration
	RefreshToken     string
	RefreshExpiresAt time.Time
	User             *ent.User
}

// grant is what a transaction that starts or rotates a session hands out
// once it has committed: the user, the session and its new refresh token.
type grant struct {
	user    *ent.User
	session *ent.Session
	refresh string
}

// issue stores a new refresh token of sess, rotated from parent if any.
func (s *Service) issue(ctx context.Context, tx *ent.Tx, u *ent.User, sess *ent.Session, parent *uuid.UUID, now time.Time) (grant, error) {
	refresh, hash, err := token.NewRefreshToken()
	if err != nil {
		return grant{}, fmt.Errorf("making refresh token: %w", err)
	}
	if _, err := exec(ctx, tx, s.queries.insert, uuid.New(), sess.ID, hash, parent, now); err != nil {
		return grant{}, fmt.Errorf("storing refresh token: %w", err)
	}
	return grant{user: u, session: sess, refresh: refresh}, nil
}

// sign signs the access token of a committed grant. It runs after the
// commit, so that the transaction, and on SQLite the one connection, is not
// held for the signature.
func (s *Service) sign(g grant) (*Tokens, error) {
	access, claims, err := s.tokens.Issue(token.Subject{
		UserID: g.user.ID.String(), SessionID: g.session.ID.String(),
		Email: g.user.Email, EmailVerified: g.user.EmailVerified, Roles: g.user.Roles,
	})
	if err != nil {
		return nil, fmt.Errorf("signing access token: %w", err)
	}
	return &Tokens{
		AccessToken:      access,
		AccessExpiresAt:  claims.ExpiresAt.Time,
		AccessTTL:        s.tokens.TTL(),
		RefreshToken:     g.refresh,
		RefreshExpiresAt: g.session.ExpiresAt,
		User:             g.user,
	}, nil
}

// refreshExpiry is the earlier of now plus the idle lifetime and the
// session's start plus its absolute lifetime.
func (s *Service) refreshExpiry(created, now time.Time) time.Time {
	idle := now.Add(s.life.RefreshTokenTTL)
	absolute := created.Add(s.life.SessionMaxAge)
	if absolute.Before(idle) {
		return absolute
	}
	return idle
}

// withTx runs fn in a transaction, committed when fn returns nil and rolled
// back when it fails or panics.
func (s *Service) withTx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	return database.WithTx(ctx, s.db, fn)
}

// truncated returns s made valid UTF-8 (a header may carry any bytes,
// which PostgreSQL's text refuses) and cut to at most n bytes on a rune
// boundary, or nil for an empty s.
func truncated(s string, n int) *string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if s == "" {
		return nil
	}
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "")
	}
	return &s
}

// hash hashes pw, shedding the call as RATE_LIMITED when the hasher is
// busy.
func (s *Service) hash(ctx context.Context, pw string) (string, error) {
	h, err := s.hasher.Hash(ctx, pw)
	return h, s.hashErr(err)
}

// verify checks pw against the stored hash encoded, as Hasher.Verify does.
func (s *Service) verify(ctx context.Context, encoded, pw string) (ok, rehash bool, err error) {
	ok, rehash, err = s.hasher.Verify(ctx, encoded, pw)
	return ok, rehash, s.hashErr(err)
}

// verifyUnknown costs what verify costs, for an account that does not
// exist.
func (s *Service) verifyUnknown(ctx context.Context, pw string) error {
	return s.hashErr(s.hasher.VerifyUnknown(ctx, pw))
}

// hashErr turns a hash shed by a busy hasher into a *RateLimitedError.
func (s *Service) hashErr(err error) error {
	if errors.Is(err, password.ErrBusy) {
		s.obs.ObserveThrottled(ThrottlePasswordHash)
		return &RateLimitedError{RetryAfter: time.Second}
	}
	return err
}
