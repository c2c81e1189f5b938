package engine_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/hcl"
	"github.com/balanceproxy/balance/internal/mockgemini"
	"github.com/balanceproxy/balance/internal/secret"
	"github.com/balanceproxy/balance/store"
)

// startProxy starts a proxy for an HCL config (with %MOCK% replaced) in
// front of mock, and returns it with its base URL.
func startProxy(t testing.TB, mock *mockgemini.Server, dir, hclBody string) (*engine.Server, string) {
	t.Helper()
	return startProxyWith(t, mock, dir, hclBody, engine.Options{})
}

// startProxyWith is startProxy with server options; without a Logger the
// server logs nowhere. mock may be nil for a config that names no mock.
func startProxyWith(t testing.TB, mock *mockgemini.Server, dir, hclBody string, opts engine.Options) (*engine.Server, string) {
	t.Helper()
	if mock != nil {
		hclBody = strings.ReplaceAll(hclBody, "%MOCK%", mock.URL())
	}
	cfg, err := hcl.LoadBytes(filepath.Join(dir, "balance.hcl"), []byte(hclBody), hcl.Options{})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := engine.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		}
	})
	return srv, "http://" + ln.Addr().String()
}

func storeConfig(keys []string, storeBlock string) string {
	return fmt.Sprintf(`
upstream "mock" { base_url = "%%MOCK%%" }
pool "main" {
  upstream = "mock"
  keys     = ["%s"]
}
token "tester" {
  secret = %q
  pools  = ["main"]
}
%s
`, strings.Join(keys, `", "`), testToken, storeBlock)
}

func TestStatsAndKeyStatePersistAcrossRestart(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	dir := t.TempDir()
	cfg := storeConfig([]string{keyA, keyB}, `store {
  driver = "sqlite"
  path   = "stats.db"
}`)
	srv, url := startProxy(t, mock, dir, cfg)
	h := &harness{t: t, mock: mock, srv: srv, url: url, token: testToken}
	mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.InvalidKey})
	for range 3 {
		if status, _, _ := h.do("POST", generatePath, genBody, nil); status != 200 {
			t.Fatal(status)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	// The requests are in the database, with fingerprints, never keys.
	// Read them through the store's own API: how rows are laid out on
	// disk is the store's business.
	st, err := store.Open(context.Background(), store.Config{Driver: "sqlite", DSN: filepath.Join(dir, "stats.db")})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := st.RecentRequests(context.Background(), store.ListQuery{Token: "tester", Status: 200, Limit: 100})
	if cerr := st.Close(context.Background()); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil || len(recs) != 3 {
		t.Fatalf("recorded %d requests (%v), want 3", len(recs), err)
	}
	attempts := 0
	for _, r := range recs {
		attempts = max(attempts, r.Attempts)
		if r.KeyFP != secret.KeyFingerprint(keyB) {
			t.Fatalf("recorded key %q, want the fingerprint of the healthy key", r.KeyFP)
		}
	}
	if attempts != 2 {
		t.Fatalf("attempts %d: the retry after the invalid key must be recorded", attempts)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "stats.db"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), keyA) || strings.Contains(string(raw), keyB) || strings.Contains(string(raw), testToken) {
		t.Fatal("a full key or token was written to the database")
	}

	// A new process on the same database starts with the key quarantined.
	srv2, _ := startProxy(t, mock, dir, cfg)
	if st := srv2.Registry().Get(keyA).Status(time.Now()); st.State != keypool.Quarantined {
		t.Fatalf("quarantine not restored after restart: %+v", st)
	}
	if st := srv2.Registry().Get(keyB).Status(time.Now()); st.State != keypool.Healthy {
		t.Fatalf("healthy key came back as %s", st.State)
	}
}

