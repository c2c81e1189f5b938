package engine_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/internal/mockgemini"
	"github.com/balanceproxy/balance/internal/secret"
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
func (h *harness) statusDoc(query string) engine.StatusView {
	h.t.Helper()
	code, _, body := h.get("/status"+query, statusAuth)
	if code != 200 {
		h.t.Fatalf("status%s: %d %s", query, code, body)
	}
	var v engine.StatusView
	if err := json.Unmarshal(body, &v); err != nil {
		h.t.Fatalf("status JSON: %v\n%s", err, body)
	}
	return v
}

// statusDocTB returns the store part of status; usable from benchmarks.
func (h *harness) statusDocTB() engine.StoreView {
	h.t.Helper()
	code, _, body := h.get("/status?period=1m&limit=1", statusAuth)
	var v engine.StatusView
	if code != 200 || json.Unmarshal(body, &v) != nil || v.Store == nil {
		h.t.Fatalf("status: %d %.200s", code, body)
	}
	return *v.Store
}

// waitWritten waits until the store reports n written rows.
func (h *harness) waitWritten(n uint64) engine.StatusView {
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

func TestStatusRequiresToken(t *testing.T) {
	h := newStatusHarness(t, statusBlocks)
	if status, _, _ := h.do("POST", generatePath, genBody, nil); status != 200 {
		t.Fatal(status)
	}
	forged := "balance_status=" + strings.Repeat("0", 64)
	paths := []string{"/status", "/status/", "/status/ui", "/status/api/series", "/status/api/errors", "/status/nope", "/status?period=1h"}
	for _, tc := range []struct {
		name    string
		headers map[string]string
	}{
		{"none", nil},
		{"wrong bearer", map[string]string{"Authorization": "Bearer wrong-status-token"}},
		{"token without Bearer", map[string]string{"Authorization": statusToken}},
		{"other scheme", map[string]string{"Authorization": "Basic " + statusToken}},
		{"bearer prefix only", map[string]string{"Authorization": "Bearer " + statusToken[:8]}},
		{"bearer with suffix", map[string]string{"Authorization": "Bearer " + statusToken + "x"}},
		{"raw token as cookie", map[string]string{"Cookie": "balance_status=" + statusToken}},
		{"forged cookie", map[string]string{"Cookie": forged}},
		{"client token", map[string]string{"Authorization": "Bearer " + testToken}},
		{"metrics token", map[string]string{"Authorization": "Bearer " + metricsToken}},
	} {
		for _, p := range paths {
			t.Run(tc.name+" "+p, func(t *testing.T) {
				code, hdr, body := h.get(p, tc.headers)
				if code != 401 {
					t.Fatalf("status %d: %.200s", code, body)
				}
				if hdr.Get("Set-Cookie") != "" {
					t.Fatal("a cookie was set without the token")
				}
				if s := secretsIn(body); len(s) > 0 {
					t.Fatalf("401 leaks %v", s)
				}
				for _, leak := range []string{secret.KeyFingerprint(keyA), secret.KeyFingerprint(keyB), "tester", "pools", "gemini-2.5-flash"} {
					if strings.Contains(string(body), leak) {
						t.Fatalf("401 body leaks %q: %s", leak, body)
					}
				}
			})
		}
	}
	t.Run("wrong token on the page", func(t *testing.T) {
		code, hdr, body := h.get("/status/ui?token=wrong-status-token", nil)
		if code != 401 || hdr.Get("Set-Cookie") != "" || strings.Contains(string(body), "wrong-status-token") {
			t.Fatalf("status %d cookie %q body %s", code, hdr.Get("Set-Cookie"), body)
		}
	})
	t.Run("read-only", func(t *testing.T) {
		status, _, _ := h.do("POST", "/status", "{}", statusAuth)
		if status != 405 {
			t.Fatalf("POST status: %d", status)
		}
	})
	t.Run("unknown sub-path with the token", func(t *testing.T) {
		if code, _, _ := h.get("/status/nope", statusAuth); code != 404 {
			t.Fatalf("status %d", code)
		}
	})
}

func TestStatusPageLogin(t *testing.T) {
	h := newStatusHarness(t, statusBlocks)
	for _, tc := range []struct {
		name       string
		headers    map[string]string
		wantSecure bool
	}{
		{"plain", nil, false},
		{"behind TLS proxy", map[string]string{"X-Forwarded-Proto": "https"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, hdr, _ := h.get("/status/ui?token="+url.QueryEscape(statusToken), tc.headers)
			if code != 303 || hdr.Get("Location") != "/status/ui" {
				t.Fatalf("status %d location %q, want 303 to /status/ui", code, hdr.Get("Location"))
			}
			cookies := (&http.Response{Header: hdr}).Cookies()
			if len(cookies) != 1 {
				t.Fatalf("cookies %v", hdr["Set-Cookie"])
			}
			c := cookies[0]
			if c.Name != "balance_status" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/status" || c.Secure != tc.wantSecure {
				t.Fatalf("cookie attributes %q", hdr.Get("Set-Cookie"))
			}
			if strings.Contains(c.Value, statusToken) || len(c.Value) < 32 {
				t.Fatalf("cookie value %q is (or contains) the token or is weak", c.Value)
			}
			cookie := map[string]string{"Cookie": c.Name + "=" + c.Value}
			code, hdr, body := h.get("/status/ui", cookie)
			if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "<title>balance status</title>") {
				t.Fatalf("page: %d %s", code, hdr.Get("Content-Type"))
			}
			csp := hdr.Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
				t.Fatalf("CSP %q", csp)
			}
			if code, _, body := h.get("/status", cookie); code != 200 || !strings.Contains(string(body), `"pools"`) {
				t.Fatalf("status with cookie: %d %s", code, body)
			}
			if code, _, _ := h.get("/status/api/errors", cookie); code != 200 {
				t.Fatalf("api with cookie: %d", code)
			}
		})
	}
	t.Run("page rejects other parameters", func(t *testing.T) {
		if code, _, _ := h.get("/status/ui?x=1", statusAuth); code != 400 {
			t.Fatalf("status %d", code)
		}
	})
}

