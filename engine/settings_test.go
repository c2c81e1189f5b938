package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/hcl"
	"github.com/balanceproxy/balance/internal/mockgemini"
)

// These tests prove that documented settings change what a client meets,
// each set from HCL as a user would. hcl/testdata/setting_effects.txt maps
// every attribute of hcl/REFERENCE.md to the test that proves its effect.

const settingsKey = "AIzaSySettingsKeyAAAAAAAAAAAAAAAAAAAAA1"

// settingsConfig is one mock upstream, one pool and the test token, with
// extra attributes for the token block and extra blocks after it.
func settingsConfig(keys []string, tokenAttrs, extra string) string {
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = fmt.Sprintf("%q", k)
	}
	return `
upstream "mock" { base_url = "%MOCK%" }
pool "main" {
  upstream = "mock"
  keys     = [` + strings.Join(quoted, ", ") + `]
}
token "tester" {
  secret = "` + testToken + `"
  pools  = ["main"]
  ` + tokenAttrs + `
}
status {
  path  = "/status"
  token = "status-secret-123"
}
` + extra
}

func TestTokenSettings(t *testing.T) {
	t.Run("rpm", func(t *testing.T) {
		clearOfMinuteEdge()
		h := startHarness(t, nil, settingsConfig([]string{settingsKey}, "rpm = 2", ""), mockgemini.Options{})
		for i := range 2 {
			if status, _, body := h.do("POST", generatePath, genBody, nil); status != 200 {
				t.Fatalf("request %d: %d %s", i, status, body)
			}
		}
		status, hdr, body := h.do("POST", generatePath, genBody, nil)
		if status != 429 || hdr.Get("Retry-After") == "" || !strings.Contains(string(body), "requests per minute") {
			t.Fatalf("third request in a minute: %d %v %s", status, hdr, body)
		}
		if n := h.mock.Total(); n != 2 {
			t.Fatalf("a refused request reached upstream: %d calls", n)
		}
	})
	t.Run("concurrency", func(t *testing.T) {
		slowKey := "AIza-slow-settings-key"
		h := startHarness(t, nil, settingsConfig([]string{slowKey}, "concurrency = 1", ""), mockgemini.Options{SlowDelay: time.Second})
		var wg sync.WaitGroup
		wg.Add(1)
		first := 0
		go func() {
			defer wg.Done()
			first, _, _ = h.do("POST", generatePath, genBody, nil)
		}()
		waitFor(t, func() bool { return h.mock.Total() == 1 })
		status, hdr, body := h.do("POST", generatePath, genBody, nil)
		wg.Wait()
		if status != 429 || hdr.Get("Retry-After") == "" || !strings.Contains(string(body), "concurrent") {
			t.Fatalf("second request in flight: %d %s", status, body)
		}
		if first != 200 {
			t.Fatalf("first request: %d", first)
		}
	})
	t.Run("tokens_per_day", func(t *testing.T) {
		h := startHarness(t, nil, settingsConfig([]string{settingsKey}, "tokens_per_day = 1", ""), mockgemini.Options{})
		if status, _, body := h.do("POST", generatePath, genBody, nil); status != 200 {
			t.Fatalf("first request: %d %s", status, body)
		}
		status, _, body := h.do("POST", generatePath, genBody, nil)
		if status != 429 || !strings.Contains(string(body), "tokens for today") {
			t.Fatalf("after the day's tokens: %d %s", status, body)
		}
	})
	t.Run("expires", func(t *testing.T) {
		h := startHarness(t, nil, settingsConfig([]string{settingsKey}, `expires = "2020-01-01"`, ""), mockgemini.Options{})
		status, _, body := h.do("POST", generatePath, genBody, nil)
		if status != 401 || !strings.Contains(string(body), "expired") || h.mock.Total() != 0 {
			t.Fatalf("expired token: %d %s (%d upstream calls)", status, body, h.mock.Total())
		}
	})
	t.Run("secrets", func(t *testing.T) {
		h := startHarness(t, nil, settingsConfig([]string{settingsKey}, `secrets = ["sk-rotated-secret-two"]`, ""), mockgemini.Options{})
		for _, secret := range []string{testToken, "sk-rotated-secret-two"} {
			if status, _, body := h.do("POST", generatePath, genBody, map[string]string{"x-goog-api-key": secret}); status != 200 {
				t.Fatalf("secret %q…: %d %s", secret[:6], status, body)
			}
		}
	})
	t.Run("labels", func(t *testing.T) {
		h := startHarness(t, nil, settingsConfig([]string{settingsKey}, `labels = { team = "search-infra" }`, ""), mockgemini.Options{})
		status, _, body := h.do("GET", "/status", "", map[string]string{"Authorization": "Bearer status-secret-123", "Accept": "application/json"})
		var view struct {
			Tokens []struct {
				Name   string            `json:"name"`
				Labels map[string]string `json:"labels"`
			} `json:"tokens"`
		}
		if err := json.Unmarshal(body, &view); status != 200 || err != nil {
			t.Fatalf("status: %d %v %s", status, err, body)
		}
		if len(view.Tokens) != 1 || view.Tokens[0].Labels["team"] != "search-infra" {
			t.Fatalf("labels not shown: %+v", view.Tokens)
		}
	})
}

