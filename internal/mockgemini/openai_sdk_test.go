package mockgemini

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// The compat endpoint is checked with the official openai-go client, the
// way users point it at Google (base URL .../v1beta/openai/).
func TestOpenAISDKAgainstCompat(t *testing.T) {
	s := Start(t, Options{StreamChunks: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := openai.NewClient(option.WithBaseURL(s.URL()+"/v1beta/openai/"), option.WithAPIKey("oa-key"), option.WithMaxRetries(0))

	resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "gemini-2.5-flash",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello compat")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "Echo: hello compat" || resp.Usage.TotalTokens == 0 {
		t.Errorf("completion %+v", resp)
	}
	if s.LastRequest().Key != "oa-key" {
		t.Errorf("bearer key not seen: %q", s.LastRequest().Key)
	}

	st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:         "gemini-2.5-flash",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("one two three four")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	for st.Next() {
		acc.AddChunk(st.Current())
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if got := acc.Choices[0].Message.Content; got != "Echo: one two three four" {
		t.Errorf("streamed %q", got)
	}
	if acc.Usage.TotalTokens == 0 {
		t.Error("no usage chunk")
	}

	emb, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "gemini-embedding-001",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(emb.Data) != 2 || len(emb.Data[0].Embedding) != defaultEmbedDim {
		t.Errorf("embeddings %d", len(emb.Data))
	}

	models, err := c.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(models.Data) != len(catalog) || !strings.HasPrefix(models.Data[0].ID, "models/") {
		t.Errorf("models %d", len(models.Data))
	}

	// Google's array-shaped errors: the SDK keeps the status but loses the
	// message, exactly the trap the proxy must re-wrap.
	s.SetFault("oa-limited", Fault{Kind: RateLimit})
	c2 := openai.NewClient(option.WithBaseURL(s.URL()+"/v1beta/openai/"), option.WithAPIKey("oa-limited"), option.WithMaxRetries(0))
	_, err = c2.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "gemini-2.5-flash",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")},
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 {
		t.Errorf("rate limited: %v", err)
	}
}
