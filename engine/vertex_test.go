package engine_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oai "github.com/openai/openai-go/v3"
	"google.golang.org/genai"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/internal/mockgemini"
	"github.com/balanceproxy/balance/store"
)

const (
	vertexKey1 = "AQ.VertexExpressKeyOne000000000000000001"
	vertexKey2 = "AQ.VertexExpressKeyTwo000000000000000002"
	geminiKey  = "AIzaSyFallbackGeminiKey00000000000000001"
	vertexGen  = "/v1/publishers/google/models/gemini-2.5-flash:generateContent"
)

// vertexConfig is a Vertex AI Express pool (the token's first) that falls
// back to a Gemini API pool, both on the mock, plus extra blocks.
func vertexConfig(extra string) string {
	return `
upstream "google" { base_url = "%MOCK%" }
upstream "vertex" {
  base_url = "%MOCK%"
  kind     = "vertex_express"
}
pool "express" {
  upstream = "vertex"
  keys     = ["` + vertexKey1 + `", "` + vertexKey2 + `"]
  fallback = ["paid"]
  cooldown {
    base       = "1s"
    max        = "1s"
    multiplier = 1
  }
  probe { interval = "1s" }
}
pool "paid" {
  upstream = "google"
  keys     = ["` + geminiKey + `"]
}
token "tester" {
  secret = "` + testToken + `"
  pools  = ["express", "paid"]
}
model "gemini-embedding-001" { pool = "paid" }
` + extra
}

func startVertex(t *testing.T, extra string) *harness {
	t.Helper()
	mock := mockgemini.Start(t, mockgemini.Options{})
	srv, url := startProxyWith(t, mock, t.TempDir(), vertexConfig(extra), engine.Options{})
	return &harness{t: t, mock: mock, srv: srv, url: url, token: testToken}
}

// The Go genai SDK, speaking the Gemini API to balance, is served by a
// Vertex pool on Vertex's own paths with the pool key in x-goog-api-key;
// a model routed to the Gemini pool still goes there.
func TestVertexPoolServesTheGenaiSDK(t *testing.T) {
	h := startVertex(t, "")
	ctx := context.Background()
	client, err := genai.NewClient(ctx, &genai.ClientConfig{
		APIKey: h.token, Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: h.url + "/gemini", APIVersion: "v1beta"},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("hello vertex"), nil)
	if err != nil || !strings.Contains(res.Text(), "hello vertex") {
		t.Fatalf("generate: %v %v", res, err)
	}
	rec := h.mock.LastRequest()
	if rec.Path != vertexGen || (rec.Key != vertexKey1 && rec.Key != vertexKey2) || rec.Header.Get("x-goog-api-key") != rec.Key {
		t.Fatalf("upstream got %s with key %q (header %q)", rec.Path, rec.Key, rec.Header.Get("x-goog-api-key"))
	}

	var streamed strings.Builder
	for r, err := range client.Models.GenerateContentStream(ctx, "gemini-2.5-flash", genai.Text("stream on vertex"), nil) {
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		streamed.WriteString(r.Text())
	}
	if rec := h.mock.LastRequest(); !strings.Contains(streamed.String(), "stream on vertex") ||
		rec.Path != "/v1/publishers/google/models/gemini-2.5-flash:streamGenerateContent" || rec.Query != "alt=sse" {
		t.Fatalf("stream %q went to %s?%s", streamed.String(), rec.Path, rec.Query)
	}

	ct, err := client.Models.CountTokens(ctx, "gemini-2.5-flash", genai.Text("count these"), nil)
	if err != nil || ct.TotalTokens <= 0 || h.mock.LastRequest().Path != "/v1/publishers/google/models/gemini-2.5-flash:countTokens" {
		t.Fatalf("countTokens: %v %v via %s", ct, err, h.mock.LastRequest().Path)
	}

	// Routed to the Gemini pool by its model rule.
	emb, err := client.Models.EmbedContent(ctx, "gemini-embedding-001", genai.Text("embed me"), nil)
	if err != nil || len(emb.Embeddings) != 1 || h.mock.LastRequest().Key != geminiKey ||
		h.mock.LastRequest().Path != "/v1beta/models/gemini-embedding-001:batchEmbedContents" {
		t.Fatalf("embed: %v %v via %s", emb, err, h.mock.LastRequest().Path)
	}
}

