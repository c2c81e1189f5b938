package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/openai"
)

// chatAdapter is the front door of POST /v1/chat/completions: the OpenAI
// request is translated to generateContent (or streamGenerateContent),
// and the answer, whole or event by event, back to chat.completion.
type chatAdapter struct{}

func (chatAdapter) protocol() Protocol { return ProtoOpenAI }

func (chatAdapter) route(ctx *fasthttp.RequestCtx, c *call) *Failure {
	c.route, c.body, c.refs = "chat.completions", true, true
	return allowOnly(ctx, fasthttp.MethodPost)
}

// parse reads the model and the stream flag; the full translation (which
// may fetch image URLs) waits until the client is admitted.
func (chatAdapter) parse(body []byte, c *call) *Failure {
	return parseModelAndStream(body, c)
}

// parseModelAndStream reads an OpenAI body's "model" and "stream". A
// missing model is left to the translator, whose 400 names the field.
func parseModelAndStream(body []byte, c *call) *Failure {
	res := gjson.GetManyBytes(body, "model", "stream")
	if res[0].Type == gjson.String {
		c.model = res[0].Str
	} else {
		c.model = ""
	}
	c.stream = res[1].Type == gjson.True
	return nil
}

func (chatAdapter) translate(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange) (*fasthttp.Request, *Failure) {
	if ex.model.ImagenChat {
		return imagenChatRequest(ctx, rt, ex)
	}
	opts := rt.openAIOptions()
	// The image fetcher bounds each fetch with its own timeout.
	cr, terr := openai.TranslateChatRequest(context.Background(), ctx.Request.Body(), opts)
	if terr != nil {
		return nil, &Failure{Status: terr.Status, Message: terr.Message, Param: terr.Param}
	}
	body, f := finishGeminiBody(ex, cr.Gemini, cr.Model, cr.ReasoningEffort)
	if f != nil {
		return nil, f
	}
	c := &ex.call
	c.stream = cr.Stream
	c.reply = cr.Reply(openai.NewCompletionID(), time.Now().Unix())
	if c.stream {
		c.keepAlive = rt.Config.OpenAI.KeepAlive
	}
	if c.stream && c.keepAlive == 0 {
		return geminiRequest(ex, "streamGenerateContent", body, true), nil
	}
	return geminiRequest(ex, "generateContent", body, false), nil
}

// finishGeminiBody applies to a translated OpenAI request what depends on
// the model an alias resolved to: the thinking config of a reasoning
// effort and the model rule's body edits.
func finishGeminiBody(ex *exchange, body []byte, asked, effort string) ([]byte, *Failure) {
	if effort != "" && ex.model.Target != asked {
		// reasoning_effort maps to thinkingLevel on Gemini 3 and to a
		// token budget before it: re-derive it for the model an alias
		// resolved to.
		if tc, e := openai.ThinkingConfigForEffort(ex.model.Target, effort); e == nil {
			body = setThinkingConfig(body, tc)
		}
	}
	if ex.model.editsBody() {
		edited, err := ex.model.editBody(body)
		if err != nil {
			return nil, fail(fasthttp.StatusBadRequest, "Invalid request: "+err.Error())
		}
		body = edited
	}
	return body, nil
}

func (chatAdapter) reply(rt *Runtime, ex *exchange, up, resp *fasthttp.Response) *Failure {
	body := up.Body()
	if ex.model.ImagenChat {
		g, f := imagenAsGemini(body)
		if f != nil {
			return f
		}
		body = g
	}
	answer, u, err := openai.TranslateChatResponse(body, ex.call.reply, rt.openAIOptions())
	ex.usage = usageOf(u)
	if err != nil {
		return untranslatable(err)
	}
	resp.Header.SetContentType("application/json")
	resp.SetBody(answer)
	return nil
}

// untranslatable is the failure for an upstream answer balance could not
// translate for the client.
func untranslatable(err error) *Failure {
	return &Failure{Status: fasthttp.StatusBadGateway, Message: "Could not translate the upstream answer: " + err.Error()}
}

