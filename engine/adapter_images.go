package engine

import (
	"context"
	"encoding/base64"
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

// defaultModel is openai.image_model: chat apps (and gemini-balance's own
// example call) send no model.
func (imagesAdapter) defaultModel(rt *Runtime) string { return rt.Config.OpenAI.ImageModel }

func (imagesAdapter) translate(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange) (*fasthttp.Request, *Failure) {
	ir, terr := openai.TranslateImagesRequest(ctx.Request.Body())
	if terr != nil {
		return nil, &Failure{Status: terr.Status, Message: terr.Message, Param: terr.Param}
	}
	if ex.model.Target == "" {
		return nil, &Failure{Status: fasthttp.StatusBadRequest, Param: "model", Message: "you must provide a model parameter (balance.hcl sets no openai.image_model)"}
	}
	if ir.URL && rt.images == nil {
		return nil, &Failure{Status: fasthttp.StatusBadRequest, Param: "response_format",
			Message: "response_format url needs an image_host block in balance.hcl, which this server has not; use b64_json"}
	}
	ex.call.created, ex.call.stream, ex.call.imageURLs = time.Now().Unix(), false, ir.URL
	return geminiRequest(ex, "predict", ir.Gemini, false), nil
}

func (imagesAdapter) reply(rt *Runtime, ex *exchange, up, resp *fasthttp.Response) *Failure {
	var answer []byte
	var err error
	if ex.call.imageURLs {
		answer, err = imageLinks(rt, up.Body(), ex.call.created)
	} else {
		answer, err = openai.TranslateImagesResponse(up.Body(), ex.call.created)
	}
	if err != nil {
		if oe, ok := err.(*openai.Error); ok {
			return &Failure{Status: oe.Status, Message: oe.Message}
		}
		return untranslatable(err)
	}
	resp.Header.SetContentType("application/json")
	resp.SetBody(answer)
	return nil
}

// imageLinks keeps each generated image on the image host and answers
// with their links.
func imageLinks(rt *Runtime, predict []byte, created int64) ([]byte, error) {
	images, err := openai.ImagePredictions(predict)
	if err != nil {
		return nil, err
	}
	urls := make([]string, 0, len(images))
	for _, im := range images {
		data, err := base64.StdEncoding.DecodeString(im.B64)
		if err != nil {
			return nil, err
		}
		u, err := rt.images.Put(context.Background(), data, im.Mime) // bounded by image_host.timeout
		if err != nil {
			return nil, &openai.Error{Status: fasthttp.StatusBadGateway, Type: "server_error", Message: "Could not keep the generated image: " + err.Error()}
		}
		urls = append(urls, u)
	}
	return openai.ImagesURLResponse(created, urls), nil
}

func (imagesAdapter) sink(*Runtime, *exchange) eventSink { return nil }
