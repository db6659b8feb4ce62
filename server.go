// Command latchkey is a GraphQL authentication service: registration,
// login, refresh-token rotation and sessions over PostgreSQL or an embedded
// SQLite database.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/internal/auth"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/telemetry"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "latchkey: %v\n", err)
		os.Exit(1)
	}
}

const usage = `usage: latchkey [command]

commands:
  serve                      run the service (the default)
  migrate                    apply the database schema and exit
  roles grant EMAIL ROLE     give a user a role, such as admin
  roles revoke EMAIL ROLE    take a role away
  keys list                  list the signing keys held in the database
  keys rotate [--force]      promote the key introduced ahead, introduce a new one
  keys retire [KID] [--force]
                             delete a previous key (without KID: every one
                             whose tokens have all expired)
`

// run is the whole program: it reads the configuration, opens the database,
// and runs the command in args until ctx ends or SIGINT/SIGTERM arrives.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	command := "serve"
	if len(args) > 1 {
		command = args[1]
	}
	switch command {
	case "serve", "migrate", "roles", "keys":
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", command)
	}

	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	level := slog.LevelInfo
	if cfg.Debug {
		level = slog.LevelDebug
	}
	logger := slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: level})))

	sdkTP, err := telemetry.NewTracerProvider(ctx, cfg.Tracing)
	if err != nil {
		return err
	}
	var tp trace.TracerProvider // nil: not tracing
	if sdkTP != nil {
		tp = sdkTP
		defer func() {
			// Export the last spans, giving up on a collector that is down.
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := sdkTP.Shutdown(flushCtx); err != nil {
				logger.Warn("exporting the last spans", "error", err)
			}
		}()
	}

	db, client, err := openDatabase(cfg.Database, tp)
	if err != nil {
		return err
	}
	defer client.Close()

	switch command {
	case "migrate":
		return migrate(ctx, db, client, cfg, logger)
	case "roles":
		return roles(ctx, args[min(len(args), 2):], db, client, cfg, logger, stdout)
	case "keys":
		if err := migrate(ctx, db, client, cfg, logger); err != nil {
			return err
		}
		return keysCommand(ctx, args[min(len(args), 2):], cfg, client, stdout)
	}
	return serve(ctx, cfg, db, client, logger, tp)
}

