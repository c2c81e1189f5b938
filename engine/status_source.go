package engine

import (
	"fmt"
	"time"

	"github.com/balanceproxy/balance/engine/status"
	"github.com/balanceproxy/balance/engine/upstream"
	"github.com/balanceproxy/balance/store"
)

// Snapshot implements status.Source: the live generation's pools, keys,
// tokens and hooks, with the reload history and notes beside them.
func (s *Server) Snapshot(now time.Time) status.Snapshot {
	rt := s.rt.Load()
	cfg := rt.Config
	snap := status.Snapshot{
		Generation: rt.Generation, ConfigHash: cfg.Hash, ConfigPath: cfg.Path, Started: s.started,
		StoreConfigured: cfg.Store.Driver != "none" && cfg.Store.Driver != "", Notes: s.notes(),
	}
	for _, e := range s.events.list() {
		snap.Reloads = append(snap.Reloads, status.Reload{Time: e.Time, Generation: e.Generation, Hash: e.Hash,
			Summary: e.Summary, Error: e.Error, NeedsRestart: e.NeedsRestart})
	}
	live := s.live.perKey()
	held := map[string]store.KeyResources{}
	for _, r := range s.resourceTotals(now) {
		held[r.KeyHash] = r
	}
	for _, p := range rt.poolList {
		sp := status.Pool{Name: p.cfg.Name, Upstream: p.upstream.Name, Strategy: p.cfg.Strategy}
		for _, m := range p.pool.Members() {
			r := held[m.Key.Hash]
			k := status.Key{Status: m.Key.Status(now), Weight: max(m.Weight, 1), LiveSessions: live[m.Key],
				Files: r.Files, FileBytes: r.Bytes, Caches: r.Caches}
			if m.Proxy != "" {
				k.Proxy = upstream.RedactProxy(m.Proxy)
			}
			sp.Keys = append(sp.Keys, k)
		}
		snap.Pools = append(snap.Pools, sp)
	}
	for _, r := range s.resourceTotals(now) {
		if !rt.hasKeyHash(r.KeyHash) {
			snap.Orphaned = append(snap.Orphaned, r)
			snap.Notes = append(snap.Notes, fmt.Sprintf("Key %s left the config but still holds %d files (%d bytes), %d cached contents, %d batches and %d video operations; requests naming them get 424 until it returns.", r.KeyFP, r.Files, r.Bytes, r.Caches, r.Batches, r.Operations))
		}
	}
	for _, t := range cfg.Tokens {
		snap.Tokens = append(snap.Tokens, status.Token{Name: t.Name, Pools: t.Pools, InFlight: s.tokens.get(t.Name).inflight.Load(), Labels: t.Labels})
	}
	if rt.hooks != nil {
		for _, hc := range cfg.Hooks {
			if h := rt.hooks.byName[hc.Name]; h != nil {
				snap.Hooks = append(snap.Hooks, h.Stats())
			}
		}
	}
	return snap
}

// Stats implements status.Source: the stats database, nil when none runs
// (an explicit nil: a nil *store.Store would make a non-nil Stats).
func (s *Server) Stats() status.Stats {
	st := s.store.Load()
	if st == nil {
		return nil
	}
	return st
}

// notes are conditions worth an operator's attention, shown in status.
func (s *Server) notes() []string {
	if n := s.storeNote.Load(); n != nil {
		return []string{*n}
	}
	return nil
}
