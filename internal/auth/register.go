package auth

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/auditevent"
)

// RegisterInput is a new account.
type RegisterInput struct {
	Email       string
	Password    string
	DisplayName *string
}

// Register creates a user and starts a session. The user, the session and
// the verification mail (when mail is sent) are written in one
// transaction: a failure leaves none of them. While verification is
// required, it creates the user and queues the mail but starts no session:
// it fails with ErrEmailNotVerified.
func (s *Service) Register(ctx context.Context, in RegisterInput) (*Tokens, error) {
	email, displayName, err := newAccount(in.Email, in.Password, in.DisplayName)
	if err != nil {
		return nil, err
	}
	if err := s.throttle.attempt(ctx, kindRegister, s.throttle.limits.Register, RequestFrom(ctx).ClientIP, s.now()); err != nil {
		return nil, err
	}
	if s.mail.Enabled {
		if err := s.reserveRecipient(ctx, email, s.now()); err != nil {
			return nil, err
		}
	}
	hash, err := s.hash(ctx, in.Password)
	if err != nil {
		return nil, fmt.Errorf("hashing password: %w", err)
	}
	now := s.now()
	var g grant
	err = s.withTx(ctx, func(tx *ent.Tx) error {
		u, err := tx.User.Create().
			SetEmail(email).
			SetPasswordHash(hash).
			SetNillableDisplayName(displayName).
			SetRoles([]string{RoleUser}).
			SetCreatedAt(now).
			SetUpdatedAt(now).
			SetLastLoginAt(now).
			Save(ctx)
		if ent.IsConstraintError(err) {
			return ErrEmailTaken
		}
		if err != nil {
			return fmt.Errorf("creating user: %w", err)
		}
		if s.mail.Enabled {
			if err := s.enqueue(ctx, tx, MailVerifyEmail, email, &u.ID, nil, now); err != nil {
				return err
			}
		}
		created := auditEntry{Type: auditevent.TypeUSER_CREATED, UserID: u.ID, ActorID: u.ID, Email: u.Email}
		if s.mail.RequireVerification {
			// No session until the address is verified.
			return s.audit(ctx, tx, created)
		}
		if g, err = s.startSession(ctx, tx, u, now); err != nil {
			return err
		}
		created.SessionID = g.session.ID
		return s.audit(ctx, tx, created)
	})
	if err != nil {
		return nil, err
	}
	if s.mail.Enabled {
		s.queued()
	}
	if s.mail.RequireVerification {
		return nil, ErrEmailNotVerified
	}
	return s.sign(g)
}

// newAccount checks the input of a new account, as register and the
// users create command take it: the email normalized, the password against
// the policy, the display name trimmed.
func newAccount(email, password string, displayName *string) (string, *string, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return "", nil, err
	}
	if err := ValidatePassword("password", password, email); err != nil {
		return "", nil, err
	}
	name, err := NormalizeDisplayName(displayName)
	if err != nil {
		return "", nil, err
	}
	return email, name, nil
}
