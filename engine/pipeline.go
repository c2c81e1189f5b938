package engine

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/internal/verdict"
	"github.com/balanceproxy/balance/store"
)

// An adapter is one front door: it reads one kind of client call, builds
// the Gemini request for it and translates the answer back. The driver
// (serve, below) runs every stage around it in one order for every
// protocol; an adapter writes to the client only in reply, in local
// answers from translate, and through its stream sink.
type adapter interface {
	// protocol is the dialect the caller's errors are written in.
	protocol() Protocol
	// route reads the call from the method and path alone. It runs before
	// authentication, so it must not look at the body.
	route(ctx *fasthttp.RequestCtx, c *call) *Failure
	// parse reads what admission needs from the body (the model, the
	// stream flag). It must be cheap: no translation, no fetch. It runs
	// again when a request hook edits the body.
	parse(body []byte, c *call) *Failure
	// translate builds the upstream request for the admitted call (the
	// driver releases it). An adapter that can answer from what balance
	// knows writes the answer into ctx.Response and returns nil, nil.
	translate(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange) (*fasthttp.Request, *Failure)
	// reply turns a 2xx upstream answer into the client's answer in resp.
	// up is resp itself for calls marked passAnswer.
	reply(rt *Runtime, ex *exchange, up, resp *fasthttp.Response) *Failure
	// sink is what each event of a streamed answer goes through, or nil
	// to relay the upstream bytes unchanged.
	sink(rt *Runtime, ex *exchange) eventSink
}

// serve runs one request through every stage, in this order:
//
//	route → authenticate → read the body → parse → authorize (model rules,
//	token, pool) → token limits → check the body → request hooks → translate →
//	forward (pick a key, call, classify, retry) → reply or relay →
//	response hooks → record
//
// Each stage returns a *Failure to stop the request; the adapter renders
// it in the caller's protocol. Nothing costly (body translation, a remote
// fetch, an upstream call) runs before the client is authenticated and
// authorized.
func (s *Server) serve(ctx *fasthttp.RequestCtx, rt *Runtime, a adapter) {
	ex := s.newExchange(a, ctx.Time())
	ex.logRequest = rt.Config.Server.LogRequests
	if f := s.run(ctx, rt, ex); f != nil {
		s.fail(ctx, ex, f)
	}
	if !ex.detached {
		s.watch.remove(ex) // a stream writer removes its own
	}
	if rt.Config.Store.RecordRequests && ex.bodyRead && ctx.Response.StatusCode() >= 400 {
		ex.requestBody = bodyForRecord(rt, ex.clientBody(ctx))
	}
	s.releaseBody(ctx, ex)
	ctx.Response.Header.SetBytesV("X-Request-Id", ex.id)
	ctx.Response.Header.Set("X-Balance-Generation", rt.genHeader)
	if ex.detached {
		return // the stream writer records it
	}
	ex.status = ctx.Response.StatusCode()
	s.finish(ex)
}

func (s *Server) run(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange) *Failure {
	a, c := ex.adapter, &ex.call
	if f := a.route(ctx, c); f != nil {
		return f
	}
	if f := s.authenticate(ctx, rt, ex); f != nil {
		return f
	}
	if c.body {
		if f := s.readBody(ctx, rt, ex); f != nil {
			return f
		}
	}
	body := ex.clientBody(ctx)
	if c.body {
		if f := a.parse(body, c); f != nil {
			return f
		}
		defaultModel(rt, a, c)
	}
	if f := rt.authorize(ex, c.model, "", ""); f != nil {
		return f
	}
	if f := s.limit(ex); f != nil {
		return f
	}
	if c.body && !validJSON(body) {
		return &Failure{Status: fasthttp.StatusBadRequest, Message: "Invalid JSON payload: the request body is not valid JSON."}
	}
	if f := s.requestHooks(ctx, rt, ex); f != nil {
		return f
	}
	req, f := a.translate(ctx, rt, ex)
	if f != nil {
		return f
	}
	if req == nil { // answered from what balance knows
		return s.responseHooks(ctx, ex)
	}
	if f := ex.pool.refuse(ex); f != nil {
		fasthttp.ReleaseRequest(req)
		return f
	}
	if c.refs {
		if f := s.pinResources(ex, req.Body()); f != nil {
			fasthttp.ReleaseRequest(req)
			return f
		}
	}
	req.SetHost(ex.pool.target.Host)
	ex.pool.setHeaders(req)
	s.watchClient(ctx, ex)

	switch {
	case c.stream && c.keepAlive > 0:
		s.keepAliveStream(ctx, rt, ex, req) // owns req from here on
		return nil
	case c.stream:
		defer fasthttp.ReleaseRequest(req)
		up := fasthttp.AcquireResponse()
		out, freeAt := s.forward(ex, req, up, true)
		if f := s.forwardFailure(ex, out, freeAt, up); f != nil {
			fasthttp.ReleaseResponse(up)
			return f
		}
		s.relay(ctx, rt, ex, up)
		return nil
	}
	defer fasthttp.ReleaseRequest(req)
	// An adapter that passes Google's answer on has it read straight into
	// the client's response: no copy.
	up := &ctx.Response
	if !c.passAnswer {
		up = fasthttp.AcquireResponse()
		defer fasthttp.ReleaseResponse(up)
	}
	out, freeAt := s.forward(ex, req, up, false)
	if f := s.forwardFailure(ex, out, freeAt, up); f != nil {
		return f
	}
	ex.ttfb = time.Since(ex.start)
	up.Header.Del("Connection")
	if c.passAnswer {
		ex.pool.redactor.ResponseHeader(&up.Header) // Google's headers go to the client
	}
	if f := a.reply(rt, ex, up, &ctx.Response); f != nil {
		return f
	}
	return s.responseHooks(ctx, ex)
}

