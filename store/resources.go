package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Resource kinds as stored in resources.kind.
const (
	KindFile   = "file"
	KindCache  = "cache"
	KindBatch  = "batch"
	KindUpload = "upload" // an open resumable upload, named "uploads/<upload id>"
	// KindOperation is a long-running operation (a Veo video), named
	// "models/{model}/operations/{id}".
	KindOperation = "operation"
)

// Resource is the ownership record of one stateful Gemini resource: the
// key that created it (Google keeps it in that key's project, so no other
// key can use it) and the client token that asked for it (no other token
// may see it). It is written before the client learns the resource's
// name, so every instance on one database routes it the same way.
type Resource struct {
	Name    string `db:"name"` // "files/abc", "cachedContents/x", "batches/y", "uploads/<id>", "models/m/operations/z"
	Kind    string `db:"kind"`
	KeyHash string `db:"key_hash"` // sha256 hex of the owning key, never the key
	KeyFP   string `db:"key_fp"`   // its fingerprint, for display
	Token   string `db:"token"`    // the owning client token's name, never its secret
	Size    int64  `db:"size_bytes"`
	MIME    string `db:"mime"`
	Model   string `db:"model"` // a cached content's model, or the model a file was uploaded for
	// Meta is the resource as Google last described it (JSON), what a
	// merged list answers with.
	Meta    string `db:"meta"`
	Created time.Time
	Expires time.Time // zero: no expiry known
}

type resourceRow struct {
	Resource
	CreatedMs int64 `db:"created_ms"`
	ExpiresMs int64 `db:"expires_ms"`
}

func (r *resourceRow) resource() Resource {
	out := r.Resource
	out.Created = time.UnixMilli(r.CreatedMs)
	if r.ExpiresMs > 0 {
		out.Expires = time.UnixMilli(r.ExpiresMs)
	}
	return out
}

const resourceCols = "name, kind, key_hash, key_fp, token, size_bytes, mime, model, meta, created_ms, expires_ms"

// PutResource writes (or replaces) an ownership record. It runs on the
// request that created the resource, before the client gets its name:
// a record written later could send a peer's first use to the wrong key.
func (s *Store) PutResource(ctx context.Context, r Resource) error {
	if s.closed.Load() {
		return ErrClosed
	}
	var expires int64
	if !r.Expires.IsZero() {
		expires = r.Expires.UnixMilli()
	}
	_, err := s.wdb.ExecContext(ctx, "REPLACE INTO resources ("+resourceCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		r.Name, r.Kind, r.KeyHash, r.KeyFP, r.Token, r.Size, r.MIME, r.Model, r.Meta, r.Created.UnixMilli(), expires)
	if err != nil {
		return fmt.Errorf("store: save resource %s: %w", r.Name, err)
	}
	return nil
}

// LookupResource returns the record of name; ok is false when there is
// none or it has expired.
func (s *Store) LookupResource(ctx context.Context, name string) (r Resource, ok bool, err error) {
	var row resourceRow
	err = s.rdb.GetContext(ctx, &row, "SELECT "+resourceCols+" FROM resources WHERE name = ? AND (expires_ms = 0 OR expires_ms > ?)", name, time.Now().UnixMilli())
	if errors.Is(err, sql.ErrNoRows) {
		return Resource{}, false, nil
	}
	if err != nil {
		return Resource{}, false, fmt.Errorf("store: look up resource %s: %w", name, err)
	}
	return row.resource(), true, nil
}

// ListResources returns up to limit live records of kind owned by token,
// in name order, starting after the name after ("" for the first page).
func (s *Store) ListResources(ctx context.Context, token, kind, after string, limit int) ([]Resource, error) {
	var rows []resourceRow
	if err := s.rdb.SelectContext(ctx, &rows, "SELECT "+resourceCols+" FROM resources WHERE token = ? AND kind = ? AND name > ? AND (expires_ms = 0 OR expires_ms > ?) ORDER BY name LIMIT ?",
		token, kind, after, time.Now().UnixMilli(), limit); err != nil {
		return nil, fmt.Errorf("store: list %s resources: %w", kind, err)
	}
	out := make([]Resource, len(rows))
	for i := range rows {
		out[i] = rows[i].resource()
	}
	return out, nil
}

// DeleteResource forgets name.
func (s *Store) DeleteResource(ctx context.Context, name string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if _, err := s.wdb.ExecContext(ctx, "DELETE FROM resources WHERE name = ?", name); err != nil {
		return fmt.Errorf("store: delete resource %s: %w", name, err)
	}
	return nil
}

// KeyResources is what one key holds, for status.
type KeyResources struct {
	KeyHash string `db:"key_hash"`
	KeyFP   string `db:"key_fp"`
	Files   int64  `db:"files"`
	Bytes   int64  `db:"bytes"`
	Caches  int64  `db:"caches"`
	Batches int64  `db:"batches"`
	// Operations are long-running operations (Veo videos) still polled.
	Operations int64 `db:"operations"`
}

// ResourceTotals sums the live resources per owning key.
func (s *Store) ResourceTotals(ctx context.Context) ([]KeyResources, error) {
	var out []KeyResources
	err := s.rdb.SelectContext(ctx, &out, `SELECT key_hash, MAX(key_fp) AS key_fp,
  SUM(CASE WHEN kind = ? THEN 1 ELSE 0 END) AS files,
  SUM(CASE WHEN kind = ? THEN size_bytes ELSE 0 END) AS bytes,
  SUM(CASE WHEN kind = ? THEN 1 ELSE 0 END) AS caches,
  SUM(CASE WHEN kind = ? THEN 1 ELSE 0 END) AS batches,
  SUM(CASE WHEN kind = ? THEN 1 ELSE 0 END) AS operations
FROM resources WHERE expires_ms = 0 OR expires_ms > ? GROUP BY key_hash ORDER BY key_hash`,
		KindFile, KindFile, KindCache, KindBatch, KindOperation, time.Now().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("store: resource totals: %w", err)
	}
	return out, nil
}
