package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/database"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/token"
)

// FloorServer serves the floors of me, login and refresh on ln until ctx
// ends: bare net/http handlers that do each scenario's job with the least
// work, with the service's keys, password hashing and database (see
// FloorHandler). Before serving it creates a user with a password hashed
// at the service's parameters and a session of theirs, and writes one line
// to out, "floor ADDR TOKEN EMAIL PASSWORD": the session's access token for
// the me scenario, and the user's credentials for login and refresh.
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
	p := cfg.PasswordHash
	hasher, err := password.NewHasher(password.Params{Memory: p.Memory, Iterations: p.Iterations, Parallelism: p.Parallelism}, p.Concurrency, p.MaxWait, nil)
	if err != nil {
		return err
	}
	secret := "floor-" + rand.Text()
	hash, err := hasher.Hash(ctx, secret)
	if err != nil {
		return err
	}
	u, err := createUser(ctx, client)
	if err != nil {
		return err
	}
	if err := client.User.UpdateOneID(u.ID).SetPasswordHash(hash).Exec(ctx); err != nil {
		return fmt.Errorf("setting the password: %w", err)
	}
	sid, _, err := createSession(ctx, client, u)
	if err != nil {
		return err
	}
	tok, _, err := issuer.Issue(token.Subject{UserID: u.ID.String(), SessionID: sid.String(), Email: u.Email, Roles: u.Roles})
	if err != nil {
		return err
	}
	h, err := FloorHandler(ctx, cfg, issuer, hasher, db)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if _, err := fmt.Fprintf(out, "floor %s %s %s %s\n", ln.Addr(), tok, u.Email, secret); err != nil {
		return err
	}
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// FloorHandler answers the requests of the me, login and refresh scenarios,
// the same GraphQL requests they send the service, with what the service
// must do at the least and an answer of the shape the scenarios read:
//
//   - a request with a Bearer token is me's (MeFloorHandler);
//   - one whose variables hold a token is refresh's: the rotation
//     transaction (see rotation), then the new access token signed with
//     issuer after the commit, as the service signs it;
//   - one whose variables hold an email is login's: the user's stored hash
//     read with one prepared statement and verified with hasher, which
//     runs as many hashes at once as the service's, then the session and
//     its refresh token inserted in a transaction, and the access token
//     signed.
//
// It parses no GraphQL: only the request's JSON, for its variables.
func FloorHandler(ctx context.Context, cfg config.Config, issuer *token.Issuer, hasher *password.Hasher, db *sql.DB) (http.Handler, error) {
	me, err := MeFloorHandler(ctx, issuer, db)
	if err != nil {
		return nil, err
	}
	rot, err := newRotation(ctx, db, cfg.Database.Dialect, cfg.RefreshTokenTTL)
	if err != nil {
		return nil, err
	}
	l := &floorLogin{db: db, hasher: hasher, rot: rot}
	for dst, query := range map[**sql.Stmt]string{
		&l.user:    `SELECT id, password_hash, email_verified, roles, disabled FROM users WHERE email = $1`,
		&l.session: `INSERT INTO sessions (id, created_at, last_used_at, expires_at, user_id) VALUES ($1, $2, $3, $4, $5)`,
	} {
		if *dst, err = db.PrepareContext(ctx, query); err != nil {
			return nil, fmt.Errorf("preparing the login: %w", err)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			me.ServeHTTP(w, r)
			return
		}
		var req struct {
			Variables struct {
				Token    *string `json:"token"`
				Email    *string `json:"email"`
				Password string  `json:"password"`
			} `json:"variables"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		v := req.Variables
		switch {
		case v.Token != nil:
			answer(w, issuer, "refreshToken", func() (string, token.Subject, error) {
				if *v.Token == "" || len(*v.Token) > 256 {
					return "", token.Subject{}, errFloorRefused
				}
				next, err := rot.rotate(r.Context(), token.HashRefreshToken(*v.Token))
				if errors.Is(err, sql.ErrNoRows) {
					err = errFloorRefused
				}
				return next.refresh, next.subject, err
			})
		case v.Email != nil:
			answer(w, issuer, "login", func() (string, token.Subject, error) {
				return l.login(r.Context(), *v.Email, v.Password)
			})
		default:
			http.Error(w, "bad request", http.StatusBadRequest)
		}
	}), nil
}

// errFloorRefused is a refused login or refresh.
var errFloorRefused = errors.New("refused")

// floorLogin is login's floor: the least a login can do.
type floorLogin struct {
	db            *sql.DB
	hasher        *password.Hasher
	rot           *rotation
	user, session *sql.Stmt
}

// login verifies password against the stored hash of the user with email
// and starts a session of theirs, returning its refresh token and the
// claims of its access token.
func (l *floorLogin) login(ctx context.Context, email, secret string) (refresh string, sub token.Subject, err error) {
	var (
		id       uuid.UUID
		hash     string
		roles    []byte
		disabled bool
	)
	sub.Email = email
	if err := l.user.QueryRowContext(ctx, email).Scan(&id, &hash, &sub.EmailVerified, &roles, &disabled); errors.Is(err, sql.ErrNoRows) {
		return "", sub, errFloorRefused
	} else if err != nil {
		return "", sub, err
	}
	ok, _, err := l.hasher.Verify(ctx, hash, secret)
	if err != nil {
		return "", sub, err
	}
	if !ok || disabled {
		return "", sub, errFloorRefused
	}
	if err := json.Unmarshal(roles, &sub.Roles); err != nil {
		return "", sub, fmt.Errorf("reading roles: %w", err)
	}
	refresh, hashed, err := token.NewRefreshToken()
	if err != nil {
		return "", sub, err
	}
	sid := uuid.New()
	now := time.Now().UTC().Truncate(time.Microsecond)
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return "", sub, err
	}
	if _, err := tx.StmtContext(ctx, l.session).ExecContext(ctx, sid, now, now, now.Add(l.rot.ttl), id); err != nil {
		return "", sub, errors.Join(fmt.Errorf("starting the session: %w", err), tx.Rollback())
	}
	if _, err := tx.StmtContext(ctx, l.rot.insert).ExecContext(ctx, uuid.New(), hashed, nil, now, sid); err != nil {
		return "", sub, errors.Join(fmt.Errorf("storing the refresh token: %w", err), tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		return "", sub, err
	}
	sub.UserID, sub.SessionID = id.String(), sid.String()
	return refresh, sub, nil
}

// answer writes the outcome of grant, a login or a refresh, as the service
// answers field: the token pair under data, or an error whose
// extensions.code the load tool counts. The access token is signed after
// grant has committed.
func answer(w http.ResponseWriter, issuer *token.Issuer, field string, grant func() (string, token.Subject, error)) {
	w.Header().Set("Content-Type", "application/json")
	refresh, sub, err := grant()
	var access string
	if err == nil {
		access, _, err = issuer.Issue(sub)
	}
	if err != nil {
		code := "INTERNAL_SERVER_ERROR"
		if errors.Is(err, errFloorRefused) {
			code = "REFUSED"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"message": err.Error(), "extensions": map[string]string{"code": code}}}, "data": nil})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]pair{field: {AccessToken: access, RefreshToken: refresh}}})
}
