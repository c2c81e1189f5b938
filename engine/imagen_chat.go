package engine

import (
	"bufio"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/openai"
	"github.com/balanceproxy/balance/internal/jsonw"
)

// Imagen through chat (gemini-balance's "…-chat" models): a model rule
// with imagen_chat serves /v1/chat/completions with Imagen's :predict,
// prompted with the last user message. The predictions are rewritten as
// a Gemini answer with inline image parts, so the chat translators render
// them as any image answer (markdown, data URLs or image_host links). A
// streaming client is served as a keep-alive stream: :predict has no
// stream.

// imagenKeepAlive is the comment interval of a streamed Imagen chat when
// openai.keep_alive sets none: images take tens of seconds.
const imagenKeepAlive = 10 * time.Second

func imagenChatRequest(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange) (*fasthttp.Request, *Failure) {
	body := ctx.Request.Body()
	prompt := ""
	gjson.GetBytes(body, "messages").ForEach(func(_, m gjson.Result) bool {
		if m.Get("role").Str != "user" {
			return true
		}
		c := m.Get("content")
		if c.Type == gjson.String {
			prompt = c.Str
			return true
		}
		prompt = ""
		c.ForEach(func(_, p gjson.Result) bool {
			if p.Get("type").Str == "text" {
				prompt += p.Get("text").Str
			}
			return true
		})
		return true
	})
	b := append([]byte(`{"prompt":`), jsonw.AppendString(nil, prompt)...)
	if n := gjson.GetBytes(body, "n"); n.Exists() {
		b = append(append(b, `,"n":`...), n.Raw...)
	}
	ir, terr := openai.TranslateImagesRequest(append(b, '}'))
	if terr != nil {
		if terr.Param == "prompt" {
			terr.Param, terr.Message = "messages", "an Imagen chat model needs a user message with text to draw"
		}
		return nil, &Failure{Status: terr.Status, Message: terr.Message, Param: terr.Param}
	}
	c := &ex.call
	c.reply = openai.Reply{ID: openai.NewCompletionID(), Model: ex.model.Asked, Created: time.Now().Unix(),
		IncludeUsage: gjson.GetBytes(body, "stream_options.include_usage").Bool()}
	c.stream = gjson.GetBytes(body, "stream").Bool()
	if c.stream {
		c.keepAlive = rt.Config.OpenAI.KeepAlive
		if c.keepAlive == 0 {
			c.keepAlive = imagenKeepAlive
		}
	}
	return geminiRequest(ex, "predict", ir.Gemini, false), nil
}

// imagenAsGemini rewrites an Imagen :predict answer as a Gemini
// GenerateContentResponse holding the images as inlineData parts.
func imagenAsGemini(predict []byte) ([]byte, *Failure) {
	images, err := openai.ImagePredictions(predict)
	if err != nil {
		if oe, ok := err.(*openai.Error); ok {
			return nil, &Failure{Status: oe.Status, Message: oe.Message}
		}
		return nil, untranslatable(err)
	}
	b := make([]byte, 0, len(predict)+128)
	b = append(b, `{"candidates":[{"content":{"role":"model","parts":[`...)
	for i, im := range images {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"inlineData":{"mimeType":`...)
		b = jsonw.AppendString(b, im.Mime)
		b = append(b, `,"data":"`...)
		b = append(b, im.B64...)
		b = append(b, `"}}`...)
	}
	return append(b, `]},"finishReason":"STOP","index":0}]}`...), nil
}

// imagenEvents feeds a keep-alive stream's one :predict answer to the
// chat stream translator as a Gemini answer.
type imagenEvents struct{ chatEvents }

func (e imagenEvents) event(w *bufio.Writer, data []byte) error {
	g, f := imagenAsGemini(data)
	if f != nil {
		return &streamEnd{failure: f}
	}
	return e.chatEvents.event(w, g)
}
