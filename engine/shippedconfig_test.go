package engine_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/balanceproxy/balance/internal/mockgemini"
)

// TestShippedConfigKeepsStats: the shipped balance.hcl, on a fresh
// checkout (no data/ directory), opens its SQLite store: status reports a
// store, and the directory and database are private to the user.
func TestShippedConfigKeepsStats(t *testing.T) {
	src, err := os.ReadFile("../balance.hcl")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GEMINI_KEYS", keyA+","+keyB)
	t.Setenv("BALANCE_TOKEN", testToken)
	t.Setenv("BALANCE_STATUS_TOKEN", statusToken)
	dir := t.TempDir()
	mock := mockgemini.Start(t, mockgemini.Options{})
	srv, u := startProxy(t, mock, dir, string(src))
	h := &harness{t: t, mock: mock, srv: srv, url: u, token: testToken}
	if v := h.statusDoc(""); v.Store == nil {
		t.Fatalf("no store: %+v", v.Notes)
	}
	for p, want := range map[string]os.FileMode{"data": 0o700, "data/balance.db": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %#o, want %#o", p, fi.Mode().Perm(), want)
		}
	}
}
