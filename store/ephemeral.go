package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// EphemeralToken binds a Live API ephemeral token minted through balance
// to the key that minted it (Google accepts the token only for that key's
// project), the client token that asked for it and the pool it came from.
// It is written before the client gets the token, so a session presenting
// it to any instance on the database, or after a restart, runs on that key.
type EphemeralToken struct {
	// Hash is the sha256 hex of the ephemeral token ("auth_tokens/…"),
	// never the token: whoever presents it is looked up by its hash.
	Hash    string `db:"token_hash"`
	Token   string `db:"token"` // the client token's name, never its secret
	Pool    string `db:"pool"`
	KeyHash string `db:"key_hash"` // sha256 hex of the minting key, never the key
	Created time.Time
	Expires time.Time
}

type ephemeralRow struct {
	EphemeralToken
	CreatedMs int64 `db:"created_ms"`
	ExpiresMs int64 `db:"expires_ms"`
}

const ephemeralCols = "token_hash, token, pool, key_hash, created_ms, expires_ms"

// PutEphemeralToken writes (or replaces) a binding.
func (s *Store) PutEphemeralToken(ctx context.Context, e EphemeralToken) error {
	if s.closed.Load() {
		return ErrClosed
	}
	_, err := s.wdb.ExecContext(ctx, "REPLACE INTO ephemeral_tokens ("+ephemeralCols+") VALUES (?, ?, ?, ?, ?, ?)",
		e.Hash, e.Token, e.Pool, e.KeyHash, e.Created.UnixMilli(), e.Expires.UnixMilli())
	if err != nil {
		return fmt.Errorf("store: save ephemeral token binding: %w", err)
	}
	return nil
}

// LookupEphemeralToken returns the binding of the token whose sha256 hex
// is hash; ok is false when there is none or it has expired.
func (s *Store) LookupEphemeralToken(ctx context.Context, hash string) (e EphemeralToken, ok bool, err error) {
	var row ephemeralRow
	err = s.rdb.GetContext(ctx, &row, "SELECT "+ephemeralCols+" FROM ephemeral_tokens WHERE token_hash = ? AND expires_ms > ?", hash, time.Now().UnixMilli())
	if errors.Is(err, sql.ErrNoRows) {
		return EphemeralToken{}, false, nil
	}
	if err != nil {
		return EphemeralToken{}, false, fmt.Errorf("store: look up ephemeral token binding: %w", err)
	}
	out := row.EphemeralToken
	out.Created, out.Expires = time.UnixMilli(row.CreatedMs), time.UnixMilli(row.ExpiresMs)
	return out, true, nil
}
