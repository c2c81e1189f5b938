package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/gemini"
	"github.com/balanceproxy/balance/engine/openai"
	"github.com/balanceproxy/balance/internal/verdict"
)

// serveOpenAI handles the OpenAI-compatible routes under /v1/ and /hf/v1/.
// They spend pool keys exactly like the native routes: same auth, model
// rules, key choice, classification, retries and stats.
func (s *Server) serveOpenAI(ctx *fasthttp.RequestCtx, rt *Runtime) {
	p := ctx.Path()
	if bytes.HasPrefix(p, prefixHF) {
		p = p[len("/hf"):]
	}
	switch {
	case bytes.Equal(p, []byte("/v1/chat/completions")):
		if s.openAIMethod(ctx, fasthttp.MethodPost) {
			s.openAIChat(ctx, rt)
		}
	case bytes.Equal(p, []byte("/v1/embeddings")):
		if s.openAIMethod(ctx, fasthttp.MethodPost) {
			s.openAIEmbeddings(ctx, rt)
		}
	case bytes.Equal(p, []byte("/v1/images/generations")):
		if s.openAIMethod(ctx, fasthttp.MethodPost) {
			s.openAIImages(ctx, rt)
		}
	case bytes.Equal(p, []byte("/v1/models")):
		if s.openAIMethod(ctx, fasthttp.MethodGet) {
			s.openAIModels(ctx, rt, "")
		}
	case bytes.HasPrefix(p, []byte("/v1/models/")):
		if s.openAIMethod(ctx, fasthttp.MethodGet) {
			s.openAIModels(ctx, rt, string(p[len("/v1/models/"):]))
		}
	default:
		writeOpenAIError(ctx, fasthttp.StatusNotFound, "Unknown OpenAI route "+string(ctx.Path())+". Supported: chat/completions, embeddings, images/generations, models.", "", 0)
	}
}

func (s *Server) openAIMethod(ctx *fasthttp.RequestCtx, want string) bool {
	if string(ctx.Method()) == want {
		return true
	}
	ctx.Response.Header.Set("Allow", want)
	writeOpenAIError(ctx, fasthttp.StatusMethodNotAllowed, "Use "+want+" for "+string(ctx.Path())+".", "", 0)
	return false
}

// openAIOptions are the translator settings of a generation, built once
// per generation (the image fetcher holds an HTTP client).
func (rt *Runtime) openAIOptions() openai.Options {
	rt.openAIOnce.Do(func() { rt.openAIOpts = buildOpenAIOptions(rt) })
	return rt.openAIOpts
}

