package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genai"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/internal/mockgemini"
)

// harness is a proxy in front of the mock upstream, both on real sockets.
type harness struct {
	t     testing.TB
	mock  *mockgemini.Server
	srv   *engine.Server
	url   string
	keys  []string
	token string
}

const testToken = "sk-test-client-token"

// newHarness starts the mock and a proxy whose config is the given HCL
// body (with %MOCK% replaced by the mock's URL), or a default pool of
// keys when hclBody is "".
func newHarness(t *testing.T, keys []string, hclBody string) *harness {
	t.Helper()
	return startHarness(t, keys, hclBody, mockgemini.Options{})
}

// newBenchHarness is newHarness for benchmarks: the mock keeps no copy of
// requests.
func newBenchHarness(b *testing.B, keys []string) *harness {
	b.Helper()
	return startHarness(b, keys, "", mockgemini.Options{DisableRecording: true})
}

func startHarness(t testing.TB, keys []string, hclBody string, opts mockgemini.Options) *harness {
	t.Helper()
	mock := mockgemini.Start(t, opts)
	if hclBody == "" {
		quoted := make([]string, len(keys))
		for i, k := range keys {
			quoted[i] = fmt.Sprintf("%q", k)
		}
		hclBody = fmt.Sprintf(`
upstream "mock" { base_url = "%%MOCK%%" }
pool "main" {
  upstream = "mock"
  keys     = [%s]
  cooldown { base = "30s" }
}
token "tester" {
  secret = %q
  pools  = ["main"]
}
status {
  path  = "/status"
  token = "status-secret-123"
}
`, strings.Join(quoted, ", "), testToken)
	}
	srv, url := startProxyWith(t, mock, t.TempDir(), hclBody, engine.Options{})
	return &harness{t: t, mock: mock, srv: srv, url: url, keys: keys, token: testToken}
}

