// Package barepass is the benchmark's baseline proxy: the smallest honest
// fasthttp reverse proxy. Its handler forwards the client's request, in
// place, through one fasthttp.HostClient and passes the answer back;
// there is no auth, no key choice, no retry, no stats and no timeout.
// cmd/bench/bareproxy serves it as a process beside balance, and the
// in-process handler benchmark of cmd/bench calls it directly, so
// "balance ÷ bare" prices everything balance does beyond moving bytes.
package barepass

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/upstream"
)

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
	return TimeoutHandler(hc, key, 0)
}

// TimeoutHandler is Handler with a deadline of timeout on every upstream
// call (none when 0), as balance sets its upstream timeout: for pricing
// that one setting on the baseline (cmd/bench's knobs scenario).
func TimeoutHandler(hc *fasthttp.HostClient, key string, timeout time.Duration) fasthttp.RequestHandler {
	keyHeader := []byte(key)
	return func(ctx *fasthttp.RequestCtx) {
		req := &ctx.Request
		for _, h := range hopHeaders {
			req.Header.Del(h)
		}
		if len(keyHeader) > 0 {
			req.Header.SetBytesV("x-goog-api-key", keyHeader)
		}
		var err error
		if timeout > 0 {
			err = hc.DoTimeout(req, &ctx.Response, timeout)
		} else {
			err = hc.Do(req, &ctx.Response)
		}
		if err != nil {
			ctx.Response.Reset()
			ctx.Error("upstream: "+err.Error(), fasthttp.StatusBadGateway)
		}
	}
}

// BalanceClient is the HostClient balance itself would use for an
// upstream at addr with the product's defaults (engine/upstream: 4096
// connections, the 120 s stream idle bound), for pricing its settings on
// the baseline.
func BalanceClient(addr string) (*fasthttp.HostClient, error) {
	t, err := upstream.ParseTarget("http://" + addr)
	if err != nil {
		return nil, err
	}
	return upstream.NewClients().Get(t, "", upstream.Options{MaxConns: 4096, IdleTimeout: 120 * time.Second})
}
