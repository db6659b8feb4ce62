package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/refreshtoken"
	"github.com/latchkey/latchkey/ent/session"
	"github.com/latchkey/latchkey/ent/user"
)

// refreshRow is a refresh token with its session and the session's user,
// as loadRefreshToken reads them in one joined query.
type refreshRow struct {
	TokenID          uuid.UUID      `sql:"t_id"`
	TokenSpentAt     storedTime     `sql:"t_spent_at"`
	SessionID        uuid.UUID      `sql:"s_id"`
	SessionCreatedAt storedTime     `sql:"s_created_at"`
	SessionExpiresAt storedTime     `sql:"s_expires_at"`
	SessionRevokedAt storedTime     `sql:"s_revoked_at"`
	UserID           uuid.UUID      `sql:"u_id"`
	Email            string         `sql:"u_email"`
	PasswordHash     string         `sql:"u_password_hash"`
	DisplayName      sql.NullString `sql:"u_display_name"`
	Roles            []byte         `sql:"u_roles"`
	EmailVerified    bool           `sql:"u_email_verified"`
	Disabled         bool           `sql:"u_disabled"`
	CreatedAt        storedTime     `sql:"u_created_at"`
	UpdatedAt        storedTime     `sql:"u_updated_at"`
	LastLoginAt      storedTime     `sql:"u_last_login_at"`
}

// userColumns are the user's columns refreshRow holds; a test checks that
// they are all of them.
var userColumns = []string{
	user.FieldID, user.FieldEmail, user.FieldPasswordHash, user.FieldDisplayName, user.FieldRoles,
	user.FieldEmailVerified, user.FieldDisabled, user.FieldCreatedAt, user.FieldUpdatedAt, user.FieldLastLoginAt,
}

// loadRefreshToken reads the refresh token with hash, its session and the
// session's user in one joined query, where eager loading takes three. The
// token and session carry what a rotation reads: the token's ID and
// SpentAt, the session's ID, UserID, CreatedAt, ExpiresAt and RevokedAt.
// It fails with an ent not-found error for an unknown hash.
func loadRefreshToken(ctx context.Context, tx *ent.Tx, hash []byte) (*ent.RefreshToken, *ent.Session, *ent.User, error) {
	var rows []refreshRow
	err := tx.RefreshToken.Query().
		Where(refreshtoken.TokenHash(hash)).
		Modify(func(s *entsql.Selector) {
			st := entsql.Table(session.Table)
			ut := entsql.Table(user.Table)
			s.Join(st).On(s.C(refreshtoken.FieldSessionID), st.C(session.FieldID)).
				Join(ut).On(st.C(session.FieldUserID), ut.C(user.FieldID))
			cols := []string{
				entsql.As(s.C(refreshtoken.FieldID), "t_id"),
				entsql.As(s.C(refreshtoken.FieldSpentAt), "t_spent_at"),
				entsql.As(st.C(session.FieldID), "s_id"),
				entsql.As(st.C(session.FieldCreatedAt), "s_created_at"),
				entsql.As(st.C(session.FieldExpiresAt), "s_expires_at"),
				entsql.As(st.C(session.FieldRevokedAt), "s_revoked_at"),
			}
			for _, c := range userColumns {
				cols = append(cols, entsql.As(ut.C(c), "u_"+c))
			}
			s.Select(cols...)
		}).
		Scan(ctx, &rows)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(rows) != 1 {
		return nil, nil, nil, &ent.NotFoundError{}
	}
	r := rows[0]
	u := &ent.User{
		ID:            r.UserID,
		Email:         r.Email,
		PasswordHash:  r.PasswordHash,
		EmailVerified: r.EmailVerified,
		Disabled:      r.Disabled,
		LastLoginAt:   r.LastLoginAt.t,
	}
	if r.DisplayName.Valid {
		u.DisplayName = &r.DisplayName.String
	}
	if err := json.Unmarshal(r.Roles, &u.Roles); err != nil {
		return nil, nil, nil, fmt.Errorf("roles of user %s: %w", u.ID, err)
	}
	sess := &ent.Session{ID: r.SessionID, UserID: r.UserID, RevokedAt: r.SessionRevokedAt.t}
	for _, v := range []struct {
		dst *time.Time
		src storedTime
	}{{&u.CreatedAt, r.CreatedAt}, {&u.UpdatedAt, r.UpdatedAt}, {&sess.CreatedAt, r.SessionCreatedAt}, {&sess.ExpiresAt, r.SessionExpiresAt}} {
		if v.src.t == nil {
			return nil, nil, nil, fmt.Errorf("refresh token of session %s: a required time is NULL", sess.ID)
		}
		*v.dst = *v.src.t
	}
	sess.Edges.User = u
	rt := &ent.RefreshToken{ID: r.TokenID, SpentAt: r.TokenSpentAt.t, Edges: ent.RefreshTokenEdges{Session: sess}}
	return rt, sess, u, nil
}

// storedTime scans a nullable time column of a joined query: a time.Time,
// or the text SQLite stores, or NULL.
type storedTime struct{ t *time.Time }

// storedTimeLayout is how modernc.org/sqlite writes a time.Time.
const storedTimeLayout = "2006-01-02 15:04:05.999999999-07:00"

// Scan implements sql.Scanner.
func (st *storedTime) Scan(v any) error {
	var t time.Time
	switch v := v.(type) {
	case nil:
		st.t = nil
		return nil
	case time.Time:
		t = v
	case string:
		return st.parse(v)
	case []byte:
		return st.parse(string(v))
	default:
		return fmt.Errorf("scanning a time from %T", v)
	}
	t = t.UTC()
	st.t = &t
	return nil
}

func (st *storedTime) parse(s string) error {
	t, err := time.Parse(storedTimeLayout, s)
	if err != nil {
		return fmt.Errorf("scanning a time: %w", err)
	}
	t = t.UTC()
	st.t = &t
	return nil
}