func TestStatusBadQuery(t *testing.T) {
	h := newStatusHarness(t, statusBlocks)
	for _, tc := range []struct {
		path, want string
	}{
		{"/status?period=2w", "period"},
		{"/status?period=0m", "period"},
		{"/status?period=401d", "between 1m and 400d"},
		{"/status?period=-1h", "period"},
		{"/status?period=1h&period=24h", "more than once"},
		{"/status?peroid=1h", `unknown query parameter "peroid"`},
		{"/status?limit=0", "limit 0 out of range"},
		{"/status?limit=501", "limit 501 out of range"},
		{"/status?limit=ten", "whole number"},
		{"/status?status=99", "status"},
		{"/status?status=abc", "status"},
		{"/status?before=nonsense", "not a cursor"},
		{"/status?class=Rate-Limited", "error class"},
		{"/status?model=" + strings.Repeat("m", 300), "longer than"},
		{"/status?token=a%00b", "control character"},
		{"/status/api/errors?limit=1000", "out of range"},
		{"/status/api/errors?before=1.x", "not a cursor"},
		{"/status/api/errors?period=1h", "unknown query parameter"},
		{"/status/api/series?period=1y", "period"},
		{"/status/api/series?step=30s", "step"},
		{"/status/api/series?period=1h&step=2h", "step"},
		{"/status/api/series?period=30d&step=1m", "at most 1440"},
		{"/status/api/series?pool=%ff", "invalid UTF-8"},
		{"/status/api/series?limit=5", "unknown query parameter"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			code, _, body := h.get(tc.path, statusAuth)
			if code != 400 {
				t.Fatalf("status %d, want 400: %s", code, body)
			}
			var e struct {
				Error struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != 400 || !strings.Contains(e.Error.Message, tc.want) {
				t.Fatalf("message %q does not say %q (%v)", e.Error.Message, tc.want, err)
			}
			if len(body) > 600 {
				t.Fatalf("error message echoes too much (%d bytes)", len(body))
			}
		})
	}
}