// Two proxies on one MySQL database: a key quarantined through one is
// avoided by the other.
// freshMySQL creates a database named prefix+random on the test MariaDB
// (BALANCE_TEST_MYSQL_DSN, else root on 127.0.0.1:3306), drops it when the
// test ends, and returns its DSN. The test fails without MySQL: CI has it.
func freshMySQL(t *testing.T, prefix string) string {
	t.Helper()
	base := os.Getenv("BALANCE_TEST_MYSQL_DSN")
	if base == "" {
		base = "root@tcp(127.0.0.1:3306)/"
	}
	admin, err := sql.Open("mysql", base)
	if err != nil {
		t.Fatal(err)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	dbName := prefix + hex.EncodeToString(rnd[:])
	if _, err := admin.Exec("CREATE DATABASE " + dbName); err != nil {
		admin.Close()
		t.Fatalf("MySQL at %s is required for this test: %v", base, err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE " + dbName)
		admin.Close()
	})
	return base + dbName
}

func TestTwoInstancesShareKeyStateThroughMySQL(t *testing.T) {
	dsn := freshMySQL(t, "balance_engine_")

	mock := mockgemini.Start(t, mockgemini.Options{})
	cfg := storeConfig([]string{keyA, keyB}, fmt.Sprintf(`store {
  driver            = "mysql"
  dsn               = "%s"
  key_state_refresh = "200ms"
}`, dsn))
	_, urlOne := startProxy(t, mock, t.TempDir(), cfg)
	srvTwo, urlTwo := startProxy(t, mock, t.TempDir(), cfg)

	mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.PermissionDenied})
	one := &harness{t: t, mock: mock, url: urlOne, token: testToken}
	for range 2 {
		if status, _, _ := one.do("POST", generatePath, genBody, nil); status != 200 {
			t.Fatal(status)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for srvTwo.Registry().Get(keyA).Status(time.Now()).State != keypool.Quarantined {
		if time.Now().After(deadline) {
			t.Fatal("instance two never learned of the quarantine")
		}
		time.Sleep(50 * time.Millisecond)
	}
	before := mock.Requests(keyA)
	two := &harness{t: t, mock: mock, url: urlTwo, token: testToken}
	for range 4 {
		if status, _, _ := two.do("POST", generatePath, genBody, nil); status != 200 {
			t.Fatal(status)
		}
	}
	if mock.Requests(keyA) != before {
		t.Fatal("instance two kept sending requests to a key instance one quarantined")
	}
}

func TestReloadReportsSettingsThatNeedARestart(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	cfg := *h.srv.Runtime().Config
	cfg.Hash += "-changed"
	cfg.Server.Listen = "127.0.0.1:1"
	cfg.Store.Driver = "none"
	if applied, err := h.srv.Apply(&cfg); err != nil || !applied {
		t.Fatal(applied, err)
	}
	reloads := h.srv.Snapshot(time.Now()).Reloads
	last := reloads[len(reloads)-1]
	if last.Generation != 2 || len(last.NeedsRestart) != 2 {
		t.Fatalf("reload event %+v", last)
	}
	joined := strings.Join(last.NeedsRestart, "; ")
	if !strings.Contains(joined, "server.listen") || !strings.Contains(joined, "store") {
		t.Fatalf("needs restart: %s", joined)
	}
}

// TestStoreTuningIsPerServer: the store's queue size comes from the
// server's Options, so two servers in one process can differ and nothing
// global changes.
func TestStoreTuningIsPerServer(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	cfg := func(dir string) string {
		return storeConfig([]string{keyA}, fmt.Sprintf("store {\n  driver = \"sqlite\"\n  dsn = %q\n  required = true\n}\nmetrics {}\n", filepath.Join(dir, "stats.db")))
	}
	dir := t.TempDir()
	_, tunedURL := startProxyWith(t, mock, dir, cfg(dir), engine.Options{StoreQueueSize: 37, StoreBatchSize: 5, StoreFlushInterval: time.Millisecond})
	dir = t.TempDir()
	_, plainURL := startProxy(t, mock, dir, cfg(dir))
	for url, want := range map[string]float64{tunedURL: 37, plainURL: store.DefaultQueueSize} {
		h := &harness{t: t, url: url}
		if got := sample(h.scrapeProxy("/metrics", ""), "balance_store_queue_capacity", nil); got != want {
			t.Errorf("%s: queue capacity %v, want %v", url, got, want)
		}
	}
}

// TestRestoredQuarantineUsesThePoolsProbeInterval: a quarantine loaded
// from the store schedules its first probe after the pool's own
// probe.interval, not the default (30s).
func TestRestoredQuarantineUsesThePoolsProbeInterval(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "stats.db")
	st, err := store.Open(context.Background(), store.Config{Driver: "sqlite", DSN: dbPath})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(keyA))
	st.SaveKeyState(store.KeyState{KeyHash: hex.EncodeToString(sum[:]), Fingerprint: secret.Fingerprint(keyA), Pool: "main",
		State: store.StateQuarantined, Reason: "invalid key", UpdatedAt: time.Now()})
	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	mock := mockgemini.Start(t, mockgemini.Options{})
	srv, _ := startProxy(t, mock, dir, fmt.Sprintf(`
upstream "mock" { base_url = "%%MOCK%%" }
pool "main" {
  upstream = "mock"
  keys     = [%q, %q]
  probe { interval = "7m" }
}
token "tester" {
  secret = %q
  pools  = ["main"]
}
store {
  driver   = "sqlite"
  dsn      = %q
  required = true
}
`, keyA, keyB, testToken, dbPath))
	now := time.Now()
	ks := srv.Registry().Get(keyA).Status(now)
	if ks.State != keypool.Quarantined {
		t.Fatalf("quarantine not restored: %+v", ks)
	}
	if d := ks.NextProbe.Sub(now); d < 6*time.Minute || d > 7*time.Minute+time.Second {
		t.Fatalf("first probe in %v, want the pool's 7m", d)
	}
}

