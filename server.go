// Command latchkey is a GraphQL authentication service: registration,
// login, refresh-token rotation and sessions over PostgreSQL or an embedded
// SQLite database.
package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/graph"
	"github.com/latchkey/latchkey/internal/auth"
	"github.com/latchkey/latchkey/internal/cli"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/database"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/telemetry"
	"github.com/latchkey/latchkey/internal/token"
	"github.com/latchkey/latchkey/internal/web"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "latchkey: %v\n", err)
		os.Exit(cli.ExitCode(err))
	}
}

// run is the whole program: it reads the configuration, opens the
// database, and runs the command in args until ctx ends or SIGINT/SIGTERM
// arrives. A command may read a password from stdin (nil: none).
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	name, cmdArgs := "serve", []string(nil)
	if len(args) > 1 {
		name, cmdArgs = args[1], args[2:]
	}
	cmd, isCommand := cli.Find(name)
	switch {
	case name == "serve" || isCommand:
	case name == "help" || name == "-h" || name == "-help" || name == "--help":
		fmt.Fprint(stdout, cli.Usage())
		return nil
	default:
		fmt.Fprint(stderr, cli.Usage())
		return fmt.Errorf("unknown command %q", name)
	}
	if isCommand && slices.ContainsFunc(cmdArgs, isHelpFlag) {
		// Help needs neither configuration nor database.
		return cmd.Run(ctx, cli.Env{Stdin: stdin, Stdout: stdout, Stderr: stderr}, cmdArgs)
	}

	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	level := slog.LevelInfo
	if cfg.Debug {
		level = slog.LevelDebug
	}
	logOut := stdout
	if isCommand {
		// A command's standard output is its own (a report, a list).
		logOut = stderr
	}
	logger := slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: level})))

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

	db, client, err := database.Open(cfg.Database, tp)
	if err != nil {
		return err
	}
	defer client.Close()

	if !isCommand {
		return serve(ctx, cfg, db, client, logger, tp)
	}
	err = cmd.Run(ctx, cli.Env{
		Config: cfg,
		Stdin:  stdin,
		Stdout: stdout,
		Stderr: stderr,
		Migrate: func(ctx context.Context) error {
			return migrate(ctx, db, client, cfg, logger)
		},
		Service: func(ctx context.Context) (*auth.Service, error) {
			hasher, err := newHasher(cfg, nil)
			if err != nil {
				return nil, err
			}
			svc, _, err := services(ctx, cfg, client, hasher, logger, nil, nil)
			return svc, err
		},
		KeyStore: func() (*keys.Store, error) { return keys.OpenStore(cfg, client) },
	}, cmdArgs)
	if errors.Is(err, cli.ErrUsage) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return err
}

