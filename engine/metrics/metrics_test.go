package metrics

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/balanceproxy/balance/store"
)

// scrape writes m and parses it back, so tests check what a Prometheus
// server would read rather than the registry's internals.
func scrape(t testing.TB, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	var buf bytes.Buffer
	if err := m.Write(&buf); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("output is not valid text format: %v", err)
	}
	return mfs
}

// value finds the sample of family name whose labels include want.
func value(t testing.TB, mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	t.Helper()
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestObserveCounts(t *testing.T) {
	m := New(Options{})
	reqs := []store.Request{
		{Pool: "main", Token: "alice", Protocol: "gemini", Status: 200, Attempts: 1, Latency: 120 * time.Millisecond, TTFB: 40 * time.Millisecond, PromptTokens: 10, CompletionTokens: 20, ThoughtTokens: 5, CachedTokens: 2},
		{Pool: "main", Token: "alice", Protocol: "gemini", Status: 200, Attempts: 2, Latency: 3 * time.Second, Streamed: true, PromptTokens: 1},
		{Pool: "main", Token: "alice", Protocol: "gemini", Status: 429, ErrorClass: "rate_limited", Attempts: 3, Latency: time.Second},
		{Pool: "main", Token: "bob", Protocol: "openai", Status: 502, ErrorClass: "transport", Attempts: 1},
		{Pool: "", Token: "bob", Protocol: "openai", Status: 400, ErrorClass: "client_error"},
	}
	for i := range reqs {
		m.Observe(&reqs[i])
	}
	mfs := scrape(t, m)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"balance_requests_total", map[string]string{"pool": "main", "token": "alice", "protocol": "gemini"}, 3},
		{"balance_requests_total", map[string]string{"pool": "main", "token": "bob", "protocol": "openai"}, 1},
		{"balance_requests_total", map[string]string{"pool": "", "token": "bob"}, 1},
		{"balance_request_errors_total", map[string]string{"pool": "main", "token": "alice", "class": "rate_limited"}, 1},
		{"balance_request_errors_total", map[string]string{"pool": "main", "token": "bob", "class": "transport"}, 1},
		{"balance_request_errors_total", map[string]string{"pool": "", "class": "client_error"}, 1},
		{"balance_upstream_attempts_total", map[string]string{"pool": "main"}, 7},
		{"balance_streamed_requests_total", map[string]string{"pool": "main"}, 1},
		{"balance_tokens_total", map[string]string{"pool": "main", "token": "alice", "kind": "prompt"}, 11},
		{"balance_tokens_total", map[string]string{"pool": "main", "token": "alice", "kind": "completion"}, 20},
		{"balance_tokens_total", map[string]string{"pool": "main", "token": "alice", "kind": "thought"}, 5},
		{"balance_tokens_total", map[string]string{"pool": "main", "token": "alice", "kind": "cached"}, 2},
		{"balance_request_duration_seconds", map[string]string{"pool": "main", "protocol": "gemini"}, 3},
		{"balance_time_to_first_byte_seconds", map[string]string{"pool": "main"}, 1},
	} {
		got, ok := value(t, mfs, tc.name, tc.labels)
		if !ok || got != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	// Success lines must not create an error series with an empty class.
	if _, ok := value(t, mfs, "balance_request_errors_total", map[string]string{"class": ""}); ok {
		t.Error("a successful request created an error series")
	}
	// The histogram uses the store's bounds, so both views resolve alike.
	h := mfs["balance_request_duration_seconds"].GetMetric()[0].GetHistogram()
	if len(h.GetBucket()) != len(store.LatencyBounds)+1 { // +Inf
		t.Errorf("%d buckets, want %d", len(h.GetBucket()), len(store.LatencyBounds)+1)
	}
}

func TestSnapshotAtScrape(t *testing.T) {
	m := New(Options{})
	// Without a source the registry still scrapes.
	if mfs := scrape(t, m); mfs["balance_keys"] != nil {
		t.Fatal("key gauges without a source")
	}
	calls := 0
	m.SetSource(func() Snapshot {
		calls++
		return Snapshot{
			Keys:     []KeyCount{{Pool: "main", State: "healthy", Keys: 3}, {Pool: "main", State: "cooling", Keys: calls}},
			InFlight: 4, Generation: 7, ReloadsApplied: 6, ReloadsRejected: 2, ReloadsUnchanged: 9,
			Store: &store.Health{OK: false, Queued: 10, Pending: 5, QueueCap: 64, Written: 100, Dropped: 12, KeyStateDropped: 1, FailedBatches: 3, Lag: 1500 * time.Millisecond},
		}
	})
	scrape(t, m)
	mfs := scrape(t, m)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"balance_keys", map[string]string{"pool": "main", "state": "healthy"}, 3},
		// Read at each scrape, not cached: the second scrape sees 2.
		{"balance_keys", map[string]string{"pool": "main", "state": "cooling"}, 2},
		{"balance_in_flight_requests", nil, 4},
		{"balance_config_generation", nil, 7},
		{"balance_config_reloads_total", map[string]string{"result": "applied"}, 6},
		{"balance_config_reloads_total", map[string]string{"result": "rejected"}, 2},
		{"balance_config_reloads_total", map[string]string{"result": "unchanged"}, 9},
		{"balance_store_up", nil, 0},
		{"balance_store_queue_depth", nil, 15},
		{"balance_store_queue_capacity", nil, 64},
		{"balance_store_written_rows_total", nil, 100},
		{"balance_store_dropped_rows_total", map[string]string{"kind": "request"}, 12},
		{"balance_store_dropped_rows_total", map[string]string{"kind": "key_state"}, 1},
		{"balance_store_failed_batches_total", nil, 3},
		{"balance_store_lag_seconds", nil, 1.5},
	} {
		got, ok := value(t, mfs, tc.name, tc.labels)
		if !ok || got != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	if mfs["go_goroutines"] == nil || mfs["process_start_time_seconds"] == nil && mfs["go_info"] == nil {
		t.Error("runtime collectors missing")
	}
}

