package keypool

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Strategy chooses the order in which a pool offers its keys.
type Strategy uint8

// Strategies.
const (
	RoundRobin Strategy = iota
	Random
	LeastRecentlyUsed
)

// ParseStrategy maps the config's names to strategies.
func ParseStrategy(s string) Strategy {
	switch s {
	case "random":
		return Random
	case "least_recently_used":
		return LeastRecentlyUsed
	}
	return RoundRobin
}

// Member is one key in a pool, with what the pool needs to use it.
type Member struct {
	Key    *Key
	Weight int
	// Index is the member's position in the pool, for callers that keep
	// per-member data (such as its HTTP client) in a parallel slice.
	Index int
	// Proxy is the egress proxy URL this key is pinned to ("" = direct).
	Proxy string
}

// Pool offers keys for requests. It is immutable once built; the health it
// reads lives in the Registry.
type Pool struct {
	Name     string
	members  []Member
	ring     []int32 // member indexes, each repeated by weight, interleaved
	strategy Strategy
	limits   Limits
	next     atomic.Uint64
}

// NewPool builds a pool over members. Weights below 1 count as 1.
func NewPool(name string, members []Member, strategy Strategy, limits Limits) *Pool {
	p := &Pool{Name: name, members: members, strategy: strategy, limits: limits}
	for i := range p.members {
		p.members[i].Index = i
	}
	p.ring = smoothWeightedRing(members)
	return p
}

// smoothWeightedRing spreads heavier keys evenly through the ring (nginx's
// smooth weighted round-robin) instead of in runs.
func smoothWeightedRing(members []Member) []int32 {
	total := 0
	allOne := true
	for _, m := range members {
		w := max(m.Weight, 1)
		total += w
		if w != 1 {
			allOne = false
		}
	}
	ring := make([]int32, 0, total)
	if allOne {
		for i := range members {
			ring = append(ring, int32(i))
		}
		return ring
	}
	current := make([]int, len(members))
	for range total {
		best := 0
		for i, m := range members {
			current[i] += max(m.Weight, 1)
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		ring = append(ring, int32(best))
	}
	return ring
}

// Members returns the pool's members in config order.
func (p *Pool) Members() []Member { return p.members }

// Limits returns the per-key limits of the pool.
func (p *Pool) Limits() Limits { return p.limits }

// Pick chooses a key that may serve model now and is not in tried, and
// marks it in use; call Key.End when the request finishes. When no key
// can serve, it returns nil and the earliest time one frees up (zero if
// only a successful probe can bring one back).
func (p *Pool) Pick(model string, tried []*Key, now time.Time) (*Member, time.Time) {
	n := len(p.ring)
	if n == 0 {
		return nil, time.Time{}
	}
	var earliest time.Time
	consider := func(m *Member) bool {
		for _, t := range tried {
			if t == m.Key {
				return false
			}
		}
		ok, until := m.Key.available(model, now, p.limits)
		if !ok && !until.IsZero() && (earliest.IsZero() || until.Before(earliest)) {
			earliest = until
		}
		return ok
	}
	switch p.strategy {
	case LeastRecentlyUsed:
		var best *Member
		var bestUsed int64
		for i := range p.members {
			m := &p.members[i]
			if !consider(m) {
				continue
			}
			if used := m.Key.lastUsed.Load(); best == nil || used < bestUsed {
				best, bestUsed = m, used
			}
		}
		if best != nil {
			best.Key.begin(now, p.limits)
			return best, time.Time{}
		}
		return nil, earliest
	case Random:
		start := rand.IntN(n)
		for i := range n {
			m := &p.members[p.ring[(start+i)%n]]
			if consider(m) {
				m.Key.begin(now, p.limits)
				return m, time.Time{}
			}
		}
		return nil, earliest
	default:
		start := p.next.Add(1) - 1
		for i := range uint64(n) {
			m := &p.members[p.ring[(start+i)%uint64(n)]]
			if consider(m) {
				// Move the cursor past the key we took, so a run of
				// unavailable keys is skipped once, not once per request.
				if i > 0 {
					p.next.CompareAndSwap(start+1, start+i+1)
				}
				m.Key.begin(now, p.limits)
				return m, time.Time{}
			}
		}
		return nil, earliest
	}
}

// PickKey is Pick restricted to one key: the request names a resource
// only k can use. It returns nil, and when k frees up, if k is tried,
// not in the pool, or cannot serve model now.
func (p *Pool) PickKey(k *Key, model string, tried []*Key, now time.Time) (*Member, time.Time) {
	for _, t := range tried {
		if t == k {
			return nil, time.Time{}
		}
	}
	for i := range p.members {
		m := &p.members[i]
		if m.Key != k {
			continue
		}
		ok, until := k.available(model, now, p.limits)
		if !ok {
			return nil, until
		}
		k.begin(now, p.limits)
		return m, time.Time{}
	}
	return nil, time.Time{}
}

// Counts reports how many members are healthy, cooling for model, and
// quarantined right now.
func (p *Pool) Counts(now time.Time) (healthy, cooling, quarantined int) {
	for i := range p.members {
		st := p.members[i].Key.Status(now)
		switch st.State {
		case Healthy:
			healthy++
		case Cooling:
			cooling++
		case Quarantined:
			quarantined++
		}
	}
	return
}
