package store

import (
	"context"
	"testing"
	"time"
)

// TestEphemeralTokens: a binding is found by its hash until it expires,
// and retention deletes expired ones.
func TestEphemeralTokens(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		s := mustOpen(t, engineCfg(t, engine))
		ctx := context.Background()
		now := time.Now()
		live := EphemeralToken{Hash: "aa", Token: "tester", Pool: "main", KeyHash: "kk", Created: now, Expires: now.Add(time.Hour)}
		old := live
		old.Hash, old.Expires = "bb", now.Add(-time.Minute)
		for _, e := range []EphemeralToken{live, old} {
			if err := s.PutEphemeralToken(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		got, ok, err := s.LookupEphemeralToken(ctx, "aa")
		if err != nil || !ok || got.Token != "tester" || got.Pool != "main" || got.KeyHash != "kk" || got.Expires.UnixMilli() != live.Expires.UnixMilli() {
			t.Fatalf("lookup: %v %v %+v", ok, err, got)
		}
		for _, hash := range []string{"bb", "cc"} {
			if _, ok, err := s.LookupEphemeralToken(ctx, hash); ok || err != nil {
				t.Fatalf("%s: found %v, %v", hash, ok, err)
			}
		}
		if _, err := s.pruneOnce(); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, s, "ephemeral_tokens"); n != 1 {
			t.Fatalf("after retention %d rows, want 1", n)
		}
	})
}
