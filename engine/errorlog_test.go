package engine_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/balanceproxy/balance/engine/status"
	"github.com/balanceproxy/balance/internal/mockgemini"
)

// errorLog fetches the status errors endpoint.
func errorLog(t *testing.T, h *harness) []status.ErrorView {
	t.Helper()
	code, _, body := h.get("/status/api/errors?limit=50", statusAuth)
	if code != 200 {
		t.Fatalf("errors endpoint: %d %s", code, body)
	}
	if s := secretsIn(body); len(s) > 0 {
		t.Fatalf("secrets in the error log: %v", s)
	}
	var v status.ErrorsView
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("errors JSON: %v\n%s", err, body)
	}
	return v.Errors
}

// The error log keeps every failed upstream attempt, under the key that
// met it, and not only the failure the client saw; per-request counts
// stay one request per client request.
func TestErrorLogKeepsEveryFailedAttempt(t *testing.T) {
	tests := []struct {
		name       string
		faultB     mockgemini.Fault
		wantStatus int
		// wantRows: "key:status:class:attempt", sorted.
		wantRows []string
	}{
		{"429 on A, served by B", mockgemini.Fault{}, 200, []string{"A:429:rate_limited:1"}},
		{"429 on A, 503 on B", mockgemini.Fault{Kind: mockgemini.Unavailable}, 503,
			[]string{"A:429:rate_limited:1", "B:503:server_error:0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newStatusHarness(t, statusBlocks)
			fp := map[string]string{h.srv.Registry().Get(keyA).FP: "A", h.srv.Registry().Get(keyB).FP: "B"}
			h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.RateLimit, RetryDelay: time.Minute})
			if tc.faultB.Kind != mockgemini.FaultNone {
				h.mock.SetFault(keyB, tc.faultB)
			}
			// The pick order is the pool's: ask until a request met key A.
			// A cools down after it, so exactly one request meets it.
			n := 0
			for h.mock.Requests(keyA) == 0 {
				if n == 4 {
					t.Fatal("no request reached key A")
				}
				status, _, body := h.do("POST", generatePath, genBody, nil)
				n++
				if h.mock.Requests(keyA) == 0 {
					if status != 200 && tc.wantStatus == 200 {
						t.Fatalf("status %d: %s", status, body)
					}
					continue
				}
				if status != tc.wantStatus {
					t.Fatalf("status %d, want %d: %s", status, tc.wantStatus, body)
				}
			}
			v := h.waitWritten(uint64(n))
			var got []string
			var retried string
			for _, e := range errorLog(t, h) {
				if e.Attempt > 0 {
					retried = e.RequestID
					if !strings.Contains(e.Body, "RESOURCE_EXHAUSTED") {
						t.Errorf("attempt row without the upstream error: %q", e.Body)
					}
				} else if e.RequestID != retried && retried != "" {
					t.Errorf("request row %s and attempt row %s are not the same request", e.RequestID, retried)
				}
				got = append(got, strings.Join([]string{fp[e.Key], strconv.Itoa(e.Status), e.Class, strconv.Itoa(e.Attempt)}, ":"))
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.wantRows) {
				t.Fatalf("error log %v, want %v", got, tc.wantRows)
			}
			hour := v.Stats["1h"]
			if hour == nil || hour.Total.Requests != int64(n) {
				t.Fatalf("stats %+v, want %d requests in the last hour", v.Stats, n)
			}
			wantFailures := int64(0)
			if tc.wantStatus != 200 {
				wantFailures = 1
			}
			if hour.Total.Failures != wantFailures {
				t.Fatalf("%d failures counted, want %d: attempts are not requests", hour.Total.Failures, wantFailures)
			}
		})
	}
}
