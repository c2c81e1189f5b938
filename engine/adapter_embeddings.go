package engine

import (
	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/openai"
)

// embeddingsAdapter is the front door of POST /v1/embeddings, served by
// Gemini's :batchEmbedContents.
type embeddingsAdapter struct{}

func (embeddingsAdapter) protocol() Protocol { return ProtoOpenAI }

func (embeddingsAdapter) route(ctx *fasthttp.RequestCtx, c *call) *Failure {
	c.route, c.body = "embeddings", true
	return allowOnly(ctx, fasthttp.MethodPost)
}

func (embeddingsAdapter) parse(body []byte, c *call) *Failure { return parseModelAndStream(body, c) }

func (embeddingsAdapter) translate(ctx *fasthttp.RequestCtx, _ *Runtime, ex *exchange) (*fasthttp.Request, *Failure) {
	er, terr := openai.TranslateEmbeddingsRequest(ctx.Request.Body())
	if terr != nil {
		return nil, &Failure{Status: terr.Status, Message: terr.Message, Param: terr.Param}
	}
	ex.call.embeddings, ex.call.stream = er, false
	return geminiRequest(ex, "batchEmbedContents", er.GeminiBody(ex.model.Target), false), nil
}

func (embeddingsAdapter) reply(_ *Runtime, ex *exchange, up, resp *fasthttp.Response) *Failure {
	answer, err := ex.call.embeddings.TranslateEmbeddingsResponse(up.Body())
	if err != nil {
		return untranslatable(err)
	}
	resp.Header.SetContentType("application/json")
	resp.SetBody(answer)
	return nil
}

func (embeddingsAdapter) sink(*Runtime, *exchange) eventSink { return nil }
