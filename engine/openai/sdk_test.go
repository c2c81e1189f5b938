package openai

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// Canned Gemini answers the test server translates.
const (
	geminiUnary = `{
  "candidates": [{"content": {"parts": [{"text": "Checking.", "thought": true}, {"text": "Paris"},
    {"functionCall": {"id": "c9", "name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "EukB+/8="}], "role": "model"},
    "finishReason": "STOP", "index": 0}],
  "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 1, "totalTokenCount": 46, "thoughtsTokenCount": 34}
}`
)

var geminiEvents = []string{
	`{"candidates": [{"content": {"parts": [{"text": "Hel"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 3,"totalTokenCount": 3}}`,
	`{"candidates": [{"content": {"parts": [{"text": "lo"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 3,"candidatesTokenCount": 1,"totalTokenCount": 4}}`,
	`{"candidates": [{"content": {"parts": [{"functionCall": {"name": "weather","args": {"city": "Rome"}},"thoughtSignature": "QUJD"}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 3,"candidatesTokenCount": 2,"totalTokenCount": 5}}`,
}

// sdkServer is a miniature engine: OpenAI routes answered through this
// package's translations over canned Gemini bodies. lastGemini receives the
// translated request.
func sdkServer(t *testing.T, lastGemini chan<- []byte) *httptest.Server {
	mux := http.NewServeMux()
	json200 := func(w http.ResponseWriter, b []byte) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}
	writeErr := func(w http.ResponseWriter, e *Error) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(e.Status)
		_, _ = w.Write(e.JSON())
	}
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		cr, e := TranslateChatRequest(r.Context(), body, Options{})
		if e != nil {
			writeErr(w, e)
			return
		}
		select {
		case lastGemini <- cr.Gemini:
		default:
		}
		rep := cr.Reply(NewCompletionID(), 1767225600)
		switch cr.Model {
		case "rate-limited":
			writeErr(w, ErrorFromGemini(429, []byte(`{"error":{"code":429,"message":"You exceeded your current quota","status":"RESOURCE_EXHAUSTED"}}`)))
			return
		case "compat-array":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			_, _ = w.Write(ErrorFromGemini(400, []byte(`[{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}]`)).JSON())
			return
		}
		if !cr.Stream {
			out, _, err := TranslateChatResponse([]byte(geminiUnary), rep, Options{})
			if err != nil {
				t.Errorf("TranslateChatResponse: %v", err)
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(out)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		st := NewStreamTranslator(rep, Options{})
		_, _ = w.Write(KeepAlive) // must be ignored by the SDK
		for i, ev := range geminiEvents {
			if cr.Model == "fails-midway" && i == 1 {
				_ = st.Fail(ErrorFromGemini(503, []byte(`{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}`)), w)
				return
			}
			if err := st.Event([]byte(ev), w); err != nil {
				t.Errorf("Event: %v", err)
			}
			w.(http.Flusher).Flush()
		}
		if err := st.Finish(w); err != nil {
			t.Errorf("Finish: %v", err)
		}
	})
	mux.HandleFunc("POST /v1/embeddings", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		er, e := TranslateEmbeddingsRequest(body)
		if e != nil {
			writeErr(w, e)
			return
		}
		out, err := er.TranslateEmbeddingsResponse([]byte(`{"embeddings": [{"values": [0.5, -0.25, 1e-3]}, {"values": [1, 2, 3]}]}`))
		if err != nil {
			t.Errorf("embeddings: %v", err)
		}
		json200(w, out)
	})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		json200(w, ModelList([]string{"gemini-2.5-flash", "gemini-2.5-flash-search"}))
	})
	mux.HandleFunc("POST /v1/images/generations", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, e := TranslateImagesRequest(body); e != nil {
			writeErr(w, e)
			return
		}
		out, err := TranslateImagesResponse([]byte(`{"predictions":[{"bytesBase64Encoded":"iVBORw0KGgo=","mimeType":"image/png"}]}`), 1767225600)
		if err != nil {
			t.Errorf("images: %v", err)
		}
		json200(w, out)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func sdkClient(srv *httptest.Server) oai.Client {
	return oai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("test-token"), option.WithMaxRetries(0),
		option.WithRequestTimeout(10*time.Second))
}

