package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/hcl"
	"github.com/balanceproxy/balance/store"
)

// openStore opens the config's store and wires it in: every request is
// recorded, key state changes are persisted, persisted state is loaded, and
// with share_key_state the states other instances publish are applied. A
// store that cannot be opened is fatal only when the config says
// required = true; otherwise balance serves without persistence and says
// so in the log and in status.
func (s *Server) openStore(cfg *hcl.Config, opts Options) error {
	sc := cfg.Store
	if sc.Driver == "none" || sc.Driver == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Config{
		Driver: sc.Driver, DSN: sc.DSN, MaxBodyBytes: sc.MaxBodyBytes, Logger: s.log.With("component", "store"),
		Retention: store.Retention{Requests: sc.RetainRequests, Errors: sc.RetainErrors, Rollups: sc.RetainRollups},
		QueueSize: opts.StoreQueueSize, BatchSize: opts.StoreBatchSize, FlushInterval: opts.StoreFlushInterval,
	})
	if err != nil {
		if sc.Required {
			return fmt.Errorf("store (required = true): %w", err)
		}
		note := "store unavailable, serving without persistence: " + err.Error()
		s.notes = append(s.notes, note)
		s.log.Error(note)
		return nil
	}
	s.store = st
	if s.recorder == nil {
		s.recorder = storeRecorder{st}
	}
	states, err := st.LoadKeyStates(ctx)
	if err != nil {
		s.log.Warn("could not load persisted key states", "error", err)
	}
	s.applyKeyStates(states)
	if sc.ShareKeyState {
		st.WatchKeyStates(s.bgCtx, sc.KeyStateRefresh, s.applyKeyStates)
	}
	return nil
}

// storeRecorder queues records in the store; Record never blocks.
type storeRecorder struct{ st *store.Store }

func (r storeRecorder) Record(rec Record) { r.st.Record(store.Request(rec)) }

// persistKey publishes a key's new state for restarts and other instances.
func (s *Server) persistKey(k *keypool.Key, pool, model string) {
	if s.store == nil {
		return
	}
	now := time.Now()
	st := k.Status(now)
	ks := store.KeyState{KeyHash: k.Hash, Fingerprint: k.FP, Pool: pool, Model: model, UpdatedAt: now, State: store.StateHealthy}
	switch {
	case st.State == keypool.Quarantined:
		ks.State, ks.Reason, ks.Model = store.StateQuarantined, st.QuarantineReason, ""
	case model != "":
		if until, ok := st.CoolingUntil[model]; ok {
			ks.State, ks.Reason, ks.Until = store.StateCooling, st.LastError, until
		}
	}
	s.store.SaveKeyState(ks)
}

// applyKeyStates applies states loaded at start or published by other
// instances. Keys this config does not hold are ignored.
func (s *Server) applyKeyStates(states []store.KeyState) {
	now := time.Now()
	rt := s.rt.Load()
	for _, ks := range states {
		k := s.registry.ByHash(ks.KeyHash)
		if k == nil {
			continue
		}
		switch ks.State {
		case store.StateCooling:
			if ks.Until.After(now) {
				k.CoolUntil(ks.Model, ks.Until, ks.Reason)
			}
		case store.StateQuarantined:
			k.Quarantine(ks.Reason, rt.probeInterval(k, ks.Pool), now)
		case store.StateHealthy:
			if ks.Model == "" {
				k.Restore()
			}
		}
	}
}

// probeInterval is the first probe delay for a quarantined key: the
// probe.interval of pool, the pool the persisted state names, when it
// still holds k, else of the first pool that does (the one probeKey
// probes through).
func (rt *Runtime) probeInterval(k *keypool.Key, pool string) time.Duration {
	holds := func(p *poolRuntime) bool {
		return slices.ContainsFunc(p.pool.Members(), func(m keypool.Member) bool { return m.Key == k })
	}
	if p := rt.pools[pool]; p != nil && holds(p) {
		return p.cfg.Probe.Interval
	}
	for _, p := range rt.poolList {
		if holds(p) {
			return p.cfg.Probe.Interval
		}
	}
	return hcl.DefaultProbeInterval
}
