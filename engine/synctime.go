package engine

import (
	"sync"
	"time"
)

// syncMapTime remembers a time per name, for rate-limited logging.
type syncMapTime struct {
	mu sync.Mutex
	m  map[string]time.Time
}

// swapIfOlder sets name's time to now and reports true when the previous
// one is older than every (or absent).
func (s *syncMapTime) swapIfOlder(name string, every time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if t, ok := s.m[name]; ok && now.Sub(t) < every {
		return false
	}
	if s.m == nil {
		s.m = map[string]time.Time{}
	}
	s.m[name] = now
	return true
}