// Persisted stats, the error log with filters and paging, and series.
func TestStatusStatsAndErrors(t *testing.T) {
	h := newStatusHarness(t, statusBlocks)
	for _, k := range []string{keyA, keyB} {
		h.mock.SetFault(k, mockgemini.Fault{Kind: mockgemini.BadRequest, Model: "gemini-2.5-pro"})
	}
	const ok, bad = 5, 3
	for range ok {
		if status, _, body := h.do("POST", generatePath, genBody, nil); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	for range bad {
		if status, _, _ := h.do("POST", proPath, genBody, nil); status != 400 {
			t.Fatalf("pro: %d", status)
		}
	}
	v := h.waitWritten(ok + bad)
	st := v.Stats["1h"]
	if st == nil || len(v.Stats) != 1 {
		t.Fatalf("stats %v", v.Stats)
	}
	if st.Total.Requests != ok+bad || st.Total.Failures != bad || st.Total.FailuresByClass["client_error"] != bad {
		t.Fatalf("total %+v", st.Total)
	}
	if st.Total.PromptTokens == 0 || st.Total.P95MS <= 0 {
		t.Fatalf("tokens or latency missing: %+v", st.Total)
	}
	fps := map[string]bool{secret.KeyFingerprint(keyA): true, secret.KeyFingerprint(keyB): true}
	var keyReqs int64
	for _, r := range st.ByKey {
		if !fps[r.Name] {
			t.Fatalf("by_key name %q is not a key fingerprint", r.Name)
		}
		keyReqs += r.Requests
	}
	if keyReqs != ok+bad {
		t.Fatalf("by_key sums to %d", keyReqs)
	}
	if len(st.ByToken) != 1 || st.ByToken[0].Name != "tester" || len(st.ByPool) != 1 || st.ByPool[0].Name != "main" {
		t.Fatalf("by token %+v by pool %+v", st.ByToken, st.ByPool)
	}
	models := map[string]int64{}
	for _, r := range st.ByModel {
		models[r.Name] = r.Failures
	}
	if models["gemini-2.5-pro"] != bad || models["gemini-2.5-flash"] != 0 {
		t.Fatalf("by model %+v", st.ByModel)
	}

	// Default periods, errors embedded.
	all := h.statusDoc("")
	for _, p := range []string{"1m", "1h", "24h", "30d"} {
		if all.Stats[p] == nil || all.Stats[p].Total.Requests != ok+bad {
			t.Fatalf("period %s: %+v", p, all.Stats[p])
		}
	}
	if len(all.Errors) != bad || all.Errors[0].Class != "client_error" || all.Errors[0].Status != 400 || !fps[all.Errors[0].Key] || all.StatsError != "" {
		t.Fatalf("errors %+v (stats error %q)", all.Errors, all.StatsError)
	}
	if all.Store == nil || !all.Store.Enabled || !all.Store.OK || all.Store.Driver != "sqlite" || all.Store.Dropped != 0 {
		t.Fatalf("store %+v", all.Store)
	}

	// Paging through the error log one at a time visits each error once.
	seen := map[string]bool{}
	cursor := ""
	for range bad + 1 {
		q := "?limit=1"
		if cursor != "" {
			q += "&before=" + url.QueryEscape(cursor)
		}
		code, _, body := h.get("/status/api/errors"+q, statusAuth)
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		var page engine.ErrorsView
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Errors {
			if seen[e.RequestID] {
				t.Fatalf("request %s on two pages", e.RequestID)
			}
			seen[e.RequestID] = true
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if len(seen) != bad {
		t.Fatalf("paging saw %d errors, want %d", len(seen), bad)
	}

	// Filters.
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"?class=client_error", bad},
		{"?class=rate_limited", 0},
		{"?model=gemini-2.5-pro", bad},
		{"?model=gemini-2.5-flash", 0},
		{"?token=tester&status=400", bad},
		{"?status=429", 0},
		{"?key=" + url.QueryEscape(secret.KeyFingerprint(keyA)) + "&limit=500", -1},
	} {
		code, _, body := h.get("/status/api/errors"+tc.query, statusAuth)
		var page engine.ErrorsView
		if code != 200 || json.Unmarshal(body, &page) != nil {
			t.Fatalf("%s: %d %s", tc.query, code, body)
		}
		if tc.want >= 0 && len(page.Errors) != tc.want {
			t.Fatalf("%s: %d errors, want %d", tc.query, len(page.Errors), tc.want)
		}
		for _, e := range page.Errors {
			if tc.want < 0 && e.Key != secret.KeyFingerprint(keyA) {
				t.Fatalf("key filter returned %s", e.Key)
			}
		}
	}

	// Series: per-minute points over the last hour add up to the total.
	code, _, body := h.get("/status/api/series?period=1h&step=1m", statusAuth)
	var sv engine.SeriesView
	if code != 200 || json.Unmarshal(body, &sv) != nil {
		t.Fatalf("series: %d %s", code, body)
	}
	var reqs, errs int64
	for _, p := range sv.Points {
		reqs += p.Requests
		errs += p.Errors
	}
	if len(sv.Points) < 60 || reqs != ok+bad || errs != bad || sv.Step != "1m" {
		t.Fatalf("series: %d points, %d requests, %d errors, step %s", len(sv.Points), reqs, errs, sv.Step)
	}
	code, _, body = h.get("/status/api/series?period=1h&model=gemini-2.5-pro", statusAuth)
	sv = engine.SeriesView{}
	if code != 200 || json.Unmarshal(body, &sv) != nil {
		t.Fatalf("filtered series: %d %s", code, body)
	}
	reqs = 0
	for _, p := range sv.Points {
		reqs += p.Requests
	}
	if reqs != bad {
		t.Fatalf("model filter: %d requests", reqs)
	}

	// Nothing secret anywhere.
	for _, p := range []string{"/status", "/status/api/errors?limit=500", "/status/api/series", "/status/ui"} {
		_, _, body := h.get(p, statusAuth)
		if s := secretsIn(body); len(s) > 0 {
			t.Fatalf("%s leaks %v", p, s)
		}
	}
}

func TestStatusWithoutStore(t *testing.T) {
	h := newStatusHarness(t, strings.Replace(statusBlocks, `driver = "sqlite"`, `driver = "none"`, 1))
	v := h.statusDoc("")
	if v.Stats != nil || v.Store == nil || v.Store.Enabled || v.Store.Driver != "none" {
		t.Fatalf("stats %v store %+v", v.Stats, v.Store)
	}
	for _, p := range []string{"/status/api/errors", "/status/api/series"} {
		code, _, body := h.get(p, statusAuth)
		if code != 503 || !strings.Contains(string(body), "Statistics are off") {
			t.Fatalf("%s: %d %s", p, code, body)
		}
	}
	// Bad parameters are still 400, not 503.
	if code, _, _ := h.get("/status/api/errors?limit=0", statusAuth); code != 400 {
		t.Fatalf("status %d", code)
	}
}
