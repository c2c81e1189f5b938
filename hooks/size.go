package hooks

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize parses a memory size from config: a number with an optional
// unit B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB (powers of 1000),
// e.g. "32MiB". A bare number is bytes.
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	mult := map[string]float64{
		"": 1, "B": 1,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
		"KB": 1e3, "MB": 1e6, "GB": 1e9,
	}[unit]
	if mult == 0 || num == "" {
		return 0, fmt.Errorf("invalid size %q (want e.g. 32MiB)", s)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || v*mult > 1<<40 {
		return 0, fmt.Errorf("invalid size %q (want e.g. 32MiB)", s)
	}
	return uint64(v * mult), nil
}
