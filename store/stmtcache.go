package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"
)

// chunkSizes are the only row counts a multi-row INSERT on SQLite has. A batch
// of n rows is written greedily as chunks of these sizes, so each table
// needs at most len(chunkSizes) distinct statements, and each is built and
// prepared once per Store instead of once per batch (re-preparing SQL text
// that changes with every batch's size cost SQLite as much CPU as its
// commits). 64 rows × 21 columns stays far below SQLite's bound-parameter
// limit; chunks of 8 and 1 keep the remainder to at most 14 statements.
var chunkSizes = [...]int{64, 8, 1}

// chunkFor returns the largest chunk size not above n (n ≥ 1).
func chunkFor(n int) int {
	for _, c := range chunkSizes {
		if c <= n {
			return c
		}
	}
	return 1
}

// insertSpec is one table's multi-row INSERT: its columns and the clause
// (upsert or "") that follows the VALUES list.
type insertSpec struct {
	table  string
	cols   []string
	suffix string
}

type stmtKey struct {
	spec *insertSpec
	rows int
}

// inserter runs one multi-row INSERT inside the current batch transaction.
type inserter interface {
	// chunk returns how many of the next n rows (1 ≤ n ≤ maxChunkRows)
	// one statement should take.
	chunk(n int) int
	exec(ctx context.Context, spec *insertSpec, rows int, args []any) error
}

// maxChunkRows bounds the rows of one INSERT on either engine.
const maxChunkRows = 100

// sqlText caches the SQL text of every (insert, chunk size). It is the
// MySQL path: the DSN interpolates parameters client-side, so each
// statement is one round trip, and server-side prepares would add one per
// connection of the pool.
type sqlText map[stmtKey]string

func (c sqlText) sql(spec *insertSpec, rows int) string {
	k := stmtKey{spec, rows}
	q, ok := c[k]
	if !ok {
		q = insertSQL(spec.table, spec.cols, rows) + spec.suffix
		c[k] = q
	}
	return q
}

// sqlTx runs inserts through database/sql in tx.
type sqlTx struct {
	tx   *sqlx.Tx
	text sqlText
}

// chunk takes every row that fits: building SQL text is cheap and cached
// per size (at most maxChunkRows texts per table), while each extra
// statement costs MySQL a round trip.
func (sqlTx) chunk(n int) int { return n }

func (t sqlTx) exec(ctx context.Context, spec *insertSpec, rows int, args []any) error {
	_, err := t.tx.ExecContext(ctx, t.text.sql(spec, rows), args...)
	return err
}

// sqliteConn is the SQLite writer's direct line to its driver connection.
// database/sql costs the writer more than it gives it here: per statement
// it re-wraps the prepared statement for the transaction and copies every
// argument into a fresh []driver.NamedValue (about 1 KB per row), and the
// writer needs none of its pooling. Statements stay prepared on the one
// writer connection for the Store's life and the NamedValue slice is
// reused, so a batch allocates almost nothing beyond boxing its values.
//
// Only the writer goroutine uses it; close runs after the writer exited.
type sqliteConn struct {
	conn  *sqlite3.SQLiteConn // the connection stmts were prepared on
	stmts map[stmtKey]driver.Stmt
	text  sqlText
	nv    []driver.NamedValue
}

func newSQLiteConn() *sqliteConn {
	return &sqliteConn{stmts: map[stmtKey]driver.Stmt{}, text: sqlText{}}
}

// on points the cache at c, forgetting statements prepared on another
// connection (database/sql replaced the old one).
func (w *sqliteConn) on(c *sqlite3.SQLiteConn) {
	if w.conn != c {
		w.close()
		w.conn = c
	}
}

// chunk keeps to the fixed chunkSizes, so only a handful of statements
// per table are ever prepared.
func (*sqliteConn) chunk(n int) int { return chunkFor(n) }

func (w *sqliteConn) exec(_ context.Context, spec *insertSpec, rows int, args []any) error {
	k := stmtKey{spec, rows}
	st := w.stmts[k]
	if st == nil {
		var err error
		if st, err = w.conn.Prepare(w.text.sql(spec, rows)); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		w.stmts[k] = st
	}
	for len(w.nv) < len(args) {
		w.nv = append(w.nv, driver.NamedValue{Ordinal: len(w.nv) + 1})
	}
	nv := w.nv[:len(args)]
	for i, a := range args {
		nv[i].Value = a
	}
	// No ctx here on purpose: given a cancellable ctx the driver runs
	// every statement on a fresh goroutine and waits for it, a goroutine
	// hand-off per statement. A statement cannot hang: the busy timeout
	// (sqliteDSN) bounds its wait for the lock, and the batch's ctx still
	// bounds taking the connection and BEGIN.
	_, err := st.(driver.StmtExecContext).ExecContext(context.Background(), nv)
	return err
}

// release drops the references to the last batch's values.
func (w *sqliteConn) release() {
	for i := range w.nv {
		w.nv[i].Value = nil
	}
}

func (w *sqliteConn) close() {
	for k, st := range w.stmts {
		_ = st.Close()
		delete(w.stmts, k)
	}
}

// insertChunks writes the rows in args (len(spec.cols) values each) as
// multi-row INSERTs of at most maxChunkRows rows, sized by ins.chunk. When sizes are given (one
// estimate per row, in bytes) a chunk also stays under about
// bytesPerInsert, so large error bodies never exceed MySQL's packet limit.
func insertChunks(ctx context.Context, ins inserter, spec *insertSpec, args []any, sizes []int) error {
	n := len(spec.cols)
	if len(args)%n != 0 {
		return fmt.Errorf("insert %s: %d args for %d columns", spec.table, len(args), n)
	}
	rows := len(args) / n
	for start := 0; start < rows; {
		fit := min(rows-start, maxChunkRows)
		if sizes != nil {
			bytes := sizes[start]
			fit = 1
			for start+fit < rows && fit < maxChunkRows && bytes+sizes[start+fit] <= bytesPerInsert {
				bytes += sizes[start+fit]
				fit++
			}
		}
		k := ins.chunk(fit)
		if err := ins.exec(ctx, spec, k, args[start*n:(start+k)*n]); err != nil {
			return fmt.Errorf("insert %s: %w", spec.table, err)
		}
		start += k
	}
	return nil
}

func insertSQL(table string, cols []string, rows int) string {
	var b strings.Builder
	b.Grow(32 + len(table) + rows*(2*len(cols)+3) + 16*len(cols))
	b.WriteString("INSERT INTO ")
	b.WriteString(table)
	b.WriteString(" (")
	b.WriteString(strings.Join(cols, ", "))
	b.WriteString(") VALUES ")
	one := "(" + strings.Repeat("?, ", len(cols)-1) + "?)"
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}
