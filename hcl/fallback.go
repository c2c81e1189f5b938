package hcl

import (
	"slices"
	"strings"
)

// checkFallback checks pool.fallback: every name is a declared pool other
// than the pool itself, and following fallbacks never comes back to a
// pool already on the path (a request would otherwise circle between pools
// whose keys are all cooling).
func (l *loader) checkFallback(cfg *Config, loc locator, poolNames []string) {
	reported := map[string]bool{} // each cycle once, by its sorted pools
	for _, p := range cfg.Pools {
		b := loc.labeled("pool", p.Name)
		seen := map[string]bool{}
		for i, name := range p.Fallback {
			switch {
			case cfg.Pool(name) == nil:
				l.errorf(elemRange(b, "fallback", i), "Unknown pool", "Pool %q falls back to pool %q, which is not declared.%s", p.Name, name, didYouMean(name, poolNames))
			case name == p.Name:
				l.errorf(elemRange(b, "fallback", i), "Pool falls back to itself", "Pool %q lists itself in fallback; a fallback must be another pool.", p.Name)
			case seen[name]:
				l.errorf(elemRange(b, "fallback", i), "Duplicate fallback", "Pool %q lists pool %q twice in fallback.", p.Name, name)
			default:
				if cycle := fallbackCycle(cfg, p.Name, []string{p.Name, name}); cycle != nil && !reported[cycleKey(cycle)] {
					reported[cycleKey(cycle)] = true
					l.errorf(elemRange(b, "fallback", i), "Fallback cycle", "Pool fallbacks go round in a circle: %s. Fallback must lead from a pool to others that never lead back.", strings.Join(cycle, " → "))
				}
			}
			seen[name] = true
		}
	}
}

// fallbackCycle follows fallbacks from the last pool on path and returns
// the path once it reaches start again, or nil if it never does.
func fallbackCycle(cfg *Config, start string, path []string) []string {
	last := cfg.Pool(path[len(path)-1])
	if last == nil {
		return nil
	}
	if last.Name == start {
		return path
	}
	for _, next := range last.Fallback {
		onPath := false
		for _, n := range path[1:] {
			onPath = onPath || n == next
		}
		if onPath {
			continue // a cycle that does not pass through start is reported from its own pools
		}
		if c := fallbackCycle(cfg, start, append(path, next)); c != nil {
			return c
		}
	}
	return nil
}

// cycleKey names a cycle by its pools, wherever it is entered.
func cycleKey(cycle []string) string {
	pools := slices.Clone(cycle[1:])
	slices.Sort(pools)
	return strings.Join(pools, " ")
}
