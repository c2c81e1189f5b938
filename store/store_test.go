package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMigrationsIdempotent(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		cfg := engineCfg(t, engine)
		want, err := loadMigrations(engine)
		if err != nil || len(want) == 0 {
			t.Fatalf("loadMigrations: %v (%d)", err, len(want))
		}
		latest := want[len(want)-1].version
		for i := 0; i < 2; i++ {
			ctx := context.Background()
			s, err := Open(ctx, cfg)
			if err != nil {
				t.Fatalf("open #%d: %v", i+1, err)
			}
			v, err := s.SchemaVersion(ctx)
			if err != nil || v != latest {
				t.Fatalf("open #%d: schema version %d, %v; want %d", i+1, v, err, latest)
			}
			if n := countRows(t, s, "schema_migrations"); n != len(want) {
				t.Fatalf("open #%d: %d schema_migrations rows, want %d", i+1, n, len(want))
			}
			if err := s.Close(ctx); err != nil {
				t.Fatalf("close #%d: %v", i+1, err)
			}
		}
	})
}

func TestSplitSQL(t *testing.T) {
	got := splitSQL("-- c\nCREATE TABLE a (x INT);\n\nCREATE INDEX i ON a (x);\n-- tail\nSELECT 1")
	want := []string{"CREATE TABLE a (x INT)", "CREATE INDEX i ON a (x)", "SELECT 1"}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("stmt %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// fixture records requests at fixed ages and returns what each period must
// count.
type fixtureReq struct {
	age time.Duration
	r   Request
}

func fixture() []fixtureReq {
	mk := func(key, model, token, class string, status int, lat time.Duration, p, c int) Request {
		return Request{RequestID: "rid", Token: token, Route: "/v1beta/models", Protocol: "gemini", ModelAsked: model,
			ModelSent: model, Pool: "main", KeyFP: key, Status: status, ErrorClass: class, Attempts: 1,
			Latency: lat, TTFB: lat / 2, PromptTokens: p, CompletionTokens: c, ThoughtTokens: 1, CachedTokens: 2}
	}
	return []fixtureReq{
		{20 * time.Second, mk("k1", "gemini-2.5-flash", "alice", "", 200, 80*time.Millisecond, 10, 20)},
		{25 * time.Second, mk("k2", "gemini-2.5-flash", "bob", "rate_limit", 429, 40*time.Millisecond, 5, 0)},
		{30 * time.Minute, mk("k1", "gemini-2.5-pro", "alice", "", 200, 2500*time.Millisecond, 100, 200)},
		{5 * time.Hour, mk("k2", "gemini-2.5-pro", "alice", "upstream_5xx", 503, 700*time.Millisecond, 7, 0)},
		{10 * 24 * time.Hour, mk("k3", "gemini-2.5-flash", "carol", "", 200, 9*time.Second, 1, 1)},
		{40 * 24 * time.Hour, mk("k4", "gemini-2.5-flash", "dave", "", 200, time.Second, 1000, 1000)},
	}
}

func recordFixture(t *testing.T, s *Store) {
	t.Helper()
	now := time.Now()
	fx := fixture()
	for _, f := range fx {
		r := f.r
		r.Time = now.Add(-f.age)
		s.Record(r)
	}
	waitWritten(t, s, uint64(len(fx)))
}

func TestSummaryPeriods(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		s := mustOpen(t, engineCfg(t, engine))
		recordFixture(t, s)
		if n := countRows(t, s, "requests"); n != 6 {
			t.Fatalf("requests rows = %d, want 6", n)
		}
		if n := countRows(t, s, "errors"); n != 2 {
			t.Fatalf("errors rows = %d, want 2", n)
		}
		for _, tc := range []struct {
			period             time.Duration
			requests, failures int64
			prompt             int64
			keys               []string // ByKey names, most requests first
		}{
			{time.Minute, 2, 1, 15, []string{"k1", "k2"}},
			{time.Hour, 3, 1, 115, []string{"k1", "k2"}},
			{24 * time.Hour, 4, 2, 122, []string{"k1", "k2"}},
			{30 * 24 * time.Hour, 5, 2, 123, []string{"k1", "k2", "k3"}},
		} {
			sum, err := s.Summary(context.Background(), tc.period)
			if err != nil {
				t.Fatalf("Summary(%s): %v", tc.period, err)
			}
			tot := sum.Total
			if tot.Requests != tc.requests || tot.Failures != tc.failures || tot.PromptTokens != tc.prompt {
				t.Errorf("Summary(%s) total = %d req, %d fail, %d prompt; want %d, %d, %d",
					tc.period, tot.Requests, tot.Failures, tot.PromptTokens, tc.requests, tc.failures, tc.prompt)
			}
			var keys []string
			for _, g := range sum.ByKey {
				keys = append(keys, g.Name)
			}
			if strings.Join(keys, ",") != strings.Join(tc.keys, ",") {
				t.Errorf("Summary(%s) keys = %v, want %v", tc.period, keys, tc.keys)
			}
			if tot.ThoughtTokens != tc.requests || tot.CachedTokens != 2*tc.requests {
				t.Errorf("Summary(%s) thought/cached = %d/%d", tc.period, tot.ThoughtTokens, tot.CachedTokens)
			}
		}
		// Detail checks on the 24h window.
		sum, err := s.Summary(context.Background(), 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if got := sum.Total.FailuresByClass; got["rate_limit"] != 1 || got["upstream_5xx"] != 1 || len(got) != 2 {
			t.Errorf("failures by class = %v", got)
		}
		if len(sum.ByPool) != 1 || sum.ByPool[0].Name != "main" || sum.ByPool[0].Requests != 4 {
			t.Errorf("ByPool = %+v", sum.ByPool)
		}
		if len(sum.ByToken) != 2 || sum.ByToken[0].Name != "alice" || sum.ByToken[0].Requests != 3 {
			t.Errorf("ByToken = %+v", sum.ByToken)
		}
		if len(sum.ByModel) != 2 {
			t.Errorf("ByModel = %+v", sum.ByModel)
		}
		// Latencies 40ms, 80ms, 700ms, 2.5s: p50 lands in (50ms,100ms], p99 in (2s,3s].
		if p := sum.Total.P50; p <= 50*time.Millisecond || p > 100*time.Millisecond {
			t.Errorf("p50 = %s", p)
		}
		if p := sum.Total.P99; p <= 2*time.Second || p > 3*time.Second {
			t.Errorf("p99 = %s", p)
		}
		if avg := sum.Total.LatencyAvg; avg != (40+80+700+2500)*time.Millisecond/4 {
			t.Errorf("latency avg = %s", avg)
		}
		if _, err := s.Summary(context.Background(), time.Second); !errors.Is(err, ErrBadQuery) {
			t.Errorf("Summary(1s) err = %v, want ErrBadQuery", err)
		}
	})
}

func TestSeries(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		s := mustOpen(t, engineCfg(t, engine))
		recordFixture(t, s)
		ctx := context.Background()
		pts, err := s.Series(ctx, time.Hour, time.Minute, SeriesFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(pts) < 60 || len(pts) > 62 {
			t.Fatalf("%d points for 1h/1m", len(pts))
		}
		var req, errs, prompt int64
		for i, p := range pts {
			req += p.Requests
			errs += p.Errors
			prompt += p.PromptTokens
			if i > 0 && p.Time.Sub(pts[i-1].Time) != time.Minute {
				t.Fatalf("point %d not one minute after the previous", i)
			}
		}
		if req != 3 || errs != 1 || prompt != 115 {
			t.Errorf("1h series sums: %d req %d err %d prompt; want 3 1 115", req, errs, prompt)
		}
		pts, err = s.Series(ctx, 24*time.Hour, time.Hour, SeriesFilter{KeyFP: "k2"})
		if err != nil {
			t.Fatal(err)
		}
		req, errs = 0, 0
		for _, p := range pts {
			req += p.Requests
			errs += p.Errors
		}
		if req != 2 || errs != 2 {
			t.Errorf("24h k2 hourly series: %d req %d err; want 2 2", req, errs)
		}
		for _, bad := range []struct{ period, step time.Duration }{
			{time.Hour, 30 * time.Second}, {time.Hour, 90 * time.Second}, {time.Minute, time.Hour}, {30 * 24 * time.Hour, time.Minute},
		} {
			if _, err := s.Series(ctx, bad.period, bad.step, SeriesFilter{}); !errors.Is(err, ErrBadQuery) {
				t.Errorf("Series(%s, %s) err = %v, want ErrBadQuery", bad.period, bad.step, err)
			}
		}
	})
}

