package mockgemini

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestGoldenWire pins the exact bytes of every route's answer: status,
// Content-Type and body.
func TestGoldenWire(t *testing.T) {
	s := Start(t, Options{})
	s.SetFault("key-rl", Fault{Kind: RateLimit, RetryDelay: 1500 * time.Millisecond})
	s.SetFault("AIzaSyLEAKEDkey0123456789", Fault{Kind: PermissionDenied})
	s.SetFault("key-503", Fault{Kind: Unavailable})
	s.SetFault("key-500", Fault{Kind: Internal})
	s.SetFault("key-400", Fault{Kind: BadRequest})
	s.SetFault("key-bad", Fault{Kind: InvalidKey})

	const gen = "/v1beta/models/gemini-2.5-flash:generateContent"
	tools := `"tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather","parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING"},"days":{"type":"INTEGER"},"unit":{"type":"STRING","enum":["C","F"]}},"required":["city"]}}]}]`
	cases := []struct {
		name, method, path, key, body string
	}{
		{"generate", "POST", gen, "k1", helloBody},
		{"generate_query_key", "POST", gen, "?k1", helloBody},
		{"generate_lite", "POST", "/v1beta/models/gemini-2.5-flash-lite:generateContent", "k1", helloBody},
		{"generate_v1", "POST", "/v1/models/gemini-2.0-flash:generateContent", "k1", helloBody},
		{"generate_thoughts", "POST", gen, "k1", `{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"thinkingConfig":{"includeThoughts":true}}}`},
		{"generate_max_tokens", "POST", gen, "k1", `{"contents":[{"role":"user","parts":[{"text":"a long question here"}]}],"generationConfig":{"maxOutputTokens":2}}`},
		{"generate_function_call", "POST", gen, "k1", `{"contents":[{"role":"user","parts":[{"text":"Weather in Paris?"}]}],` + tools + `}`},
		{"generate_function_response", "POST", gen, "k1", `{"contents":[{"role":"user","parts":[{"text":"Weather in Paris?"}]},` +
			`{"role":"model","parts":[{"functionCall":{"id":"a1","name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"c2ln"}]},` +
			`{"role":"user","parts":[{"functionResponse":{"id":"a1","name":"get_weather","response":{ "temp" : 21 }}}]}],` + tools + `}`},
		{"generate_json_schema", "POST", gen, "k1", `{"contents":[{"role":"user","parts":[{"text":"a recipe"}]}],"generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"OBJECT","properties":{"name":{"type":"STRING"},"servings":{"type":"INTEGER"},"vegan":{"type":"BOOLEAN"},"steps":{"type":"ARRAY","items":{"type":"STRING"}}}}}}`},
		{"generate_image", "POST", "/v1beta/models/gemini-2.5-flash-image:generateContent", "k1", `{"contents":[{"role":"user","parts":[{"text":"a cat"}]}],"generationConfig":{"responseModalities":["TEXT","IMAGE"]}}`},
		{"generate_grounding", "POST", gen, "k1", `{"contents":[{"role":"user","parts":[{"text":"who won"}]}],"tools":[{"googleSearch":{}}]}`},
		{"generate_unknown_fields", "POST", gen, "k1", `{"contents":[{"role":"user","parts":[{"text":"x"}]}],"safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}],"someFutureField":{"a":1},"store":false}`},
		{"sse", "POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "k1", helloBody},
		{"sse_thoughts_json", "POST", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "k1", `{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"responseMimeType":"application/json","thinkingConfig":{"includeThoughts":true}}}`},
		{"stream_array", "POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", "k1", helloBody},
		{"tts", "POST", "/v1beta/models/gemini-2.5-flash-preview-tts:generateContent", "k1", ttsBody},
		{"sse_tts", "POST", "/v1beta/models/gemini-3.1-flash-tts-preview:streamGenerateContent?alt=sse", "k1", ttsBody},
		{"err_tts_text_modality", "POST", "/v1beta/models/gemini-2.5-flash-preview-tts:generateContent", "k1", helloBody},
		{"err_tts_unknown_voice", "POST", "/v1beta/models/gemini-2.5-flash-preview-tts:generateContent", "k1", `{"contents":[{"parts":[{"text":"Hi"}]}],"generationConfig":{"responseModalities":["AUDIO"],"speechConfig":{"voiceConfig":{"prebuiltVoiceConfig":{"voiceName":"alloy"}}}}}`},
		{"err_audio_on_text_model", "POST", gen, "k1", ttsBody},
		{"count_tokens", "POST", "/v1beta/models/gemini-2.5-flash:countTokens", "k1", helloBody},
		{"count_tokens_gcr", "POST", "/v1beta/models/gemini-2.5-flash:countTokens", "k1", `{"generateContentRequest":{"model":"models/gemini-2.5-flash","contents":[{"role":"user","parts":[{"text":"Hello there wonderful world"}]}],"systemInstruction":{"parts":[{"text":"Be terse."}]}}}`},
		{"embed", "POST", "/v1beta/models/gemini-embedding-001:embedContent", "k1", `{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"hello"}]},"outputDimensionality":4}`},
		{"batch_embed", "POST", "/v1beta/models/gemini-embedding-001:batchEmbedContents", "k1", `{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"a"}]},"outputDimensionality":3},{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"b"}]},"outputDimensionality":2}]}`},
		{"predict", "POST", "/v1beta/models/imagen-4.0-generate-001:predict", "k1", `{"instances":[{"prompt":"robot"}],"parameters":{"sampleCount":2}}`},
		{"err_video_no_prompt", "POST", "/v1beta/models/veo-3.0-generate-001:predictLongRunning", "k1", `{"instances":[{"prompt":" "}]}`},
		{"err_video_unknown_operation", "GET", "/v1beta/models/veo-3.0-generate-001/operations/nope", "k1", ""},
		{"err_video_model_for_predict", "POST", "/v1beta/models/imagen-4.0-generate-001:predictLongRunning", "k1", `{"instances":[{"prompt":"x"}]}`},
		{"models_get_veo", "GET", "/v1beta/models/veo-3.0-generate-001", "k1", ""},
		{"models_page", "GET", "/v1beta/models?pageSize=2", "k1", ""},
		{"models_last_page", "GET", "/v1beta/models?pageSize=3&pageToken=" + encodePageToken(len(catalog)-2), "k1", ""},
		{"models_get", "GET", "/v1beta/models/gemini-2.5-flash", "k1", ""},
		{"models_get_embedding", "GET", "/v1beta/models/gemini-embedding-001", "k1", ""},
		{"openai_models", "GET", "/v1beta/openai/models", "Bearer k1", ""},
		{"err_no_key", "POST", gen, "", helloBody},
		{"err_invalid_key", "POST", gen, "key-bad", helloBody},
		{"err_429", "POST", "/v1beta/models/gemini-2.5-pro:generateContent", "key-rl", helloBody},
		{"err_403_leaked", "POST", gen, "AIzaSyLEAKEDkey0123456789", helloBody},
		{"err_503", "POST", gen, "key-503", helloBody},
		{"err_500", "POST", gen, "key-500", helloBody},
		{"err_400", "POST", gen, "key-400", helloBody},
		{"err_bad_json", "POST", gen, "k1", `{"contents":[`},
		{"err_missing_contents", "POST", gen, "k1", `{"generationConfig":{}}`},
		{"err_model_not_found", "POST", "/v1beta/models/gemini-9-ultra:generateContent", "k1", helloBody},
		{"err_model_get_not_found", "GET", "/v1beta/models/nope", "k1", ""},
		{"err_wrong_method_for_model", "POST", "/v1beta/models/gemini-2.5-flash:embedContent", "k1", `{}`},
		{"err_gemini3_signature", "POST", "/v1beta/models/gemini-3-pro-preview:generateContent", "k1", `{"contents":[{"role":"user","parts":[{"text":"Weather?"}]},` +
			`{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{}}}]},` +
			`{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"t":1}}}]}],` + tools + `}`},
		{"err_batch_model_mismatch", "POST", "/v1beta/models/gemini-embedding-001:batchEmbedContents", "k1", `{"requests":[{"model":"models/text-embedding-004","content":{"parts":[{"text":"a"}]}}]}`},
		{"err_openai_no_key", "POST", "/v1beta/openai/chat/completions", "", `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`},
		{"err_openai_invalid_key", "POST", "/v1beta/openai/chat/completions", "Bearer key-bad", `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, s, tc.method, tc.path, tc.key, tc.body)
			if r.err != nil {
				t.Fatalf("read body: %v", r.err)
			}
			out := fmt.Sprintf("HTTP %d\nContent-Type: %s\n\n", r.status, r.header.Get("Content-Type"))
			golden(t, tc.name, append([]byte(out), r.body...))
			if !json.Valid(r.body) && !strings.HasPrefix(tc.name, "sse") {
				t.Errorf("body is not valid JSON: %s", r.body)
			}
		})
	}
}

// TestUnaryLayoutMatchesMarshalIndent checks the pretty printer against
// encoding/json: Google's unary layout is MarshalIndent(v, "", "  ").
func TestUnaryLayoutMatchesMarshalIndent(t *testing.T) {
	s := Start(t, Options{})
	for _, path := range []string{
		"/v1beta/models/gemini-2.5-flash:generateContent",
		"/v1beta/models/gemini-2.5-flash-image:generateContent",
	} {
		r := post(t, s, path, "k", `{"contents":[{"parts":[{"text":"<b> & \"quotes\" \u00e9 \u2028"}]}],"generationConfig":{"responseModalities":["IMAGE"]}}`)
		if r.status != 200 {
			t.Fatalf("%s: status %d: %s", path, r.status, r.body)
		}
		var v json.RawMessage
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := json.Indent(&want, v, "", "  "); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.body, want.Bytes()) {
			t.Errorf("%s: layout differs from json.Indent\n%s\n---\n%s", path, r.body, want.Bytes())
		}
	}
}

func TestContentTypes(t *testing.T) {
	s := Start(t, Options{})
	tests := []struct{ path, want string }{
		{"/v1beta/models/gemini-2.5-flash:generateContent", "application/json; charset=UTF-8"},
		{"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "text/event-stream"},
		{"/v1beta/models/gemini-2.5-flash:streamGenerateContent", "application/json; charset=UTF-8"},
	}
	for _, tt := range tests {
		r := post(t, s, tt.path, "k", helloBody)
		if got := r.header.Get("Content-Type"); got != tt.want {
			t.Errorf("%s: Content-Type %q, want %q", tt.path, got, tt.want)
		}
	}
}

// TestSSESemantics checks the streaming rules: deltas concatenate to the
// unary text, usage is cumulative, finishReason only last, ids repeat.
func TestSSESemantics(t *testing.T) {
	s := Start(t, Options{StreamChunks: 4})
	body := `{"contents":[{"role":"user","parts":[{"text":"one two three four five six seven"}]}]}`
	r := post(t, s, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "k", body)
	evs := sseEvents(t, r.body)
	if len(evs) != 4 {
		t.Fatalf("got %d events, want 4", len(evs))
	}
	type resp struct {
		Candidates []struct {
			Content struct {
				Parts []struct {
					Text string `json:"text"`
				} `json:"parts"`
			} `json:"content"`
			FinishReason string `json:"finishReason"`
		} `json:"candidates"`
		UsageMetadata struct {
			Prompt   int `json:"promptTokenCount"`
			Cand     int `json:"candidatesTokenCount"`
			Total    int `json:"totalTokenCount"`
			Thoughts int `json:"thoughtsTokenCount"`
		} `json:"usageMetadata"`
		ModelVersion string `json:"modelVersion"`
		ResponseID   string `json:"responseId"`
	}
	var text strings.Builder
	prevCand := 0
	var id string
	for i, ev := range evs {
		if !bytes.Contains(ev, []byte(`": `)) || bytes.Contains(ev, []byte(`, "`)) {
			t.Errorf("event %d spacing is not Google's: %s", i, ev)
		}
		var v resp
		if err := json.Unmarshal(ev, &v); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		text.WriteString(v.Candidates[0].Content.Parts[0].Text)
		last := i == len(evs)-1
		if (v.Candidates[0].FinishReason != "") != last {
			t.Errorf("event %d: finishReason %q (last=%v)", i, v.Candidates[0].FinishReason, last)
		}
		c := v.UsageMetadata.Cand
		if c < prevCand {
			t.Errorf("event %d: candidatesTokenCount %d decreased from %d", i, c, prevCand)
		}
		prevCand = c
		u := v.UsageMetadata
		if u.Total != u.Prompt+u.Cand+u.Thoughts || u.Thoughts == 0 {
			t.Errorf("event %d: inconsistent usage %v", i, u)
		}
		if v.ModelVersion != "gemini-2.5-flash" || v.ResponseID == "" || (id != "" && v.ResponseID != id) {
			t.Errorf("event %d: modelVersion %q responseId %q (first %q)", i, v.ModelVersion, v.ResponseID, id)
		}
		id = v.ResponseID
	}
	if got, want := text.String(), "Echo: one two three four five six seven"; got != want {
		t.Errorf("concatenated text %q, want %q", got, want)
	}
	u := post(t, s, "/v1beta/models/gemini-2.5-flash:generateContent", "k", body)
	var unary map[string]any
	if err := json.Unmarshal(u.body, &unary); err != nil {
		t.Fatal(err)
	}
	if int(unary["usageMetadata"].(map[string]any)["candidatesTokenCount"].(float64)) != prevCand {
		t.Errorf("final stream usage %d differs from unary %v", prevCand, unary["usageMetadata"])
	}
}

func TestModelsPagingToTheEnd(t *testing.T) {
	s := Start(t, Options{})
	for _, size := range []int{1, 2, 3, 5, 50, 5000} {
		var names []string
		token := ""
		for pages := 0; ; pages++ {
			if pages > len(catalog)+1 {
				t.Fatalf("pageSize %d: pager does not end", size)
			}
			path := fmt.Sprintf("/v1beta/models?pageSize=%d", size)
			if token != "" {
				path += "&pageToken=" + token
			}
			r := call(t, s, "GET", path, "k", "")
			var page struct {
				Models []struct {
					Name string `json:"name"`
				} `json:"models"`
				NextPageToken *string `json:"nextPageToken"`
			}
			if err := json.Unmarshal(r.body, &page); err != nil {
				t.Fatalf("status %d: %v", r.status, err)
			}
			for _, m := range page.Models {
				names = append(names, m.Name)
			}
			if page.NextPageToken == nil {
				break
			}
			if *page.NextPageToken == "" {
				t.Fatalf("pageSize %d: empty nextPageToken", size)
			}
			token = *page.NextPageToken
		}
		if len(names) != len(catalog) {
			t.Errorf("pageSize %d: got %d models, want %d", size, len(names), len(catalog))
		}
	}
	r := call(t, s, "GET", "/v1beta/models?pageToken=garbage", "k", "")
	if r.status != 400 {
		t.Errorf("bad page token: status %d", r.status)
	}
	r = call(t, s, "GET", "/v1beta/models", "k", "")
	if bytes.Contains(r.body, []byte("nextPageToken")) {
		t.Errorf("default page of %d models must be the last page", len(catalog))
	}
}

func TestEmbeddingsDeterministic(t *testing.T) {
	s := Start(t, Options{})
	embed := func(text string, dims string) []float64 {
		body := `{"content":{"parts":[{"text":"` + text + `"}]}` + dims + `}`
		r := post(t, s, "/v1beta/models/gemini-embedding-001:embedContent", "k", body)
		var v struct {
			Embedding struct{ Values []float64 } `json:"embedding"`
		}
		if err := json.Unmarshal(r.body, &v); err != nil || r.status != 200 {
			t.Fatalf("status %d: %v %s", r.status, err, r.body)
		}
		return v.Embedding.Values
	}
	a, b, c := embed("alpha", ""), embed("alpha", ""), embed("beta", "")
	if len(a) != defaultEmbedDim {
		t.Errorf("default dims %d, want %d", len(a), defaultEmbedDim)
	}
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("same text embeds differently")
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Error("different texts embed equally")
	}
	if d := embed("alpha", `,"outputDimensionality":16`); len(d) != 16 {
		t.Errorf("outputDimensionality 16 gave %d", len(d))
	}
	r := post(t, s, "/v1beta/models/gemini-embedding-001:embedContent", "k", `{"content":{"parts":[{"text":"x"}]},"outputDimensionality":0}`)
	if r.status != 400 {
		t.Errorf("outputDimensionality 0: status %d", r.status)
	}
}

func TestPredictImages(t *testing.T) {
	s := Start(t, Options{})
	for _, tt := range []struct {
		params string
		status int
		n      int
	}{
		{`{"sampleCount":1}`, 200, 1},
		{`{"sampleCount":4}`, 200, 4},
		{`{}`, 200, 4},
		{`{"sampleCount":5}`, 400, 0},
		{`{"sampleCount":0}`, 400, 0},
	} {
		r := post(t, s, "/v1beta/models/imagen-4.0-generate-001:predict", "k", `{"instances":[{"prompt":"p"}],"parameters":`+tt.params+`}`)
		if r.status != tt.status {
			t.Fatalf("%s: status %d, want %d: %s", tt.params, r.status, tt.status, r.body)
		}
		if tt.status != 200 {
			continue
		}
		var v struct {
			Predictions []struct{ BytesBase64Encoded, MimeType string } `json:"predictions"`
		}
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatal(err)
		}
		if len(v.Predictions) != tt.n {
			t.Errorf("%s: %d predictions, want %d", tt.params, len(v.Predictions), tt.n)
		}
		for _, p := range v.Predictions {
			raw, err := base64.StdEncoding.DecodeString(p.BytesBase64Encoded)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := png.Decode(bytes.NewReader(raw)); err != nil || p.MimeType != "image/png" {
				t.Errorf("prediction is not a PNG (%s): %v", p.MimeType, err)
			}
		}
	}
}

func TestCountTokensForms(t *testing.T) {
	s := Start(t, Options{})
	const path = "/v1beta/models/gemini-2.5-flash:countTokens"
	for _, tt := range []struct {
		body   string
		status int
	}{
		{helloBody, 200},
		{`{"generateContentRequest":{"contents":[{"parts":[{"text":"abcd"}]}]}}`, 200},
		{`{"contents":[],"generateContentRequest":{"contents":[]}}`, 400},
		{`{}`, 400},
		{`nope`, 400},
	} {
		r := post(t, s, path, "k", tt.body)
		if r.status != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.body, r.status, tt.status, r.body)
		}
	}
}

func TestGenerationRules(t *testing.T) {
	s := Start(t, Options{})
	type out struct {
		Candidates []struct {
			Content struct {
				Parts []map[string]any `json:"parts"`
			} `json:"content"`
			FinishReason  string         `json:"finishReason"`
			FinishMessage string         `json:"finishMessage"`
			Grounding     map[string]any `json:"groundingMetadata"`
		} `json:"candidates"`
		UsageMetadata map[string]any `json:"usageMetadata"`
	}
	gen := func(model, body string) out {
		t.Helper()
		r := post(t, s, "/v1beta/models/"+model+":generateContent", "k", body)
		if r.status != 200 {
			t.Fatalf("%s: status %d: %s", model, r.status, r.body)
		}
		var o out
		if err := json.Unmarshal(r.body, &o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	_, thinks := gen("gemini-2.5-flash", helloBody).UsageMetadata["thoughtsTokenCount"]
	if !thinks {
		t.Error("gemini-2.5-flash should think by default")
	}
	if _, thinks := gen("gemini-2.5-flash-lite", helloBody).UsageMetadata["thoughtsTokenCount"]; thinks {
		t.Error("flash-lite should not think by default")
	}
	if _, thinks := gen("gemini-2.5-flash", `{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"thinkingConfig":{"thinkingBudget":0}}}`).UsageMetadata["thoughtsTokenCount"]; thinks {
		t.Error("thinkingBudget 0 should switch 2.5 flash thinking off")
	}
	if _, thinks := gen("gemini-2.5-pro", `{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"thinkingConfig":{"thinkingBudget":0}}}`).UsageMetadata["thoughtsTokenCount"]; !thinks {
		t.Error("2.5 pro cannot switch thinking off")
	}
	if _, thinks := gen("gemini-2.5-flash-lite", `{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"thinkingConfig":{"thinkingBudget":512}}}`).UsageMetadata["thoughtsTokenCount"]; !thinks {
		t.Error("a thinking budget should make flash-lite think")
	}

	js := gen("gemini-2.5-flash", `{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"responseMimeType":"application/json","responseJsonSchema":{"type":"object","properties":{"a":{"type":"string"},"b":{"type":["number","null"]},"c":{"type":"array","items":{"type":"object","properties":{"d":{"type":"boolean"}}}}}}}}`)
	var obj map[string]any
	if err := json.Unmarshal([]byte(js.Candidates[0].Content.Parts[0]["text"].(string)), &obj); err != nil {
		t.Fatalf("JSON mode text is not JSON: %v", err)
	}
	if _, ok := obj["a"].(string); !ok || obj["b"] != 1.5 || len(obj["c"].([]any)) != 1 {
		t.Errorf("schema-shaped object wrong: %v", obj)
	}

	// Gemini 3 accepts a history whose function calls carry signatures.
	ok := gen("gemini-3-pro-preview", `{"contents":[{"role":"user","parts":[{"text":"Weather?"}]},`+
		`{"role":"model","parts":[{"functionCall":{"name":"f","args":{}},"thoughtSignature":"sig"},{"functionCall":{"name":"f","args":{}}}]},`+
		`{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"t":1}}},{"functionResponse":{"name":"f","response":{"t":2}}}]}]}`)
	if txt, _ := ok.Candidates[0].Content.Parts[0]["text"].(string); txt != `Function results: f={"t":1}; f={"t":2}` {
		t.Errorf("function results text %q", txt)
	}
	// toolConfig NONE suppresses the call.
	none := gen("gemini-2.5-flash", `{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"f"}]}],"toolConfig":{"functionCallingConfig":{"mode":"NONE"}}}`)
	if _, isCall := none.Candidates[0].Content.Parts[0]["functionCall"]; isCall {
		t.Error("mode NONE still produced a function call")
	}
	// allowedFunctionNames picks the function.
	pick := gen("gemini-2.5-flash", `{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"f"},{"name":"g"}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["g"]}}}`)
	if fc, _ := pick.Candidates[0].Content.Parts[0]["functionCall"].(map[string]any); fc["name"] != "g" {
		t.Errorf("allowedFunctionNames ignored: %v", pick.Candidates[0].Content.Parts)
	}
	// The last user text is echoed even with earlier turns and multiple parts.
	multi := gen("gemini-2.0-flash", `{"contents":[{"role":"user","parts":[{"text":"old"}]},{"role":"model","parts":[{"text":"reply"}]},{"role":"user","parts":[{"text":"new "},{"inlineData":{"mimeType":"image/png","data":"AAAA"}},{"text":"text"}]}]}`)
	if txt := multi.Candidates[0].Content.Parts[0]["text"]; txt != "Echo: new text" {
		t.Errorf("echo %q", txt)
	}
	if _, thinks := multi.UsageMetadata["thoughtsTokenCount"]; thinks {
		t.Error("gemini-2.0-flash does not think")
	}
}

func TestOpenAICompat(t *testing.T) {
	s := Start(t, Options{StreamChunks: 2})
	const path = "/v1beta/openai/chat/completions"
	r := post(t, s, path, "Bearer k1", `{"model":"gemini-2.5-flash","messages":[{"role":"system","content":"be nice"},{"role":"user","content":[{"type":"text","text":"hi there"}]}]}`)
	var c struct {
		Object  string
		Choices []struct {
			Message      struct{ Role, Content string }
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			Prompt     int `json:"prompt_tokens"`
			Completion int `json:"completion_tokens"`
			Total      int `json:"total_tokens"`
		}
	}
	if err := json.Unmarshal(r.body, &c); err != nil || r.status != 200 {
		t.Fatalf("status %d %v: %s", r.status, err, r.body)
	}
	if c.Object != "chat.completion" || c.Choices[0].Message.Content != "Echo: hi there" || c.Choices[0].FinishReason != "stop" ||
		c.Usage.Total != c.Usage.Prompt+c.Usage.Completion {
		t.Errorf("unexpected completion: %+v", c)
	}

	r = post(t, s, path, "Bearer k1", `{"model":"models/gemini-2.5-flash","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a b c d"}]}`)
	if ct := r.header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("stream Content-Type %q", ct)
	}
	parts := strings.Split(string(r.body), "\n\n")
	if parts[len(parts)-1] != "" || parts[len(parts)-2] != "data: [DONE]" {
		t.Fatalf("stream must end with data: [DONE]\\n\\n: %q", r.body)
	}
	var text strings.Builder
	for _, p := range parts[:len(parts)-2] {
		var ch struct {
			Choices []struct {
				Delta        struct{ Content string }
				FinishReason *string `json:"finish_reason"`
			}
			Usage *struct {
				Total int `json:"total_tokens"`
			}
		}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(p, "data: ")), &ch); err != nil {
			t.Fatalf("chunk %q: %v", p, err)
		}
		for _, choice := range ch.Choices {
			text.WriteString(choice.Delta.Content)
		}
	}
	if text.String() != "Echo: a b c d" {
		t.Errorf("streamed text %q", text.String())
	}
	if !strings.Contains(parts[len(parts)-3], `"choices":[],"usage"`) {
		t.Errorf("usage chunk missing: %q", parts[len(parts)-3])
	}

	r = post(t, s, path, "Bearer k1", `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`)
	if !bytes.Contains(r.body, []byte(`"finish_reason":"tool_calls"`)) || !bytes.Contains(r.body, []byte(`"arguments":"{\"city\":\"Paris?\"}"`)) {
		t.Errorf("tool call answer: %s", r.body)
	}

	r = post(t, s, "/v1beta/openai/embeddings", "Bearer k1", `{"model":"gemini-embedding-001","input":["a","b"],"dimensions":8}`)
	var e struct {
		Data []struct {
			Index     int
			Embedding []float64
		}
	}
	if err := json.Unmarshal(r.body, &e); err != nil || len(e.Data) != 2 || len(e.Data[1].Embedding) != 8 || e.Data[1].Index != 1 {
		t.Errorf("embeddings: %v %s", err, r.body)
	}
	r = post(t, s, "/v1beta/openai/embeddings", "Bearer k1", `{"model":"gemini-embedding-001","input":"a","encoding_format":"base64"}`)
	if r.status != 400 || !bytes.HasPrefix(r.body, []byte("[")) {
		t.Errorf("base64 embeddings: status %d body %s", r.status, r.body)
	}
	r = call(t, s, "GET", "/v1beta/openai/models/gemini-2.5-pro", "Bearer k1", "")
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"id":"models/gemini-2.5-pro"`)) {
		t.Errorf("openai model get: %d %s", r.status, r.body)
	}
	// Credentials are checked before the body.
	if r := post(t, s, path, "", `{not json`); r.status != 403 || !bytes.HasPrefix(r.body, []byte("[")) {
		t.Errorf("no key + bad body: %d %s", r.status, r.body)
	}
	// Errors on the compat endpoint are arrays.
	r = post(t, s, path, "Bearer k1", `{"model":"nope","messages":[{"role":"user","content":"x"}]}`)
	var arr []errorBody
	if err := json.Unmarshal(r.body, &arr); err != nil || r.status != 404 || len(arr) != 1 || arr[0].Error.Status != "NOT_FOUND" {
		t.Errorf("compat error must be an array: %d %s", r.status, r.body)
	}
}

func TestBodyLimitAndUnknownRoutes(t *testing.T) {
	s := Start(t, Options{})
	if r := call(t, s, "GET", "/v2/models", "k", ""); r.status != 404 {
		t.Errorf("unknown version: %d", r.status)
	}
	if r := call(t, s, "GET", "/v1beta/models/gemini-2.5-flash:generateContent", "k", ""); r.status != 404 {
		t.Errorf("GET on a custom method: %d", r.status)
	}
	if r := post(t, s, "/v1beta/models/gemini-2.5-flash:frobnicate", "k", "{}"); r.status != 404 {
		t.Errorf("unknown method: %d", r.status)
	}
	// A 2 MiB prompt is well under the 64 MiB limit and echoes capped.
	big := strings.Repeat("x", 2<<20)
	r := post(t, s, "/v1beta/models/gemini-2.5-flash:generateContent", "k", `{"contents":[{"parts":[{"text":"`+big+`"}]}]}`)
	if r.status != http.StatusOK || len(r.body) > 3*maxEcho {
		t.Errorf("big prompt: status %d, %d bytes", r.status, len(r.body))
	}
}
