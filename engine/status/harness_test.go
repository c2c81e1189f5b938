package status_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/engine/status"
	"github.com/balanceproxy/balance/hcl"
	"github.com/balanceproxy/balance/internal/secret"
	"github.com/balanceproxy/balance/store"
)

const (
	keyA        = "AIzaSyFaultKeyAAAAAAAAAAAAAAAAAAAAAAAA1"
	keyB        = "AIzaSyFaultKeyBBBBBBBBBBBBBBBBBBBBBBBB2"
	statusToken = "status-secret-123"
)

var (
	fpA        = secret.KeyFingerprint(keyA)
	fpB        = secret.KeyFingerprint(keyB)
	statusAuth = map[string]string{"Authorization": "Bearer " + statusToken}
)

// fakeSource is a proxy as the status package sees it: a fixed snapshot
// and, unless nil, a real stats database.
type fakeSource struct {
	snap  status.Snapshot
	stats status.Stats
}

func (f *fakeSource) Snapshot(time.Time) status.Snapshot { return f.snap }
func (f *fakeSource) Stats() status.Stats                { return f.stats }

// snapshot is one pool "main" with keys A (cooling for
// gemini-2.5-flash until coolUntil) and B (healthy), and token "tester".
func snapshot(coolUntil time.Time) status.Snapshot {
	now := time.Now()
	return status.Snapshot{
		Generation: 1, ConfigHash: "0123456789abcdef", ConfigPath: "balance.hcl", Started: now.Add(-time.Hour), StoreConfigured: true,
		Reloads: []status.Reload{{Time: now.Add(-time.Hour), Generation: 1, Hash: "0123456789abcdef", Summary: "pools=1 keys=2"}},
		Pools: []status.Pool{{Name: "main", Upstream: "mock", Strategy: "round_robin", Keys: []status.Key{
			{Status: keypool.Status{Fingerprint: fpA, State: keypool.Cooling, CoolingUntil: map[string]time.Time{"gemini-2.5-flash": coolUntil},
				LastError: "429 rate limited", LastErrorAt: now, Requests: 4, Failures: 1}, Weight: 1},
			{Status: keypool.Status{Fingerprint: fpB, State: keypool.Healthy, Requests: 6}, Weight: 1, LiveSessions: 3},
		}}},
		Tokens: []status.Token{{Name: "tester", Pools: []string{"main"}}},
	}
}

// harness serves the status path of a fake proxy on a loopback port, the
// way the proxy's router does, with a SQLite stats database unless noStore.
type harness struct {
	t     testing.TB
	url   string
	src   *fakeSource
	store *store.Store
}

func newHarness(t testing.TB, noStore bool) *harness {
	t.Helper()
	h := &harness{t: t, src: &fakeSource{snap: snapshot(time.Now().Add(90 * time.Second))}}
	if !noStore {
		st, err := store.Open(context.Background(), store.Config{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "stats.db"), FlushInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close(context.Background()) })
		h.store, h.src.stats = st, st
	} else {
		h.src.snap.StoreConfigured = false
	}
	conf := hcl.Status{Path: "/status", Token: statusToken}
	srv := &fasthttp.Server{CloseOnShutdown: true, Handler: func(ctx *fasthttp.RequestCtx) {
		p := string(ctx.Path())
		if p == conf.Path || strings.HasPrefix(p, conf.Path+"/") {
			status.Serve(ctx, h.src, conf)
			return
		}
		ctx.SetStatusCode(fasthttp.StatusNotFound)
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	h.url = "http://" + ln.Addr().String()
	return h
}

// record stores requests as the proxy would after serving them, and
// waits until the database holds them all.
func (h *harness) record(recs ...store.Request) {
	h.t.Helper()
	want := h.store.Health().Written + uint64(len(recs))
	for _, r := range recs {
		h.store.Record(r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.store.Health().Written < want {
		if time.Now().After(deadline) {
			h.t.Fatalf("store wrote %+v, want %d rows", h.store.Health(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// served is a request for model on key that the proxy answered with status.
func served(id, model, key string, status int) store.Request {
	r := store.Request{Time: time.Now(), RequestID: id, Token: "tester", Route: "generateContent", Protocol: "gemini",
		ModelAsked: model, ModelSent: model, Pool: "main", KeyFP: secret.KeyFingerprint(key), Status: status, Attempts: 1,
		Latency: 25 * time.Millisecond, TTFB: 10 * time.Millisecond, PromptTokens: 12, CompletionTokens: 30}
	if status >= 400 {
		r.ErrorClass, r.ErrorBody, r.CompletionTokens = "client_error", `{"error":{"code":400,"message":"bad request"}}`, 0
	}
	return r
}

// get sends a request with the given headers, without following redirects.
func (h *harness) get(path string, headers map[string]string) (int, http.Header, []byte) {
	return h.do("GET", path, headers)
}

func (h *harness) do(method, path string, headers map[string]string) (int, http.Header, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, nil)
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

// secretsIn reports which secrets appear in b.
func secretsIn(b []byte) []string {
	var found []string
	for _, s := range []string{keyA, keyB, statusToken} {
		if strings.Contains(string(b), s) {
			found = append(found, s)
		}
	}
	return found
}
