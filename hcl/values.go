package hcl

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agext/levenshtein"
)

// parseDuration accepts Go durations plus a "d" suffix for days ("30d").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration (examples: \"500ms\", \"30s\", \"5m\", \"2h\", \"7d\")", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (examples: \"500ms\", \"30s\", \"5m\", \"2h\", \"7d\")", s)
	}
	return d, nil
}

// parseSize accepts a plain byte count or a number with a unit:
// B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
		{"B", 1},
	}
	mult := int64(1)
	num := s
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			mult = u.mult
			num = strings.TrimSpace(strings.TrimSuffix(s, u.suffix))
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size (examples: 1048576, \"512KiB\", \"32MiB\")", s)
	}
	return int64(f * float64(mult)), nil
}

// suggest returns the closest candidate to s, if one is close enough to
// be a likely typo.
func suggest(s string, candidates []string) string {
	best, bestDist := "", 1<<30
	for _, c := range candidates {
		d := levenshtein.Distance(s, c, nil)
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	if best != "" && bestDist <= max(2, len(s)/3) {
		return best
	}
	return ""
}

// didYouMean formats a suggestion as a sentence, or "".
func didYouMean(s string, candidates []string) string {
	if m := suggest(s, candidates); m != "" {
		return fmt.Sprintf(" Did you mean %q?", m)
	}
	return ""
}
