package engine_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/balanceproxy/balance/internal/mockgemini"
)

// BenchmarkStoreOverhead measures proxy throughput at saturation with the
// SQLite store on against driver = "none", same mock, same run. Target:
// sqlite throughput ≥ 0.95 × none (the store is off the request path: a
// channel send per request). The ratio and the store's drops are logged
// (run with -v to see them).
func BenchmarkStoreOverhead(b *testing.B) {
	keys := make([]string, 20)
	for i := range keys {
		keys[i] = fmt.Sprintf("AIzaSyBenchKey%025d", i)
	}
	mock := mockgemini.Start(b, mockgemini.Options{DisableRecording: true})
	dir := b.TempDir()
	type variant struct{ name, block string }
	variants := []variant{
		{"none", `store { driver = "none" }`},
		{"sqlite", fmt.Sprintf(`store {
  driver = "sqlite"
  path   = %q
}
status {
  path  = "/status"
  token = %q
}`, filepath.Join(dir, "bench.db"), statusToken)},
	}
	urls := map[string]string{}
	hs := map[string]*harness{}
	for _, v := range variants {
		srv, u := startProxy(b, mock, dir, storeConfig(keys, v.block))
		urls[v.name] = u
		hs[v.name] = &harness{t: b, mock: mock, srv: srv, url: u, token: testToken}
	}
	body := []byte(genBody)
	// The variants alternate (none, sqlite, none, sqlite) so drift in a
	// shared machine's load, or the database growing, does not favour
	// one; the ratio uses the final (largest b.N) run of each.
	nsPerOp := map[string]float64{}
	last := map[string]float64{}
	for i := range 2 * len(variants) {
		v := variants[i%len(variants)]
		b.Run(fmt.Sprintf("store=%s/round=%d", v.name, i/len(variants)), func(b *testing.B) {
			start := time.Now()
			postLoad(b, urls[v.name]+generatePath, body, "x-goog-api-key", testToken)
			last[v.name] = float64(time.Since(start).Nanoseconds()) / float64(b.N)
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
		nsPerOp[v.name] += last[v.name]
	}
	if nsPerOp["none"] > 0 && nsPerOp["sqlite"] > 0 {
		st := hs["sqlite"].statusDocTB()
		b.Logf("throughput sqlite/none = %.3f (store written %d, dropped %d)", nsPerOp["none"]/nsPerOp["sqlite"], st.Written, st.Dropped)
	}
}
