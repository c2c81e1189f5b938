package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
)

type chunkRecorder struct {
	fixed bool // chunk like the SQLite writer, else like MySQL's
	rows  []int
	seen  int // rows passed so far, to check order and coverage
	t     *testing.T
}

func (c *chunkRecorder) chunk(n int) int {
	if c.fixed {
		return (*sqliteConn)(nil).chunk(n)
	}
	return sqlTx{}.chunk(n)
}

func (c *chunkRecorder) exec(_ context.Context, spec *insertSpec, rows int, args []any) error {
	if len(args) != rows*len(spec.cols) {
		c.t.Fatalf("chunk of %d rows got %d args", rows, len(args))
	}
	for i := 0; i < rows; i++ {
		if got := args[i*len(spec.cols)].(int); got != c.seen {
			c.t.Fatalf("row %d arrived as %d", got, c.seen)
		}
		c.seen++
	}
	c.rows = append(c.rows, rows)
	return nil
}

// TestInsertChunks pins the chunking: every row exactly once and in
// order; on SQLite only the fixed chunk sizes, greedy, so the statement set
// stays small; on MySQL as many rows as fit, up to maxChunkRows; and on
// both, chunks of large rows cut at bytesPerInsert.
func TestInsertChunks(t *testing.T) {
	spec := &insertSpec{table: "t", cols: []string{"a", "b"}}
	big := bytesPerInsert / 3
	small := func(int) int { return 300 }
	large := func(int) int { return big }
	huge := func(i int) int {
		if i == 0 {
			return 2 * bytesPerInsert
		}
		return 10
	}
	for _, c := range []struct {
		name         string
		rows         int
		sizes        func(i int) int
		sqlite, text []int
	}{
		{"one", 1, nil, []int{1}, []int{1}},
		{"seven", 7, nil, []int{1, 1, 1, 1, 1, 1, 1}, []int{7}},
		{"eight", 8, nil, []int{8}, []int{8}},
		{"sixty-three", 63, nil, []int{8, 8, 8, 8, 8, 8, 8, 1, 1, 1, 1, 1, 1, 1}, []int{63}},
		{"sixty-four", 64, nil, []int{64}, []int{64}},
		{"seventy-five", 75, nil, []int{64, 8, 1, 1, 1}, []int{75}},
		{"two hundred fifty", 250, nil, []int{64, 64, 64, 8, 8, 8, 8, 8, 8, 8, 1, 1}, []int{100, 100, 50}},
		{"small bodies", 70, small, []int{64, 1, 1, 1, 1, 1, 1}, []int{70}},
		{"large bodies", 4, large, []int{1, 1, 1, 1}, []int{3, 1}},
		{"one huge body", 9, huge, []int{1, 8}, []int{1, 8}},
	} {
		for _, fixed := range []bool{true, false} {
			want := map[bool][]int{true: c.sqlite, false: c.text}[fixed]
			t.Run(c.name+map[bool]string{true: "/sqlite", false: "/mysql"}[fixed], func(t *testing.T) {
				var args []any
				var sizes []int
				for i := 0; i < c.rows; i++ {
					args = append(args, i, "x")
					if c.sizes != nil {
						sizes = append(sizes, c.sizes(i))
					}
				}
				rec := &chunkRecorder{t: t, fixed: fixed}
				if err := insertChunks(context.Background(), rec, spec, args, sizes); err != nil {
					t.Fatal(err)
				}
				if rec.seen != c.rows || !slices.Equal(rec.rows, want) {
					t.Fatalf("%d rows in chunks %v, want %v", rec.seen, rec.rows, want)
				}
				for _, r := range rec.rows {
					if fixed && !slices.Contains(chunkSizes[:], r) {
						t.Fatalf("chunk of %d rows is not a fixed size", r)
					}
				}
			})
		}
	}
	if err := insertChunks(context.Background(), &chunkRecorder{t: t}, spec, []any{1, 2, 3}, nil); err == nil {
		t.Fatal("3 args for 2 columns accepted")
	}
}

// TestSQLiteWriterNewConnection makes database/sql retire the writer
// connection between batches: the writer must notice, prepare its
// statements again on the new connection, and lose nothing.
func TestSQLiteWriterNewConnection(t *testing.T) {
	cfg := engineCfg(t, "sqlite")
	cfg.FlushInterval = time.Millisecond
	s := mustOpen(t, cfg)
	s.wdb.SetConnMaxLifetime(time.Millisecond)
	conns := map[*sqlite3.SQLiteConn]bool{}
	const batches, per = 5, 70 // 70 rows use every chunk size
	for i := 0; i < batches; i++ {
		for j := 0; j < per; j++ {
			s.Record(Request{KeyFP: "k", ModelSent: "m", Status: 200, Latency: time.Millisecond})
		}
		waitWritten(t, s, uint64((i+1)*per))
		time.Sleep(5 * time.Millisecond) // let the connection expire
		s.Record(Request{KeyFP: "k", ModelSent: "m", Status: 500, ErrorClass: "upstream_5xx"})
		waitWritten(t, s, uint64((i+1)*(per+1)))
		conns[s.lite.conn] = true // read after the writer is idle
	}
	if len(conns) < 2 {
		t.Fatalf("the writer used %d connection(s); the test did not replace it", len(conns))
	}
	if h := s.Health(); h.FailedBatches != 0 || h.Dropped != 0 {
		t.Fatalf("health after reconnects: %+v", h)
	}
	sum, err := s.Summary(context.Background(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(batches * (per + 1)); sum.Total.Requests != want || sum.Total.Failures != batches ||
		countRows(t, s, "requests") != int(want) || countRows(t, s, "errors") != batches {
		t.Fatalf("after reconnects: %d requests, %d failures in rollups, %d raw, %d errors; want %d, %d",
			sum.Total.Requests, sum.Total.Failures, countRows(t, s, "requests"), countRows(t, s, "errors"), want, batches)
	}
}

// TestSteadyTrickleFlushes: under a steady trickle slower than BatchSize
// but faster than FlushInterval, records must still be written while the
// trickle goes on (the batch's deadline runs from its first record, not
// from the latest one), and no record may wait for the trickle to stop.
func TestSteadyTrickleFlushes(t *testing.T) {
	cfg := engineCfg(t, "sqlite")
	cfg.BatchSize, cfg.FlushInterval = 100000, 100*time.Millisecond
	s := mustOpen(t, cfg)
	deadline := time.Now().Add(5 * time.Second)
	for s.Health().Written == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("nothing written during a 5 s trickle with FlushInterval %s: %+v", cfg.FlushInterval, s.Health())
		}
		s.Record(Request{KeyFP: "k", Status: 200})
		time.Sleep(10 * time.Millisecond)
	}
}
