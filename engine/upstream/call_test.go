package upstream

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// streamingServer answers every request with a chunked SSE stream of
// three events (the last followed by a trailer), counting connections.
func streamingServer(t *testing.T) (Target, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int64
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("text/event-stream")
			ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
				for range 3 {
					_, _ = w.WriteString("data: {}\r\n\r\n")
					_ = w.Flush()
				}
			})
		},
		ConnState: func(_ net.Conn, st fasthttp.ConnState) {
			if st == fasthttp.StateNew {
				conns.Add(1)
			}
		},
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	target, _ := ParseTarget("http://" + ln.Addr().String())
	return target, &conns
}

// A stream read to its end through a Call gives its connection back to
// the pool: the next calls reuse it. One closed half-read does not.
func TestCallStreamReusesConnection(t *testing.T) {
	target, conns := streamingServer(t)
	hc, err := NewClients().Get(target, "", Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	stream := func(readAll bool) {
		var c Call
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://" + target.Host + "/v1beta/models/m:streamGenerateContent?alt=sse")
		req.Header.SetMethod("POST")
		resp.StreamBody = true
		if err := c.Do(hc, req, resp, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if readAll {
			b, err := io.ReadAll(resp.BodyStream())
			if err != nil || string(b) != "data: {}\r\n\r\ndata: {}\r\n\r\ndata: {}\r\n\r\n" {
				t.Fatalf("body %q, %v", b, err)
			}
		}
		_ = resp.CloseBodyStream()
	}
	for range 3 {
		stream(true)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 3 streams read to the end, want 1", n)
	}
	stream(false)
	stream(true)
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want a new one after a stream closed half-read", n)
	}
}

// Abandon ends a call blocked on an upstream that never answers at once,
// and fails the call's later attempts without sending them.
func TestCallAbandonClosesTheConnection(t *testing.T) {
	target := hangAfter(t, 0, false)
	hc, err := NewClients().Get(target, "", Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	var c Call
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + target.Host + "/v1beta/models/m:generateContent")
	req.Header.SetMethod("POST")
	done := make(chan error, 1)
	go func() { done <- c.Do(hc, req, resp, time.Now().Add(time.Minute)) }()
	waitFor(t, func() bool { return hc.ConnsCount() == 1 }, "the call to take a connection")
	c.Abandon()
	select {
	case err := <-done:
		if !errors.Is(err, ErrAbandoned) {
			t.Fatalf("abandoned call returned %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the call outlived Abandon")
	}
	if err := c.Do(hc, req, resp, time.Time{}); !errors.Is(err, ErrAbandoned) {
		t.Fatalf("a later attempt of an abandoned call: %v", err)
	}
}