func TestRecentErrors(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		cfg := engineCfg(t, engine)
		cfg.MaxBodyBytes = 100
		s := mustOpen(t, cfg)
		base := time.Now().Add(-time.Minute)
		long := strings.Repeat("é", 300) // 600 bytes, clipped on a rune boundary
		for i := 0; i < 25; i++ {
			key := "k1"
			if i%5 == 0 {
				key = "k2"
			}
			s.Record(Request{Time: base.Add(time.Duration(i) * time.Millisecond), KeyFP: key, ModelSent: "m",
				Token: "t", Status: 429, ErrorClass: "rate_limit", ErrorBody: `{"error":"quota"}` + long,
				RequestBody: "body\xff\xfe" + long, RequestID: strings.Repeat("r", 200)})
		}
		s.Record(Request{Time: base, KeyFP: "k1", ModelSent: "m", Status: 200}) // not an error
		waitWritten(t, s, 26)
		ctx := context.Background()

		var all []ErrorRecord
		cursor := ""
		for page := 0; page < 10; page++ {
			recs, err := s.RecentErrors(ctx, ErrorQuery{Limit: 10, Before: cursor})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, recs...)
			if len(recs) < 10 {
				break
			}
			cursor = recs[len(recs)-1].Cursor
		}
		if len(all) != 25 {
			t.Fatalf("paged %d error records, want 25", len(all))
		}
		for i := 1; i < len(all); i++ {
			if !all[i].Time.Before(all[i-1].Time) {
				t.Fatalf("records not newest first at %d", i)
			}
		}
		r := all[0]
		if len(r.ErrorBody) > 100 || !strings.HasPrefix(r.ErrorBody, `{"error":"quota"}`) || len(r.RequestBody) > 100 {
			t.Errorf("bodies not capped: %d/%d bytes", len(r.ErrorBody), len(r.RequestBody))
		}
		if strings.Contains(r.RequestBody, "\xff") || strings.ContainsRune(r.ErrorBody, '\uFFFD') {
			t.Errorf("bad UTF-8 handling: %q", r.RequestBody[:10])
		}
		if len(r.RequestID) != lenID || r.Status != 429 || r.ErrorClass != "rate_limit" || r.ModelSent != "m" || r.Instance == "" {
			t.Errorf("record = %+v", r.Request)
		}

		recs, err := s.RecentErrors(ctx, ErrorQuery{KeyFP: "k2", Status: 429, ErrorClass: "rate_limit", Model: "m", Token: "t", Since: base})
		if err != nil || len(recs) != 5 {
			t.Fatalf("k2 filter: %d records, %v; want 5", len(recs), err)
		}
		reqs, err := s.RecentRequests(ctx, ListQuery{KeyFP: "k1", Status: 200})
		if err != nil || len(reqs) != 1 {
			t.Fatalf("RecentRequests k1/200: %d, %v", len(reqs), err)
		}
		for _, bad := range []ErrorQuery{{Limit: -1}, {Limit: 1001}, {Before: "x"}, {Before: "1.-2"}, {Before: "1"}, {Status: 1000}} {
			if _, err := s.RecentErrors(ctx, bad); !errors.Is(err, ErrBadQuery) {
				t.Errorf("RecentErrors(%+v) err = %v, want ErrBadQuery", bad, err)
			}
		}
		if _, err := s.RecentRequests(ctx, ListQuery{ErrorClass: "x"}); !errors.Is(err, ErrBadQuery) {
			t.Errorf("RecentRequests with error class: %v", err)
		}
	})
}

