package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"
)

// dialect isolates everything that differs between SQLite and MySQL:
// connecting, the upsert clause, batched deletes and which errors are worth
// retrying. All other SQL in the package is portable.
type dialect interface {
	name() string
	open(ctx context.Context, dsn string) (w, r *sqlx.DB, err error)
	// upsertAdd returns the clause that turns a multi-row INSERT into an
	// upsert adding the new values of cols to the existing row.
	upsertAdd(conflict []string, cols []string) string
	// upsertNewer returns the clause that replaces cols of an existing row
	// only when the incoming row's updated_ms is not older.
	upsertNewer(conflict []string, cols []string) string
	// deleteBatch returns a DELETE of at most n rows of table whose column
	// col is below one bound parameter.
	deleteBatch(table, col string, n int) string
	// prepareInserts says whether the writer should write through the
	// driver connection with its INSERTs kept prepared there (SQLite,
	// where statements are cheap, client-side and per connection) rather
	// than through database/sql with SQL text (MySQL, whose DSN
	// interpolates parameters client-side: one round trip per statement).
	prepareInserts() bool
	// transient reports errors that say "try again later" rather than "this
	// batch is bad".
	transient(err error) bool
	// lock/unlock serialise migrations across processes.
	lock(ctx context.Context, c *sqlx.Conn) error
	unlock(ctx context.Context, c *sqlx.Conn)
}

func dialectFor(driver string) (dialect, error) {
	switch strings.ToLower(driver) {
	case "sqlite", "sqlite3":
		return sqliteDialect{}, nil
	case "mysql", "mariadb":
		return mysqlDialect{}, nil
	}
	return nil, fmt.Errorf("store: unknown driver %q (want \"sqlite\" or \"mysql\")", driver)
}

type sqliteDialect struct{}

func (sqliteDialect) name() string { return "sqlite" }

// sqliteDSN appends the pragmas the store relies on unless the caller set
// them: WAL so readers never wait for the writer, a busy timeout instead of
// instant SQLITE_BUSY, and BEGIN IMMEDIATE so a write transaction takes the
// lock up front rather than failing on upgrade.
func sqliteDSN(path string, extra ...string) string {
	base, query, _ := strings.Cut(path, "?")
	vals, err := url.ParseQuery(query)
	if err != nil {
		vals = url.Values{}
	}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			vals.Set(k, v)
		}
	}
	set("_busy_timeout", "5000")
	set("_txlock", "immediate")
	set("_synchronous", "NORMAL")
	if base != ":memory:" {
		set("_journal_mode", "WAL")
	}
	for i := 0; i+1 < len(extra); i += 2 {
		vals.Set(extra[i], extra[i+1])
	}
	return base + "?" + vals.Encode()
}

// sqliteFile returns the file a SQLite DSN names ("data/balance.db",
// "file:data/balance.db?_busy_timeout=1"), or "" for an in-memory
// database.
func sqliteFile(dsn string) string {
	path, query, _ := strings.Cut(dsn, "?")
	path = strings.TrimPrefix(path, "file:")
	if path == "" || path == ":memory:" || strings.Contains(query, "mode=memory") {
		return ""
	}
	return path
}

// createSQLiteFile creates the database file, mode 0600, and its missing
// parent directories, mode 0700, before SQLite opens it: SQLite would
// create the file 0644 (less the umask), refuses to create directories,
// and gives the -wal and -shm files the database file's mode. An existing
// file is left as it is (Open warns when others may read it); created
// says whether the file is new.
func createSQLiteFile(path string) (created bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, fmt.Errorf("create the database directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create the database file: %w", err)
	}
	return true, f.Close()
}

// sqlitePageSize is the page size of a database the store creates.
// Every batch writes one large request chunk (hundreds of KB) and a few
// hundred rollup rows; with 16 KiB pages SQLite writes a quarter as many
// WAL frames and checkpoint pages for it as with its default 4 KiB,
// and the writer spends less CPU per request, most of all on a busy
// machine (store/doc.go has the measurement). 64 KiB saved little more and would make every
// small key-state or resource upsert rewrite a 64 KiB page. A database
// created before keeps its pages: a WAL database cannot change its page
// size in place (store/doc.go says how to convert one).
const sqlitePageSize = 16 << 10

// formatSQLiteFile gives a new, empty database file its page size, which
// the first connection that turns WAL on fixes for good: so it runs on a
// connection of its own, in rollback-journal mode, before the store's.
func formatSQLiteFile(ctx context.Context, dsn string) error {
	db, err := sql.Open("sqlite3", sqliteDSN(dsn, "_journal_mode", "DELETE"))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d; PRAGMA journal_mode = WAL", sqlitePageSize))
	return err
}

// sqliteOpenToOthers reports the database files (the database, -wal,
// -shm) that users other than the owner may read or write.
func sqliteOpenToOthers(path string) []string {
	var loose []string
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 != 0 {
			loose = append(loose, fmt.Sprintf("%s (%#o)", p, fi.Mode().Perm()))
		}
	}
	return loose
}