// openai-go's chat, stream and images calls are translated and served by
// the Vertex pool; its models list is the config's, with no upstream call.
func TestVertexPoolServesTheOpenAISDK(t *testing.T) {
	h := startVertex(t, `model "fast" {
  target = "gemini-2.5-flash"
  pool   = "express"
}`)
	ctx := context.Background()
	c := openAIClient(h, "/v1")
	res, err := c.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{
		Model:    "fast",
		Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("hello from openai")},
	})
	if err != nil || len(res.Choices) != 1 || !strings.Contains(res.Choices[0].Message.Content, "hello from openai") {
		t.Fatalf("chat: %v %+v", err, res)
	}
	if h.mock.LastRequest().Path != vertexGen {
		t.Fatalf("chat went to %s", h.mock.LastRequest().Path)
	}
	st := c.Chat.Completions.NewStreaming(ctx, oai.ChatCompletionNewParams{
		Model:    "gemini-2.5-flash",
		Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("stream from openai")},
	})
	var text strings.Builder
	for st.Next() {
		for _, ch := range st.Current().Choices {
			text.WriteString(ch.Delta.Content)
		}
	}
	if err := st.Err(); err != nil || !strings.Contains(text.String(), "stream from openai") {
		t.Fatalf("stream: %v %q", err, text.String())
	}
	if rec := h.mock.LastRequest(); rec.Path != "/v1/publishers/google/models/gemini-2.5-flash:streamGenerateContent" || rec.Query != "alt=sse" {
		t.Fatalf("stream went to %s?%s", rec.Path, rec.Query)
	}
	img, err := c.Images.Generate(ctx, oai.ImageGenerateParams{Model: "imagen-4.0-generate-001", Prompt: "a red bicycle", N: oai.Int(1)})
	if err != nil || len(img.Data) != 1 || img.Data[0].B64JSON == "" {
		t.Fatalf("images: %v %+v", err, img)
	}
	if p := h.mock.LastRequest().Path; p != "/v1/publishers/google/models/imagen-4.0-generate-001:predict" {
		t.Fatalf("images went to %s", p)
	}
	before := h.mock.Total()
	page, err := c.Models.List(ctx)
	if err != nil || len(page.Data) != 1 || page.Data[0].ID != "fast" || h.mock.Total() != before {
		t.Fatalf("models: %v %+v, %d upstream calls", err, page, h.mock.Total()-before)
	}
}

// What Vertex AI Express does not have is refused by balance in the
// caller's protocol, with no upstream call.
func TestVertexPoolRefusesWhatVertexLacks(t *testing.T) {
	h := startVertex(t, "")
	for _, tc := range []struct{ name, method, path, want string }{
		{"embedContent", "POST", "/v1beta/models/text-embedding-005:embedContent", "does not serve embedContent"},
		{"batchEmbedContents", "POST", "/v1beta/models/text-embedding-005:batchEmbedContents", "does not serve batchEmbedContents"},
		{"predictLongRunning", "POST", "/v1beta/models/veo-3.0-generate-001:predictLongRunning", "does not serve predictLongRunning"},
		{"batchGenerateContent", "POST", "/v1beta/models/gemini-2.5-flash:batchGenerateContent", "does not serve batchGenerateContent"},
		{"models list", "GET", "/v1beta/models", "lists no models"},
		{"models get", "GET", "/v1beta/models/gemini-2.5-flash", "lists no models"},
		{"compat passthrough", "POST", "/openai/v1/chat/completions", "OpenAI-compatible endpoint"},
		{"openai embeddings", "POST", "/v1/embeddings", "does not serve batchEmbedContents"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.mock.Total()
			body := genBody
			switch {
			case strings.HasPrefix(tc.path, "/openai"):
				body = `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`
			case tc.path == "/v1/embeddings":
				body = `{"model":"text-embedding-005","input":"hi"}`
			}
			status, _, got := h.do(tc.method, tc.path, body, map[string]string{"Authorization": "Bearer " + testToken})
			var e struct {
				Error struct {
					Message string `json:"message"`
				} `json:"error"`
			}
			if status != 400 || json.Unmarshal(got, &e) != nil || !strings.Contains(e.Error.Message, tc.want) || !strings.Contains(e.Error.Message, "express") {
				t.Fatalf("status %d body %s", status, got)
			}
			if h.mock.Total() != before {
				t.Fatal("a refused call reached the upstream")
			}
		})
	}
}

