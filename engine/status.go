package engine

import (
	"crypto/subtle"
	"encoding/json"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/engine/upstream"
)

// StatusView is the read-only JSON status document. It names keys by
// fingerprint only.
type StatusView struct {
	Generation  uint64        `json:"generation"`
	ConfigHash  string        `json:"config_hash"`
	ConfigPath  string        `json:"config_path"`
	Started     time.Time     `json:"started"`
	Uptime      float64       `json:"uptime_seconds"`
	LastReload  *reloadEvent  `json:"last_reload_error,omitempty"`
	Reloads     []reloadEvent `json:"reloads"`
	Pools       []PoolStatus  `json:"pools"`
	Tokens      []TokenStatus `json:"tokens"`
	StatusNotes []string      `json:"notes,omitempty"`
}

// PoolStatus is one pool in the status view.
type PoolStatus struct {
	Name        string      `json:"name"`
	Upstream    string      `json:"upstream"`
	Strategy    string      `json:"strategy"`
	Healthy     int         `json:"healthy"`
	Cooling     int         `json:"cooling"`
	Quarantined int         `json:"quarantined"`
	Keys        []KeyStatus `json:"keys"`
}

// KeyStatus is one key in the status view.
type KeyStatus struct {
	keypool.Status
	Weight int    `json:"weight"`
	Proxy  string `json:"proxy,omitempty"`
}

// TokenStatus is one client token in the status view.
type TokenStatus struct {
	Name     string            `json:"name"`
	Pools    []string          `json:"pools"`
	InFlight int64             `json:"in_flight"`
	Labels   map[string]string `json:"labels,omitempty"`
}

// Status builds the status view of the live generation.
func (s *Server) Status() StatusView {
	rt := s.rt.Load()
	now := time.Now()
	v := StatusView{
		Generation: rt.Generation, ConfigHash: rt.Config.Hash, ConfigPath: rt.Config.Path,
		Started: s.started.UTC(), Uptime: now.Sub(s.started).Seconds(), Reloads: s.events.list(),
		StatusNotes: s.notes,
	}
	for i := len(v.Reloads) - 1; i >= 0; i-- {
		if e := v.Reloads[i]; e.Error != "" {
			// Only a rejection newer than the last applied config counts.
			if e.Generation == rt.Generation {
				v.LastReload = &e
			}
			break
		} else if e.Hash != "" {
			break
		}
	}
	for _, p := range rt.poolList {
		ps := PoolStatus{Name: p.cfg.Name, Upstream: p.upstream.Name, Strategy: p.cfg.Strategy}
		for _, m := range p.pool.Members() {
			ks := KeyStatus{Status: m.Key.Status(now), Weight: max(m.Weight, 1)}
			if m.Proxy != "" {
				ks.Proxy = upstream.RedactProxy(m.Proxy)
			}
			switch ks.State {
			case keypool.Healthy:
				ps.Healthy++
			case keypool.Cooling:
				ps.Cooling++
			case keypool.Quarantined:
				ps.Quarantined++
			}
			ps.Keys = append(ps.Keys, ks)
		}
		v.Pools = append(v.Pools, ps)
	}
	for _, t := range rt.Config.Tokens {
		v.Tokens = append(v.Tokens, TokenStatus{Name: t.Name, Pools: t.Pools, InFlight: s.tokens.get(t.Name).inflight.Load(), Labels: t.Labels})
	}
	return v
}

// serveStatus answers the status endpoint: Bearer status token required.
func (s *Server) serveStatus(ctx *fasthttp.RequestCtx, rt *Runtime) {
	if !statusAuthorized(ctx, rt.Config.Status.Token) {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="balance status"`)
		writeGeminiError(ctx, fasthttp.StatusUnauthorized, "The status endpoint needs Authorization: Bearer <status token>.", 0)
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		writeGeminiError(ctx, fasthttp.StatusMethodNotAllowed, "The status endpoint is read-only.", 0)
		return
	}
	body, err := json.MarshalIndent(s.Status(), "", "  ")
	if err != nil {
		writeGeminiError(ctx, fasthttp.StatusInternalServerError, "status: "+err.Error(), 0)
		return
	}
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBody(body)
}

func statusAuthorized(ctx *fasthttp.RequestCtx, token string) bool {
	if token == "" {
		return false
	}
	got := ctx.Request.Header.PeekBytes(headerAuthorization)
	if len(got) > len(bearerPrefix) {
		got = got[len(bearerPrefix):]
	}
	return subtle.ConstantTimeCompare(got, []byte(token)) == 1
}
