package engine_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// BenchmarkResponsesVsNative compares the same one-turn generation sent
// through /v1/responses and through the native route, in one run: the
// ratio of ns/op is the Responses translation's cost. "stored" keeps each
// answer in the store (the API's default), "unstored" sends store:false.
// "interleaved" alternates short rounds of the three (so a busy machine
// slows them alike) and reports the throughput ratios to native as
// unstored/native and stored/native (1 = as fast as native).
func BenchmarkResponsesVsNative(b *testing.B) {
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = fmt.Sprintf("AIzaSyBenchKey%025d", i)
	}
	h := newBenchHarness(b, keys)
	native := loadSpec{h.url + generatePath, []byte(genBody), "x-goog-api-key", testToken}
	unstored := loadSpec{h.url + "/v1/responses", []byte(`{"model":"gemini-2.5-flash","input":"hello there","store":false}`), "Authorization", "Bearer " + testToken}
	stored := loadSpec{h.url + "/v1/responses", []byte(`{"model":"gemini-2.5-flash","input":"hello there"}`), "Authorization", "Bearer " + testToken}
	b.Run("native", func(b *testing.B) { postLoad(b, native.url, native.body, native.header, native.cred) })
	b.Run("responses_unstored", func(b *testing.B) { postLoad(b, unstored.url, unstored.body, unstored.header, unstored.cred) })
	b.Run("responses_stored", func(b *testing.B) { postLoad(b, stored.url, stored.body, stored.header, stored.cred) })
	b.Run("interleaved", func(b *testing.B) {
		client := &fasthttp.Client{MaxConnsPerHost: 256}
		var tn, tu, ts time.Duration
		for b.Loop() {
			tn += native.timed(b, client, 400)
			tu += unstored.timed(b, client, 400)
			ts += stored.timed(b, client, 400)
		}
		b.ReportMetric(float64(tn)/float64(tu), "unstored/native")
		b.ReportMetric(float64(tn)/float64(ts), "stored/native")
	})
}

// loadSpec is one POST a load round repeats.
type loadSpec struct {
	url          string
	body         []byte
	header, cred string
}

// timed sends n requests from 16 goroutines and returns the time they
// took; any non-200 answer fails the benchmark.
func (l loadSpec) timed(b *testing.B, client *fasthttp.Client, n int) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for range 16 {
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for next.Add(1) <= int64(n) {
				req.SetRequestURI(l.url)
				req.Header.SetMethod("POST")
				req.Header.Set(l.header, l.cred)
				req.Header.SetContentType("application/json")
				req.SetBodyRaw(l.body)
				if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					failed.Store(fmt.Sprintf("status %d err %v %.200s", resp.StatusCode(), err, resp.Body()))
					return
				}
			}
		})
	}
	wg.Wait()
	if msg := failed.Load(); msg != nil {
		b.Fatal(msg)
	}
	return time.Since(start)
}
