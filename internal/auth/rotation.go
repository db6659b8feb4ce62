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

// userColumns are the user's columns rotationSQL.load reads, in the order
// loadRefreshToken scans them; a test checks that they are all of them.
var userColumns = []string{
	user.FieldID, user.FieldEmail, user.FieldPasswordHash, user.FieldDisplayName, user.FieldRoles,
	user.FieldEmailVerified, user.FieldDisabled, user.FieldCreatedAt, user.FieldUpdatedAt, user.FieldLastLoginAt,
}

// rotationSQL is the SQL of a refresh token's rotation in one dialect,
// built once with Ent's builder. A rotation holds its transaction, and on
// SQLite the one connection, from the first statement to the commit:
// building each statement anew with Ent's builder inside it, and scanning
// the joined read by reflection, cost more CPU than SQLite running them,
// and every other request waited for it.
type rotationSQL struct {
	// load reads a refresh token by its hash ($1) with its session and the
	// session's user, in one joined query where eager loading takes three.
	load string
	// spend sets spent_at = $1 of the token $2 unless it is spent.
	spend string
	// extend sets last_used_at = $1 and expires_at = $2 of the session $3
	// unless it is revoked.
	extend string
	// insert stores a token: id, session_id, token_hash, parent_id,
	// created_at.
	insert string
}

func newRotationSQL(d string) rotationSQL {
	const arg = 0 // any non-nil value: the builder writes a placeholder for it
	b := entsql.Dialect(d)
	t, st, ut := b.Table(refreshtoken.Table), b.Table(session.Table), b.Table(user.Table)
	load := b.Select().From(t).
		Join(st).On(t.C(refreshtoken.FieldSessionID), st.C(session.FieldID)).
		Join(ut).On(st.C(session.FieldUserID), ut.C(user.FieldID)).
		Where(entsql.EQ(t.C(refreshtoken.FieldTokenHash), arg))
	// The joins name the tables: their columns are read after them.
	cols := []string{
		t.C(refreshtoken.FieldID), t.C(refreshtoken.FieldSpentAt),
		st.C(session.FieldID), st.C(session.FieldCreatedAt), st.C(session.FieldExpiresAt), st.C(session.FieldRevokedAt),
	}
	for _, c := range userColumns {
		cols = append(cols, ut.C(c))
	}
	var r rotationSQL
	r.load, _ = load.Select(cols...).Query()
	r.spend, _ = b.Update(refreshtoken.Table).
		Set(refreshtoken.FieldSpentAt, arg).
		Where(entsql.And(entsql.EQ(refreshtoken.FieldID, arg), entsql.IsNull(refreshtoken.FieldSpentAt))).
		Query()
	r.extend, _ = b.Update(session.Table).
		Set(session.FieldLastUsedAt, arg).Set(session.FieldExpiresAt, arg).
		Where(entsql.And(entsql.EQ(session.FieldID, arg), entsql.IsNull(session.FieldRevokedAt))).
		Query()
	r.insert, _ = b.Insert(refreshtoken.Table).
		Columns(refreshtoken.FieldID, refreshtoken.FieldSessionID, refreshtoken.FieldTokenHash, refreshtoken.FieldParentID, refreshtoken.FieldCreatedAt).
		Values(arg, arg, arg, arg, arg).
		Query()
	return r
}

// exec runs a statement of rotationSQL in tx and returns the number of
// rows it changed.
func exec(ctx context.Context, tx *ent.Tx, query string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// loadRefreshToken runs query, rotationSQL.load, for hash. The
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