func TestServerSettings(t *testing.T) {
	t.Run("stream_idle_timeout", func(t *testing.T) {
		mock := mockgemini.Start(t, mockgemini.Options{StreamDelay: 3 * time.Second, StreamChunks: 3})
		rec := &recorder{}
		_, url := startProxyWith(t, mock, t.TempDir(), settingsConfig([]string{settingsKey}, "", `server { stream_idle_timeout = "1s" }`), engine.Options{Recorder: rec})
		h := &harness{t: t, mock: mock, url: url, token: testToken}
		start := time.Now()
		status, _, body := h.do("POST", streamPath, genBody, nil)
		if status != 200 || !strings.Contains(string(body), `"error"`) {
			t.Fatalf("a silent stream must end with an error event: %d %s", status, body)
		}
		// Three chunks 3 s apart would take 6 s; the stream was cut long before.
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("stream ran %v despite a 1 s idle timeout", took)
		}
		if r := rec.last(t); !r.Failed() {
			t.Fatalf("the cut stream was recorded as a success: %+v", r)
		}
	})
	t.Run("read_timeout", func(t *testing.T) {
		h := startHarness(t, nil, settingsConfig([]string{settingsKey}, "", `server { read_timeout = "1s" }`), mockgemini.Options{})
		conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// Half a request head, then silence: the default 30 s would outlast
		// the deadline below.
		fmt.Fprint(conn, "GET /v1/models HTTP/1.1\r\nHost: x\r\n")
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.ReadAll(conn)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the server kept a stalled client for 10 s with read_timeout = 1s")
		}
	})
	t.Run("idle_timeout", func(t *testing.T) {
		h := startHarness(t, nil, settingsConfig([]string{settingsKey}, "", `server { idle_timeout = "1s" }`), mockgemini.Options{})
		conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", testToken)
		br := bufio.NewReader(conn)
		resp, err := readHTTP(br)
		if err != nil || resp != 200 {
			t.Fatalf("first request: %d %v", resp, err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := br.ReadByte(); err == nil {
			t.Fatal("unexpected bytes on an idle connection")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("an idle keep-alive connection stayed open 10 s with idle_timeout = 1s")
		}
	})
	t.Run("data_dir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "state")
		startHarness(t, nil, settingsConfig([]string{settingsKey}, "", `
server { data_dir = "`+dir+`" }
store { driver = "sqlite" }`), mockgemini.Options{})
		if _, err := os.Stat(filepath.Join(dir, "balance.db")); err != nil {
			t.Fatalf("the SQLite store is not in data_dir: %v", err)
		}
	})
	t.Run("log_level", func(t *testing.T) {
		mock := mockgemini.Start(t, mockgemini.Options{})
		dir := t.TempDir()
		load := func(level, comment string) *hcl.Config {
			body := strings.ReplaceAll(settingsConfig([]string{settingsKey}, "", `server { log_level = "`+level+`" }
# `+comment), "%MOCK%", mock.URL())
			cfg, err := hcl.LoadBytes(filepath.Join(dir, "balance.hcl"), []byte(body), hcl.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return cfg
		}
		var out syncBuffer
		level := new(slog.LevelVar)
		srv, err := engine.New(load("warn", "v1"), engine.Options{LogLevel: level, Logger: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: level}))})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Shutdown(context.Background())
		if level.Level() != slog.LevelWarn {
			t.Fatalf("level at start: %v", level.Level())
		}
		// A reload that keeps warn logs no info line.
		if _, err := srv.Apply(load("warn", "v2")); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "config reloaded") {
			t.Fatalf("an info line was logged while the level was warn:\n%s", out.String())
		}
		// One that says debug makes the next unchanged reload's debug line show.
		if _, err := srv.Apply(load("debug", "v3")); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Apply(load("debug", "v3")); err != nil {
			t.Fatal(err)
		}
		if level.Level() != slog.LevelDebug || !strings.Contains(out.String(), "config unchanged") {
			t.Fatalf("a reload to debug did not change the level: %v\n%s", level.Level(), out.String())
		}
	})
}

