package mockgemini

import (
	"testing"

	"google.golang.org/genai"
)

// With the code execution tool the mock runs "print(<user text>)": an
// executableCode part and its codeExecutionResult come before the answer
// text, unary and streamed (each its own event). With url context the
// final candidate names the URL it read.
func TestSDKCodeExecutionAndURLContext(t *testing.T) {
	s := Start(t, Options{StreamChunks: 2})
	c := newSDK(t, s, "sdk-key")
	ctx := sdkCtx(t)
	cfg := &genai.GenerateContentConfig{Tools: []*genai.Tool{{CodeExecution: &genai.ToolCodeExecution{}}, {URLContext: &genai.URLContext{}}}}
	resp, err := c.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("read https://example.org/x now"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	parts := resp.Candidates[0].Content.Parts
	if len(parts) != 3 || parts[0].ExecutableCode == nil || parts[1].CodeExecutionResult == nil || parts[2].Text == "" {
		t.Fatalf("parts %+v", parts)
	}
	if parts[0].ExecutableCode.Code != `print("read https://example.org/x now")` || parts[0].ExecutableCode.Language != genai.LanguagePython ||
		parts[1].CodeExecutionResult.Output != "read https://example.org/x now\n" || parts[1].CodeExecutionResult.Outcome != genai.OutcomeOK {
		t.Fatalf("code %+v result %+v", parts[0].ExecutableCode, parts[1].CodeExecutionResult)
	}
	um := resp.Candidates[0].URLContextMetadata
	if um == nil || len(um.URLMetadata) != 1 || um.URLMetadata[0].RetrievedURL != "https://example.org/x" {
		t.Fatalf("url context %+v", um)
	}

	var kinds []string
	for r, err := range c.Models.GenerateContentStream(ctx, "gemini-2.5-flash", genai.Text("two words"), cfg) {
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range r.Candidates[0].Content.Parts {
			switch {
			case p.ExecutableCode != nil:
				kinds = append(kinds, "code")
			case p.CodeExecutionResult != nil:
				kinds = append(kinds, "result")
			case p.Text != "":
				kinds = append(kinds, "text")
			}
		}
	}
	if len(kinds) < 3 || kinds[0] != "code" || kinds[1] != "result" || kinds[2] != "text" {
		t.Fatalf("stream part order %v", kinds)
	}

	// Without the tools: no code parts.
	resp, err = c.Models.GenerateContent(ctx, "gemini-2.5-flash", genai.Text("plain"), nil)
	if err != nil || len(resp.Candidates[0].Content.Parts) != 1 || resp.Candidates[0].URLContextMetadata != nil {
		t.Fatalf("%v %+v", err, resp.Candidates[0])
	}
}
