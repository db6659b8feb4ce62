package auth

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/auditevent"
	"github.com/latchkey/latchkey/ent/session"
	"github.com/latchkey/latchkey/ent/user"
)

// ChangePassword replaces the caller's password, ends every other
// session of the user, cancels a pending email change and queues a
// password_changed notice.
func (s *Service) ChangePassword(ctx context.Context, current, next string) error {
	p, err := s.principal(ctx)
	if err != nil {
		return err
	}
	if err := ValidatePassword("newPassword", next, p.User.Email); err != nil {
		return err
	}
	pc, err := s.checkPassword(ctx, p, current)
	if err != nil {
		return err
	}
	hash, err := s.hash(ctx, next)
	if err != nil {
		return fmt.Errorf("hashing password: %w", err)
	}
	now := s.now()
	err = s.withTx(ctx, func(tx *ent.Tx) error {
		// Only over the hash just verified: of two concurrent changes, the
		// second finds the hash changed and must verify again.
		n, err := tx.User.Update().
			Where(user.ID(p.User.ID), user.PasswordHash(p.User.PasswordHash)).
			SetPasswordHash(hash).
			SetUpdatedAt(now).
			ClearPendingEmail().
			Save(ctx)
		if err != nil {
			return fmt.Errorf("storing password: %w", err)
		}
		if n == 0 {
			return ErrInvalidCredentials
		}
		if err := s.throttle.succeeded(ctx, tx, pc, now); err != nil {
			return err
		}
		if _, err := s.revoke(ctx, tx.Session, session.UserID(p.User.ID), session.IDNEQ(p.SessionID)); err != nil {
			return err
		}
		if err := spendTokens(ctx, tx, p.User.ID, MailConfirmEmailChange, now); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, auditEntry{Type: auditevent.TypePASSWORD_CHANGED, UserID: p.User.ID, ActorID: p.User.ID, SessionID: p.SessionID}); err != nil {
			return err
		}
		if !s.mail.Enabled {
			return nil
		}
		return s.enqueue(ctx, tx, MailPasswordChanged, p.User.Email, &p.User.ID, nil, now)
	})
	if err == nil && s.mail.Enabled {
		s.queued()
	}
	return err
}

// checkPassword checks the caller's password pw, as every mutation that
// asks for it does: the check counts against the account like a failed
// login, and against the caller's session, before any hashing, and a
// throttled one is refused with a *RateLimitedError. A wrong password is
// ErrInvalidCredentials. On success the caller hands the returned check to
// throttle.succeeded in the transaction of its change.
func (s *Service) checkPassword(ctx context.Context, p *Principal, pw string) (*passwordCheck, error) {
	pc, err := s.throttle.reservePasswordCheck(ctx, p.User.Email, RequestFrom(ctx).ClientIP, &p.SessionID, s.now())
	if err != nil {
		return nil, err
	}
	if pw == "" || len([]rune(pw)) > maxPasswordLen {
		return nil, ErrInvalidCredentials
	}
	ok, _, err := s.verify(ctx, p.User.PasswordHash, pw)
	if err != nil {
		s.throttle.abandon(ctx, pc)
		return nil, fmt.Errorf("verifying password of user %s: %w", p.User.ID, err)
	}
	if !ok {
		return nil, ErrInvalidCredentials
	}
	return pc, nil
}
