package auth

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/auditevent"
	"github.com/latchkey/latchkey/ent/session"
	"github.com/latchkey/latchkey/ent/throttle"
	"github.com/latchkey/latchkey/ent/user"
)

// RequestPasswordReset queues a reset mail for email. It answers the same,
// after the same work and throttles, whether or not an account has the
// address: the sender looks the account up and drops the mail, keeping no
// copy of the address, unless an enabled account has it.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	return s.requestMail(ctx, MailResetPassword, email)
}

// ResetPassword sets a new password with a reset_password token. The new
// password is checked first: a refusal spends nothing. Then, in one
// transaction, it spends the token (of concurrent uses exactly one
// succeeds, the others get TokenUsed), stores the password, ends every
// session, spends the user's other reset tokens, cancels a pending email
// change, verifies the email (the token proves it), clears the account's
// failed logins, records PASSWORD_RESET and queues a password_changed
// notice. It starts no
// session.
func (s *Service) ResetPassword(ctx context.Context, tok, newPassword string) error {
	if err := ValidatePassword("newPassword", newPassword, ""); err != nil {
		return err
	}
	now := s.now()
	return s.tokenThrottled(ctx, now, func() error {
		mt, err := s.lookupToken(ctx, tok, MailResetPassword, now)
		if err != nil {
			return err
		}
		if mt.SpentAt != nil {
			return &InvalidTokenError{Reason: TokenUsed}
		}
		u, err := s.db.User.Get(ctx, mt.UserID)
		if ent.IsNotFound(err) {
			return &InvalidTokenError{Reason: TokenInvalid}
		}
		if err != nil {
			return fmt.Errorf("loading user: %w", err)
		}
		if u.Disabled || u.Email != mt.Address {
			return &InvalidTokenError{Reason: TokenInvalid}
		}
		if err := ValidatePassword("newPassword", newPassword, u.Email); err != nil {
			return err
		}
		hash, err := s.hash(ctx, newPassword)
		if err != nil {
			return fmt.Errorf("hashing password: %w", err)
		}
		err = s.withTx(ctx, func(tx *ent.Tx) error {
			if err := spendToken(ctx, tx, mt, now); err != nil {
				return err
			}
			up := tx.User.Update().
				Where(user.ID(u.ID), user.Email(mt.Address), user.Disabled(false)).
				SetPasswordHash(hash).SetUpdatedAt(now).ClearPendingEmail().SetEmailVerified(true)
			if u.EmailVerifiedAt == nil {
				up.SetEmailVerifiedAt(now)
			}
			n, err := up.Save(ctx)
			if err != nil {
				return fmt.Errorf("storing password: %w", err)
			}
			if n == 0 { // changed or disabled meanwhile
				return &InvalidTokenError{Reason: TokenInvalid}
			}
			if _, err := s.revoke(ctx, tx.Session, session.UserID(u.ID)); err != nil {
				return err
			}
			if err := spendTokens(ctx, tx, u.ID, MailConfirmEmailChange, now); err != nil {
				return err
			}
			if _, err := tx.Throttle.Delete().Where(throttle.ID(key(kindLoginAccount, u.Email))).Exec(ctx); err != nil {
				return fmt.Errorf("clearing login failures: %w", err)
			}
			if err := s.audit(ctx, tx, auditEntry{Type: auditevent.TypePASSWORD_RESET, UserID: u.ID, ActorID: u.ID}); err != nil {
				return err
			}
			return s.enqueue(ctx, tx, MailPasswordChanged, u.Email, &u.ID, nil, now)
		})
		if err != nil {
			return err
		}
		s.queued()
		return nil
	})
}