func TestBadLabelsDoNotPanic(t *testing.T) {
	m := New(Options{})
	m.Observe(&store.Request{Pool: "p\xff", Token: "t\xfe", Protocol: "gemini", ErrorClass: "x\xff"})
	m.SetSource(func() Snapshot { return Snapshot{Keys: []KeyCount{{Pool: "\xff", State: "healthy", Keys: 1}}} })
	scrape(t, m)
}

func TestLabelSetsAreBounded(t *testing.T) {
	const maxLines = 64
	m := New(Options{MaxLabelSets: maxLines})
	for i := range maxLines + 50 {
		m.Observe(&store.Request{Pool: fmt.Sprintf("p%d", i), Token: "t", Protocol: "gemini"})
	}
	m.Observe(&store.Request{Pool: "late", Token: "t", Protocol: "gemini", ErrorClass: "quota"})
	mfs := scrape(t, m)
	if n := len(mfs["balance_requests_total"].GetMetric()); n > maxLines+1 {
		t.Fatalf("%d series, want at most %d", n, maxLines+1)
	}
	if got, _ := value(t, mfs, "balance_requests_total", map[string]string{"pool": overflow}); got != 51 {
		t.Fatalf("overflow line counted %v, want 51", got)
	}
	if got, _ := value(t, mfs, "balance_request_errors_total", map[string]string{"pool": overflow, "class": overflow}); got != 1 {
		t.Fatalf("overflow error line counted %v, want 1", got)
	}

	// The cap is per registry: one built with the default beside it keeps
	// every label set.
	d := New(Options{})
	for i := range maxLines + 50 {
		d.Observe(&store.Request{Pool: fmt.Sprintf("p%d", i), Token: "t", Protocol: "gemini"})
	}
	if n := len(scrape(t, d)["balance_requests_total"].GetMetric()); n != maxLines+50 {
		t.Fatalf("default cap: %d series, want %d", n, maxLines+50)
	}
}

func TestWriteIsTextFormat(t *testing.T) {
	m := New(Options{})
	m.Observe(&store.Request{Pool: "main", Token: "a", Protocol: "gemini", Latency: time.Second})
	var buf bytes.Buffer
	if err := m.Write(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"# HELP balance_requests_total ",
		"# TYPE balance_requests_total counter",
		`balance_requests_total{pool="main",protocol="gemini",token="a"} 1`,
		`balance_request_duration_seconds_bucket{pool="main",protocol="gemini",le="1"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !strings.HasPrefix(ContentType, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ContentType)
	}
}

// BenchmarkObserve measures the per-request cost on the hot path against
// the naive WithLabelValues per request, in the same run; "cached" should
// be several times cheaper and allocation-free.
func BenchmarkObserve(b *testing.B) {
	rec := store.Request{Pool: "main", Token: "alice", Protocol: "gemini", Status: 200, Attempts: 1,
		Latency: 800 * time.Millisecond, TTFB: 200 * time.Millisecond, PromptTokens: 12, CompletionTokens: 40}
	b.Run("cached", func(b *testing.B) {
		m := New(Options{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := rec
			for pb.Next() {
				m.Observe(&r)
			}
		})
	})
	b.Run("with_label_values", func(b *testing.B) {
		m := New(Options{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := rec
			for pb.Next() {
				m.requests.WithLabelValues(r.Pool, r.Token, r.Protocol).Inc()
				m.attempts.WithLabelValues(r.Pool).Add(float64(r.Attempts))
				m.tokens.WithLabelValues(r.Pool, r.Token, "prompt").Add(float64(r.PromptTokens))
				m.tokens.WithLabelValues(r.Pool, r.Token, "completion").Add(float64(r.CompletionTokens))
				m.latency.WithLabelValues(r.Pool, r.Protocol).Observe(r.Latency.Seconds())
				m.ttfb.WithLabelValues(r.Pool).Observe(r.TTFB.Seconds())
			}
		})
	})
}
