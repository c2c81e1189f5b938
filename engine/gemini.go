package engine

import (
	"bufio"
	"errors"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/gemini"
	"github.com/balanceproxy/balance/hooks"
	"github.com/balanceproxy/balance/internal/verdict"
)

// serveGemini handles the native Gemini REST routes. p is the path from
// the version on ("/v1beta/models/x:generateContent").
func (s *Server) serveGemini(ctx *fasthttp.RequestCtx, rt *Runtime, p []byte) {
	call, ok := gemini.ParsePath(string(p))
	if !ok {
		writeGeminiError(ctx, fasthttp.StatusNotFound, "Unknown Gemini API method "+string(ctx.Path())+".", 0)
		return
	}
	wantPost := call.Method != ""
	if wantPost != ctx.IsPost() || !wantPost && !ctx.IsGet() {
		want := "GET"
		if wantPost {
			want = "POST"
		}
		ctx.Response.Header.Set("Allow", want)
		writeGeminiError(ctx, fasthttp.StatusMethodNotAllowed, "Method "+string(ctx.Method())+" is not allowed here; use "+want+".", 0)
		return
	}
	ex := s.newExchange(ProtoGemini, routeName(call))

	if !s.admit(ctx, rt, ex, call.Model) {
		return
	}
	defer s.finishUnary(ctx, rt, ex)

	// Rewrite the request in place for the upstream.
	req := &ctx.Request
	stripClientCredentials(req)
	stripHopHeaders(&req.Header)
	if wantPost && !validJSON(req.Body()) {
		ex.status = fasthttp.StatusBadRequest
		writeGeminiError(ctx, fasthttp.StatusBadRequest, "Invalid JSON payload: the request body is not valid JSON.", 0)
		return
	}
	if chain := rt.chainFor(ex); len(chain) > 0 {
		ex.retain(chain)
		body, ok := s.runRequestHooks(ctx, rt, ex, chain, req.Body())
		if !ok {
			return
		}
		if wantPost && !sameBytes(body, req.Body()) {
			req.SetBody(body)
		}
		ex.chain = chain
	}
	if wantPost {
		body := req.Body()
		if ex.model.editsBody() && (call.Method == "generateContent" || call.Method == "streamGenerateContent") {
			edited, err := ex.model.editBody(body)
			if err != nil {
				ex.status = fasthttp.StatusBadRequest
				writeGeminiError(ctx, fasthttp.StatusBadRequest, "Invalid request: "+err.Error(), 0)
				return
			}
			req.SetBodyRaw(edited)
		}
	}
	ex.scratch = upstreamPath(ex.scratch[:0], ex.pool, call, ex.model.Target)
	req.URI().SetPathBytes(ex.scratch)
	req.SetHost(ex.pool.target.Host)

	if call.Streams() {
		s.streamGemini(ctx, rt, ex)
		return
	}

	switch out, freeAt := s.forward(ex, req, &ctx.Response, false); out {
	case outNoKey:
		s.writeNoKey(ctx, ex, freeAt)
	case outTransport:
		s.writeTransportError(ctx, ex)
	default:
		s.passUpstream(ctx, rt, ex, call)
	}
}

// admit authenticates the client and applies the token's and the model
// rules. It writes the error and returns false when the request may not
// proceed; no upstream call has been made then.
func (s *Server) admit(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange, model string) bool {
	return s.authenticate(ctx, rt, ex) && s.authorize(ctx, rt, ex, model)
}

// authenticate finds the client's token.
func (s *Server) authenticate(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange) bool {
	cred := clientCredential(&ctx.Request)
	tok := rt.lookupToken(cred)
	if tok == nil {
		msg := "Missing client token: send Authorization: Bearer <token>, x-goog-api-key or ?key=."
		if len(cred) > 0 {
			msg = "Invalid client token."
		}
		s.writeError(ctx, ex.proto, fasthttp.StatusUnauthorized, msg, 0)
		return false
	}
	if !tok.cfg.Expires.IsZero() && time.Now().After(tok.cfg.Expires) {
		s.writeError(ctx, ex.proto, fasthttp.StatusUnauthorized, "Client token "+tok.cfg.Name+" expired on "+tok.cfg.Expires.UTC().Format(time.RFC3339)+".", 0)
		return false
	}
	ex.token = tok
	return true
}

