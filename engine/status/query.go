package status

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/store"
)

// period is a validated duration with the label the client used.
type period struct {
	label string
	d     time.Duration
}

// defaultPeriods are the stats windows of the status view.
var defaultPeriods = []period{{"1m", time.Minute}, {"1h", time.Hour}, {"24h", 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}}

// Bounds of the status API's parameters.
const (
	maxPeriod        = 400 * 24 * time.Hour
	maxErrorsLimit   = 500
	defaultErrLimit  = 50
	statusErrLimit   = 20 // errors embedded in the status document
	maxFilterLen     = 200
	maxSeriesPoints  = 1440
	defaultSeriesWin = time.Hour
)

// statusQuery is the validated query of the status document.
type statusQuery struct {
	periods []period
	list    store.ListQuery
}

// seriesQuery is the validated query of /api/series.
type seriesQuery struct {
	period, step period
	filter       store.SeriesFilter
}

// queryArgs checks that every parameter is known and given once, and
// returns them by name. Unknown names are refused rather than ignored so
// a typo (?peroid=) is not silently a different question.
func queryArgs(args *fasthttp.Args, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range args.All() {
		name := string(k)
		if !slices.Contains(allowed, name) {
			return nil, fmt.Errorf("unknown query parameter %q; accepted: %s", clip(name, 40), strings.Join(allowed, ", "))
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("query parameter %q given more than once", name)
		}
		out[name] = string(v)
	}
	return out, nil
}

// clip shortens s for an error message, so a huge parameter is not echoed.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// parsePeriod reads "<n><unit>" with unit m, h or d: 1m, 90m, 6h, 30d.
func parsePeriod(name, s string, minD, maxD time.Duration) (period, error) {
	bad := fmt.Errorf("%s %q: want a whole number of minutes, hours or days such as 1m, 1h, 24h or 30d, between %s and %s",
		name, clip(s, 40), fmtPeriod(minD), fmtPeriod(maxD))
	if len(s) < 2 || len(s) > 8 {
		return period{}, bad
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'm':
		unit = time.Minute
	case 'h':
		unit = time.Hour
	case 'd':
		unit = 24 * time.Hour
	default:
		return period{}, bad
	}
	n := 0
	for _, c := range s[:len(s)-1] {
		if c < '0' || c > '9' {
			return period{}, bad
		}
		n = n*10 + int(c-'0')
	}
	d := time.Duration(n) * unit
	if n == 0 || d < minD || d > maxD {
		return period{}, bad
	}
	return period{label: s, d: d}, nil
}

func fmtPeriod(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	default:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
}

// filterValue validates a free-text filter (model, token, pool, key
// fingerprint): bounded length, no control characters.
func filterValue(name, v string) (string, error) {
	if len(v) > maxFilterLen {
		return "", fmt.Errorf("%s filter is longer than %d bytes", name, maxFilterLen)
	}
	for _, c := range v {
		if c < 0x20 || c == 0x7f || c == '\uFFFD' {
			return "", fmt.Errorf("%s filter contains a control character or invalid UTF-8", name)
		}
	}
	return v, nil
}

// classValue validates an error class name: lower case and underscores.
func classValue(v string) (string, error) {
	if len(v) > 64 {
		return "", errors.New("class filter is longer than 64 bytes")
	}
	for _, c := range v {
		if (c < 'a' || c > 'z') && c != '_' {
			return "", fmt.Errorf("class %q: want an error class such as rate_limited, invalid_key, server_error, timeout or client_error", clip(v, 40))
		}
	}
	return v, nil
}

func intParam(name, v string, lo, hi int) (int, error) {
	n := 0
	if v == "" || len(v) > 6 {
		return 0, fmt.Errorf("%s %q: want a whole number from %d to %d", name, clip(v, 40), lo, hi)
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%s %q: want a whole number from %d to %d", name, clip(v, 40), lo, hi)
		}
		n = n*10 + int(c-'0')
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%s %d out of range: want %d to %d", name, n, lo, hi)
	}
	return n, nil
}

