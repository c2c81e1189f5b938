package engine

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/openai"
	"github.com/balanceproxy/balance/store"
)

// responsesAdapter is the front door of the OpenAI Responses API:
// POST /v1/responses is translated to generateContent (or
// streamGenerateContent) with the chat completions machinery, and its
// answer back to a response object or the typed response.* events.
// GET and DELETE /v1/responses/{id} and GET …/{id}/input_items are
// answered from the responses balance stored for the client's token.
type responsesAdapter struct{ srv *Server }

// responsesCall is what a Responses call carries from translate to its
// answer.
type responsesCall struct {
	rep openai.ResponsesReply
	// id and op name a call on a stored response ("get", "delete",
	// "input_items"); op is "" for POST /v1/responses.
	id, op string
	// keep is set when the answer is to be stored: then history (the
	// conversation before this request) and input go with it.
	keep           bool
	history, input []byte
	tokenHash      string
	// tr translates a streamed answer; the stream's failure event needs it.
	tr *openai.ResponsesTranslator
}

func (responsesAdapter) protocol() Protocol { return ProtoOpenAI }

func (responsesAdapter) route(ctx *fasthttp.RequestCtx, c *call) *Failure {
	p := ctx.Path()
	if bytes.HasPrefix(p, prefixHF) {
		p = p[len("/hf"):]
	}
	rest, _ := bytes.CutPrefix(p, []byte("/v1/responses"))
	c.responses = &responsesCall{}
	if len(rest) == 0 {
		c.route, c.body = "responses", true
		return allowOnly(ctx, fasthttp.MethodPost)
	}
	id, sub, _ := bytes.Cut(rest[1:], []byte("/"))
	if !validResponseID(id) {
		return fail(fasthttp.StatusNotFound, "Unknown route "+string(ctx.Path())+".")
	}
	c.responses.id = string(id)
	switch {
	case len(sub) == 0 && string(ctx.Method()) == fasthttp.MethodDelete:
		c.route, c.responses.op = "responses.delete", "delete"
		return nil
	case len(sub) == 0:
		c.route, c.responses.op = "responses.get", "get"
	case string(sub) == "input_items":
		c.route, c.responses.op = "responses.input_items", "input_items"
	default:
		return fail(fasthttp.StatusNotFound, "Unknown route "+string(ctx.Path())+". Supported: POST /v1/responses, GET and DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items.")
	}
	if string(ctx.Method()) != fasthttp.MethodGet {
		return &Failure{Status: fasthttp.StatusMethodNotAllowed, Allow: "GET, DELETE", Message: "Method " + string(ctx.Method()) + " is not allowed on " + string(ctx.Path()) + "."}
	}
	return nil
}

// validResponseID accepts the ids balance hands out ("resp_" and
// alphanumerics), keeping odd bytes out of store queries and messages.
func validResponseID(id []byte) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (responsesAdapter) parse(body []byte, c *call) *Failure {
	return parseModelAndStream(body, c)
}

func (a responsesAdapter) translate(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange) (*fasthttp.Request, *Failure) {
	rc := ex.call.responses
	if rc.op != "" {
		rc.tokenHash = tokenHash(ex.token)
		return nil, a.stored(ctx, rc)
	}
	body := ctx.Request.Body()
	var history []json.RawMessage
	if !bytes.Contains(body, []byte(`previous_response_id`)) {
		// Most requests continue nothing: skip the lookup's scan.
	} else if prev := gjson.GetBytes(body, "previous_response_id"); prev.Str != "" {
		rc.tokenHash = tokenHash(ex.token)
		h, f := a.history(prev.Str, rc.tokenHash)
		if f != nil {
			return nil, f
		}
		rc.history = h
		gjson.ParseBytes(h).ForEach(func(_, it gjson.Result) bool {
			history = append(history, json.RawMessage(it.Raw))
			return true
		})
	}
	rr, terr := openai.TranslateResponsesRequest(context.Background(), body, history, rt.openAIOptions())
	if terr != nil {
		return nil, &Failure{Status: terr.Status, Message: terr.Message, Param: terr.Param}
	}
	gbody, f := finishGeminiBody(ex, rr.Gemini, rr.Model, rr.ReasoningEffort)
	if f != nil {
		return nil, f
	}
	rc.rep = rr.Reply(openai.NewResponseID(), time.Now().Unix())
	rc.keep = rr.Store && rt.Config.OpenAI.ResponseRetention > 0 && a.srv.store.Load() != nil
	if rc.keep {
		if rc.tokenHash == "" {
			rc.tokenHash = tokenHash(ex.token)
		}
		rc.input = rr.Input
		if rc.history == nil {
			rc.history = []byte("[]")
		}
	}
	c := &ex.call
	c.stream = rr.Stream
	if c.stream {
		c.keepAlive = rt.Config.OpenAI.KeepAlive
	}
	if c.stream && c.keepAlive == 0 {
		return geminiRequest(ex, "streamGenerateContent", gbody, true), nil
	}
	return geminiRequest(ex, "generateContent", gbody, false), nil
}

