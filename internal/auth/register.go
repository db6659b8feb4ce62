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

// Register creates a user and starts a session. The user and the session are
// written in one transaction: a failure leaves neither.
func (s *Service) Register(ctx context.Context, in RegisterInput) (*Tokens, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if err := ValidatePassword("password", in.Password, email); err != nil {
		return nil, err
	}
	displayName, err := NormalizeDisplayName(in.DisplayName)
	if err != nil {
		return nil, err
	}
	if err := s.throttle.attempt(ctx, kindRegister, s.throttle.limits.Register, RequestFrom(ctx).ClientIP, s.now()); err != nil {
		return nil, err
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
		if g, err = s.startSession(ctx, tx, u, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, auditEntry{Type: auditevent.TypeUSER_CREATED, UserID: u.ID, ActorID: u.ID, SessionID: g.session.ID, Email: u.Email})
	})
	if err != nil {
		return nil, err
	}
	return s.sign(g)
}
