package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrBadQuery wraps every validation error of a query's parameters, so the
// status view can answer 400 instead of 500.
var ErrBadQuery = errors.New("store: bad query")

// Summaries longer than this read whole hours from rollup_1h and only the
// partial first hour from rollup_1m, so 30 days cost ~720 buckets, not 43200.
const hourlyAbove = 6 * time.Hour

// Stats are aggregated counters for one group (or the total) of a Summary.
type Stats struct {
	Requests         int64
	Failures         int64
	FailuresByClass  map[string]int64
	Streamed         int64
	Attempts         int64 // upstream attempts, retries included
	PromptTokens     int64
	CompletionTokens int64
	ThoughtTokens    int64
	CachedTokens     int64
	Uploads          int64 // Files API uploads finished
	UploadBytes      int64 // upload body bytes carried to Google
	LatencyAvg       time.Duration
	TTFBAvg          time.Duration // over requests that reported a TTFB
	P50, P95, P99    time.Duration // from the fixed-bucket histogram
	Latency          Histogram

	latSum, ttfbSum, ttfbCount int64
}

// Group is the Stats of one key, pool, model or token.
type Group struct {
	Name string
	Stats
}

// Summary is the status view's table: totals plus the same counters per
// key fingerprint, pool, model (as sent) and client token.
type Summary struct {
	From, To time.Time // From is period before To, rounded down to the minute
	Total    Stats
	ByKey    []Group // sorted by requests, most first
	ByPool   []Group
	ByModel  []Group
	ByToken  []Group
}

type rollupRow struct {
	key, model, token, pool, class string
	sums                           [rollupSums]int64
	hist                           Histogram
}

func (st *Stats) addRow(r *rollupRow) {
	n := r.sums[0]
	st.Requests += n
	if r.class != "" {
		st.Failures += n
		if st.FailuresByClass == nil {
			st.FailuresByClass = map[string]int64{}
		}
		st.FailuresByClass[r.class] += n
	}
	st.Streamed += r.sums[1]
	st.Attempts += r.sums[2]
	st.PromptTokens += r.sums[3]
	st.CompletionTokens += r.sums[4]
	st.ThoughtTokens += r.sums[5]
	st.CachedTokens += r.sums[6]
	st.latSum += r.sums[7]
	st.ttfbSum += r.sums[8]
	st.ttfbCount += r.sums[9]
	st.Uploads += r.sums[10]
	st.UploadBytes += r.sums[11]
	st.Latency.add(&r.hist)
}

func (st *Stats) finish() {
	if st.Requests > 0 {
		st.LatencyAvg = time.Duration(st.latSum/st.Requests) * time.Millisecond
	}
	if st.ttfbCount > 0 {
		st.TTFBAvg = time.Duration(st.ttfbSum/st.ttfbCount) * time.Millisecond
	}
	st.P50 = st.Latency.Quantile(0.50)
	st.P95 = st.Latency.Quantile(0.95)
	st.P99 = st.Latency.Quantile(0.99)
}

var rollupSelect = func() string {
	var b strings.Builder
	b.WriteString("SELECT key_fp, model, token, pool, error_class")
	for _, c := range rollupSumCols {
		fmt.Fprintf(&b, ", SUM(%s)", c)
	}
	return b.String()
}()

