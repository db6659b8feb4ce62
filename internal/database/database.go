// Package database opens Latchkey's database, PostgreSQL or an embedded
// SQLite, applies its schema under a lock that replicas share, and holds
// what differs between the two drivers: SQLite's statement cache, the way
// it stores times, and the scheduling its single connection needs.
package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/XSAM/otelsql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"modernc.org/sqlite" // pure Go, no cgo

	"github.com/latchkey/latchkey/ent"
	"github.com/latchkey/latchkey/internal/config"
)

// Dialect is Ent's name of the configured dialect, "postgres" or "sqlite".
func Dialect(name string) string {
	if name == "sqlite" {
		return dialect.SQLite
	}
	return dialect.Postgres
}

// Open opens the configured database and an Ent client over it. tp, unless
// nil, traces the database calls made within a span.
func Open(cfg config.Database, tp trace.TracerProvider) (*sql.DB, *ent.Client, error) {
	switch cfg.Dialect {
	case "postgres":
		pgcfg, err := pgx.ParseConfig(cfg.URL)
		if err != nil {
			return nil, nil, fmt.Errorf("opening PostgreSQL: %w", err)
		}
		db := openDB(tp, stdlib.GetConnector(*pgcfg, stdlib.OptionAfterConnect(encodeUUIDs)), "postgresql")
		db.SetMaxOpenConns(cfg.MaxConns)
		db.SetMaxIdleConns(cfg.MaxConns)
		return db, ent.NewClient(ent.Driver(entsql.OpenDB(dialect.Postgres, db))), nil
	case "sqlite":
		connector, err := sqlite.NewConnector(cfg.SQLiteDSN())
		if err != nil {
			return nil, nil, fmt.Errorf("opening SQLite: %w", err)
		}
		db := openDB(tp, stmtCache{connector}, "sqlite")
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

// openDB opens a database over connector whose calls are spans of tp,
// children of the span in their context, or, with a nil tp, an untraced
// one. Calls outside any span (migrations, purges) are not
// traced. Spans carry the SQL text, whose values are all parameters, never
// the arguments.
func openDB(tp trace.TracerProvider, connector driver.Connector, system string) *sql.DB {
	if tp == nil {
		return sql.OpenDB(connector)
	}
	return otelsql.OpenDB(connector,
		otelsql.WithTracerProvider(tp),
		otelsql.WithAttributes(attribute.String("db.system.name", system)),
		otelsql.WithSpanOptions(otelsql.SpanOptions{
			OmitConnResetSession: true,
			OmitRows:             true,
			OmitConnectorConnect: true,
			SpanFilter: func(ctx context.Context, _ otelsql.Method, _ string, _ []driver.NamedValue) bool {
				return trace.SpanContextFromContext(ctx).IsValid()
			},
		}),
	)
}

// migrationLockID is the PostgreSQL advisory lock that serializes the
// schema migration of replicas starting together.
const migrationLockID = 0x6c61746368 // "latch"

// schemaMu serializes the schema migrations of one process. Ent's
// migration writes to the generated package's table descriptors, which
// every client shares (ent/ent#4519): two at once, even of two databases,
// race.
var schemaMu sync.Mutex

// migrationLockPoll is how often a replica that found the migration lock
// taken tries again.
const migrationLockPoll = 200 * time.Millisecond

// Migrate applies the schema to client's database, then runs then (unless
// nil), both under the migration lock, so that of several replicas
// starting against one database one migrates and the others wait and find
// nothing to do. SQLite is one process's own and needs no lock.
//
// On PostgreSQL the lock is a transaction-level advisory lock, held by a
// transaction of its own that changes nothing, while the migration runs on
// other connections; if the process dies the transaction ends, and the
// lock with it. A pooler in transaction mode, such as PgBouncer, keeps a
// transaction on one server connection, where it would hand a
// session-level lock's unlock to another connection and leave the lock
// held for good. The others do not block on the lock but try it again
// every migrationLockPoll: a blocked waiter would hold a server connection
// the migrating replica may need.
func Migrate(ctx context.Context, db *sql.DB, client *ent.Client, cfg config.Database, then func(context.Context) error) error {
	fn := func() error {
		schemaMu.Lock()
		err := client.Schema.Create(ctx)
		schemaMu.Unlock()
		if err != nil {
			return fmt.Errorf("migrating schema: %w", err)
		}
		if then == nil {
			return nil
		}
		return then(ctx)
	}
	if cfg.Dialect != "postgres" {
		return fn()
	}
	for {
		lock, err := tryMigrationLock(ctx, db)
		if err != nil {
			return fmt.Errorf("taking migration lock: %w", err)
		}
		if lock != nil {
			defer func() { _ = lock.Rollback() }()
			return fn()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the migration lock: %w", ctx.Err())
		case <-time.After(migrationLockPoll):
		}
	}
}

// tryMigrationLock returns the transaction that holds the migration lock,
// or nil when another holds it.
func tryMigrationLock(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	var ok bool
	if err := tx.QueryRowContext(ctx, "SELECT pg_try_advisory_xact_lock($1)", migrationLockID).Scan(&ok); err != nil || !ok {
		_ = tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// WithTx runs fn in a transaction of client, committed when fn returns nil
// and rolled back when it returns an error or panics.
func WithTx(ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) error) (err error) {
	tx, err := client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("starting transaction: %w", err)
	}
	defer func() {
		if v := recover(); v != nil {
			_ = tx.Rollback()
			panic(v)
		}
	}()
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			err = errors.Join(err, fmt.Errorf("rolling back: %w", rerr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	Yield()
	return nil
}

// Yield lets another goroutine run once a database call has given its
// connection back. On SQLite the pool has one connection, and database/sql
// hands it to the next waiting request, whose goroutine is then queued on
// this processor behind the caller: without the yield, it would start its
// statements only after the caller's signature and response, with the
// connection idle meanwhile. Measured with latchkey-bench on SQLite, 8
// clients: refresh +20%, me +10%; PostgreSQL's pool is unchanged by it.
func Yield() { runtime.Gosched() }

// Time is t in UTC at the precision both databases keep, so that a time
// read back equals the time written.
func Time(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// NullTime scans a nullable time column of a hand-written query: a
// time.Time, or the text SQLite stores, or NULL. T is nil for NULL.
type NullTime struct{ T *time.Time }

// sqliteTimeLayout is how modernc.org/sqlite writes a time.Time.
const sqliteTimeLayout = "2006-01-02 15:04:05.999999999-07:00"

// Scan implements sql.Scanner.
func (nt *NullTime) Scan(v any) error {
	var t time.Time
	switch v := v.(type) {
	case nil:
		nt.T = nil
		return nil
	case time.Time:
		t = v
	case string:
		return nt.parse(v)
	case []byte:
		return nt.parse(string(v))
	default:
		return fmt.Errorf("scanning a time from %T", v)
	}
	t = t.UTC()
	nt.T = &t
	return nil
}

func (nt *NullTime) parse(s string) error {
	t, err := time.Parse(sqliteTimeLayout, s)
	if err != nil {
		return fmt.Errorf("scanning a time: %w", err)
	}
	t = t.UTC()
	nt.T = &t
	return nil
}
