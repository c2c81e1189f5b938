package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// StoredResponse is one Responses API answer kept so that a later request
// can continue it (previous_response_id) and the client can read it back.
// It is found only with the token that made it.
type StoredResponse struct {
	ID        string
	TokenHash string // sha256 hex of the client token, never the token
	Created   time.Time
	Expires   time.Time
	Model     string
	// History is the conversation before this response's input, Input its
	// own input items, Response the response object (with its output):
	// JSON, replayed as History + Input + output by the next request.
	History, Input, Response []byte
}

// ErrNotFound is returned for a stored response that does not exist, has
// expired or belongs to another token.
var ErrNotFound = errors.New("store: not found")

// pendingResponse is a kept response the writer has not committed yet.
// deleted (guarded by Store.respMu) marks one deleted before its commit:
// the writer then deletes the row it wrote.
type pendingResponse struct {
	r       StoredResponse
	deleted bool
}

// respQueueSize bounds the responses waiting for the writer; past it
// KeepResponse writes on the caller's goroutine.
const respQueueSize = 4096

// KeepResponse stores r through the writer, off the request path (an
// INSERT per answer cost the Responses route a quarter of its
// throughput). Until the writer commits it, r is held in memory and
// LoadResponse and DeleteResponse see it there, so this instance reads
// its own writes: a client naming r in its very next request finds it.
// Other instances sharing the database see it once committed (within
// about FlushInterval). When the queue is full r is written at once.
func (s *Store) KeepResponse(ctx context.Context, r StoredResponse) error {
	if s.closed.Load() {
		return ErrClosed
	}
	p := &pendingResponse{r: r}
	s.respMu.Lock()
	s.respPending[r.ID] = p
	s.respMu.Unlock()
	select {
	case s.respQueue <- p:
		return nil
	default:
	}
	s.respMu.Lock()
	delete(s.respPending, r.ID)
	deleted := p.deleted
	s.respMu.Unlock()
	if deleted {
		return nil
	}
	return s.SaveResponse(ctx, r)
}

// SaveResponse writes r at once, on the caller's goroutine.
func (s *Store) SaveResponse(ctx context.Context, r StoredResponse) error {
	if s.closed.Load() {
		return ErrClosed
	}
	_, err := s.wdb.ExecContext(ctx, `INSERT INTO stored_responses (id, token_hash, created_ms, expires_ms, model, history, input, response)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, responseArgs(&r, nil)...)
	if err != nil {
		return fmt.Errorf("store: save response %s: %w", r.ID, err)
	}
	return nil
}

// responseCols are stored_responses' columns in responseArgs' order.
var responseCols = []string{"id", "token_hash", "created_ms", "expires_ms", "model", "history", "input", "response"}

// responseArgs appends r's row to args (JSON as strings: MySQL's JSON
// functions and SQLite's read text).
func responseArgs(r *StoredResponse, args []any) []any {
	return append(args, r.ID, r.TokenHash, r.Created.UnixMilli(), r.Expires.UnixMilli(), r.Model,
		string(r.History), string(r.Input), string(r.Response))
}

// unwritten returns the uncommitted response id, if there is one.
func (s *Store) unwritten(id string) (r StoredResponse, deleted, ok bool) {
	s.respMu.Lock()
	defer s.respMu.Unlock()
	p := s.respPending[id]
	if p == nil {
		return StoredResponse{}, false, false
	}
	return p.r, p.deleted, true
}

// settleResponses runs after the writer committed rs: they leave memory
// (the database answers for them now), and those deleted meanwhile are
// deleted from the database, under respMu so no reader finds them in
// between.
func (s *Store) settleResponses(ctx context.Context, rs []*pendingResponse) {
	s.respMu.Lock()
	defer s.respMu.Unlock()
	for _, p := range rs {
		if p.deleted {
			if _, err := s.wdb.ExecContext(ctx, "DELETE FROM stored_responses WHERE id = ?", p.r.ID); err != nil {
				s.log.Warn("stored response deleted before its commit could not be deleted", "id", p.r.ID, "err", err)
			}
		}
		if s.respPending[p.r.ID] == p {
			delete(s.respPending, p.r.ID)
		}
	}
}

// forgetResponses drops responses the writer gave up on.
func (s *Store) forgetResponses(rs []*pendingResponse) {
	s.respMu.Lock()
	defer s.respMu.Unlock()
	for _, p := range rs {
		if s.respPending[p.r.ID] == p {
			delete(s.respPending, p.r.ID)
		}
	}
}

// LoadResponse reads the unexpired response id of the token tokenHash.
func (s *Store) LoadResponse(ctx context.Context, id, tokenHash string) (StoredResponse, error) {
	if r, deleted, ok := s.unwritten(id); ok {
		if deleted || r.TokenHash != tokenHash || r.Expires.Before(time.Now()) {
			return StoredResponse{}, ErrNotFound
		}
		return r, nil
	}
	var row struct {
		ID        string `db:"id"`
		TokenHash string `db:"token_hash"`
		CreatedMs int64  `db:"created_ms"`
		ExpiresMs int64  `db:"expires_ms"`
		Model     string `db:"model"`
		History   string `db:"history"`
		Input     string `db:"input"`
		Response  string `db:"response"`
	}
	err := s.rdb.GetContext(ctx, &row, `SELECT id, token_hash, created_ms, expires_ms, model, history, input, response
FROM stored_responses WHERE id = ? AND token_hash = ? AND expires_ms >= ?`, id, tokenHash, time.Now().UnixMilli())
	if errors.Is(err, sql.ErrNoRows) {
		return StoredResponse{}, ErrNotFound
	}
	if err != nil {
		return StoredResponse{}, fmt.Errorf("store: load response %s: %w", id, err)
	}
	return StoredResponse{ID: row.ID, TokenHash: row.TokenHash, Created: time.UnixMilli(row.CreatedMs), Expires: time.UnixMilli(row.ExpiresMs),
		Model: row.Model, History: []byte(row.History), Input: []byte(row.Input), Response: []byte(row.Response)}, nil
}

// DeleteResponse removes the response id of the token tokenHash;
// ErrNotFound when there is none.
func (s *Store) DeleteResponse(ctx context.Context, id, tokenHash string) error {
	s.respMu.Lock()
	if p := s.respPending[id]; p != nil {
		found := !p.deleted && p.r.TokenHash == tokenHash
		if found {
			p.deleted = true
		}
		s.respMu.Unlock()
		if !found {
			return ErrNotFound
		}
		return nil
	}
	s.respMu.Unlock()
	res, err := s.wdb.ExecContext(ctx, "DELETE FROM stored_responses WHERE id = ? AND token_hash = ?", id, tokenHash)
	if err != nil {
		return fmt.Errorf("store: delete response %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrNotFound
	}
	return nil
}
