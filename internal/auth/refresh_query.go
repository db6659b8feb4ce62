package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/ent/refreshtoken"
	"github.com/latchkey/latchkey/ent/session"
	"github.com/latchkey/latchkey/ent/user"
)

// userColumns are the user's columns the refresh query reads, in the order
// loadRefreshToken scans them; a test checks that they are all of them.
var userColumns = []string{
	user.FieldID, user.FieldEmail, user.FieldPasswordHash, user.FieldDisplayName, user.FieldRoles,
	user.FieldEmailVerified, user.FieldDisabled, user.FieldCreatedAt, user.FieldUpdatedAt, user.FieldLastLoginAt,
}

// refreshQuery is the statement of loadRefreshToken in the SQL dialect d:
// the refresh token with a hash, its session and the session's user in one
// joined query, where eager loading takes three. It is built once, with
// Ent's builder: building it anew for each refresh cost more CPU than
// SQLite running it.
func refreshQuery(d string) string {
	b := entsql.Dialect(d)
	t, st, ut := b.Table(refreshtoken.Table), b.Table(session.Table), b.Table(user.Table)
	s := b.Select().From(t).
		Join(st).On(t.C(refreshtoken.FieldSessionID), st.C(session.FieldID)).
		Join(ut).On(st.C(session.FieldUserID), ut.C(user.FieldID)).
		Where(entsql.EQ(t.C(refreshtoken.FieldTokenHash), []byte(nil)))
	// The joins name the tables: their columns are read after them.
	cols := []string{
		t.C(refreshtoken.FieldID), t.C(refreshtoken.FieldSpentAt),
		st.C(session.FieldID), st.C(session.FieldCreatedAt), st.C(session.FieldExpiresAt), st.C(session.FieldRevokedAt),
	}
	for _, c := range userColumns {
		cols = append(cols, ut.C(c))
	}
	q, _ := s.Select(cols...).Query()
	return q
}

// loadRefreshToken runs query, refreshQuery's statement, for hash. The
// token and session carry what a rotation reads: the token's ID and
// SpentAt, the session's ID, UserID, CreatedAt, ExpiresAt and RevokedAt.
// It fails with an ent not-found error for an unknown hash.
func loadRefreshToken(ctx context.Context, tx *ent.Tx, query string, hash []byte) (*ent.RefreshToken, *ent.Session, *ent.User, error) {
	rows, err := tx.QueryContext(ctx, query, hash)
	if err != nil {
		return nil, nil, nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, nil, nil, err
		}
		return nil, nil, nil, &ent.NotFoundError{}
	}
	var (
		rt                    ent.RefreshToken
		sess                  ent.Session
		u                     ent.User
		displayName           sql.NullString
		roles                 []byte
		spent, revoked, login storedTime
		required              [4]storedTime
	)
	if err := rows.Scan(
		&rt.ID, &spent,
		&sess.ID, &required[0], &required[1], &revoked,
		&u.ID, &u.Email, &u.PasswordHash, &displayName, &roles,
		&u.EmailVerified, &u.Disabled, &required[2], &required[3], &login,
	); err != nil {
		return nil, nil, nil, err
	}
	if err := rows.Close(); err != nil {
		return nil, nil, nil, err
	}
	if displayName.Valid {
		u.DisplayName = &displayName.String
	}
	if err := json.Unmarshal(roles, &u.Roles); err != nil {
		return nil, nil, nil, fmt.Errorf("roles of user %s: %w", u.ID, err)
	}
	for i, dst := range []*time.Time{&sess.CreatedAt, &sess.ExpiresAt, &u.CreatedAt, &u.UpdatedAt} {
		if required[i].t == nil {
			return nil, nil, nil, fmt.Errorf("refresh token of session %s: a required time is NULL", sess.ID)
		}
		*dst = *required[i].t
	}
	rt.SpentAt, sess.RevokedAt, u.LastLoginAt = spent.t, revoked.t, login.t
	sess.UserID = u.ID
	sess.Edges.User = &u
	rt.Edges.Session = &sess
	return &rt, &sess, &u, nil
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
