package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/hcl"
	"github.com/balanceproxy/balance/hooks"
	"github.com/balanceproxy/balance/internal/verdict"
)

// hookSet is the WASM hooks of one generation, by name, plus the chain of
// hooks each (token, pool) pair runs.
type hookSet struct {
	byName map[string]*hooks.Hook
	chains map[chainKey]hooks.Chain
}

type chainKey struct{ token, pool string }

// chainFor is the hooks a request of token on pool runs, in declared
// order: every hook no pool or token names, plus those its pool or token
// names.
func (rt *Runtime) chainFor(ex *exchange) hooks.Chain {
	if rt.hooks == nil || ex.token == nil || ex.pool == nil {
		return nil
	}
	return rt.hooks.chains[chainKey{ex.token.cfg.Name, ex.pool.cfg.Name}]
}

// loadHooks loads cfg's hooks, keeping every hook whose module, settings
// and config are unchanged (with its warm instances and stats). It returns
// the new set and the hooks the set no longer uses; the caller closes
// those once the new generation is live, or closes the new ones it loaded
// if the generation is abandoned.
func (s *Server) loadHooks(cfg *hcl.Config, prev *hookSet) (set *hookSet, loaded []*hooks.Hook, err error) {
	if len(cfg.Hooks) == 0 {
		return nil, nil, nil
	}
	if s.hookRT == nil {
		rt, err := hooks.NewRuntime(context.Background(), hooks.RuntimeOptions{
			CacheDir: filepath.Join(cfg.Server.DataDir, "hooks-cache"), Logger: s.log.With("component", "hooks"),
		})
		if err != nil {
			return nil, nil, fmt.Errorf("hooks: %w", err)
		}
		s.hookRT = rt
	}
	set = &hookSet{byName: map[string]*hooks.Hook{}, chains: map[chainKey]hooks.Chain{}}
	for _, hc := range cfg.Hooks {
		spec := hc.Spec()
		if prev != nil {
			if old := prev.byName[hc.Name]; old != nil && old.SameAs(spec) {
				set.byName[hc.Name] = old
				continue
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		h, err := s.hookRT.Load(ctx, spec)
		cancel()
		if err != nil {
			closeAll(loaded)
			return nil, nil, err
		}
		loaded = append(loaded, h)
		set.byName[hc.Name] = h
	}
	// Which hooks are named by some pool or token: those are opt-in.
	named := map[string]bool{}
	for _, p := range cfg.Pools {
		for _, n := range p.Hooks {
			named[n] = true
		}
	}
	for _, t := range cfg.Tokens {
		for _, n := range t.Hooks {
			named[n] = true
		}
	}
	for _, t := range cfg.Tokens {
		for _, pn := range t.Pools {
			p := cfg.Pool(pn)
			var chain hooks.Chain
			for _, hc := range cfg.Hooks {
				if named[hc.Name] && !slices.Contains(t.Hooks, hc.Name) && (p == nil || !slices.Contains(p.Hooks, hc.Name)) {
					continue
				}
				chain = append(chain, hooks.Step{Hook: set.byName[hc.Name], Select: hooks.Selector{Routes: hc.Routes, Models: hc.Models, Tokens: hc.Tokens}})
			}
			if len(chain) > 0 {
				set.chains[chainKey{t.Name, pn}] = chain
			}
		}
	}
	return set, loaded, nil
}

// retiredHooks lists the hooks of prev that next no longer uses.
func retiredHooks(prev, next *hookSet) []*hooks.Hook {
	if prev == nil {
		return nil
	}
	var out []*hooks.Hook
	for name, h := range prev.byName {
		if next == nil || next.byName[name] != h {
			out = append(out, h)
		}
	}
	return out
}

func closeAll(hs []*hooks.Hook) {
	for _, h := range hs {
		h.CloseAsync()
	}
}

// handles reports whether any hook of the chain runs in phase.
func chainHandles(c hooks.Chain, p hooks.Phase) bool {
	for _, st := range c {
		if st.Hook.Handles(p) {
			return true
		}
	}
	return false
}

// envelope builds a hook's view of the exchange. Credentials never enter
// it: HeaderList drops them, and the host drops them again.
func (ex *exchange) envelope(route string, headers func(func(k, v []byte)), body []byte) *hooks.Envelope {
	env := &hooks.Envelope{Route: route, Protocol: ex.adapter.protocol().String(), Model: ex.model.Asked, Body: body}
	if ex.token != nil {
		env.Token = hooks.Token{Name: ex.token.cfg.Name, Labels: ex.token.cfg.Labels}
	}
	if ex.pool != nil {
		env.Pool = ex.pool.cfg.Name
	}
	if headers != nil {
		var hl hooks.HeaderList
		headers(hl.Add)
		env.Headers = hl
	}
	return env
}

// requestHooks runs the request-phase hooks on the client's request, in
// the client's protocol, before anything goes upstream. Header edits are
// kept for the upstream request; a model, pool or body edit is admitted
// again with the same check a client's choice gets.
func (s *Server) requestHooks(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange) *Failure {
	chain := rt.chainFor(ex)
	if len(chain) == 0 {
		return nil
	}
	ex.chain = chain
	ex.call.apiPath = apiPath(ctx.Path())
	ex.retain(chain)
	if !chainHandles(chain, hooks.PhaseRequest) {
		return nil
	}
	body := ex.clientBody(ctx)
	out, err := chain.Run(context.Background(), hooks.PhaseRequest, ex.envelope(ex.call.apiPath, ctx.Request.Header.VisitAll, body))
	if err != nil {
		return s.hookFailure(err)
	}
	if f := hookAnswer(out); f != nil {
		return f
	}
	for _, name := range out.RemoveHeaders {
		ctx.Request.Header.Del(name)
	}
	for _, h := range out.SetHeaders {
		ctx.Request.Header.Set(h.Name, h.Value)
	}
	model := ex.model.Asked
	if out.Model != "" {
		model = out.Model
	}
	if out.Body != nil && !sameBytes(out.Body, body) {
		ctx.Request.SetBody(out.Body)
		if ex.call.body {
			// The body names the model on some protocols: read it again.
			asked := ex.call.model
			if f := ex.adapter.parse(ctx.Request.Body(), &ex.call); f != nil {
				f.Message = "After request hooks: " + f.Message
				return f
			}
			defaultModel(rt, ex.adapter, &ex.call)
			if ex.call.model != asked && out.Model == "" {
				model = ex.call.model
			}
		}
		if !validJSON(ctx.Request.Body()) {
			return &Failure{Status: fasthttp.StatusBadGateway, Message: "A request hook returned a body that is not valid JSON."}
		}
	}
	if model != ex.model.Asked || out.Pool != "" && out.Pool != ex.pool.cfg.Name {
		return rt.authorize(ex, model, out.Pool, hookName(out))
	}
	return nil
}

// hookName names the hooks that made an edit, for messages.
func hookName(out hooks.Outcome) string {
	if out.By != "" {
		return out.By
	}
	return "chain"
}

// responseHooks runs the response-phase hooks on a whole successful
// answer already in ctx.Response (in the caller's protocol).
func (s *Server) responseHooks(ctx *fasthttp.RequestCtx, ex *exchange) *Failure {
	if !chainHandles(ex.chain, hooks.PhaseResponse) || ctx.Response.StatusCode() >= 300 {
		return nil
	}
	out, err := ex.chain.Run(context.Background(), hooks.PhaseResponse, ex.envelope(ex.call.apiPath, ctx.Response.Header.VisitAll, ctx.Response.Body()))
	if err != nil {
		return s.hookFailure(err)
	}
	if f := hookAnswer(out); f != nil {
		return f
	}
	for _, name := range out.RemoveHeaders {
		ctx.Response.Header.Del(name)
	}
	for _, h := range out.SetHeaders {
		ctx.Response.Header.Set(h.Name, h.Value)
	}
	if out.Body != nil {
		ctx.Response.SetBody(out.Body)
	}
	return nil
}

// hookAnswer is the answer a hook gave instead of the upstream's (respond
// or reject), or nil. A reject without a body gets an error in the
// caller's protocol.
func hookAnswer(out hooks.Outcome) *Failure {
	switch out.Action {
	case hooks.ActionRespond, hooks.ActionReject:
	default:
		return nil
	}
	f := &Failure{Status: out.Status, AnswerHeaders: out.SetHeaders}
	if out.Action == hooks.ActionReject {
		if f.Status == 0 {
			f.Status = fasthttp.StatusForbidden
		}
		f.Message = "Request refused by hook " + out.By + "."
		if len(out.Body) > 0 {
			f.Answer = out.Body
		}
		return f
	}
	if f.Status == 0 {
		f.Status = fasthttp.StatusOK
	}
	f.Answer = out.Body
	if f.Answer == nil {
		f.Answer = []byte{}
	}
	return f
}

// hookFailure answers for a hook that failed with fail = "closed". The
// hooks package logs the failure (throttled, with the guest's output).
func (s *Server) hookFailure(err error) *Failure {
	var ce *hooks.CallError
	name := "?"
	if errors.As(err, &ce) {
		name = ce.Hook
	}
	return &Failure{Status: fasthttp.StatusServiceUnavailable, Class: verdict.ServerError, Reason: "hook_failed",
		Message: "Hook " + name + " failed and is configured fail = \"closed\"; the request was not sent."}
}

// retain pins the chain's hooks that run after the request phase.
func (ex *exchange) retain(chain hooks.Chain) {
	for _, st := range chain {
		if (st.Hook.Handles(hooks.PhaseResponse) || st.Hook.Handles(hooks.PhaseChunk)) && st.Hook.Retain() {
			ex.retained = append(ex.retained, st.Hook)
		}
	}
}

// chunkHooks runs the chunk-phase hooks on each event of a stream before
// the adapter's sink sees it. A hook that responds ends the stream with its
// event; one that rejects or fails closed ends it with an error event.
type chunkHooks struct {
	s    *Server
	ex   *exchange
	next eventSink
}

func (h chunkHooks) event(w *bufio.Writer, data []byte) error {
	if len(data) == 0 || data[0] != '{' { // "[DONE]" and other non-JSON data
		return h.next.event(w, data)
	}
	out, err := h.ex.chain.Run(context.Background(), hooks.PhaseChunk, h.ex.envelope(h.ex.call.apiPath, nil, data))
	if err != nil {
		return &streamEnd{failure: h.s.hookFailure(err)}
	}
	switch out.Action {
	case hooks.ActionRespond:
		if len(out.Body) > 0 {
			if werr := h.next.event(w, out.Body); werr != nil {
				return werr
			}
		}
		return &streamEnd{}
	case hooks.ActionReject:
		return &streamEnd{failure: hookAnswer(out)}
	}
	if out.Body != nil {
		data = out.Body
	}
	return h.next.event(w, data)
}

func (h chunkHooks) finish(w *bufio.Writer) error { return h.next.finish(w) }

func (h chunkHooks) contentType(upstream []byte) []byte { return h.next.contentType(upstream) }

// sameBytes reports whether a and b are the same slice (not just equal).
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// apiPath is a call's API path without the mount prefix it came in under
// (/gemini, /hf): the route hook patterns match, the same whichever prefix
// a client uses.
func apiPath(p []byte) string {
	switch {
	case bytes.HasPrefix(p, prefixGemini):
		p = p[len(prefixGemini)-1:]
	case bytes.HasPrefix(p, prefixHF):
		p = p[len("/hf"):]
	}
	return string(p)
}
