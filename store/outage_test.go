package store

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/balanceproxy/balance/internal/netcut"
)

// outage drives one store through a database outage: records made while
// the database cannot write must return at once, overflow must be counted
// as dropped, Health must show the failure, and once the database is back
// everything still queued must be written.
func outage(t *testing.T, s *Store, cut, restore func()) {
	t.Helper()
	for i := 0; i < 10; i++ {
		s.Record(Request{KeyFP: "k", ModelSent: "m", Status: 200})
	}
	waitWritten(t, s, 10)

	cut()
	const n = 5000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			s.Record(Request{KeyFP: "k", ModelSent: "m", Status: 200, Latency: time.Millisecond})
		}
	}()
	// The database stays down until every Record has returned: if Record
	// waited on the database, this would deadlock and time out.
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Record blocked while the database was down")
	}
	waitFor(t, "the writer to report the failure", 10*time.Second, func() bool {
		h := s.Health()
		return h.FailedBatches > 0 && !h.OK && h.LastError != ""
	})
	h := s.Health()
	if h.Written != 10 {
		t.Fatalf("written during outage = %d, want 10", h.Written)
	}
	maxKept := uint64(h.QueueCap + s.cfg.BatchSize)
	if h.Dropped < n-maxKept {
		t.Fatalf("dropped = %d, want at least %d (queue %d + batch %d)", h.Dropped, n-maxKept, h.QueueCap, s.cfg.BatchSize)
	}
	if h.Lag <= 0 {
		t.Errorf("lag = %s during outage, want > 0", h.Lag)
	}

	restore()
	waitFor(t, "the writer to catch up", 20*time.Second, func() bool {
		h := s.Health()
		return h.Written+h.Dropped == n+10 && h.Queued == 0 && h.Pending == 0
	})
	h = s.Health()
	if !h.OK || h.Lag != 0 || h.LastSuccessAt.IsZero() {
		t.Errorf("after recovery: %+v", h)
	}
	if got := countRows(t, s, "requests"); uint64(got) != h.Written {
		t.Fatalf("%d rows in the database, Health.Written = %d", got, h.Written)
	}
	sum, err := s.Summary(context.Background(), time.Hour)
	if err != nil || uint64(sum.Total.Requests) != h.Written {
		t.Fatalf("rollups disagree with raw rows: %d vs %d (%v)", sum.Total.Requests, h.Written, err)
	}
	s.Record(Request{KeyFP: "k", Status: 200})
	waitWritten(t, s, h.Written+1)
}

func TestOutageSQLite(t *testing.T) {
	cfg := engineCfg(t, "sqlite")
	path := cfg.DSN
	cfg.DSN += "?_busy_timeout=20"
	cfg.QueueSize, cfg.BatchSize, cfg.FlushInterval = 64, 16, 5*time.Millisecond
	s := mustOpen(t, cfg)

	// Another connection holding the write lock makes every batch fail
	// with SQLITE_BUSY, as a stuck backup or a full disk would.
	locker, err := sql.Open("sqlite3", path+"?_busy_timeout=5000")
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
	outage(t, s,
		func() {
			if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
				t.Fatalf("take lock: %v", err)
			}
		},
		func() {
			if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
				t.Fatalf("release lock: %v", err)
			}
		})
}

func TestOutageMySQL(t *testing.T) {
	_, mc := freshMySQL(t)
	p := startTCPProxy(t, mc.Addr)
	mc.Addr = p.Addr()
	mc.Timeout, mc.ReadTimeout, mc.WriteTimeout = time.Second, 2*time.Second, 2*time.Second
	cfg := Config{Driver: "mysql", DSN: mc.FormatDSN(), Logger: quietLogger(),
		QueueSize: 64, BatchSize: 16, FlushInterval: 5 * time.Millisecond}
	s := mustOpen(t, cfg)
	outage(t, s, p.Cut, restoreProxy(t, p))
}

func TestCloseGivesUpAtDeadline(t *testing.T) {
	_, mc := freshMySQL(t)
	p := startTCPProxy(t, mc.Addr)
	mc.Addr = p.Addr()
	mc.Timeout = 500 * time.Millisecond
	cfg := Config{Driver: "mysql", DSN: mc.FormatDSN(), Logger: quietLogger(), FlushInterval: 5 * time.Millisecond}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.Cut()
	for i := 0; i < 100; i++ {
		s.Record(Request{KeyFP: "k", Status: 200})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Close(ctx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with the database down = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %s past its deadline", d)
	}
	if h := s.Health(); h.Dropped != 100 || h.Written != 0 {
		t.Fatalf("after failed close: %+v", h)
	}
}

// startTCPProxy puts a netcut proxy in front of target for one test.
func startTCPProxy(t *testing.T, target string) *netcut.Proxy {
	p, err := netcut.Listen(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Cut)
	return p
}

// restoreProxy brings p back or ends the test.
func restoreProxy(t *testing.T, p *netcut.Proxy) func() {
	return func() {
		if err := p.Restore(); err != nil {
			t.Fatal(err)
		}
	}
}