func TestUpstreamTimeoutSetting(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	rec := &recorder{}
	cfg := strings.Replace(settingsConfig([]string{settingsKey}, "", ""), `upstream "mock" { base_url = "%MOCK%" }`,
		`upstream "mock" {
  base_url = "%MOCK%"
  timeout  = "1s"
}`, 1)
	_, url := startProxyWith(t, mock, t.TempDir(), cfg, engine.Options{Recorder: rec})
	mock.SetFault(settingsKey, mockgemini.Fault{Kind: mockgemini.Hang})
	h := &harness{t: t, mock: mock, url: url, token: testToken}
	start := time.Now()
	status, _, body := h.do("POST", generatePath, genBody, nil)
	if status < 500 || time.Since(start) > 8*time.Second {
		t.Fatalf("a hanging upstream with timeout = 1s: %d after %v: %s", status, time.Since(start), body)
	}
	if r := rec.last(t); r.ErrorClass != "timeout" {
		t.Fatalf("recorded class %q, want timeout", r.ErrorClass)
	}
}

func TestPoolSettings(t *testing.T) {
	keys := []string{keyA, keyB, "AIzaSyFaultKeyCCCCCCCCCCCCCCCCCCCCCCCC3"}
	pool := func(attrs string) string {
		return strings.Replace(settingsConfig(keys, "", ""), "keys     = [", attrs+"\n  keys     = [", 1)
	}
	failAll := func(h *harness) {
		for _, k := range keys {
			h.mock.SetFault(k, mockgemini.Fault{Kind: mockgemini.Unavailable})
		}
	}
	t.Run("max_retries", func(t *testing.T) {
		h := startHarness(t, nil, pool("max_retries = 1"), mockgemini.Options{})
		failAll(h)
		if status, _, _ := h.do("POST", generatePath, genBody, nil); status != 503 {
			t.Fatalf("status %d", status)
		}
		if n := h.mock.Total(); n != 2 {
			t.Fatalf("max_retries = 1 made %d upstream attempts, want 2", n)
		}
	})
	t.Run("retry_on", func(t *testing.T) {
		h := startHarness(t, nil, pool(`retry_on = ["timeout"]`), mockgemini.Options{})
		failAll(h)
		h.do("POST", generatePath, genBody, nil)
		if n := h.mock.Total(); n != 1 {
			t.Fatalf("a 503 was retried %d times though retry_on leaves server_error out", n-1)
		}
	})
	t.Run("limits.rpm", func(t *testing.T) {
		clearOfMinuteEdge()
		h := startHarness(t, nil, pool("limits { rpm = 1 }"), mockgemini.Options{})
		for i := range 3 {
			if status, _, body := h.do("POST", generatePath, genBody, nil); status != 200 {
				t.Fatalf("request %d: %d %s", i, status, body)
			}
		}
		status, hdr, _ := h.do("POST", generatePath, genBody, nil)
		if status != 429 || hdr.Get("Retry-After") == "" || h.mock.Total() != 3 {
			t.Fatalf("three keys at 1 rpm served a fourth request: %d, %d upstream calls", status, h.mock.Total())
		}
	})
	t.Run("limits.rpd", func(t *testing.T) {
		h := startHarness(t, nil, strings.Replace(settingsConfig([]string{settingsKey}, "", ""), "keys     = [", "limits { rpd = 1 }\n  keys     = [", 1), mockgemini.Options{})
		h.do("POST", generatePath, genBody, nil)
		if status, _, _ := h.do("POST", generatePath, genBody, nil); status != 429 || h.mock.Total() != 1 {
			t.Fatalf("a key at 1 request per day served a second: %d, %d upstream calls", status, h.mock.Total())
		}
	})
	t.Run("limits.tpm", func(t *testing.T) {
		clearOfMinuteEdge()
		h := startHarness(t, nil, strings.Replace(settingsConfig([]string{settingsKey}, "", ""), "keys     = [", "limits { tpm = 1 }\n  keys     = [", 1), mockgemini.Options{})
		h.do("POST", generatePath, genBody, nil)
		if status, _, _ := h.do("POST", generatePath, genBody, nil); status != 429 || h.mock.Total() != 1 {
			t.Fatalf("a key past its tokens per minute served again: %d, %d upstream calls", status, h.mock.Total())
		}
	})
	t.Run("probe.model and probe.max", func(t *testing.T) {
		mock := mockgemini.Start(t, mockgemini.Options{})
		_, url := startProxyWith(t, mock, t.TempDir(), pool(`probe {
    interval = "1s"
    max      = "1s"
    model    = "gemini-2.0-flash"
  }`), engine.Options{ProbeTick: 50 * time.Millisecond})
		h := &harness{t: t, mock: mock, url: url, token: testToken}
		mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.InvalidKey})
		h.do("POST", generatePath, genBody, nil)
		probePath := "/v1beta/models/gemini-2.0-flash"
		// Probes fail forever: capped at 1 s they come every second, where
		// the default cap would have let the wait double (1 s, 2 s, 4 s…).
		time.Sleep(5500 * time.Millisecond)
		if n := mock.PathRequests(probePath); n < 4 {
			t.Fatalf("%d probes of %s in 5.5 s with interval = max = 1s", n, probePath)
		}
	})
	t.Run("probe.enabled", func(t *testing.T) {
		mock := mockgemini.Start(t, mockgemini.Options{})
		srv, url := startProxyWith(t, mock, t.TempDir(), pool(`probe {
    enabled  = false
    interval = "1s"
  }`), engine.Options{ProbeTick: 50 * time.Millisecond})
		h := &harness{t: t, mock: mock, srv: srv, url: url, token: testToken}
		mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.InvalidKey})
		h.do("POST", generatePath, genBody, nil)
		calls := mock.Total()
		time.Sleep(2500 * time.Millisecond)
		if mock.Total() != calls {
			t.Fatalf("a disabled probe made %d calls", mock.Total()-calls)
		}
	})
}