func TestCloseFlushesQueue(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		cfg := engineCfg(t, engine)
		cfg.FlushInterval = time.Hour // only Close can flush a partial batch
		cfg.BatchSize = 5000
		ctx := context.Background()
		s, err := Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 1000; i++ {
			s.Record(Request{KeyFP: "k", ModelSent: "m", Status: 200})
		}
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := s.Close(cctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if h := s.Health(); h.Written != 1000 || h.Dropped != 0 || h.Queued != 0 {
			t.Fatalf("after Close: %+v", h)
		}
		s.Record(Request{}) // after Close: counted, not a panic
		if s.Health().Dropped != 1 {
			t.Errorf("record after close not counted as dropped")
		}
		if err := s.Close(ctx); !errors.Is(err, ErrClosed) {
			t.Errorf("second Close = %v, want ErrClosed", err)
		}
		s2 := mustOpen(t, cfg)
		if n := countRows(t, s2, "requests"); n != 1000 {
			t.Fatalf("%d rows after reopen, want 1000", n)
		}
		sum, err := s2.Summary(ctx, time.Hour)
		if err != nil || sum.Total.Requests != 1000 {
			t.Fatalf("rollup after reopen: %d, %v", sum.Total.Requests, err)
		}
	})
}

func TestRetentionPrunes(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		cfg := engineCfg(t, engine)
		cfg.Retention = Retention{Requests: time.Hour, Errors: 2 * time.Hour, MinuteRollups: 2 * time.Hour, Rollups: 24 * time.Hour}
		s := mustOpen(t, cfg)
		now := time.Now()
		ages := []time.Duration{time.Minute, 90 * time.Minute, 3 * time.Hour, 48 * time.Hour}
		for _, a := range ages {
			for i := 0; i < 3; i++ {
				s.Record(Request{Time: now.Add(-a), KeyFP: "k", Status: 500, ErrorClass: "upstream_5xx"})
			}
		}
		waitWritten(t, s, uint64(3*len(ages)))
		if _, err := s.pruneOnce(); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			table string
			want  int
		}{
			{"requests", 3},  // 1m only
			{"errors", 6},    // 1m, 90m
			{"rollup_1m", 2}, // buckets at 1m and 90m
			{"rollup_1h", 0}, // filled below
		} {
			if tc.table == "rollup_1h" {
				var n int
				if err := s.rdb.QueryRow("SELECT COUNT(*) FROM rollup_1h WHERE bucket < ?", now.Add(-25*time.Hour).UnixMilli()).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("rollup_1h has %d rows older than retention", n)
				}
				continue
			}
			if n := countRows(t, s, tc.table); n != tc.want {
				t.Errorf("%s: %d rows after prune, want %d", tc.table, n, tc.want)
			}
		}
	})
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// A missing directory is created, so make one that cannot be: its
	// parent is a file (this holds for root too).
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown driver", Config{Driver: "postgres", DSN: "x"}, "unknown driver"},
		{"empty sqlite path", Config{Driver: "sqlite"}, "empty database path"},
		{"sqlite dir cannot be created", Config{DSN: filepath.Join(notDir, "dir", "stats.db")}, "create the database directory"},
		{"mysql bad dsn", Config{Driver: "mysql", DSN: "not a dsn"}, "bad DSN"},
		{"mysql no db", Config{Driver: "mysql", DSN: "root@tcp(127.0.0.1:3306)/"}, "names no database"},
		{"mysql unreachable", Config{Driver: "mysql", DSN: "root@tcp(127.0.0.1:1)/x?timeout=1s"}, "cannot connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = quietLogger()
			s, err := Open(ctx, tc.cfg)
			if err == nil {
				_ = s.Close(ctx)
				t.Fatalf("Open succeeded, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"ééé", 2, "éé"},
		{"a\xffb", 5, "a\uFFFDb"},
	} {
		if got := clip(tc.in, tc.n); got != tc.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
	if got := clipBytes("éé", 3); got != "é" {
		t.Errorf("clipBytes cut inside a rune: %q", got)
	}
}

func TestHistogramQuantile(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 {
		t.Fatal("empty histogram quantile not 0")
	}
	for _, d := range []time.Duration{10 * time.Millisecond, 60 * time.Millisecond, 70 * time.Millisecond, 10 * time.Minute} {
		h[bucketOf(d)]++
	}
	for _, tc := range []struct {
		q      float64
		lo, hi time.Duration
	}{
		{0.25, 0, 50 * time.Millisecond},
		{0.5, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 120 * time.Second, 120 * time.Second},
	} {
		if got := h.Quantile(tc.q); got < tc.lo || got > tc.hi {
			t.Errorf("Quantile(%v) = %s, want in [%s, %s]", tc.q, got, tc.lo, tc.hi)
		}
	}
}

func TestInMemoryAndDerivedFields(t *testing.T) {
	s := mustOpen(t, Config{DSN: ":memory:", Logger: quietLogger(), FlushInterval: 5 * time.Millisecond})
	s.Record(Request{ModelAsked: "gemini-pro-latest", KeyFP: "k", Status: 503})
	s.Record(Request{ModelAsked: "alias", ModelSent: "gemini-2.5-pro", KeyFP: "k", Status: 200})
	waitWritten(t, s, 2)
	sum, err := s.Summary(context.Background(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Total.FailuresByClass["http_503"] != 1 {
		t.Errorf("status 503 without a class: failures = %v, want http_503", sum.Total.FailuresByClass)
	}
	var models []string
	for _, g := range sum.ByModel {
		models = append(models, g.Name)
	}
	if strings.Join(models, ",") != "gemini-2.5-pro,gemini-pro-latest" {
		t.Errorf("models = %v: want the model as sent, else as asked", models)
	}
	if h := s.Health(); h.Driver != "sqlite" || !h.OK || h.QueueCap != DefaultQueueSize {
		t.Errorf("health = %+v", h)
	}
}
