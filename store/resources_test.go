package store

import (
	"context"
	"testing"
	"time"
)

// Ownership records round-trip on both engines: lookup, per-token paged
// lists, totals per key, delete, and expiry (hidden at once, pruned by
// retention).
func TestResourcesBothEngines(t *testing.T) {
	for _, engine := range []string{"sqlite", "mysql"} {
		t.Run(engine, func(t *testing.T) {
			s := mustOpen(t, engineCfg(t, engine))
			ctx := context.Background()
			now := time.Now()
			recs := []Resource{
				{Name: "files/a", Kind: KindFile, KeyHash: "h1", KeyFP: "fp1", Token: "alice", Size: 10, MIME: "text/plain", Meta: `{"name":"files/a"}`, Created: now, Expires: now.Add(48 * time.Hour)},
				{Name: "files/b", Kind: KindFile, KeyHash: "h2", KeyFP: "fp2", Token: "alice", Size: 20, Created: now, Expires: now.Add(48 * time.Hour)},
				{Name: "files/c", Kind: KindFile, KeyHash: "h1", KeyFP: "fp1", Token: "bob", Size: 5, Created: now},
				{Name: "cachedContents/x", Kind: KindCache, KeyHash: "h1", KeyFP: "fp1", Token: "alice", Model: "gemini-2.5-flash", Created: now, Expires: now.Add(time.Hour)},
				{Name: "batches/q", Kind: KindBatch, KeyHash: "h2", KeyFP: "fp2", Token: "alice", Created: now},
				{Name: "models/veo-3.0-generate-001/operations/v1", Kind: KindOperation, KeyHash: "h2", KeyFP: "fp2", Token: "alice", Created: now, Expires: now.Add(48 * time.Hour)},
				{Name: "models/veo-3.0-generate-001/operations/v2", Kind: KindOperation, KeyHash: "h2", KeyFP: "fp2", Token: "bob", Created: now, Expires: now.Add(48 * time.Hour)},
				{Name: "files/old", Kind: KindFile, KeyHash: "h1", KeyFP: "fp1", Token: "alice", Size: 1000, Created: now.Add(-49 * time.Hour), Expires: now.Add(-time.Hour)},
			}
			for _, r := range recs {
				if err := s.PutResource(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			got, ok, err := s.LookupResource(ctx, "files/a")
			if err != nil || !ok || got.KeyHash != "h1" || got.Token != "alice" || got.Size != 10 || got.MIME != "text/plain" || got.Meta != `{"name":"files/a"}` || got.Expires.IsZero() {
				t.Fatalf("lookup files/a = %+v %v %v", got, ok, err)
			}
			if _, ok, _ := s.LookupResource(ctx, "files/old"); ok {
				t.Fatal("an expired record is still found")
			}
			page, err := s.ListResources(ctx, "alice", KindFile, "", 1)
			if err != nil || len(page) != 1 || page[0].Name != "files/a" {
				t.Fatalf("page 1 = %+v %v", page, err)
			}
			page, _ = s.ListResources(ctx, "alice", KindFile, page[0].Name, 10)
			if len(page) != 1 || page[0].Name != "files/b" {
				t.Fatalf("page 2 = %+v", page)
			}
			totals, err := s.ResourceTotals(ctx)
			if err != nil || len(totals) != 2 {
				t.Fatalf("totals = %+v %v", totals, err)
			}
			if h1 := totals[0]; h1.KeyHash != "h1" || h1.Files != 2 || h1.Bytes != 15 || h1.Caches != 1 {
				t.Fatalf("h1 totals = %+v", h1)
			}
			if h2 := totals[1]; h2.KeyHash != "h2" || h2.Files != 1 || h2.Bytes != 20 || h2.Caches != 0 || h2.Batches != 1 || h2.Operations != 2 {
				t.Fatalf("h2 totals = %+v", h2)
			}
			if err := s.DeleteResource(ctx, "files/a"); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := s.LookupResource(ctx, "files/a"); ok {
				t.Fatal("deleted record still found")
			}
			if _, err := s.pruneOnce(); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := s.rdb.Get(&n, "SELECT COUNT(*) FROM resources WHERE name = 'files/old'"); err != nil || n != 0 {
				t.Fatalf("expired record not pruned: %d %v", n, err)
			}
		})
	}
}
