package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestStoredResponses: a response is found only with its token's hash,
// not after it expired, and retention deletes expired rows.
func TestStoredResponses(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		s := mustOpen(t, engineCfg(t, engine))
		ctx := context.Background()
		now := time.Now()
		live := StoredResponse{ID: "resp_live", TokenHash: "aa", Created: now, Expires: now.Add(time.Hour), Model: "m",
			History: []byte(`[]`), Input: []byte(`[{"id":"msg_1"}]`), Response: []byte(`{"id":"resp_live","output":[]}`)}
		old := live
		old.ID, old.Expires = "resp_old", now.Add(-time.Minute)
		for _, r := range []StoredResponse{live, old} {
			if err := s.SaveResponse(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.LoadResponse(ctx, "resp_live", "aa")
		if err != nil || string(got.Input) != `[{"id":"msg_1"}]` || string(got.Response) != string(live.Response) || got.Model != "m" {
			t.Fatalf("load: %v %+v", err, got)
		}
		if _, err := s.LoadResponse(ctx, "resp_live", "bb"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another token: %v", err)
		}
		if _, err := s.LoadResponse(ctx, "resp_old", "aa"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expired: %v", err)
		}
		if _, err := s.pruneOnce(); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, s, "stored_responses"); n != 1 {
			t.Fatalf("after retention %d rows, want 1", n)
		}
		if err := s.DeleteResponse(ctx, "resp_live", "bb"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("delete by another token: %v", err)
		}
		if err := s.DeleteResponse(ctx, "resp_live", "aa"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LoadResponse(ctx, "resp_live", "aa"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
	})
}

// TestKeptResponsesReadYourWrites: KeepResponse returns before the row is
// written (the writer holds it until its batch flushes), yet the same
// Store finds it at once, refuses it to another token and can delete it;
// the writer then commits the kept one and not the deleted one.
func TestKeptResponsesReadYourWrites(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		cfg := engineCfg(t, engine)
		cfg.FlushInterval = time.Hour // nothing is committed before Close
		s := mustOpen(t, cfg)
		ctx := context.Background()
		now := time.Now()
		kept := StoredResponse{ID: "resp_kept", TokenHash: "aa", Created: now, Expires: now.Add(time.Hour), Model: "m",
			History: []byte(`[]`), Input: []byte(`[{"id":"msg_1"}]`), Response: []byte(`{"id":"resp_kept","output":[]}`)}
		gone := kept
		gone.ID = "resp_gone"
		for _, r := range []StoredResponse{kept, gone} {
			if err := s.KeepResponse(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if n := countRows(t, s, "stored_responses"); n != 0 {
			t.Fatalf("%d rows written on the caller's path, want 0 before the flush", n)
		}
		if got, err := s.LoadResponse(ctx, "resp_kept", "aa"); err != nil || string(got.Response) != string(kept.Response) {
			t.Fatalf("read your writes: %v %+v", err, got)
		}
		if _, err := s.LoadResponse(ctx, "resp_kept", "bb"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another token: %v", err)
		}
		if err := s.DeleteResponse(ctx, "resp_gone", "bb"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("delete by another token: %v", err)
		}
		if err := s.DeleteResponse(ctx, "resp_gone", "aa"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LoadResponse(ctx, "resp_gone", "aa"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
		if err := s.DeleteResponse(ctx, "resp_gone", "aa"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		s = mustOpen(t, cfg)
		if got, err := s.LoadResponse(ctx, "resp_kept", "aa"); err != nil || string(got.Input) != string(kept.Input) {
			t.Fatalf("after the flush: %v %+v", err, got)
		}
		if n := countRows(t, s, "stored_responses"); n != 1 {
			t.Fatalf("%d rows after the flush, want 1 (the deleted one removed)", n)
		}
	})
}