// authorize applies the model rules to the model asked for, checks the
// token may use it and its pool, and counts the request against the
// token's limits.
func (s *Server) authorize(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange, model string) bool {
	tok := ex.token
	if model != "" && !gemini.ValidModel(model) {
		s.writeError(ctx, ex.proto, fasthttp.StatusBadRequest, "Invalid model name: use letters, digits, '-', '.', '_' or '@'.", 0)
		return false
	}
	ex.model = rt.models.resolve(model)
	if ex.model.Target != model && !gemini.ValidModel(ex.model.Target) {
		s.writeError(ctx, ex.proto, fasthttp.StatusBadRequest, "Invalid model name after model rules.", 0)
		return false
	}
	if model != "" && !tok.allowsModel(ex.model.Asked) && !tok.allowsModel(ex.model.Target) {
		s.writeError(ctx, ex.proto, fasthttp.StatusForbidden, "Token "+tok.cfg.Name+" may not use model "+model+".", 0)
		return false
	}
	pool, ok := tok.poolFor(ex.model.Pool)
	if !ok {
		s.writeError(ctx, ex.proto, fasthttp.StatusForbidden, "Model "+model+" is served by pool "+ex.model.Pool+", which token "+tok.cfg.Name+" may not use.", 0)
		return false
	}
	ex.pool = pool
	ex.tstate = s.tokens.get(tok.cfg.Name)
	if d := ex.tstate.admit(tok, time.Now()); d != nil {
		ex.tstate = nil
		s.writeError(ctx, ex.proto, fasthttp.StatusTooManyRequests, d.message+".", d.retryAfter)
		return false
	}
	return true
}

// upstreamPath builds the upstream path for a call on the target model.
// It appends to dst so the hot path reuses one buffer.
func upstreamPath(dst []byte, p *poolRuntime, call gemini.Call, model string) []byte {
	dst = append(dst, p.target.PathPrefix...)
	dst = append(dst, '/')
	dst = append(dst, call.Version...)
	if call.Model == "" {
		return append(dst, "/models"...)
	}
	if call.Tuned {
		dst = append(dst, "/tunedModels/"...)
	} else {
		dst = append(dst, "/models/"...)
	}
	dst = append(dst, model...)
	if call.Method != "" {
		dst = append(dst, ':')
		dst = append(dst, call.Method...)
	}
	return dst
}

func routeName(c gemini.Call) string {
	switch {
	case c.Model == "":
		return "models.list"
	case c.Method == "":
		return "models.get"
	}
	return c.Method
}

// passUpstream hands an upstream answer already in ctx.Response back to
// the client: errors redacted, model lists edited by the rules.
func (s *Server) passUpstream(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange, call gemini.Call) {
	resp := &ctx.Response
	ex.status = resp.StatusCode()
	ex.ttfb = time.Since(ex.start)
	resp.Header.Del("Connection")
	if ex.status >= 300 {
		red := ex.pool.redactBytes(resp.Body())
		resp.SetBody(red)
		ex.errBody = string(red)
		if ex.verdict.Class == verdict.RateLimited && ex.verdict.RetryAfter > 0 {
			resp.Header.Set("Retry-After", retryAfterSeconds(ex.verdict.RetryAfter))
		}
		return
	}
	if call.Method == "generateContent" {
		ex.usage, _ = parseUsage(resp.Body())
	}
	if call.Model == "" && rt.models.editsList() {
		resp.SetBody(rt.models.editModelsList(resp.Body()))
	}
	if ex.chain != nil {
		s.runResponseHooks(ctx, ex, ex.chain)
	}
}

// streamGemini forwards a streamGenerateContent call, relaying events as
// they arrive. Until the first byte reaches the client a failure moves the
// request to another key; after that, the stream is never spliced with
// another key's: it ends with an error event the client can parse.
func (s *Server) streamGemini(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange) {
	up := fasthttp.AcquireResponse()
	out, freeAt := s.forward(ex, &ctx.Request, up, true)
	switch {
	case out == outNoKey:
		fasthttp.ReleaseResponse(up)
		s.writeNoKey(ctx, ex, freeAt)
		return
	case out == outTransport:
		fasthttp.ReleaseResponse(up)
		s.writeTransportError(ctx, ex)
		return
	case up.StatusCode() != fasthttp.StatusOK || ex.verdict.Class != verdict.OK:
		s.writeStreamStartFailure(ctx, ex, up)
		fasthttp.ReleaseResponse(up)
		return
	}
	s.relayStream(ctx, ex, up)
}

