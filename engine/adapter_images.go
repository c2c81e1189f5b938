package engine

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/openai"
)

// imagesAdapter is the front door of POST /v1/images/generations, served
// by Imagen's :predict on the pool the model rules route image models to.
type imagesAdapter struct{}

func (imagesAdapter) protocol() Protocol { return ProtoOpenAI }

func (imagesAdapter) route(ctx *fasthttp.RequestCtx, c *call) *Failure {
	c.route, c.body = "images.generations", true
	return allowOnly(ctx, fasthttp.MethodPost)
}

func (imagesAdapter) parse(body []byte, c *call) *Failure { return parseModelAndStream(body, c) }

func (imagesAdapter) translate(ctx *fasthttp.RequestCtx, _ *Runtime, ex *exchange) (*fasthttp.Request, *Failure) {
	ir, terr := openai.TranslateImagesRequest(ctx.Request.Body())
	if terr != nil {
		return nil, &Failure{Status: terr.Status, Message: terr.Message, Param: terr.Param}
	}
	ex.call.created, ex.call.stream = time.Now().Unix(), false
	return geminiRequest(ex, "predict", ir.Gemini, false), nil
}

func (imagesAdapter) reply(_ *Runtime, ex *exchange, up, resp *fasthttp.Response) *Failure {
	answer, err := openai.TranslateImagesResponse(up.Body(), ex.call.created)
	if err != nil {
		return untranslatable(err)
	}
	resp.Header.SetContentType("application/json")
	resp.SetBody(answer)
	return nil
}

func (imagesAdapter) sink(*Runtime, *exchange) eventSink { return nil }
