package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/auditevent"
	"github.com/latchkey/latchkey/ent/user"
	"github.com/latchkey/latchkey/internal/token"
)

// maxPasswordLen bounds what login hashes: no valid password is longer.
const maxPasswordLen = 256

// Login checks an email and password and starts a session. It fails with
// ErrInvalidCredentials, after the same work, whether the email is unknown
// or the password wrong. A throttled account or address is refused with a
// *RateLimitedError before any password is hashed.
func (s *Service) Login(ctx context.Context, email, password string) (*Tokens, error) {
	out, err := s.login(ctx, email, password)
	s.obs.ObserveLogin(loginOutcome(err))
	return out, err
}

func (s *Service) login(ctx context.Context, email, password string) (*Tokens, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	pc, err := s.throttle.reservePasswordCheck(ctx, email, RequestFrom(ctx).ClientIP, nil, s.now())
	if err != nil {
		var limited *RateLimitedError
		if errors.As(err, &limited) {
			s.auditLoginRefused(ctx, email)
		}
		return nil, err
	}
	u, rehash, err := s.verifyLogin(ctx, email, password)
	if err != nil {
		if !errors.Is(err, ErrInvalidCredentials) && !errors.Is(err, ErrAccountDisabled) {
			s.throttle.abandon(ctx, pc)
		}
		return nil, err
	}
	if s.mail.RequireVerification && !u.EmailVerified {
		// The password was right: the check is no failure.
		s.throttle.abandon(ctx, pc)
		s.auditLoginFailed(ctx, u.ID, auditReasonEmailNotVerified)
		return nil, ErrEmailNotVerified
	}
	return s.startLogin(ctx, u, password, rehash, pc)
}

// verifyLogin returns the user with email if password is theirs, and
// whether the stored hash should be upgraded. The right password of a
// disabled account is ErrAccountDisabled; a wrong one, as for every
// account, ErrInvalidCredentials. Both count as failures of the account,
// and are recorded in its audit trail.
func (s *Service) verifyLogin(ctx context.Context, email, password string) (*ent.User, bool, error) {
	if len([]rune(password)) > maxPasswordLen || password == "" {
		return nil, false, ErrInvalidCredentials
	}
	u, err := s.db.User.Query().Where(user.Email(email)).Only(ctx)
	if ent.IsNotFound(err) {
		if err := s.verifyUnknown(ctx, password); err != nil {
			return nil, false, err
		}
		return nil, false, ErrInvalidCredentials
	}
	if err != nil {
		return nil, false, fmt.Errorf("loading user: %w", err)
	}
	ok, rehash, err := s.verify(ctx, u.PasswordHash, password)
	if err != nil {
		return nil, false, fmt.Errorf("verifying password of user %s: %w", u.ID, err)
	}
	if !ok {
		s.auditLoginFailed(ctx, u.ID, auditReasonInvalidCredentials)
		return nil, false, ErrInvalidCredentials
	}
	if u.Disabled {
		s.auditLoginFailed(ctx, u.ID, auditReasonDisabled)
		return nil, false, ErrAccountDisabled
	}
	return u, rehash, nil
}

// startLogin records the login of u, upgrading the password's hash when
// rehash says so, clears the check's failures, and starts a session.
func (s *Service) startLogin(ctx context.Context, u *ent.User, password string, rehash bool, pc *passwordCheck) (*Tokens, error) {
	var (
		newHash string
		err     error
	)
	if rehash {
		if newHash, err = s.hash(ctx, password); err != nil {
			return nil, fmt.Errorf("rehashing password: %w", err)
		}
	}
	now := s.now()
	var g grant
	if newHash == "" && s.queries.login != "" {
		// One statement needs no transaction.
		if g, err = s.loginPostgres(ctx, s.db, u, pc, now); err != nil {
			return nil, err
		}
		return s.sign(g)
	}
	err = s.withTx(ctx, func(tx *ent.Tx) error {
		if newHash != "" {
			// Only over the hash just verified: a concurrent password change wins.
			if err := tx.User.Update().
				Where(user.ID(u.ID), user.PasswordHash(u.PasswordHash)).
				SetPasswordHash(newHash).
				Exec(ctx); err != nil {
				return fmt.Errorf("rehashing password: %w", err)
			}
		}
		if s.queries.login != "" {
			g, err = s.loginPostgres(ctx, tx, u, pc, now)
			return err
		}
		if err := s.throttle.succeeded(ctx, tx, pc, now); err != nil {
			return err
		}
		if g, err = s.startSession(ctx, tx, u, now); err != nil {
			return err
		}
		u.LastLoginAt = &now
		return s.recordLogin(ctx, tx, u.ID, g.session.ID, now)
	})
	if err != nil {
		return nil, err
	}
	return s.sign(g)
}

// loginPostgres writes, through db (the database, or a transaction), what
// the throttle's succeeded, startSession and recordLogin write, in one
// statement: the query loginPostgres.
func (s *Service) loginPostgres(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, u *ent.User, pc *passwordCheck, now time.Time) (grant, error) {
	refresh, hash, err := token.NewRefreshToken()
	if err != nil {
		return grant{}, fmt.Errorf("making refresh token: %w", err)
	}
	req := RequestFrom(ctx)
	sess := &ent.Session{
		ID: uuid.New(), CreatedAt: now, LastUsedAt: now, ExpiresAt: s.refreshExpiry(now, now),
		UserAgent: truncated(req.UserAgent, 512), IPAddress: truncated(req.ClientIP, 64), UserID: u.ID,
	}
	if _, err := db.ExecContext(ctx, s.queries.login,
		pc.account, pc.address, pc.session, s.throttle.rememberKey(pc), now.UnixMilli(),
		sess.ID, now, sess.ExpiresAt, sess.UserAgent, sess.IPAddress, u.ID,
		uuid.New(), hash, newEventID()); err != nil {
		return grant{}, fmt.Errorf("recording login: %w", err)
	}
	u.LastLoginAt = &now
	return grant{user: u, session: sess, refresh: refresh}, nil
}

// recordLogin sets the user's last login and records the LOGIN_SUCCEEDED
// event of the session sid, in tx.
func (s *Service) recordLogin(ctx context.Context, tx *ent.Tx, uid, sid uuid.UUID, now time.Time) error {
	// Update, not UpdateOne: nothing to read back.
	if err := tx.User.Update().Where(user.ID(uid)).SetLastLoginAt(now).Exec(ctx); err != nil {
		return fmt.Errorf("recording login: %w", err)
	}
	return s.audit(ctx, tx, auditEntry{Type: auditevent.TypeLOGIN_SUCCEEDED, UserID: uid, ActorID: uid, SessionID: sid})
}