func TestOpenAIGoSDK(t *testing.T) {
	gem := make(chan []byte, 1)
	srv := sdkServer(t, gem)
	c := sdkClient(srv)
	ctx := context.Background()

	t.Run("non-stream", func(t *testing.T) {
		res, err := c.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{
			Model:    "gemini-2.5-flash",
			Messages: []oai.ChatCompletionMessageParamUnion{oai.SystemMessage("terse"), oai.UserMessage("Weather in Paris?")},
			Tools: []oai.ChatCompletionToolUnionParam{oai.ChatCompletionFunctionTool(oai.FunctionDefinitionParam{
				Name: "weather", Parameters: oai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
			})},
			Temperature: oai.Float(0.3),
		})
		if err != nil {
			t.Fatal(err)
		}
		g := <-gem
		if !strings.Contains(string(g), `"systemInstruction":{"role":"user","parts":[{"text":"terse"}]}`) ||
			!strings.Contains(string(g), `"parametersJsonSchema"`) || !strings.Contains(string(g), `"temperature":0.3`) {
			t.Errorf("SDK request translated to %s", g)
		}
		if !strings.HasPrefix(res.ID, "chatcmpl-") || res.Object != "chat.completion" || len(res.Choices) != 1 {
			t.Fatalf("bad completion: %+v", res)
		}
		ch := res.Choices[0]
		if ch.Message.Content != "Paris" || ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 {
			t.Fatalf("choice: %+v", ch)
		}
		tc := ch.Message.ToolCalls[0]
		if tc.Function.Name != "weather" || tc.Function.Arguments != `{"city":"Paris"}` {
			t.Errorf("tool call %+v", tc)
		}
		if gid, sig := parseToolCallID(tc.ID); gid != "c9" || sig != "EukB+/8=" {
			t.Errorf("tool call id %q → gid %q sig %q", tc.ID, gid, sig)
		}
		if res.Usage.PromptTokens != 11 || res.Usage.CompletionTokens != 35 || res.Usage.TotalTokens != 46 ||
			res.Usage.CompletionTokensDetails.ReasoningTokens != 34 {
			t.Errorf("usage %+v", res.Usage)
		}
		var raw struct {
			Choices []struct {
				Message struct {
					ReasoningContent string `json:"reasoning_content"`
				} `json:"message"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(res.RawJSON()), &raw); err != nil || raw.Choices[0].Message.ReasoningContent != "Checking." {
			t.Errorf("reasoning_content: %v %+v", err, raw)
		}

		// Round trip: the SDK sends the assistant message back with the
		// tool result; the signature and name must reach Gemini.
		_, err = c.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{
			Model: "gemini-2.5-flash",
			Messages: []oai.ChatCompletionMessageParamUnion{
				oai.UserMessage("Weather in Paris?"), ch.Message.ToParam(), oai.ToolMessage(`{"temp":21}`, tc.ID),
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		g = <-gem
		for _, want := range []string{`"thoughtSignature":"EukB+/8="`, `"functionResponse":{"id":"c9","name":"weather","response":{"temp":21}}`, `"functionCall":{"id":"c9","name":"weather","args":{"city":"Paris"}}`} {
			if !strings.Contains(string(g), want) {
				t.Errorf("round trip missing %s in %s", want, g)
			}
		}
	})

	t.Run("stream", func(t *testing.T) {
		st := c.Chat.Completions.NewStreaming(ctx, oai.ChatCompletionNewParams{
			Model:         "gemini-2.5-flash",
			Messages:      []oai.ChatCompletionMessageParamUnion{oai.UserMessage("hi")},
			StreamOptions: oai.ChatCompletionStreamOptionsParam{IncludeUsage: oai.Bool(true)},
		})
		<-gem
		acc := oai.ChatCompletionAccumulator{}
		ids := map[string]bool{}
		var last oai.ChatCompletionChunk
		n := 0
		for st.Next() {
			ch := st.Current()
			acc.AddChunk(ch)
			ids[ch.ID] = true
			last = ch
			n++
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 || n < 4 {
			t.Errorf("chunks %d ids %v", n, ids)
		}
		if len(last.Choices) != 0 || last.Usage.TotalTokens != 5 {
			t.Errorf("last chunk should be usage-only: %+v", last)
		}
		msg := acc.Choices[0]
		if msg.Message.Content != "Hello" || msg.FinishReason != "tool_calls" || len(msg.Message.ToolCalls) != 1 ||
			msg.Message.ToolCalls[0].Function.Arguments != `{"city":"Rome"}` {
			t.Errorf("accumulated %+v", msg)
		}
		if _, sig := parseToolCallID(msg.Message.ToolCalls[0].ID); sig != "QUJD" {
			t.Errorf("signature lost in stream id %q", msg.Message.ToolCalls[0].ID)
		}
	})

	t.Run("stream fails midway", func(t *testing.T) {
		st := c.Chat.Completions.NewStreaming(ctx, oai.ChatCompletionNewParams{
			Model: "fails-midway", Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("hi")},
		})
		<-gem
		n := 0
		for st.Next() {
			n++
		}
		err := st.Err()
		if err == nil || !strings.Contains(err.Error(), "overloaded") || n != 1 {
			t.Errorf("chunks %d err %v; want the in-band error surfaced", n, err)
		}
	})

	t.Run("errors keep status and message", func(t *testing.T) {
		for _, tc := range []struct {
			model  string
			status int
			msg    string
		}{{"rate-limited", 429, "quota"}, {"compat-array", 400, "API key not valid"}} {
			_, err := c.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{Model: tc.model, Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("x")}})
			<-gem
			var ae *oai.Error
			if !errors.As(err, &ae) || ae.StatusCode != tc.status || !strings.Contains(ae.Message, tc.msg) {
				t.Errorf("%s: %v", tc.model, err)
			}
		}
		_, err := c.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{Model: "m", Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("x")}, N: oai.Int(50)})
		var ae *oai.Error
		if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != "n" {
			t.Errorf("n=50: %v", err)
		}
	})

	t.Run("embeddings", func(t *testing.T) {
		res, err := c.Embeddings.New(ctx, oai.EmbeddingNewParams{Model: "gemini-embedding-001",
			Input: oai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Data) != 2 || res.Data[0].Embedding[1] != -0.25 || res.Data[1].Index != 1 || res.Model != "gemini-embedding-001" {
			t.Errorf("embeddings %+v", res)
		}
	})

	t.Run("models", func(t *testing.T) {
		page, err := c.Models.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range page.Data {
			ids = append(ids, m.ID)
		}
		if strings.Join(ids, ",") != "gemini-2.5-flash,gemini-2.5-flash-search" {
			t.Errorf("models %v", ids)
		}
	})

	t.Run("images", func(t *testing.T) {
		res, err := c.Images.Generate(ctx, oai.ImageGenerateParams{Model: "imagen-4.0-generate-001", Prompt: "a cat", Size: "1792x1024"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Data) != 1 || res.Data[0].B64JSON != "iVBORw0KGgo=" {
			t.Errorf("images %+v", res)
		}
	})
}
