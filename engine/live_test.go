package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	gws "github.com/gorilla/websocket"
	"google.golang.org/genai"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/engine/status"
	"github.com/balanceproxy/balance/internal/mockgemini"
	"github.com/balanceproxy/balance/internal/secret"
)

const (
	liveKeyA  = "AIzaSyLiveKeyAAAAAAAAAAAAAAAAAAAAAAAAA1"
	liveKeyB  = "AIzaSyLiveKeyBBBBBBBBBBBBBBBBBBBBBBBBB2"
	liveModel = "gemini-live-2.5-flash-preview"
	livePath  = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
)

// startLive starts the mock and a proxy with one pool of keys and the
// test token, plus extra HCL, recording every request.
func startLive(t *testing.T, keys []string, extra string) (*harness, *recorder) {
	t.Helper()
	mock := mockgemini.Start(t, mockgemini.Options{})
	rec := &recorder{}
	srv, url := startProxyWith(t, mock, t.TempDir(), poolConfig(keys, extra), engine.Options{Recorder: rec})
	return &harness{t: t, mock: mock, srv: srv, url: url, keys: keys, token: testToken}, rec
}

// liveClient is a Go SDK client whose Live API dials base (ws://…).
func liveClient(t *testing.T, base, key, version string) *genai.Client {
	t.Helper()
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey: key, Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: base, APIVersion: version},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wsBase(h *harness) string { return "ws" + strings.TrimPrefix(h.url, "http") }

