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

// SaveResponse writes r at once (not through the stats queue): the client
// may name it in its very next request.
func (s *Store) SaveResponse(ctx context.Context, r StoredResponse) error {
	if s.closed.Load() {
		return ErrClosed
	}
	_, err := s.wdb.ExecContext(ctx, `INSERT INTO stored_responses (id, token_hash, created_ms, expires_ms, model, history, input, response)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.TokenHash, r.Created.UnixMilli(), r.Expires.UnixMilli(), r.Model,
		string(r.History), string(r.Input), string(r.Response))
	if err != nil {
		return fmt.Errorf("store: save response %s: %w", r.ID, err)
	}
	return nil
}

// LoadResponse reads the unexpired response id of the token tokenHash.
func (s *Store) LoadResponse(ctx context.Context, id, tokenHash string) (StoredResponse, error) {
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
	res, err := s.wdb.ExecContext(ctx, "DELETE FROM stored_responses WHERE id = ? AND token_hash = ?", id, tokenHash)
	if err != nil {
		return fmt.Errorf("store: delete response %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrNotFound
	}
	return nil
}
