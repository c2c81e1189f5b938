package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseStatTicks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    int64
		wantErr bool
	}{
		// Fields 14 and 15 (utime, stime) are 250 and 50.
		{"plain", "4242 (balance) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50 0 0 20 0 9 0 100 0 0", 300, false},
		{"name with spaces and parens", "77 (my (odd) proc) R 1 77 77 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 5", 10, false},
		{"zero", "1 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5", 0, false},
		{"no paren", "1 x S 0 1 1 0 -1 0 0 0 0 0 0 0", 0, true},
		{"truncated", "1 (x) S 0 1 1 0 -1 0 0 0 0 0", 0, true},
		{"not a number", "1 (x) S 0 1 1 0 -1 0 0 0 0 0 abc 3 0", 0, true},
		{"negative", "1 (x) S 0 1 1 0 -1 0 0 0 0 0 -5 3 0", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatTicks([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("got %d ticks, want %d", got, tc.want)
			}
		})
	}
}

func TestParseStatusMem(t *testing.T) {
	good := "Name:\tbalance\nVmPeak:\t 1000 kB\nVmHWM:\t   9000 kB\nVmRSS:\t   7340 kB\nThreads:\t9\n"
	rss, hwm, err := parseStatusMem([]byte(good))
	if err != nil || rss != 7340 || hwm != 9000 {
		t.Fatalf("got rss=%d hwm=%d err=%v, want 7340 9000 nil", rss, hwm, err)
	}
	for _, bad := range []string{
		"VmRSS:\t 7340 kB\n",                // no VmHWM
		"VmRSS:\t 7340 MB\nVmHWM:\t 1 kB\n", // wrong unit
		"VmRSS:\t x kB\nVmHWM:\t 1 kB\n",    // not a number
		"VmRSS:\t 1 2 kB\nVmHWM:\t 1 kB\n",  // extra field
		"",
	} {
		if _, _, err := parseStatusMem([]byte(bad)); err == nil {
			t.Errorf("parseStatusMem(%q) accepted malformed input", bad)
		}
	}
}