func buildOpenAIOptions(rt *Runtime) openai.Options {
	o := rt.Config.OpenAI
	opts := openai.Options{ShowThinking: o.ShowThinking, ImageOutput: o.ImageOutput, SearchLinks: o.SearchLinks, MaxN: o.MaxN}
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

// openAIUpstream prepares an upstream request for a Gemini call on the
// exchange's pool and model.
func openAIUpstream(ex *exchange, method string, body []byte, sse bool) *fasthttp.Request {
	req := fasthttp.AcquireRequest()
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	ex.scratch = upstreamPath(ex.scratch[:0], ex.pool, gemini.Call{Version: "v1beta", Model: ex.model.Target, Method: method}, ex.model.Target)
	req.URI().SetPathBytes(ex.scratch)
	if sse {
		req.URI().SetQueryString("alt=sse")
	}
	req.SetHost(ex.pool.target.Host)
	req.SetBodyRaw(body)
	return req
}

// openAIFail writes the answer for a failed forward in OpenAI's shape,
// keeping Google's status (429 stays 429, with Retry-After).
func (s *Server) openAIFail(ctx *fasthttp.RequestCtx, ex *exchange, out outcome, freeAt time.Time, up *fasthttp.Response) {
	switch out {
	case outNoKey:
		s.writeNoKey(ctx, ex, freeAt)
	case outTransport:
		s.writeTransportError(ctx, ex)
	default:
		status := up.StatusCode()
		body := up.Body()
		if ex.errBody != "" {
			status = errorCode([]byte(ex.errBody))
			body = []byte(ex.errBody)
		}
		body = ex.pool.redactBytes(body)
		ex.status, ex.errBody = status, string(body)
		e := openai.ErrorFromGemini(status, body)
		var retry time.Duration
		if ex.verdict.Class == verdict.RateLimited {
			retry = ex.verdict.RetryAfter
		}
		ctx.Response.Reset()
		ctx.SetStatusCode(e.Status)
		ctx.SetContentType("application/json")
		if retry > 0 {
			ctx.Response.Header.Set("Retry-After", retryAfterSeconds(retry))
		}
		ctx.SetBody(e.JSON())
	}
}

func writeOpenAIErr(ctx *fasthttp.RequestCtx, ex *exchange, e *openai.Error) {
	ex.status = e.Status
	ctx.Response.Reset()
	ctx.SetStatusCode(e.Status)
	ctx.SetContentType("application/json")
	ctx.SetBody(e.JSON())
}

// openAIChat serves POST /v1/chat/completions.
func (s *Server) openAIChat(ctx *fasthttp.RequestCtx, rt *Runtime) {
	ex := s.newExchange(ProtoOpenAI, "chat.completions")
	if !s.authenticate(ctx, rt, ex) {
		return
	}
	opts := rt.openAIOptions()
	// The image fetcher bounds each fetch with its own timeout.
	cr, terr := openai.TranslateChatRequest(context.Background(), ctx.Request.Body(), opts)
	if terr != nil {
		writeOpenAIErr(ctx, ex, terr)
		return
	}
	if !s.authorize(ctx, rt, ex, cr.Model) {
		return
	}
	defer s.finishUnary(ctx, rt, ex)
	if chain := rt.chainFor(ex); len(chain) > 0 {
		// Hooks see and edit the request in the client's protocol.
		ex.retain(chain)
		ex.chain = chain
		in := ctx.Request.Body()
		edited, ok := s.runRequestHooks(ctx, rt, ex, chain, in)
		if !ok {
			return
		}
		if !sameBytes(edited, in) {
			cr, terr = openai.TranslateChatRequest(context.Background(), edited, opts)
			if terr != nil {
				terr.Message = "after hooks: " + terr.Message
				writeOpenAIErr(ctx, ex, terr)
				return
			}
			if cr.Model != ex.model.Asked && !s.reroute(ctx, rt, ex, cr.Model) {
				return
			}
		}
	}
	body := cr.Gemini
	if cr.ReasoningEffort != "" && ex.model.Target != cr.Model {
		// reasoning_effort maps to thinkingLevel on Gemini 3 and to a
		// token budget before it: re-derive it for the model an alias
		// resolved to.
		if tc, e := openai.ThinkingConfigForEffort(ex.model.Target, cr.ReasoningEffort); e == nil {
			body = setThinkingConfig(body, tc)
		}
	}
	if ex.model.editsBody() {
		edited, err := ex.model.editBody(body)
		if err != nil {
			writeOpenAIError(ctx, fasthttp.StatusBadRequest, "Invalid request: "+err.Error(), "", 0)
			ex.status = fasthttp.StatusBadRequest
			return
		}
		body = edited
	}
	rep := cr.Reply(openai.NewCompletionID(), time.Now().Unix())
	switch {
	case cr.Stream && rt.Config.OpenAI.KeepAlive > 0:
		s.openAIChatKeepAlive(ctx, ex, body, rep, opts, rt.Config.OpenAI.KeepAlive)
	case cr.Stream:
		s.openAIChatStream(ctx, ex, body, rep, opts)
	default:
		req := openAIUpstream(ex, "generateContent", body, false)
		defer fasthttp.ReleaseRequest(req)
		up := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseResponse(up)
		out, freeAt := s.forward(ex, req, up, false)
		if out != outUpstream || up.StatusCode() != fasthttp.StatusOK {
			s.openAIFail(ctx, ex, out, freeAt, up)
			return
		}
		ex.status, ex.ttfb = fasthttp.StatusOK, time.Since(ex.start)
		answer, u, err := openai.TranslateChatResponse(up.Body(), rep, opts)
		ex.usage = Usage{PromptTokenCount: int(u.PromptTokens), CandidatesTokenCount: int(u.CompletionTokens - u.ReasoningTokens),
			ThoughtsTokenCount: int(u.ReasoningTokens), CachedContentTokenCount: int(u.CachedTokens), TotalTokenCount: int(u.TotalTokens)}
		if err != nil {
			ex.status = fasthttp.StatusBadGateway
			writeOpenAIError(ctx, fasthttp.StatusBadGateway, "Could not translate the upstream answer: "+err.Error(), "", 0)
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(answer)
		if ex.chain != nil {
			s.runResponseHooks(ctx, ex, ex.chain)
		}
	}
}

// openAIChatStream streams a chat completion, translating each Gemini event
// into chat.completion.chunk events as it arrives.
func (s *Server) openAIChatStream(ctx *fasthttp.RequestCtx, ex *exchange, body []byte, rep openai.Reply, opts openai.Options) {
	req := openAIUpstream(ex, "streamGenerateContent", body, true)
	defer fasthttp.ReleaseRequest(req)
	up := fasthttp.AcquireResponse()
	out, freeAt := s.forward(ex, req, up, true)
	if out != outUpstream || up.StatusCode() != fasthttp.StatusOK || ex.verdict.Class != verdict.OK {
		s.openAIFail(ctx, ex, out, freeAt, up)
		fasthttp.ReleaseResponse(up)
		return
	}
	s.commitSSE(ctx, ex)
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		st := openai.NewStreamTranslator(rep, opts)
		var tail tailBuffer
		err := relayEvents(w, ex.peeked, up.BodyStream(), &tail, func(event []byte) error {
			return st.Event(event, w)
		})
		switch {
		case errors.Is(err, errClientGone):
			closeStream(up, err)
			ex.verdict, ex.status = verdict.Verdict{Class: verdict.ClientError, Reason: "client_closed"}, 499
		case err != nil:
			closeStream(up, err)
			ex.verdict = transportVerdict(err)
			ex.status = fasthttp.StatusBadGateway
			_ = st.Fail(err, w)
			_ = w.Flush()
		default:
			_ = up.CloseBodyStream()
			_ = st.Finish(w)
			_ = w.Flush()
		}
		ex.usage, _ = parseUsage(tail.bytes())
		fasthttp.ReleaseResponse(up)
		s.finish(ex)
	})
}