// Model rule switches reach the upstream request, on a model the client
// names without any suffix.
func TestModelSettings(t *testing.T) {
	h := startHarness(t, nil, settingsConfig([]string{settingsKey}, "", `
model "searcher" {
  target = "gemini-2.5-flash"
  search = true
}
model "painter" {
  target = "gemini-2.5-flash-image"
  image  = true
}
model "thinker" {
  target           = "gemini-2.5-flash"
  include_thoughts = true
}`), mockgemini.Options{})
	for _, tc := range []struct{ model, want string }{
		{"searcher", `"googleSearch"`},
		{"painter", `"responseModalities":["TEXT","IMAGE"]`},
		{"thinker", `"includeThoughts":true`},
	} {
		t.Run(tc.model, func(t *testing.T) {
			status, _, body := h.do("POST", "/v1beta/models/"+tc.model+":generateContent", genBody, nil)
			if up := string(h.mock.LastRequest().Body); status != 200 || !strings.Contains(up, tc.want) {
				t.Fatalf("%d %s; upstream body lacks %s: %s", status, body, tc.want, up)
			}
		})
	}
}

func TestOpenAISettings(t *testing.T) {
	chat := func(h *harness, model string) (int, string) {
		status, _, body := h.do("POST", "/v1/chat/completions", `{"model":"`+model+`","messages":[{"role":"user","content":"hello there"}]}`,
			map[string]string{"Authorization": "Bearer " + testToken})
		return status, string(body)
	}
	suffixes := `openai {
  search_suffix       = "-web"
  image_suffix        = "-pic"
  non_thinking_suffix = "-quick"
}`
	h := startHarness(t, nil, settingsConfig([]string{settingsKey}, "", suffixes), mockgemini.Options{})
	for _, tc := range []struct{ model, want string }{
		{"gemini-2.5-flash-web", `"googleSearch"`},
		{"gemini-2.5-flash-image-pic", `"IMAGE"`},
		{"gemini-2.5-flash-quick", `"thinkingBudget":0`},
	} {
		t.Run(tc.model, func(t *testing.T) {
			if status, body := chat(h, tc.model); status != 200 {
				t.Fatalf("%d %s", status, body)
			}
			if up := string(h.mock.LastRequest().Body); !strings.Contains(up, tc.want) {
				t.Fatalf("upstream body lacks %s: %s", tc.want, up)
			}
		})
	}
	t.Run("default suffix is replaced", func(t *testing.T) {
		chat(h, "gemini-2.5-flash-search")
		if up := h.mock.LastRequest(); strings.Contains(string(up.Body), "googleSearch") {
			t.Fatalf("-search still adds search after search_suffix = \"-web\": %s %s", up.Path, up.Body)
		}
	})

	// Each setting flips whether marker is in the answer; the default run
	// shows the opposite, so the setting is what changed it.
	for _, tc := range []struct {
		name, block, model, marker string
		withSetting                bool
	}{
		{"show_thinking", `openai { show_thinking = true }`, "gemini-2.5-flash", `"reasoning_content"`, true},
		{"image_output", `openai { image_output = "data_url" }`, "gemini-2.5-flash-image-image", `![`, false},
		{"search_links", `openai { search_links = false }`, "gemini-2.5-flash-search", `**Sources**`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startHarness(t, nil, settingsConfig([]string{settingsKey}, "", tc.block), mockgemini.Options{})
			status, body := chat(h, tc.model)
			if status != 200 || strings.Contains(body, tc.marker) != tc.withSetting {
				t.Fatalf("%s: %d %s", tc.block, status, body)
			}
			d := startHarness(t, nil, settingsConfig([]string{settingsKey}, "", ""), mockgemini.Options{})
			if _, def := chat(d, tc.model); strings.Contains(def, tc.marker) == tc.withSetting {
				t.Fatalf("the default already behaves so: %s", def)
			}
		})
	}
	t.Run("image_fetch.enabled", func(t *testing.T) {
		h := startHarness(t, nil, settingsConfig([]string{settingsKey}, "", `openai {
  image_fetch { enabled = false }
}`), mockgemini.Options{})
		status, _, body := h.do("POST", "/v1/chat/completions", `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}`,
			map[string]string{"Authorization": "Bearer " + testToken})
		if status != 400 || h.mock.Total() != 0 {
			t.Fatalf("an image URL with image_fetch off: %d %s (%d upstream calls)", status, body, h.mock.Total())
		}
	})
}