// The benchmark reads its own /proc entries as a live check of both parsers.
func TestProcSelf(t *testing.T) {
	if _, err := cpuTicks(selfPID()); err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	m := startCPU(selfPID())
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) { // burn a little CPU
	}
	if us := m.micros(); us < 0 {
		t.Fatalf("negative CPU time %v", us)
	}
	rss, hwm, err := memKB(selfPID())
	if err != nil || rss <= 0 || hwm < rss {
		t.Fatalf("rss=%d hwm=%d err=%v", rss, hwm, err)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	for _, tc := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(5, 1, 4, 2, 3), 50, 3 * time.Millisecond},
		{ms(5, 1, 4, 2, 3), 100, 5 * time.Millisecond},
		{ms(5, 1, 4, 2, 3), 0, 1 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
	} {
		if got := percentile(tc.in, tc.p); got != tc.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tc.in, tc.p, got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want stat
	}{
		{nil, stat{}},
		{[]float64{0.5}, stat{0.5, 0.5, 0.5}},
		{[]float64{0.3, 0.1, 0.2}, stat{0.2, 0.1, 0.3}},
		{[]float64{4, 1, 3, 2}, stat{2.5, 1, 4}},
	} {
		if got := summarize(tc.in); got != tc.want {
			t.Errorf("summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	in := []float64{3, 1, 2}
	summarize(in)
	if in[0] != 3 {
		t.Error("summarize reordered its input")
	}
}

// The ranks are the textbook ones for a 95 % distribution-free interval
// on the median (e.g. n = 15: 4th to 12th, coverage 96.5 %).
func TestMedianCIRank(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{0, 0}, {1, 0}, {5, 0}, {6, 1}, {8, 1}, {9, 2}, {10, 2}, {12, 3}, {15, 4}, {20, 6}, {25, 8},
	} {
		if got := medianCIRank(tc.n); got != tc.want {
			t.Errorf("medianCIRank(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestSpreadVerdict(t *testing.T) {
	seq := func(from, step float64, n int) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = from + step*float64(n-1-i) // descending: spreadOf must sort
		}
		return xs
	}
	for _, tc := range []struct {
		name    string
		xs      []float64
		target  float64
		atLeast bool
		want    string
	}{
		// 15 samples 0.80 … 0.94: the interval is the 4th–12th, 0.83–0.91.
		{"straddles", seq(0.80, 0.01, 15), 0.85, true, "undecided: the interval straddles the target"},
		{"above", seq(0.80, 0.01, 15), 0.83, true, "met with 95 % confidence"},
		{"below", seq(0.80, 0.01, 15), 0.92, true, "missed with 95 % confidence"},
		{"at most, met", seq(10, 1, 15), 21, false, "met with 95 % confidence"},
		{"at most, missed", seq(10, 1, 15), 12, false, "missed with 95 % confidence"},
		{"too few", seq(1, 1, 5), 0, true, "too few rounds to claim"},
	} {
		sp := spreadOf(tc.xs)
		if got := sp.verdict(tc.target, tc.atLeast); got != tc.want {
			t.Errorf("%s: verdict = %q (spread %+v), want %q", tc.name, got, sp, tc.want)
		}
	}
	sp := spreadOf(seq(0.80, 0.01, 15))
	if got, want := sp.format(2, ""), "0.87 [95 % CI 0.83–0.91] (min–max 0.80–0.94, 15 rounds)"; got != want {
		t.Errorf("format = %q, want %q", got, want)
	}
}

func TestReportTable(t *testing.T) {
	b := &bench{opt: options{scenarios: []string{"x"}, rounds: 1, duration: time.Second, conns: 1, rate: 1, streams: 1}, root: t.TempDir()}
	b.row("s1", "ratio", "0.5 | 0.6", "≥ 0.42", true)
	b.row("s1", "cpu", "31 µs", "≤ 30 µs", false)
	b.info("s2", "note", "line1\nline2")
	b.skip("s3", "not wired")
	out := b.report(time.Second)
	for _, want := range []string{
		"| s1 | ratio | 0.5 \\| 0.6 | ≥ 0.42 | PASS |",
		"| 〃 | cpu | 31 µs | ≤ 30 µs | MISS |",
		"| s2 | note | line1 line2 | — | info |",
		"| s3 | skipped | not wired | — | SKIP |",
		"1 PASS, 1 MISS",
		"GOMAXPROCS=",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestProxyConfigShape(t *testing.T) {
	cfg := proxyConfig("127.0.0.1:9", []string{"key-000", "key-001"}, "/tmp/d", "", "")
	for _, want := range []string{`base_url = "http://127.0.0.1:9"`, `keys     = ["key-000", "key-001"]`, `secret = "` + clientToken + `"`, `store { driver = "none" }`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
}

func TestBigBodySize(t *testing.T) {
	b := bigBody(6_000_000)
	if n := len(b); n < 6_000_000 || n > 6_000_200 {
		t.Fatalf("big body is %d bytes, want about 6,000,000", n)
	}
}

func FuzzParseStatTicks(f *testing.F) {
	f.Add([]byte("4242 (balance) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50 0 0 20 0 9 0 100 0 0"))
	f.Add([]byte("1 ()) S"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := parseStatTicks(b)
		if err == nil && n < 0 {
			t.Fatalf("negative ticks %d without error", n)
		}
	})
}

func FuzzParseStatusMem(f *testing.F) {
	f.Add([]byte("VmHWM:\t9000 kB\nVmRSS:\t7340 kB\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rss, hwm, err := parseStatusMem(b)
		if err == nil && (rss < 0 || hwm < 0) {
			t.Fatalf("negative memory rss=%d hwm=%d without error", rss, hwm)
		}
	})
}

func TestParseHookCounters(t *testing.T) {
	doc := []byte(`{"generation":1,"hooks":[{"name":"noop","calls":10,"changed":0,"errors":0},{"name":"sysprompt","calls":7,"changed":7,"errors":2}]}`)
	tests := []struct {
		name    string
		body    []byte
		hook    string
		want    hookCounters
		wantErr string
	}{
		{"first", doc, "noop", hookCounters{calls: 10}, ""},
		{"second", doc, "sysprompt", hookCounters{calls: 7, changed: 7, errors: 2}, ""},
		{"absent", doc, "other", hookCounters{}, `no hook "other"`},
		{"no hooks member", []byte(`{"generation":1}`), "noop", hookCounters{}, "did not load it"},
		{"not JSON", []byte(`<html>`), "noop", hookCounters{}, "status JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHookCounters(tt.body, tt.hook)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestHookBlock(t *testing.T) {
	for _, g := range hookGuests {
		blk := hookBlock(g, "/tmp/x/"+g.name+".wasm")
		for _, want := range []string{`hook "` + g.name + `" {`, `module = "/tmp/x/` + g.name + `.wasm"`, `phases = ["request"]`} {
			if !strings.Contains(blk, want) {
				t.Errorf("%s: block lacks %q:\n%s", g.name, want, blk)
			}
		}
		if hasCfg := strings.Contains(blk, "config = "); hasCfg != (g.config != "") {
			t.Errorf("%s: config line present = %v, want %v:\n%s", g.name, hasCfg, g.config != "", blk)
		}
	}
	cfg := proxyConfig("127.0.0.1:9", []string{"key-000"}, "/tmp/d", "", statusBlock())
	if !strings.Contains(cfg, `token = "`+statusToken+`"`) {
		t.Errorf("status block missing from config:\n%s", cfg)
	}
}

func FuzzParseHookCounters(f *testing.F) {
	f.Add([]byte(`{"hooks":[{"name":"noop","calls":1}]}`))
	f.Add([]byte(`{"hooks":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseHookCounters(b, "noop")
		if err != nil && c != (hookCounters{}) {
			t.Fatalf("error %v with non-zero counters %+v", err, c)
		}
	})
}

func TestParseLoadAvg(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"1.21 2.19 4.31 3/412 12345\n", "1.21 / 2.19 / 4.31"},
		{"0.00 0.01 0.05", "0.00 / 0.01 / 0.05"},
		{"1.0 2.0", "?"},
		{"", "?"},
	} {
		if got := parseLoadAvg(tt.in); got != tt.want {
			t.Errorf("parseLoadAvg(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseStoreCounters(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    storeCounters
		wantErr string
	}{
		{"healthy", `{"store":{"driver":"sqlite","written":120,"dropped":0,"failed_batches":0}}`, storeCounters{written: 120}, ""},
		{"failing", `{"store":{"written":5,"dropped":7,"failed_batches":2,"last_error":"database is locked"}}`,
			storeCounters{written: 5, dropped: 7, failed: 2, lastError: "database is locked"}, ""},
		{"no store", `{"generation":1}`, storeCounters{}, "no store member"},
		{"not JSON", `nope`, storeCounters{}, "status JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStoreCounters([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	d := storeCounters{written: 10, dropped: 1, failed: 1, lastError: "x"}.sub(storeCounters{written: 4, dropped: 1})
	if d != (storeCounters{written: 6, failed: 1, lastError: "x"}) {
		t.Errorf("sub = %+v", d)
	}
}

func TestParseProcIO(t *testing.T) {
	good := "rchar: 6976\nwchar: 0\nsyscr: 10\nsyscw: 3\nread_bytes: 0\n"
	r, w, err := parseProcIO([]byte(good))
	if err != nil || r != 10 || w != 3 {
		t.Fatalf("got %d %d %v, want 10 3 nil", r, w, err)
	}
	for _, bad := range []string{"syscr: 1\n", "syscr: x\nsyscw: 1\n", "syscr: -1\nsyscw: 1\n", ""} {
		if _, _, err := parseProcIO([]byte(bad)); err == nil {
			t.Errorf("parseProcIO(%q) accepted malformed input", bad)
		}
	}
	if _, _, err := syscalls(selfPID()); err != nil {
		t.Skipf("no /proc/self/io here: %v", err)
	}
}
