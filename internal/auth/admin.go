package auth

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqljson"
	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/auditevent"
	"github.com/latchkey/latchkey/ent/mailoutbox"
	"github.com/latchkey/latchkey/ent/mailtoken"
	"github.com/latchkey/latchkey/ent/predicate"
	"github.com/latchkey/latchkey/ent/refreshtoken"
	"github.com/latchkey/latchkey/ent/session"
	"github.com/latchkey/latchkey/ent/user"
)

// maxRoles bounds the roles of one user, user included.
const maxRoles = 20

// rolePattern is what a role looks like.
var rolePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// normalizeRoles checks roles and returns them as a user keeps them:
// RoleUser first, then the others in the order given, each once.
func normalizeRoles(roles []string) ([]string, error) {
	out := []string{RoleUser}
	for _, r := range roles {
		if !rolePattern.MatchString(r) {
			return nil, &ValidationError{Field: "roles", Message: fmt.Sprintf("%q is not a role: lowercase letters, digits, _ and -, at most 32, starting with a letter", truncatedRole(r))}
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) > maxRoles {
		return nil, &ValidationError{Field: "roles", Message: fmt.Sprintf("at most %d roles", maxRoles)}
	}
	return out, nil
}

// truncatedRole cuts a refused role short enough to quote in a message.
func truncatedRole(r string) string {
	if p := truncated(r, 40); p != nil {
		return *p
	}
	return ""
}

// hasRole matches the users with role.
func hasRole(role string) predicate.User {
	return func(s *entsql.Selector) {
		s.Where(sqljson.ValueContains(user.FieldRoles, role))
	}
}

// isEnabledAdmin reports whether u counts as an administrator.
func isEnabledAdmin(u *ent.User) bool {
	return !u.Disabled && slices.Contains(u.Roles, RoleAdmin)
}

// adminChange runs change in a transaction that holds the administrators'
// lock, with the user uid loaded after the lock was taken (nil when there
// is no such user). Every change that may take the last enabled
// administrator away runs through it, so that of two concurrent changes
// (two administrators demoting each other) the second sees the first's
// outcome; change checks with keepAnAdmin.
func (s *Service) adminChange(ctx context.Context, which predicate.User, change func(tx *ent.Tx, u *ent.User) error) error {
	return s.withTx(ctx, func(tx *ent.Tx) error {
		if s.queries.lockAdmins != "" {
			if _, err := tx.ExecContext(ctx, s.queries.lockAdmins); err != nil {
				return fmt.Errorf("locking administrators: %w", err)
			}
		}
		u, err := tx.User.Query().Where(which).Only(ctx)
		if ent.IsNotFound(err) {
			u = nil
		} else if err != nil {
			return fmt.Errorf("loading user: %w", err)
		}
		return change(tx, u)
	})
}

// keepAnAdmin refuses with ErrLastAdmin, in tx under the administrators'
// lock, to let u stop being an enabled administrator when no other is.
// Then, when actor is not uuid.Nil, it refuses with ErrForbidden an actor
// that is no enabled administrator any more: a concurrent change may have
// demoted it since its request was authorized.
func (s *Service) keepAnAdmin(ctx context.Context, tx *ent.Tx, u *ent.User, actor uuid.UUID) error {
	admins := func(not uuid.UUID) (bool, error) {
		ok, err := tx.User.Query().
			Where(user.IDNEQ(not), user.Disabled(false), hasRole(RoleAdmin)).
			Exist(ctx)
		if err != nil {
			return false, fmt.Errorf("counting administrators: %w", err)
		}
		return ok, nil
	}
	if u != nil && isEnabledAdmin(u) {
		ok, err := admins(u.ID)
		if err != nil {
			return err
		}
		if !ok {
			return ErrLastAdmin
		}
	}
	if actor == uuid.Nil {
		return nil
	}
	ok, err := tx.User.Query().
		Where(user.ID(actor), user.Disabled(false), hasRole(RoleAdmin)).
		Exist(ctx)
	if err != nil {
		return fmt.Errorf("checking administrator: %w", err)
	}
	if !ok {
		return ErrForbidden
	}
	return nil
}

// SetUserRoles replaces the roles of the user with id, keeping RoleUser,
// and returns the user; nil when there is no such user. The change is
// effective at once: every request reads the roles from the database. It
// refuses, with ErrLastAdmin, to take admin from the last enabled
// administrator.
func (s *Service) SetUserRoles(ctx context.Context, id string, roles []string) (*ent.User, error) {
	p, err := s.principal(ctx)
	if err != nil {
		return nil, err
	}
	set, err := normalizeRoles(roles)
	if err != nil {
		return nil, err
	}
	uid, err := uuid.Parse(id)
	if err != nil {
		return nil, nil
	}
	var out *ent.User
	err = s.adminChange(ctx, user.ID(uid), func(tx *ent.Tx, u *ent.User) error {
		if u == nil {
			return nil
		}
		if !slices.Contains(set, RoleAdmin) {
			if err := s.keepAnAdmin(ctx, tx, u, p.User.ID); err != nil {
				return err
			}
		} else if err := s.keepAnAdmin(ctx, tx, nil, p.User.ID); err != nil {
			return err
		}
		out, err = tx.User.UpdateOne(u).SetRoles(set).SetUpdatedAt(s.now()).Save(ctx)
		if err != nil {
			return fmt.Errorf("setting roles: %w", err)
		}
		return s.audit(ctx, tx, auditEntry{Type: auditevent.TypeROLES_CHANGED, UserID: u.ID, ActorID: p.User.ID, Roles: set})
	})
	return out, err
}

// DisableUser disables the user with id, ends every session of the user,
// spends its mail tokens and drops its queued mail, in one transaction:
// the user's access tokens are refused at once and the refresh tokens are
// dead. The user can no longer log in. nil when
// there is no such user; a *ValidationError for the caller's own id.
func (s *Service) DisableUser(ctx context.Context, id string) (*ent.User, error) {
	return s.setDisabled(ctx, id, true)
}

// EnableUser lets a disabled user with id log in again; the sessions it
// lost stay ended. nil when there is no such user; a *ValidationError for
// the caller's own id.
func (s *Service) EnableUser(ctx context.Context, id string) (*ent.User, error) {
	return s.setDisabled(ctx, id, false)
}

func (s *Service) setDisabled(ctx context.Context, id string, disabled bool) (*ent.User, error) {
	p, err := s.principal(ctx)
	if err != nil {
		return nil, err
	}
	uid, err := uuid.Parse(id)
	if err != nil {
		return nil, nil
	}
	if uid == p.User.ID {
		return nil, &ValidationError{Field: "id", Message: "not your own account"}
	}
	var out *ent.User
	err = s.adminChange(ctx, user.ID(uid), func(tx *ent.Tx, u *ent.User) error {
		if u == nil {
			return nil
		}
		target := u
		if !disabled {
			target = nil // enabling takes no administrator away
		}
		if err := s.keepAnAdmin(ctx, tx, target, p.User.ID); err != nil {
			return err
		}
		if u.Disabled == disabled {
			out = u
			return nil
		}
		now := s.now()
		if out, err = tx.User.UpdateOne(u).SetDisabled(disabled).SetUpdatedAt(now).Save(ctx); err != nil {
			return fmt.Errorf("disabling user: %w", err)
		}
		typ := auditevent.TypeUSER_ENABLED
		if disabled {
			typ = auditevent.TypeUSER_DISABLED
			// Every session ends, and with it its refresh tokens; every
			// mail token is spent and queued mail dropped.
			if _, err := s.revoke(ctx, tx.Session, session.UserID(u.ID)); err != nil {
				return err
			}
			if err := s.endMail(ctx, tx, u.ID, now); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, auditEntry{Type: typ, UserID: u.ID, ActorID: p.User.ID})
	})
	return out, err
}

// DeleteUser deletes the user with id, with its sessions, tokens and mail, in
// one transaction; the email may register again, and the audit trail keeps
// the user's events without their emails. It reports false when there is
// no such user, and refuses the caller's own id with a *ValidationError.
func (s *Service) DeleteUser(ctx context.Context, id string) (bool, error) {
	p, err := s.principal(ctx)
	if err != nil {
		return false, err
	}
	uid, err := uuid.Parse(id)
	if err != nil {
		return false, nil
	}
	if uid == p.User.ID {
		return false, &ValidationError{Field: "id", Message: "not your own account: use deleteAccount"}
	}
	deleted := false
	err = s.adminChange(ctx, user.ID(uid), func(tx *ent.Tx, u *ent.User) error {
		if u == nil {
			return nil
		}
		if err := s.keepAnAdmin(ctx, tx, u, p.User.ID); err != nil {
			return err
		}
		deleted = true
		return s.deleteUser(ctx, tx, u, p.User.ID)
	})
	return deleted, err
}

// DeleteAccount deletes the caller's account, as DeleteUser does, once
// password proves it is the caller's: a check counted and throttled like
// every password check. The last enabled administrator cannot.
func (s *Service) DeleteAccount(ctx context.Context, password string) error {
	p, err := s.principal(ctx)
	if err != nil {
		return err
	}
	pc, err := s.checkPassword(ctx, p, password)
	if err != nil {
		return err
	}
	return s.adminChange(ctx, user.ID(p.User.ID), func(tx *ent.Tx, u *ent.User) error {
		if u == nil {
			return &UnauthenticatedError{Reason: ReasonRevoked}
		}
		if err := s.keepAnAdmin(ctx, tx, u, uuid.Nil); err != nil {
			return err
		}
		if err := s.throttle.succeeded(ctx, tx, pc, s.now()); err != nil {
			return err
		}
		return s.deleteUser(ctx, tx, u, u.ID)
	})
}

// deleteUser deletes u, its sessions and their refresh tokens, its mail
// tokens and its mail in tx (no foreign key does it), clears
// the email from its audit events, and records the deletion by actor.
func (s *Service) deleteUser(ctx context.Context, tx *ent.Tx, u *ent.User, actor uuid.UUID) error {
	if _, err := tx.RefreshToken.Delete().Where(refreshtoken.HasSessionWith(session.UserID(u.ID))).Exec(ctx); err != nil {
		return fmt.Errorf("deleting refresh tokens: %w", err)
	}
	if _, err := tx.Session.Delete().Where(session.UserID(u.ID)).Exec(ctx); err != nil {
		return fmt.Errorf("deleting sessions: %w", err)
	}
	if _, err := tx.MailToken.Delete().Where(mailtoken.UserID(u.ID)).Exec(ctx); err != nil {
		return fmt.Errorf("deleting mail tokens: %w", err)
	}
	// Every row, not only the queued ones: the rest hold the user's
	// addresses too.
	if _, err := tx.MailOutbox.Delete().Where(mailoutbox.UserID(u.ID)).Exec(ctx); err != nil {
		return fmt.Errorf("deleting mail: %w", err)
	}
	if err := tx.User.DeleteOne(u).Exec(ctx); err != nil {
		return fmt.Errorf("deleting user: %w", err)
	}
	if err := tx.AuditEvent.Update().Where(auditevent.UserID(u.ID), auditevent.EmailNotNil()).ClearEmail().Exec(ctx); err != nil {
		return fmt.Errorf("clearing emails of audit events: %w", err)
	}
	return s.audit(ctx, tx, auditEntry{Type: auditevent.TypeUSER_DELETED, UserID: u.ID, ActorID: actor})
}

// endMail spends, in tx, every unspent mail token of the user uid and
// drops the user's queued mail, forgetting its addresses. A mail a sender
// has already prepared may still go out, but its outcome is not recorded
// over the drop.
func (s *Service) endMail(ctx context.Context, tx *ent.Tx, uid uuid.UUID, now time.Time) error {
	err := tx.MailToken.Update().
		Where(mailtoken.UserID(uid), mailtoken.SpentAtIsNil()).
		SetSpentAt(now).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("spending mail tokens: %w", err)
	}
	err = tx.MailOutbox.Update().
		Where(mailoutbox.UserID(uid), mailoutbox.StatusEQ(mailoutbox.StatusPending)).
		SetStatus(mailoutbox.StatusDropped).SetDoneAt(now).ClearLockedUntil().SetRecipient("").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("dropping mail: %w", err)
	}
	return nil
}
