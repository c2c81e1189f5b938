package engine

import (
	"sync"
	"sync/atomic"
	"time"
)

// tokenState is a client token's live usage. Like key health it lives
// outside the config snapshot, keyed by token name, so a reload does not
// hand a client a fresh allowance.
type tokenState struct {
	inflight atomic.Int64

	mu         sync.Mutex
	minute     int64
	minuteReqs int
	day        int64
	dayTokens  int64
}

type tokenStates struct {
	mu     sync.Mutex
	states map[string]*tokenState
}

func (s *tokenStates) get(name string) *tokenState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.states == nil {
		s.states = map[string]*tokenState{}
	}
	st, ok := s.states[name]
	if !ok {
		st = &tokenState{}
		s.states[name] = st
	}
	return st
}

// limitDenial says which token limit refused a request and when to retry.
type limitDenial struct {
	message    string
	retryAfter time.Duration
}

// admit checks and counts one request against the token's limits. On
// success the caller must call release when the request ends. The clock
// is read only for a token with a per-minute or per-day limit.
func (st *tokenState) admit(t *tokenRuntime) *limitDenial {
	cfg := t.cfg
	if cfg.Concurrency > 0 && st.inflight.Load() >= int64(cfg.Concurrency) {
		return &limitDenial{message: "token " + cfg.Name + " has reached its limit of concurrent requests", retryAfter: time.Second}
	}
	if cfg.RPM > 0 || cfg.TokensPerDay > 0 {
		now := time.Now()
		st.mu.Lock()
		m, d := now.Unix()/60, now.Unix()/86400
		if m != st.minute {
			st.minute, st.minuteReqs = m, 0
		}
		if d != st.day {
			st.day, st.dayTokens = d, 0
		}
		if cfg.RPM > 0 && st.minuteReqs >= cfg.RPM {
			st.mu.Unlock()
			return &limitDenial{message: "token " + cfg.Name + " has reached its limit of requests per minute", retryAfter: time.Until(time.Unix((m+1)*60, 0)).Round(time.Second) + time.Second}
		}
		if cfg.TokensPerDay > 0 && st.dayTokens >= cfg.TokensPerDay {
			st.mu.Unlock()
			return &limitDenial{message: "token " + cfg.Name + " has used its tokens for today (UTC)", retryAfter: time.Until(time.Unix((d+1)*86400, 0)).Round(time.Second)}
		}
		st.minuteReqs++
		st.mu.Unlock()
	}
	st.inflight.Add(1)
	return nil
}

func (st *tokenState) release(tokens int) {
	st.inflight.Add(-1)
	if tokens > 0 {
		st.mu.Lock()
		st.dayTokens += int64(tokens)
		st.mu.Unlock()
	}
}