// When every key of the Vertex pool is cooling for the model, requests go
// to the fallback Gemini pool (without calling the cooling keys again),
// and come back once the keys recover; the stats record the pool that
// served each request.
func TestVertexFallsBackToGeminiPoolAndBack(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	dir := t.TempDir()
	srv, url := startProxyWith(t, mock, dir, vertexConfig(`store {
  driver = "sqlite"
  path   = "stats.db"
}`), engine.Options{})
	h := &harness{t: t, mock: mock, srv: srv, url: url, token: testToken}
	for _, k := range []string{vertexKey1, vertexKey2} {
		mock.SetFault(k, mockgemini.Fault{Kind: mockgemini.RateLimit, Model: "gemini-2.5-flash", Times: 1})
	}

	// 1: both Vertex keys answer 429 and cool; the Gemini pool serves.
	if status, _, body := h.do("POST", "/v1beta/models/gemini-2.5-flash:generateContent", genBody, nil); status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	if rec := mock.LastRequest(); rec.Key != geminiKey || rec.Path != "/v1beta/models/gemini-2.5-flash:generateContent" {
		t.Fatalf("fallback request went to %s with key %q", rec.Path, rec.Key)
	}
	for _, k := range []string{vertexKey1, vertexKey2} {
		if st := h.keyState(k); st.State != keypool.Cooling {
			t.Fatalf("vertex key %s: %+v, want cooling", k[:12], st)
		}
	}
	// 2: the keys are still cooling: straight to the fallback, a stream
	// this time, without calling a Vertex key.
	v1, v2 := mock.Requests(vertexKey1), mock.Requests(vertexKey2)
	if status, _, body := h.do("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", genBody, nil); status != 200 || !strings.Contains(string(body), `"finishReason": "STOP"`) {
		t.Fatalf("status %d: %s", status, body)
	}
	if mock.Requests(vertexKey1) != v1 || mock.Requests(vertexKey2) != v2 || mock.LastRequest().Key != geminiKey {
		t.Fatal("a cooling Vertex key was called, or the stream did not fall back")
	}
	// Another model is not cooling on Vertex: it stays there.
	if status, _, _ := h.do("POST", "/v1beta/models/gemini-2.5-pro:generateContent", genBody, nil); status != 200 || !strings.HasPrefix(mock.LastRequest().Path, "/v1/publishers/") {
		t.Fatalf("status %d, other model went to %s", status, mock.LastRequest().Path)
	}
	// 3: once the cooldown is over, requests are back on Vertex.
	deadline := time.Now().Add(5 * time.Second)
	for h.keyState(vertexKey1).State == keypool.Cooling && h.keyState(vertexKey2).State == keypool.Cooling {
		if time.Now().After(deadline) {
			t.Fatal("vertex keys never recovered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if status, _, _ := h.do("POST", "/v1beta/models/gemini-2.5-flash:generateContent", genBody, nil); status != 200 || mock.LastRequest().Path != vertexGen {
		t.Fatalf("status %d, after recovery went to %s", status, mock.LastRequest().Path)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), store.Config{Driver: "sqlite", DSN: filepath.Join(dir, "stats.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	recs, err := st.RecentRequests(context.Background(), store.ListQuery{Token: "tester", Limit: 100})
	if err != nil || len(recs) != 4 {
		t.Fatalf("recorded %d requests (%v), want 4", len(recs), err)
	}
	// RecentRequests is newest first.
	want := []struct {
		pool     string
		attempts int
	}{{"express", 1}, {"express", 1}, {"paid", 1}, {"paid", 3}}
	for i, w := range want {
		if recs[i].Pool != w.pool || recs[i].Attempts != w.attempts || recs[i].Status != 200 {
			t.Errorf("request %d recorded pool %q attempts %d status %d, want %q %d 200", len(recs)-i, recs[i].Pool, recs[i].Attempts, recs[i].Status, w.pool, w.attempts)
		}
	}
}

// With no fallback pool free either, the answer is the usual 429 with the
// time the first key frees up, and nothing more is called.
func TestVertexFallbackExhaustedIs429(t *testing.T) {
	h := startVertex(t, "")
	for _, k := range []string{vertexKey1, vertexKey2, geminiKey} {
		h.mock.SetFault(k, mockgemini.Fault{Kind: mockgemini.RateLimit, Model: "gemini-2.5-flash"})
	}
	status, hdr, body := h.do("POST", "/v1beta/models/gemini-2.5-flash:generateContent", genBody, nil)
	if status != 429 || hdr.Get("Retry-After") == "" {
		t.Fatalf("status %d retry-after %q: %s", status, hdr.Get("Retry-After"), body)
	}
	if h.mock.Total() != 3 {
		t.Fatalf("%d upstream calls, want one per key", h.mock.Total())
	}
	before := h.mock.Total()
	if status, _, _ := h.do("POST", "/v1beta/models/gemini-2.5-flash:generateContent", genBody, nil); status != 429 || h.mock.Total() != before {
		t.Fatalf("status %d, %d more upstream calls while every key cools", status, h.mock.Total()-before)
	}
}

// Vertex's 429 carries no RetryInfo and its invalid key is
// API_KEY_INVALID from aiplatform.googleapis.com: balance cools and
// quarantines as it does for Gemini, and the probe (countTokens, as
// Vertex has no models.get) brings a revived key back and leaves a dead
// one quarantined.
func TestVertexKeyHealthAndProbe(t *testing.T) {
	h := startVertex(t, "")
	h.mock.SetFault(vertexKey1, mockgemini.Fault{Kind: mockgemini.InvalidKey, Times: 1})
	h.mock.SetFault(vertexKey2, mockgemini.Fault{Kind: mockgemini.InvalidKey})
	// Both keys are refused; the request falls back to the Gemini pool.
	if status, _, body := h.do("POST", "/v1beta/models/gemini-2.5-flash:generateContent", genBody, nil); status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	for _, k := range []string{vertexKey1, vertexKey2} {
		if st := h.keyState(k); st.State != keypool.Quarantined {
			t.Fatalf("key %s: %+v, want quarantined", k[:12], st)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.keyState(vertexKey1).State != keypool.Healthy || h.mock.Requests(vertexKey2) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("probes did not run: key1 %+v, key2 called %d times", h.keyState(vertexKey1), h.mock.Requests(vertexKey2))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := h.keyState(vertexKey2); st.State != keypool.Quarantined {
		t.Fatalf("dead key restored by its probe: %+v", st)
	}
	if n := h.mock.PathRequests("/v1/publishers/google/models/gemini-2.5-flash:countTokens"); n < 2 {
		t.Fatalf("%d countTokens probes on Vertex's path, want one per key at least", n)
	}
	if n := h.mock.PathRequests("/v1beta/models/gemini-2.5-flash"); n != 0 {
		t.Fatalf("%d Gemini models.get probes sent to a Vertex upstream", n)
	}
}

// A model rule's fallback replaces its pool's: Pro goes to Vertex and
// falls back to the Gemini pool, Flash goes to the Gemini pool and falls
// back to Vertex, Flash-Lite stays on Vertex (its rule's empty fallback
// overrides the Vertex pool's). The
// genai and openai-go clients see answers; the records name the pool that
// served each call.
func TestModelRuleFallbackBothWays(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	rec := &recorder{}
	cfg := `
upstream "google" { base_url = "%MOCK%" }
upstream "vertex" {
  base_url = "%MOCK%"
  kind     = "vertex_express"
}
pool "express" {
  upstream = "vertex"
  keys     = ["` + vertexKey1 + `", "` + vertexKey2 + `"]
  fallback = ["paid"]
}
pool "paid" {
  upstream = "google"
  keys     = ["` + geminiKey + `"]
}
token "tester" {
  secret = "` + testToken + `"
  pools  = ["express", "paid"]
}
model "gemini-2.5-pro" {
  pool     = "express"
  fallback = ["paid"]
}
model "gemini-2.5-flash" {
  pool     = "paid"
  fallback = ["express"]
}
model "gemini-2.5-flash-lite" {
  pool     = "express"
  fallback = []
}
`
	srv, url := startProxyWith(t, mock, t.TempDir(), cfg, engine.Options{Recorder: rec})
	h := &harness{t: t, mock: mock, srv: srv, url: url, token: testToken}
	ctx := context.Background()
	gc, err := genai.NewClient(ctx, &genai.ClientConfig{APIKey: testToken, Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: url + "/gemini", APIVersion: "v1beta"}})
	if err != nil {
		t.Fatal(err)
	}
	oc := openAIClient(h, "/v1")
	genaiCall := func(model string) {
		t.Helper()
		res, err := gc.Models.GenerateContent(ctx, model, genai.Text("hello "+model), nil)
		if err != nil || !strings.Contains(res.Text(), "hello "+model) {
			t.Fatalf("genai %s: %v %v", model, res, err)
		}
	}
	openaiCall := func(model string) {
		t.Helper()
		res, err := oc.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{Model: model,
			Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("hi " + model)}})
		if err != nil || len(res.Choices) != 1 || !strings.Contains(res.Choices[0].Message.Content, "hi "+model) {
			t.Fatalf("openai %s: %v %+v", model, err, res)
		}
	}
	served := func(pool, path string, attempts int) {
		t.Helper()
		r := rec.last(t)
		if r.Pool != pool || r.Attempts != attempts || r.Status != 200 || mock.LastRequest().Path != path {
			t.Fatalf("served by pool %q in %d attempts (status %d) via %s, want %q in %d via %s",
				r.Pool, r.Attempts, r.Status, mock.LastRequest().Path, pool, attempts, path)
		}
		rec.reset()
	}

	// Vertex → Gemini: both Vertex keys refuse Pro and cool.
	for _, k := range []string{vertexKey1, vertexKey2} {
		mock.SetFault(k, mockgemini.Fault{Kind: mockgemini.RateLimit, Model: "gemini-2.5-pro", Times: 1})
	}
	genaiCall("gemini-2.5-pro")
	served("paid", "/v1beta/models/gemini-2.5-pro:generateContent", 3)
	v1, v2 := mock.Requests(vertexKey1), mock.Requests(vertexKey2)
	openaiCall("gemini-2.5-pro")
	served("paid", "/v1beta/models/gemini-2.5-pro:generateContent", 1)
	if mock.Requests(vertexKey1) != v1 || mock.Requests(vertexKey2) != v2 {
		t.Fatal("a cooling Vertex key was called again")
	}

	// Gemini → Vertex: the Gemini key refuses Flash and cools.
	mock.SetFault(geminiKey, mockgemini.Fault{Kind: mockgemini.RateLimit, Model: "gemini-2.5-flash", Times: 1})
	openaiCall("gemini-2.5-flash")
	served("express", vertexGen, 2)
	genaiCall("gemini-2.5-flash")
	served("express", vertexGen, 1)

	// fallback = [] keeps Flash-Lite on Vertex: 429, no other pool.
	for _, k := range []string{vertexKey1, vertexKey2} {
		mock.SetFault(k, mockgemini.Fault{Kind: mockgemini.RateLimit, Model: "gemini-2.5-flash-lite"})
	}
	g := mock.Requests(geminiKey)
	if status, _, body := h.do("POST", "/v1beta/models/gemini-2.5-flash-lite:generateContent", genBody, nil); status != 429 {
		t.Fatalf("flash-lite: status %d %s", status, body)
	}
	if mock.Requests(geminiKey) != g {
		t.Fatal("a model rule with fallback = [] left its pool")
	}
}

// Vertex refuses a content without a role (the mock does as Vertex does);
// the Gemini API takes it as the user's. balance gives such contents role
// "user" on their way to a Vertex pool, also when a request falls back
// there from a Gemini pool, and leaves bodies bound for Gemini alone.
func TestVertexGetsARoleOnEveryContent(t *testing.T) {
	const roleless = `{"contents":[{"parts":[{"text":"no role here"}]},{"role":"model","parts":[{"text":"fine"}]},{"parts":[{"text":"nor here"}]}]}`
	const fixed = `"contents":[{"parts":[{"text":"no role here"}],"role":"user"},{"role":"model","parts":[{"text":"fine"}]},{"parts":[{"text":"nor here"}],"role":"user"}]`
	h := startVertex(t, "")
	for _, tc := range []struct{ method, path string }{
		{"generateContent", "/v1beta/models/gemini-2.5-flash:generateContent"},
		{"streamGenerateContent", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"},
		{"countTokens", "/v1beta/models/gemini-2.5-flash:countTokens"},
	} {
		t.Run(tc.method, func(t *testing.T) {
			if status, _, body := h.do("POST", tc.path, roleless, nil); status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			rec := h.mock.LastRequest()
			if !strings.HasPrefix(rec.Path, "/v1/publishers/google/models/") || !strings.Contains(string(rec.Body), fixed) {
				t.Fatalf("Vertex got %s: %s", rec.Path, rec.Body)
			}
		})
	}

	t.Run("fallback from a Gemini pool", func(t *testing.T) {
		mock := mockgemini.Start(t, mockgemini.Options{})
		_, url := startProxy(t, mock, t.TempDir(), `
upstream "google" { base_url = "%MOCK%" }
upstream "vertex" {
  base_url = "%MOCK%"
  kind     = "vertex_express"
}
pool "paid" {
  upstream = "google"
  keys     = ["`+geminiKey+`"]
  fallback = ["express"]
}
pool "express" {
  upstream = "vertex"
  keys     = ["`+vertexKey1+`"]
}
token "tester" {
  secret = "`+testToken+`"
  pools  = ["paid", "express"]
}`)
		g := &harness{t: t, mock: mock, url: url, token: testToken}
		if status, _, body := g.do("POST", "/v1beta/models/gemini-2.5-flash:generateContent", roleless, nil); status != 200 {
			t.Fatalf("Gemini pool: status %d: %s", status, body)
		}
		if rec := mock.LastRequest(); rec.Key != geminiKey || string(rec.Body) != roleless {
			t.Fatalf("the Gemini pool got key %q body %s, want the client's body as sent", rec.Key, rec.Body)
		}
		mock.SetFault(geminiKey, mockgemini.Fault{Kind: mockgemini.RateLimit, Model: "gemini-2.5-flash"})
		if status, _, body := g.do("POST", "/v1beta/models/gemini-2.5-flash:generateContent", roleless, nil); status != 200 {
			t.Fatalf("fallback: status %d: %s", status, body)
		}
		if rec := mock.LastRequest(); rec.Key != vertexKey1 || !strings.Contains(string(rec.Body), fixed) {
			t.Fatalf("Vertex got key %q body %s", rec.Key, rec.Body)
		}
	})
}
