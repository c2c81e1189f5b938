package engine_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/balanceproxy/balance/internal/mockgemini"
)

func openAIClient(h *harness, base string) oai.Client {
	return oai.NewClient(option.WithBaseURL(h.url+base), option.WithAPIKey(h.token), option.WithMaxRetries(0))
}

func TestOpenAISDKChatAndStream(t *testing.T) {
	h := newHarness(t, []string{keyA, keyB}, "")
	ctx := context.Background()
	for _, base := range []string{"/v1", "/hf/v1"} {
		c := openAIClient(h, base)
		res, err := c.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{
			Model: "gemini-2.5-flash",
			Messages: []oai.ChatCompletionMessageParamUnion{
				oai.SystemMessage("You are terse."),
				oai.UserMessage("hello from openai"),
			},
		})
		if err != nil {
			t.Fatalf("%s chat: %v", base, err)
		}
		if len(res.Choices) != 1 || !strings.Contains(res.Choices[0].Message.Content, "hello from openai") || res.Choices[0].FinishReason != "stop" {
			t.Fatalf("chat answer %+v", res.Choices)
		}
		if res.Usage.TotalTokens == 0 || res.Usage.CompletionTokensDetails.ReasoningTokens == 0 {
			t.Fatalf("usage %+v must carry reasoning tokens of a thinking model", res.Usage)
		}
		// The system message became a systemInstruction upstream.
		if up := string(h.mock.LastRequest().Body); !strings.Contains(up, `"systemInstruction"`) || !strings.Contains(h.mock.LastRequest().Path, "gemini-2.5-flash:generateContent") {
			t.Fatalf("upstream request %s %s", h.mock.LastRequest().Path, up)
		}

		stream := c.Chat.Completions.NewStreaming(ctx, oai.ChatCompletionNewParams{
			Model:         "gemini-2.5-flash",
			Messages:      []oai.ChatCompletionMessageParamUnion{oai.UserMessage("stream this answer please")},
			StreamOptions: oai.ChatCompletionStreamOptionsParam{IncludeUsage: oai.Bool(true)},
		})
		var text strings.Builder
		ids := map[string]bool{}
		finish := ""
		sawUsage := false
		for stream.Next() {
			ch := stream.Current()
			ids[ch.ID] = true
			for _, choice := range ch.Choices {
				text.WriteString(choice.Delta.Content)
				if choice.FinishReason != "" {
					finish = choice.FinishReason
				}
			}
			if ch.Usage.TotalTokens > 0 {
				sawUsage = true
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("stream: %v", err)
		}
		if !strings.Contains(text.String(), "stream this answer please") || finish != "stop" || len(ids) != 1 || !sawUsage {
			t.Fatalf("stream text %q finish %q ids %v usage %v", text.String(), finish, ids, sawUsage)
		}
	}
}

func TestOpenAISDKToolLoopKeepsThoughtSignatures(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	ctx := context.Background()
	c := openAIClient(h, "/v1")
	tools := []oai.ChatCompletionToolUnionParam{oai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: oai.String("Weather for a city"),
		Parameters: shared.FunctionParameters{
			"type":       "object",
			"properties": map[string]any{"city": map[string]any{"type": "string"}},
			"required":   []string{"city"},
		},
	})}
	msgs := []oai.ChatCompletionMessageParamUnion{oai.UserMessage("What is the weather in Paris?")}
	// gemini-3 rejects a function-call history without its signature, so
	// the second turn only succeeds if the signature round-tripped.
	res, err := c.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{Model: "gemini-3-pro-preview", Messages: msgs, Tools: tools})
	if err != nil {
		t.Fatal(err)
	}
	choice := res.Choices[0]
	if choice.FinishReason != "tool_calls" || len(choice.Message.ToolCalls) != 1 {
		t.Fatalf("turn 1: finish %q calls %+v", choice.FinishReason, choice.Message.ToolCalls)
	}
	call := choice.Message.ToolCalls[0]
	msgs = append(msgs, choice.Message.ToParam(), oai.ToolMessage(`{"temp_c": 21}`, call.ID))
	res, err = c.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{Model: "gemini-3-pro-preview", Messages: msgs, Tools: tools})
	if err != nil {
		t.Fatalf("turn 2 (signature lost?): %v", err)
	}
	if !strings.Contains(res.Choices[0].Message.Content, "21") || res.Choices[0].FinishReason != "stop" {
		t.Fatalf("turn 2 answer %+v", res.Choices[0])
	}
	up := string(h.mock.LastRequest().Body)
	if !strings.Contains(up, `"functionResponse"`) || !strings.Contains(up, `"name":"get_weather"`) || !strings.Contains(up, `"thoughtSignature"`) {
		t.Fatalf("upstream history lacks the function response or signature: %s", up)
	}
}

