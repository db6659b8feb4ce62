package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5/stdlib"
	"go.opentelemetry.io/otel/trace"
	"modernc.org/sqlite" // pure Go, no cgo

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/telemetry"
)

// entDialect is Ent's name of the configured dialect, "postgres" or
// "sqlite".
func entDialect(name string) string {
	if name == "sqlite" {
		return dialect.SQLite
	}
	return dialect.Postgres
}

// openDatabase opens the configured database and an Ent client over it.
// tp, unless nil, traces the database calls made within a span.
func openDatabase(cfg config.Database, tp trace.TracerProvider) (*sql.DB, *ent.Client, error) {
	switch cfg.Dialect {
	case "postgres":
		connector, err := stdlib.GetDefaultDriver().(driver.DriverContext).OpenConnector(cfg.URL)
		if err != nil {
			return nil, nil, fmt.Errorf("opening PostgreSQL: %w", err)
		}
		db := telemetry.OpenDB(tp, connector, "postgresql")
		db.SetMaxOpenConns(cfg.MaxConns)
		db.SetMaxIdleConns(cfg.MaxConns)
		return db, ent.NewClient(ent.Driver(entsql.OpenDB(dialect.Postgres, db))), nil
	case "sqlite":
		connector, err := sqlite.NewConnector(cfg.SQLiteDSN())
		if err != nil {
			return nil, nil, fmt.Errorf("opening SQLite: %w", err)
		}
		db := telemetry.OpenDB(tp, stmtCache{connector}, "sqlite")
		// One connection: SQLite serializes writers anyway, and with one
		// connection transactions queue instead of failing as busy, and an
		// in-memory database lives as long as the process.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		return db, ent.NewClient(ent.Driver(entsql.OpenDB(dialect.SQLite, db))), nil
	}
	return nil, nil, fmt.Errorf("unsupported database dialect %q", cfg.Dialect)
}

// migrationLockID is the PostgreSQL advisory lock that serializes the
// schema migration of replicas starting together.
const migrationLockID = 0x6c61746368 // "latch"

// withMigrationLock runs fn while holding the migration lock: a PostgreSQL
// session-level advisory lock, so that of several replicas starting against
// one database one migrates and the others wait and find nothing to do.
// SQLite is one process's own and needs none.
func withMigrationLock(ctx context.Context, db *sql.DB, cfg config.Database, fn func() error) error {
	if cfg.Dialect != "postgres" {
		return fn()
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockID); err != nil {
		return fmt.Errorf("taking migration lock: %w", err)
	}
	defer func() {
		// The connection goes back to the pool: release the lock explicitly.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockID)
	}()
	return fn()
}