// clearOfMinuteEdge waits out the last seconds of a minute: per-minute
// budgets start afresh each minute, so a test that spends one must not
// straddle the edge.
func clearOfMinuteEdge() {
	if left := time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)); left < 10*time.Second {
		time.Sleep(left + 100*time.Millisecond)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readHTTP reads one response from br and returns its status.
func readHTTP(br *bufio.Reader) (int, error) {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Egress proxies named in any of the four places reach the upstream
// through the proxy.
func TestEgressProxySettings(t *testing.T) {
	for _, tc := range []struct{ name, upstream, pool string }{
		{"upstream.proxies", `proxies = ["http://%PROXY%"]`, ""},
		{"upstream.proxy_group", `proxy_group = "egress"`, ""},
		{"pool.proxies", "", `proxies = ["http://%PROXY%"]`},
		{"pool.proxy_group", "", `proxy_group = "egress"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tunnels atomic.Int64
			proxy := connectProxy(t, &tunnels)
			cfg := `
proxy "egress" { urls = ["http://%PROXY%"] }
upstream "mock" {
  base_url = "%MOCK%"
  ` + tc.upstream + `
}
pool "main" {
  upstream = "mock"
  keys     = ["` + settingsKey + `"]
  ` + tc.pool + `
}
token "tester" {
  secret = "` + testToken + `"
  pools  = ["main"]
}`
			h := startHarness(t, nil, strings.ReplaceAll(cfg, "%PROXY%", proxy), mockgemini.Options{})
			if status, _, body := h.do("POST", generatePath, genBody, nil); status != 200 {
				t.Fatalf("%d %s", status, body)
			}
			if tunnels.Load() == 0 {
				t.Fatal("the upstream call did not go through the proxy")
			}
		})
	}
}

// connectProxy is a minimal HTTP CONNECT proxy on loopback that counts
// its tunnels; it stops with the test.
func connectProxy(t *testing.T, tunnels *atomic.Int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || req.Method != http.MethodConnect {
					return
				}
				up, err := net.Dial("tcp", req.Host)
				if err != nil {
					return
				}
				defer up.Close()
				tunnels.Add(1)
				fmt.Fprint(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				go func() { _, _ = io.Copy(up, br) }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	return ln.Addr().String()
}

// Which requests a hook sees: its own models and tokens filters, and the
// pools and tokens that name it.
func TestHookScopeSettings(t *testing.T) {
	blocklist := guest(t, "blocklist")
	const blocked = `{"contents":[{"parts":[{"text":"say the forbidden words"}]}]}`
	config := func(hookAttrs, mainPool, testerToken string) string {
		return fmt.Sprintf(`
server { data_dir = %q }
store { driver = "none" }
upstream "mock" { base_url = "%%MOCK%%" }
pool "main" {
  upstream = "mock"
  keys     = [%q]
  %s
}
pool "side" {
  upstream = "mock"
  keys     = [%q]
}
token "tester" {
  secret = %q
  pools  = ["main"]
  %s
}
token "other" {
  secret = "sk-other-client-token"
  pools  = ["side"]
}
hook "blocklist" {
  module = %q
  config = { phrases = ["forbidden words"], message = "No." }
  %s
}`, hookDataDir, keyA, mainPool, keyB, testToken, testerToken, blocklist, hookAttrs)
	}
	for _, tc := range []struct {
		name                       string
		hookAttrs, pool, token     string
		model, secret              string
		wantBlocked, wantOtherFree bool
	}{
		{name: "hook.models outside", hookAttrs: `models = ["gemini-2.5-pro"]`, model: "gemini-2.5-flash"},
		{name: "hook.models inside", hookAttrs: `models = ["gemini-2.5-pro"]`, model: "gemini-2.5-pro", wantBlocked: true},
		{name: "hook.tokens outside", hookAttrs: `tokens = ["other"]`, model: "gemini-2.5-flash"},
		{name: "hook.tokens inside", hookAttrs: `tokens = ["tester"]`, model: "gemini-2.5-flash", wantBlocked: true},
		{name: "token.hooks", token: `hooks = ["blocklist"]`, model: "gemini-2.5-flash", wantBlocked: true, wantOtherFree: true},
		{name: "pool.hooks", pool: `hooks = ["blocklist"]`, model: "gemini-2.5-flash", wantBlocked: true, wantOtherFree: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, []string{keyA, keyB}, config(tc.hookAttrs, tc.pool, tc.token))
			status, _, body := h.do("POST", "/v1beta/models/"+tc.model+":generateContent", blocked, nil)
			if (status == 403) != tc.wantBlocked {
				t.Fatalf("tester on %s: %d %s", tc.model, status, body)
			}
			if tc.wantOtherFree {
				status, _, body := h.do("POST", generatePath, blocked, map[string]string{"x-goog-api-key": "sk-other-client-token"})
				if status != 200 {
					t.Fatalf("a token and pool that do not name the hook were filtered: %d %s", status, body)
				}
			}
		})
	}
}
