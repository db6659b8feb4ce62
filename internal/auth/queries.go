package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"entgo.io/ent/dialect"
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
	user.FieldEmailVerifiedAt, user.FieldPendingEmail,
}

// queries is the SQL of the hot paths in one dialect, built once with Ent's
// builder: the user behind each authenticated request, and a refresh
// token's rotation. Built anew for each call, with the rows scanned by
// reflection, Ent's builder cost more CPU than SQLite running the
// statements; and a rotation holds its transaction, on SQLite the one
// connection, from its first statement to the commit, so every other
// request waited for that work too.
type queries struct {
	dialect string // dialect.Postgres or dialect.SQLite
	// principal reads the user $2 unless disabled, with userColumns, when
	// its session $1 is neither revoked nor expired at $3.
	principal string
	// load reads a refresh token by its hash ($1): the token's id and
	// spent_at; its session's id, created_at, expires_at and revoked_at;
	// and the session's user, with userColumns.
	load string
	// spend sets spent_at = $1 of the token $2 unless it is spent.
	spend string
	// spendLoad, on PostgreSQL, sets spent_at = $1 of the token whose hash
	// is $2 unless it is spent, and reads what load reads of it (spent_at
	// as it was: NULL) in the same round trip; no row when the token is
	// unknown or spent. "" on SQLite, where a statement costs no round
	// trip.
	spendLoad string
	// extend sets last_used_at = $1 and expires_at = $2 of the session $3
	// unless it is revoked.
	extend string
	// insert stores a token: id, session_id, token_hash, parent_id,
	// created_at.
	insert string
	// reserveWindow adds an attempt to the count $1 at $2 (Unix ms),
	// starting it afresh when its window began at or before $3, unless it
	// has reached $4 in its window; it returns the new count, or no row
	// when it refused.
	reserveWindow string
	// reserveBackoff adds a password check to the count of failures $1 at
	// $2 (Unix ms) unless a lockout holds: the count's lockout begins when
	// it reaches $3, for $4 ms, doubling with each further check up to $6
	// ms; a count untouched since $5 and not locked starts afresh. It
	// returns the new count, or no row when it refused.
	reserveBackoff string
	// auditLoginRefused records a LOGIN_FAILED event of the user with the
	// email $7, if any: id $1, type $2, occurred_at $3, ip_address $4,
	// user_agent $5, reason $6.
	auditLoginRefused string
	// login, on PostgreSQL, is the writes of a successful login in one
	// statement (see loginPostgres); "" on SQLite, where a statement costs
	// no round trip.
	login string
	// lockAdmins serializes, until the end of its transaction, the changes
	// that may take the last enabled administrator away; "" on SQLite,
	// whose one connection serializes every transaction.
	lockAdmins string
}

func newQueries(d string) queries {
	const arg = 0 // any non-nil value: the builder writes a placeholder for it
	b := entsql.Dialect(d)
	q := queries{dialect: d}
	// The user of a live session.
	{
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
		q.principal, _ = s.Select(ut.Columns(userColumns...)...).Query()
	}
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
		if d == dialect.Postgres {
			// The same columns, of the token the CTE spent.
			s := b.Select().From(b.Table("spent").As(refreshtoken.Table)).
				Join(st).On(t.C(refreshtoken.FieldSessionID), st.C(session.FieldID)).
				Join(ut).On(st.C(session.FieldUserID), ut.C(user.FieldID))
			cols[1] = "CAST(NULL AS timestamptz)"
			load, _ := s.Select(append(cols, ut.Columns(userColumns...)...)...).Query()
			q.spendLoad = spendLoadPostgres + load
		}
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
	q.reserveWindow = reserveWindow
	least := "min" // SQLite's scalar min of its arguments
	if d == dialect.Postgres {
		least = "LEAST"
	}
	q.reserveBackoff = strings.ReplaceAll(reserveBackoff, "LEAST", least)
	q.auditLoginRefused = auditLoginRefused
	if d == dialect.Postgres {
		q.auditLoginRefused = auditLoginRefusedPostgres
		q.lockAdmins = lockAdmins
		q.login = loginPostgres
	}
	return q
}

