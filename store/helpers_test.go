package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mysqlAdminDSN is the server the MySQL tests use. They fail, never skip,
// when it is down: a green run must mean both engines were tested.
func mysqlAdminDSN() string {
	if v := os.Getenv("BALANCE_TEST_MYSQL_DSN"); v != "" {
		return v
	}
	return "root@tcp(127.0.0.1:3306)/"
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// freshMySQL creates a database balance_test_<random> for this test only,
// drops it at cleanup, and returns a DSN for it (pointing at addr when
// given, so tests can go through a proxy).
func freshMySQL(tb testing.TB) (dsn string, cfg *mysql.Config) {
	tb.Helper()
	admin, err := sql.Open("mysql", mysqlAdminDSN())
	if err != nil {
		tb.Fatalf("mysql admin DSN: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		_ = admin.Close()
		tb.Fatalf("MySQL/MariaDB test server at %s is required and unreachable: %v", mysqlAdminDSN(), err)
	}
	name := "balance_test_" + randHex(6)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
		_ = admin.Close()
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
		_ = admin.Close()
	})
	c, err := mysql.ParseDSN(mysqlAdminDSN())
	if err != nil {
		tb.Fatalf("parse admin DSN: %v", err)
	}
	c.DBName = name
	return c.FormatDSN(), c
}

// engineCfg returns a Config for a fresh, empty database of the engine.
func engineCfg(tb testing.TB, engine string) Config {
	tb.Helper()
	cfg := Config{Driver: engine, Logger: quietLogger(), FlushInterval: 20 * time.Millisecond}
	switch engine {
	case "sqlite":
		cfg.DSN = filepath.Join(tb.TempDir(), "stats.db")
	case "mysql":
		cfg.DSN, _ = freshMySQL(tb)
	default:
		tb.Fatalf("unknown engine %q", engine)
	}
	return cfg
}

var engineNames = []string{"sqlite", "mysql"}

// forEngines runs fn as a subtest on each engine.
func forEngines(t *testing.T, fn func(t *testing.T, engine string)) {
	t.Helper()
	for _, e := range engineNames {
		t.Run(e, func(t *testing.T) { fn(t, e) })
	}
}

func mustOpen(tb testing.TB, cfg Config) *Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		tb.Fatalf("Open(%s): %v", cfg.Driver, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

// waitFor polls cond until it holds or the bounded wait ends.
func waitFor(tb testing.TB, what string, limit time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitWritten(tb testing.TB, s *Store, n uint64) {
	tb.Helper()
	waitFor(tb, "records to be written", 20*time.Second, func() bool {
		h := s.Health()
		return h.Written >= n
	})
}

func countRows(tb testing.TB, s *Store, table string) int {
	tb.Helper()
	var n int
	if err := s.rdb.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		tb.Fatalf("count %s: %v", table, err)
	}
	return n
}