// A modelDefaulter is an adapter whose calls may name no model: it says
// which model they get, before admission checks it like any other.
type modelDefaulter interface {
	defaultModel(rt *Runtime) string
}

// defaultModel fills in the adapter's default model for a call that
// named none.
func defaultModel(rt *Runtime, a adapter, c *call) {
	if d, ok := a.(modelDefaulter); ok && c.model == "" {
		c.model = d.defaultModel(rt)
	}
}

// fail answers with f in the caller's protocol and notes it for the
// record. Only the driver calls it.
func (s *Server) fail(ctx *fasthttp.RequestCtx, ex *exchange, f *Failure) {
	ex.adapter.protocol().render(&ctx.Response, f)
	ex.noteFailure(f)
}

// noteFailure keeps what the stats record says about a failure.
func (ex *exchange) noteFailure(f *Failure) {
	if f.Class != 0 {
		ex.verdict.Class = f.Class
	}
	if f.Reason != "" {
		ex.verdict.Reason = f.Reason
	}
	switch {
	case f.Upstream != nil:
		ex.errBody = string(f.Upstream)
	case f.Answer == nil || f.Status >= 400:
		ex.errBody = f.Message
	}
}

// finish releases what the exchange holds and records it. It runs once
// per request, on the handler or on the stream writer. A request that
// never authenticated is not recorded: stats would otherwise be a free
// write amplifier for anyone who can reach the port.
func (s *Server) finish(ex *exchange) {
	if ex.token != nil {
		tokens := ex.usage.TotalTokenCount
		// The key did its job unless the request failed on its account.
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
		if ex.logRequest {
			s.log.Info("request", "id", rec.RequestID, "route", rec.Route, "token", rec.Token, "pool", rec.Pool,
				"model", rec.ModelAsked, "status", rec.Status, "class", rec.ErrorClass, "attempts", rec.Attempts,
				"key", rec.KeyFP, "latency_ms", rec.Latency.Milliseconds(), "streamed", rec.Streamed)
		}
	}
	if ex.streamed {
		s.streams.done(ex) // recorded: shutdown may close the store now
	}
	for _, h := range ex.retained {
		h.Release()
	}
	releaseExchange(ex)
}

// bodyForRecord is a failed request's body as store.record_request_bodies
// keeps it: every pool key and client token redacted, then clipped to
// store.max_body_bytes. It is redacted before the final cut, over a margin
// longer than any secret written escaped, so the cut cannot leave the
// first part of a secret the redactor did not see whole.
func bodyForRecord(rt *Runtime, body []byte) string {
	limit := rt.Config.Store.MaxBodyBytes
	if limit <= 0 {
		limit = store.DefaultMaxBodyBytes
	}
	const margin = 4 << 10
	if len(body) > limit+margin {
		body = body[:limit+margin]
	}
	body = rt.redactor.Bytes(body)
	if len(body) > limit {
		body = body[:limit]
	}
	return string(body)
}

// statusClientClosed is nginx's 499, recorded for a client that went away.
const statusClientClosed = 499