// isHelpFlag reports whether a command's argument asks for its usage.
func isHelpFlag(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

// serve answers HTTP until ctx ends, then shuts down gracefully. It listens
// before the database is ready, so that /healthz answers while it migrates.
// tp, unless nil, traces the requests.
func serve(ctx context.Context, cfg config.Config, db *sql.DB, client *ent.Client, logger *slog.Logger, tp trace.TracerProvider) error {
	logger.Info("starting", "config", cfg)
	if cfg.Memory.LimitMiB > 0 {
		// A flood's connections leave garbage behind: a soft limit
		// collects it before the heap doubles, as GOGC alone would let it
		// (docs/performance.md, Memory). The password hashes' memory is
		// outside the Go heap.
		debug.SetMemoryLimit(int64(cfg.Memory.LimitMiB) << 20)
	}
	// Under the soft limit the heap is bounded anyway: collecting less
	// often saves a sixth of `me`'s CPU (docs/performance.md, Memory).
	debug.SetGCPercent(cfg.Memory.GCPercent)
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	var current atomic.Pointer[http.Handler]
	starting := web.Starting()
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
	// senderDone closes when the mail sender has finished the mail under
	// way, or at once when there is none.
	senderDone := make(chan struct{})
	logger.Info("listening", "addr", ln.Addr().String())

	err = func() error {
		if err := migrateRetrying(ctx, db, client, cfg, logger); err != nil {
			return err
		}
		hasher, err := newHasher(cfg, metrics)
		if err != nil {
			return err
		}
		// Touch every hashing slot's memory before /readyz says ready:
		// fresh memory can be slow to touch, and the first logins of a
		// new replica must not wait past PASSWORD_HASH_MAX_WAIT for it.
		if err := hasher.Warm(ctx); err != nil {
			return fmt.Errorf("password hashing: %w", err)
		}
		var sender atomic.Pointer[mail.Sender]
		svc, ring, err := services(ctx, cfg, client, hasher, logger, metrics, func() {
			if s := sender.Load(); s != nil {
				s.Wake()
			}
		})
		if err != nil {
			return err
		}
		s, devMail, err := mail.FromConfig(cfg, svc.Outbox(), logger, metrics)
		if err != nil {
			return err
		}
		h := handler(cfg, logger, svc, ring.Issuer(), db, metrics, tp, devMail)
		current.Store(&h)
		logger.Info("ready")
		if s != nil {
			sender.Store(s)
			go func() {
				defer close(senderDone)
				s.Run(ctx)
			}()
		} else {
			close(senderDone)
		}
		go svc.PurgePeriodically(ctx, 10*time.Minute)
		if cfg.Memory.ReleaseAfter > 0 {
			go hasher.ReleaseWhenIdle(ctx, cfg.Memory.ReleaseAfter, debug.FreeOSMemory)
		}
		go ring.Watch(ctx)
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
	if err == nil {
		select {
		case <-senderDone:
		case <-shutdownCtx.Done():
			logger.Warn("shutdown incomplete: a mail was still being sent")
		}
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// handler is the service's HTTP handler over svc; metrics also records
// the GraphQL requests, and tp, unless nil, traces them.
// devMail, unless nil, answers /dev/mail.
func handler(cfg config.Config, logger *slog.Logger, svc *auth.Service, issuer *token.Issuer, db *sql.DB, metrics *telemetry.Metrics, tp trace.TracerProvider, devMail http.Handler) http.Handler {
	return web.New(web.Deps{
		Config: cfg,
		Logger: logger,
		GraphQL: graph.Guard(cfg.MaxBodyBytes, cfg.RequestTimeout, graph.NewHandler(svc, graph.Options{
			Introspection:        cfg.Introspection,
			MaxComplexity:        cfg.MaxComplexity,
			MaxDepth:             cfg.MaxDepth,
			MaxRootFields:        cfg.MaxRootFields,
			MaxQueryBytes:        cfg.MaxQueryBytes,
			MaxQueryTokens:       cfg.MaxQueryTokens,
			MaxEntities:          cfg.MaxEntities,
			RouterAuthDirectives: cfg.FederationAuthDirectives,
			Logger:               logger,
			Extensions:           []graphql.HandlerExtension{telemetry.NewGraphQL(metrics, tp)},
		})),
		Issuer:         issuer,
		Database:       db,
		Metrics:        metrics.Handler(),
		TracerProvider: tp,
		DevMail:        devMail,
	})
}

// migrate applies the schema and, when the keys are held in the database,
// creates the first ones, under the migration lock.
func migrate(ctx context.Context, db *sql.DB, client *ent.Client, cfg config.Config, logger *slog.Logger) error {
	err := database.Migrate(ctx, db, client, cfg.Database, func(ctx context.Context) error {
		return keys.Prepare(ctx, cfg, client)
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
		if err == nil || ctx.Err() != nil || keys.IsKeyEncryptionError(err) {
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

// newHasher builds the password hasher the configuration asks for; obs,
// if not nil, learns the hashes' timings.
func newHasher(cfg config.Config, obs *telemetry.Metrics) (*password.Hasher, error) {
	var hashObs password.Observer
	if obs != nil {
		hashObs = obs
	}
	hasher, err := password.NewHasher(password.Params{
		Memory:      cfg.PasswordHash.Memory,
		Iterations:  cfg.PasswordHash.Iterations,
		Parallelism: cfg.PasswordHash.Parallelism,
	}, cfg.PasswordHash.Concurrency, cfg.PasswordHash.MaxWait, hashObs)
	if err != nil {
		return nil, fmt.Errorf("password hashing: %w", err)
	}
	return hasher, nil
}

// services builds the keys, the token issuer and the use cases from the
// configuration and hasher; obs, if not nil, observes the use cases, and
// queued, if not nil, learns that mail was queued.
func services(ctx context.Context, cfg config.Config, client *ent.Client, hasher *password.Hasher, logger *slog.Logger, obs auth.Observer, queued func()) (*auth.Service, *keys.Ring, error) {
	ring, err := keys.New(ctx, cfg, client, logger)
	if err != nil {
		return nil, nil, err
	}
	t := cfg.Throttle
	rate := func(r config.RateLimit) auth.Limit { return auth.Limit{Max: r.Max, Window: r.Window} }
	svc := auth.NewService(client, database.Dialect(cfg.Database.Dialect), ring.Issuer(), hasher, auth.Lifetimes{
		RefreshTokenTTL:      cfg.RefreshTokenTTL,
		SessionMaxAge:        cfg.SessionMaxAge,
		RefreshReuseInterval: cfg.RefreshReuseInterval,
		AuditLogRetention:    cfg.AuditLogRetention,
	}, auth.Limits{
		LoginAccount:    auth.Backoff{Max: t.LoginMaxFailures, Lockout: t.LoginLockout, MaxLockout: t.LoginMaxLockout},
		KnownAddressTTL: t.LoginKnownAddressTTL,
		LoginAddress:    rate(t.Login),
		PasswordSession: rate(t.PasswordCheck),
		Register:        rate(t.Register),
		RefreshAddress:  rate(t.Refresh),
		ValidateAddress: rate(t.Validate),
		MailAddress:     rate(t.Mail),
		MailRecipient:   rate(t.MailRecipient),
		TokenAddress:    rate(t.Token),
	}, auth.MailSettings{
		Enabled:             cfg.Mail.Driver != config.MailNone,
		RequireVerification: cfg.RequireEmailVerification,
		VerifyTTL:           cfg.EmailVerificationTTL,
		ResetTTL:            cfg.PasswordResetTTL,
		ChangeTTL:           cfg.EmailChangeTTL,
		ResendInterval:      cfg.Mail.ResendInterval,
		Queued:              queued,
	}, nil, logger, obs)
	return svc, ring, nil
}
