package engine

import (
	"github.com/valyala/fasthttp"
)

// observe is called once per finished request with its record, after the
// store has queued it. Metrics hook in here.
func (s *Server) observe(rec *Record) {}

// serveMetrics answers the Prometheus endpoint.
func (s *Server) serveMetrics(ctx *fasthttp.RequestCtx, rt *Runtime) {
	writeGeminiError(ctx, fasthttp.StatusNotFound, "metrics are not enabled", 0)
}
