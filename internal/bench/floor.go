package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/internal/auth"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/database"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/token"
)

// Floors are the floors latchkey-bench measures: each of me, login and
// refresh served over HTTP by a process of its own (FloorServer), and the
// in-process part of login's and refresh's, without HTTP or signing:
// "login-raw" (FloorLogin) and "refresh-raw" (FloorRefresh).
var Floors = []string{"me", "login", "refresh", "login-raw", "refresh-raw"}

// FloorLogin measures the raw argon2id rate at the service's parameters:
// workers goroutines hash for d, at most cfg.PasswordHash.Concurrency at
// once as in the service. It is the in-process part of login's floor: a
// login is one such hash and a little more.
func FloorLogin(ctx context.Context, cfg config.Config, workers int, d time.Duration, progress io.Writer, every time.Duration) (*Result, error) {
	p := cfg.PasswordHash
	hasher, err := password.NewHasher(password.Params{Memory: p.Memory, Iterations: p.Iterations, Parallelism: p.Parallelism}, p.Concurrency, 0, nil)
	if err != nil {
		return nil, err
	}
	password := "bench " + rand.Text()
	res := drive(ctx, workers, d, progress, every, newMemorySampler(0), func(ctx context.Context, _ int) (string, error) {
		_, err := hasher.Hash(ctx, password)
		return "argon2id", err
	})
	res.Scenario, res.Target = "login floor in process", fmt.Sprintf("argon2id m=%d t=%d p=%d, %d at once", p.Memory, p.Iterations, p.Parallelism, p.Concurrency)
	return res, nil
}

// FloorRefresh measures the raw rotation transaction on the service's
// database: spend a refresh token with a conditional update, extend its
// session and read its user, store its successor, commit; workers
// goroutines, each rotating a session of its own, for d, through a pool
// sized as the service's. It is the in-process part of refresh's floor:
// no HTTP, no JSON, no signature.
func FloorRefresh(ctx context.Context, cfg config.Config, workers int, d time.Duration, progress io.Writer, every time.Duration) (*Result, error) {
	db, client, err := database.Open(cfg.Database, nil)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	if err := client.Schema.Create(ctx); err != nil {
		return nil, fmt.Errorf("migrating: %w", err)
	}
	u, err := createUser(ctx, client)
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, workers)
	for i := range hashes {
		if _, hashes[i], err = createSession(ctx, client, u); err != nil {
			return nil, err
		}
	}
	rot, err := newRotation(ctx, db, cfg.Database.Dialect, cfg.RefreshTokenTTL)
	if err != nil {
		return nil, err
	}
	res := drive(ctx, workers, d, progress, every, newMemorySampler(0), func(ctx context.Context, w int) (string, error) {
		next, err := rot.rotate(ctx, hashes[w])
		if err != nil {
			return "rotation", err
		}
		hashes[w] = next.hash
		return "rotation", nil
	})
	res.Scenario, res.Target = "refresh floor in process", "rotation transaction on "+cfg.Database.Dialect
	return res, nil
}

// rotation is a refresh-token rotation in plain SQL, the least a rotation
// can do: spend the token, extend its session and read the session's user
// for the access token's claims, store the successor, commit, as prepared
// statements. PostgreSQL extends and reads in one statement (three and the
// commit); SQLite, where a statement costs no round trip, in two.
type rotation struct {
	db                    *sql.DB
	spend, extend, insert *sql.Stmt
	// user reads the user after extend on SQLite; nil on PostgreSQL.
	user *sql.Stmt
	ttl  time.Duration
}

// rotated is the outcome of a rotation: the successor token, its hash, and
// the claims of the session's access token.
type rotated struct {
	refresh string
	hash    []byte
	subject token.Subject
}

// The rotation's statements, in SQL that PostgreSQL and SQLite (which reads
// $N as parameter N) both take as it is, but where noted.
const (
	rotationSpend  = `UPDATE refresh_tokens SET spent_at = $1 WHERE token_hash = $2 AND spent_at IS NULL RETURNING id, session_id`
	rotationInsert = `INSERT INTO refresh_tokens (id, token_hash, parent_id, created_at, session_id) VALUES ($1, $2, $3, $4, $5)`
	// rotationExtendUser is PostgreSQL's: the session's update and its
	// user's read in one round trip.
	rotationExtendUser = `WITH s AS (UPDATE sessions SET last_used_at = $1, expires_at = $2 WHERE id = $3 AND revoked_at IS NULL RETURNING user_id)
SELECT u.id, u.email, u.email_verified, u.roles FROM users u JOIN s ON u.id = s.user_id WHERE NOT u.disabled`
	rotationExtend = `UPDATE sessions SET last_used_at = $1, expires_at = $2 WHERE id = $3 AND revoked_at IS NULL RETURNING user_id`
	rotationUser   = `SELECT id, email, email_verified, roles FROM users WHERE id = $1 AND NOT disabled`
)

