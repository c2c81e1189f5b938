package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/hcl"
	"github.com/balanceproxy/balance/internal/barepass"
	"github.com/balanceproxy/balance/internal/mockgemini"
)

// BenchmarkHandler is the store scenario in one process, for a profile
// with enough samples and without the machine's neighbours in it: the
// same generateContent request handed straight to a handler (no client
// socket, no fasthttp server) that calls the mock on loopback, for the
// bare pass-through (internal/barepass) and for balance with store none
// and store sqlite (the bench's config: 100 keys, product defaults).
// Every variant pays the same for the mock and the upstream round trip,
// so the differences in cpu-ns/op (the process's CPU per request, mock
// included) are what balance's handler adds:
//
//	go test ./cmd/bench -run '^$' -bench Handler -cpuprofile cpu.out
func BenchmarkHandler(b *testing.B) {
	keys := benchKeys()
	mock := mockgemini.Start(b, mockgemini.Options{ValidKeys: keys, DisableRecording: true})
	mockAddr := strings.TrimPrefix(mock.URL(), "http://")
	variants := []struct {
		name string
		h    func(b *testing.B) fasthttp.RequestHandler
	}{
		{"bare", func(*testing.B) fasthttp.RequestHandler {
			return barepass.Handler(barepass.Client(mockAddr), directKey)
		}},
		{"none", func(b *testing.B) fasthttp.RequestHandler { return balanceHandler(b, mockAddr, keys, "") }},
		{"sqlite", func(b *testing.B) fasthttp.RequestHandler {
			dir := b.TempDir()
			return balanceHandler(b, mockAddr, keys, fmt.Sprintf("store {\n  driver = \"sqlite\"\n  path   = %q\n}", filepath.Join(dir, "bench.db")))
		}},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			h := v.h(b)
			b.ReportAllocs()
			b.SetParallelism(8) // enough requests in flight to keep both cores busy
			cpu0 := processCPU()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var tmpl fasthttp.Request
				tmpl.Header.SetMethod("POST")
				tmpl.SetRequestURI(genPath)
				tmpl.Header.SetHost("127.0.0.1")
				tmpl.Header.SetContentType("application/json")
				tmpl.Header.Set("x-goog-api-key", clientToken)
				tmpl.SetBodyString(smallBody)
				var ctx fasthttp.RequestCtx
				ctx.Init(&tmpl, nil, nil)
				for pb.Next() {
					tmpl.CopyTo(&ctx.Request)
					ctx.Response.Reset()
					h(&ctx)
					if ctx.Response.StatusCode() != fasthttp.StatusOK {
						b.Fatalf("status %d: %.200s", ctx.Response.StatusCode(), ctx.Response.Body())
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// balanceHandler builds balance from the bench's proxy config (with
// storeBlock, "" for store none) and returns its handler.
func balanceHandler(b *testing.B, mockAddr string, keys []string, storeBlock string) fasthttp.RequestHandler {
	b.Helper()
	dir := b.TempDir()
	src := proxyConfig(mockAddr, keys, dir, storeBlock, "")
	cfg, err := hcl.LoadBytes(filepath.Join(dir, "balance.hcl"), []byte(src), hcl.Options{})
	if err != nil {
		b.Fatalf("config: %v", err)
	}
	srv, err := engine.New(cfg, engine.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv.Handler
}

// processCPU is the test process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