func TestOpenAISDKJSONSchemaEmbeddingsImagesModels(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	ctx := context.Background()
	c := openAIClient(h, "/v1")

	res, err := c.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{
		Model:    "gemini-2.5-flash",
		Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("a person")},
		ResponseFormat: oai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "person", Schema: map[string]any{
				"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}, "age": map[string]any{"type": "integer"}},
			}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var person map[string]any
	if err := json.Unmarshal([]byte(res.Choices[0].Message.Content), &person); err != nil || person["name"] == nil {
		t.Fatalf("json_schema answer %q: %v", res.Choices[0].Message.Content, err)
	}

	emb, err := c.Embeddings.New(ctx, oai.EmbeddingNewParams{
		Model: "gemini-embedding-001", Input: oai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"one", "two"}}, Dimensions: oai.Int(8),
	})
	if err != nil || len(emb.Data) != 2 || len(emb.Data[0].Embedding) != 8 {
		t.Fatalf("embeddings float: %v %+v", err, emb)
	}
	// base64, as the Node SDK asks by default: little-endian float32.
	status, _, body := h.do("POST", "/v1/embeddings", `{"model":"gemini-embedding-001","input":"one","encoding_format":"base64","dimensions":8}`, map[string]string{"Authorization": "Bearer " + testToken})
	if status != 200 {
		t.Fatalf("base64 embeddings %d %s", status, body)
	}
	var b64 struct {
		Data []struct {
			Embedding string `json:"embedding"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &b64); err != nil || len(b64.Data) != 1 {
		t.Fatalf("%s: %v", body, err)
	}
	raw, err := base64.StdEncoding.DecodeString(b64.Data[0].Embedding)
	if err != nil || len(raw) != 8*4 {
		t.Fatalf("base64 vector of %d bytes: %v", len(raw), err)
	}
	first := math.Float32frombits(binary.LittleEndian.Uint32(raw))
	if math.Abs(float64(first)-emb.Data[0].Embedding[0]) > 1e-6 {
		t.Fatalf("base64 vector %v differs from float %v", first, emb.Data[0].Embedding[0])
	}

	img, err := c.Images.Generate(ctx, oai.ImageGenerateParams{Model: "imagen-4.0-generate-001", Prompt: "a red bicycle", N: oai.Int(2)})
	if err != nil || len(img.Data) != 2 || img.Data[0].B64JSON == "" {
		t.Fatalf("images: %v %+v", err, img)
	}
	if !strings.Contains(h.mock.LastRequest().Path, "imagen-4.0-generate-001:predict") {
		t.Fatalf("images went to %s", h.mock.LastRequest().Path)
	}

	page, err := c.Models.List(ctx)
	if err != nil || len(page.Data) < 3 {
		t.Fatalf("models: %v %+v", err, page)
	}
	seenSearch := false
	for _, m := range page.Data {
		seenSearch = seenSearch || strings.HasSuffix(m.ID, "-search")
	}
	if !seenSearch {
		t.Fatal("models list lacks the virtual -search models")
	}
}

func TestOpenAIErrorsKeepGoogleStatus(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	ctx := context.Background()
	c := openAIClient(h, "/v1")
	h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.RateLimit, RetryDelay: 9 * time.Second})
	_, err := c.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{Model: "gemini-2.5-flash", Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("hi")}})
	var apiErr *oai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Message == "" {
		t.Fatalf("want a 429 APIError, got %v", err)
	}
	if ra := apiErr.Response.Header.Get("Retry-After"); ra == "" {
		t.Fatal("429 without Retry-After")
	}

	calls := h.mock.Total()
	for _, tc := range []struct {
		body  string
		param string
	}{
		{`{"model":"gemini-2.5-flash","messages":[{"role":"wizard","content":"hi"}]}`, "messages[0].role"},
		{`{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}],"n":99}`, "n"},
		{`{"model":"gemini-2.5-flash"}`, "messages"},
		{`not json`, ""},
	} {
		status, _, body := h.do("POST", "/v1/chat/completions", tc.body, map[string]string{"Authorization": "Bearer " + testToken})
		var e struct {
			Error struct {
				Message string  `json:"message"`
				Type    string  `json:"type"`
				Param   *string `json:"param"`
			} `json:"error"`
		}
		if status != 400 || json.Unmarshal(body, &e) != nil || e.Error.Message == "" || e.Error.Type != "invalid_request_error" {
			t.Fatalf("%s → %d %s", tc.body, status, body)
		}
		if tc.param != "" && (e.Error.Param == nil || *e.Error.Param != tc.param) {
			t.Fatalf("%s → param %v, want %q", tc.body, e.Error.Param, tc.param)
		}
	}
	if h.mock.Total() != calls {
		t.Fatal("bad input reached the upstream")
	}
	status, _, body := h.do("POST", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, map[string]string{"Authorization": "Bearer nope-not-a-token"})
	if status != 401 || !strings.Contains(string(body), `"authentication_error"`) {
		t.Fatalf("bad token → %d %s", status, body)
	}
}

func TestOpenAIStreamFailureAfterStartIsAnErrorChunk(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.StreamCut, AfterChunks: 1})
	c := openAIClient(h, "/v1")
	stream := c.Chat.Completions.NewStreaming(context.Background(), oai.ChatCompletionNewParams{
		Model: "gemini-2.5-flash", Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("a long answer please")},
	})
	n := 0
	for stream.Next() {
		n++
	}
	if stream.Err() == nil || n == 0 {
		t.Fatalf("a cut stream must surface as an SDK error after %d chunks, got err=%v", n, stream.Err())
	}
}

func TestOpenAIKeepAliveStreamsASlowUnaryAnswer(t *testing.T) {
	h := newHarness(t, []string{keyA}, poolConfig([]string{keyA}, `openai { keep_alive = "100ms" }`))
	h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.Slow, Delay: 450 * time.Millisecond})
	status, hdr, body := h.do("POST", "/v1/chat/completions", `{"model":"gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"slow one"}]}`, map[string]string{"Authorization": "Bearer " + testToken})
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d ct %s", status, hdr.Get("Content-Type"))
	}
	s := string(body)
	if strings.Count(s, ": keep-alive") < 2 || !strings.Contains(s, "slow one") || !strings.HasSuffix(s, "data: [DONE]\n\n") {
		t.Fatalf("keep-alive stream %q", s)
	}
	if !strings.Contains(h.mock.LastRequest().Path, ":generateContent") {
		t.Fatalf("keep-alive mode must call the unary method, called %s", h.mock.LastRequest().Path)
	}
}

func TestOpenAIPassthroughRewrapsArrayErrors(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	c := openAIClient(h, "/openai/v1")
	res, err := c.Chat.Completions.New(context.Background(), oai.ChatCompletionNewParams{Model: "gemini-2.5-flash", Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("through google's compat")}})
	if err != nil || len(res.Choices) == 0 {
		t.Fatalf("passthrough chat: %v", err)
	}
	if p := h.mock.LastRequest().Path; p != "/v1beta/openai/chat/completions" {
		t.Fatalf("passthrough went to %s", p)
	}
	if h.mock.LastRequest().Key != keyA {
		t.Fatal("passthrough did not send the pool key")
	}
	// Google's compat endpoint answers errors as arrays; SDKs need objects.
	_, err = c.Embeddings.New(context.Background(), oai.EmbeddingNewParams{Model: "gemini-embedding-001", Input: oai.EmbeddingNewParamsInputUnion{OfString: oai.String("x")}, EncodingFormat: oai.EmbeddingNewParamsEncodingFormatBase64})
	var apiErr *oai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Message == "" {
		t.Fatalf("want a 400 with its message kept, got %v", err)
	}
}
