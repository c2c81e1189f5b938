package store

import (
	"context"
	"slices"
	"testing"
	"time"
)

// requestIndexes lists the secondary indexes of the requests table, which
// migration 0003 renames to requests_legacy.
func requestIndexes(t *testing.T, s *Store) []string {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('requests', 'requests_legacy') AND sql IS NOT NULL"
	if s.d.name() == "mysql" {
		q = "SELECT DISTINCT index_name FROM information_schema.statistics " +
			"WHERE table_schema = DATABASE() AND table_name IN ('requests', 'requests_legacy') AND index_name <> 'PRIMARY'"
	}
	var names []string
	if err := s.rdb.Select(&names, q); err != nil {
		t.Fatalf("list requests indexes: %v", err)
	}
	slices.Sort(names)
	return names
}

// TestLeanRequestsMigration upgrades a version-1 database holding rows to
// the current schema: 0002 must drop the secondary indexes the writer no
// longer pays for, keep requests_ts and the rows, be repeatable (MySQL
// commits DDL implicitly, so a crash can leave it half-applied), and the
// raw-row queries must still filter and page correctly without them.
func TestLeanRequestsMigration(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		cfg := engineCfg(t, engine)
		ctx := context.Background()
		ms, err := loadMigrations(engine)
		if err != nil {
			t.Fatal(err)
		}
		var lean migration
		for _, m := range ms {
			if m.version == 2 {
				lean = m
			}
		}
		if lean.version != 2 {
			t.Fatal("migration 0002 not found")
		}

		// A database as version 1 left it, with rows.
		d, _ := dialectFor(engine)
		wdb, rdb, err := d.open(ctx, cfg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		old := &Store{d: d, wdb: wdb, rdb: rdb}
		if _, err := wdb.Exec(`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name VARCHAR(128) NOT NULL, applied_ms BIGINT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		for _, st := range ms[0].stmts {
			if _, err := wdb.Exec(st); err != nil {
				t.Fatalf("0001: %v", err)
			}
		}
		if _, err := wdb.Exec("INSERT INTO schema_migrations VALUES (1, 'init', 0)"); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UnixMilli()
		for i := 0; i < 6; i++ {
			key := []string{"k1", "k2"}[i%2]
			if _, err := wdb.Exec("INSERT INTO requests (ts, key_fp, model, token, status) VALUES (?, ?, 'm', 't', ?)",
				now-int64(i), key, 200+i%3); err != nil {
				t.Fatal(err)
			}
		}
		if got := requestIndexes(t, old); len(got) != 5 {
			t.Fatalf("version 1 has requests indexes %v, want 5", got)
		}
		old.closeDBs()

		s := mustOpen(t, cfg)
		want := []string{"requests_ts"}
		if got := requestIndexes(t, s); !slices.Equal(got, want) {
			t.Fatalf("after 0002: requests indexes %v, want %v", got, want)
		}
		// Re-running the migration, as after a crash before it was
		// recorded, must succeed and change nothing.
		conn, err := s.wdb.Connx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, st := range lean.stmts {
			if _, err := conn.ExecContext(ctx, st); err != nil {
				t.Fatalf("0002 statement %d again: %v", i+1, err)
			}
		}
		conn.Close()
		if got := requestIndexes(t, s); !slices.Equal(got, want) {
			t.Fatalf("after 0002 twice: requests indexes %v, want %v", got, want)
		}

		for _, c := range []struct {
			q    ListQuery
			want int
		}{
			{ListQuery{}, 6},
			{ListQuery{KeyFP: "k1"}, 3},
			{ListQuery{KeyFP: "k2", Status: 201}, 1},
			{ListQuery{Model: "m", Token: "t", Status: 200}, 2},
			{ListQuery{Token: "nobody"}, 0},
		} {
			recs, err := s.RecentRequests(ctx, c.q)
			if err != nil || len(recs) != c.want {
				t.Errorf("RecentRequests(%+v) = %d rows, %v; want %d", c.q, len(recs), err, c.want)
			}
		}
		var paged int
		for cursor := ""; ; {
			recs, err := s.RecentRequests(ctx, ListQuery{KeyFP: "k2", Limit: 2, Before: cursor})
			if err != nil {
				t.Fatal(err)
			}
			paged += len(recs)
			if len(recs) < 2 {
				break
			}
			cursor = recs[len(recs)-1].Cursor
		}
		if paged != 3 {
			t.Errorf("paged %d k2 rows, want 3", paged)
		}

		// After 0003 new rows go to request_chunks; the requests view and
		// RecentRequests show old and new rows together, newest first.
		s.Record(Request{Time: time.Now(), KeyFP: "k2", Token: "t", ModelAsked: "m", Status: 200, Attempts: 2})
		waitWritten(t, s, 1)
		var viewRows, maxAttempts int
		if err := s.rdb.QueryRow("SELECT COUNT(*), MAX(attempts) FROM requests WHERE model = 'm' AND token = 't'").Scan(&viewRows, &maxAttempts); err != nil || viewRows != 7 || maxAttempts != 2 {
			t.Errorf("requests view: %d rows, max attempts %d (%v); want 7, 2", viewRows, maxAttempts, err)
		}
		recs, err := s.RecentRequests(ctx, ListQuery{KeyFP: "k2"})
		if err != nil || len(recs) != 4 || recs[0].Attempts != 2 || recs[0].ID < chunkIDBase || recs[1].ID >= chunkIDBase {
			t.Errorf("RecentRequests after 0003: %d rows (%v), want the chunked row first then 3 legacy rows", len(recs), err)
		}
	})
}
