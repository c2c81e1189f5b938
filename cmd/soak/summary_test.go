package main

import (
	"strings"
	"testing"
	"time"
)

func samplesOver(total time.Duration, value func(at time.Duration) int64) []Sample {
	var out []Sample
	for at := time.Duration(0); at <= total; at += total / 40 {
		v := value(at)
		out = append(out, Sample{At: at, RSS: v << 20, Goroutines: int(v)})
	}
	return out
}

func TestFlatness(t *testing.T) {
	total := 8 * time.Minute
	rss := func(s Sample) float64 { return float64(s.RSS) }
	tests := []struct {
		name  string
		value func(at time.Duration) int64
		want  bool
	}{
		{"flat after a warm-up", func(at time.Duration) int64 {
			if at < total/4 {
				return 20 + int64(at/time.Second)
			}
			return 120
		}, true},
		{"within tolerance", func(at time.Duration) int64 { return 100 + int64(at/total*10) }, true},
		{"steady leak", func(at time.Duration) int64 { return 100 + int64(at/time.Second) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := flatness(samplesOver(total, tt.value), total, rss, rssFactor, rssSlack)
			if f.OK != tt.want {
				t.Fatalf("flatness = %+v, want OK=%t", f, tt.want)
			}
		})
	}
	if f := flatness(nil, total, rss, rssFactor, rssSlack); f.OK {
		t.Fatal("no samples judged flat")
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond, 0: time.Millisecond} {
		if got := percentile(d, p); got != want {
			t.Errorf("p%.0f = %s, want %s", p, got, want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

func TestCancelFigure(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	results := []Result{
		{ID: 1, Outcome: OutcomeCancelled, CancelAt: at(100)}, // never reached upstream
		{ID: 2, Outcome: OutcomeCancelled, CancelAt: at(100)}, // upstream done first
		{ID: 3, Outcome: OutcomeCancelled, CancelAt: at(100)}, // closed 30ms later
		{ID: 4, Outcome: OutcomeCancelled, CancelAt: at(100)}, // a retry ran on 1.4s
		{ID: 5, Outcome: OutcomeOK},
	}
	calls := map[int64][]upstreamCall{
		2: {{Start: at(0), End: at(50), How: "answered"}},
		3: {{Start: at(0), End: at(130), How: "closed by balance"}},
		4: {{Start: at(0), End: at(90), How: "answered"}, {Start: at(95), End: at(1500), How: "answered"}},
		5: {{Start: at(0), End: at(5000), How: "answered"}},
	}
	f := cancelFigure(results, func(id int64) []upstreamCall { return calls[id] })
	if f.Cancelled != 4 || f.NeverUpstream != 1 || f.DoneBeforeCancel != 1 || len(f.Outlived) != 2 {
		t.Fatalf("figure = %+v", f)
	}
	if f.Outlived[0] != 30*time.Millisecond || f.Outlived[1] != 1400*time.Millisecond || f.Over(cancelTarget) != 1 {
		t.Fatalf("outlived = %v, over = %d", f.Outlived, f.Over(cancelTarget))
	}
}

// passingReport is a run in which every assertion holds.
func passingReport() *Report {
	total := 4 * time.Minute
	r := &Report{Planned: total, Elapsed: total,
		Results: []Result{{ID: 1, Route: NativeUnary, Outcome: OutcomeOK}, {ID: 2, Route: OpenAIStream, Outcome: OutcomeCleanError},
			{ID: 3, Route: NativeStream, Outcome: OutcomeCancelled}},
		Store:   StoreFacts{ClientRequests: 3, Written: 3, OK: true, Counts: storeCounts{Rows: 3, RollupTotal: 3}},
		Samples: samplesOver(total, func(time.Duration) int64 { return 50 }),
		Cancel:  CancelFigure{Cancelled: 1, Outlived: []time.Duration{2 * time.Second}},
	}
	r.judge()
	return r
}

func TestFailures(t *testing.T) {
	if f := passingReport().Failures(); len(f) != 0 {
		t.Fatalf("a clean run failed: %q", f)
	}
	tests := []struct {
		name   string
		mutate func(r *Report)
		want   string
	}{
		{"silent cut", func(r *Report) {
			r.Results = append(r.Results, Result{Route: OpenAIStream, Outcome: OutcomeBad, Reason: "stream ended without [DONE]"})
		}, "neither a 2xx nor a clean error"},
		{"lost rows", func(r *Report) { r.Store.Counts.Rows, r.Store.Counts.RollupTotal = 2, 2 }, "1 missing"},
		{"dropped", func(r *Report) { r.Store.Dropped = 5 }, "dropped 5"},
		{"store still failing", func(r *Report) { r.Store.OK = false }, "store.ok=false"},
		{"secret in log", func(r *Report) { r.LogSecrets = map[string]int{"AIzaSoakABCDEFGH": 1} }, "AIza…EFGH"},
		{"secret in database", func(r *Report) { r.DBSecrets = map[string]int{"errors.body": 2} }, "errors.body"},
		{"leak", func(r *Report) {
			r.Samples = samplesOver(r.Elapsed, func(at time.Duration) int64 { return 50 + int64(at/time.Second) })
			r.judge()
		}, "not flat"},
		{"slow cancel required", func(r *Report) { r.RequireCancel = true }, "outlived their cancelled client"},
		{"broken config served", func(r *Report) { r.Reloads.Failures = []string{"broken config \"syntax\" was not refused"} }, "not refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := passingReport()
			tt.mutate(r)
			f := strings.Join(r.Failures(), "\n")
			if !strings.Contains(f, tt.want) {
				t.Fatalf("failures %q do not mention %q", f, tt.want)
			}
			var out strings.Builder
			r.Print(&out)
			if !strings.Contains(out.String(), "FAIL") {
				t.Fatalf("summary does not say FAIL:\n%s", out.String())
			}
		})
	}
	var out strings.Builder
	passingReport().Print(&out)
	if !strings.HasSuffix(out.String(), "PASS\n") || strings.Count(out.String(), "\n") > 24 {
		t.Fatalf("summary of a clean run is not one screen ending in PASS:\n%s", out.String())
	}
}