// openAIChatKeepAlive serves a streaming client from a unary upstream call
// (the "fake stream"): SSE comments keep the connection alive while the
// model thinks, then the whole answer arrives as chunks. Some gateways and
// clients time out on a stream that stays silent for minutes.
func (s *Server) openAIChatKeepAlive(ctx *fasthttp.RequestCtx, ex *exchange, body []byte, rep openai.Reply, opts openai.Options, every time.Duration) {
	req := openAIUpstream(ex, "generateContent", body, false)
	req.SetBody(body) // own the body: the call outlives the handler
	s.commitSSE(ctx, ex)
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer fasthttp.ReleaseRequest(req)
		up := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseResponse(up)
		type result struct {
			out    outcome
			freeAt time.Time
		}
		done := make(chan result, 1)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, freeAt := s.forward(ex, req, up, false)
			done <- result{out, freeAt}
		}()
		tick := time.NewTicker(every)
		defer tick.Stop()
		st := openai.NewStreamTranslator(rep, opts)
		var res result
	wait:
		for {
			select {
			case res = <-done:
				break wait
			case <-tick.C:
				_, _ = w.Write(openai.KeepAlive)
				_ = w.Flush() // a gone client shows up on the real write below
			}
		}
		wg.Wait()
		if res.out != outUpstream || up.StatusCode() != fasthttp.StatusOK {
			e := openai.ErrorFromGemini(up.StatusCode(), ex.pool.redactBytes(up.Body()))
			if res.out == outNoKey {
				e = &openai.Error{Status: 429, Type: "rate_limit_error", Message: "All keys of pool " + ex.pool.cfg.Name + " are rate-limited or quarantined."}
			} else if res.out == outTransport {
				e = &openai.Error{Status: 502, Type: "server_error", Message: "Upstream failed: " + ex.verdict.Message}
			}
			ex.status = e.Status
			_ = st.Fail(e, w)
			_ = w.Flush()
			s.finish(ex)
			return
		}
		ex.usage, _ = parseUsage(up.Body())
		if err := st.Event(up.Body(), w); err == nil {
			_ = st.Finish(w)
		} else {
			_ = st.Fail(err, w)
		}
		if w.Flush() != nil {
			ex.status = 499
		}
		s.finish(ex)
	})
}

