package engine

import (
	"slices"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/keypool"
)

// A request's fallback pools take it when no key of its pool can: every
// key cooling for the model or quarantined, or already tried by this
// request. They are its model rule's fallback when the rule sets one,
// else its pool's (pool.fallback); authorize picks the list. The attempt
// loop in forward.go asks fallbackPick for the next pool and goes on
// there; the next request starts at its own pool again, so traffic
// returns as soon as the first pool's keys recover. Fallback applies to
// model calls, whose path each pool builds for its own upstream kind, and
// to Live sessions at connect (dialLive); models lists and the /openai/v1
// passthrough stay on their pool.

// fallbackPick walks the pools of list and, after each, that pool's own
// fallbacks, depth first in declared order, skipping the pools in done
// (those already drained by this request), and returns the first pool the
// token may use that serves the call and has a key free for the model,
// with that key. done grows by every pool looked at. free is the earliest
// time a key frees up so far; the result is the earliest over every pool
// looked at (zero when only probes can bring keys back).
func fallbackPick(ex *exchange, list []*poolRuntime, done *[]*poolRuntime, tried []*keypool.Key, now, free time.Time) (*poolRuntime, *keypool.Member, time.Time) {
	if ex.upCall.Model == "" {
		return nil, nil, free
	}
	for _, next := range list {
		if slices.Contains(*done, next) {
			continue
		}
		*done = append(*done, next)
		if slices.Contains(ex.token.pools, next) && next.serves(ex.upCall) {
			m, f := next.pool.Pick(ex.model.Target, tried, now)
			if m != nil {
				return next, m, time.Time{}
			}
			free = earliest(free, f)
		}
		p, m, f := fallbackPick(ex, next.fallback, done, tried, now, free)
		if m != nil {
			return p, m, f
		}
		free = f
	}
	return nil, nil, free
}

// poolsNamed is the generation's pools of those names (a model rule's
// fallback, checked by the hcl package).
func (rt *Runtime) poolsNamed(names []string) []*poolRuntime {
	out := make([]*poolRuntime, 0, len(names))
	for _, name := range names {
		if p := rt.pools[name]; p != nil {
			out = append(out, p)
		}
	}
	return out
}

// earliest is the earlier of two times, where zero means never.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// moveTo points the upstream request at pool p: its host, its extra
// headers and the path of the same call on p's upstream kind. Stats and
// key accounting follow ex.pool, so they name the pool that served.
func (ex *exchange) moveTo(p *poolRuntime, req *fasthttp.Request) {
	for _, h := range ex.pool.headers {
		req.Header.Del(h[0])
	}
	ex.pool = p
	req.SetHost(p.target.Host)
	p.setHeaders(req)
	ex.setUpstreamPath(req, ex.upCall)
	ex.fitVertexBody(req)
}