// The throttles' statements: atomic upserts that count an attempt and refuse
// it in one step, which Ent's builder cannot write. PostgreSQL and SQLite
// (which reads $N as parameter N) both take them as they are; SQLite spells
// LEAST min. A conflicting row left as it is (the upsert's WHERE false)
// returns no row: the attempt is refused.
const (
	reserveWindow = `INSERT INTO throttles (id, count, window_start, last_at, blocked_until) VALUES ($1, 1, $2, $2, 0)
ON CONFLICT (id) DO UPDATE SET
  count = CASE WHEN throttles.window_start <= $3 THEN 1 ELSE throttles.count + 1 END,
  window_start = CASE WHEN throttles.window_start <= $3 THEN excluded.window_start ELSE throttles.window_start END,
  last_at = excluded.last_at
WHERE throttles.window_start <= $3 OR throttles.count < $4
RETURNING count`

	reserveBackoff = `INSERT INTO throttles (id, count, window_start, last_at, blocked_until)
VALUES ($1, 1, $2, $2, CASE WHEN CAST($3 AS BIGINT) <= 1 THEN CAST($2 AS BIGINT) + CAST($4 AS BIGINT) ELSE 0 END)
ON CONFLICT (id) DO UPDATE SET
  count = CASE WHEN throttles.last_at <= $5 AND throttles.blocked_until <= $2 THEN 1 ELSE throttles.count + 1 END,
  window_start = CASE WHEN throttles.last_at <= $5 AND throttles.blocked_until <= $2 THEN excluded.window_start ELSE throttles.window_start END,
  blocked_until = CASE
    WHEN throttles.last_at <= $5 AND throttles.blocked_until <= $2 THEN excluded.blocked_until
    WHEN throttles.count + 1 >= $3 THEN excluded.last_at +
      LEAST(CAST($4 AS BIGINT) * (CAST(1 AS BIGINT) << CAST(LEAST(throttles.count + 1 - CAST($3 AS BIGINT), 30) AS INTEGER)), CAST($6 AS BIGINT))
    ELSE 0 END,
  last_at = excluded.last_at
WHERE throttles.blocked_until <= $2
RETURNING count`
)

// The audit event of a refused login: one statement that finds the
// account and records the event, or, for an unknown email, does nothing.
// PostgreSQL needs the parameters' types, which SQLite has no names for.
const (
	auditLoginRefused = `INSERT INTO audit_events (id, type, occurred_at, user_id, ip_address, user_agent, reason)
SELECT $1, $2, $3, id, $4, $5, $6 FROM users WHERE email = $7`
	auditLoginRefusedPostgres = `INSERT INTO audit_events (id, type, occurred_at, user_id, ip_address, user_agent, reason)
SELECT CAST($1 AS uuid), CAST($2 AS text), CAST($3 AS timestamptz), id, CAST($4 AS text), CAST($5 AS text), CAST($6 AS text) FROM users WHERE email = $7`
)

// loginPostgres is what a successful login writes, in one statement: a
// login's transaction sent seven statements, each a round trip, and the
// statement is as atomic as the transaction was (a rehash runs it in the
// transaction of its update). It clears the count of
// failures $1 the check was charged to; gives back the attempt it added to
// the counts $2 and $3 (an address's, a session's; "" for none: no count
// has that id); remembers the address by the count $4 ("" for none) at $5
// (Unix ms); starts the session $6 of the user $11 at $7, until $8, from
// user_agent $9 and ip_address $10; stores its refresh token $12, hashed
// $13; records the LOGIN_SUCCEEDED event $14; and sets the user's
// last_login_at. The counts are distinct rows: a statement may not change
// one row twice. The parameters are cast where they are used, so that
// PostgreSQL deduces one type for each.
const loginPostgres = `WITH
  cleared AS (DELETE FROM throttles WHERE id = CAST($1 AS text)),
  released AS (UPDATE throttles SET count = count - 1 WHERE id IN (CAST($2 AS text), CAST($3 AS text)) AND count > 0),
  remembered AS (
    INSERT INTO throttles (id, count, window_start, last_at, blocked_until)
    SELECT CAST($4 AS text), 0, CAST($5 AS bigint), CAST($5 AS bigint), 0 WHERE CAST($4 AS text) <> ''
    ON CONFLICT (id) DO UPDATE SET last_at = excluded.last_at),
  started AS (
    INSERT INTO sessions (id, created_at, last_used_at, expires_at, user_agent, ip_address, user_id)
    VALUES (CAST($6 AS uuid), CAST($7 AS timestamptz), CAST($7 AS timestamptz), CAST($8 AS timestamptz), CAST($9 AS text), CAST($10 AS text), CAST($11 AS uuid))),
  issued AS (
    INSERT INTO refresh_tokens (id, token_hash, created_at, session_id)
    VALUES (CAST($12 AS uuid), CAST($13 AS bytea), CAST($7 AS timestamptz), CAST($6 AS uuid))),
  audit AS (
    INSERT INTO audit_events (id, type, occurred_at, user_id, actor_id, session_id, ip_address, user_agent)
    VALUES (CAST($14 AS uuid), 'LOGIN_SUCCEEDED', CAST($7 AS timestamptz), CAST($11 AS uuid), CAST($11 AS uuid), CAST($6 AS uuid), CAST($10 AS text), CAST($9 AS text)))
UPDATE users SET last_login_at = CAST($7 AS timestamptz) WHERE id = CAST($11 AS uuid)`

