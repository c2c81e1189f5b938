package engine_test

import (
	"fmt"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkGenerate compares one generateContent call direct to the mock
// with the same call through the proxy, in the same run, over loopback.
// The ratio of the two ns/op is the proxy's overhead factor.
func BenchmarkGenerate(b *testing.B) {
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("AIzaSyBenchKey%025d", i)
	}
	h := newBenchHarness(b, keys)
	body := []byte(genBody)
	b.Run("direct", func(b *testing.B) { postLoad(b, h.mock.URL()+generatePath, body, "x-goog-api-key", keys[0]) })
	b.Run("proxy", func(b *testing.B) { postLoad(b, h.url+generatePath, body, "x-goog-api-key", testToken) })
}

// BenchmarkOpenAIChatVsNative compares the same one-turn generation sent
// through /v1/chat/completions and through the native route, in one run.
func BenchmarkOpenAIChatVsNative(b *testing.B) {
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = fmt.Sprintf("AIzaSyBenchKey%025d", i)
	}
	h := newBenchHarness(b, keys)
	b.Run("native", func(b *testing.B) {
		postLoad(b, h.url+generatePath, []byte(genBody), "x-goog-api-key", testToken)
	})
	b.Run("openai", func(b *testing.B) {
		postLoad(b, h.url+"/v1/chat/completions", []byte(`{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hello there"}]}`), "Authorization", "Bearer "+testToken)
	})
}

// postLoad sends the same POST from 8 goroutines per core for b.N
// requests and fails the benchmark on any non-200 answer.
func postLoad(b *testing.B, url string, body []byte, header, cred string) {
	b.Helper()
	client := &fasthttp.Client{MaxConnsPerHost: 256}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		for pb.Next() {
			req.SetRequestURI(url)
			req.Header.SetMethod("POST")
			req.Header.Set(header, cred)
			req.Header.SetContentType("application/json")
			req.SetBodyRaw(body)
			if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
				b.Fatalf("status %d err %v %.200s", resp.StatusCode(), err, resp.Body())
			}
		}
	})
}
