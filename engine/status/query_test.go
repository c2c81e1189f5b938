package status

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/store"
)

func TestParsePeriod(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1m", time.Minute, true},
		{"90m", 90 * time.Minute, true},
		{"24h", 24 * time.Hour, true},
		{"30d", 30 * 24 * time.Hour, true},
		{"400d", 400 * 24 * time.Hour, true},
		{"401d", 0, false},
		{"0h", 0, false},
		{"1s", 0, false},
		{"1", 0, false},
		{"m", 0, false},
		{"-1h", 0, false},
		{"1.5h", 0, false},
		{"1h30m", 0, false},
		{"99999999d", 0, false},
		{"", 0, false},
	} {
		p, err := parsePeriod("period", tc.in, time.Minute, maxPeriod)
		if (err == nil) != tc.ok || tc.ok && (p.d != tc.want || p.label != tc.in) {
			t.Errorf("parsePeriod(%q) = %+v, %v", tc.in, p, err)
		}
	}
}

func TestSeriesDefaults(t *testing.T) {
	for _, tc := range []struct {
		query, step string
	}{
		{"", "1m"},
		{"period=24h", "24m"},
		{"period=30d", "12h"},
		{"period=90m", "2m"},
		{"period=7d&step=1h", "1h"},
	} {
		var a fasthttp.Args
		a.Parse(tc.query)
		q, err := parseSeriesQuery(&a)
		if err != nil || q.step.label != tc.step {
			t.Errorf("%q: step %+v err %v, want %s", tc.query, q, err, tc.step)
		}
	}
}

// FuzzStatusQuery feeds arbitrary query strings to every status parser:
// they must never panic, and whatever they accept must be in range.
func FuzzStatusQuery(f *testing.F) {
	for _, s := range []string{
		"", "period=1h", "period=30d&limit=500&before=1700000000000.5", "key=AIza%E2%80%A6AAA1&model=gemini-2.5-pro&status=429",
		"class=rate_limited&token=tester", "period=1m&step=1m&pool=main", "limit=0", "period=9999999999m", "a=1&a=2", "%ff=%00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var a fasthttp.Args
		a.Parse(raw)
		if q, err := parseStatusQuery(&a); err == nil {
			checkList(t, q.list)
			for _, p := range q.periods {
				if p.d < time.Minute || p.d > maxPeriod {
					t.Fatalf("period %v accepted", p.d)
				}
			}
		}
		if q, err := parseErrorsQuery(&a); err == nil {
			checkList(t, q)
		}
		if q, err := parseSeriesQuery(&a); err == nil {
			if q.step.d < time.Minute || q.step.d > q.period.d || q.period.d/q.step.d > maxSeriesPoints || q.step.d%time.Minute != 0 {
				t.Fatalf("series %+v accepted", q)
			}
		}
	})
}

func checkList(t *testing.T, q store.ListQuery) {
	t.Helper()
	if q.Limit < 1 || q.Limit > maxErrorsLimit || q.Status != 0 && (q.Status < 100 || q.Status > 599) ||
		len(q.KeyFP) > maxFilterLen || len(q.Model) > maxFilterLen || len(q.Token) > maxFilterLen {
		t.Fatalf("list query %+v accepted", q)
	}
	if q.Before != "" {
		if _, _, err := store.ParseCursor(q.Before); err != nil {
			t.Fatalf("cursor %q accepted", q.Before)
		}
	}
}
