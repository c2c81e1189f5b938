package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/internal/mockgemini"
)

// openAIErrorOf decodes an OpenAI error body, or the error event of a
// stream, into its type and message.
func openAIErrorOf(t *testing.T, body []byte) (typ, msg string) {
	t.Helper()
	s := strings.TrimSpace(string(body))
	if i := strings.LastIndex(s, "data: {\"error\""); i >= 0 {
		s = strings.TrimSpace(s[i+len("data: "):])
	}
	var e struct {
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(s), &e); err != nil || e.Error.Type == "" {
		t.Fatalf("not an OpenAI error: %q (%v)", body, err)
	}
	return e.Error.Type, e.Error.Message
}

// One OpenAI error vocabulary on every OpenAI route: the same class gets
// the same type whether balance or Google refused, unary or streamed.
func TestOpenAIErrorTypeIsTheSameOnEveryRoute(t *testing.T) {
	routes := []struct{ name, method, path, body string }{
		{"chat", "POST", "/v1/chat/completions", `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`},
		{"chat stream", "POST", "/v1/chat/completions", `{"model":"gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"hi"}]}`},
		{"embeddings", "POST", "/v1/embeddings", `{"model":"gemini-embedding-001","input":"hi"}`},
		{"images", "POST", "/hf/v1/images/generations", `{"model":"imagen-4.0-generate-001","prompt":"a cat"}`},
		{"models", "GET", "/v1/models", ``},
		{"passthrough", "POST", "/openai/v1/chat/completions", `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`},
	}
	auth := map[string]string{"Authorization": "Bearer " + testToken}
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			h := newHarness(t, []string{keyA}, "")
			h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.Internal})
			status, _, body := h.do(r.method, r.path, r.body, auth)
			if typ, _ := openAIErrorOf(t, body); status != 500 || typ != "server_error" {
				t.Errorf("upstream 500: status %d type %q: %s", status, typ, body)
			}
			status, _, body = h.do(r.method, r.path, r.body, map[string]string{"Authorization": "Bearer wrong"})
			if typ, _ := openAIErrorOf(t, body); status != 401 || typ != "authentication_error" {
				t.Errorf("bad token: status %d type %q", status, typ)
			}
			h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.InvalidKey})
			h.do(r.method, r.path, r.body, auth) // quarantines the only key
			calls := h.mock.Total()
			status, hdr, body := h.do(r.method, r.path, r.body, auth)
			if typ, _ := openAIErrorOf(t, body); status != 503 || typ != "server_error" || hdr.Get("Retry-After") == "" {
				t.Errorf("no usable key: status %d type %q retry-after %q: %s", status, typ, hdr.Get("Retry-After"), body)
			}
			if h.mock.Total() != calls {
				t.Error("a request with no usable key reached the upstream")
			}
		})
	}
}

// The keep-alive stream's "no key" answer is the same as every other
// route's: 503 server_error when every key is quarantined (it was 429).
func TestKeepAliveNoKeyIs503WhenEveryKeyIsQuarantined(t *testing.T) {
	h := newHarness(t, []string{keyA}, poolConfig([]string{keyA}, `openai { keep_alive = "50ms" }`))
	h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.InvalidKey})
	req := `{"model":"gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	auth := map[string]string{"Authorization": "Bearer " + testToken}
	h.do("POST", "/v1/chat/completions", req, auth)
	calls := h.mock.Total()
	status, _, body := h.do("POST", "/v1/chat/completions", req, auth)
	typ, msg := openAIErrorOf(t, body)
	if status != 200 || typ != "server_error" || !strings.Contains(msg, "quarantined") {
		t.Fatalf("status %d type %q message %q", status, typ, msg)
	}
	if strings.Contains(string(body), "[DONE]") {
		t.Fatal("a failed stream must not end with [DONE]")
	}
	if h.mock.Total() != calls {
		t.Fatal("no upstream call may be made without a usable key")
	}
}

// Nothing costly runs before a client is authenticated and authorized: no
// translation of the body, no fetch of an image URL, no upstream call.
func TestNothingRunsBeforeAdmission(t *testing.T) {
	h := newHarness(t, []string{keyA}, strings.ReplaceAll(`