// spendLoadPostgres spends an unspent token by its hash; the statement goes
// on with the SELECT of load's columns from spent.
const spendLoadPostgres = `WITH spent AS (
  UPDATE refresh_tokens SET spent_at = $1 WHERE token_hash = $2 AND spent_at IS NULL RETURNING id, session_id)
`

// lockAdmins takes a transaction-scoped advisory lock whose key is an
// arbitrary constant of ours, "LKADMINS" in ASCII.
const lockAdmins = `SELECT pg_advisory_xact_lock(5497559531746053715)`

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
	verifiedAt       database.NullTime
	pendingEmail     sql.NullString
}

func (r *userRow) dest() []any {
	return []any{
		&r.u.ID, &r.u.Email, &r.u.PasswordHash, &r.displayName, &r.roles,
		&r.u.EmailVerified, &r.u.Disabled, &r.created, &r.updated, &r.lastLogin,
		&r.verifiedAt, &r.pendingEmail,
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
	u.EmailVerifiedAt = r.verifiedAt.T
	if r.pendingEmail.Valid {
		u.PendingEmail = &r.pendingEmail.String
	}
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

// takeRefreshToken is loadRefreshToken, but on PostgreSQL it first tries to
// spend the token at now in the same round trip: spent reports that it did
// (the token read is then as it was, unspent). When the token is unknown
// or already spent, or on SQLite, it reads the token as loadRefreshToken
// does and spends nothing.
func (q queries) takeRefreshToken(ctx context.Context, tx *ent.Tx, hash []byte, now time.Time) (rt *ent.RefreshToken, sess *ent.Session, u *ent.User, spent bool, err error) {
	if q.spendLoad != "" {
		rt, sess, u, err = q.scanRefreshToken(ctx, tx, q.spendLoad, now, hash)
		if !ent.IsNotFound(err) {
			return rt, sess, u, err == nil, err
		}
	}
	rt, sess, u, err = q.loadRefreshToken(ctx, tx, hash)
	return rt, sess, u, false, err
}

// loadRefreshToken runs q.load in tx for hash. The token and session carry
// what a rotation reads: the token's ID and SpentAt, the session's ID,
// UserID, CreatedAt, ExpiresAt and RevokedAt. It fails with an ent
// not-found error for an unknown hash.
func (q queries) loadRefreshToken(ctx context.Context, tx *ent.Tx, hash []byte) (*ent.RefreshToken, *ent.Session, *ent.User, error) {
	return q.scanRefreshToken(ctx, tx, q.load, hash)
}

// scanRefreshToken runs query, load or spendLoad, with args in tx and scans
// its row.
func (q queries) scanRefreshToken(ctx context.Context, tx *ent.Tx, query string, args ...any) (*ent.RefreshToken, *ent.Session, *ent.User, error) {
	var (
		rt               ent.RefreshToken
		sess             ent.Session
		spent, revoked   database.NullTime
		created, expires database.NullTime
		ur               userRow
	)
	dest := append([]any{&rt.ID, &spent, &sess.ID, &created, &expires, &revoked}, ur.dest()...)
	if err := queryRow(ctx, tx, query, args, dest...); err != nil {
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
