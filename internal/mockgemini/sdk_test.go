package mockgemini

import (
	"context"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"google.golang.org/genai"
)

// The official Go SDK is the proof that the mock is faithful: every call
// below goes through google.golang.org/genai's own request building and
// response parsing.

func newSDK(t *testing.T, s *Server, key string) *genai.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := genai.NewClient(ctx, &genai.ClientConfig{
		APIKey:      key,
		Backend:     genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: s.URL(), APIVersion: "v1beta"},
	})
	if err != nil {
		t.Fatalf("genai.NewClient: %v", err)
	}
	return c
}

func sdkCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSDKGenerate(t *testing.T) {
	s := Start(t, Options{})
	c := newSDK(t, s, "sdk-key")
	ctx := sdkCtx(t)
	resp, err := c.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("Hello SDK"), &genai.GenerateContentConfig{
		SystemInstruction: genai.NewContentFromText("be terse", genai.RoleUser),
		SafetySettings:    []*genai.SafetySetting{{Category: genai.HarmCategoryHarassment, Threshold: genai.HarmBlockThresholdBlockNone}},
		ThinkingConfig:    &genai.ThinkingConfig{IncludeThoughts: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Text(); got != "Echo: Hello SDK" {
		t.Errorf("Text() = %q", got)
	}
	if !resp.Candidates[0].Content.Parts[0].Thought {
		t.Error("first part should be a thought")
	}
	u := resp.UsageMetadata
	if u.ThoughtsTokenCount == 0 || u.TotalTokenCount != u.PromptTokenCount+u.CandidatesTokenCount+u.ThoughtsTokenCount {
		t.Errorf("usage %+v", u)
	}
	if resp.ModelVersion != "gemini-2.5-flash" || resp.ResponseID == "" || resp.Candidates[0].FinishReason != genai.FinishReasonStop {
		t.Errorf("response metadata %+v", resp)
	}
	if s.LastRequest().Key != "sdk-key" {
		t.Errorf("SDK key not seen: %+v", s.LastRequest())
	}

	// Function calling round trip, the SDK echoing the signature back.
	tool := &genai.Tool{FunctionDeclarations: []*genai.FunctionDeclaration{{
		Name: "get_weather", Parameters: &genai.Schema{Type: genai.TypeObject,
			Properties: map[string]*genai.Schema{"city": {Type: genai.TypeString}}},
	}}}
	cfg := &genai.GenerateContentConfig{Tools: []*genai.Tool{tool}}
	history := genai.Text("Weather in Paris?")
	resp, err = c.Models.GenerateContent(ctx, "gemini-3-pro-preview", history, cfg)
	if err != nil {
		t.Fatal(err)
	}
	calls := resp.FunctionCalls()
	if len(calls) != 1 || calls[0].Name != "get_weather" || calls[0].ID == "" || len(resp.Candidates[0].Content.Parts[0].ThoughtSignature) == 0 {
		t.Fatalf("function call %+v", resp.Candidates[0].Content.Parts)
	}
	history = append(history, resp.Candidates[0].Content,
		genai.NewContentFromFunctionResponse("get_weather", map[string]any{"temp": 21}, genai.RoleUser))
	resp, err = c.Models.GenerateContent(ctx, "gemini-3-pro-preview", history, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Text(); got != `Function results: get_weather={"temp":21}` {
		t.Errorf("function result text %q", got)
	}
	// Dropping the signature is what Gemini 3 rejects.
	history[1].Parts[0].ThoughtSignature = nil
	_, err = c.Models.GenerateContent(ctx, "gemini-3-pro-preview", history, cfg)
	var apiErr genai.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 400 || !strings.Contains(apiErr.Message, "thought_signature") {
		t.Errorf("missing signature: %v", err)
	}
}

func TestSDKStream(t *testing.T) {
	s := Start(t, Options{StreamChunks: 4, StreamDelay: time.Millisecond})
	c := newSDK(t, s, "sdk-key")
	var text strings.Builder
	n := 0
	var last *genai.GenerateContentResponse
	for resp, err := range c.Models.GenerateContentStream(sdkCtx(t), "gemini-2.5-flash", genai.Text("streaming over the wire today"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		text.WriteString(resp.Text())
		last = resp
	}
	if n != 4 || text.String() != "Echo: streaming over the wire today" {
		t.Errorf("%d chunks, text %q", n, text.String())
	}
	if last.Candidates[0].FinishReason != genai.FinishReasonStop {
		t.Errorf("last chunk finish %q", last.Candidates[0].FinishReason)
	}
	if !strings.Contains(s.LastRequest().Query, "alt=sse") {
		t.Errorf("SDK did not ask for SSE: %q", s.LastRequest().Query)
	}

	// An in-band error surfaces as genai.APIError after the first chunks.
	s.SetFault("bad-stream", Fault{Kind: StreamError, AfterChunks: 1})
	c = newSDK(t, s, "bad-stream")
	var got []error
	chunks := 0
	for _, err := range c.Models.GenerateContentStream(sdkCtx(t), "gemini-2.5-flash", genai.Text("a b c d"), nil) {
		if err != nil {
			got = append(got, err)
			break
		}
		chunks++
	}
	var apiErr genai.APIError
	if chunks != 1 || len(got) != 1 || !errors.As(got[0], &apiErr) || apiErr.Code != 503 || apiErr.Status != "UNAVAILABLE" {
		t.Errorf("in-band error: %d chunks, errors %v", chunks, got)
	}
}

func TestSDKCountEmbedModels(t *testing.T) {
	s := Start(t, Options{})
	c := newSDK(t, s, "sdk-key")
	ctx := sdkCtx(t)

	ct, err := c.Models.CountTokens(ctx, "gemini-2.5-flash", genai.Text("count these tokens please"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ct.TotalTokens != int32(tokens(len("count these tokens please"))) {
		t.Errorf("TotalTokens %d", ct.TotalTokens)
	}

	dim := int32(32)
	emb, err := c.Models.EmbedContent(ctx, "gemini-embedding-001",
		[]*genai.Content{genai.NewContentFromText("one", genai.RoleUser), genai.NewContentFromText("two", genai.RoleUser)},
		&genai.EmbedContentConfig{OutputDimensionality: &dim})
	if err != nil {
		t.Fatal(err)
	}
	if len(emb.Embeddings) != 2 || len(emb.Embeddings[0].Values) != 32 {
		t.Errorf("embeddings %d", len(emb.Embeddings))
	}
	if !strings.HasSuffix(s.LastRequest().Path, ":batchEmbedContents") {
		t.Errorf("SDK embed went to %s", s.LastRequest().Path)
	}

	page, err := c.Models.List(ctx, &genai.ListModelsConfig{PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for pages := 0; ; pages++ {
		count += len(page.Items)
		if pages > len(catalog) {
			t.Fatal("pager does not end")
		}
		page, err = page.Next(ctx)
		if errors.Is(err, genai.ErrPageDone) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if count != len(catalog) {
		t.Errorf("listed %d models, want %d", count, len(catalog))
	}
	all := 0
	for m, err := range c.Models.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if m.Name == "" {
			t.Error("model without name")
		}
		all++
	}
	if all != len(catalog) {
		t.Errorf("All yielded %d", all)
	}
	m, err := c.Models.Get(ctx, "gemini-2.5-pro", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "models/gemini-2.5-pro" || m.InputTokenLimit != 1048576 || !m.Thinking || len(m.SupportedActions) == 0 {
		t.Errorf("model %+v", m)
	}
	_, err = c.Models.Get(ctx, "gemini-0", nil)
	var apiErr genai.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 404 || apiErr.Status != "NOT_FOUND" {
		t.Errorf("unknown model: %v", err)
	}
}

func TestSDKErrors(t *testing.T) {
	s := Start(t, Options{ValidKeys: []string{"good", "limited"}})
	s.SetFault("limited", Fault{Kind: RateLimit, RetryDelay: 3 * time.Second})
	ctx := sdkCtx(t)
	for _, tt := range []struct {
		key    string
		code   int
		status string
	}{
		{"limited", 429, "RESOURCE_EXHAUSTED"},
		{"unknown", 400, "INVALID_ARGUMENT"},
	} {
		_, err := newSDK(t, s, tt.key).Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("x"), nil)
		var apiErr genai.APIError
		if !errors.As(err, &apiErr) || apiErr.Code != tt.code || apiErr.Status != tt.status || len(apiErr.Details) == 0 {
			t.Errorf("%s: %v", tt.key, err)
		}
	}
}

// Veo through the SDK: GenerateVideos starts an operation, polling it
// finds it done on the second GET with one video per sample, and Download
// fetches each video's bytes. The operation is private to its key (404
// for another) and so are its videos (403, as for any other file, to a
// download or an extension).
func TestSDKGenerateVideos(t *testing.T) {
	s := Start(t, Options{})
	c := newSDK(t, s, "veo-owner")
	ctx := sdkCtx(t)
	op, err := c.Models.GenerateVideosFromSource(ctx, "veo-3.0-generate-001", &genai.GenerateVideosSource{Prompt: "a cat surfing"}, &genai.GenerateVideosConfig{NumberOfVideos: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(op.Name, "models/veo-3.0-generate-001/operations/") || op.Done {
		t.Fatalf("operation %+v", op)
	}
	polls := 0
	for !op.Done {
		if polls++; polls > 2 {
			t.Fatalf("not done after %d polls", polls-1)
		}
		if op, err = c.Operations.GetVideosOperation(ctx, op, nil); err != nil {
			t.Fatal(err)
		}
	}
	if polls != 2 || op.Response == nil || len(op.Response.GeneratedVideos) != 2 {
		t.Fatalf("after %d polls: %+v", polls, op.Response)
	}
	other := newSDK(t, s, "veo-other")
	for _, v := range op.Response.GeneratedVideos {
		data, err := c.Files.Download(ctx, genai.NewDownloadURIFromGeneratedVideo(v), nil)
		if err != nil {
			t.Fatal(err)
		}
		name := "files/" + strings.TrimSuffix(strings.TrimPrefix(v.Video.URI, googleFilesURI+"files/"), ":download?alt=media")
		f, ok := s.File(name)
		if !ok || f.Key != "veo-owner" || f.MIME != "video/mp4" || int64(len(data)) != f.Size || crc32.ChecksumIEEE(data) != f.CRC32 {
			t.Fatalf("%s: %d bytes, mock holds %+v (%v)", v.Video.URI, len(data), f, ok)
		}
		// The SDK's Download returns an error's body as the file's bytes.
		if r := call(t, s, "GET", "/v1beta/"+name+":download?alt=media", "veo-other", ""); r.status != 403 {
			t.Fatalf("another key's download: %d %s", r.status, r.body)
		}
	}
	if _, err := other.Operations.GetVideosOperation(ctx, op, nil); apiCode(err) != 404 {
		t.Fatalf("another key's poll: %v", err)
	}
	// Extending a video names it: only its key may.
	extend := &genai.GenerateVideosSource{Prompt: "and then", Video: op.Response.GeneratedVideos[0].Video}
	if ext, err := c.Models.GenerateVideosFromSource(ctx, "veo-3.0-generate-001", extend, nil); err != nil || ext.Name == "" {
		t.Fatalf("extend: %+v %v", ext, err)
	}
	if _, err := other.Models.GenerateVideosFromSource(ctx, "veo-3.0-generate-001", extend, nil); apiCode(err) != 403 {
		t.Fatalf("another key's extension: %v", err)
	}
	m, err := c.Models.Get(ctx, "veo-3.0-generate-001", nil)
	if err != nil || len(m.SupportedActions) != 1 || m.SupportedActions[0] != "predictLongRunning" {
		t.Fatalf("model %+v: %v", m, err)
	}
}

func apiCode(err error) int {
	var ae genai.APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}
