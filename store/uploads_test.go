package store

import (
	"context"
	"testing"
	"time"
)

// Uploads and their bytes are summed in the minute and hour rollups, per
// group, on both engines (migration 0010).
func TestUploadStatsSummed(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		s := mustOpen(t, engineCfg(t, engine))
		now := time.Now()
		reqs := []Request{
			{Time: now, Token: "alice", Route: "files.upload.chunk", KeyFP: "k1", Status: 200, UploadBytes: 8 << 20},
			{Time: now, Token: "alice", Route: "files.upload.chunk", KeyFP: "k1", Status: 200, Uploads: 1, UploadBytes: 1234},
			{Time: now, Token: "bob", Route: "files.upload", KeyFP: "k2", Status: 200, Uploads: 1, UploadBytes: 99},
			{Time: now, Token: "bob", Route: "generateContent", KeyFP: "k2", Status: 200},
			{Time: now.Add(-3 * time.Hour), Token: "alice", Route: "files.upload", KeyFP: "k1", Status: 200, Uploads: 1, UploadBytes: 5000},
		}
		for _, r := range reqs {
			s.Record(r)
		}
		waitWritten(t, s, uint64(len(reqs)))
		for _, tc := range []struct {
			period        time.Duration
			uploads       int64
			bytes         int64
			alice, aliceB int64
		}{
			{time.Hour, 2, 8<<20 + 1234 + 99, 1, 8<<20 + 1234},
			{24 * time.Hour, 3, 8<<20 + 1234 + 99 + 5000, 2, 8<<20 + 1234 + 5000}, // whole hours from rollup_1h
		} {
			sum, err := s.Summary(context.Background(), tc.period)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Total.Uploads != tc.uploads || sum.Total.UploadBytes != tc.bytes {
				t.Errorf("Summary(%s) total: %d uploads, %d bytes; want %d, %d", tc.period, sum.Total.Uploads, sum.Total.UploadBytes, tc.uploads, tc.bytes)
			}
			for _, g := range sum.ByToken {
				if g.Name == "alice" && (g.Uploads != tc.alice || g.UploadBytes != tc.aliceB) {
					t.Errorf("Summary(%s) alice: %d uploads, %d bytes; want %d, %d", tc.period, g.Uploads, g.UploadBytes, tc.alice, tc.aliceB)
				}
			}
		}
	})
}
