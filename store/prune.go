package store

import (
	"context"
	"fmt"
	"time"
)

// pruner deletes rows past their retention every PruneInterval, in batches
// of pruneBatch rows with a short pause between them, so the writer (which
// shares SQLite's single write connection) is never locked out for long.
func (s *Store) pruner() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if n, err := s.pruneOnce(); err != nil {
			s.log.Warn("stats retention pass failed", "err", err, "deleted", n)
		} else if n > 0 {
			s.log.Debug("stats retention pass", "deleted", n)
		}
	}
}

type pruneTarget struct {
	table, col string
	keep       time.Duration
	batch      int // rows per DELETE
}

// pruneOnce runs one retention pass over every table and returns how many
// rows it deleted (a request chunk counts as one). Request chunks go when
// their newest row expires; a chunk spans at most chunkSpan. It stops early when the Store closes.
func (s *Store) pruneOnce() (int64, error) {
	r := s.cfg.Retention
	targets := []pruneTarget{
		{"requests_legacy", "ts", r.Requests, pruneBatch}, // rows from before migration 0003
		// A chunk holds up to a batch of requests: fewer per DELETE keeps
		// each delete as short as a batch of plain rows.
		{"request_chunks", "ts_last", r.Requests, pruneChunkBatch},
		{"errors", "ts", r.Errors, pruneBatch},
		{"rollup_1m", "bucket", r.MinuteRollups, pruneBatch},
		{"rollup_1h", "bucket", r.Rollups, pruneBatch},
		// Stored responses carry their own expiry (openai.response_retention).
		{"stored_responses", "expires_ms", 0, pruneBatch},
		// So do ephemeral token bindings (Google's expireTime).
		{"ephemeral_tokens", "expires_ms", 0, pruneBatch},
	}
	now := time.Now()
	var total int64
	for _, tg := range targets {
		if tg.keep < 0 {
			continue
		}
		n, err := s.deleteBefore(s.d.deleteBatch(tg.table, tg.col, tg.batch), tg.batch, now.Add(-tg.keep).UnixMilli())
		total += n
		if err != nil {
			return total, fmt.Errorf("prune %s: %w", tg.table, err)
		}
	}
	// Key states that are healthy again, or whose cooldown is long over,
	// have been seen by every peer by now.
	cut := now.Add(-keyStateRetention).UnixMilli()
	res, err := s.execWrite("DELETE FROM key_state WHERE updated_ms < ? AND (state = ? OR (until_ms > 0 AND until_ms < ?))",
		cut, StateHealthy, cut)
	if err != nil {
		return total, fmt.Errorf("prune key_state: %w", err)
	}
	total += res
	// Google forgets files after 48 h and caches at their TTL; their
	// records go with them.
	res, err = s.execWrite("DELETE FROM resources WHERE expires_ms > 0 AND expires_ms < ?", now.UnixMilli())
	if err != nil {
		return total, fmt.Errorf("prune resources: %w", err)
	}
	return total + res, nil
}

func (s *Store) deleteBefore(q string, batch int, cutoff int64) (int64, error) {
	var total int64
	for {
		n, err := s.execWrite(q, cutoff)
		total += n
		if err != nil || n < int64(batch) {
			return total, err
		}
		select {
		case <-s.stop:
			return total, nil
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (s *Store) execWrite(q string, args ...any) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	res, err := s.wdb.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}
