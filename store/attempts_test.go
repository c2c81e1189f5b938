package store

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A request's failed attempts are error-log rows of their own, under the
// key that met each, numbered; the request stays one request in the raw
// rows and the rollups, and a failure only when its last attempt failed.
func TestFailedAttemptsAreErrorRows(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		cfg := engineCfg(t, engine)
		cfg.MaxBodyBytes = 64
		s := mustOpen(t, cfg)
		now := time.Now()
		quota := `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}` + strings.Repeat("x", 100)
		s.Record(Request{Time: now, RequestID: "served", KeyFP: "kB", ModelSent: "m", Token: "t", Status: 200, Attempts: 2,
			FailedAttempts: []Attempt{{Time: now.Add(-time.Second), KeyFP: "kA", Status: 429, ErrorClass: "rate_limited", Latency: 30 * time.Millisecond, ErrorBody: quota}}})
		s.Record(Request{Time: now, RequestID: "failed", KeyFP: "kC", ModelSent: "m", Token: "t", Status: 503, ErrorClass: "server_error", Attempts: 2,
			FailedAttempts: []Attempt{{Time: now.Add(-time.Second), KeyFP: "kA", ErrorClass: "connection", ErrorBody: "dial tcp: refused"}}})
		waitWritten(t, s, 2)
		ctx := context.Background()

		recs, err := s.RecentErrors(ctx, ErrorQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.RequestID+"/"+r.KeyFP+"/"+r.ErrorClass+"/"+strconv.Itoa(r.Status)+"/"+strconv.Itoa(r.Attempt))
			if len(r.ErrorBody) > 64 {
				t.Errorf("attempt body not clipped: %d bytes", len(r.ErrorBody))
			}
		}
		want := "failed/kC/server_error/503/0 failed/kA/connection/0/1 served/kA/rate_limited/429/1"
		if strings.Join(got, " ") != want {
			t.Fatalf("error rows\n got %s\nwant %s", strings.Join(got, " "), want)
		}
		if recs, err := s.RecentErrors(ctx, ErrorQuery{KeyFP: "kA"}); err != nil || len(recs) != 2 {
			t.Fatalf("key filter: %d rows, %v; want kA's 2 attempts", len(recs), err)
		}
		reqs, err := s.RecentRequests(ctx, ListQuery{})
		if err != nil || len(reqs) != 2 {
			t.Fatalf("raw requests: %d, %v; want 2", len(reqs), err)
		}
		sum, err := s.Summary(ctx, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Total.Requests != 2 || sum.Total.Failures != 1 {
			t.Fatalf("summary %d requests, %d failures; want 2 and 1", sum.Total.Requests, sum.Total.Failures)
		}
		for _, g := range sum.ByKey {
			if g.Name == "kA" {
				t.Fatalf("an attempt counted as a request of its key: %+v", g)
			}
		}
	})
}