// Summary aggregates the last period from the rollup tables; it never
// reads raw rows. period must be between one minute and 400 days.
func (s *Store) Summary(ctx context.Context, period time.Duration) (Summary, error) {
	if period < time.Minute || period > 400*24*time.Hour {
		return Summary{}, fmt.Errorf("%w: period %s out of range [1m, 400d]", ErrBadQuery, period)
	}
	now := time.Now()
	from := now.Add(-period).Truncate(time.Minute)
	sum := Summary{From: from, To: now}
	type span struct {
		table    string
		from, to int64
	}
	spans := []span{{"rollup_1m", from.UnixMilli(), math.MaxInt64}}
	if period > hourlyAbove {
		hour := from.Truncate(time.Hour)
		if hour.Before(from) {
			hour = hour.Add(time.Hour)
		}
		spans = []span{{"rollup_1m", from.UnixMilli(), hour.UnixMilli()}, {"rollup_1h", hour.UnixMilli(), math.MaxInt64}}
	}
	groups := [4]map[string]*Stats{{}, {}, {}, {}}
	for _, sp := range spans {
		q := rollupSelect + " FROM " + sp.table + " WHERE bucket >= ? AND bucket < ? GROUP BY key_fp, model, token, pool, error_class"
		rows, err := s.rdb.QueryContext(ctx, q, sp.from, sp.to)
		if err != nil {
			return Summary{}, fmt.Errorf("store: summary %s: %w", sp.table, err)
		}
		var r rollupRow
		dest := []any{&r.key, &r.model, &r.token, &r.pool, &r.class}
		for i := range r.sums {
			dest = append(dest, &r.sums[i])
		}
		for i := range r.hist {
			dest = append(dest, &r.hist[i])
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return Summary{}, fmt.Errorf("store: summary %s: scan: %w", sp.table, err)
			}
			sum.Total.addRow(&r)
			for i, name := range [4]string{r.key, r.pool, r.model, r.token} {
				st := groups[i][name]
				if st == nil {
					st = &Stats{}
					groups[i][name] = st
				}
				st.addRow(&r)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return Summary{}, fmt.Errorf("store: summary %s: %w", sp.table, err)
		}
	}
	sum.Total.finish()
	out := [4]*[]Group{&sum.ByKey, &sum.ByPool, &sum.ByModel, &sum.ByToken}
	for i, m := range groups {
		gs := make([]Group, 0, len(m))
		for name, st := range m {
			st.finish()
			gs = append(gs, Group{Name: name, Stats: *st})
		}
		sort.Slice(gs, func(a, b int) bool {
			if gs[a].Requests != gs[b].Requests {
				return gs[a].Requests > gs[b].Requests
			}
			return gs[a].Name < gs[b].Name
		})
		*out[i] = gs
	}
	return sum, nil
}

// SeriesFilter narrows a Series to one key, model, token, pool or error
// class; empty fields do not filter.
type SeriesFilter struct {
	KeyFP, Model, Token, Pool, ErrorClass string
}

// Point is one step of a Series.
type Point struct {
	Time             time.Time // start of the step
	Requests         int64
	Errors           int64
	PromptTokens     int64
	CompletionTokens int64
	ThoughtTokens    int64
	CachedTokens     int64
	LatencyAvg       time.Duration
}

const maxSeriesPoints = 10000

// Series returns one Point per step over the last period, oldest first,
// including empty steps, from the rollups. step must be a whole number of
// minutes; whole hours read the hourly table.
func (s *Store) Series(ctx context.Context, period, step time.Duration, f SeriesFilter) ([]Point, error) {
	switch {
	case step < time.Minute || step%time.Minute != 0:
		return nil, fmt.Errorf("%w: step %s must be a whole number of minutes", ErrBadQuery, step)
	case period < step:
		return nil, fmt.Errorf("%w: period %s shorter than step %s", ErrBadQuery, period, step)
	case period/step > maxSeriesPoints:
		return nil, fmt.Errorf("%w: %d points requested, at most %d", ErrBadQuery, period/step, maxSeriesPoints)
	}
	table := "rollup_1m"
	if step%time.Hour == 0 {
		table = "rollup_1h"
	}
	now := time.Now()
	stepMs := step.Milliseconds()
	fromMs := now.Add(-period).UnixMilli()
	fromMs -= ((fromMs % stepMs) + stepMs) % stepMs
	n := int((now.UnixMilli()-fromMs)/stepMs) + 1

	var where strings.Builder
	args := []any{fromMs}
	where.WriteString("bucket >= ?")
	for _, c := range []struct{ col, val string }{
		{"key_fp", f.KeyFP}, {"model", f.Model}, {"token", f.Token}, {"pool", f.Pool}, {"error_class", f.ErrorClass},
	} {
		if c.val != "" {
			where.WriteString(" AND " + c.col + " = ?")
			args = append(args, c.val)
		}
	}
	q := "SELECT bucket, SUM(requests), SUM(CASE WHEN error_class <> '' THEN requests ELSE 0 END), " +
		"SUM(prompt_tokens), SUM(completion_tokens), SUM(thought_tokens), SUM(cached_tokens), SUM(latency_ms_sum) FROM " +
		table + " WHERE " + where.String() + " GROUP BY bucket"
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: series: %w", err)
	}
	defer rows.Close()
	pts := make([]Point, n)
	lat := make([]int64, n)
	for i := range pts {
		pts[i].Time = time.UnixMilli(fromMs + int64(i)*stepMs)
	}
	for rows.Next() {
		var bucket, req, errs, p, c, t, ca, l int64
		if err := rows.Scan(&bucket, &req, &errs, &p, &c, &t, &ca, &l); err != nil {
			return nil, fmt.Errorf("store: series: scan: %w", err)
		}
		i := int((bucket - fromMs) / stepMs)
		if i < 0 || i >= n {
			continue
		}
		pt := &pts[i]
		pt.Requests += req
		pt.Errors += errs
		pt.PromptTokens += p
		pt.CompletionTokens += c
		pt.ThoughtTokens += t
		pt.CachedTokens += ca
		lat[i] += l
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: series: %w", err)
	}
	for i := range pts {
		if pts[i].Requests > 0 {
			pts[i].LatencyAvg = time.Duration(lat[i]/pts[i].Requests) * time.Millisecond
		}
	}
	return pts, nil
}

