package mockgemini

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// Benchmarks call Handler on a reused RequestCtx (no socket), so they
// measure the mock's own cost. "static" is the floor: a handler that only
// copies a pre-rendered body of the same size; compare generate to it in
// the same run (ns/op ratio), not to absolute numbers.

func benchCtx(method, uri, key, body string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	if key != "" {
		req.Header.Set("x-goog-api-key", key)
	}
	req.Header.SetContentType("application/json")
	req.SetBodyString(body)
	ctx := new(fasthttp.RequestCtx)
	ctx.Init(&req, nil, nil)
	return ctx
}

func BenchmarkHandler(b *testing.B) {
	s := New(Options{DisableRecording: true})
	rec := New(Options{})
	pre := benchCtx("POST", genPath, "k", helloBody)
	s.Handler(pre)
	static := append([]byte(nil), pre.Response.Body()...)

	run := func(name string, ctx *fasthttp.RequestCtx, h func(*fasthttp.RequestCtx)) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				h(ctx)
			}
			if ctx.Response.StatusCode() != 200 {
				b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		})
	}
	run("static", benchCtx("POST", genPath, "k", helloBody), func(ctx *fasthttp.RequestCtx) {
		setCommonHeaders(ctx, ctJSON)
		ctx.SetBody(static)
	})
	run("generate", benchCtx("POST", genPath, "k", helloBody), s.Handler)
	run("generate-recording", benchCtx("POST", genPath, "k", helloBody), rec.Handler)
	run("stream-sse-render", benchCtx("POST", ssePath, "k", helloBody), s.Handler)
	run("models-list", benchCtx("GET", "/v1beta/models", "k", ""), s.Handler)
	run("count-tokens", benchCtx("POST", "/v1beta/models/gemini-2.5-flash:countTokens", "k", helloBody), s.Handler)
}

// BenchmarkSocketGenerate measures a full round trip over loopback with a
// fasthttp client, the shape of the load benchmark's direct-to-mock run.
func BenchmarkSocketGenerate(b *testing.B) {
	s := Start(b, Options{DisableRecording: true})
	c := &fasthttp.Client{}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI(s.URL() + genPath)
	req.Header.Set("x-goog-api-key", "k")
	req.SetBodyString(helloBody)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 {
			b.Fatalf("%v %d", err, resp.StatusCode())
		}
	}
}
