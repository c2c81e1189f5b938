package store

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSQLiteFilesPrivate: the database and its -wal and -shm files are
// created 0600, and missing parent directories 0700, so the shipped
// path = "data/balance.db" works on a fresh checkout.
func TestSQLiteFilesPrivate(t *testing.T) {
	tests := []struct {
		name    string
		dsn     func(dir string) string
		file    string   // relative to dir
		created []string // directories Open must create, relative to dir
	}{
		{"missing data directory", func(d string) string { return filepath.Join(d, "data", "balance.db") }, "data/balance.db", []string{"data"}},
		{"nested missing directories", func(d string) string { return filepath.Join(d, "a", "b", "stats.db") }, "a/b/stats.db", []string{"a", "a/b"}},
		{"existing directory", func(d string) string { return filepath.Join(d, "balance.db") }, "balance.db", nil},
		{"file: URI with options", func(d string) string { return "file:" + filepath.Join(d, "uri", "balance.db") + "?_busy_timeout=2000" }, "uri/balance.db", []string{"uri"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := Open(ctx, Config{Driver: "sqlite", DSN: tc.dsn(dir), Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(ctx)
			s.Record(Request{Time: time.Now(), KeyFP: "k", ModelSent: "m", Status: 200})
			waitWritten(t, s, 1)
			file := filepath.Join(dir, filepath.FromSlash(tc.file))
			for _, p := range []string{file, file + "-wal", file + "-shm"} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				if m := fi.Mode().Perm(); m != 0o600 {
					t.Errorf("%s has mode %#o, want 0600", filepath.Base(p), m)
				}
			}
			for _, d := range tc.created {
				fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(d)))
				if err != nil {
					t.Fatal(err)
				}
				if m := fi.Mode().Perm(); m != 0o700 {
					t.Errorf("directory %s has mode %#o, want 0700", d, m)
				}
			}
		})
	}
}

// TestSQLiteWarnsAboutOpenFiles: a database file an older version created
// readable by others is used as it is, with a warning saying what to do.
func TestSQLiteWarnsAboutOpenFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "old.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ctx := context.Background()
	s, err := Open(ctx, Config{Driver: "sqlite", DSN: path, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := logs.String(); !strings.Contains(got, "chmod 600") || !strings.Contains(got, "old.db (0644)") {
		t.Fatalf("no warning about the open file:\n%s", got)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Fatalf("an existing file's mode changed to %#o", fi.Mode().Perm())
	}
}

func TestSQLiteFile(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"data/balance.db", "data/balance.db"},
		{"data/balance.db?_busy_timeout=1", "data/balance.db"},
		{"file:data/balance.db?mode=rwc", "data/balance.db"},
		{":memory:", ""},
		{"file:x?mode=memory&cache=shared", ""},
		{"", ""},
	}
	for _, tc := range tests {
		if got := sqliteFile(tc.dsn); got != tc.want {
			t.Errorf("sqliteFile(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
	}
}

// TestSQLitePageSize: a database the store creates gets sqlitePageSize
// pages (the writer's batches cost less CPU with them), also when the
// DSN asks for another journal mode; a database made before keeps the
// pages it has and is served as usual; an in-memory one is left alone.
func TestSQLitePageSize(t *testing.T) {
	tests := []struct {
		name     string
		dsn      func(dir string) string
		existing bool // a WAL database with 4 KiB pages is there first
		want     int
	}{
		{"new file", func(d string) string { return filepath.Join(d, "balance.db") }, false, sqlitePageSize},
		{"new file, rollback journal asked", func(d string) string { return filepath.Join(d, "balance.db") + "?_journal_mode=DELETE" }, false, sqlitePageSize},
		{"existing 4 KiB database", func(d string) string { return filepath.Join(d, "balance.db") }, true, 4096},
		{"in memory", func(string) string { return ":memory:" }, false, 4096},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			dsn := tc.dsn(dir)
			if tc.existing {
				db, err := sql.Open("sqlite3", dsn+"?_journal_mode=WAL")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.Exec("PRAGMA page_size = 4096; CREATE TABLE before_balance (x INTEGER)"); err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
			s, err := Open(ctx, Config{Driver: "sqlite", DSN: dsn, Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(ctx)
			s.Record(Request{Time: time.Now(), KeyFP: "k", ModelSent: "m", Status: 200})
			waitWritten(t, s, 1)
			var got int
			if err := s.wdb.GetContext(ctx, &got, "PRAGMA page_size"); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("page_size %d, want %d", got, tc.want)
			}
		})
	}
}
