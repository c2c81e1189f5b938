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
