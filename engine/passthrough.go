package engine

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/valyala/fasthttp"
)

// serveOpenAIPassthrough forwards /openai/v1/... to Google's own
// OpenAI-compatible endpoint ({base}/v1beta/openai/...) with a pool key,
// the same retries and key health as every other route, and Google's
// array-shaped errors re-wrapped into the object shape SDKs parse.
func (s *Server) serveOpenAIPassthrough(ctx *fasthttp.RequestCtx, rt *Runtime, rest []byte) {
	ex := s.newExchange(ProtoOpenAI, "openai"+string(rest))
	var head struct {
		Model  string `json:"model"`
		Stream bool   `json:"stream"`
	}
	if ctx.IsPost() {
		if err := json.Unmarshal(ctx.Request.Body(), &head); err != nil {
			writeOpenAIError(ctx, fasthttp.StatusBadRequest, "Request body is not valid JSON: "+err.Error(), "", 0)
			return
		}
	}
	if !s.admit(ctx, rt, ex, head.Model) {
		return
	}
	defer s.finishUnary(ctx, rt, ex)
	req := &ctx.Request
	stripClientCredentials(req)
	stripHopHeaders(&req.Header)
	if head.Model != "" && ex.model.Target != head.Model {
		// A model rule renamed the model: send the target upstream.
		var body map[string]json.RawMessage
		if json.Unmarshal(req.Body(), &body) == nil {
			body["model"], _ = json.Marshal(ex.model.Target)
			if b, err := json.Marshal(body); err == nil {
				req.SetBodyRaw(b)
			}
		}
	}
	req.URI().SetPath(ex.pool.target.PathPrefix + "/v1beta/openai" + string(rest))
	req.SetHost(ex.pool.target.Host)

	if head.Stream {
		s.streamGemini(ctx, rt, ex)
		return
	}
	switch out, freeAt := s.forward(ex, req, &ctx.Response, false); out {
	case outNoKey:
		s.writeNoKey(ctx, ex, freeAt)
	case outTransport:
		s.writeTransportError(ctx, ex)
	default:
		ex.status = ctx.Response.StatusCode()
		ex.ttfb = time.Since(ex.start)
		if ex.status >= 300 {
			body := ex.pool.redactBytes(rewrapArrayError(ctx.Response.Body()))
			ctx.Response.SetBody(body)
			ex.errBody = string(body)
			if ex.verdict.RetryAfter > 0 {
				ctx.Response.Header.Set("Retry-After", retryAfterSeconds(ex.verdict.RetryAfter))
			}
			return
		}
		ex.usage = openAIUsage(ctx.Response.Body())
	}
}

// rewrapArrayError turns Google's [{"error":{...}}] into {"error":{...}}:
// the OpenAI SDKs lose the message of an array-shaped error body.
func rewrapArrayError(b []byte) []byte {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '[' {
		return b
	}
	var arr []json.RawMessage
	if json.Unmarshal(t, &arr) != nil || len(arr) == 0 {
		return b
	}
	return arr[0]
}

// openAIUsage reads usage from an OpenAI-shaped answer.
func openAIUsage(b []byte) Usage {
	var body struct {
		Usage struct {
			Prompt     int `json:"prompt_tokens"`
			Completion int `json:"completion_tokens"`
			Total      int `json:"total_tokens"`
		} `json:"usage"`
	}
	if json.Unmarshal(b, &body) != nil {
		return Usage{}
	}
	return Usage{PromptTokenCount: body.Usage.Prompt, CandidatesTokenCount: body.Usage.Completion, TotalTokenCount: body.Usage.Total}
}
