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
	"github.com/latchkey/latchkey/internal/database"
)

// userColumns are the user's columns the queries read, in the order
// userRow scans them; a test checks that they are all of them.
var userColumns = []string{
	user.FieldID, user.FieldEmail, user.FieldPasswordHash, user.FieldDisplayName, user.FieldRoles,
	user.FieldEmailVerified, user.FieldDisabled, user.FieldCreatedAt, user.FieldUpdatedAt, user.FieldLastLoginAt,
}

// queries is the SQL of the hot paths in one dialect, built once with Ent's
// builder: the user behind each authenticated request, and a refresh
// token's rotation. Built anew for each call, with the rows scanned by
// reflection, Ent's builder cost more CPU than SQLite running the
// statements; and a rotation holds its transaction, on SQLite the one
// connection, from its first statement to the commit, so every other
// request waited for that work too.
type queries struct {
	// principal reads the user $2 unless disabled, with userColumns, when
	// its session $1 is neither revoked nor expired at $3; live reads 1
	// under the same conditions.
	principal, live string
	// load reads a refresh token by its hash ($1): the token's id and
	// spent_at; its session's id, created_at, expires_at and revoked_at;
	// and the session's user, with userColumns.
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

func newQueries(d string) queries {
	const arg = 0 // any non-nil value: the builder writes a placeholder for it
	b := entsql.Dialect(d)
	var q queries
	// The user of a live session; the join names the users table, whose
	// columns are chosen after it.
	liveSession := func() (*entsql.Selector, *entsql.SelectTable) {
		st, ut := b.Table(session.Table), b.Table(user.Table)
		s := b.Select().From(st).
			Join(ut).On(st.C(session.FieldUserID), ut.C(user.FieldID)).
			Where(entsql.And(
				entsql.EQ(st.C(session.FieldID), arg),
				entsql.EQ(ut.C(user.FieldID), arg),
				entsql.IsNull(st.C(session.FieldRevokedAt)),
				entsql.GT(st.C(session.FieldExpiresAt), arg),
				entsql.EQ(ut.C(user.FieldDisabled), false),
			))
		return s, ut
	}
	s, ut := liveSession()
	q.principal, _ = s.Select(ut.Columns(userColumns...)...).Query()
	s, _ = liveSession()
	q.live, _ = s.SelectExpr(entsql.Expr("1")).Query()
	{
		t, st, ut := b.Table(refreshtoken.Table), b.Table(session.Table), b.Table(user.Table)
		s := b.Select().From(t).
			Join(st).On(t.C(refreshtoken.FieldSessionID), st.C(session.FieldID)).
			Join(ut).On(st.C(session.FieldUserID), ut.C(user.FieldID)).
			Where(entsql.EQ(t.C(refreshtoken.FieldTokenHash), arg))
		cols := []string{
			t.C(refreshtoken.FieldID), t.C(refreshtoken.FieldSpentAt),
			st.C(session.FieldID), st.C(session.FieldCreatedAt), st.C(session.FieldExpiresAt), st.C(session.FieldRevokedAt),
		}
		q.load, _ = s.Select(append(cols, ut.Columns(userColumns...)...)...).Query()
	}
	q.spend, _ = b.Update(refreshtoken.Table).
		Set(refreshtoken.FieldSpentAt, arg).
		Where(entsql.And(entsql.EQ(refreshtoken.FieldID, arg), entsql.IsNull(refreshtoken.FieldSpentAt))).
		Query()
	q.extend, _ = b.Update(session.Table).
		Set(session.FieldLastUsedAt, arg).Set(session.FieldExpiresAt, arg).
		Where(entsql.And(entsql.EQ(session.FieldID, arg), entsql.IsNull(session.FieldRevokedAt))).
		Query()
	q.insert, _ = b.Insert(refreshtoken.Table).
		Columns(refreshtoken.FieldID, refreshtoken.FieldSessionID, refreshtoken.FieldTokenHash, refreshtoken.FieldParentID, refreshtoken.FieldCreatedAt).
		Values(arg, arg, arg, arg, arg).
		Query()
	return q
}

// exec runs a statement in tx and returns the number of rows it changed.
func exec(ctx context.Context, tx *ent.Tx, query string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// queryRow runs query with args through q and scans its one row into dest.
// It fails with an ent not-found error when there is no row.
func queryRow(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args []any, dest ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return &ent.NotFoundError{}
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

// userRow scans the columns of userColumns into an ent.User.
type userRow struct {
	u                ent.User
	displayName      sql.NullString
	roles            []byte
	created, updated database.NullTime
	lastLogin        database.NullTime
}

func (r *userRow) dest() []any {
	return []any{
		&r.u.ID, &r.u.Email, &r.u.PasswordHash, &r.displayName, &r.roles,
		&r.u.EmailVerified, &r.u.Disabled, &r.created, &r.updated, &r.lastLogin,
	}
}

// user returns the user scanned.
func (r *userRow) user() (*ent.User, error) {
	u := &r.u
	if r.displayName.Valid {
		u.DisplayName = &r.displayName.String
	}
	if err := json.Unmarshal(r.roles, &u.Roles); err != nil {
		return nil, fmt.Errorf("roles of user %s: %w", u.ID, err)
	}
	if r.created.T == nil || r.updated.T == nil {
		return nil, fmt.Errorf("user %s: a required time is NULL", u.ID)
	}
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = *r.created.T, *r.updated.T, r.lastLogin.T
	return u, nil
}

// loadPrincipal runs q.principal: the user uid when its session sid is
// live at now. It fails with an ent not-found error otherwise.
func (q queries) loadPrincipal(ctx context.Context, db *ent.Client, sid, uid uuid.UUID, now time.Time) (*ent.User, error) {
	var r userRow
	err := queryRow(ctx, db, q.principal, []any{sid, uid, now}, r.dest()...)
	database.Yield()
	if err != nil {
		return nil, err
	}
	return r.user()
}

// isLive runs q.live: whether the session sid of user uid is live at now.
func (q queries) isLive(ctx context.Context, db *ent.Client, sid, uid uuid.UUID, now time.Time) (bool, error) {
	var one int
	err := queryRow(ctx, db, q.live, []any{sid, uid, now}, &one)
	database.Yield()
	if ent.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// loadRefreshToken runs q.load in tx for hash. The token and session carry
// what a rotation reads: the token's ID and SpentAt, the session's ID,
// UserID, CreatedAt, ExpiresAt and RevokedAt. It fails with an ent
// not-found error for an unknown hash.
func (q queries) loadRefreshToken(ctx context.Context, tx *ent.Tx, hash []byte) (*ent.RefreshToken, *ent.Session, *ent.User, error) {
	var (
		rt               ent.RefreshToken
		sess             ent.Session
		spent, revoked   database.NullTime
		created, expires database.NullTime
		ur               userRow
	)
	dest := append([]any{&rt.ID, &spent, &sess.ID, &created, &expires, &revoked}, ur.dest()...)
	if err := queryRow(ctx, tx, q.load, []any{hash}, dest...); err != nil {
		return nil, nil, nil, err
	}
	u, err := ur.user()
	if err != nil {
		return nil, nil, nil, err
	}
	if created.T == nil || expires.T == nil {
		return nil, nil, nil, fmt.Errorf("session %s: a required time is NULL", sess.ID)
	}
	sess.CreatedAt, sess.ExpiresAt = *created.T, *expires.T
	rt.SpentAt, sess.RevokedAt = spent.T, revoked.T
	sess.UserID = u.ID
	return &rt, &sess, u, nil
}
