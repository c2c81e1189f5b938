package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Raw request rows are stored a batch at a time: one request_chunks row
// (migration 0003) holds up to maxChunkRecords requests encoded by
// chunkEncoder. Nothing on the status view reads raw request rows (it reads
// rollups and the errors table), so binding ~21 values per request through
// cgo and inserting one B-tree row per request bought nothing but CPU; one
// BLOB per batch costs SQLite one insert. RecentRequests decodes chunks
// newest first; retention deletes a chunk once its newest row expires.

const (
	chunkFormat     = 1       // first byte of every body
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

// chunkStrs is the number of string columns a chunk row carries.
const chunkStrs = 9

// chunkEncoder appends requests to a body. Strings equal to the previous
// row's value of the same column are written as one zero byte, so the
// low-cardinality columns (token, route, model, pool, key) cost a byte.
type chunkEncoder struct {
	buf         []byte
	n           int
	first, last int64 // min and max ts
	inst        int   // length of the header before the base time
	base        int64 // ts of the first row; rows store deltas from it
	prev        [chunkStrs]string
}

func (e *chunkEncoder) reset(instance string) {
	e.buf = append(e.buf[:0], chunkFormat)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(instance)))
	e.buf = append(e.buf, instance...)
	e.n = 0
	clear(e.prev[:])
	e.inst = len(e.buf)
}

// fits reports whether r may join the current chunk.
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
		e.first, e.last, e.base = ts, ts, ts
		e.buf = binary.AppendVarint(e.buf[:e.inst], ts) // base: rows store deltas from it
	}
	e.first, e.last = min(e.first, ts), max(e.last, ts)
	e.buf = binary.AppendVarint(e.buf, ts-e.base)
	for i, s := range [chunkStrs]string{r.RequestID, r.Token, r.Route, r.Protocol, r.ModelAsked, r.ModelSent,
		r.Pool, r.KeyFP, r.ErrorClass} {
		if e.n > 0 && s == e.prev[i] {
			e.buf = append(e.buf, 0)
			continue
		}
		e.prev[i] = s
		e.buf = binary.AppendUvarint(e.buf, uint64(len(s))+1)
		e.buf = append(e.buf, s...)
	}
	for _, v := range [...]int64{int64(r.Status), int64(r.Attempts), r.Latency.Milliseconds(), r.TTFB.Milliseconds(),
		int64(r.PromptTokens), int64(r.CompletionTokens), int64(r.ThoughtTokens), int64(r.CachedTokens),
		int64(b2i(r.Streamed))} {
		e.buf = binary.AppendVarint(e.buf, v)
	}
	e.n++
}

var errBadChunk = errors.New("malformed request chunk")

// decodeChunk returns the rows of a chunk body, with ids derived from the
// chunk's id and each row's index. It checks everything: a body that is
// not exactly what chunkEncoder wrote is an error, never a panic.
func decodeChunk(id int64, body []byte) ([]Record, error) {
	if len(body) == 0 || body[0] != chunkFormat {
		return nil, fmt.Errorf("%w %d: unknown format", errBadChunk, id)
	}
	p := body[1:]
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)-k) {
		return nil, fmt.Errorf("%w %d: bad instance", errBadChunk, id)
	}
	inst := string(p[k : k+int(n)])
	p = p[k+int(n):]
	base, k := binary.Varint(p)
	if k <= 0 {
		return nil, fmt.Errorf("%w %d: bad base time", errBadChunk, id)
	}
	p = p[k:]
	var out []Record
	var prev [chunkStrs]string
	for len(p) > 0 {
		if len(out) >= maxChunkRecords {
			return nil, fmt.Errorf("%w %d: too many rows", errBadChunk, id)
		}
		var vals [10]int64 // ts delta, then the numbers after the strings
		vals[0], k = binary.Varint(p)
		if k <= 0 {
			return nil, fmt.Errorf("%w %d: bad ts", errBadChunk, id)
		}
		p = p[k:]
		for i := range prev {
			n, k := binary.Uvarint(p)
			if k <= 0 {
				return nil, fmt.Errorf("%w %d: bad string", errBadChunk, id)
			}
			p = p[k:]
			if n == 0 {
				if len(out) == 0 {
					return nil, fmt.Errorf("%w %d: repeat in first row", errBadChunk, id)
				}
				continue
			}
			n--
			if n > uint64(len(p)) {
				return nil, fmt.Errorf("%w %d: bad string", errBadChunk, id)
			}
			prev[i] = string(p[:n])
			p = p[n:]
		}
		for i := 1; i < len(vals); i++ {
			vals[i], k = binary.Varint(p)
			if k <= 0 {
				return nil, fmt.Errorf("%w %d: bad number", errBadChunk, id)
			}
			p = p[k:]
		}
		var rec Record
		r := &rec.Request
		r.RequestID, r.Token, r.Route, r.Protocol, r.ModelAsked, r.ModelSent, r.Pool, r.KeyFP, r.ErrorClass =
			prev[0], prev[1], prev[2], prev[3], prev[4], prev[5], prev[6], prev[7], prev[8]
		ts := base + vals[0]
		r.Time = time.UnixMilli(ts)
		r.Status, r.Attempts = int(vals[1]), int(vals[2])
		r.Latency = time.Duration(vals[3]) * time.Millisecond
		r.TTFB = time.Duration(vals[4]) * time.Millisecond
		r.PromptTokens, r.CompletionTokens, r.ThoughtTokens, r.CachedTokens = int(vals[5]), int(vals[6]), int(vals[7]), int(vals[8])
		r.Streamed = vals[9] != 0
		rec.Instance = inst
		rec.ID = chunkIDBase | id<<16 | int64(len(out))
		rec.Cursor = FormatCursor(ts, rec.ID)
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
		sqlq := "SELECT id, ts_last, body FROM request_chunks WHERE 1 = 1"
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
			var body []byte
			if err := rows.Scan(&id, &tsLast, &body); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: list requests: scan: %w", err)
			}
			got++
			lastTS, lastID = tsLast, id
			if len(out) >= limit && tsLast < out[limit-1].Time.UnixMilli() {
				done = true
				break
			}
			recs, err := decodeChunk(id, body)
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
