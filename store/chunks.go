package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"
	"unsafe"
)

// Raw request rows are stored a batch at a time: one request_chunks row
// (migration 0003) holds up to maxChunkRecords requests encoded by
// chunkEncoder, and the requests view expands them for SQL. Nothing on the status view reads raw request rows (it reads
// rollups and the errors table), so binding ~21 values per request through
// cgo and inserting one B-tree row per request bought nothing but CPU; one
// text value per batch costs SQLite one insert. RecentRequests decodes chunks
// newest first; retention deletes a chunk once its newest row expires.

const (
	maxChunkRecords = 1 << 16 // row index within a chunk fits 16 bits of a Record.ID
	maxChunkBytes   = 512 << 10
	// chunkSpan bounds the time a chunk covers, so retention (which drops
	// whole chunks by their newest row) keeps old rows at most this long
	// past their expiry even when a batch mixes times.
	chunkSpan = time.Minute
	// chunkIDBase sets Record.IDs of chunked rows above any id of the
	// legacy requests table, so one cursor orders both.
	chunkIDBase = int64(1) << 52
	chunkPage   = 16 // chunks per query while RecentRequests walks back
)

// chunkEncoder appends requests to a body: a JSON array with one array
// per request, [ts, request_id, token, route, protocol, model_asked,
// model_sent, pool, key_fp, error_class, status, attempts, latency_ms,
// ttfb_ms, prompt_tokens, completion_tokens, thought_tokens,
// cached_tokens, streamed]. JSON rather than a tighter binary format so
// the database itself can read it: the requests view (migration 0003)
// expands chunks with json_each / JSON_TABLE, and SQL that queried the
// old requests table keeps working.
type chunkEncoder struct {
	buf         []byte
	n           int
	first, last int64 // min and max ts
	// strs caches the JSON of the last value of each string column but
	// the request id: consecutive requests mostly share their token,
	// route, protocol, models, pool and key, so a repeat costs one
	// comparison (of identical pointers, usually) and a copy instead of
	// an escape scan.
	strs [8]encodedString
}

// encodedString is one column's last value and its JSON encoding.
type encodedString struct {
	s   string
	enc []byte
	ok  bool
}

func (c *encodedString) appendTo(dst []byte, s string) []byte {
	if !c.ok || s != c.s {
		c.s, c.enc, c.ok = s, appendJSONString(c.enc[:0], s), true
	}
	return append(dst, c.enc...)
}

func (e *chunkEncoder) reset() {
	e.buf = append(e.buf[:0], '[')
	e.n = 0
}

// fits reports whether a row at ts may join the current chunk.
func (e *chunkEncoder) fits(ts int64) bool {
	if e.n == 0 {
		return true
	}
	return e.n < maxChunkRecords && len(e.buf) < maxChunkBytes &&
		max(e.last, ts)-min(e.first, ts) <= chunkSpan.Milliseconds()
}

func (e *chunkEncoder) add(r *Request) {
	ts := r.Time.UnixMilli()
	if e.n == 0 {
		e.first, e.last = ts, ts
		e.buf = append(e.buf, '[')
	} else {
		e.buf = append(e.buf, ",["...)
	}
	e.first, e.last = min(e.first, ts), max(e.last, ts)
	e.buf = strconv.AppendInt(e.buf, ts, 10)
	e.buf = append(e.buf, ',')
	e.buf = appendJSONString(e.buf, r.RequestID)
	for i, s := range [...]string{r.Token, r.Route, r.Protocol, r.ModelAsked, r.ModelSent,
		r.Pool, r.KeyFP, r.ErrorClass} {
		e.buf = append(e.buf, ',')
		e.buf = e.strs[i].appendTo(e.buf, s)
	}
	for _, v := range [...]int64{int64(r.Status), int64(r.Attempts), r.Latency.Milliseconds(), r.TTFB.Milliseconds(),
		int64(r.PromptTokens), int64(r.CompletionTokens), int64(r.ThoughtTokens), int64(r.CachedTokens),
		int64(b2i(r.Streamed))} {
		e.buf = append(e.buf, ',')
		e.buf = strconv.AppendInt(e.buf, v, 10)
	}
	e.buf = append(e.buf, ']')
	e.n++
}

// body returns the finished JSON text.
func (e *chunkEncoder) body() []byte { return append(e.buf, ']') }

