package auth

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/session"
	"github.com/latchkey/latchkey/ent/user"
)

// ChangePassword replaces the caller's password and ends every other
// session of the user.
func (s *Service) ChangePassword(ctx context.Context, current, next string) error {
	p, err := s.principal(ctx)
	if err != nil {
		return err
	}
	if err := ValidatePassword("newPassword", next, p.User.Email); err != nil {
		return err
	}
	if len([]rune(current)) > maxPasswordLen {
		return ErrInvalidCredentials
	}
	ok, _, err := s.verify(ctx, p.User.PasswordHash, current)
	if err != nil {
		return fmt.Errorf("verifying password of user %s: %w", p.User.ID, err)
	}
	if !ok {
		return ErrInvalidCredentials
	}
	hash, err := s.hash(ctx, next)
	if err != nil {
		return fmt.Errorf("hashing password: %w", err)
	}
	now := s.now()
	return s.withTx(ctx, func(tx *ent.Tx) error {
		// Only over the hash just verified: of two concurrent changes, the
		// second finds the hash changed and must verify again.
		n, err := tx.User.Update().
			Where(user.ID(p.User.ID), user.PasswordHash(p.User.PasswordHash)).
			SetPasswordHash(hash).
			SetUpdatedAt(now).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("storing password: %w", err)
		}
		if n == 0 {
			return ErrInvalidCredentials
		}
		_, err = s.revoke(ctx, tx.Session, session.UserID(p.User.ID), session.IDNEQ(p.SessionID))
		return err
	})
}