upstream "mock" { base_url = "%MOCK%" }
pool "main" {
  upstream = "mock"
  keys     = ["KEY"]
}
pool "other" {
  upstream = "mock"
  keys     = ["KEY"]
}
model "gemini-2.5-pro" { pool = "other" }
token "tester" {
  secret = "sk-test-client-token"
  pools  = ["main"]
  models = ["gemini-2.5-flash", "gemini-2.5-pro"]
}
`, "KEY", keyA))
	fetcher := &engine.CountingFetcher{}
	engine.UseImageFetcher(h.srv, fetcher)
	image := `{"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"https://images.example/cat.png"}}]}`
	chat := func(model string) string {
		return `{"model":"` + model + `","messages":[` + image + `]}`
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	tests := []struct {
		name, body string
		headers    map[string]string
		status     int
	}{
		{"no token", chat("gemini-2.5-flash"), map[string]string{"Authorization": ""}, 401},
		{"wrong token", chat("gemini-2.5-flash"), bearer("sk-wrong"), 401},
		{"model the token may not use", chat("gemini-2.0-flash"), bearer(testToken), 403},
		{"pool the token may not use", chat("gemini-2.5-pro"), bearer(testToken), 403},
		// A body the translator would refuse with its own 400: admission
		// answers first, so the translator never saw it.
		{"untranslatable body, no token", `{"model":"gemini-2.5-flash","messages":"not a list"}`, map[string]string{"Authorization": ""}, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			headers := tc.headers
			if headers["Authorization"] == "" {
				headers = map[string]string{"Authorization": "", "x-goog-api-key": ""}
			}
			status, _, body := h.do("POST", "/v1/chat/completions", tc.body, headers)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if n := fetcher.Calls.Load(); n != 0 {
				t.Fatalf("%d image fetches before admission", n)
			}
			if n := h.mock.Total(); n != 0 {
				t.Fatalf("%d upstream calls before admission", n)
			}
		})
	}
	// The control: an admitted request does fetch and call upstream.
	if status, _, body := h.do("POST", "/v1/chat/completions", chat("gemini-2.5-flash"), bearer(testToken)); status != 200 {
		t.Fatalf("admitted request: %d %s", status, body)
	}
	if fetcher.Calls.Load() != 1 || h.mock.Total() != 1 {
		t.Fatalf("admitted request: %d fetches, %d upstream calls", fetcher.Calls.Load(), h.mock.Total())
	}
}

// recorder keeps the records a server reports.
type recorder struct {
	mu   sync.Mutex
	recs []engine.Record
}

func (r *recorder) Record(rec engine.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
}

