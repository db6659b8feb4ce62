package auth

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/auditevent"
	"github.com/latchkey/latchkey/ent/session"
	"github.com/latchkey/latchkey/ent/user"
)

// Users returns the users with ids, in the order of ids, nil where there is
// no such user or the id is no UUID: what a federation router asks for in
// one _entities request. However many ids, it costs one database query,
// after the caller's authentication (once per request). Only an
// authenticated caller may look users up. withSessions also loads each
// user's live sessions (Edges.Sessions, newest first) in one more query,
// when the caller is an administrator, the only one who may read them for
// more than one user.
func (s *Service) Users(ctx context.Context, ids []string, withSessions bool) ([]*ent.User, error) {
	p, err := s.principal(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*ent.User, len(ids))
	parsed := make([]uuid.UUID, len(ids)) // uuid.Nil where the id is no UUID
	seen := make(map[uuid.UUID]bool, len(ids))
	var uids []uuid.UUID
	for i, id := range ids {
		if uid, err := uuid.Parse(id); err == nil {
			parsed[i] = uid
			if !seen[uid] {
				seen[uid] = true
				uids = append(uids, uid)
			}
		}
	}
	if len(uids) == 0 {
		return out, nil
	}
	q := s.db.User.Query().Where(user.IDIn(uids...))
	if withSessions && slices.Contains(p.User.Roles, RoleAdmin) {
		q.WithSessions(s.live)
	}
	found, err := q.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading users: %w", err)
	}
	byID := make(map[uuid.UUID]*ent.User, len(found))
	for _, u := range found {
		byID[u.ID] = u
	}
	for i, uid := range parsed {
		out[i] = byID[uid] // nil for uuid.Nil, which no user has
	}
	return out, nil
}

// AuthorizeUser returns the caller when it is the user with id or has
// role; ErrForbidden when it is authenticated as neither.
func (s *Service) AuthorizeUser(ctx context.Context, id, role string) (*Principal, error) {
	p, err := s.Authenticate(ctx)
	if err != nil {
		return nil, err
	}
	if p.User.ID.String() != id && !slices.Contains(p.User.Roles, role) {
		return nil, ErrForbidden
	}
	return p, nil
}

// UserSessions lists the live sessions of the user with id, newest first;
// the schema lets only the user and administrators ask.
func (s *Service) UserSessions(ctx context.Context, id string) ([]*ent.Session, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return nil, nil
	}
	return s.liveSessions(ctx, uid)
}

// liveSessions lists the sessions of user uid that are neither revoked nor
// expired, newest first.
func (s *Service) liveSessions(ctx context.Context, uid uuid.UUID) ([]*ent.Session, error) {
	q := s.db.Session.Query().Where(session.UserID(uid))
	s.live(q)
	list, err := q.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	return list, nil
}

// live narrows q to the sessions neither revoked nor expired, newest first.
func (s *Service) live(q *ent.SessionQuery) {
	q.Where(session.RevokedAtIsNil(), session.ExpiresAtGT(s.now())).
		Order(ent.Desc(session.FieldCreatedAt), ent.Desc(session.FieldID))
}

// User returns any user by id, or nil when there is none; the schema lets
// only administrators ask.
func (s *Service) User(ctx context.Context, id string) (*ent.User, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return nil, nil
	}
	u, err := s.db.User.Get(ctx, uid)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading user: %w", err)
	}
	return u, nil
}

// SetRole grants or takes away a role of the user with email. Every user
// keeps RoleUser, and the last enabled administrator keeps RoleAdmin
// (ErrLastAdmin).
func (s *Service) SetRole(ctx context.Context, email, role string, grant bool) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	if role == "" || (!grant && role == RoleUser) {
		return &ValidationError{Field: "role", Message: "cannot be taken away"}
	}
	if grant && !rolePattern.MatchString(role) {
		return &ValidationError{Field: "role", Message: "lowercase letters, digits, _ and -, at most 32, starting with a letter"}
	}
	return s.adminChange(ctx, user.Email(email), func(tx *ent.Tx, u *ent.User) error {
		if u == nil {
			return &ValidationError{Field: "email", Message: "no such user"}
		}
		roles := slices.DeleteFunc(slices.Clone(u.Roles), func(r string) bool { return r == role })
		if grant {
			roles = append(roles, role)
		}
		if len(roles) > maxRoles {
			return &ValidationError{Field: "role", Message: fmt.Sprintf("at most %d roles", maxRoles)}
		}
		if !grant && role == RoleAdmin {
			if err := s.keepAnAdmin(ctx, tx, u, uuid.Nil); err != nil {
				return err
			}
		}
		if err := tx.User.UpdateOne(u).SetRoles(roles).SetUpdatedAt(s.now()).Exec(ctx); err != nil {
			return fmt.Errorf("setting roles: %w", err)
		}
		return s.audit(ctx, tx, auditEntry{Type: auditevent.TypeROLES_CHANGED, UserID: u.ID, Roles: roles})
	})
}

// CreateUserInput is an account an operator creates.
type CreateUserInput struct {
	Email       string
	Password    string
	DisplayName *string
	// Admin also gives the user RoleAdmin.
	Admin bool
}

// CreateUser creates a verified account, without a session: the
// operator's way to make the first administrator. An email in use is
// ErrEmailTaken.
func (s *Service) CreateUser(ctx context.Context, in CreateUserInput) (*ent.User, error) {
	email, displayName, err := newAccount(in.Email, in.Password, in.DisplayName)
	if err != nil {
		return nil, err
	}
	roles := []string{RoleUser}
	if in.Admin {
		roles = append(roles, RoleAdmin)
	}
	hash, err := s.hash(ctx, in.Password)
	if err != nil {
		return nil, fmt.Errorf("hashing password: %w", err)
	}
	now := s.now()
	var u *ent.User
	err = s.withTx(ctx, func(tx *ent.Tx) error {
		u, err = tx.User.Create().
			SetEmail(email).
			SetPasswordHash(hash).
			SetNillableDisplayName(displayName).
			SetRoles(roles).
			SetEmailVerified(true).
			SetCreatedAt(now).
			SetUpdatedAt(now).
			Save(ctx)
		if ent.IsConstraintError(err) {
			return ErrEmailTaken
		}
		if err != nil {
			return fmt.Errorf("creating user: %w", err)
		}
		return s.audit(ctx, tx, auditEntry{Type: auditevent.TypeUSER_CREATED, UserID: u.ID, Roles: roles, Email: u.Email})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