// liveClose dials url as a raw WebSocket client with token, sends first
// and returns the close frame that ends the session (failing the test if
// it ends any other way).
func liveClose(t *testing.T, url, token, first string) *fws.CloseError {
	t.Helper()
	c, _, err := fws.DefaultDialer.Dial(url, http.Header{"X-Goog-Api-Key": {token}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(fws.TextMessage, []byte(first)); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.ReadMessage()
	var ce *fws.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("ended with %v, want a close frame", err)
	}
	return ce
}

// receiveTurn reads messages until turnComplete and returns the text,
// the audio bytes and the tool calls received.
func receiveTurn(t *testing.T, s *genai.Session) (text string, audio [][]byte, calls []*genai.FunctionCall) {
	t.Helper()
	for {
		msg, err := s.Receive()
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if msg.ToolCall != nil {
			return text, audio, msg.ToolCall.FunctionCalls
		}
		if sc := msg.ServerContent; sc != nil {
			if sc.ModelTurn != nil {
				for _, p := range sc.ModelTurn.Parts {
					text += p.Text
					if p.InlineData != nil {
						audio = append(audio, p.InlineData.Data)
					}
				}
			}
			if sc.TurnComplete {
				return text, audio, nil
			}
		}
	}
}

// The Go SDK's Live session through balance: setup, a text turn, an audio
// turn, a tool call round trip and a close, recorded as one request with
// the session's summed usage.
func TestLiveGoSDKSessionThroughBalance(t *testing.T) {
	h, rec := startLive(t, []string{liveKeyA}, "")
	for _, base := range []string{wsBase(h) + "/gemini", wsBase(h)} {
		t.Run(base[strings.LastIndex(base, ":"):], func(t *testing.T) {
			client := liveClient(t, base, testToken, "v1beta")
			s, err := client.Live.Connect(context.Background(), liveModel, &genai.LiveConnectConfig{
				Tools: []*genai.Tool{{FunctionDeclarations: []*genai.FunctionDeclaration{{Name: "get_weather", Description: "weather for a city"}}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if first, err := s.Receive(); err != nil || first.SetupComplete == nil {
				t.Fatalf("first message %+v, %v", first, err)
			}

			if err := s.SendClientContent(genai.LiveClientContentInput{Turns: []*genai.Content{genai.NewContentFromText("hello live", genai.RoleUser)}}); err != nil {
				t.Fatal(err)
			}
			if text, _, _ := receiveTurn(t, s); text != "Echo: hello live" {
				t.Fatalf("text turn answered %q", text)
			}

			pcm := make([]byte, 3200) // 100 ms of 16 kHz PCM
			if err := s.SendRealtimeInput(genai.LiveRealtimeInput{Audio: &genai.Blob{MIMEType: "audio/pcm;rate=16000", Data: pcm}}); err != nil {
				t.Fatal(err)
			}
			if _, audio, _ := receiveTurn(t, s); len(audio) != mockgemini.LiveAudioFrames || len(audio[0]) != 960 {
				t.Fatalf("audio turn answered %d frames", len(audio))
			}

			if err := s.SendClientContent(genai.LiveClientContentInput{Turns: []*genai.Content{genai.NewContentFromText("please call a tool", genai.RoleUser)}}); err != nil {
				t.Fatal(err)
			}
			_, _, calls := receiveTurn(t, s)
			if len(calls) != 1 || calls[0].Name != "get_weather" || calls[0].Args["city"] != "Paris" {
				t.Fatalf("tool calls %+v", calls)
			}
			if err := s.SendToolResponse(genai.LiveToolResponseInput{FunctionResponses: []*genai.FunctionResponse{{ID: calls[0].ID, Name: calls[0].Name, Response: map[string]any{"temp": 21}}}}); err != nil {
				t.Fatal(err)
			}
			if text, _, _ := receiveTurn(t, s); text != `Tool said: {"temp":21}` {
				t.Fatalf("tool response answered %q", text)
			}
			rec.reset()
			// The SDK's Close drops the connection without a close frame:
			// balance must end the upstream session and record it.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			r := rec.last(t)
			if r.Route != "live.BidiGenerateContent" || r.Status != 200 || r.ModelAsked != liveModel || r.Attempts != 1 || !r.Streamed {
				t.Fatalf("record %+v", r)
			}
			// Usage is summed over the session's four turns.
			if r.PromptTokens < 4 || r.CompletionTokens < 4 || r.Latency <= 0 || r.TTFB <= 0 || r.TTFB > r.Latency {
				t.Fatalf("record usage/duration %+v", r)
			}
		})
	}
	if n := h.mock.LiveSessions(); n != 2 {
		t.Fatalf("mock saw %d sessions", n)
	}
}

// Binary frames pass both ways unchanged in type, and so does a JSON
// message sent as a binary frame; the doubled slashes of the JS SDK's
// paths are served, not redirected.
func TestLiveBinaryFramesAndDoubledSlash(t *testing.T) {
	h, _ := startLive(t, []string{liveKeyA}, "")
	for _, path := range []string{"/" + livePath, "/gemini/" + livePath} {
		c, resp, err := fws.DefaultDialer.Dial(wsBase(h)+path+"?key="+testToken, nil)
		if err != nil {
			t.Fatalf("%s: %v (%v)", path, err, resp)
		}
		if err := c.WriteMessage(fws.BinaryMessage, []byte(`{"setup":{"model":"models/`+liveModel+`"}}`)); err != nil {
			t.Fatal(err)
		}
		if mt, msg, err := c.ReadMessage(); err != nil || mt != fws.BinaryMessage || !strings.Contains(string(msg), "setupComplete") {
			t.Fatalf("%s: setup answered %d %s %v", path, mt, msg, err)
		}
		if err := c.WriteMessage(fws.BinaryMessage, []byte(`{"realtimeInput":{"audio":{"mimeType":"audio/pcm;rate=16000","data":"AAAAAA=="}}}`)); err != nil {
			t.Fatal(err)
		}
		frames := 0
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil || mt != fws.BinaryMessage {
				t.Fatalf("%s: %d %v", path, mt, err)
			}
			if strings.Contains(string(msg), "audio/pcm;rate=24000") {
				frames++
			}
			if strings.Contains(string(msg), `"turnComplete":true`) {
				break
			}
		}
		if frames != mockgemini.LiveAudioFrames {
			t.Fatalf("%s: %d audio frames", path, frames)
		}
		// A clean close: the client's close code reaches Google, whose
		// answer comes back.
		if err := c.WriteMessage(fws.CloseMessage, fws.FormatCloseMessage(fws.CloseNormalClosure, "bye")); err != nil {
			t.Fatal(err)
		}
		_, _, err = c.ReadMessage()
		var ce *fws.CloseError
		if !errors.As(err, &ce) || ce.Code != fws.CloseNormalClosure {
			t.Fatalf("%s: close answered %v", path, err)
		}
		c.Close()
	}
}

// A key Google refuses at connect (429) is cooled and the session lands on
// the next key before the client sees anything.
func TestLiveFailoverAtConnect(t *testing.T) {
	h, rec := startLive(t, []string{liveKeyA, liveKeyB}, `
status {
  path  = "/status"
  token = "`+statusToken+`"
}`)
	h.mock.SetFault(liveKeyA, mockgemini.Fault{Kind: mockgemini.RateLimit, RetryDelay: 20 * time.Second})
	client := liveClient(t, wsBase(h), testToken, "v1beta")
	s, err := client.Live.Connect(context.Background(), liveModel, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendClientContent(genai.LiveClientContentInput{Turns: []*genai.Content{genai.NewContentFromText("still there?", genai.RoleUser)}}); err != nil {
		t.Fatal(err)
	}
	if text, _, _ := receiveTurn(t, s); text != "Echo: still there?" {
		t.Fatalf("answered %q", text)
	}
	if h.mock.Requests(liveKeyA) != 1 || h.mock.Requests(liveKeyB) != 1 {
		t.Fatalf("dials: A %d, B %d", h.mock.Requests(liveKeyA), h.mock.Requests(liveKeyB))
	}
	if st := h.keyState(liveKeyA); st.State != keypool.Cooling {
		t.Fatalf("key A is %s", st.State)
	}
	// Status counts the open session on the key that serves it.
	view := h.statusDoc("")
	if got := liveSessionsOn(view.Pools[0].Keys, liveKeyB); got != 1 {
		t.Fatalf("status shows %d sessions on key B", got)
	}
	s.Close()
	if r := rec.last(t); r.Attempts != 2 || r.Status != 200 {
		t.Fatalf("record %+v", r)
	}
}

// An upstream that cuts an open session: the client gets the close code
// and reason, and the record says the session failed.
func TestLiveUpstreamCutReachesClient(t *testing.T) {
	h, rec := startLive(t, []string{liveKeyA}, "")
	h.mock.SetFault(liveKeyA, mockgemini.Fault{Kind: mockgemini.LiveClose, AfterChunks: 1, CloseCode: 1011})
	client := liveClient(t, wsBase(h), testToken, "v1beta")
	s, err := client.Live.Connect(context.Background(), liveModel, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SendClientContent(genai.LiveClientContentInput{Turns: []*genai.Content{genai.NewContentFromText("one", genai.RoleUser)}}); err != nil {
		t.Fatal(err)
	}
	receiveTurn(t, s)
	var ce *gws.CloseError
	for {
		_, err := s.Receive()
		if err == nil {
			continue
		}
		if !errors.As(err, &ce) || ce.Code != 1011 || !strings.Contains(ce.Text, "mock: session closed after 1 turn") {
			t.Fatalf("session ended with %v", err)
		}
		break
	}
	if r := rec.last(t); r.Status != 502 || r.ErrorClass != "server_error" || !strings.Contains(r.ErrorBody, "1011") {
		t.Fatalf("record %+v", r)
	}
}

// Refusals before the upgrade are HTTP answers in Google's error shape,
// and none dials upstream.
func TestLiveRefusedBeforeUpgrade(t *testing.T) {
	h, _ := startLive(t, []string{liveKeyA}, "")
	cases := []struct {
		name, path string
		header     http.Header
		want       int
	}{
		{"no token", livePath, nil, 401},
		{"wrong token", livePath, http.Header{"X-Goog-Api-Key": {"not-a-token-at-all"}}, 401},
		{"unknown ephemeral token", "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained", http.Header{"Authorization": {"Token auth_tokens/nope"}}, 401},
		{"unknown method", "/ws/google.ai.generativelanguage.v1beta.GenerativeService.Nope", http.Header{"X-Goog-Api-Key": {testToken}}, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := fws.DefaultDialer.Dial(wsBase(h)+tc.path, tc.header)
			if !errors.Is(err, fws.ErrBadHandshake) || resp == nil || resp.StatusCode != tc.want {
				t.Fatalf("dial: %v %+v", err, resp)
			}
			body, _ := io.ReadAll(resp.Body)
			var e struct {
				Error struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if json.Unmarshal(body, &e) != nil || e.Error.Code != tc.want || e.Error.Message == "" {
				t.Fatalf("body %s", body)
			}
		})
	}
	// A plain GET on the path: 426 with Upgrade: websocket.
	status, hdr, body := h.do("GET", livePath, "", nil)
	if status != 426 || hdr.Get("Upgrade") != "websocket" || !strings.Contains(string(body), `"code": 426`) && !strings.Contains(string(body), `"code":426`) {
		t.Fatalf("plain GET: %d %v %s", status, hdr, body)
	}
	if n := h.mock.Total(); n != 0 {
		t.Fatalf("the mock got %d requests", n)
	}
}

// Refusals after the upgrade are close frames, still before any dial: a
// first message that is not a setup (1007), a model the token may not use
// (1008).
func TestLiveRefusedAfterUpgrade(t *testing.T) {
	h, _ := startLive(t, []string{liveKeyA}, `
token "narrow" {
  secret = "sk-narrow-token-1234"
  pools  = ["main"]
  models = ["gemini-2.5-*"]
}`)
	cases := []struct {
		name, token, first string
		code               int
	}{
		{"not JSON", testToken, "hello", fws.CloseInvalidFramePayloadData},
		{"not a setup", testToken, `{"clientContent":{}}`, fws.CloseInvalidFramePayloadData},
		{"no model", testToken, `{"setup":{}}`, fws.CloseInvalidFramePayloadData},
		{"model not allowed", "sk-narrow-token-1234", `{"setup":{"model":"models/` + liveModel + `"}}`, fws.ClosePolicyViolation},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if ce := liveClose(t, wsBase(h)+livePath, tc.token, tc.first); ce.Code != tc.code || ce.Text == "" {
				t.Fatalf("ended with %v", ce)
			}
		})
	}
	if n := h.mock.Total(); n != 0 {
		t.Fatalf("the mock got %d requests", n)
	}
}

// live_sessions refuses a token's session beyond its limit with 429
// before the upgrade; live_max_duration closes a session with 1008.
func TestLiveTokenSessionLimits(t *testing.T) {
	h, _ := startLive(t, []string{liveKeyA}, `
token "limited" {
  secret            = "sk-limited-token-1234"
  pools             = ["main"]
  live_sessions     = 1
  live_max_duration = "400ms"
}`)
	client := liveClient(t, wsBase(h), "sk-limited-token-1234", "v1beta")
	s, err := client.Live.Connect(context.Background(), liveModel, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, resp, err := fws.DefaultDialer.Dial(wsBase(h)+livePath, http.Header{"X-Goog-Api-Key": {"sk-limited-token-1234"}})
	if !errors.Is(err, fws.ErrBadHandshake) || resp.StatusCode != 429 {
		t.Fatalf("second session: %v %+v", err, resp)
	}
	// Another token is not limited by this one's sessions.
	other, err := liveClient(t, wsBase(h), testToken, "v1beta").Live.Connect(context.Background(), liveModel, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	start := time.Now()
	var ce *gws.CloseError
	for {
		_, err := s.Receive()
		if err == nil {
			continue
		}
		if !errors.As(err, &ce) || ce.Code != 1008 || !strings.Contains(ce.Text, "live_max_duration") {
			t.Fatalf("session ended with %v", err)
		}
		break
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("the session outlived its max duration by far")
	}
	s.Close()
	// The slot is free again once the session is recorded.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s2, err := client.Live.Connect(context.Background(), liveModel, nil)
		if err == nil {
			s2.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session after the first ended: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An ephemeral token minted through balance connects through the key
// that minted it, as the client token that minted it.
func TestLiveEphemeralTokenUsesItsKey(t *testing.T) {
	h, rec := startLive(t, []string{liveKeyA, liveKeyB}, "")
	rest := liveClient(t, h.url, testToken, "v1alpha")
	uses := int32(1)
	tok, err := rest.AuthTokens.Create(context.Background(), &genai.CreateAuthTokenConfig{Uses: &uses})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.Name, "auth_tokens/") {
		t.Fatalf("token %+v", tok)
	}
	minter, other := liveKeyA, liveKeyB
	if h.mock.Requests(liveKeyB) == 1 {
		minter, other = liveKeyB, liveKeyA
	}
	before := h.mock.Requests(other)
	for range 2 { // whichever key round robin would pick next
		s, err := liveClient(t, wsBase(h), tok.Name, "v1alpha").Live.Connect(context.Background(), liveModel, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SendClientContent(genai.LiveClientContentInput{Turns: []*genai.Content{genai.NewContentFromText("ephemeral", genai.RoleUser)}}); err != nil {
			t.Fatal(err)
		}
		if text, _, _ := receiveTurn(t, s); text != "Echo: ephemeral" {
			t.Fatalf("answered %q", text)
		}
		rec.reset()
		s.Close()
		if r := rec.last(t); r.Token != "tester" || r.Route != "live.BidiGenerateContentConstrained" || r.Status != 200 {
			t.Fatalf("record %+v", r)
		}
	}
	if h.mock.Requests(minter) != 3 || h.mock.Requests(other) != before {
		t.Fatalf("minter %d dials, other %d (before %d)", h.mock.Requests(minter), h.mock.Requests(other), before)
	}
	if last := h.mock.LastRequest(); last.Header.Get("Authorization") != "Token "+tok.Name || last.Header.Get("X-Goog-Api-Key") != "" {
		t.Fatalf("upstream got Authorization %q, key %q", last.Header.Get("Authorization"), last.Header.Get("X-Goog-Api-Key"))
	}
}

// Shutdown closes open sessions with 1001.
func TestLiveShutdownClosesSessions(t *testing.T) {
	h, rec := startLive(t, []string{liveKeyA}, "")
	s, err := liveClient(t, wsBase(h), testToken, "v1beta").Live.Connect(context.Background(), liveModel, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- h.srv.Shutdown(ctx)
	}()
	var ce *gws.CloseError
	for {
		_, err := s.Receive()
		if err == nil {
			continue
		}
		if !errors.As(err, &ce) || ce.Code != 1001 {
			t.Fatalf("session ended with %v", err)
		}
		break
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r := rec.last(t); r.Route != "live.BidiGenerateContent" {
		t.Fatalf("record %+v", r)
	}
}

// reset forgets what was recorded so far.
func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = nil
}

// liveSessionsOn is the open Live sessions status shows on key.
func liveSessionsOn(keys []status.KeyView, key string) int64 {
	for _, k := range keys {
		if k.Fingerprint == secret.KeyFingerprint(key) {
			return k.LiveSessions
		}
	}
	return -1
}

// Request hooks see a Live session's setup as its request: one that
// rejects it closes the session with 1008 before any dial.
func TestLiveRequestHookRejectsSetup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds WASM guests")
	}
	actions := guest(t, "actions")
	h := newHarness(t, []string{keyA}, hookConfig(t, fmt.Sprintf(`hook "gate" {
  module = %q
  config = { mode = "reject" }
  routes = ["/ws/*"]
}`, actions)))
	ce := liveClose(t, wsBase(h)+"/gemini"+livePath, testToken, `{"setup":{"model":"models/`+liveModel+`"}}`)
	if ce.Code != fws.ClosePolicyViolation || !strings.Contains(ce.Text, "hook gate") {
		t.Fatalf("ended with %v", ce)
	}
	if n := h.mock.Total(); n != 0 {
		t.Fatalf("the mock got %d requests", n)
	}
}

// Request hooks see the setup message as the request body and may edit it:
// here a hook gives every session a system instruction.
func TestLiveRequestHookEditsSetup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds WASM guests")
	}
	actions := guest(t, "actions")
	h := newHarness(t, []string{keyA}, hookConfig(t, fmt.Sprintf(`hook "persona" {
  module = %q
  config = { mode = "set", path = "setup.systemInstruction", value = { parts = [{ text = "Answer in French." }] } }
  routes = ["/ws/*"]
}`, actions)))
	c, _, err := fws.DefaultDialer.Dial(wsBase(h)+"/gemini"+livePath, http.Header{"X-Goog-Api-Key": {testToken}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(fws.TextMessage, []byte(`{"setup":{"model":"models/`+liveModel+`"}}`)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(); err != nil || !strings.Contains(string(msg), "setupComplete") {
		t.Fatalf("setup answered %s, %v", msg, err)
	}
	if got := h.mock.LastRequest().Body; !strings.Contains(string(got), `"systemInstruction":{"parts":[{"text":"Answer in French."}]}`) {
		t.Fatalf("Google got the setup %s", got)
	}
}

// A Live session's setup gets the model rules' edits that a setup takes,
// from the native path's editor: Google Search, safety settings, thinking
// and generation defaults the client did not set. What Live refuses stays
// out: code execution and URL context tools, output-format fields of
// generation_config.
func TestLiveSetupGetsModelRuleEdits(t *testing.T) {
	h, _ := startLive(t, []string{liveKeyA}, `
model "gemini-live-*" {
  search            = true
  code_execution    = true
  url_context       = true
  thinking_budget   = 0
  safety_settings   = [{ category = "HARM_CATEGORY_HARASSMENT", threshold = "BLOCK_ONLY_HIGH" }]
  generation_config = { temperature = 0.3, topK = 7, responseMimeType = "application/json", stopSequences = ["END"] }
}`)
	temp := float32(0.9)
	s, err := liveClient(t, wsBase(h), testToken, "v1beta").Live.Connect(context.Background(), liveModel, &genai.LiveConnectConfig{
		Temperature: &temp,
		Tools:       []*genai.Tool{{FunctionDeclarations: []*genai.FunctionDeclaration{{Name: "get_weather"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if first, err := s.Receive(); err != nil || first.SetupComplete == nil {
		t.Fatalf("first message %+v, %v", first, err)
	}
	var got struct {
		Setup struct {
			Model            string                     `json:"model"`
			Tools            []map[string]any           `json:"tools"`
			SafetySettings   []map[string]string        `json:"safetySettings"`
			GenerationConfig map[string]json.RawMessage `json:"generationConfig"`
		} `json:"setup"`
	}
	body := h.mock.LastRequest().Body
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("setup %s: %v", body, err)
	}
	var tools []string
	for _, tool := range got.Setup.Tools {
		for k := range tool {
			tools = append(tools, k)
		}
	}
	gc := got.Setup.GenerationConfig
	switch {
	case got.Setup.Model != "models/"+liveModel:
		t.Errorf("model %q", got.Setup.Model)
	case strings.Join(tools, ",") != "functionDeclarations,googleSearch":
		t.Errorf("tools %v, want the client's and Google Search only", tools)
	case len(got.Setup.SafetySettings) != 1 || got.Setup.SafetySettings[0]["threshold"] != "BLOCK_ONLY_HIGH":
		t.Errorf("safetySettings %v", got.Setup.SafetySettings)
	case string(gc["temperature"]) != "0.9" || string(gc["topK"]) != "7" || string(gc["thinkingConfig"]) != `{"thinkingBudget":0}`:
		t.Errorf("generationConfig %s", body)
	case gc["responseMimeType"] != nil || gc["stopSequences"] != nil:
		t.Errorf("generationConfig carries fields Live refuses: %s", body)
	}
}

// @google/genai's ai.live.connect in Node through balance: the JS SDK's
// doubled-slash path and ?key= credential, a text turn, an audio turn and
// a clean close, recorded as one session.
func TestLiveNodeGenaiSDK(t *testing.T) {
	h, rec := startLive(t, []string{liveKeyA}, "")
	out := runGenaiNode(t, "live.cjs", "BALANCE_URL="+h.url, "BALANCE_TOKEN="+testToken, "LIVE_MODEL="+liveModel)
	var got struct {
		SetupComplete bool     `json:"setupComplete"`
		Text          string   `json:"text"`
		AudioFrames   int      `json:"audioFrames"`
		AudioBytes    int      `json:"audioBytes"`
		Errors        []string `json:"errors"`
		Close         *struct {
			Code   int    `json:"code"`
			Reason string `json:"reason"`
		} `json:"close"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node printed %s: %v", out, err)
	}
	if !got.SetupComplete || got.Text != "Echo: hello from node" || got.AudioFrames != mockgemini.LiveAudioFrames || got.AudioBytes != mockgemini.LiveAudioFrames*960 || len(got.Errors) != 0 {
		t.Fatalf("session: %s", out)
	}
	if got.Close == nil || (got.Close.Code != fws.CloseNormalClosure && got.Close.Code != fws.CloseNoStatusReceived) {
		t.Fatalf("close: %s", out)
	}
	if r := rec.last(t); r.Route != "live.BidiGenerateContent" || r.Token != "tester" || r.Status != 200 || r.PromptTokens == 0 {
		t.Fatalf("record %+v", r)
	}
	if h.mock.LiveSessions() != 1 {
		t.Fatalf("the mock saw %d sessions", h.mock.LiveSessions())
	}
}
