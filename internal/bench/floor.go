package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
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

// Floors are the operations whose floors Floor measures.
var Floors = []string{"me", "login", "refresh"}

// FloorLogin measures the raw argon2id rate at the service's parameters:
// workers goroutines hash for d, at most cfg.PasswordHash.Concurrency at
// once as in the service. It is login's floor: a login is one such hash and
// a little more.
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
	res.Scenario, res.Target = "login floor", fmt.Sprintf("argon2id m=%d t=%d p=%d, %d at once", p.Memory, p.Iterations, p.Parallelism, p.Concurrency)
	return res, nil
}

// FloorRefresh measures the raw rotation transaction on the service's
// database: spend a refresh token with a conditional update, extend its
// session, store its successor, commit; workers goroutines, each rotating a
// session of its own, for d, through a pool sized as the service's.
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
	rot, err := newRotation(ctx, db, cfg.RefreshTokenTTL)
	if err != nil {
		return nil, err
	}
	res := drive(ctx, workers, d, progress, every, newMemorySampler(0), func(ctx context.Context, w int) (string, error) {
		next, err := rot.rotate(ctx, hashes[w])
		if err != nil {
			return "rotation", err
		}
		hashes[w] = next
		return "rotation", nil
	})
	res.Scenario, res.Target = "refresh floor", "rotation transaction on "+cfg.Database.Dialect
	return res, nil
}

// rotation is a refresh-token rotation in plain SQL, the least a rotation
// can do: three prepared statements and a commit.
type rotation struct {
	db                    *sql.DB
	spend, extend, insert *sql.Stmt
	ttl                   time.Duration
}

// newRotation prepares the rotation's statements, in SQL that PostgreSQL
// and SQLite (which reads $N as parameter N) both take as it is.
func newRotation(ctx context.Context, db *sql.DB, ttl time.Duration) (*rotation, error) {
	r := &rotation{db: db, ttl: ttl}
	for _, st := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&r.spend, `UPDATE refresh_tokens SET spent_at = $1 WHERE token_hash = $2 AND spent_at IS NULL RETURNING id, session_id`},
		{&r.extend, `UPDATE sessions SET last_used_at = $1, expires_at = $2 WHERE id = $3 AND revoked_at IS NULL`},
		{&r.insert, `INSERT INTO refresh_tokens (id, token_hash, parent_id, created_at, session_id) VALUES ($1, $2, $3, $4, $5)`},
	} {
		var err error
		if *st.dst, err = db.PrepareContext(ctx, st.query); err != nil {
			return nil, fmt.Errorf("preparing the rotation: %w", err)
		}
	}
	return r, nil
}

// rotate spends the token with hash and returns its successor's hash.
func (r *rotation) rotate(ctx context.Context, hash []byte) (next []byte, err error) {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	now := time.Now().UTC().Truncate(time.Microsecond)
	var id, sessionID uuid.UUID
	if err := tx.StmtContext(ctx, r.spend).QueryRowContext(ctx, now, hash).Scan(&id, &sessionID); err != nil {
		return nil, fmt.Errorf("spending: %w", err)
	}
	if _, err := tx.StmtContext(ctx, r.extend).ExecContext(ctx, now, now.Add(r.ttl), sessionID); err != nil {
		return nil, fmt.Errorf("extending: %w", err)
	}
	_, next, err = token.NewRefreshToken()
	if err != nil {
		return nil, err
	}
	if _, err := tx.StmtContext(ctx, r.insert).ExecContext(ctx, uuid.New(), next, id, now, sessionID); err != nil {
		return nil, fmt.Errorf("storing: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return next, nil
}

// FloorServer serves me's floor on ln until ctx ends: a bare net/http
// handler that verifies the access token as the service does, with the
// service's keys, and reads the user's row. Before serving it writes one
// line to out, "floor ADDR TOKEN", with an access token of a user it
// creates, for the me scenario to send.
func FloorServer(ctx context.Context, cfg config.Config, ln net.Listener, out io.Writer) error {
	db, client, err := database.Open(cfg.Database, nil)
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.Schema.Create(ctx); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	issuer, err := Issuer(ctx, cfg, client)
	if err != nil {
		return err
	}
	u, err := createUser(ctx, client)
	if err != nil {
		return err
	}
	sid, _, err := createSession(ctx, client, u)
	if err != nil {
		return err
	}
	tok, _, err := issuer.Issue(token.Subject{UserID: u.ID.String(), SessionID: sid.String(), Email: u.Email, Roles: u.Roles})
	if err != nil {
		return err
	}
	h, err := MeFloorHandler(ctx, issuer, db)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if _, err := fmt.Fprintf(out, "floor %s %s\n", ln.Addr(), tok); err != nil {
		return err
	}
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// MeFloorHandler answers any request as me would, with the least work: it
// reads the body, verifies the Bearer token with issuer and reads the
// token's user from db with one prepared statement.
func MeFloorHandler(ctx context.Context, issuer *token.Issuer, db *sql.DB) (http.Handler, error) {
	query, err := db.PrepareContext(ctx, `SELECT id, email FROM users WHERE id = $1`)
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
		var me struct {
			ID    uuid.UUID `json:"id"`
			Email string    `json:"email"`
		}
		if err := query.QueryRowContext(r.Context(), uid).Scan(&me.ID, &me.Email); err != nil {
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