// history is the conversation a previous response continues: its history,
// its input and its output, as one JSON array of items.
func (a responsesAdapter) history(id, tokenHash string) ([]byte, *Failure) {
	st := a.srv.store.Load()
	if st == nil {
		return nil, &Failure{Status: fasthttp.StatusBadRequest, Param: "previous_response_id",
			Message: "previous_response_id needs stored responses, and this server runs without a store database."}
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	prev, err := st.LoadResponse(ctx, id, tokenHash)
	if err != nil {
		return nil, storeFailure(err, id, "previous_response_id")
	}
	return joinArrays(prev.History, prev.Input, []byte(gjson.GetBytes(prev.Response, "output").Raw)), nil
}

// storeTimeout bounds a stored-response read or write on the request path.
const storeTimeout = 5 * time.Second

// storeFailure is the answer for a stored response that could not be read.
func storeFailure(err error, id, param string) *Failure {
	if errors.Is(err, store.ErrNotFound) {
		return &Failure{Status: fasthttp.StatusNotFound, Param: param, Message: "Response with id '" + id + "' not found."}
	}
	return &Failure{Status: fasthttp.StatusServiceUnavailable, Message: "The response store could not be read: " + err.Error()}
}

// joinArrays concatenates JSON arrays.
func joinArrays(arrays ...[]byte) []byte {
	out := []byte{'['}
	for _, a := range arrays {
		a = bytes.TrimSpace(a)
		if len(a) < 2 {
			continue
		}
		inner := bytes.TrimSpace(a[1 : len(a)-1])
		if len(inner) == 0 {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, inner...)
	}
	return append(out, ']')
}

// tokenHash is what stored responses know a client token by: the sha256
// of its secret, never the secret.
func tokenHash(tok *tokenRuntime) string {
	sum := sha256.Sum256(tok.secret)
	return hex.EncodeToString(sum[:])
}

// stored answers GET/DELETE /v1/responses/{id} and its input_items.
func (a responsesAdapter) stored(ctx *fasthttp.RequestCtx, rc *responsesCall) *Failure {
	st := a.srv.store.Load()
	if st == nil {
		return fail(fasthttp.StatusNotFound, "Response with id '"+rc.id+"' not found: this server runs without a store database.")
	}
	sctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if rc.op == "delete" {
		if err := st.DeleteResponse(sctx, rc.id, rc.tokenHash); err != nil {
			return storeFailure(err, rc.id, "")
		}
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"id":"` + rc.id + `","object":"response.deleted","deleted":true}`)
		return nil
	}
	var page itemsPage
	if rc.op == "input_items" {
		if f := page.parse(ctx.QueryArgs()); f != nil {
			return f
		}
	}
	r, err := st.LoadResponse(sctx, rc.id, rc.tokenHash)
	if err != nil {
		return storeFailure(err, rc.id, "")
	}
	body := r.Response
	if rc.op == "input_items" {
		var f *Failure
		if body, f = page.list(gjson.ParseBytes(r.Input).Array()); f != nil {
			return f
		}
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
	return nil
}

// itemsPage is the paging of GET /v1/responses/{id}/input_items, as
// OpenAI's: limit 1–100 (default 20), order asc or desc (default desc,
// newest first), after/before an item id, exclusive.
type itemsPage struct {
	limit         int
	asc           bool
	after, before string
}

// parse reads the query; a bad value is a 400 naming it, before any
// store read.
func (p *itemsPage) parse(q *fasthttp.Args) *Failure {
	p.limit = 20
	if v := q.Peek("limit"); v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 || n > 100 {
			return &Failure{Status: fasthttp.StatusBadRequest, Param: "limit",
				Message: "Invalid 'limit': expected an integer between 1 and 100, got '" + string(v) + "'."}
		}
		p.limit = n
	}
	switch v := string(q.Peek("order")); v {
	case "", "desc":
	case "asc":
		p.asc = true
	default:
		return &Failure{Status: fasthttp.StatusBadRequest, Param: "order",
			Message: "Invalid 'order': expected 'asc' or 'desc', got '" + v + "'."}
	}
	for _, c := range []struct {
		name string
		dst  *string
	}{{"after", &p.after}, {"before", &p.before}} {
		v := q.Peek(c.name)
		if v == nil {
			continue
		}
		if !validResponseID(v) {
			return &Failure{Status: fasthttp.StatusBadRequest, Param: c.name,
				Message: "Invalid '" + c.name + "': expected an input item id."}
		}
		*c.dst = string(v)
	}
	return nil
}

// list renders one page of items (stored oldest first) as OpenAI's list
// object. An after/before id that is not an item of this response is a
// 400.
func (p *itemsPage) list(items []gjson.Result) ([]byte, *Failure) {
	if !p.asc {
		slices.Reverse(items)
	}
	lo, hi := 0, len(items)
	find := func(name, id string) (int, *Failure) {
		for i, it := range items {
			if it.Get("id").Str == id {
				return i, nil
			}
		}
		return 0, &Failure{Status: fasthttp.StatusBadRequest, Param: name,
			Message: "Invalid '" + name + "': no input item with id '" + id + "' in this response."}
	}
	if p.after != "" {
		i, f := find("after", p.after)
		if f != nil {
			return nil, f
		}
		lo = i + 1
	}
	if p.before != "" {
		i, f := find("before", p.before)
		if f != nil {
			return nil, f
		}
		hi = i
	}
	if hi < lo {
		hi = lo
	}
	window := items[lo:hi]
	more := len(window) > p.limit
	if more {
		window = window[:p.limit]
	}
	b := append(make([]byte, 0, 96), `{"object":"list","data":[`...)
	for i, it := range window {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it.Raw...)
	}
	b = append(b, `],"first_id":`...)
	b = appendIDOf(b, window, 0)
	b = append(b, `,"last_id":`...)
	b = appendIDOf(b, window, len(window)-1)
	b = append(b, `,"has_more":`...)
	return append(strconv.AppendBool(b, more), '}'), nil
}

func appendIDOf(b []byte, items []gjson.Result, i int) []byte {
	if i < 0 || i >= len(items) {
		return append(b, "null"...)
	}
	return append(b, items[i].Get("id").Raw...)
}

func (a responsesAdapter) reply(rt *Runtime, ex *exchange, up, resp *fasthttp.Response) *Failure {
	rc := ex.call.responses
	answer, u, err := openai.TranslateResponsesResponse(up.Body(), rc.rep)
	ex.usage = usageOf(u)
	if err != nil {
		return untranslatable(err)
	}
	a.keep(rt, rc, answer)
	resp.Header.SetContentType("application/json")
	resp.SetBody(answer)
	return nil
}

// usageOf restates OpenAI token counts in Gemini's terms for the record.
func usageOf(u openai.Usage) Usage {
	return Usage{PromptTokenCount: int(u.PromptTokens), CandidatesTokenCount: int(u.CompletionTokens - u.ReasoningTokens),
		ThoughtsTokenCount: int(u.ReasoningTokens), CachedContentTokenCount: int(u.CachedTokens), TotalTokenCount: int(u.TotalTokens)}
}

// keep stores a finished answer when the request asked for it. The store
// writes it in its writer's next batch, off the request path, and answers
// reads of it from memory until then, so a client that names it in its
// next request to this instance finds it. A failed write costs the client
// the stored copy, not the answer.
func (a responsesAdapter) keep(rt *Runtime, rc *responsesCall, answer []byte) {
	if !rc.keep {
		return
	}
	st := a.srv.store.Load()
	if st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	now := time.Now()
	err := st.KeepResponse(ctx, store.StoredResponse{ID: rc.rep.ID, TokenHash: rc.tokenHash, Created: now,
		Expires: now.Add(rt.Config.OpenAI.ResponseRetention), Model: rc.rep.Model,
		History: rc.history, Input: rc.input, Response: answer})
	if err != nil {
		a.srv.log.Warn("stored response not kept", "id", rc.rep.ID, "err", err)
	}
}

func (a responsesAdapter) sink(rt *Runtime, ex *exchange) eventSink {
	rc := ex.call.responses
	rc.tr = openai.NewResponsesTranslator(rc.rep, true)
	rc.tr.OnFinal = func(final []byte) { a.keep(rt, rc, final) }
	return responsesEvents{rc.tr}
}

// failStream ends a committed stream with response.failed, the event the
// SDKs and Codex read, instead of a bare error event.
func (responsesAdapter) failStream(w *bufio.Writer, ex *exchange, f *Failure) bool {
	rc := ex.call.responses
	if rc == nil || rc.tr == nil {
		return false
	}
	_ = rc.tr.Fail(openAIError(f), w)
	_ = w.Flush()
	return true
}

// responsesEvents turns Gemini stream events into response.* events.
type responsesEvents struct{ tr *openai.ResponsesTranslator }

func (r responsesEvents) event(w *bufio.Writer, data []byte) error {
	return chatEvents{}.translated(w, r.tr.Event(data, w))
}

func (r responsesEvents) finish(w *bufio.Writer) error {
	return chatEvents{}.translated(w, r.tr.Finish(w))
}

func (responsesEvents) contentType([]byte) []byte { return textEventStream }
