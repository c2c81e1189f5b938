package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// target is one HTTP request shape sent to one server: the mock directly
// (with a pool key) or the proxy (with the client token).
type target struct {
	name    string
	addr    string // 127.0.0.1:N
	method  string
	uri     string // path and query
	headers [][2]string
	body    []byte
}

// result is what one load run measured.
type result struct {
	sent     int
	ok       int // 2xx
	codes    map[int]int
	errs     int // transport errors (no HTTP status)
	firstErr string
	lat      []time.Duration // one per answered request
	elapsed  time.Duration
}

func (r *result) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.sent) / r.elapsed.Seconds()
}

func (r *result) merge(o *result) {
	r.sent += o.sent
	r.ok += o.ok
	r.errs += o.errs
	if r.firstErr == "" {
		r.firstErr = o.firstErr
	}
	if r.codes == nil {
		r.codes = map[int]int{}
	}
	for c, n := range o.codes {
		r.codes[c] += n
	}
	r.lat = append(r.lat, o.lat...)
}

// codesString renders the status mix, e.g. "200×1234 429×2".
func (r *result) codesString() string {
	cs := make([]int, 0, len(r.codes))
	for c := range r.codes {
		cs = append(cs, c)
	}
	sort.Ints(cs)
	var b bytes.Buffer
	for _, c := range cs {
		fmt.Fprintf(&b, "%d×%d ", c, r.codes[c])
	}
	if r.errs > 0 {
		fmt.Fprintf(&b, "err×%d (%s)", r.errs, r.firstErr)
	}
	return string(bytes.TrimSpace(b.Bytes()))
}

// newClient is a fasthttp client sized for conns connections. Retries are
// off so every transport error is counted, and timeouts bound every call.
func newClient(addr string, conns int) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                      addr,
		MaxConns:                  conns,
		MaxConnWaitTimeout:        10 * time.Second,
		MaxIdleConnDuration:       30 * time.Second,
		ReadTimeout:               30 * time.Second,
		WriteTimeout:              30 * time.Second,
		MaxIdemponentCallAttempts: 1,
		RetryIfErr:                func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		NoDefaultUserAgentHeader:  true,
		ReadBufferSize:            16 << 10,
		WriteBufferSize:           16 << 10,
		MaxResponseBodySize:       64 << 20,
	}
}

func (t *target) fill(req *fasthttp.Request) {
	req.Header.SetMethod(t.method)
	req.SetRequestURI("http://" + t.addr + t.uri)
	for _, h := range t.headers {
		req.Header.Set(h[0], h[1])
	}
	if len(t.body) > 0 {
		req.SetBodyRaw(t.body) // shared, read-only: the client only writes it out
	}
}

// worker sends requests on hc until stop says so; pace, when non-nil,
// blocks until the next request is due (open loop).
func (t *target) worker(hc *fasthttp.HostClient, until time.Time, pace func() bool) *result {
	r := &result{codes: map[int]int{}, lat: make([]time.Duration, 0, 4096)}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	t.fill(req)
	for {
		if pace != nil {
			if !pace() {
				return r
			}
		} else if !time.Now().Before(until) {
			return r
		}
		start := time.Now()
		err := hc.Do(req, resp)
		d := time.Since(start)
		r.sent++
		if err != nil {
			r.errs++
			if r.firstErr == "" {
				r.firstErr = err.Error()
			}
			// Do not spin on a dead server: the run is bounded anyway.
			time.Sleep(time.Millisecond)
			continue
		}
		code := resp.StatusCode()
		r.codes[code]++
		if code >= 200 && code < 300 {
			r.ok++
		}
		r.lat = append(r.lat, d)
		resp.ResetBody()
	}
}

// closedLoop keeps conns requests in flight for d: the saturation test.
func closedLoop(t target, conns int, d time.Duration) *result {
	hc := newClient(t.addr, conns)
	defer hc.CloseIdleConnections()
	start := time.Now()
	until := start.Add(d)
	parts := make([]*result, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() { parts[i] = t.worker(hc, until, nil) })
	}
	wg.Wait()
	total := &result{codes: map[int]int{}, elapsed: time.Since(start)}
	for _, p := range parts {
		total.merge(p)
	}
	return total
}

