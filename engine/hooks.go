package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/gemini"
	"github.com/balanceproxy/balance/hcl"
	"github.com/balanceproxy/balance/hooks"
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
		spec, err := hookSpec(hc)
		if err != nil {
			closeAll(loaded)
			return nil, nil, err
		}
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
				if named[hc.Name] && !contains(t.Hooks, hc.Name) && (p == nil || !contains(p.Hooks, hc.Name)) {
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

func hookSpec(hc *hcl.Hook) (hooks.Spec, error) {
	spec := hooks.Spec{
		Name: hc.Name, Module: hc.Module, Timeout: hc.Timeout, MaxInstances: hc.MaxInstances,
		MemoryLimitBytes: hc.MemoryBytes, Config: hc.Config,
	}
	for _, p := range hc.Phases {
		ph, err := hooks.ParsePhase(p)
		if err != nil {
			return spec, fmt.Errorf("hook %q: %w", hc.Name, err)
		}
		spec.Phases = append(spec.Phases, ph)
	}
	fp, err := hooks.ParseFailPolicy(hc.Fail)
	if err != nil {
		return spec, fmt.Errorf("hook %q: %w", hc.Name, err)
	}
	spec.Fail = fp
	return spec, nil
}

func closeAll(hs []*hooks.Hook) {
	for _, h := range hs {
		h.CloseAsync()
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
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
	env := &hooks.Envelope{Route: route, Protocol: ex.proto.String(), Model: ex.model.Asked, Body: body}
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

// runRequestHooks applies the request-phase hooks to the client's request
// before anything goes upstream. It returns false when the request ended
// here (a hook answered, refused, or failed closed); the answer is written.
func (s *Server) runRequestHooks(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange, chain hooks.Chain, body []byte) ([]byte, bool) {
	if !chainHandles(chain, hooks.PhaseRequest) {
		return body, true
	}
	env := ex.envelope(string(ctx.Path()), ctx.Request.Header.VisitAll, body)
	out, err := chain.Run(context.Background(), hooks.PhaseRequest, env)
	s.noteSkipped(ex, out.Skipped)
	if err != nil {
		s.hookFailed(ctx, ex, err)
		return nil, false
	}
	if s.hookAnswered(ctx, ex, out) {
		return nil, false
	}
	for _, name := range out.RemoveHeaders {
		ctx.Request.Header.Del(name)
	}
	for _, h := range out.SetHeaders {
		ctx.Request.Header.Set(h.Name, h.Value)
	}
	if out.Pool != "" && out.Pool != ex.pool.cfg.Name {
		p, ok := ex.token.poolFor(out.Pool)
		if !ok || p == nil {
			s.writeError(ctx, ex.proto, fasthttp.StatusForbidden, "A hook routed this request to pool "+out.Pool+", which token "+ex.token.cfg.Name+" may not use.", 0)
			ex.status = fasthttp.StatusForbidden
			return nil, false
		}
		ex.pool = p
	}
	if out.Model != "" && out.Model != ex.model.Asked {
		pool := ex.pool
		if !s.reroute(ctx, rt, ex, out.Model) {
			return nil, false
		}
		if out.Pool != "" {
			ex.pool = pool // an explicit pool from the hook wins over the model rule's
		}
	}
	if out.Body != nil {
		return out.Body, true
	}
	return body, true
}

// reroute applies the model rules to a model a hook chose.
func (s *Server) reroute(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange, model string) bool {
	res := rt.models.resolve(model)
	if !gemini.ValidModel(model) || !gemini.ValidModel(res.Target) {
		ex.status = fasthttp.StatusBadGateway
		s.writeError(ctx, ex.proto, fasthttp.StatusBadGateway, "A hook chose an invalid model name.", 0)
		return false
	}
	if !ex.token.allowsModel(res.Asked) && !ex.token.allowsModel(res.Target) {
		ex.status = fasthttp.StatusForbidden
		s.writeError(ctx, ex.proto, fasthttp.StatusForbidden, "A hook routed this request to model "+model+", which token "+ex.token.cfg.Name+" may not use.", 0)
		return false
	}
	if res.Pool != "" {
		p, ok := ex.token.poolFor(res.Pool)
		if !ok || p == nil {
			ex.status = fasthttp.StatusForbidden
			s.writeError(ctx, ex.proto, fasthttp.StatusForbidden, "Model "+model+" is served by pool "+res.Pool+", which token "+ex.token.cfg.Name+" may not use.", 0)
			return false
		}
		ex.pool = p
	}
	ex.model = res
	return true
}

// runResponseHooks applies the response-phase hooks to a whole answer
// already in ctx.Response (in the caller's protocol).
func (s *Server) runResponseHooks(ctx *fasthttp.RequestCtx, ex *exchange, chain hooks.Chain) {
	if !chainHandles(chain, hooks.PhaseResponse) || ctx.Response.StatusCode() >= 300 {
		return
	}
	env := ex.envelope(string(ctx.Path()), ctx.Response.Header.VisitAll, ctx.Response.Body())
	out, err := chain.Run(context.Background(), hooks.PhaseResponse, env)
	s.noteSkipped(ex, out.Skipped)
	if err != nil {
		s.hookFailed(ctx, ex, err)
		return
	}
	if s.hookAnswered(ctx, ex, out) {
		return
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
}

// hookAnswered writes a hook's respond or reject and reports whether it
// did. A reject without a body gets an error in the caller's protocol.
func (s *Server) hookAnswered(ctx *fasthttp.RequestCtx, ex *exchange, out hooks.Outcome) bool {
	switch out.Action {
	case hooks.ActionRespond, hooks.ActionReject:
	default:
		return false
	}
	status := out.Status
	if status == 0 {
		status = fasthttp.StatusOK
		if out.Action == hooks.ActionReject {
			status = fasthttp.StatusForbidden
		}
	}
	ex.status = status
	if out.Action == hooks.ActionReject {
		ex.errBody = "rejected by hook " + out.By
	}
	if len(out.Body) == 0 && out.Action == hooks.ActionReject {
		s.writeError(ctx, ex.proto, status, "Request refused by hook "+out.By+".", 0)
		return true
	}
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	for _, h := range out.SetHeaders {
		ctx.Response.Header.Set(h.Name, h.Value)
	}
	ctx.SetBody(out.Body)
	return true
}

// hookFailed answers for a hook that failed with fail = "closed".
func (s *Server) hookFailed(ctx *fasthttp.RequestCtx, ex *exchange, err error) {
	var ce *hooks.CallError
	name := "?"
	if errors.As(err, &ce) {
		name = ce.Hook
	}
	s.hookErrors.note(name, err, s.log)
	ex.status = fasthttp.StatusServiceUnavailable
	ex.errBody = "hook " + name + " failed: " + err.Error()
	s.writeError(ctx, ex.proto, fasthttp.StatusServiceUnavailable, "Hook "+name+" failed and is configured fail = \"closed\"; the request was not sent.", 0)
}

func (s *Server) noteSkipped(ex *exchange, skipped []*hooks.CallError) {
	for _, ce := range skipped {
		s.hookErrors.note(ce.Hook, ce, s.log)
	}
}

// hookErrorLog logs a hook's failures once per burst, not per request.
type hookErrorLog struct {
	last syncMapTime
}

func (l *hookErrorLog) note(name string, err error, log interface {
	Warn(msg string, args ...any)
}) {
	if l.last.swapIfOlder(name, 10*time.Second) {
		log.Warn("hook failed (further failures of this hook are logged at most every 10s; counts are in status)", "hook", name, "error", err)
	}
}

// retain pins the chain's hooks that run after the request phase.
func (ex *exchange) retain(chain hooks.Chain) {
	for _, st := range chain {
		if (st.Hook.Handles(hooks.PhaseResponse) || st.Hook.Handles(hooks.PhaseChunk)) && st.Hook.Retain() {
			ex.retained = append(ex.retained, st.Hook)
		}
	}
}

// errHookEnded stops a stream a chunk hook ended (reject, respond, or a
// closed failure); the hook's error event is already written.
var errHookEnded = errors.New("stream ended by a hook")

// runChunkHooks applies chunk-phase hooks to one Gemini SSE event and
// writes the (possibly edited) event. A hook that rejects or fails closed
// ends the stream with an error event.
func (s *Server) runChunkHooks(w *bufio.Writer, ex *exchange, event []byte) error {
	out, err := ex.chain.Run(context.Background(), hooks.PhaseChunk, ex.envelope("", nil, event))
	s.noteSkipped(ex, out.Skipped)
	if err != nil || out.Action == hooks.ActionReject || out.Action == hooks.ActionRespond {
		msg := "stream ended by hook " + out.By
		if err != nil {
			var ce *hooks.CallError
			if errors.As(err, &ce) {
				s.hookErrors.note(ce.Hook, err, s.log)
				msg = "hook " + ce.Hook + " failed"
			}
		}
		status := out.Status
		if status == 0 {
			status = fasthttp.StatusForbidden
		}
		body := out.Body
		if len(body) == 0 || out.Action != hooks.ActionRespond {
			body = gemini.ErrorJSON(status, msg, 0)
		}
		writeEvent(w, body)
		_ = w.Flush()
		ex.status = status
		return errHookEnded
	}
	if out.Body != nil {
		event = out.Body
	}
	writeEvent(w, event)
	return nil
}

func writeEvent(w *bufio.Writer, data []byte) {
	_, _ = w.WriteString("data: ")
	_, _ = w.Write(data)
	_, _ = w.WriteString("\r\n\r\n")
}

// sameBytes reports whether a and b are the same slice (not just equal).
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