// writeStreamStartFailure passes a final failure that came before any
// output back as a unary error, with Google's status.
func (s *Server) writeStreamStartFailure(ctx *fasthttp.RequestCtx, ex *exchange, up *fasthttp.Response) {
	status := up.StatusCode()
	body := up.Body()
	if ex.errBody != "" { // an in-band error that opened a 200 stream
		status = errorCode([]byte(ex.errBody))
		body = []byte(ex.errBody)
	}
	body = ex.pool.redactBytes(body)
	ex.status = status
	ex.errBody = string(body)
	var retry time.Duration
	if ex.verdict.Class == verdict.RateLimited {
		retry = ex.verdict.RetryAfter
	}
	if ex.proto == ProtoOpenAI {
		writeOpenAIError(ctx, status, upstreamMessage(ex, status), "", retry)
		return
	}
	ctx.Response.SetStatusCode(status)
	ctx.Response.Header.SetContentType("application/json; charset=UTF-8")
	ctx.Response.SetBody(body)
	if retry > 0 {
		ctx.Response.Header.Set("Retry-After", retryAfterSeconds(retry))
	}
}

// upstreamMessage is Google's error message for a failed exchange,
// redacted, or a generic one naming the status.
func upstreamMessage(ex *exchange, status int) string {
	if ex.verdict.Message != "" {
		return ex.pool.redact(ex.verdict.Message)
	}
	return "Upstream answered " + strconv.Itoa(status) + " " + gemini.StatusName(status) + "."
}

// relayStream commits the client to a 200 stream and copies the upstream
// stream to it from a writer that runs after the handler returns.
func (s *Server) relayStream(ctx *fasthttp.RequestCtx, ex *exchange, up *fasthttp.Response) {
	ex.status = fasthttp.StatusOK
	ex.streamed = true
	ex.ttfb = time.Since(ex.start)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ct := up.Header.ContentType()
	ctx.Response.Header.SetContentTypeBytes(ct)
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no")
	sse := isStreamContentType(ct)
	proto := ex.proto
	// From here on the exchange belongs to the stream writer; it must
	// not touch ctx.
	ex.detach = true
	chunkHooks := sse && chainHandles(ex.chain, hooks.PhaseChunk)
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		var tail tailBuffer
		var err error
		if chunkHooks {
			err = relayEvents(w, ex.peeked, up.BodyStream(), &tail, func(event []byte) error {
				return s.runChunkHooks(w, ex, event)
			})
		} else {
			_, err = copyStream(w, ex.peeked, up.BodyStream(), &tail)
		}
		if errors.Is(err, errHookEnded) {
			err = errClientGone // the hook already wrote the stream's end
		}
		switch {
		case err == errClientGone:
			closeStream(up, err)
			ex.verdict = verdict.Verdict{Class: verdict.ClientError, Reason: "client_closed"}
			ex.status = 499
		case err != nil:
			closeStream(up, err)
			v := transportVerdict(err)
			ex.verdict = v
			ex.status = fasthttp.StatusBadGateway
			writeStreamError(w, proto, sse, v)
		default:
			_ = up.CloseBodyStream()
		}
		ex.usage, _ = parseUsage(tail.bytes())
		fasthttp.ReleaseResponse(up)
		s.finish(ex)
	})
}

// writeStreamError ends a committed stream with an error the client's
// parser surfaces: an SSE event in Google's shape, or a final array
// element for the JSON-array form.
func writeStreamError(w *bufio.Writer, proto Protocol, sse bool, v verdict.Verdict) {
	status := 503
	if v.Class == verdict.Timeout {
		status = 504
	}
	msg := "Upstream stream failed after output began (" + v.Message + "); the answer above is incomplete."
	if proto == ProtoOpenAI {
		_, _ = w.WriteString("data: ")
		_, _ = w.Write(openAIErrorJSON(status, msg, ""))
		_, _ = w.WriteString("\n\ndata: [DONE]\n\n")
		_ = w.Flush()
		return
	}
	body := gemini.ErrorJSON(status, msg, 0)
	if sse {
		_, _ = w.WriteString("data: ")
		_, _ = w.Write(body)
		_, _ = w.WriteString("\r\n\r\n")
	} else {
		_, _ = w.WriteString(",\r\n")
		_, _ = w.Write(body)
		_, _ = w.WriteString("]")
	}
	_ = w.Flush()
}

