package hcl

import (
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// checkFallback checks pool.fallback: its list (checkFallbackList), and
// that following fallbacks never comes back to a pool already on the path
// (a request would otherwise circle between pools whose keys are all
// cooling).
func (l *loader) checkFallback(cfg *Config, loc locator, poolNames []string) {
	reported := map[string]bool{} // each cycle once, by its sorted pools
	for _, p := range cfg.Pools {
		b := loc.labeled("pool", p.Name)
		for _, i := range l.checkFallbackList(cfg, b, "Pool "+strconv.Quote(p.Name), p.Name, p.Fallback, poolNames) {
			if cycle := fallbackCycle(cfg, p.Name, []string{p.Name, p.Fallback[i]}); cycle != nil && !reported[cycleKey(cycle)] {
				reported[cycleKey(cycle)] = true
				l.errorf(elemRange(b, "fallback", i), "Fallback cycle", "Pool fallbacks go round in a circle: %s. Fallback must lead from a pool to others that never lead back.", strings.Join(cycle, " → "))
			}
		}
	}
}

// checkFallbackList checks one fallback list, of a pool or of a model
// rule (owner names it in messages) whose requests start on pool self
// ("" when the rule leaves the pool to the token): every name is a
// declared pool other than self, listed once. It returns the indexes of
// the names that passed.
func (l *loader) checkFallbackList(cfg *Config, b *hclsyntax.Block, owner, self string, list, poolNames []string) []int {
	var ok []int
	seen := map[string]bool{}
	for i, name := range list {
		switch {
		case cfg.Pool(name) == nil:
			l.errorf(elemRange(b, "fallback", i), "Unknown pool", "%s falls back to pool %q, which is not declared.%s", owner, name, didYouMean(name, poolNames))
		case name == self:
			l.errorf(elemRange(b, "fallback", i), "Falls back to its own pool", "%s lists its own pool %q in fallback; a fallback must be another pool.", owner, self)
		case seen[name]:
			l.errorf(elemRange(b, "fallback", i), "Duplicate fallback", "%s lists pool %q twice in fallback.", owner, name)
		default:
			ok = append(ok, i)
		}
		seen[name] = true
	}
	return ok
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