// newRotation prepares the rotation's statements for dialect.
func newRotation(ctx context.Context, db *sql.DB, dialect string, ttl time.Duration) (*rotation, error) {
	r := &rotation{db: db, ttl: ttl}
	statements := map[**sql.Stmt]string{&r.spend: rotationSpend, &r.insert: rotationInsert}
	if dialect == "postgres" {
		statements[&r.extend] = rotationExtendUser
	} else {
		statements[&r.extend], statements[&r.user] = rotationExtend, rotationUser
	}
	for dst, query := range statements {
		var err error
		if *dst, err = db.PrepareContext(ctx, query); err != nil {
			return nil, fmt.Errorf("preparing the rotation: %w", err)
		}
	}
	return r, nil
}

// rotate spends the token with hash and returns its successor. It fails
// when the token is spent or unknown, or its session revoked, or its user
// disabled.
func (r *rotation) rotate(ctx context.Context, hash []byte) (out rotated, err error) {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return out, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	now := time.Now().UTC().Truncate(time.Microsecond)
	var id, sessionID, userID uuid.UUID
	if err := tx.StmtContext(ctx, r.spend).QueryRowContext(ctx, now, hash).Scan(&id, &sessionID); err != nil {
		return out, fmt.Errorf("spending: %w", err)
	}
	var roles []byte
	extend := tx.StmtContext(ctx, r.extend).QueryRowContext(ctx, now, now.Add(r.ttl), sessionID)
	if r.user == nil {
		err = extend.Scan(&userID, &out.subject.Email, &out.subject.EmailVerified, &roles)
	} else if err = extend.Scan(&userID); err == nil {
		err = tx.StmtContext(ctx, r.user).QueryRowContext(ctx, userID).Scan(&userID, &out.subject.Email, &out.subject.EmailVerified, &roles)
	}
	if err != nil {
		return out, fmt.Errorf("extending: %w", err)
	}
	if err := json.Unmarshal(roles, &out.subject.Roles); err != nil {
		return out, fmt.Errorf("reading roles: %w", err)
	}
	out.subject.UserID, out.subject.SessionID = userID.String(), sessionID.String()
	out.refresh, out.hash, err = token.NewRefreshToken()
	if err != nil {
		return out, err
	}
	if _, err := tx.StmtContext(ctx, r.insert).ExecContext(ctx, uuid.New(), out.hash, id, now, sessionID); err != nil {
		return out, fmt.Errorf("storing: %w", err)
	}
	return out, tx.Commit()
}

// MeFloorHandler answers any request as me would, with the least work: it
// reads the body, verifies the Bearer token with issuer and reads the
// token's user from db with one prepared statement, which, as the contract
// requires of me, finds none when the token's session is revoked or
// expired or the user disabled.
func MeFloorHandler(ctx context.Context, issuer *token.Issuer, db *sql.DB) (http.Handler, error) {
	query, err := db.PrepareContext(ctx, `SELECT u.id, u.email FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = $1 AND u.id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3 AND NOT u.disabled`)
	if err != nil {
		return nil, fmt.Errorf("preparing the user query: %w", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 1<<20))
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		claims, err := issuer.Parse(tok)
		if err != nil {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		uid, err := uuid.Parse(claims.Subject)
		if err != nil {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		sid, err := uuid.Parse(claims.SessionID)
		if err != nil {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		var me struct {
			ID    uuid.UUID `json:"id"`
			Email string    `json:"email"`
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		if err := query.QueryRowContext(r.Context(), sid, uid, now).Scan(&me.ID, &me.Email); err != nil {
			http.Error(w, "user not found", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"me": me}})
	}), nil
}

// Issuer returns a token issuer with the service's signing keys for cfg,
// loaded as the service loads them (keys held in the database are created
// when there are none, as the service's start does).
func Issuer(ctx context.Context, cfg config.Config, client *ent.Client) (*token.Issuer, error) {
	if err := keys.Prepare(ctx, cfg, client); err != nil {
		return nil, err
	}
	ring, err := keys.New(ctx, cfg, client, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	return ring.Issuer(), nil
}

// createUser stores a user for a floor to work on.
func createUser(ctx context.Context, client *ent.Client) (*ent.User, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	u, err := client.User.Create().
		SetEmail("floor-" + strings.ToLower(rand.Text()[:10]) + "@example.com").
		SetPasswordHash("$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").
		SetRoles([]string{auth.RoleUser}).
		SetCreatedAt(now).
		SetUpdatedAt(now).
		Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating user: %w", err)
	}
	return u, nil
}

// createSession stores a session of u with one refresh token and returns
// the session's id and the token's hash.
func createSession(ctx context.Context, client *ent.Client, u *ent.User) (uuid.UUID, []byte, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	s, err := client.Session.Create().
		SetUserID(u.ID).
		SetCreatedAt(now).
		SetLastUsedAt(now).
		SetExpiresAt(now.Add(time.Hour)).
		Save(ctx)
	if err != nil {
		return uuid.Nil, nil, fmt.Errorf("creating session: %w", err)
	}
	_, hash, err := token.NewRefreshToken()
	if err != nil {
		return uuid.Nil, nil, err
	}
	if err := client.RefreshToken.Create().SetSessionID(s.ID).SetTokenHash(hash).SetCreatedAt(now).Exec(ctx); err != nil {
		return uuid.Nil, nil, fmt.Errorf("creating refresh token: %w", err)
	}
	return s.ID, hash, nil
}