// writeNoKey answers when no key of the pool can serve: 429 with the time
// the first key frees up, or 503 when every key is quarantined.
func (s *Server) writeNoKey(ctx *fasthttp.RequestCtx, ex *exchange, freeAt time.Time) {
	healthy, cooling, quarantined := ex.pool.pool.Counts(time.Now())
	_ = healthy
	if freeAt.IsZero() {
		ex.status = fasthttp.StatusServiceUnavailable
		ex.verdict = verdict.Verdict{Class: verdict.ServerError, Reason: "no_key"}
		s.writeError(ctx, ex.proto, ex.status, "No key in pool "+ex.pool.cfg.Name+" can serve: "+itoa(quarantined)+" quarantined, "+itoa(cooling)+" cooling. Quarantined keys are re-probed in the background.", 30*time.Second)
		return
	}
	wait := time.Until(freeAt)
	ex.status = fasthttp.StatusTooManyRequests
	ex.verdict = verdict.Verdict{Class: verdict.RateLimited, Reason: "no_key"}
	s.writeError(ctx, ex.proto, ex.status, "All keys of pool "+ex.pool.cfg.Name+" are rate-limited for "+ex.model.Target+" ("+itoa(cooling)+" cooling, "+itoa(quarantined)+" quarantined); the first frees up at "+freeAt.UTC().Format(time.RFC3339)+".", wait)
}

// writeTransportError answers when the last attempt got no response.
func (s *Server) writeTransportError(ctx *fasthttp.RequestCtx, ex *exchange) {
	status := fasthttp.StatusBadGateway
	if ex.verdict.Class == verdict.Timeout {
		status = fasthttp.StatusGatewayTimeout
	}
	ex.status = status
	s.writeError(ctx, ex.proto, status, "Upstream "+ex.pool.upstream.Name+" failed after "+itoa(ex.attempts)+" attempt(s): "+ex.verdict.Message+".", 0)
}

// writeError answers in the caller's protocol.
func (s *Server) writeError(ctx *fasthttp.RequestCtx, proto Protocol, status int, msg string, retryAfter time.Duration) {
	if proto == ProtoOpenAI {
		writeOpenAIError(ctx, status, msg, "", retryAfter)
		return
	}
	writeGeminiError(ctx, status, msg, retryAfter)
}

// finishUnary records a request whose answer the handler wrote itself.
func (s *Server) finishUnary(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange) {
	// The upstream answer replaced the response headers set at routing.
	ctx.Response.Header.SetBytesV("X-Request-Id", ex.id)
	ctx.Response.Header.Set("X-Balance-Generation", rt.generationHeader())
	if ex.detach {
		return
	}
	if ex.status == 0 {
		ex.status = ctx.Response.StatusCode()
	}
	s.finish(ex)
}

// finish releases what the exchange holds and records it. It runs once
// per admitted request, on the handler or on the stream writer.
func (s *Server) finish(ex *exchange) {
	tokens := ex.usage.TotalTokenCount
	ok := ex.status < 400 || ex.verdict.Class == verdict.ClientError
	if ex.member != nil {
		ex.member.Key.End(ok, tokens)
	}
	if ex.tstate != nil {
		ex.tstate.release(tokens)
	}
	rec := ex.record()
	if s.recorder != nil {
		s.recorder.Record(rec)
	}
	s.observe(&rec)
	for _, h := range ex.retained {
		h.Release()
	}
	releaseExchange(ex)
}

// record turns a finished exchange into its stats record.
func (ex *exchange) record() Record {
	rec := Record{
		Time: ex.start, RequestID: string(ex.id), Route: ex.route, Protocol: ex.proto.String(),
		ModelAsked: ex.model.Asked, ModelSent: ex.model.Target,
		Status: ex.status, Attempts: ex.attempts, Latency: time.Since(ex.start), TTFB: ex.ttfb,
		PromptTokens: ex.usage.PromptTokenCount, CompletionTokens: ex.usage.CandidatesTokenCount,
		ThoughtTokens: ex.usage.ThoughtsTokenCount, CachedTokens: ex.usage.CachedContentTokenCount,
		Streamed: ex.streamed, ErrorBody: ex.errBody,
	}
	if ex.status >= 400 {
		rec.ErrorClass = ex.verdict.Class.String()
		if ex.verdict.Class == verdict.OK {
			rec.ErrorClass = "client_error"
		}
	}
	if ex.token != nil {
		rec.Token = ex.token.cfg.Name
	}
	if ex.pool != nil {
		rec.Pool = ex.pool.cfg.Name
	}
	if ex.member != nil {
		rec.KeyFP = ex.member.Key.FP
	}
	return rec
}

func itoa(n int) string { return strconv.Itoa(n) }
