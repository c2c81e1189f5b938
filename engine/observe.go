package engine

import (
	"bytes"
	"crypto/subtle"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/engine/metrics"
)

// observer feeds the Server's Prometheus registry. It exists for every
// server, whether or not the config enables /metrics, so enabling the
// endpoint by a reload shows counts from the start of the process.
type observer struct {
	m *metrics.Metrics
}

// newObserver builds the registry and points its scrape-time collector at
// s's live state.
func newObserver(s *Server) *observer {
	o := &observer{m: metrics.New(metrics.Options{})}
	o.m.SetSource(s.metricsSnapshot)
	return o
}

// observe is called once per finished request with its record, after the
// store has queued it. It costs a lock-free map lookup and a few atomic
// adds (see metrics.BenchmarkObserve).
func (s *Server) observe(rec *Record) {
	if s.obs != nil {
		s.obs.m.Observe(rec)
	}
}

// metricsSnapshot reads the state /metrics reports at scrape time: key
// health per pool from the live generation, requests in flight, reloads
// and the store's health.
func (s *Server) metricsSnapshot() metrics.Snapshot {
	rt := s.rt.Load()
	now := time.Now()
	snap := metrics.Snapshot{Generation: rt.Generation}
	for _, p := range rt.poolList {
		var n [3]int
		for _, m := range p.pool.Members() {
			switch m.Key.Status(now).State {
			case keypool.Cooling:
				n[1]++
			case keypool.Quarantined:
				n[2]++
			default:
				n[0]++
			}
		}
		for i, state := range [...]keypool.State{keypool.Healthy, keypool.Cooling, keypool.Quarantined} {
			snap.Keys = append(snap.Keys, metrics.KeyCount{Pool: p.cfg.Name, State: string(state), Keys: n[i]})
		}
	}
	for _, t := range rt.Config.Tokens {
		snap.InFlight += s.tokens.get(t.Name).inflight.Load()
	}
	rc := s.events.snapshot()
	snap.ReloadsApplied, snap.ReloadsRejected, snap.ReloadsUnchanged = rc.applied, rc.rejected, rc.unchanged
	if st := s.store.Load(); st != nil {
		h := st.Health()
		snap.Store = &h
	}
	return snap
}

// serveMetrics answers the Prometheus endpoint, behind a Bearer token when
// the config sets metrics { token = ... }.
func (s *Server) serveMetrics(ctx *fasthttp.RequestCtx, rt *Runtime) {
	if tok := rt.Config.Metrics.Token; tok != "" && !bearerMatches(ctx, tok) {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="balance metrics"`)
		writeGeminiError(ctx, fasthttp.StatusUnauthorized, "The metrics endpoint needs Authorization: Bearer <metrics token>.", 0)
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		writeGeminiError(ctx, fasthttp.StatusMethodNotAllowed, "The metrics endpoint is read-only.", 0)
		return
	}
	ctx.SetContentType(metrics.ContentType)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	if err := s.obs.m.Write(ctx); err != nil {
		// Headers may be out already in spirit (the body is partly
		// written), so log rather than replace a mostly good scrape.
		s.log.Warn("metrics scrape incomplete", "error", err)
	}
}

// bearerMatches reports whether the request carries Authorization: Bearer
// with exactly want, compared in constant time.
func bearerMatches(ctx *fasthttp.RequestCtx, want string) bool {
	if want == "" {
		return false
	}
	h := ctx.Request.Header.PeekBytes(headerAuthorization)
	if len(h) <= len(bearerPrefix) || !bytes.EqualFold(h[:len(bearerPrefix)], bearerPrefix) {
		return false
	}
	return subtle.ConstantTimeCompare(bytes.TrimSpace(h[len(bearerPrefix):]), []byte(want)) == 1
}
