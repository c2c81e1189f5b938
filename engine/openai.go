package engine

import (
	"github.com/valyala/fasthttp"
)

// serveOpenAI handles the OpenAI-compatible routes under /v1/ and /hf/v1/.
func (s *Server) serveOpenAI(ctx *fasthttp.RequestCtx, rt *Runtime) {
	writeOpenAIError(ctx, fasthttp.StatusNotFound, "No OpenAI route for "+string(ctx.Path())+".", "", 0)
}
