package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// chunkSizes are the only row counts a multi-row INSERT ever has. A batch
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

// stmtCache keeps the SQL text of every (insert, chunk size) and, where
// the driver prepares client-side statements cheaply and keeps them per
// connection (SQLite), the prepared statement. MySQL keeps only the text:
// its DSN interpolates parameters client-side, one round trip per
// statement, and server-side prepares would add a round trip per
// connection of the pool.
//
// Only the writer goroutine uses a stmtCache, so it takes no lock; close
// runs after the writer has exited.
type stmtCache struct {
	db      *sqlx.DB
	prepare bool
	text    map[stmtKey]string
	stmts   map[stmtKey]*sql.Stmt
}

func newStmtCache(db *sqlx.DB, prepare bool) *stmtCache {
	return &stmtCache{db: db, prepare: prepare, text: map[stmtKey]string{}, stmts: map[stmtKey]*sql.Stmt{}}
}

func (c *stmtCache) sql(spec *insertSpec, rows int) string {
	k := stmtKey{spec, rows}
	q, ok := c.text[k]
	if !ok {
		q = insertSQL(spec.table, spec.cols, rows) + spec.suffix
		c.text[k] = q
	}
	return q
}

// ready prepares every (spec, chunk size) statement not yet prepared. It
// must run outside a transaction: SQLite's single writer connection is
// busy for the whole of one, and preparing on the pool would wait for it.
func (c *stmtCache) ready(ctx context.Context, specs ...*insertSpec) error {
	if !c.prepare {
		return nil
	}
	for _, spec := range specs {
		for _, rows := range chunkSizes {
			k := stmtKey{spec, rows}
			if c.stmts[k] != nil {
				continue
			}
			st, err := c.db.PrepareContext(ctx, c.sql(spec, rows))
			if err != nil {
				return fmt.Errorf("prepare insert %s: %w", spec.table, err)
			}
			c.stmts[k] = st
		}
	}
	return nil
}

// exec runs spec's INSERT of rows rows with args inside tx.
func (c *stmtCache) exec(ctx context.Context, tx *sqlx.Tx, spec *insertSpec, rows int, args []any) error {
	st := c.stmts[stmtKey{spec, rows}]
	if st == nil {
		// Text statements (MySQL), or a statement ready has not made.
		_, err := tx.ExecContext(ctx, c.sql(spec, rows), args...)
		return err
	}
	// Tx.StmtContext reuses the statement already prepared on the
	// transaction's connection (the single SQLite writer connection), and
	// prepares it anew only when that connection has been replaced.
	txst := tx.StmtContext(ctx, st)
	_, err := txst.ExecContext(ctx, args...)
	_ = txst.Close() // releases the transaction's handle, not the prepared statement
	return err
}

func (c *stmtCache) close() {
	for k, st := range c.stmts {
		_ = st.Close()
		delete(c.stmts, k)
	}
}

// insertChunks writes the rows in args (len(spec.cols) values each) as
// multi-row INSERTs of the fixed chunkSizes. When sizes are given (one
// estimate per row, in bytes) a chunk also stays under about
// bytesPerInsert, so large error bodies never exceed MySQL's packet limit.
func (c *stmtCache) insertChunks(ctx context.Context, tx *sqlx.Tx, spec *insertSpec, args []any, sizes []int) error {
	n := len(spec.cols)
	if len(args)%n != 0 {
		return fmt.Errorf("insert %s: %d args for %d columns", spec.table, len(args), n)
	}
	rows := len(args) / n
	for start := 0; start < rows; {
		fit := min(rows-start, chunkSizes[0])
		if sizes != nil {
			bytes := sizes[start]
			fit = 1
			for start+fit < rows && fit < chunkSizes[0] && bytes+sizes[start+fit] <= bytesPerInsert {
				bytes += sizes[start+fit]
				fit++
			}
		}
		k := chunkFor(fit)
		if err := c.exec(ctx, tx, spec, k, args[start*n:(start+k)*n]); err != nil {
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