// openLoop sends rate requests per second for d, spread over workers that
// each keep their own schedule (worker w sends at t0 + (w + k·workers)/rate),
// so no single pacer goroutine batches requests. A worker that falls behind
// sends its late requests at once rather than dropping them. Latency is
// measured from the actual send, as vegeta does.
func openLoop(t target, rate int, d time.Duration, workers int) *result {
	hc := newClient(t.addr, workers)
	defer hc.CloseIdleConnections()
	interval := time.Duration(float64(time.Second) * float64(workers) / float64(rate))
	perWorker := int(d / interval)
	start := time.Now().Add(20 * time.Millisecond)
	parts := make([]*result, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			next := start.Add(time.Duration(float64(time.Second) * float64(w) / float64(rate)))
			k := 0
			pace := func() bool {
				if k >= perWorker {
					return false
				}
				if wait := time.Until(next); wait > 0 {
					time.Sleep(wait)
				}
				k++
				next = next.Add(interval)
				return true
			}
			parts[w] = t.worker(hc, time.Time{}, pace)
		})
	}
	wg.Wait()
	total := &result{codes: map[int]int{}, elapsed: time.Since(start)}
	for _, p := range parts {
		total.merge(p)
	}
	return total
}

// percentile returns the p-th percentile (0–100) of ds, nearest rank.
// It sorts ds in place.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	if !sort.SliceIsSorted(ds, func(i, j int) bool { return ds[i] < ds[j] }) {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	}
	rank := int(p/100*float64(len(ds))+0.5) - 1
	rank = max(0, min(rank, len(ds)-1))
	return ds[rank]
}

// streamResult is one SSE stream as the client saw it.
type streamResult struct {
	ttfe   time.Duration // request written → first data: line
	maxGap time.Duration // largest pause between two events
	total  time.Duration
	events int
	err    error
}

// sseStream opens one connection, sends one streaming request and reads
// the SSE events to the end. It is deliberately a raw TCP client with the
// standard library's response parser: one goroutine and a 4 KB buffer per
// stream keeps 1,000 streams cheap on the client side.
//
// open, when non-nil, counts streams between their first event and their
// end, so a sampler can find the moment of highest concurrency.
func sseStream(t target, timeout time.Duration, open *atomic.Int64) streamResult {
	var sr streamResult
	conn, err := net.DialTimeout("tcp", t.addr, 5*time.Second)
	if err != nil {
		sr.err = fmt.Errorf("dial: %w", err)
		return sr
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	var req bytes.Buffer
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\n", t.method, t.uri, t.addr)
	for _, h := range t.headers {
		fmt.Fprintf(&req, "%s: %s\r\n", h[0], h[1])
	}
	fmt.Fprintf(&req, "Content-Length: %d\r\n\r\n", len(t.body))
	req.Write(t.body)
	start := time.Now()
	if _, err := conn.Write(req.Bytes()); err != nil {
		sr.err = fmt.Errorf("write: %w", err)
		return sr
	}
	br := bufio.NewReaderSize(conn, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		sr.err = fmt.Errorf("read response head: %w", err)
		return sr
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		sr.err = fmt.Errorf("status %d", resp.StatusCode)
		return sr
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	last := start
	for sc.Scan() {
		if !bytes.HasPrefix(sc.Bytes(), []byte("data:")) {
			continue
		}
		now := time.Now()
		if sr.events == 0 {
			sr.ttfe = now.Sub(start)
			if open != nil {
				open.Add(1)
				defer open.Add(-1)
			}
		} else if g := now.Sub(last); g > sr.maxGap {
			sr.maxGap = g
		}
		last = now
		sr.events++
	}
	sr.total = time.Since(start)
	if err := sc.Err(); err != nil {
		sr.err = fmt.Errorf("read events: %w", err)
	} else if sr.events == 0 {
		sr.err = errors.New("no events")
	}
	return sr
}

// fmtDur prints a latency in ms with three decimals ("0.312 ms").
func fmtDur(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64) + " ms"
}
