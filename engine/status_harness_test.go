package engine_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/balanceproxy/balance/engine/status"
	"github.com/balanceproxy/balance/internal/mockgemini"
)

const (
	statusToken  = "status-secret-123"
	metricsToken = "metrics-secret-456"
	proPath      = "/v1beta/models/gemini-2.5-pro:generateContent"
)

// statusBlocks is the store, status and metrics config of these tests.
const statusBlocks = `
store {
  driver = "sqlite"
  path   = "stats.db"
}
status {
  path  = "/status"
  token = "` + statusToken + `"
}
metrics {
  token = "` + metricsToken + `"
}
`

// newStatusHarness is a proxy with keys A and B, a SQLite store, status
// and metrics, in front of the mock.
func newStatusHarness(t *testing.T, blocks string) *harness {
	t.Helper()
	mock := mockgemini.Start(t, mockgemini.Options{})
	srv, u := startProxy(t, mock, t.TempDir(), storeConfig([]string{keyA, keyB}, blocks))
	return &harness{t: t, mock: mock, srv: srv, url: u, keys: []string{keyA, keyB}, token: testToken}
}

// get sends a GET with the given headers, without following redirects.
func (h *harness) get(path string, headers map[string]string) (int, http.Header, []byte) {
	h.t.Helper()
	req, err := http.NewRequest("GET", h.url+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

var statusAuth = map[string]string{"Authorization": "Bearer " + statusToken}

// statusDoc fetches and decodes the status document.
func (h *harness) statusDoc(query string) status.View {
	h.t.Helper()
	code, _, body := h.get("/status"+query, statusAuth)
	if code != 200 {
		h.t.Fatalf("status%s: %d %s", query, code, body)
	}
	var v status.View
	if err := json.Unmarshal(body, &v); err != nil {
		h.t.Fatalf("status JSON: %v\n%s", err, body)
	}
	return v
}

// statusDocTB returns the store part of status; usable from benchmarks.
func (h *harness) statusDocTB() status.StoreView {
	h.t.Helper()
	code, _, body := h.get("/status?period=1m&limit=1", statusAuth)
	var v status.View
	if code != 200 || json.Unmarshal(body, &v) != nil || v.Store == nil {
		h.t.Fatalf("status: %d %.200s", code, body)
	}
	return *v.Store
}

// waitWritten waits until the store reports n written rows.
func (h *harness) waitWritten(n uint64) status.View {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := h.statusDoc("?period=1h")
		if v.Store != nil && v.Store.Written >= n {
			return v
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("store wrote %+v, want %d rows", v.Store, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// secretsIn reports which secrets of the test config appear in b.
func secretsIn(b []byte) []string {
	var found []string
	for _, s := range []string{keyA, keyB, testToken, statusToken, metricsToken} {
		if strings.Contains(string(b), s) {
			found = append(found, s)
		}
	}
	return found
}
