// Package barepass is the benchmark's baseline proxy: the smallest honest
// fasthttp reverse proxy. Its handler forwards the client's request, in
// place, through one fasthttp.HostClient and passes the answer back;
// there is no auth, no key choice, no retry, no stats and no timeout.
// cmd/bench/bareproxy serves it as a process beside balance, and the
// in-process handler benchmark of cmd/bench calls it directly, so
// "balance ÷ bare" prices everything balance does beyond moving bytes.
package barepass

import "github.com/valyala/fasthttp"

// hopHeaders never cross a proxy (RFC 9110 §7.6.1): stripping them is the
// one thing an honest pass-through must do to the request.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Proxy-Connection"}

// Client is the HostClient the baseline forwards through: fasthttp's
// defaults but for the product's upstream connection cap, so the
// baseline never waits for a connection where balance would not.
func Client(addr string) *fasthttp.HostClient {
	return &fasthttp.HostClient{Addr: addr, MaxConns: 4096}
}

// Handler forwards every request, in place, through hc and passes the
// answer back; key, when not empty, replaces the client's x-goog-api-key
// (a constant: there is no key choice).
func Handler(hc *fasthttp.HostClient, key string) fasthttp.RequestHandler {
	keyHeader := []byte(key)
	return func(ctx *fasthttp.RequestCtx) {
		req := &ctx.Request
		for _, h := range hopHeaders {
			req.Header.Del(h)
		}
		if len(keyHeader) > 0 {
			req.Header.SetBytesV("x-goog-api-key", keyHeader)
		}
		if err := hc.Do(req, &ctx.Response); err != nil {
			ctx.Response.Reset()
			ctx.Error("upstream: "+err.Error(), fasthttp.StatusBadGateway)
		}
	}
}
