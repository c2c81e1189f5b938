package engine

import (
	"bytes"
	"errors"
	"net"
	"strconv"

	"github.com/balanceproxy/balance/engine/status"
	"github.com/valyala/fasthttp"
)

var (
	prefixGemini = []byte("/gemini/")
	prefixV1beta = []byte("/v1beta/")
	prefixV1     = []byte("/v1/")
	prefixHF     = []byte("/hf/v1/")
	prefixCompat = []byte("/openai/v1/")
	pathHealth   = []byte("/health")
)

// Handler is the fasthttp entry point. It picks the front door (adapter)
// for a request's path, and the driver (serve) runs the request through
// it; health, metrics and status are answered beside the pipeline.
func (s *Server) Handler(ctx *fasthttp.RequestCtx) {
	rt := s.rt.Load()
	p := ctx.Path()
	switch {
	case isLivePath(p):
		s.serveLive(ctx, rt)
		return
	case isAuthTokensPath(p):
		s.serve(ctx, rt, authTokensAdapter{s})
		return
	case isResourcePath(p):
		s.serve(ctx, rt, filesAdapter{s})
		return
	case bytes.HasPrefix(p, prefixGemini), bytes.HasPrefix(p, prefixV1beta):
		s.serve(ctx, rt, nativeAdapter{})
		return
	case bytes.HasPrefix(p, prefixV1), bytes.HasPrefix(p, prefixHF):
		s.serve(ctx, rt, s.openAIAdapter(p))
		return
	case bytes.HasPrefix(p, prefixCompat):
		s.serve(ctx, rt, compatAdapter{})
		return
	}
	// Answers beside the pipeline; serve sets the header on its own.
	ctx.Response.Header.Set("X-Balance-Generation", rt.genHeader)
	switch {
	case bytes.HasPrefix(p, prefixImages):
		s.serveImage(ctx, rt)
	case bytes.Equal(p, pathHealth):
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"status":"ok"}`)
	case rt.Config.Metrics.Enabled && string(p) == rt.Config.Metrics.Path:
		s.serveMetrics(ctx, rt)
	case rt.Config.Status.Path != "" && (string(p) == rt.Config.Status.Path || bytes.HasPrefix(p, []byte(rt.Config.Status.Path+"/"))):
		status.Serve(ctx, s, rt.Config.Status)
	default:
		ProtoGemini.render(&ctx.Response, fail(fasthttp.StatusNotFound, "No route for "+string(p)+". Gemini clients use /gemini/v1beta/… or /v1beta/…; OpenAI clients use /v1/…."))
	}
}

// openAIAdapter picks the adapter of an OpenAI route under /v1/ or /hf/v1/.
func (s *Server) openAIAdapter(p []byte) adapter {
	if bytes.HasPrefix(p, prefixHF) {
		p = p[len("/hf"):]
	}
	switch {
	case string(p) == "/v1/chat/completions":
		return chatAdapter{}
	case string(p) == "/v1/embeddings":
		return embeddingsAdapter{}
	case string(p) == "/v1/images/generations":
		return imagesAdapter{}
	case string(p) == "/v1/audio/speech":
		return speechAdapter{}
	case string(p) == "/v1/models" || bytes.HasPrefix(p, []byte("/v1/models/")):
		return modelsAdapter{}
	case string(p) == "/v1/responses" || bytes.HasPrefix(p, []byte("/v1/responses/")):
		return responsesAdapter{s}
	}
	return unknownRoute{ProtoOpenAI, "Supported: chat/completions, embeddings, images/generations, models, responses."}
}

// unknownRoute is the adapter of a path no front door serves: its route
// stage refuses it, in the protocol its prefix implies.
type unknownRoute struct {
	proto Protocol
	hint  string
}

func (u unknownRoute) protocol() Protocol { return u.proto }

func (u unknownRoute) route(ctx *fasthttp.RequestCtx, _ *call) *Failure {
	return fail(fasthttp.StatusNotFound, "Unknown route "+string(ctx.Path())+". "+u.hint)
}

func (unknownRoute) parse([]byte, *call) *Failure { return nil }

func (unknownRoute) translate(*fasthttp.RequestCtx, *Runtime, *exchange) (*fasthttp.Request, *Failure) {
	return nil, nil
}

func (unknownRoute) reply(*Runtime, *exchange, *fasthttp.Response, *fasthttp.Response) *Failure {
	return nil
}

func (unknownRoute) sink(*Runtime, *exchange) eventSink { return nil }

// allowOnly refuses a call whose method is not want, naming want in Allow.
func allowOnly(ctx *fasthttp.RequestCtx, want string) *Failure {
	if string(ctx.Method()) == want {
		return nil
	}
	return &Failure{Status: fasthttp.StatusMethodNotAllowed, Allow: want, Message: "Method " + string(ctx.Method()) + " is not allowed on " + string(ctx.Path()) + "; use " + want + "."}
}

// protocolOf is the protocol a path's prefix implies, for answers given
// before a request reaches its front door.
func protocolOf(p []byte) Protocol {
	if bytes.HasPrefix(p, prefixV1) || bytes.HasPrefix(p, prefixHF) || bytes.HasPrefix(p, prefixCompat) {
		return ProtoOpenAI
	}
	return ProtoGemini
}

// serverError answers requests fasthttp refuses before the handler runs
// (malformed, headers too large, body too large) in the protocol of their
// path, when it could be read. fasthttp's own error text is not sent back:
// it can quote the request, credentials included.
func serverError(ctx *fasthttp.RequestCtx, err error) {
	f := fail(fasthttp.StatusBadRequest, "Malformed HTTP request.")
	var small *fasthttp.ErrSmallBuffer
	var timeout net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		f = fail(fasthttp.StatusRequestEntityTooLarge, "Request body exceeds server.max_request_body.")
	case errors.As(err, &small):
		f = fail(fasthttp.StatusRequestHeaderFieldsTooLarge, "Request headers exceed "+strconv.Itoa(maxHeaderBytes>>10)+" KiB.")
	case errors.As(err, &timeout) && timeout.Timeout():
		f = fail(fasthttp.StatusRequestTimeout, "The request was not received in time (server.read_timeout).")
	}
	// The URI is not parsed yet; its raw form is enough for a prefix.
	protocolOf(ctx.Request.Header.RequestURI()).render(&ctx.Response, f)
	ctx.SetConnectionClose()
}