// ListQuery selects raw rows for the error (and request) browser, newest
// first. On errors each filter uses an index; raw request rows keep only
// their ts index (see the package doc), so RecentRequests applies its
// filters while walking ts backwards. Before is the Cursor of the last
// record of the previous page.
type ListQuery struct {
	KeyFP      string
	Model      string // effective model: as sent, or as asked when none was sent
	Token      string
	ErrorClass string // errors only
	Status     int
	Since      time.Time
	Limit      int    // default 50, at most 1000
	Before     string // paging cursor from Record.Cursor
}

// ErrorQuery is the ListQuery of RecentErrors.
type ErrorQuery = ListQuery

// Record is one raw row. For errors, ErrorBody and RequestBody are filled.
type Record struct {
	ID       int64
	Cursor   string // pass as ListQuery.Before to get the page after this record
	Instance string
	// Attempt, on an error row, is n for the n-th upstream attempt of a
	// request that failed and was retried on another key; 0 for the row
	// of the request's own outcome.
	Attempt int
	Request
}

// ErrorRecord is a row of the error log.
type ErrorRecord = Record

const (
	defaultLimit = 50
	maxLimit     = 1000
)

// RecentErrors lists error records, newest first.
func (s *Store) RecentErrors(ctx context.Context, q ErrorQuery) ([]ErrorRecord, error) {
	return s.list(ctx, "errors", q)
}

// RecentRequests lists raw request records, newest first. ErrorClass is
// not a valid filter here (use RecentErrors). It decodes request chunks
// newest first and applies the filters as it goes (see chunks.go), so a
// rare filter value walks further back.
func (s *Store) RecentRequests(ctx context.Context, q ListQuery) ([]Record, error) {
	if q.ErrorClass != "" {
		return nil, fmt.Errorf("%w: filter by error class with RecentErrors", ErrBadQuery)
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = defaultLimit
	case limit < 0 || limit > maxLimit:
		return nil, fmt.Errorf("%w: limit %d out of range [1, %d]", ErrBadQuery, limit, maxLimit)
	}
	if q.Status < 0 || q.Status > 999 {
		return nil, fmt.Errorf("%w: status %d", ErrBadQuery, q.Status)
	}
	out, err := s.recentChunked(ctx, q, limit)
	if err != nil {
		return nil, err
	}
	// Rows written before migration 0003 stay in requests_legacy until
	// retention removes them; their ids are below chunkIDBase, so one
	// cursor pages through both.
	old, err := s.list(ctx, "requests_legacy", q)
	if err != nil {
		return nil, err
	}
	if len(old) == 0 {
		return out, nil
	}
	out = append(out, old...)
	sort.Slice(out, func(i, j int) bool { return newerFirst(&out[i], &out[j]) })
	return out[:min(len(out), limit)], nil
}

