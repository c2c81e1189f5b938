package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	oai "github.com/openai/openai-go/v3"
)

// A model rule's code_execution and url_context add Google's tools
// upstream (on both protocols), and the code the model ran and its output
// reach OpenAI clients as fenced text blocks, unary and streamed.
func TestCodeExecutionThroughOpenAI(t *testing.T) {
	h := newHarness(t, nil, poolConfig([]string{keyA}, `
model "gemini-2.5-*" { code_execution = true }
model "gemini-2.5-flash" { url_context = true }
`))
	ctx := context.Background()
	c := openAIClient(h, "/v1")
	const prompt = "compute this"
	wantCode := "```python\nprint(\"compute this\")\n```"
	wantOutput := "```output\ncompute this\n"

	res, err := c.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{
		Model: "gemini-2.5-flash", Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage(prompt)},
	})
	if err != nil {
		t.Fatal(err)
	}
	up := string(h.mock.LastRequest().Body)
	if !strings.Contains(up, `{"codeExecution":{}}`) || !strings.Contains(up, `{"urlContext":{}}`) {
		t.Fatalf("tools not added upstream (rules merge: code_execution from the glob, url_context from the exact rule): %s", up)
	}
	text := res.Choices[0].Message.Content
	if !strings.Contains(text, wantCode) || !strings.Contains(text, wantOutput) || !strings.HasSuffix(text, "Echo: "+prompt) {
		t.Fatalf("unary answer %q", text)
	}

	stream := c.Chat.Completions.NewStreaming(ctx, oai.ChatCompletionNewParams{
		Model: "gemini-2.5-pro", Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage(prompt)},
	})
	var streamed strings.Builder
	for stream.Next() {
		for _, ch := range stream.Current().Choices {
			streamed.WriteString(ch.Delta.Content)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	up = string(h.mock.LastRequest().Body)
	if !strings.Contains(up, `{"codeExecution":{}}`) || strings.Contains(up, "urlContext") {
		t.Fatalf("gemini-2.5-pro gets code execution only: %s", up)
	}
	if s := streamed.String(); !strings.Contains(s, wantCode) || !strings.Contains(s, wantOutput) || !strings.HasSuffix(s, "Echo: "+prompt) {
		t.Fatalf("streamed answer %q", s)
	}

	// The native route gets the tools too; a tool the client sent is not
	// added twice.
	status, _, body := h.do("POST", "/v1beta/models/gemini-2.5-flash:generateContent",
		`{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"tools":[{"codeExecution":{}}]}`, nil)
	up = string(h.mock.LastRequest().Body)
	if status != 200 || strings.Count(up, "codeExecution") != 1 || !strings.Contains(up, "urlContext") || !strings.Contains(string(body), "executableCode") {
		t.Fatalf("native: %d %s\nupstream %s", status, body, up)
	}
}

// The pages the url_context tool retrieved reach OpenAI clients as
// url_citation annotations, which the SDK reads on the message (unary)
// and which arrive in a delta of the stream.
func TestURLContextAnnotationsThroughOpenAI(t *testing.T) {
	h := newHarness(t, nil, poolConfig([]string{keyA}, `model "gemini-2.5-flash" { url_context = true }`))
	ctx := context.Background()
	c := openAIClient(h, "/v1")
	const page = "https://example.org/recipes"
	params := oai.ChatCompletionNewParams{
		Model: "gemini-2.5-flash", Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("Summarize " + page + " please")},
	}
	res, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if a := res.Choices[0].Message.Annotations; len(a) != 1 || a[0].Type != "url_citation" || a[0].URLCitation.URL != page {
		t.Fatalf("unary annotations %+v", a)
	}

	stream := c.Chat.Completions.NewStreaming(ctx, params)
	var urls []string
	for stream.Next() {
		for _, ch := range stream.Current().Choices {
			var d struct {
				Annotations []oai.ChatCompletionMessageAnnotation `json:"annotations"`
			}
			if err := json.Unmarshal([]byte(ch.Delta.RawJSON()), &d); err != nil {
				t.Fatal(err)
			}
			for _, a := range d.Annotations {
				urls = append(urls, string(a.Type)+" "+a.URLCitation.URL)
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(urls) != 1 || urls[0] != "url_citation "+page {
		t.Fatalf("streamed annotations %v", urls)
	}
	// Without the tool, no annotations.
	params.Model = "gemini-2.5-pro"
	if res, err := c.Chat.Completions.New(ctx, params); err != nil || len(res.Choices[0].Message.Annotations) != 0 {
		t.Fatalf("no url_context: %v %+v", err, res)
	}
}