func (chatAdapter) sink(rt *Runtime, ex *exchange) eventSink {
	c := chatEvents{st: openai.NewStreamTranslator(ex.call.reply, rt.openAIOptions())}
	if p := pacingFor(ex); p != nil {
		c.pacer = newPacer(*p, ex.streamsCut)
		c.st.SetPacer(c.pacer)
	}
	if ex.model.ImagenChat {
		return imagenEvents{c}
	}
	return c
}

// chatEvents turns Gemini stream events into chat.completion.chunk
// events, paced when the token or model rule asks (pacing.go).
type chatEvents struct {
	st    *openai.StreamTranslator
	pacer *pacer
}

func (c chatEvents) event(w *bufio.Writer, data []byte) error {
	if c.pacer == nil {
		return c.translated(w, c.st.Event(data, w))
	}
	c.pacer.eventStart(w)
	defer c.pacer.eventEnd()
	return c.translated(w, c.st.Event(data, w))
}

func (c chatEvents) finish(w *bufio.Writer) error {
	if c.pacer != nil {
		c.pacer.close()
	}
	return c.translated(w, c.st.Finish(w))
}

// translated sorts the translator's errors: an in-band upstream error or
// an untranslatable event ends the stream with an error event; a failed
// write means the client is gone.
func (chatEvents) translated(w *bufio.Writer, err error) error {
	if err == nil {
		return nil
	}
	var end *streamEnd
	if errors.Is(err, errClientGone) || errors.As(err, &end) {
		return err // the pacer's shutdown end passes through as it is
	}
	var oe *openai.Error
	if errors.As(err, &oe) {
		return &streamEnd{failure: &Failure{Status: oe.Status, Message: oe.Message, Param: oe.Param}}
	}
	if w.Flush() != nil {
		return errClientGone
	}
	return &streamEnd{failure: untranslatable(err)}
}

func (chatEvents) contentType([]byte) []byte { return textEventStream }

// openAIOptions are the translator settings of a generation, built once
// per generation (the image fetcher holds an HTTP client).
func (rt *Runtime) openAIOptions() openai.Options {
	rt.openAIOnce.Do(func() { rt.openAIOpts = buildOpenAIOptions(rt) })
	return rt.openAIOpts
}

func buildOpenAIOptions(rt *Runtime) openai.Options {
	o := rt.Config.OpenAI
	opts := openai.Options{ShowThinking: o.ShowThinking, ImageOutput: o.ImageOutput, SearchLinks: o.SearchLinks, MaxN: o.MaxN}
	if rt.images != nil {
		opts.ImageLinker = imageLinker{rt.images}
	}
	if o.ImageFetch.Enabled {
		opts.ImageFetcher = openai.NewSafeFetcher(o.ImageFetch.Timeout, int64(o.ImageFetch.MaxBytes))
	} else {
		opts.ImageFetcher = refuseFetch{}
	}
	return opts
}

// refuseFetch is the image fetcher when image_fetch is disabled.
type refuseFetch struct{}

func (refuseFetch) Fetch(context.Context, string) ([]byte, string, error) {
	return nil, "", errors.New("fetching image URLs is disabled (openai.image_fetch.enabled = false); send a data: URL")
}

// setThinkingConfig replaces generationConfig.thinkingConfig in a Gemini
// request; on any decoding problem it returns the body unchanged.
func setThinkingConfig(body []byte, tc json.RawMessage) []byte {
	var req map[string]json.RawMessage
	if json.Unmarshal(body, &req) != nil {
		return body
	}
	gc := map[string]json.RawMessage{}
	if raw, ok := req["generationConfig"]; ok && json.Unmarshal(raw, &gc) != nil {
		return body
	}
	// Thought summaries asked for stay asked for (show_thinking,
	// reasoning.summary): only the effort is re-derived.
	var prev struct {
		IncludeThoughts bool `json:"includeThoughts"`
	}
	if raw, ok := gc["thinkingConfig"]; ok && json.Unmarshal(raw, &prev) == nil && prev.IncludeThoughts {
		tc = append(append(tc[:len(tc)-1:len(tc)-1], `,"includeThoughts":true`...), '}')
	}
	gc["thinkingConfig"] = tc
	req["generationConfig"], _ = json.Marshal(gc)
	out, err := json.Marshal(req)
	if err != nil {
		return body
	}
	return out
}
