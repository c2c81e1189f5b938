package engine_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/engine/status"
	"github.com/balanceproxy/balance/internal/mockgemini"
)

// The stats database goes away in the middle of a load: no client request
// may fail because of it, status must say there is a gap (failed batches,
// dropped rows, the last error) while serving everything it can, and
// stats must resume once the database is back.
func TestStoreOutageUnderLoad(t *testing.T) {
	// A queue of 64 overflows within the outage; a 20 ms busy timeout
	// makes each failed batch fail fast rather than wait 5 s.
	tuning := engine.Options{StoreQueueSize: 64, StoreBatchSize: 16, StoreFlushInterval: 5 * time.Millisecond}
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "stats.db")
	mock := mockgemini.Start(t, mockgemini.Options{})
	srv, u := startProxyWith(t, mock, dir, storeConfig([]string{keyA, keyB}, fmt.Sprintf(`
store {
  driver = "sqlite"
  dsn    = "%s?_busy_timeout=20"
}
status {
  path  = "/status"
  token = "%s"
}
metrics {}
`, dbPath, statusToken)), tuning)
	h := &harness{t: t, mock: mock, srv: srv, url: u, keys: []string{keyA, keyB}, token: testToken}

	const warm = 10
	for range warm {
		if status, _, _ := h.do("POST", generatePath, genBody, nil); status != 200 {
			t.Fatal(status)
		}
	}
	h.waitWritten(warm)

	// Cut: a second connection holds SQLite's write lock, as a stuck
	// backup or a full disk would.
	locker, err := sql.Open("sqlite3", dbPath+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	ctx := context.Background()
	conn, err := locker.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatalf("take the write lock: %v", err)
	}
	locked := true
	defer func() {
		if locked {
			_, _ = conn.ExecContext(ctx, "ROLLBACK")
		}
	}()

	// Load while the database is down: every request must succeed.
	const during, workers = 400, 8
	var failed atomic.Int64
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if status, _, _ := h.do("POST", generatePath, genBody, nil); status != 200 {
					failed.Add(1)
				}
			}
		}()
	}
	for i := range during {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d requests failed while the stats database was down", n)
	}

	// Status reports the gap and still serves the live view.
	var v status.View
	deadline := time.Now().Add(10 * time.Second)
	for {
		v = h.statusDoc("?period=1h")
		if s := v.Store; s != nil && !s.OK && s.FailedBatches > 0 && s.Dropped > 0 && s.LastError != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status does not report the outage: %+v", v.Store)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(v.Pools) != 1 || len(v.Pools[0].Keys) != 2 {
		t.Fatalf("live part missing during the outage: %+v", v.Pools)
	}
	if v.Store.Written != warm {
		t.Fatalf("written %d during the outage, want %d", v.Store.Written, warm)
	}
	mfs := h.scrapeProxy("/metrics", "")
	if sample(mfs, "balance_store_up", nil) != 0 || sample(mfs, "balance_store_dropped_rows_total", map[string]string{"kind": "request"}) <= 0 ||
		sample(mfs, "balance_store_failed_batches_total", nil) <= 0 {
		t.Fatal("metrics do not report the outage")
	}
	if got := sample(mfs, "balance_requests_total", map[string]string{"pool": "main"}); got != warm+during {
		t.Fatalf("metrics counted %v requests, want %d: they must not depend on the store", got, warm+during)
	}

	// Restore: everything still queued is written, and stats resume.
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatalf("release the write lock: %v", err)
	}
	locked = false
	deadline = time.Now().Add(15 * time.Second)
	for {
		v = h.statusDoc("?period=1h")
		if s := v.Store; s.OK && s.Queued == 0 && s.Pending == 0 && s.Written+s.Dropped == warm+during {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not catch up: %+v", v.Store)
		}
		time.Sleep(20 * time.Millisecond)
	}
	gap := v.Store.Dropped
	const after = 5
	for range after {
		if status, _, _ := h.do("POST", generatePath, genBody, nil); status != 200 {
			t.Fatal(status)
		}
	}
	v = h.waitWritten(warm + during - gap + after)
	if got := v.Stats["1h"].Total.Requests; uint64(got) != v.Store.Written {
		t.Fatalf("stats show %d requests, store wrote %d", got, v.Store.Written)
	}
	// The gap stays visible after recovery.
	if v.Store.Dropped != gap || v.Store.FailedBatches == 0 || !v.Store.OK {
		t.Fatalf("after recovery: %+v", v.Store)
	}
	t.Logf("outage: %d requests served, %d stat rows dropped, %d failed batches", during, gap, v.Store.FailedBatches)
}