// serve answers HTTP until ctx ends, then shuts down gracefully. It listens
// before the database is ready, so that /healthz answers while it migrates.
// tp, unless nil, traces the requests.
func serve(ctx context.Context, cfg config.Config, db *sql.DB, client *ent.Client, logger *slog.Logger, tp trace.TracerProvider) error {
	logger.Info("starting", "config", cfg)
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	var current atomic.Pointer[http.Handler]
	starting := startingHandler()
	current.Store(&starting)
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*current.Load()).ServeHTTP(w, r) }),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	metrics := telemetry.NewMetrics(db)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String())

	err = func() error {
		if err := migrateRetrying(ctx, db, client, cfg, logger); err != nil {
			return err
		}
		svc, keys, err := services(ctx, cfg, client, logger, metrics)
		if err != nil {
			return err
		}
		h := NewServer(cfg, logger, svc, keys.issuer, db, metrics, tp)
		current.Store(&h)
		logger.Info("ready")
		go purgeEnded(ctx, svc, logger)
		go keys.watch(ctx)
		return nil
	}()
	if err == nil {
		select {
		case err = <-served:
			err = fmt.Errorf("serving: %w", err)
		case <-ctx.Done():
		}
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		logger.Warn("shutdown incomplete", "error", serr)
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// migrate applies the schema and, when the keys are held in the database,
// creates the first one, under the migration lock.
func migrate(ctx context.Context, db *sql.DB, client *ent.Client, cfg config.Config, logger *slog.Logger) error {
	err := withMigrationLock(ctx, db, cfg.Database, func() error {
		if err := client.Schema.Create(ctx); err != nil {
			return fmt.Errorf("migrating schema: %w", err)
		}
		if !cfg.DatabaseKeys() {
			return nil
		}
		store, err := keyStore(cfg, client)
		if err != nil {
			return err
		}
		return keyStoreError(store.Prepare(ctx, time.Now()))
	})
	if err != nil {
		return err
	}
	logger.Info("schema migrated")
	return nil
}

// migrateRetrying migrates, retrying with backoff while the database does
// not answer, until ctx ends.
func migrateRetrying(ctx context.Context, db *sql.DB, client *ent.Client, cfg config.Config, logger *slog.Logger) error {
	wait := 500 * time.Millisecond
	for {
		err := migrate(ctx, db, client, cfg, logger)
		if err == nil || ctx.Err() != nil || keyEncryptionError(err) {
			return err
		}
		logger.Warn("database not ready, retrying", "error", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// services builds the keys, the token issuer and the use cases from the
// configuration; obs, if not nil, observes the use cases.
func services(ctx context.Context, cfg config.Config, client *ent.Client, logger *slog.Logger, obs auth.Observer) (*auth.Service, *keyring, error) {
	keys, err := newKeyring(ctx, cfg, client, logger)
	if err != nil {
		return nil, nil, err
	}
	hasher, err := auth.NewHasher(auth.HashParams{
		Memory:      cfg.PasswordHash.Memory,
		Iterations:  cfg.PasswordHash.Iterations,
		Parallelism: cfg.PasswordHash.Parallelism,
	}, cfg.PasswordHash.Concurrency, cfg.PasswordHash.MaxWait, obs)
	if err != nil {
		return nil, nil, fmt.Errorf("password hashing: %w", err)
	}
	svc := auth.NewService(client, entDialect(cfg.Database.Dialect), keys.issuer, hasher, auth.Lifetimes{
		RefreshTokenTTL:      cfg.RefreshTokenTTL,
		SessionMaxAge:        cfg.SessionMaxAge,
		RefreshReuseInterval: cfg.RefreshReuseInterval,
	}, limits(cfg.Throttle), nil, logger, obs)
	return svc, keys, nil
}

// limits turns the throttle settings into the use cases' limits.
func limits(t config.Throttle) auth.Limits {
	rate := func(r config.RateLimit) auth.Limit { return auth.Limit{Max: r.Max, Window: r.Window} }
	return auth.Limits{
		LoginAccount:    auth.Backoff{Max: t.LoginMaxFailures, Lockout: t.LoginLockout, MaxLockout: t.LoginMaxLockout},
		LoginAddress:    rate(t.Login),
		Register:        rate(t.Register),
		RefreshAddress:  rate(t.Refresh),
		ValidateAddress: rate(t.Validate),
	}
}

// purgeEnded deletes ended sessions now and then, until ctx ends. Replicas
// may purge at once: the deletes are idempotent.
func purgeEnded(ctx context.Context, svc *auth.Service, logger *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Ended sessions are kept a day, for the users' and operators' eyes.
		if n, err := svc.PurgeEnded(ctx, 24*time.Hour); err != nil {
			logger.Warn("purging ended sessions", "error", err)
		} else if n > 0 {
			logger.Info("purged ended sessions", "sessions", n)
		}
	}
}

// roles grants or revokes a role: latchkey roles grant|revoke EMAIL ROLE.
func roles(ctx context.Context, args []string, db *sql.DB, client *ent.Client, cfg config.Config, logger *slog.Logger, stdout io.Writer) error {
	if len(args) != 3 || (args[0] != "grant" && args[0] != "revoke") {
		return errors.New("usage: latchkey roles grant|revoke EMAIL ROLE")
	}
	if err := migrate(ctx, db, client, cfg, logger); err != nil {
		return err
	}
	svc, _, err := services(ctx, cfg, client, logger, nil)
	if err != nil {
		return err
	}
	if err := svc.SetRole(ctx, args[1], args[2], args[0] == "grant"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "roles %s %s %s: done\n", args[0], args[1], args[2])
	return nil
}

// startingHandler answers while the database is not ready yet: alive, not
// ready, and 503 for the rest.
func startingHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "starting", http.StatusServiceUnavailable)
	})
	return mux
}

// newRequestID returns 16 random bytes in hex.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
