package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/auditevent"
)

// VerifyEmail spends a verify_email token, marks its user's email
// verified and records EMAIL_VERIFIED. It is idempotent: the same token again within its lifetime
// succeeds while the address it verified is still the user's and
// verified, so that a link scanner spending it first spoils nothing. A
// refused token is an *InvalidTokenError.
func (s *Service) VerifyEmail(ctx context.Context, tok string) error {
	now := s.now()
	return s.tokenThrottled(ctx, now, func() error {
		mt, err := s.lookupToken(ctx, tok, MailVerifyEmail, now)
		if err != nil {
			return err
		}
		verified := func(u *ent.User) bool { return u.EmailVerified && u.Email == mt.Address && !u.Disabled }
		err = s.withTx(ctx, func(tx *ent.Tx) error {
			u, err := tx.User.Get(ctx, mt.UserID)
			if ent.IsNotFound(err) {
				return &InvalidTokenError{Reason: TokenInvalid}
			}
			if err != nil {
				return fmt.Errorf("loading user: %w", err)
			}
			switch {
			case mt.SpentAt != nil && verified(u):
				return nil
			case mt.SpentAt != nil:
				return &InvalidTokenError{Reason: TokenUsed}
			case u.Disabled || u.Email != mt.Address:
				return &InvalidTokenError{Reason: TokenInvalid}
			}
			if err := spendToken(ctx, tx, mt, now); err != nil {
				return err
			}
			up := tx.User.UpdateOne(u).SetEmailVerified(true).SetUpdatedAt(now)
			if u.EmailVerifiedAt == nil {
				up.SetEmailVerifiedAt(now)
			}
			if err := up.Exec(ctx); err != nil {
				return fmt.Errorf("verifying email: %w", err)
			}
			return s.audit(ctx, tx, auditEntry{Type: auditevent.TypeEMAIL_VERIFIED, UserID: u.ID, ActorID: u.ID, Email: mt.Address})
		})
		var bad *InvalidTokenError
		if errors.As(err, &bad) && bad.Reason == TokenUsed {
			// A concurrent use spent it first: its success is this one's.
			if u, uerr := s.db.User.Get(ctx, mt.UserID); uerr == nil && verified(u) {
				return nil
			}
		}
		return err
	})
}

// ResendVerificationEmail queues a verification mail for email. It
// answers the same, after the same work and throttles, whether or not an
// account has the address: the sender drops the mail unless an enabled,
// unverified account has it.
func (s *Service) ResendVerificationEmail(ctx context.Context, email string) error {
	return s.requestMail(ctx, MailVerifyEmail, email)
}

// requestMail queues a mail of kind for the typed address email, without
// looking the account up: the sender does, as it sends.
func (s *Service) requestMail(ctx context.Context, kind, email string) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	now := s.now()
	if err := s.askForMail(ctx, email, now); err != nil {
		return err
	}
	err = s.withTx(ctx, func(tx *ent.Tx) error {
		return s.enqueue(ctx, tx, kind, email, nil, nil, now)
	})
	if err != nil {
		return err
	}
	s.queued()
	return nil
}
