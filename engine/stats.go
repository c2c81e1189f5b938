package engine

import (
	"cmp"
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
// required = true; otherwise balance serves without persistence, says so
// in the log and in status, and keeps trying in the background: once the
// database answers, migrations run and writing starts.
func (s *Server) openStore(cfg *hcl.Config, opts Options) error {
	sc := cfg.Store
	if sc.Driver == "none" || sc.Driver == "" {
		return nil
	}
	sconf := store.Config{
		Driver: sc.Driver, DSN: sc.DSN, MaxBodyBytes: sc.MaxBodyBytes, Logger: s.log.With("component", "store"),
		Retention: store.Retention{Requests: sc.RetainRequests, Errors: sc.RetainErrors, Rollups: sc.RetainRollups},
		QueueSize: opts.StoreQueueSize, BatchSize: opts.StoreBatchSize, FlushInterval: opts.StoreFlushInterval,
	}
	if s.recorder == nil {
		s.recorder = storeRecorder{s}
	}
	err := s.tryStore(sconf, sc.ShareKeyState, sc.KeyStateRefresh)
	if err == nil {
		return nil
	}
	if sc.Required {
		return fmt.Errorf("store (required = true): %w", err)
	}
	note := "store unavailable, serving without persistence (retrying in the background): " + err.Error()
	s.storeNote.Store(&note)
	s.log.Error(note)
	s.bgDone.Add(1)
	go func() {
		defer s.bgDone.Done()
		s.retryStore(sconf, sc.ShareKeyState, sc.KeyStateRefresh, opts.StoreRetry)
	}()
	return nil
}

// tryStore opens the store once and, on success, makes it the server's.
func (s *Server) tryStore(sconf store.Config, share bool, refresh time.Duration) error {
	ctx, cancel := context.WithTimeout(s.bgCtx, 10*time.Second)
	defer cancel()
	st, err := store.Open(ctx, sconf)
	if err != nil {
		return err
	}
	states, err := st.LoadKeyStates(ctx)
	if err != nil {
		s.log.Warn("could not load persisted key states", "error", err)
	}
	s.applyKeyStates(states)
	s.store.Store(st)
	if share {
		st.WatchKeyStates(s.bgCtx, refresh, s.applyKeyStates)
	}
	return nil
}

// retryStore opens the store until it answers or the server stops, with a
// backoff from first (1 s when zero) doubling to a minute.
func (s *Server) retryStore(sconf store.Config, share bool, refresh, first time.Duration) {
	wait := cmp.Or(first, time.Second)
	for {
		select {
		case <-s.bgCtx.Done():
			return
		case <-time.After(wait):
		}
		err := s.tryStore(sconf, share, refresh)
		if err == nil {
			s.storeNote.Store(nil)
			s.log.Info("store available again: stats and key state are persisted from now on")
			return
		}
		s.log.Warn("store still unavailable", "error", err, "next_try", wait)
		wait = min(2*wait, time.Minute)
	}
}

// storeRecorder queues records in the store once it is open; records made
// before that are dropped (the status note says the store is unavailable).
type storeRecorder struct{ s *Server }

func (r storeRecorder) Record(rec Record) {
	if st := r.s.store.Load(); st != nil {
		st.Record(store.Request(rec))
	}
}

// persistKey publishes a key's new state for restarts and other instances.
func (s *Server) persistKey(k *keypool.Key, pool, model string) {
	db := s.store.Load()
	if db == nil {
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
	db.SaveKeyState(ks)
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
