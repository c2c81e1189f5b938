package engine_test

import (
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/balanceproxy/balance/internal/mockgemini"
)

// scrapeProxy GETs /metrics and parses it as Prometheus would.
func (h *harness) scrapeProxy(path, token string) map[string]*dto.MetricFamily {
	h.t.Helper()
	code, hdr, body := h.get(path, map[string]string{"Authorization": "Bearer " + token})
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain; version=0.0.4") {
		h.t.Fatalf("metrics: %d %s", code, hdr.Get("Content-Type"))
	}
	if s := secretsIn(body); len(s) > 0 {
		h.t.Fatalf("metrics leak %v", s)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		h.t.Fatalf("not the text format: %v", err)
	}
	return mfs
}

// sample returns the value of the family's series whose labels include want.
func sample(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	mf := mfs[name]
	if mf == nil {
		return -1
	}
next:
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if v, ok := want[lp.GetName()]; ok && v != lp.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func TestMetricsEndpoint(t *testing.T) {
	h := newStatusHarness(t, statusBlocks)
	// keyA is invalid: the first request retries on B and A is
	// quarantined. Pro requests on B fail as the client's fault.
	h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.InvalidKey})
	h.mock.SetFault(keyB, mockgemini.Fault{Kind: mockgemini.BadRequest, Model: "gemini-2.5-pro"})
	for range 4 {
		if status, _, body := h.do("POST", generatePath, genBody, nil); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	if status, _, _ := h.do("POST", proPath, genBody, nil); status != 400 {
		t.Fatalf("pro: %d", status)
	}
	h.waitWritten(5)

	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"no token", "", 401},
		{"status token", "Bearer " + statusToken, 401},
		{"wrong", "Bearer nope-nope-nope", 401},
		{"raw token", metricsToken, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := h.get("/metrics", map[string]string{"Authorization": tc.auth})
			if code != tc.want || strings.Contains(string(body), "balance_requests_total") || len(secretsIn(body)) > 0 {
				t.Fatalf("status %d body %.200s", code, body)
			}
		})
	}

	mfs := h.scrapeProxy("/metrics", metricsToken)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"balance_requests_total", map[string]string{"pool": "main", "token": "tester", "protocol": "gemini"}, 5},
		{"balance_request_errors_total", map[string]string{"pool": "main", "class": "client_error"}, 1},
		{"balance_upstream_attempts_total", map[string]string{"pool": "main"}, 5 + 1}, // one retry after the quarantine
		{"balance_request_duration_seconds", map[string]string{"pool": "main", "protocol": "gemini"}, 5},
		{"balance_keys", map[string]string{"pool": "main", "state": "quarantined"}, 1},
		{"balance_keys", map[string]string{"pool": "main", "state": "healthy"}, 1},
		{"balance_keys", map[string]string{"pool": "main", "state": "cooling"}, 0},
		{"balance_in_flight_requests", nil, 0},
		{"balance_store_up", nil, 1},
		{"balance_store_written_rows_total", nil, 5},
		{"balance_store_dropped_rows_total", map[string]string{"kind": "request"}, 0},
		{"balance_store_queue_depth", nil, 0},
		{"balance_config_reloads_total", map[string]string{"result": "applied"}, 0},
		{"balance_config_generation", nil, 1},
	} {
		if got := sample(mfs, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if sample(mfs, "balance_tokens_total", map[string]string{"kind": "prompt"}) <= 0 {
		t.Error("no prompt tokens counted")
	}

	t.Run("read-only", func(t *testing.T) {
		status, _, _ := h.do("POST", "/metrics", "", map[string]string{"Authorization": "Bearer " + metricsToken})
		if status != 405 {
			t.Fatalf("POST: %d", status)
		}
	})
}

func TestMetricsConfig(t *testing.T) {
	t.Run("open without a token, custom path", func(t *testing.T) {
		h := newStatusHarness(t, `
metrics {
  path = "/internal/prom"
}`)
		if status, _, _ := h.do("POST", generatePath, genBody, nil); status != 200 {
			t.Fatal(status)
		}
		mfs := h.scrapeProxy("/internal/prom", "")
		if got := sample(mfs, "balance_requests_total", map[string]string{"pool": "main"}); got != 1 {
			t.Fatalf("requests %v", got)
		}
		if code, _, _ := h.get("/metrics", nil); code != 404 {
			t.Fatalf("default path still served: %d", code)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		h := newStatusHarness(t, `
metrics {
  enabled = false
}`)
		if code, _, body := h.get("/metrics", nil); code != 404 || strings.Contains(string(body), "balance_") {
			t.Fatalf("disabled metrics answered %d", code)
		}
	})
}
