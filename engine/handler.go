package engine

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/status"
)

var (
	prefixGemini   = []byte("/gemini/")
	prefixV1beta   = []byte("/v1beta/")
	prefixV1       = []byte("/v1/")
	prefixHF       = []byte("/hf/v1/")
	prefixOpenAIPT = []byte("/openai/v1/")
	pathHealth     = []byte("/health")
)

// Handler routes every request. It is the fasthttp entry point.
func (s *Server) Handler(ctx *fasthttp.RequestCtx) {
	rt := s.rt.Load()
	p := ctx.Path()
	ctx.Response.Header.Set("X-Balance-Generation", rt.generationHeader())
	switch {
	case bytes.HasPrefix(p, prefixGemini):
		s.serveGemini(ctx, rt, p[len(prefixGemini)-1:])
	case bytes.HasPrefix(p, prefixV1beta):
		s.serveGemini(ctx, rt, p)
	case bytes.HasPrefix(p, prefixV1), bytes.HasPrefix(p, prefixHF):
		s.serveOpenAI(ctx, rt)
	case bytes.HasPrefix(p, prefixOpenAIPT):
		s.serveOpenAIPassthrough(ctx, rt, p[len(prefixOpenAIPT)-1:])
	case bytes.Equal(p, pathHealth):
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"status":"ok"}`)
	case rt.Config.Metrics.Enabled && string(p) == rt.Config.Metrics.Path:
		s.serveMetrics(ctx, rt)
	case rt.Config.Status.Path != "" && (string(p) == rt.Config.Status.Path || bytes.HasPrefix(p, []byte(rt.Config.Status.Path+"/"))):
		status.Serve(ctx, s, rt.Config.Status)
	default:
		writeGeminiError(ctx, fasthttp.StatusNotFound, "No route for "+string(p)+". Gemini clients use /gemini/v1beta/… or /v1beta/…; OpenAI clients use /v1/….", 0)
	}
}