func (r *recorder) last(t *testing.T) engine.Record {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		n := len(r.recs)
		r.mu.Unlock()
		if n > 0 {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.recs[n-1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no record")
	return engine.Record{}
}

// startRecorded starts a proxy on a mock with a pool of keys and returns
// the harness and what it records.
func startRecorded(t *testing.T, keys ...string) (*harness, *recorder) {
	t.Helper()
	mock := mockgemini.Start(t, mockgemini.Options{})
	rec := &recorder{}
	srv, url := startProxyWith(t, mock, t.TempDir(), poolConfig(keys, ""), engine.Options{Recorder: rec})
	return &harness{t: t, mock: mock, srv: srv, url: url, keys: keys, token: testToken}, rec
}

// poolConfig is one mock upstream, one pool of keys and the test token,
// plus extra blocks.
func poolConfig(keys []string, extra string) string {
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = strconv.Quote(k)
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
}
` + extra
}

// An upstream stream that ends cleanly but before its answer finished is
// not a complete answer: the OpenAI client gets an error event, no
// finish_reason "stop" and no [DONE], and the request is recorded failed.
func TestOpenAIStreamThatStopsEarlyIsAFailure(t *testing.T) {
	h, rec := startRecorded(t, keyA)
	h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.StreamStop, AfterChunks: 1})
	status, _, body := h.do("POST", "/v1/chat/completions", `{"model":"gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"a long answer please"}]}`,
		map[string]string{"Authorization": "Bearer " + testToken})
	s := string(body)
	if status != 200 || strings.Contains(s, "[DONE]") || strings.Contains(s, `"finish_reason":"stop"`) {
		t.Fatalf("status %d body %s", status, s)
	}
	if typ, _ := openAIErrorOf(t, body); typ != "server_error" {
		t.Fatalf("error type %q", typ)
	}
	if r := rec.last(t); r.Status != 502 || r.ErrorClass == "" {
		t.Fatalf("recorded status %d class %q", r.Status, r.ErrorClass)
	}
}

// Streams relayed as Google sends them (native Gemini, the /openai/v1
// passthrough) are complete only with their protocol's end marker: one
// that stops early ends with an error event and is recorded failed, and a
// whole one is left alone.
func TestRelayedStreamThatStopsEarlyIsAFailure(t *testing.T) {
	for _, tc := range []struct {
		name, path, body string
		headers          map[string]string
		errorEvent       string
	}{
		{"native SSE", streamPath, genBody, nil, `"error":{"code":502`},
		{"native JSON array", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", genBody, nil, `"error":{"code":502`},
		{"passthrough", "/openai/v1/chat/completions", `{"model":"gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"a long answer please"}]}`,
			map[string]string{"Authorization": "Bearer " + testToken}, `"type":"server_error"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, rec := startRecorded(t, keyA)
			status, _, whole := h.do("POST", tc.path, tc.body, tc.headers)
			if status != 200 || strings.Contains(string(whole), tc.errorEvent) {
				t.Fatalf("a whole stream: %d %s", status, whole)
			}
			if r := rec.last(t); r.Status != 200 {
				t.Fatalf("a whole stream was recorded %d", r.Status)
			}
			h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.StreamStop, AfterChunks: 1})
			status, _, body := h.do("POST", tc.path, tc.body, tc.headers)
			if status != 200 || !strings.Contains(string(body), tc.errorEvent) || !strings.Contains(string(body), "incomplete") {
				t.Fatalf("a stream cut short: %d %s", status, body)
			}
			if r := rec.last(t); r.Status != 502 || r.ErrorClass != "server_error" {
				t.Fatalf("recorded status %d class %q", r.Status, r.ErrorClass)
			}
		})
	}
}

// A stream that Google itself ended with an error event gets no second
// error event from balance (its client has read the end), and is recorded
// failed.
func TestStreamEndedByUpstreamErrorEventIsNotEndedTwice(t *testing.T) {
	h, rec := startRecorded(t, keyA)
	h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.StreamError, AfterChunks: 1})
	status, _, body := h.do("POST", streamPath, genBody, nil)
	if n := strings.Count(string(body), `"error":`); status != 200 || n != 1 {
		t.Fatalf("want exactly one error event: %d, %d in %s", status, n, body)
	}
	if r := rec.last(t); r.Status < 500 || r.ErrorClass == "" {
		t.Fatalf("recorded status %d class %q", r.Status, r.ErrorClass)
	}
}

// rawRequest sends a request's head and the first part of its body on a
// fresh connection and returns the connection, unread.
func rawRequest(t *testing.T, h *harness, token string, contentLength int, firstPart string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nx-goog-api-key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", generatePath, token, contentLength, firstPart)
	return conn
}

func readResponse(t *testing.T, conn net.Conn) (*http.Response, []byte) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// An unauthenticated client's body is never read: the answer comes while
// almost all of a 30 MB body is still unsent.
func TestUnauthenticatedBodiesAreNotRead(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	for _, token := range []string{"", "sk-wrong-token"} {
		conn := rawRequest(t, h, token, 30<<20, strings.Repeat("x", 16<<10))
		resp, body := readResponse(t, conn)
		if resp.StatusCode != 401 || !bytes.Contains(body, []byte("UNAUTHENTICATED")) {
			t.Fatalf("token %q: status %d %s", token, resp.StatusCode, body)
		}
	}
	if h.mock.Total() != 0 {
		t.Fatal("an unauthenticated request reached the upstream")
	}
}

// server.max_body_memory bounds the bodies held at once: while one body
// is being read, a second that does not fit gets 503 with Retry-After;
// once the first is done, its memory is free again.
func TestBodyMemoryIsBounded(t *testing.T) {
	h := newHarness(t, []string{keyA}, poolConfig([]string{keyA}, `
server {
  max_request_body = "64KiB"
  max_body_memory  = "100KiB"
}`))
	// A valid 60 KB body: contents with one long text part.
	head := `{"contents":[{"role":"user","parts":[{"text":"`
	tail := `"}]}]}`
	big := head + strings.Repeat("a", 60<<10-len(head)-len(tail)) + tail
	slow := rawRequest(t, h, testToken, len(big), big[:20<<10]) // holds 60 KB while it waits for the rest
	time.Sleep(200 * time.Millisecond)
	status, hdr, body := h.do("POST", generatePath, big, nil)
	if status != 503 || hdr.Get("Retry-After") == "" {
		t.Fatalf("second body: status %d retry-after %q: %s", status, hdr.Get("Retry-After"), body)
	}
	if _, err := io.WriteString(slow, big[20<<10:]); err != nil {
		t.Fatal(err)
	}
	if resp, body := readResponse(t, slow); resp.StatusCode != 200 {
		t.Fatalf("first body: status %d %s", resp.StatusCode, body)
	}
	if status, _, body := h.do("POST", generatePath, big, nil); status != 200 {
		t.Fatalf("after the first finished: status %d %s", status, body)
	}
	if status, _, _ := h.do("POST", generatePath, big+strings.Repeat(" ", 8<<10), nil); status != 413 {
		t.Fatalf("over max_request_body: status %d", status)
	}
	// Chunked bodies (no Content-Length) are held to the same limits.
	for _, tc := range []struct {
		body   string
		status int
	}{{big, 200}, {big + strings.Repeat(" ", 8<<10), 413}} {
		req, _ := http.NewRequest("POST", h.url+generatePath, io.MultiReader(strings.NewReader(tc.body)))
		req.Header.Set("x-goog-api-key", testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || req.ContentLength != 0 {
			t.Fatalf("chunked %d bytes: status %d, want %d", len(tc.body), resp.StatusCode, tc.status)
		}
	}
}

// What reaches Google is an allowlist of the client's headers plus the
// upstream block's own headers: no client credential in another header,
// no cookie, no client identity.
func TestUpstreamRequestHeaders(t *testing.T) {
	h := newHarness(t, []string{keyA}, strings.ReplaceAll(`
upstream "mock" {
  base_url = "%MOCK%"
  headers  = { "X-Goog-User-Project" = "billing-project-7" }
}
pool "main" {
  upstream = "mock"
  keys     = ["KEY"]
}
token "tester" {
  secret = "sk-test-client-token"
  pools  = ["main"]
}
`, "KEY", keyA))
	sent := map[string]string{
		"X-Api-Key": "sk-other-credential", "Api-Key": "sk-other-credential", "Cookie": "session=abc",
		"X-Forwarded-For": "10.1.2.3", "Forwarded": "for=10.1.2.3", "X-Real-Ip": "10.1.2.3",
		"Proxy-Authorization": "Basic eDp5", "X-Goog-Api-Client": "genai-go/1.0", "User-Agent": "test-agent/1",
	}
	if status, _, body := h.do("POST", generatePath+"?key="+testToken, genBody, sent); status != 200 {
		t.Fatalf("status %d %s", status, body)
	}
	got := h.mock.LastRequest()
	for _, name := range []string{"X-Api-Key", "Api-Key", "Cookie", "X-Forwarded-For", "Forwarded", "X-Real-Ip", "Proxy-Authorization", "Authorization"} {
		if v := got.Header.Get(name); v != "" {
			t.Errorf("%s reached the upstream: %q", name, v)
		}
	}
	for name, want := range map[string]string{"X-Goog-Api-Client": "genai-go/1.0", "User-Agent": "test-agent/1", "X-Goog-User-Project": "billing-project-7", "X-Goog-Api-Key": keyA} {
		if v := got.Header.Get(name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	if strings.Contains(got.Path, testToken) || strings.Contains(got.Path, "key=") {
		t.Errorf("the client's ?key= reached the upstream: %s", got.Path)
	}
}

// upstream.max_response_body bounds a unary answer held in memory; the
// key is not blamed, and the request is not retried on another key.
func TestUpstreamAnswerSizeIsBounded(t *testing.T) {
	h := newHarness(t, []string{keyA, keyB}, strings.ReplaceAll(strings.ReplaceAll(`
upstream "mock" {
  base_url          = "%MOCK%"
  max_response_body = "64KiB"
}
pool "main" {
  upstream = "mock"
  keys     = ["KEYA", "KEYB"]
}
token "tester" {
  secret = "sk-test-client-token"
  pools  = ["main"]
}
`, "KEYA", keyA), "KEYB", keyB))
	h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.HugeAnswer, Bytes: 80 << 10, Times: 1})
	h.mock.SetFault(keyB, mockgemini.Fault{Kind: mockgemini.HugeAnswer, Bytes: 80 << 10, Times: 1})
	status, _, body := h.do("POST", generatePath, genBody, nil)
	if status != 502 || !bytes.Contains(body, []byte("max_response_body")) {
		t.Fatalf("status %d %.300s", status, body)
	}
	if h.mock.Total() != 1 {
		t.Fatalf("%d upstream calls: a too-large answer is as large on every key", h.mock.Total())
	}
	if st := h.keyState(keyA); st.State != keypool.Healthy {
		t.Fatalf("key blamed: %+v", st)
	}
	h.mock.SetFault(keyA, mockgemini.Fault{})
	h.mock.SetFault(keyB, mockgemini.Fault{})
	if status, _, _ := h.do("POST", generatePath, genBody, nil); status != 200 {
		t.Fatalf("a small answer: status %d", status)
	}
}

// server.log_requests logs one line per request, with fingerprints only.
func TestLogRequests(t *testing.T) {
	for _, on := range []bool{true, false} {
		mock := mockgemini.Start(t, mockgemini.Options{})
		var logs syncBuffer
		srv, url := startProxyWith(t, mock, t.TempDir(), poolConfig([]string{keyA}, fmt.Sprintf("server { log_requests = %v }", on)),
			engine.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		h := &harness{t: t, mock: mock, srv: srv, url: url, token: testToken}
		if status, _, _ := h.do("POST", generatePath, genBody, nil); status != 200 {
			t.Fatal(status)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
		out := logs.String()
		logged := strings.Contains(out, "msg=request") && strings.Contains(out, "route=generateContent") && strings.Contains(out, "status=200") && strings.Contains(out, "token=tester")
		if logged != on {
			t.Fatalf("log_requests = %v, log:\n%s", on, out)
		}
		if strings.Contains(out, keyA) || strings.Contains(out, testToken) {
			t.Fatalf("a secret reached the log:\n%s", out)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Requests fasthttp refuses before routing are answered with a body in
// the protocol their path implies, never with fasthttp's text (which can
// quote the request's credentials).
func TestRefusedBeforeRouting(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	for _, tc := range []struct {
		name, path, extra string
		status            int
		openAI            bool
	}{
		// A head that could not be parsed has no path to go by: Google's shape.
		{"headers too large", "/v1/chat/completions", "X-Pad: " + strings.Repeat("p", 17<<10) + "\r\n", 431, false},
		{"bad header value", "/v1/chat/completions", "X-Bad: a\x00b\r\n", 400, false},
		// Refusals after the head was read speak the route's protocol.
		{"body too large, openai", "/v1/chat/completions", "Content-Length: 40000000\r\n", 413, true},
		{"body too large, native", generatePath, "Content-Length: 40000000\r\n", 413, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			length := "Content-Length: 2\r\n"
			if strings.HasPrefix(tc.extra, "Content-Length") {
				length = ""
			}
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n%s%s\r\n{}%s", tc.path, testToken, tc.extra, length, strings.Repeat(" ", 16<<10))
			resp, body := readResponse(t, conn)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d %s", resp.StatusCode, body)
			}
			if tc.openAI {
				openAIErrorOf(t, body)
			} else if !bytes.Contains(body, []byte(`"status"`)) {
				t.Fatalf("not a Gemini error: %s", body)
			}
			if bytes.Contains(body, []byte(testToken)) {
				t.Fatal("the client token was echoed")
			}
		})
	}
}

// A head just under the limit, as a browser with many cookies sends, is
// served: the limit is sized for real cookies, not for curl.
func TestLargeCookieHeadIsServed(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cookie := "Cookie: session=" + strings.Repeat("c", 15<<10) + "\r\n"
	fmt.Fprintf(conn, "GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n%s\r\n", testToken, cookie)
	resp, body := readResponse(t, conn)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"object":"list"`)) {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
}

// A stream still open when shutdown_grace is over ends with an error event
// in its protocol, and is recorded before Shutdown returns.
func TestShutdownEndsOpenStreamsWithAnErrorEvent(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{StreamDelay: time.Second, StreamChunks: 10})
	rec := &recorder{}
	srv, url := startProxyWith(t, mock, t.TempDir(), poolConfig([]string{keyA}, ""), engine.Options{Recorder: rec})

	type result struct {
		body string
		err  error
	}
	streams := []struct{ path, body string }{
		{streamPath, genBody},
		{"/v1/chat/completions", `{"model":"gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"a long answer please"}]}`},
	}
	results := make(chan result, len(streams))
	started := make(chan struct{}, len(streams))
	for _, st := range streams {
		go func() {
			req, _ := http.NewRequest("POST", url+st.path, strings.NewReader(st.body))
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				results <- result{err: err}
				started <- struct{}{}
				return
			}
			defer resp.Body.Close()
			first := make([]byte, 1)
			_, _ = io.ReadFull(resp.Body, first)
			started <- struct{}{}
			rest, err := io.ReadAll(resp.Body)
			results <- result{string(first) + string(rest), err}
		}()
	}
	for range streams {
		<-started
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = srv.Shutdown(ctx)
	// Every stream is recorded by the time Shutdown returns.
	rec.mu.Lock()
	n := len(rec.recs)
	statuses := []int{}
	for _, r := range rec.recs {
		statuses = append(statuses, r.Status)
	}
	rec.mu.Unlock()
	if n != len(streams) {
		t.Fatalf("%d records after Shutdown, want %d", n, len(streams))
	}
	for _, s := range statuses {
		if s != 503 {
			t.Fatalf("recorded statuses %v, want 503 for cut streams", statuses)
		}
	}
	for range streams {
		r := <-results
		if r.err != nil {
			t.Fatalf("stream: %v", r.err)
		}
		if !strings.Contains(r.body, `"error"`) || !strings.Contains(r.body, "shutting down") || strings.Contains(r.body, "[DONE]") {
			t.Fatalf("a cut stream must end with an error event: %q", r.body)
		}
	}
}

// A pool key that an upstream quotes in a response header reaches the
// client only as its fingerprint.
func TestKeyInUpstreamHeaderIsRedacted(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.KeyInHeader})
	status, hdr, _ := h.do("POST", generatePath, genBody, nil)
	got := hdr.Get("X-Debug-Key")
	if status != 200 || got == "" {
		t.Fatalf("status %d, header %q: the mock must quote the key", status, got)
	}
	if strings.Contains(got, keyA) || !strings.Contains(got, "AIza…") {
		t.Fatalf("header %q: want the key's fingerprint only", got)
	}
}

// The passthrough forwards only the calls Google's OpenAI-compatible
// endpoint has, on a path built from its own table (an encoded '?' or '#'
// in the client's path cannot smuggle a query or a fragment upstream),
// and applies the token's model rules to every call.
func TestPassthroughRoutes(t *testing.T) {
	h := newHarness(t, []string{keyA}, poolConfig([]string{keyA}, "")+`
token "narrow" {
  secret = "sk-narrow-token"
  pools  = ["main"]
  models = ["gemini-2.5-flash"]
}`)
	chat := `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`
	for _, tc := range []struct {
		name, method, path, body, token string
		status                          int
		upstream                        string // the path Google sees, "" for none
	}{
		{"chat", "POST", "/openai/v1/chat/completions", chat, testToken, 200, "/v1beta/openai/chat/completions"},
		{"model named as the models list names it", "POST", "/openai/v1/chat/completions", `{"model":"models/gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`, testToken, 200, "/v1beta/openai/chat/completions"},
		{"encoded query", "POST", "/openai/v1/chat%3Fkey=x%26y=1", chat, testToken, 404, ""},
		{"encoded fragment", "POST", "/openai/v1/chat/completions%23x", chat, testToken, 404, ""},
		{"a path the endpoint does not have", "POST", "/openai/v1/files", chat, testToken, 404, ""},
		{"wrong method", "GET", "/openai/v1/chat/completions", "", testToken, 405, ""},
		{"model get, allowed", "GET", "/openai/v1/models/gemini-2.5-flash", "", "sk-narrow-token", -1, "/v1beta/openai/models/gemini-2.5-flash"},
		{"model get, not the token's", "GET", "/openai/v1/models/gemini-2.5-pro", "", "sk-narrow-token", 403, ""},
		{"chat, not the token's model", "POST", "/openai/v1/chat/completions", `{"model":"gemini-2.5-pro","messages":[]}`, "sk-narrow-token", 403, ""},
		{"model get, bad name", "GET", "/openai/v1/models/x%3Fkey=1", "", testToken, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.mock.Total()
			status, _, body := h.do(tc.method, tc.path, tc.body, map[string]string{"Authorization": "Bearer " + tc.token})
			if tc.status > 0 && status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if status >= 400 {
				openAIErrorOf(t, body)
			}
			called := h.mock.Total() != before
			if called != (tc.upstream != "") {
				t.Fatalf("upstream called: %v", called)
			}
			if called && h.mock.LastRequest().Path != tc.upstream {
				t.Fatalf("upstream path %q, want %q", h.mock.LastRequest().Path, tc.upstream)
			}
		})
	}
}
