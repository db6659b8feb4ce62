package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/auditevent"
	"github.com/latchkey/latchkey/ent/user"
)

// RequestEmailChange asks to move the caller's account to newEmail, once
// the new address confirms it: it sets the pending email (replacing an
// earlier request, whose token it spends), mails a confirm_email_change
// token to newEmail and an email_change_requested notice, the new address
// masked, to the current one. A malformed or unchanged newEmail is a
// *ValidationError, a wrong password ErrInvalidCredentials (counted like a
// failed login), an address in use ErrEmailTaken.
func (s *Service) RequestEmailChange(ctx context.Context, newEmail, password string) error {
	p, err := s.principal(ctx)
	if err != nil {
		return err
	}
	newEmail, err = NormalizeEmail(newEmail)
	var invalid *ValidationError
	if errors.As(err, &invalid) {
		return &ValidationError{Field: "newEmail", Message: invalid.Message}
	}
	if err != nil {
		return err
	}
	if newEmail == p.User.Email {
		return &ValidationError{Field: "newEmail", Message: "is the current email"}
	}
	if !s.mail.Enabled {
		return ErrMailNotConfigured
	}
	pc, err := s.checkPassword(ctx, p, password)
	if err != nil {
		return err
	}
	now := s.now()
	if err := s.askForMail(ctx, newEmail, now); err != nil {
		return err
	}
	taken, err := s.db.User.Query().Where(user.Email(newEmail)).Exist(ctx)
	if err != nil {
		return fmt.Errorf("looking email up: %w", err)
	}
	if taken {
		return ErrEmailTaken
	}
	uid := p.User.ID
	err = s.withTx(ctx, func(tx *ent.Tx) error {
		if err := s.throttle.succeeded(ctx, tx, pc, now); err != nil {
			return err
		}
		if err := tx.User.UpdateOneID(uid).SetPendingEmail(newEmail).SetUpdatedAt(now).Exec(ctx); err != nil {
			return fmt.Errorf("storing pending email: %w", err)
		}
		if err := spendTokens(ctx, tx, uid, MailConfirmEmailChange, now); err != nil {
			return err
		}
		if err := s.enqueue(ctx, tx, MailConfirmEmailChange, newEmail, &uid, nil, now); err != nil {
			return err
		}
		if err := s.enqueue(ctx, tx, MailEmailChangeRequested, p.User.Email, &uid, map[string]string{DataNewEmail: maskEmail(newEmail)}, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, auditEntry{Type: auditevent.TypeEMAIL_CHANGE_REQUESTED, UserID: uid, ActorID: uid, Email: newEmail})
	})
	if err != nil {
		return err
	}
	s.queued()
	return nil
}

// ConfirmEmailChange spends a confirm_email_change token: the account's
// email becomes the address the token was sent to, verified, and a notice
// goes to the old one. Sessions stay; their tokens carry the new email
// from the next refresh. It is idempotent like VerifyEmail. An address
// taken meanwhile is ErrEmailTaken, and the change is cancelled.
func (s *Service) ConfirmEmailChange(ctx context.Context, tok string) error {
	now := s.now()
	return s.tokenThrottled(ctx, now, func() error {
		mt, err := s.lookupToken(ctx, tok, MailConfirmEmailChange, now)
		if err != nil {
			return err
		}
		u, err := s.db.User.Get(ctx, mt.UserID)
		if ent.IsNotFound(err) {
			return &InvalidTokenError{Reason: TokenInvalid}
		}
		if err != nil {
			return fmt.Errorf("loading user: %w", err)
		}
		done := func(u *ent.User) bool { return u.Email == mt.Address && !u.Disabled }
		switch {
		case mt.SpentAt != nil && done(u):
			return nil
		case mt.SpentAt != nil:
			return &InvalidTokenError{Reason: TokenUsed}
		case u.Disabled || u.PendingEmail == nil || *u.PendingEmail != mt.Address:
			return &InvalidTokenError{Reason: TokenInvalid}
		}
		err = s.withTx(ctx, func(tx *ent.Tx) error {
			if err := spendToken(ctx, tx, mt, now); err != nil {
				return err
			}
			up := tx.User.Update().
				Where(user.ID(u.ID), user.PendingEmail(mt.Address), user.Disabled(false)).
				SetEmail(mt.Address).ClearPendingEmail().SetEmailVerified(true).SetUpdatedAt(now)
			if u.EmailVerifiedAt == nil {
				up.SetEmailVerifiedAt(now)
			}
			n, err := up.Save(ctx)
			if ent.IsConstraintError(err) {
				return ErrEmailTaken
			}
			if err != nil {
				return fmt.Errorf("changing email: %w", err)
			}
			if n == 0 {
				return &InvalidTokenError{Reason: TokenInvalid}
			}
			if err := s.enqueue(ctx, tx, MailEmailChanged, u.Email, &u.ID,
				map[string]string{DataOldEmail: u.Email, DataNewEmail: mt.Address}, now); err != nil {
				return err
			}
			return s.audit(ctx, tx, auditEntry{Type: auditevent.TypeEMAIL_CHANGED, UserID: u.ID, ActorID: u.ID, Email: mt.Address})
		})
		switch {
		case errors.Is(err, ErrEmailTaken):
			cerr := s.withTx(ctx, func(tx *ent.Tx) error {
				if err := tx.User.Update().Where(user.ID(u.ID), user.PendingEmail(mt.Address)).ClearPendingEmail().Exec(ctx); err != nil {
					return err
				}
				return spendTokens(ctx, tx, u.ID, MailConfirmEmailChange, now)
			})
			if cerr != nil {
				return fmt.Errorf("cancelling email change: %w", cerr)
			}
			return ErrEmailTaken
		case err != nil:
			var bad *InvalidTokenError
			if errors.As(err, &bad) && bad.Reason == TokenUsed {
				if u, uerr := s.db.User.Get(ctx, mt.UserID); uerr == nil && done(u) {
					return nil
				}
			}
			return err
		}
		s.queued()
		return nil
	})
}

// maskEmail shows enough of an address for its owner to recognise it:
// the first letter of the local part, and the domain.
func maskEmail(email string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" {
		return "***"
	}
	r := []rune(local)
	return string(r[0]) + "***@" + domain
}