func (s *Store) list(ctx context.Context, table string, q ListQuery) ([]Record, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = defaultLimit
	case limit < 0 || limit > maxLimit:
		return nil, fmt.Errorf("%w: limit %d out of range [1, %d]", ErrBadQuery, limit, maxLimit)
	}
	if q.Status < 0 || q.Status > 999 {
		return nil, fmt.Errorf("%w: status %d", ErrBadQuery, q.Status)
	}
	var where []string
	var args []any
	for _, c := range []struct{ col, val string }{
		{"key_fp", q.KeyFP}, {"model", q.Model}, {"token", q.Token}, {"error_class", q.ErrorClass},
	} {
		if c.val != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	if q.Status != 0 {
		where = append(where, "status = ?")
		args = append(args, q.Status)
	}
	if !q.Since.IsZero() {
		where = append(where, "ts >= ?")
		args = append(args, q.Since.UnixMilli())
	}
	if q.Before != "" {
		ts, id, err := ParseCursor(q.Before)
		if err != nil {
			return nil, err
		}
		where = append(where, "(ts < ? OR (ts = ? AND id < ?))")
		args = append(args, ts, ts, id)
	}
	cols := "id, ts, request_id, token, route, protocol, model_asked, model_sent, pool, key_fp, status, error_class, attempts, latency_ms, streamed, instance"
	if table == "errors" {
		cols += ", error_body, request_body, attempt"
	} else {
		cols += ", ttfb_ms, prompt_tokens, completion_tokens, thought_tokens, cached_tokens"
	}
	sqlq := "SELECT " + cols + " FROM " + table
	if len(where) > 0 {
		sqlq += " WHERE " + strings.Join(where, " AND ")
	}
	sqlq += " ORDER BY ts DESC, id DESC LIMIT " + strconv.Itoa(limit)
	rows, err := s.rdb.QueryContext(ctx, sqlq, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", table, err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var rec Record
		var ts, lat int64
		var streamed int
		r := &rec.Request
		dest := []any{&rec.ID, &ts, &r.RequestID, &r.Token, &r.Route, &r.Protocol, &r.ModelAsked, &r.ModelSent,
			&r.Pool, &r.KeyFP, &r.Status, &r.ErrorClass, &r.Attempts, &lat, &streamed, &rec.Instance}
		var ttfb int64
		if table == "errors" {
			dest = append(dest, &r.ErrorBody, &r.RequestBody, &rec.Attempt)
		} else {
			dest = append(dest, &ttfb, &r.PromptTokens, &r.CompletionTokens, &r.ThoughtTokens, &r.CachedTokens)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("store: list %s: scan: %w", table, err)
		}
		r.Time = time.UnixMilli(ts)
		r.Latency = time.Duration(lat) * time.Millisecond
		r.TTFB = time.Duration(ttfb) * time.Millisecond
		r.Streamed = streamed != 0
		rec.Cursor = FormatCursor(ts, rec.ID)
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list %s: %w", table, err)
	}
	return out, nil
}

// FormatCursor encodes a row position as "<unix ms>.<id>".
func FormatCursor(ts, id int64) string {
	return strconv.FormatInt(ts, 10) + "." + strconv.FormatInt(id, 10)
}

// ParseCursor decodes FormatCursor's output. It accepts nothing else:
// cursors come from clients, so they are checked, not trusted.
func ParseCursor(c string) (ts, id int64, err error) {
	a, b, ok := strings.Cut(c, ".")
	if !ok || len(c) > 41 {
		return 0, 0, fmt.Errorf("%w: malformed cursor", ErrBadQuery)
	}
	if !digits(a) || !digits(b) {
		return 0, 0, fmt.Errorf("%w: malformed cursor", ErrBadQuery)
	}
	ts, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%w: malformed cursor", ErrBadQuery)
	}
	return ts, id, nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