// do sends a raw request to the proxy and returns status, headers, body.
func (h *harness) do(method, path string, body string, headers map[string]string) (int, http.Header, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if _, ok := headers["Authorization"]; !ok {
		req.Header.Set("x-goog-api-key", h.token)
	}
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
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

func (h *harness) keyState(key string) keypool.Status {
	return h.srv.Registry().Get(key).Status(time.Now())
}

const genBody = `{"contents":[{"role":"user","parts":[{"text":"hello there"}]}]}`

func TestGoSDKThroughProxy(t *testing.T) {
	h := newHarness(t, []string{"AIzaSyTestKeyNumberOne0000000000000001", "AIzaSyTestKeyNumberTwo0000000000000002"}, "")
	ctx := context.Background()
	for _, base := range []string{h.url + "/gemini", h.url} {
		client, err := genai.NewClient(ctx, &genai.ClientConfig{
			APIKey: h.token, Backend: genai.BackendGeminiAPI,
			HTTPOptions: genai.HTTPOptions{BaseURL: base, APIVersion: "v1beta"},
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := client.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("hello there"), nil)
		if err != nil {
			t.Fatalf("%s generate: %v", base, err)
		}
		if !strings.Contains(res.Text(), "hello there") {
			t.Fatalf("generate text %q does not echo the prompt", res.Text())
		}
		var streamed strings.Builder
		chunks := 0
		for r, err := range client.Models.GenerateContentStream(ctx, "gemini-2.5-flash", genai.Text("stream me please"), nil) {
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			chunks++
			streamed.WriteString(r.Text())
		}
		if chunks < 2 || !strings.Contains(streamed.String(), "stream me please") {
			t.Fatalf("stream: %d chunks, text %q", chunks, streamed.String())
		}
		ct, err := client.Models.CountTokens(ctx, "gemini-2.5-flash", genai.Text("count these tokens"), nil)
		if err != nil || ct.TotalTokens <= 0 {
			t.Fatalf("countTokens: %v %v", ct, err)
		}
		emb, err := client.Models.EmbedContent(ctx, "gemini-embedding-001", genai.Text("embed me"), nil)
		if err != nil || len(emb.Embeddings) != 1 || len(emb.Embeddings[0].Values) == 0 {
			t.Fatalf("embed: %v %v", emb, err)
		}
		n := 0
		for m, err := range client.Models.All(ctx) {
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if m.Name == "" {
				t.Fatal("model without a name")
			}
			n++
		}
		if n < 3 {
			t.Fatalf("listed %d models", n)
		}
	}
	// The upstream saw pool keys, never the client token.
	if rec := h.mock.LastRequest(); rec.Key == h.token || !strings.HasPrefix(rec.Key, "AIzaSyTestKey") {
		t.Fatalf("upstream got credential %q", rec.Key)
	}
}

func TestClientCredentialsAreReplaced(t *testing.T) {
	h := newHarness(t, []string{"AIzaSyReplaceKey000000000000000000000001"}, "")
	for _, tc := range []struct {
		name    string
		path    string
		headers map[string]string
	}{
		{"bearer", "/v1beta/models/gemini-2.5-flash:generateContent", map[string]string{"Authorization": "Bearer " + testToken, "x-goog-api-key": ""}},
		{"header", "/gemini/v1beta/models/gemini-2.5-flash:generateContent", nil},
		{"query", "/v1beta/models/gemini-2.5-flash:generateContent?key=" + testToken, map[string]string{"x-goog-api-key": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := h.do("POST", tc.path, genBody, tc.headers)
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			rec := h.mock.LastRequest()
			if rec.Key != h.keys[0] || strings.Contains(rec.Query, testToken) || rec.Header.Get("Authorization") != "" {
				t.Fatalf("upstream request carried the client credential: key=%q query=%q auth=%q", rec.Key, rec.Query, rec.Header.Get("Authorization"))
			}
			if hdr.Get("X-Request-Id") == "" || hdr.Get("X-Balance-Generation") != "1" {
				t.Fatalf("missing request id or generation headers: %v", hdr)
			}
		})
	}
}

func TestBodiesPassThroughByteForByte(t *testing.T) {
	h := newHarness(t, []string{"AIzaSyPassKey000000000000000000000000001"}, "")
	body := `{"contents":[{"role":"user","parts":[{"text":"hi","thoughtSignature":"c2lnbmF0dXJl"}]}],"toolConfig":{"functionCallingConfig":{"mode":"AUTO"}},"labels":{"team":"a"},"futureField":{"x":[1,2,3]}}`
	status, _, _ := h.do("POST", "/v1beta/models/gemini-2.5-flash:generateContent", body, nil)
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	if got := string(h.mock.LastRequest().Body); got != body {
		t.Fatalf("body changed on the way:\n got %s\nwant %s", got, body)
	}
}

func TestBadRequestsNeverReachUpstream(t *testing.T) {
	h := newHarness(t, []string{"AIzaSyBadInputKey0000000000000000000001"}, "")
	tests := []struct {
		name, method, path, body string
		headers                  map[string]string
		status                   int
		gstatus                  string
	}{
		{"no token", "POST", "/v1beta/models/gemini-2.5-flash:generateContent", genBody, map[string]string{"x-goog-api-key": ""}, 401, "UNAUTHENTICATED"},
		{"wrong token", "POST", "/v1beta/models/gemini-2.5-flash:generateContent", genBody, map[string]string{"x-goog-api-key": "sk-wrong-token-value"}, 401, "UNAUTHENTICATED"},
		{"malformed json", "POST", "/v1beta/models/gemini-2.5-flash:generateContent", `{"contents":[`, nil, 400, "INVALID_ARGUMENT"},
		{"invalid UTF-8", "POST", "/v1beta/models/gemini-2.5-flash:generateContent", "{\"contents\":[{\"parts\":[{\"text\":\"\xff\xfe\"}]}]}", nil, 400, "INVALID_ARGUMENT"},
		{"unknown route", "GET", "/v2/whatever", "", nil, 404, "NOT_FOUND"},
		{"unknown method", "POST", "/v1beta/models/gemini-2.5-flash:explode", genBody, nil, 404, "NOT_FOUND"},
		{"markup as model name", "POST", "/v1beta/models/%3Cimg%20src=x%20onerror=%22alert(1)%22%3E:generateContent", genBody, nil, 404, "NOT_FOUND"},
		{"wrong verb", "GET", "/v1beta/models/gemini-2.5-flash:generateContent", "", nil, 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := h.mock.Total()
			status, _, body := h.do(tc.method, tc.path, tc.body, tc.headers)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %.200s", status, tc.status, body)
			}
			if tc.gstatus != "" {
				var e struct {
					Error struct {
						Code    int    `json:"code"`
						Status  string `json:"status"`
						Message string `json:"message"`
					} `json:"error"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Error.Status != tc.gstatus || e.Error.Code != tc.status || e.Error.Message == "" {
					t.Fatalf("error body %s not in Gemini shape with %s", body, tc.gstatus)
				}
			}
			if h.mock.Total() != before {
				t.Fatal("a bad request reached the upstream")
			}
			if strings.Contains(string(body), testToken) || strings.Contains(string(body), "sk-wrong-token-value") {
				t.Fatal("a token was echoed")
			}
		})
	}
	t.Run("oversized", func(t *testing.T) {
		// Announce a body over the 32 MiB default, send only its first
		// 16 KiB and read the answer: the proxy must refuse without
		// waiting for the rest (it reads at most fasthttp's 16 KiB
		// prefetch before the handler runs).
		before := h.mock.Total()
		conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /v1beta/models/gemini-2.5-flash:generateContent HTTP/1.1\r\nHost: x\r\nx-goog-api-key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", testToken, 40<<20, strings.Repeat("x", 16<<10))
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 413 || !bytes.Contains(body, []byte(`"code":413`)) {
			t.Fatalf("status %d body %s", resp.StatusCode, body)
		}
		if h.mock.Total() != before {
			t.Fatal("an oversized request reached the upstream")
		}
	})
	if st := h.keyState(h.keys[0]); st.State != keypool.Healthy || st.Failures != 0 {
		t.Fatalf("bad client input penalised the key: %+v", st)
	}
}