// commitSSE sends the 200 event-stream headers; the exchange now belongs to
// the stream writer.
func (s *Server) commitSSE(ctx *fasthttp.RequestCtx, ex *exchange) {
	ex.status, ex.streamed, ex.detach = fasthttp.StatusOK, true, true
	ex.ttfb = time.Since(ex.start)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no")
}

// relayEvents reads Gemini SSE events from body (after the already-read
// first bytes) and hands each event's JSON to fn, flushing after each. It
// returns nil at a clean end, errClientGone if a write failed, or the read
// error.
func relayEvents(w *bufio.Writer, first []byte, body io.Reader, tail *tailBuffer, fn func([]byte) error) error {
	r := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(first), body), 4<<10)
	var long []byte
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// An event larger than the buffer (inline images): gather it.
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 {
			tail.write(line)
			data := bytes.TrimSpace(line)
			if bytes.HasPrefix(data, []byte("data:")) {
				data = bytes.TrimSpace(data[len("data:"):])
				if ferr := fn(data); ferr != nil {
					return ferr
				}
				if ferr := w.Flush(); ferr != nil {
					return errClientGone
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// openAIEmbeddings serves POST /v1/embeddings through :batchEmbedContents.
func (s *Server) openAIEmbeddings(ctx *fasthttp.RequestCtx, rt *Runtime) {
	ex := s.newExchange(ProtoOpenAI, "embeddings")
	if !s.authenticate(ctx, rt, ex) {
		return
	}
	er, terr := openai.TranslateEmbeddingsRequest(ctx.Request.Body())
	if terr != nil {
		writeOpenAIErr(ctx, ex, terr)
		return
	}
	if !s.authorize(ctx, rt, ex, er.Model) {
		return
	}
	defer s.finishUnary(ctx, rt, ex)
	s.openAIUnary(ctx, ex, "batchEmbedContents", er.GeminiBody(ex.model.Target), er.TranslateEmbeddingsResponse)
}

// openAIImages serves POST /v1/images/generations through Imagen :predict,
// on the pool the model rules route image models to.
func (s *Server) openAIImages(ctx *fasthttp.RequestCtx, rt *Runtime) {
	ex := s.newExchange(ProtoOpenAI, "images.generations")
	if !s.authenticate(ctx, rt, ex) {
		return
	}
	ir, terr := openai.TranslateImagesRequest(ctx.Request.Body())
	if terr != nil {
		writeOpenAIErr(ctx, ex, terr)
		return
	}
	if !s.authorize(ctx, rt, ex, ir.Model) {
		return
	}
	defer s.finishUnary(ctx, rt, ex)
	created := time.Now().Unix()
	s.openAIUnary(ctx, ex, "predict", ir.Gemini, func(b []byte) ([]byte, error) { return openai.TranslateImagesResponse(b, created) })
}

// openAIUnary runs one Gemini call for an OpenAI route and answers with
// its translation, or with the failure in OpenAI's shape.
func (s *Server) openAIUnary(ctx *fasthttp.RequestCtx, ex *exchange, method string, body []byte, translate func([]byte) ([]byte, error)) {
	req := openAIUpstream(ex, method, body, false)
	defer fasthttp.ReleaseRequest(req)
	up := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(up)
	out, freeAt := s.forward(ex, req, up, false)
	if out != outUpstream || up.StatusCode() != fasthttp.StatusOK {
		s.openAIFail(ctx, ex, out, freeAt, up)
		return
	}
	answer, err := translate(up.Body())
	if err != nil {
		ex.status = fasthttp.StatusBadGateway
		writeOpenAIError(ctx, fasthttp.StatusBadGateway, "Could not translate the upstream answer: "+err.Error(), "", 0)
		return
	}
	ex.status, ex.ttfb = fasthttp.StatusOK, time.Since(ex.start)
	ctx.SetContentType("application/json")
	ctx.SetBody(answer)
}

// openAIModels serves GET /v1/models (the upstream list, cached briefly,
// plus the config's virtual models, minus hidden ones) and /v1/models/{id}.
func (s *Server) openAIModels(ctx *fasthttp.RequestCtx, rt *Runtime, id string) {
	ex := s.newExchange(ProtoOpenAI, "models")
	if !s.authenticate(ctx, rt, ex) {
		return
	}
	if id != "" {
		if !s.authorize(ctx, rt, ex, id) {
			return
		}
		defer s.finishUnary(ctx, rt, ex)
		ex.status = fasthttp.StatusOK
		ctx.SetContentType("application/json")
		ctx.SetBody(openai.TranslateModel(id))
		return
	}
	if !s.authorize(ctx, rt, ex, "") {
		return
	}
	defer s.finishUnary(ctx, rt, ex)
	page, ok := s.modelCache.get(ex.pool.cfg.Name, rt.Generation)
	if !ok {
		req := fasthttp.AcquireRequest()
		defer fasthttp.ReleaseRequest(req)
		req.Header.SetMethod(fasthttp.MethodGet)
		req.URI().SetPath(ex.pool.target.PathPrefix + "/v1beta/models")
		req.URI().SetQueryString("pageSize=1000")
		req.SetHost(ex.pool.target.Host)
		up := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseResponse(up)
		out, freeAt := s.forward(ex, req, up, false)
		if out != outUpstream || up.StatusCode() != fasthttp.StatusOK {
			s.openAIFail(ctx, ex, out, freeAt, up)
			return
		}
		page = append([]byte(nil), up.Body()...)
		s.modelCache.put(ex.pool.cfg.Name, rt.Generation, page)
	}
	list, err := openai.TranslateModels(rt.virtualModels(page), rt.models.hidden, page)
	if err != nil {
		ex.status = fasthttp.StatusBadGateway
		writeOpenAIError(ctx, fasthttp.StatusBadGateway, "Could not translate the models list: "+err.Error(), "", 0)
		return
	}
	ex.status = fasthttp.StatusOK
	ctx.SetContentType("application/json")
	ctx.SetBody(list)
}

// virtualModels lists the ids the config adds: listed and alias rules, and
// the suffix variants of every generative upstream model.
func (rt *Runtime) virtualModels(page []byte) []string {
	var out []string
	for _, m := range rt.Config.Models {
		if (m.Listed || m.Target != "") && !bytes.ContainsAny([]byte(m.Name), "*?[") {
			out = append(out, m.Name)
		}
	}
	var list struct {
		Models []struct {
			Name    string   `json:"name"`
			Methods []string `json:"supportedGenerationMethods"`
		} `json:"models"`
	}
	if json.Unmarshal(page, &list) != nil {
		return out
	}
	sfx := rt.Config.OpenAI.Suffixes
	for _, m := range list.Models {
		name := string(bytes.TrimPrefix([]byte(m.Name), []byte("models/")))
		generative := false
		for _, meth := range m.Methods {
			generative = generative || meth == "generateContent"
		}
		if !generative || !bytes.HasPrefix([]byte(name), []byte("gemini-")) {
			continue
		}
		for _, suffix := range []string{sfx.Search, sfx.NonThinking} {
			if suffix != "" {
				out = append(out, name+suffix)
			}
		}
	}
	return out
}

// modelCache keeps each pool's upstream models list for a minute, per
// config generation.
type modelCache struct {
	mu      sync.Mutex
	entries map[string]modelCacheEntry
}

type modelCacheEntry struct {
	gen  uint64
	at   time.Time
	body []byte
}

func (c *modelCache) get(pool string, gen uint64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[pool]
	if !ok || e.gen != gen || time.Since(e.at) > time.Minute {
		return nil, false
	}
	return e.body, true
}

func (c *modelCache) put(pool string, gen uint64, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]modelCacheEntry{}
	}
	c.entries[pool] = modelCacheEntry{gen: gen, at: time.Now(), body: body}
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
	gc["thinkingConfig"] = tc
	req["generationConfig"], _ = json.Marshal(gc)
	out, err := json.Marshal(req)
	if err != nil {
		return body
	}
	return out
}
