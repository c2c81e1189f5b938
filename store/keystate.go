package store

import (
	"context"
	"fmt"
	"time"
)

// Key states as stored in key_state.state.
const (
	StateCooling     = "cooling"
	StateQuarantined = "quarantined"
	StateHealthy     = "healthy"
)

// watchOverlap is how far back each WatchKeyStates poll looks behind the
// newest change it has already seen. UpdatedAt comes from the clock of the
// instance that made the change, so a peer whose clock lags by less than
// this still gets its changes noticed; duplicates are filtered out.
const watchOverlap = 30 * time.Second

// keyStateRetention is how long rows of keys that are healthy again, or
// whose cooldown ended, are kept so that peers can still see the change.
const keyStateRetention = 24 * time.Hour

// KeyState is the persisted health of one key (or of one key for one
// model). It outlives the process and, with MySQL, is shared by every
// instance using the same database.
type KeyState struct {
	KeyHash     string `db:"key_hash"`    // sha256 hex of the key, never the key; the identity peers share
	Fingerprint string `db:"fingerprint"` // secret.KeyFingerprint of the key, for display only
	Pool        string `db:"pool"`
	Model       string `db:"model"`  // "" for the whole key
	State       string `db:"state"`  // StateCooling, StateQuarantined or StateHealthy
	Reason      string `db:"reason"` // short, already redacted
	Until       time.Time
	UpdatedAt   time.Time
	Instance    string `db:"instance"` // filled in by SaveKeyState
}

type keyStateRow struct {
	KeyState
	UntilMs   int64 `db:"until_ms"`
	UpdatedMs int64 `db:"updated_ms"`
}

func (r *keyStateRow) state() KeyState {
	k := r.KeyState
	if r.UntilMs > 0 {
		k.Until = time.UnixMilli(r.UntilMs)
	}
	k.UpdatedAt = time.UnixMilli(r.UpdatedMs)
	return k
}

// SaveKeyState queues a key state change for the writer and returns at
// once. It has its own small queue, so a flood of request records cannot
// crowd out a quarantine. A newer UpdatedAt always wins over an older one,
// whichever instance writes last. UpdatedAt defaults to now; Instance is
// always this Store's InstanceID.
func (s *Store) SaveKeyState(st KeyState) {
	if s.closed.Load() {
		s.ksDropped.Add(1)
		return
	}
	if st.UpdatedAt.IsZero() {
		st.UpdatedAt = time.Now()
	}
	st.Instance = s.cfg.InstanceID
	select {
	case s.ksQueue <- st:
	default:
		s.ksDropped.Add(1)
	}
}

const keyStateSelect = "SELECT key_hash, model, fingerprint, pool, state, reason, until_ms, updated_ms, instance FROM key_state"

// LoadKeyStates returns every key that is still cooling or quarantined
// (healthy rows and cooldowns that have ended are left out), for the
// engine to apply at start.
func (s *Store) LoadKeyStates(ctx context.Context) ([]KeyState, error) {
	var rows []keyStateRow
	now := time.Now().UnixMilli()
	if err := s.rdb.SelectContext(ctx, &rows,
		keyStateSelect+" WHERE state <> ? AND (until_ms = 0 OR until_ms > ?) ORDER BY key_hash, model",
		StateHealthy, now); err != nil {
		return nil, fmt.Errorf("store: load key states: %w", err)
	}
	out := make([]KeyState, len(rows))
	for i := range rows {
		out[i] = rows[i].state()
	}
	return out, nil
}

// WatchKeyStates polls every `every` for key state changes made by other
// instances and calls fn with them (oldest first), from one goroutine owned
// by the Store. It stops when ctx ends or the Store closes. Healthy states
// are delivered too: they are how a peer says a key recovered. Polling
// errors are logged and retried at the next tick.
func (s *Store) WatchKeyStates(ctx context.Context, every time.Duration, fn func([]KeyState)) {
	if every <= 0 {
		every = 2 * time.Second
	}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		w := &keyStateWatcher{s: s, seen: map[[2]string]int64{}, mark: time.Now().UnixMilli()}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.stop:
				return
			case <-t.C:
			}
			qctx, cancel := context.WithTimeout(ctx, every+5*time.Second)
			changes, err := w.poll(qctx)
			cancel()
			if err != nil {
				s.log.Warn("key state watch poll failed", "err", err)
				continue
			}
			if len(changes) > 0 {
				fn(changes)
			}
		}
	}()
}

// keyStateWatcher remembers what it has delivered so the overlapping
// window never reports the same change twice.
type keyStateWatcher struct {
	s    *Store
	seen map[[2]string]int64 // (key_hash, model) -> updated_ms delivered
	mark int64               // newest updated_ms seen
}

func (w *keyStateWatcher) poll(ctx context.Context) ([]KeyState, error) {
	var rows []keyStateRow
	from := w.mark - watchOverlap.Milliseconds()
	if err := w.s.rdb.SelectContext(ctx, &rows,
		keyStateSelect+" WHERE updated_ms > ? AND instance <> ? ORDER BY updated_ms",
		from, w.s.cfg.InstanceID); err != nil {
		return nil, fmt.Errorf("store: poll key states: %w", err)
	}
	var out []KeyState
	// A peer with a fast clock must not push the mark past our own now, or
	// changes from everyone else would fall behind the window.
	now := time.Now().UnixMilli()
	for i := range rows {
		r := &rows[i]
		id := [2]string{r.KeyHash, r.Model}
		if prev, ok := w.seen[id]; ok && prev >= r.UpdatedMs {
			continue
		}
		w.seen[id] = r.UpdatedMs
		if r.UpdatedMs > w.mark {
			w.mark = min(r.UpdatedMs, now)
		}
		out = append(out, r.state())
	}
	// Forget entries the query window can no longer return.
	for id, ms := range w.seen {
		if ms <= w.mark-2*watchOverlap.Milliseconds() {
			delete(w.seen, id)
		}
	}
	return out, nil
}
