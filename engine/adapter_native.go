package engine

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/gemini"
)

// nativeAdapter is the front door of the Gemini REST API, under /gemini/
// and the bare /v1beta/ (and /v1/…models…) prefix: Google's request and
// answer pass through as they are, with the model rules' edits.
type nativeAdapter struct{}

func (nativeAdapter) protocol() Protocol { return ProtoGemini }

func (nativeAdapter) route(ctx *fasthttp.RequestCtx, c *call) *Failure {
	p := ctx.Path()
	if bytes.HasPrefix(p, prefixGemini) {
		p = p[len(prefixGemini)-1:]
	}
	nc, ok := gemini.ParsePath(string(p))
	if !ok {
		return fail(fasthttp.StatusNotFound, "Unknown Gemini API method "+string(ctx.Path())+".")
	}
	want := fasthttp.MethodGet
	if nc.Method != "" {
		want = fasthttp.MethodPost
	}
	if f := allowOnly(ctx, want); f != nil {
		return f
	}
	*c = call{route: nativeRouteName(nc), model: nc.Model, native: nc, body: nc.Method != "", stream: nc.Streams(), passAnswer: true}
	// Only these calls can name files or a cached content.
	c.refs = nc.Method == "generateContent" || nc.Method == "streamGenerateContent" || nc.Method == "countTokens"
	return nil
}

func nativeRouteName(c gemini.Call) string {
	switch {
	case c.Model == "":
		return "models.list"
	case c.Method == "":
		return "models.get"
	}
	return c.Method
}

// parse has nothing to read: the model is in the path.
func (nativeAdapter) parse([]byte, *call) *Failure { return nil }

func (nativeAdapter) translate(ctx *fasthttp.RequestCtx, _ *Runtime, ex *exchange) (*fasthttp.Request, *Failure) {
	nc := ex.call.native
	if nc.Model != "" && nc.Method == "" && ex.model.Hidden {
		return nil, hiddenModel(nc.Model)
	}
	req := newUpstreamRequest(&ctx.Request, ex.clientBody(ctx))
	if ex.model.editsBody() && (nc.Method == "generateContent" || nc.Method == "streamGenerateContent") {
		edited, err := ex.model.editBody(req.Body())
		if err != nil {
			fasthttp.ReleaseRequest(req)
			return nil, fail(fasthttp.StatusBadRequest, "Invalid request: "+err.Error())
		}
		req.SetBodyRaw(edited)
	}
	ex.setUpstreamPath(req, nc)
	copyQuery(req, &ctx.Request)
	return req, nil
}

// reply passes Google's answer on, counting its tokens and applying the
// model rules to a models list.
func (nativeAdapter) reply(rt *Runtime, ex *exchange, up, _ *fasthttp.Response) *Failure {
	nc := ex.call.native
	if nc.Method == "generateContent" {
		ex.usage, _ = parseUsage(up.Body())
	}
	if nc.Model == "" {
		up.SetBody(rt.models.nativeModelsPage(up.Body()))
	}
	return nil
}

// sink is nil: a native stream is relayed byte for byte.
func (nativeAdapter) sink(*Runtime, *exchange) eventSink { return nil }

// completeMarkers: the last event of a whole answer carries a
// finishReason, or a blockReason when the prompt itself was refused.
func (nativeAdapter) completeMarkers() [][]byte { return geminiEndMarkers }

var geminiEndMarkers = [][]byte{[]byte(`"finishReason"`), []byte(`"blockReason"`)}

// upstreamPath builds the upstream path for a call on the target model.
// It appends to dst so the hot path reuses one buffer.
func upstreamPath(dst []byte, p *poolRuntime, c gemini.Call, model string) []byte {
	if p.vertex {
		return vertexPath(dst, p, c, model)
	}
	dst = append(dst, p.target.PathPrefix...)
	dst = append(dst, '/')
	dst = append(dst, c.Version...)
	if c.Model == "" {
		return append(dst, "/models"...)
	}
	if c.Tuned {
		dst = append(dst, "/tunedModels/"...)
	} else {
		dst = append(dst, "/models/"...)
	}
	dst = append(dst, model...)
	if c.Method != "" {
		dst = append(dst, ':')
		dst = append(dst, c.Method...)
	}
	return dst
}

// setUpstreamPath sets req's path for call c on the pool's upstream and
// notes c, from which a fallback pool builds its own path.
func (ex *exchange) setUpstreamPath(req *fasthttp.Request, c gemini.Call) {
	ex.upCall = c
	ex.scratch = upstreamPath(ex.scratch[:0], ex.pool, c, ex.model.Target)
	req.URI().SetPathBytes(ex.scratch)
}

// copyQuery gives req the client's query (alt=sse, pageSize, …) without
// the client's ?key= credential.
func copyQuery(req, client *fasthttp.Request) {
	q := client.URI().QueryString()
	if len(q) == 0 {
		return
	}
	req.URI().SetQueryStringBytes(q)
	if client.URI().QueryArgs().Has("key") {
		req.URI().QueryArgs().Del("key")
	}
}