// listFilters fills the error-log filters shared by the status document
// and /api/errors.
func listFilters(a map[string]string, q *store.ListQuery, defLimit int) error {
	var err error
	if q.KeyFP, err = filterValue("key", a["key"]); err != nil {
		return err
	}
	if q.Model, err = filterValue("model", a["model"]); err != nil {
		return err
	}
	if q.Token, err = filterValue("token", a["token"]); err != nil {
		return err
	}
	if q.ErrorClass, err = classValue(a["class"]); err != nil {
		return err
	}
	if v, ok := a["status"]; ok {
		if q.Status, err = intParam("status", v, 100, 599); err != nil {
			return err
		}
	}
	q.Limit = defLimit
	if v, ok := a["limit"]; ok {
		if q.Limit, err = intParam("limit", v, 1, maxErrorsLimit); err != nil {
			return err
		}
	}
	if v, ok := a["before"]; ok {
		if _, _, cerr := store.ParseCursor(v); cerr != nil {
			return fmt.Errorf("before %q is not a cursor from a previous page (errors_next or next)", clip(v, 40))
		}
		q.Before = v
	}
	return nil
}

var errorFilterParams = []string{"key", "model", "token", "class", "status", "limit", "before"}

// parseStatusQuery validates the status document's query: an optional
// period and the error-log filters.
func parseStatusQuery(args *fasthttp.Args) (*statusQuery, error) {
	a, err := queryArgs(args, append([]string{"period"}, errorFilterParams...)...)
	if err != nil {
		return nil, err
	}
	q := &statusQuery{periods: defaultPeriods}
	if v, ok := a["period"]; ok {
		p, err := parsePeriod("period", v, time.Minute, maxPeriod)
		if err != nil {
			return nil, err
		}
		q.periods = []period{p}
	}
	if err := listFilters(a, &q.list, statusErrLimit); err != nil {
		return nil, err
	}
	return q, nil
}

// parseErrorsQuery validates /api/errors.
func parseErrorsQuery(args *fasthttp.Args) (store.ErrorQuery, error) {
	var q store.ErrorQuery
	a, err := queryArgs(args, errorFilterParams...)
	if err != nil {
		return q, err
	}
	err = listFilters(a, &q, defaultErrLimit)
	return q, err
}

// parseSeriesQuery validates /api/series: period (default 1h), step
// (default: the period over 60, rounded up to whole minutes) and filters.
func parseSeriesQuery(args *fasthttp.Args) (*seriesQuery, error) {
	a, err := queryArgs(args, "period", "step", "key", "model", "token", "pool", "class")
	if err != nil {
		return nil, err
	}
	q := &seriesQuery{period: period{"1h", defaultSeriesWin}}
	if v, ok := a["period"]; ok {
		if q.period, err = parsePeriod("period", v, time.Minute, maxPeriod); err != nil {
			return nil, err
		}
	}
	if v, ok := a["step"]; ok {
		if q.step, err = parsePeriod("step", v, time.Minute, q.period.d); err != nil {
			return nil, err
		}
	} else {
		step := (q.period.d/60 + time.Minute - 1) / time.Minute * time.Minute
		q.step = period{fmtPeriod(step), step}
	}
	if n := q.period.d / q.step.d; n > maxSeriesPoints {
		return nil, fmt.Errorf("period %s at step %s is %d points; at most %d (use a larger step)", q.period.label, q.step.label, n, maxSeriesPoints)
	}
	f := &q.filter
	for _, p := range []struct {
		name string
		dst  *string
	}{{"key", &f.KeyFP}, {"model", &f.Model}, {"token", &f.Token}, {"pool", &f.Pool}} {
		if *p.dst, err = filterValue(p.name, a[p.name]); err != nil {
			return nil, err
		}
	}
	if f.ErrorClass, err = classValue(a["class"]); err != nil {
		return nil, err
	}
	return q, nil
}