// bodyString returns the finished JSON text as a string that shares the
// encoder's buffer, for binding as a TEXT value without copying the
// chunk (up to maxChunkBytes) once more: valid only until the encoder is
// next reset or added to. Both drivers are done with an argument when the
// statement returns (SQLite binds text as SQLITE_TRANSIENT, a copy).
func (e *chunkEncoder) bodyString() string {
	b := e.body()
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// appendJSONString appends s (valid UTF-8: prepare clipped it) as a JSON
// string.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

var errBadChunk = errors.New("malformed request chunk")

// chunkCols is the number of values of one row of a chunk.
const chunkCols = 19

// decodeChunk returns the rows of a chunk body, with ids derived from the
// chunk's id and each row's index. A body that is not what chunkEncoder
// writes is an error, never a panic.
func decodeChunk(id int64, instance string, body []byte) ([]Record, error) {
	var raw [][]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("%w %d: %w", errBadChunk, id, err)
	}
	if len(raw) > maxChunkRecords {
		return nil, fmt.Errorf("%w %d: %d rows", errBadChunk, id, len(raw))
	}
	out := make([]Record, 0, len(raw))
	for i, row := range raw {
		if len(row) != chunkCols {
			return nil, fmt.Errorf("%w %d: row %d has %d values", errBadChunk, id, i, len(row))
		}
		var strs [9]string
		var nums [10]int64
		if err := json.Unmarshal(row[0], &nums[0]); err != nil {
			return nil, fmt.Errorf("%w %d: row %d: %w", errBadChunk, id, i, err)
		}
		for j := range strs {
			if err := json.Unmarshal(row[1+j], &strs[j]); err != nil {
				return nil, fmt.Errorf("%w %d: row %d: %w", errBadChunk, id, i, err)
			}
		}
		for j := 1; j < len(nums); j++ {
			if err := json.Unmarshal(row[9+j], &nums[j]); err != nil {
				return nil, fmt.Errorf("%w %d: row %d: %w", errBadChunk, id, i, err)
			}
		}
		var rec Record
		r := &rec.Request
		r.RequestID, r.Token, r.Route, r.Protocol, r.ModelAsked, r.ModelSent, r.Pool, r.KeyFP, r.ErrorClass =
			strs[0], strs[1], strs[2], strs[3], strs[4], strs[5], strs[6], strs[7], strs[8]
		r.Time = time.UnixMilli(nums[0])
		r.Status, r.Attempts = int(nums[1]), int(nums[2])
		r.Latency = time.Duration(nums[3]) * time.Millisecond
		r.TTFB = time.Duration(nums[4]) * time.Millisecond
		r.PromptTokens, r.CompletionTokens, r.ThoughtTokens, r.CachedTokens = int(nums[5]), int(nums[6]), int(nums[7]), int(nums[8])
		r.Streamed = nums[9] != 0
		rec.Instance = instance
		rec.ID = chunkIDBase | id<<16 | int64(i)
		rec.Cursor = FormatCursor(nums[0], rec.ID)
		out = append(out, rec)
	}
	return out, nil
}

// matches applies a ListQuery's filters and cursor to one decoded row.
func (q *ListQuery) matches(r *Record, hasCur bool, cts, cid int64) bool {
	ts := r.Time.UnixMilli()
	switch {
	case q.KeyFP != "" && r.KeyFP != q.KeyFP,
		q.Model != "" && effectiveModel(&r.Request) != q.Model,
		q.Token != "" && r.Token != q.Token,
		q.Status != 0 && r.Status != q.Status,
		!q.Since.IsZero() && ts < q.Since.UnixMilli(),
		hasCur && !(ts < cts || (ts == cts && r.ID < cid)):
		return false
	}
	return true
}

func newerFirst(a, b *Record) bool {
	at, bt := a.Time.UnixMilli(), b.Time.UnixMilli()
	if at != bt {
		return at > bt
	}
	return a.ID > b.ID
}

// recentChunked lists request rows from request_chunks, newest first.
// Chunks are read in (ts_last, id) order descending, a page at a time;
// the walk stops once limit rows are in hand and no remaining chunk can
// hold a newer one (its ts_last is below the limit-th row's ts).
func (s *Store) recentChunked(ctx context.Context, q ListQuery, limit int) ([]Record, error) {
	var cts, cid int64
	hasCur := q.Before != ""
	if hasCur {
		var err error
		if cts, cid, err = ParseCursor(q.Before); err != nil {
			return nil, err
		}
	}
	var out []Record
	var lastTS, lastID int64
	first := true
	for {
		sqlq := "SELECT id, ts_last, instance, body FROM request_chunks WHERE 1 = 1"
		var args []any
		if hasCur {
			sqlq += " AND ts_first <= ?"
			args = append(args, cts)
		}
		if !q.Since.IsZero() {
			sqlq += " AND ts_last >= ?"
			args = append(args, q.Since.UnixMilli())
		}
		if !first {
			sqlq += " AND (ts_last < ? OR (ts_last = ? AND id < ?))"
			args = append(args, lastTS, lastTS, lastID)
		}
		sqlq += fmt.Sprintf(" ORDER BY ts_last DESC, id DESC LIMIT %d", chunkPage)
		rows, err := s.rdb.QueryContext(ctx, sqlq, args...)
		if err != nil {
			return nil, fmt.Errorf("store: list requests: %w", err)
		}
		got, done := 0, false
		for rows.Next() {
			var id, tsLast int64
			var inst string
			var body []byte
			if err := rows.Scan(&id, &tsLast, &inst, &body); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: list requests: scan: %w", err)
			}
			got++
			lastTS, lastID = tsLast, id
			if len(out) >= limit && tsLast < out[limit-1].Time.UnixMilli() {
				done = true
				break
			}
			recs, err := decodeChunk(id, inst, body)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: list requests: %w", err)
			}
			for i := range recs {
				if q.matches(&recs[i], hasCur, cts, cid) {
					out = append(out, recs[i])
				}
			}
			if len(out) >= limit {
				sort.Slice(out, func(i, j int) bool { return newerFirst(&out[i], &out[j]) })
				out = out[:limit]
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: list requests: %w", err)
		}
		first = false
		if done || got < chunkPage {
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return newerFirst(&out[i], &out[j]) })
	return out, nil
}
