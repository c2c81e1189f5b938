package reload_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// bigConfig is 5,000 keys in 10 pools and 200 tokens; version changes a
// comment so each call has a new hash and really rebuilds the runtime.
func bigConfig(mockURL string, version int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# version %d\nupstream \"mock\" {\n  base_url = %q\n}\n", version, mockURL)
	for p := 0; p < 10; p++ {
		fmt.Fprintf(&b, "pool \"p%d\" {\n  upstream = \"mock\"\n  keys = [\n", p)
		for k := 0; k < 500; k++ {
			fmt.Fprintf(&b, "    \"bench-key-%02d-%04d\",\n", p, k)
		}
		b.WriteString("  ]\n}\n")
	}
	for t := 0; t < 200; t++ {
		fmt.Fprintf(&b, "token \"t%03d\" {\n  secret = \"sk-bench-token-%04d\"\n  pools  = [\"p%d\", \"p%d\"]\n  rpm    = 600\n  labels = { team = \"team-%d\" }\n}\n",
			t, t, t%10, (t+1)%10, t%7)
	}
	// The harness's client token, so the load test can reuse this.
	fmt.Fprintf(&b, "token \"client\" {\n  secret = %q\n  pools  = [\"p0\"]\n}\n", clientToken)
	return b.String()
}

// BenchmarkReload5000Keys is one reload of a 5,000-key, 200-token config:
// read, parse, validate, build the new runtime and swap it in.
func BenchmarkReload5000Keys(b *testing.B) {
	f := newFixture(b, func(u string) string { return bigConfig(u, 0) }, fixtureOpts{noRun: true})
	versions := [2]string{bigConfig(f.mock.URL(), 1), bigConfig(f.mock.URL(), 2)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		writeAtomic(b, f.path, versions[i%2])
		b.StartTimer()
		if !f.rl.Reload() {
			b.Fatalf("reload %d not applied: %+v", i, f.srv.Snapshot(time.Now()).Reloads)
		}
	}
	b.StopTimer()
	if g := f.generation(); g != uint64(b.N+1) {
		b.Fatalf("generation %d after %d reloads", g, b.N)
	}
}

// BenchmarkReloadUnderLoad runs a steady load of 8 clients, first with no
// reloads and then through 100 file-triggered reloads, in the same run, and
// reports p50/p99 latency of both phases and the failed requests (which
// must be zero). It is slow, so it runs only with -bench:
//
//	go test -run '^$' -bench ReloadUnderLoad -benchtime 1x ./engine/reload
func BenchmarkReloadUnderLoad(b *testing.B) {
	for i := 0; i < b.N; i++ {
		f := newFixture(b, staticConfig(keysA), fixtureOpts{debounce: 10 * time.Millisecond})
		const clients, reloads = 8, 100

		stop := make(chan struct{})
		base := startLoad(f, clients, stop)
		time.Sleep(2 * time.Second)
		close(stop)
		base.wait()

		stop = make(chan struct{})
		during := startLoad(f, clients, stop)
		start := time.Now()
		for r := 0; r < reloads; r++ {
			keys := keysA
			if r%2 == 0 {
				keys = keysB
			}
			writeAtomic(b, f.path, configFor(f.mock.URL(), keys, ""))
			f.waitGeneration(uint64(r + 2))
		}
		elapsed := time.Since(start)
		close(stop)
		during.wait()

		failed := len(base.failures) + len(during.failures)
		if failed > 0 {
			b.Errorf("%d requests failed (first: %v %v)", failed, base.failures, during.failures)
		}
		b.ReportMetric(float64(failed), "failed")
		b.ReportMetric(ms(percentile(base.latencies, 50)), "p50-ms-steady")
		b.ReportMetric(ms(percentile(base.latencies, 99)), "p99-ms-steady")
		b.ReportMetric(ms(percentile(during.latencies, 50)), "p50-ms-reloading")
		b.ReportMetric(ms(percentile(during.latencies, 99)), "p99-ms-reloading")
		b.ReportMetric(float64(len(during.latencies)), "reqs-reloading")
		b.ReportMetric(float64(elapsed.Milliseconds())/reloads, "ms/reload")
	}
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
