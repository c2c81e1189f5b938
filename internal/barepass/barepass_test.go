package barepass

import (
	"net"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// serve runs h on an in-memory listener and returns a client for it.
func serve(t *testing.T, h fasthttp.RequestHandler) *fasthttp.HostClient {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return &fasthttp.HostClient{Addr: "upstream", Dial: func(string) (net.Conn, error) { return ln.Dial() }}
}

// The pass-through must hand the upstream the client's request (body,
// path, query, end-to-end headers) with the constant key and without
// hop-by-hop headers, and the client the upstream's answer unchanged.
func TestHandlerForwards(t *testing.T) {
	up := serve(t, func(ctx *fasthttp.RequestCtx) {
		h := &ctx.Request.Header
		if got := string(h.Peek("x-goog-api-key")); got != "key-001" {
			t.Errorf("upstream got x-goog-api-key %q, want key-001", got)
		}
		if h.Peek("Keep-Alive") != nil || h.Peek("Proxy-Authorization") != nil || h.Peek("Upgrade") != nil {
			t.Errorf("hop-by-hop header reached the upstream: %s", h.Header())
		}
		if got := string(h.Peek("X-Custom")); got != "kept" {
			t.Errorf("upstream got X-Custom %q, want kept", got)
		}
		if got := string(ctx.RequestURI()); got != "/v1beta/models/m:generateContent?alt=json" {
			t.Errorf("upstream got URI %q", got)
		}
		ctx.Response.Header.Set("X-Upstream", "yes")
		ctx.SetStatusCode(201)
		ctx.SetBody(append([]byte("echo:"), ctx.Request.Body()...))
	})
	px := serve(t, Handler(up, "key-001"))

	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://proxy/v1beta/models/m:generateContent?alt=json")
	req.Header.SetMethod("POST")
	req.Header.Set("x-goog-api-key", "client-token")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("Proxy-Authorization", "Basic eA==")
	req.Header.Set("Upgrade", "h2c")
	req.Header.Set("X-Custom", "kept")
	req.SetBodyString(`{"a":1}`)
	if err := px.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 201 || string(resp.Body()) != `echo:{"a":1}` || string(resp.Header.Peek("X-Upstream")) != "yes" {
		t.Fatalf("client got %d %q (X-Upstream %q)", resp.StatusCode(), resp.Body(), resp.Header.Peek("X-Upstream"))
	}
}

// A dead upstream is a 502, not a hang or an empty 200.
func TestHandlerUpstreamDown(t *testing.T) {
	dead := &fasthttp.HostClient{Addr: "127.0.0.1:1"}
	px := serve(t, Handler(dead, ""))
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://proxy/x")
	if err := px.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != fasthttp.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode())
	}
}
