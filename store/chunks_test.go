package store

import (
	"context"
	"reflect"
	"sort"
	"strconv"
	"testing"
	"time"
)

func chunkSample() []Request {
	base := time.UnixMilli(1_760_000_000_000)
	return []Request{
		{Time: base, RequestID: "a", Token: "t", Route: "/r", Protocol: "gemini", ModelAsked: "m", ModelSent: "m2",
			Pool: "p", KeyFP: "k1", Status: 200, Attempts: 1, Latency: 1500 * time.Millisecond, TTFB: 20 * time.Millisecond,
			PromptTokens: 10, CompletionTokens: 20, ThoughtTokens: 3, CachedTokens: 4, Streamed: true},
		{Time: base.Add(-5 * time.Millisecond), RequestID: "b", Token: "t", Route: "/r", Protocol: "gemini", ModelAsked: "m",
			Pool: "p", KeyFP: "k2", Status: 429, ErrorClass: "rate_limit", Attempts: 3},
		{Time: base.Add(40 * time.Second), RequestID: "", Token: "ünï", Route: "/r", Protocol: "openai", Status: 200},
		{Time: base.Add(40 * time.Second)}, // every string empty after non-empty ones
		// Back to earlier values, and values that need escapes, repeated:
		// the encoder caches each column's last encoding.
		{Time: base, RequestID: "c", Token: "t", Route: "/r\"q\u0001\\", Protocol: "gemini", KeyFP: "k1"},
		{Time: base, RequestID: "d\n", Token: "t", Route: "/r\"q\u0001\\", Protocol: "gemini", KeyFP: "k1"},
		{Time: base, RequestID: "e", Token: "t", Route: "/r", Protocol: "gemini", KeyFP: "k2"},
	}
}

// TestChunkRoundTrip checks that a chunk decodes to exactly the rows that
// went in, including repeated and emptied strings and times before the
// first row's.
func TestChunkRoundTrip(t *testing.T) {
	reqs := chunkSample()
	var e chunkEncoder
	e.reset()
	for i := range reqs {
		if !e.fits(reqs[i].Time.UnixMilli()) {
			t.Fatalf("row %d does not fit", i)
		}
		e.add(&reqs[i])
	}
	if e.n != len(reqs) || e.first != reqs[1].Time.UnixMilli() || e.last != reqs[2].Time.UnixMilli() {
		t.Fatalf("encoder n=%d first=%d last=%d", e.n, e.first, e.last)
	}
	got, err := decodeChunk(7, "inst-1", e.body())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(reqs) {
		t.Fatalf("decoded %d rows, want %d", len(got), len(reqs))
	}
	for i, rec := range got {
		want := reqs[i]
		want.Time = time.UnixMilli(want.Time.UnixMilli())
		rec.Time = time.UnixMilli(rec.Time.UnixMilli())
		if !reflect.DeepEqual(rec.Request, want) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, rec.Request, want)
		}
		if rec.Instance != "inst-1" || rec.ID != chunkIDBase|7<<16|int64(i) || rec.Cursor != FormatCursor(want.Time.UnixMilli(), rec.ID) {
			t.Errorf("row %d: instance %q id %d cursor %q", i, rec.Instance, rec.ID, rec.Cursor)
		}
	}
	if e.fits(reqs[0].Time.Add(2 * chunkSpan).UnixMilli()) {
		t.Error("a row beyond chunkSpan fits the chunk")
	}
}

func TestDecodeChunkRejects(t *testing.T) {
	var e chunkEncoder
	e.reset()
	r := chunkSample()[0]
	e.add(&r)
	good := append([]byte(nil), e.body()...)
	for name, body := range map[string][]byte{
		"empty":      nil,
		"not array":  []byte(`{}`),
		"truncated":  good[:len(good)-1],
		"short row":  []byte(`[[1,"a"]]`),
		"wrong type": []byte(`[[1,2,"","","","","","","","",200,1,0,0,0,0,0,0,0]]`),
		"bad number": []byte(`[["x","","","","","","","","","",200,1,0,0,0,0,0,0,0]]`),
	} {
		if recs, err := decodeChunk(1, "i", body); err == nil {
			t.Errorf("%s: decoded %d rows, want an error", name, len(recs))
		}
	}
}

func FuzzDecodeChunk(f *testing.F) {
	var e chunkEncoder
	e.reset()
	for _, r := range chunkSample() {
		e.add(&r)
	}
	f.Add(e.body())
	f.Add([]byte("[[]]"))
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, err := decodeChunk(1, "i", body)
		if err == nil && len(recs) > maxChunkRecords {
			t.Fatalf("%d rows", len(recs))
		}
	})
}

// TestRecentRequestsAcrossChunks pages through rows spread over many small
// chunks, with equal times across chunk boundaries and a filter, and
// checks the exact newest-first order on both engines.
func TestRecentRequestsAcrossChunks(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		cfg := engineCfg(t, engine)
		cfg.BatchSize = 7
		cfg.FlushInterval = time.Millisecond
		s := mustOpen(t, cfg)
		base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		const n = 120
		for i := 0; i < n; i++ {
			// Times go back and forth so chunks overlap in time.
			off := time.Duration((i*37)%50) * time.Millisecond
			s.Record(Request{Time: base.Add(off), RequestID: strconv.Itoa(i), KeyFP: "k" + strconv.Itoa(i%3), Status: 200})
		}
		waitWritten(t, s, n)
		ctx := context.Background()
		all, err := s.RecentRequests(ctx, ListQuery{Limit: maxLimit})
		if err != nil || len(all) != n {
			t.Fatalf("all rows: %d, %v", len(all), err)
		}
		if !sort.SliceIsSorted(all, func(i, j int) bool { return newerFirst(&all[i], &all[j]) }) {
			t.Fatal("rows not newest first")
		}
		var want []string
		for _, r := range all {
			if r.KeyFP == "k1" {
				want = append(want, r.RequestID)
			}
		}
		var got []string
		for cursor := ""; ; {
			recs, err := s.RecentRequests(ctx, ListQuery{KeyFP: "k1", Limit: 6, Before: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				got = append(got, r.RequestID)
			}
			if len(recs) < 6 {
				break
			}
			cursor = recs[len(recs)-1].Cursor
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("paged k1 rows\n got %v\nwant %v", got, want)
		}
		since, err := s.RecentRequests(ctx, ListQuery{Since: base.Add(25 * time.Millisecond), Limit: maxLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range since {
			if r.Time.Before(base.Add(25 * time.Millisecond)) {
				t.Fatalf("row at %v before Since", r.Time)
			}
		}
		if len(since) == 0 || len(since) == n {
			t.Errorf("Since kept %d of %d rows", len(since), n)
		}
	})
}
