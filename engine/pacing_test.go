package engine_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	oai "github.com/openai/openai-go/v3"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/internal/mockgemini"
)

// pacingConfig paces gemini-2.5-flash by its model rule; the token
// "unpaced" turns pacing off for itself, and the token "paced" turns it on
// for every model.
const pacingConfig = `
model "gemini-2.5-flash" {
  stream_pacing {
    chunk_chars = 10
    interval    = "2ms"
    max_delay   = "20s"
  }
}
model "gemini-2.5-pro" {
  stream_pacing {
    chunk_chars = 1
    interval    = "50ms"
    max_delay   = "300ms"
  }
}
token "unpaced" {
  secret = "sk-unpaced-client-token"
  pools  = ["main"]
  stream_pacing { enabled = false }
}
token "paced" {
  secret = "sk-paced-client-token"
  pools  = ["main"]
  stream_pacing {
    chunk_chars = 20
    interval    = "1ms"
  }
}
`

// streamDeltas streams a chat completion through the OpenAI SDK and
// returns its content deltas and how long the whole stream took.
func streamDeltas(t *testing.T, h *harness, token, model, prompt string) ([]string, time.Duration) {
	t.Helper()
	h.token = token
	c := openAIClient(h, "/v1")
	start := time.Now()
	stream := c.Chat.Completions.NewStreaming(context.Background(), oai.ChatCompletionNewParams{
		Model: model, Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage(prompt)},
	})
	var deltas []string
	finish := ""
	for stream.Next() {
		for _, ch := range stream.Current().Choices {
			if ch.Delta.Content != "" {
				deltas = append(deltas, ch.Delta.Content)
			}
			if ch.FinishReason != "" {
				finish = ch.FinishReason
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("%s %s: %v", token, model, err)
	}
	if got := strings.Join(deltas, ""); got != "Echo: "+prompt || finish != "stop" {
		t.Fatalf("%s %s: paced text %q (finish %q) is not the answer", token, model, got, finish)
	}
	return deltas, time.Since(start)
}

func TestStreamPacingSplitsLargeDeltas(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{StreamChunks: 2})
	srv, url := startProxyWith(t, mock, t.TempDir(), poolConfig([]string{keyA}, pacingConfig), engine.Options{})
	h := &harness{t: t, mock: mock, srv: srv, url: url}
	prompt := strings.Repeat("typing effect ", 30) // 420 characters, 426 with "Echo: "

	paced, took := streamDeltas(t, h, testToken, "gemini-2.5-flash", prompt)
	if len(paced) < 40 {
		t.Errorf("model rule pacing: %d deltas from 2 upstream events, want about 43 of at most 10 characters", len(paced))
	}
	for _, d := range paced {
		if len([]rune(d)) > 10 {
			t.Errorf("a paced delta of %d characters: %q", len([]rune(d)), d)
		}
	}
	if took > 10*time.Second {
		t.Errorf("pacing took %v", took)
	}

	unpaced, _ := streamDeltas(t, h, "sk-unpaced-client-token", "gemini-2.5-flash", prompt)
	if len(unpaced) > 2 {
		t.Errorf("token with enabled = false: %d deltas, want the upstream's 2", len(unpaced))
	}
	plain, _ := streamDeltas(t, h, testToken, "gemini-2.5-flash-lite", prompt)
	if len(plain) > 2 {
		t.Errorf("a model without pacing: %d deltas", len(plain))
	}
	byToken, _ := streamDeltas(t, h, "sk-paced-client-token", "gemini-2.5-flash-lite", prompt)
	if len(byToken) < 20 {
		t.Errorf("token pacing: %d deltas, want about 22 of 20 characters", len(byToken))
	}
}

// Pacing 1 character every 50 ms would hold a 1,000-character answer for
// 50 s; max_delay = 300ms bounds how much later the stream ends.
func TestStreamPacingNeverDelaysTheEndPastMaxDelay(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{StreamChunks: 2})
	srv, url := startProxyWith(t, mock, t.TempDir(), poolConfig([]string{keyA}, pacingConfig), engine.Options{})
	h := &harness{t: t, mock: mock, srv: srv, url: url}
	prompt := strings.Repeat("x", 1000)
	deltas, took := streamDeltas(t, h, testToken, "gemini-2.5-pro", prompt)
	if took > 5*time.Second {
		t.Fatalf("the stream took %v; max_delay is 300ms", took)
	}
	// Some pacing happened within the bound: more deltas than upstream
	// events, far fewer than characters.
	if len(deltas) < 4 || len(deltas) > 100 {
		t.Fatalf("%d deltas", len(deltas))
	}
}

// startSlowPacedStream starts a proxy whose gemini-2.5-flash streams are
// paced one character per 100 ms (up to 60 s) and opens such a stream of
// 600 characters on the OpenAI route: it stays open long after the test
// has what it needs.
func startSlowPacedStream(t *testing.T, rec *recorder) (*engine.Server, *http.Response) {
	t.Helper()
	mock := mockgemini.Start(t, mockgemini.Options{StreamChunks: 1})
	srv, url := startProxyWith(t, mock, t.TempDir(), poolConfig([]string{keyA}, `
model "gemini-2.5-flash" {
  stream_pacing {
    chunk_chars = 1
    interval    = "100ms"
    max_delay   = "60s"
  }
}
`), engine.Options{Recorder: rec})
	body := `{"model":"gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"` + strings.Repeat("y", 600) + `"}]}`
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return srv, resp
}

// A client that goes away in the middle of a paced stream ends it at
// once: the request is recorded as closed by the client long before the
// pacing (60 s here) would have ended.
func TestStreamPacingStopsWhenTheClientGoes(t *testing.T) {
	rec := &recorder{}
	_, resp := startSlowPacedStream(t, rec)
	r := bufio.NewReader(resp.Body)
	for range 3 { // the role chunk and the first paced pieces
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	closedAt := time.Now()
	resp.Body.Close()
	got := rec.last(t) // waits up to 2 s
	if got.Status != 499 {
		t.Fatalf("recorded %d, want 499 (client closed)", got.Status)
	}
	if d := time.Since(closedAt); d > 2*time.Second {
		t.Fatalf("the stream went on %v after the client left", d)
	}
}

// Shutdown cuts a paced stream like any other: its pauses end at once,
// the client gets the shutdown error event, and Shutdown does not wait
// out the pacing.
func TestStreamPacingEndsAtShutdown(t *testing.T) {
	rec := &recorder{}
	srv, resp := startSlowPacedStream(t, rec)
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_ = srv.Shutdown(ctx)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Shutdown took %v: it waited for the pacing", d)
	}
	var rest strings.Builder
	for {
		line, err := r.ReadString('\n')
		rest.WriteString(line)
		if err != nil {
			break
		}
	}
	if !strings.Contains(rest.String(), "shutting down") || strings.Contains(rest.String(), "[DONE]") {
		t.Fatalf("a paced stream cut by shutdown must end with the error event: %q", rest.String())
	}
	if got := rec.last(t); got.Status != 503 {
		t.Fatalf("recorded %d", got.Status)
	}
}
