package database

import (
	"context"
	"database/sql/driver"
	"reflect"
	"strings"
	"sync"
)

// stmtCacheSize bounds the statements one connection keeps: the service
// sends a few dozen distinct ones.
const stmtCacheSize = 256

// stmtCache is a driver.Connector whose connections keep their prepared
// statements, by SQL text, and run a statement they have seen before
// without parsing and planning it again. modernc.org/sqlite prepares every
// statement afresh when it runs through Exec or Query, and a profile of
// the me query on SQLite showed that parse as its largest cost after the
// JWT signature check. PostgreSQL needs none of this: pgx caches prepared
// statements per connection itself.
type stmtCache struct {
	driver.Connector
}

// Connect opens a connection of the wrapped connector that caches its
// statements.
func (c stmtCache) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &cachingConn{conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

// cachingConn is a connection with its statement cache. Besides the
// caching it forwards every optional interface of the driver's connection,
// so that database/sql treats it as the driver's own.
type cachingConn struct {
	conn driver.Conn

	mu    sync.Mutex
	stmts map[string]*cachedStmt
}

// The interfaces database/sql and modernc.org/sqlite look for.
var _ interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
} = (*cachingConn)(nil)

// cachedStmt is a statement of the cache; busy while rows of it are open,
// when the same text runs through a statement of its own.
type cachedStmt struct {
	stmt driver.Stmt
	busy bool
}

// cacheable reports whether query is worth keeping: the data statements
// the service repeats, not the schema migration's one-off DDL.
func cacheable(query string) bool {
	q := strings.TrimSpace(query)
	if len(q) < 6 {
		return false
	}
	switch strings.ToUpper(q[:6]) {
	case "SELECT", "INSERT", "UPDATE", "DELETE":
		return true
	}
	return false
}

// acquire returns the cached statement of query, preparing and caching it
// on first use, marked busy; nil when query is not cached or its statement
// is busy.
func (c *cachingConn) acquire(ctx context.Context, query string) (*cachedStmt, error) {
	if !cacheable(query) {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cs, ok := c.stmts[query]
	if ok {
		if cs.busy {
			return nil, nil
		}
		cs.busy = true
		return cs, nil
	}
	if len(c.stmts) >= stmtCacheSize {
		return nil, nil
	}
	st, err := c.conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs = &cachedStmt{stmt: st, busy: true}
	c.stmts[query] = cs
	return cs, nil
}

func (c *cachingConn) release(cs *cachedStmt) {
	c.mu.Lock()
	cs.busy = false
	c.mu.Unlock()
}

// QueryContext runs query through its cached statement when it can.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		c.release(cs)
		return nil, err
	}
	return &cachedRows{Rows: rows, release: func() { c.release(cs) }}, nil
}

// ExecContext runs query through its cached statement when it can.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.conn.(driver.ExecerContext).ExecContext(ctx, query, args)
	}
	defer c.release(cs)
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

// Close closes the cached statements, then the connection.
func (c *cachingConn) Close() error {
	c.mu.Lock()
	for q, cs := range c.stmts {
		_ = cs.stmt.Close()
		delete(c.stmts, q)
	}
	c.mu.Unlock()
	return c.conn.Close()
}

// Prepare, Begin and the optional interfaces pass through.

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) { return c.conn.Prepare(query) }

//nolint:staticcheck // driver.Conn requires Begin; database/sql calls BeginTx.
func (c *cachingConn) Begin() (driver.Tx, error) { return c.conn.Begin() }

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *cachingConn) Ping(ctx context.Context) error {
	return c.conn.(driver.Pinger).Ping(ctx)
}

func (c *cachingConn) ResetSession(ctx context.Context) error {
	return c.conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *cachingConn) IsValid() bool { return c.conn.(driver.Validator).IsValid() }

// cachedRows gives its statement back to the cache when closed.
type cachedRows struct {
	driver.Rows
	once    sync.Once
	release func()
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.once.Do(r.release)
	return err
}

// The column type interfaces of the driver's rows pass through, for
// scanners that ask.

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypeLength(i int) (length int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