// A store that cannot be opened at start (required = false) is tried again
// in the background: once it opens, status stops saying it is unavailable
// and requests are written.
func TestStoreUnavailableAtStartIsRetried(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "blocker") // a file where the database's directory must go
	if err := os.WriteFile(blocker, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	mock := mockgemini.Start(t, mockgemini.Options{})
	cfg := storeConfig([]string{keyA}, fmt.Sprintf("store {\n  driver = \"sqlite\"\n  dsn    = %q\n}\n", filepath.Join(blocker, "stats.db")))
	srv, url := startProxyWith(t, mock, dir, cfg, engine.Options{StoreRetry: 50 * time.Millisecond})
	h := &harness{t: t, mock: mock, srv: srv, url: url, token: testToken}
	if srv.Stats() != nil || len(srv.Snapshot(time.Now()).Notes) == 0 {
		t.Fatal("the store opened, or status does not say it is unavailable")
	}
	if status, _, _ := h.do("POST", generatePath, genBody, nil); status != 200 {
		t.Fatalf("without a store: %d", status)
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats() == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if srv.Stats() == nil {
		t.Fatal("the store was not opened once it could be")
	}
	if notes := srv.Snapshot(time.Now()).Notes; len(notes) != 0 {
		t.Fatalf("status still says %q", notes)
	}
	if status, _, _ := h.do("POST", generatePath, genBody, nil); status != 200 {
		t.Fatalf("with the store: %d", status)
	}
	for srv.Stats().Health().Written == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if w := srv.Stats().Health().Written; w == 0 {
		t.Fatal("no request was written after the store opened")
	}
}

// store.record_request_bodies keeps the body of a failed request, with
// every pool key and client token in it redacted; without it, none.
func TestRecordRequestBodies(t *testing.T) {
	for _, on := range []bool{true, false} {
		dir := t.TempDir()
		mock := mockgemini.Start(t, mockgemini.Options{})
		mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.BadRequest})
		cfg := storeConfig([]string{keyA}, fmt.Sprintf("store {\n  driver = \"sqlite\"\n  dsn    = %q\n  required = true\n  record_request_bodies = %v\n}\n", filepath.Join(dir, "stats.db"), on))
		srv, url := startProxy(t, mock, dir, cfg)
		h := &harness{t: t, mock: mock, srv: srv, url: url, token: testToken}
		body := `{"contents":[{"role":"user","parts":[{"text":"my key is ` + keyA + ` and my token ` + testToken + `"}]}]}`
		if status, _, _ := h.do("POST", generatePath, body, nil); status != 400 {
			t.Fatalf("status %d", status)
		}
		var recs []store.ErrorRecord
		deadline := time.Now().Add(5 * time.Second)
		for len(recs) == 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			recs, _ = srv.Stats().RecentErrors(context.Background(), store.ErrorQuery{})
		}
		if len(recs) != 1 {
			t.Fatalf("record_request_bodies = %v: %d error records", on, len(recs))
		}
		got := recs[0].RequestBody
		if !on {
			if got != "" {
				t.Fatalf("a body was kept without record_request_bodies: %q", got)
			}
			continue
		}
		if !strings.Contains(got, "my key is") || strings.Contains(got, keyA) || strings.Contains(got, testToken) {
			t.Fatalf("kept body %q: want it with the key and token redacted", got)
		}
	}
}
