package engine_test

import (
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/internal/mockgemini"
)

// liveBenchSessions is how many idle sessions each side of the comparison
// holds open; liveBenchTurns how many round trips measure frame latency.
const (
	liveBenchSessions = 1000
	liveBenchTurns    = 2000
)

// BenchmarkLiveIdleSessions opens liveBenchSessions idle Live sessions
// directly to the mock, then as many through balance, all on loopback in
// this process, and reports per session the memory balance adds (the
// difference of the two heaps and stacks, so the mock's and the clients'
// share cancels out) and the latency balance adds per relayed frame (half
// the difference of the round trips' medians: each round trip is one frame
// up and one down), measured on one session while the others stay open.
//
//	go test ./engine -run '^$' -bench BenchmarkLiveIdleSessions -benchtime 1x
func BenchmarkLiveIdleSessions(b *testing.B) {
	mock := mockgemini.Start(b, mockgemini.Options{DisableRecording: true})
	_, proxyURL := startProxyWith(b, mock, b.TempDir(), poolConfig([]string{liveKeyA}, ""), engine.Options{})
	direct := "ws" + strings.TrimPrefix(mock.URL(), "http") + livePath
	proxied := "ws" + strings.TrimPrefix(proxyURL, "http") + livePath
	for range b.N {
		directMem, directP50 := liveBenchSide(b, direct, liveKeyA)
		proxyMem, proxyP50 := liveBenchSide(b, proxied, testToken)
		b.ReportMetric(float64(proxyMem-directMem), "balance-B/session")
		b.ReportMetric(float64(directMem), "direct-B/session")
		b.ReportMetric(float64(proxyP50-directP50)/2/float64(time.Microsecond), "added-µs/frame-p50")
		b.ReportMetric(float64(directP50)/float64(time.Microsecond), "direct-µs/roundtrip-p50")
		b.ReportMetric(float64(proxyP50)/float64(time.Microsecond), "balance-µs/roundtrip-p50")
		b.ReportMetric(float64(proxyP50)/float64(directP50), "roundtrip-ratio")
	}
}

// liveBenchSide opens the sessions on url, measures memory per session and
// the median round trip, and closes them again.
func liveBenchSide(b *testing.B, url, key string) (bytesPerSession int64, p50 time.Duration) {
	b.Helper()
	dialer := fws.Dialer{ReadBufferSize: 1 << 10, WriteBufferSize: 1 << 10, WriteBufferPool: &sync.Pool{}, HandshakeTimeout: 10 * time.Second}
	header := http.Header{"X-Goog-Api-Key": {key}}
	setup := []byte(`{"setup":{"model":"models/` + liveModel + `"}}`)
	before := liveHeap()
	conns := make([]*fws.Conn, liveBenchSessions)
	var wg sync.WaitGroup
	errs := make(chan error, liveBenchSessions)
	next := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, _, err := dialer.Dial(url, header)
				if err != nil {
					errs <- err
					continue
				}
				if err := c.WriteMessage(fws.TextMessage, setup); err != nil {
					errs <- err
					continue
				}
				if _, _, err := c.ReadMessage(); err != nil {
					errs <- err
					continue
				}
				conns[i] = c
			}
		}()
	}
	for i := range liveBenchSessions {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("open session on %s: %v", url, err)
	}
	time.Sleep(200 * time.Millisecond) // let every session settle into its idle read
	after := liveHeap()
	bytesPerSession = (after - before) / liveBenchSessions

	c := conns[0]
	turn := []byte(`{"realtimeInput":{"text":"x"}}`)
	rtts := make([]time.Duration, 0, liveBenchTurns)
	for range liveBenchTurns {
		start := time.Now()
		if err := c.WriteMessage(fws.TextMessage, turn); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil { // the answer's first frame
			b.Fatal(err)
		}
		rtts = append(rtts, time.Since(start))
		if _, _, err := c.ReadMessage(); err != nil { // turnComplete
			b.Fatal(err)
		}
	}
	slices.Sort(rtts)
	for _, c := range conns {
		_ = c.WriteMessage(fws.CloseMessage, fws.FormatCloseMessage(fws.CloseNormalClosure, ""))
		_ = c.Close()
	}
	time.Sleep(500 * time.Millisecond) // the far ends notice and free their sessions
	return bytesPerSession, rtts[len(rtts)/2]
}

// liveHeap is the heap and goroutine stacks in use after a collection.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}