func (sqliteDialect) open(ctx context.Context, dsn string) (*sqlx.DB, *sqlx.DB, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, nil, errors.New("store: sqlite: empty database path")
	}
	path, _, _ := strings.Cut(dsn, "?")
	if file := sqliteFile(dsn); file != "" {
		created, err := createSQLiteFile(file)
		if err != nil {
			return nil, nil, fmt.Errorf("store: sqlite %q: %w", path, err)
		}
		if created {
			if err := formatSQLiteFile(ctx, dsn); err != nil {
				return nil, nil, fmt.Errorf("store: sqlite %q: set the page size: %w", path, err)
			}
		}
	}
	w, err := sqlx.Open("sqlite3", sqliteDSN(dsn))
	if err != nil {
		return nil, nil, fmt.Errorf("store: sqlite %q: %w", path, err)
	}
	// One writer connection: SQLite has one writer anyway, and funnelling
	// every write through one connection avoids SQLITE_BUSY between our own
	// goroutines.
	w.SetMaxOpenConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, nil, fmt.Errorf("store: sqlite %q: open: %w", path, err)
	}
	if path == ":memory:" || strings.Contains(dsn, "mode=memory") {
		// Each in-memory connection is its own database: share the one.
		return w, w, nil
	}
	r, err := sqlx.Open("sqlite3", sqliteDSN(dsn, "_query_only", "true"))
	if err != nil {
		_ = w.Close()
		return nil, nil, fmt.Errorf("store: sqlite %q: reader: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	return w, r, nil
}

func (sqliteDialect) upsertAdd(conflict, cols []string) string {
	var b strings.Builder
	b.WriteString(" ON CONFLICT (")
	b.WriteString(strings.Join(conflict, ", "))
	b.WriteString(") DO UPDATE SET ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = %s + excluded.%s", c, c, c)
	}
	return b.String()
}

func (sqliteDialect) upsertNewer(conflict, cols []string) string {
	var b strings.Builder
	b.WriteString(" ON CONFLICT (")
	b.WriteString(strings.Join(conflict, ", "))
	b.WriteString(") DO UPDATE SET ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = excluded.%s", c, c)
	}
	b.WriteString(" WHERE excluded.updated_ms >= updated_ms")
	return b.String()
}

func (sqliteDialect) prepareInserts() bool { return true }

func (sqliteDialect) deleteBatch(table, col string, n int) string {
	// DELETE ... LIMIT needs a compile-time option; rowid IN (...) does not.
	return fmt.Sprintf("DELETE FROM %s WHERE rowid IN (SELECT rowid FROM %s WHERE %s < ? LIMIT %d)", table, table, col, n)
}

func (sqliteDialect) transient(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrIoErr, sqlite3.ErrFull, sqlite3.ErrCantOpen, sqlite3.ErrReadonly:
			return true
		}
	}
	return errors.Is(err, context.DeadlineExceeded)
}

func (sqliteDialect) lock(context.Context, *sqlx.Conn) error { return nil } // BEGIN IMMEDIATE serialises
func (sqliteDialect) unlock(context.Context, *sqlx.Conn)     {}

type mysqlDialect struct{}

func (mysqlDialect) name() string { return "mysql" }

// mysqlConfig parses dsn and fills in what the store relies on: utf8mb4,
// client-side parameter interpolation (one round trip per batch statement)
// and timeouts so a dead server fails fast instead of hanging the writer.
func mysqlConfig(dsn string) (*mysql.Config, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: mysql: bad DSN: %w", err)
	}
	if c.Collation == "" {
		c.Collation = "utf8mb4_general_ci"
	}
	c.InterpolateParams = true
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 30 * time.Second
	}
	return c, nil
}

func (mysqlDialect) open(ctx context.Context, dsn string) (*sqlx.DB, *sqlx.DB, error) {
	c, err := mysqlConfig(dsn)
	if err != nil {
		return nil, nil, err
	}
	if c.DBName == "" {
		return nil, nil, fmt.Errorf("store: mysql %s: DSN names no database (want user:pass@tcp(host:3306)/dbname)", c.Addr)
	}
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, nil, fmt.Errorf("store: mysql %s/%s: %w", c.Addr, c.DBName, err)
	}
	db := sqlx.NewDb(sql.OpenDB(conn), "mysql")
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(4)
	db.SetConnMaxLifetime(30 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("store: mysql %s/%s: cannot connect: %w", c.Addr, c.DBName, err)
	}
	return db, db, nil
}

func (mysqlDialect) upsertAdd(_, cols []string) string {
	var b strings.Builder
	b.WriteString(" ON DUPLICATE KEY UPDATE ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = %s + VALUES(%s)", c, c, c)
	}
	return b.String()
}

func (mysqlDialect) upsertNewer(_, cols []string) string {
	// MySQL applies assignments left to right, so updated_ms must be the
	// last one or later comparisons would see the new value.
	var b strings.Builder
	b.WriteString(" ON DUPLICATE KEY UPDATE ")
	for _, c := range cols {
		if c == "updated_ms" {
			continue
		}
		fmt.Fprintf(&b, "%s = IF(VALUES(updated_ms) >= updated_ms, VALUES(%s), %s), ", c, c, c)
	}
	b.WriteString("updated_ms = GREATEST(updated_ms, VALUES(updated_ms))")
	return b.String()
}

func (mysqlDialect) prepareInserts() bool { return false }

func (mysqlDialect) deleteBatch(table, col string, n int) string {
	return fmt.Sprintf("DELETE FROM %s WHERE %s < ? LIMIT %d", table, col, n)
}

func (mysqlDialect) transient(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, 1053, 1205, 1213, 1317, 1927, 2002, 2003, 2006, 2013:
			return true
		}
	}
	return false
}

func (mysqlDialect) lock(ctx context.Context, c *sqlx.Conn) error {
	var got int
	if err := c.QueryRowxContext(ctx, "SELECT GET_LOCK('balance_store_migrate', 30)").Scan(&got); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	if got != 1 {
		return errors.New("migration lock: timed out waiting for another instance")
	}
	return nil
}

func (mysqlDialect) unlock(ctx context.Context, c *sqlx.Conn) {
	_, _ = c.ExecContext(ctx, "SELECT RELEASE_LOCK('balance_store_migrate')")
}
