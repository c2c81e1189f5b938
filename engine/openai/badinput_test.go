package openai

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestChatRequestBadInput(t *testing.T) {
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	cases := []struct {
		name, body, param string
	}{
		{"not json", `{`, ""},
		{"missing model", `{` + msgs + `}`, "model"},
		{"no messages", `{"model":"m"}`, "messages"},
		{"empty messages", `{"model":"m","messages":[]}`, "messages"},
		{"messages wrong type", `{"model":"m","messages":"hi"}`, "messages"},
		{"unknown role", `{"model":"m","messages":[{"role":"user","content":"a"},{"role":"robot","content":"x"}]}`, "messages[1].role"},
		{"missing role", `{"model":"m","messages":[{"content":"x"}]}`, "messages[0].role"},
		{"content wrong type", `{"model":"m","messages":[{"role":"user","content":5}]}`, "messages[0].content"},
		{"unknown part type", `{"model":"m","messages":[{"role":"user","content":[{"type":"video","video":{}}]}]}`, "messages[0].content[0].type"},
		{"text part without text", `{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}`, "messages[0].content[0].text"},
		{"image without url", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}`, "messages[0].content[0].image_url.url"},
		{"image bad scheme", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, "messages[0].content[0].image_url.url"},
		{"image data url not base64", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,hello"}}]}]}`, "messages[0].content[0].image_url.url"},
		{"image data url garbage", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,@@@"}}]}]}`, "messages[0].content[0].image_url.url"},
		{"image fetch fails", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/missing.png"}}]}]}`, "messages[0].content[0].image_url.url"},
		{"audio bad format", `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"midi"}}]}]}`, "messages[0].content[0].input_audio.format"},
		{"audio no data", `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"format":"wav"}}]}]}`, "messages[0].content[0].input_audio.data"},
		{"file openai id", `{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-abc"}}]}]}`, "messages[0].content[0].file.file_id"},
		{"system image", `{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},{"role":"user","content":"x"}]}`, "messages[0].content[0].type"},
		{"tool call bad args", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{not json"}}]}]}`, "messages[1].tool_calls[0].function.arguments"},
		{"tool call array args", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[1].tool_calls[0].function.arguments"},
		{"tool call no name", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"arguments":"{}"}}]}]}`, "messages[1].tool_calls[0].function.name"},
		{"tool message unknown id", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"nope","content":"r"}]}`, "messages[1].tool_call_id"},
		{"tool message no id", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"tool","content":"r"}]}`, "messages[1].tool_call_id"},
		{"temperature range", `{"model":"m",` + msgs + `,"temperature":3}`, "temperature"},
		{"temperature type", `{"model":"m",` + msgs + `,"temperature":"hot"}`, "temperature"},
		{"top_p range", `{"model":"m",` + msgs + `,"top_p":1.5}`, "top_p"},
		{"max_tokens zero", `{"model":"m",` + msgs + `,"max_tokens":0}`, "max_tokens"},
		{"max_completion_tokens negative", `{"model":"m",` + msgs + `,"max_completion_tokens":-5}`, "max_completion_tokens"},
		{"n too large", `{"model":"m",` + msgs + `,"n":9}`, "n"},
		{"n zero", `{"model":"m",` + msgs + `,"n":0}`, "n"},
		{"stop too many", `{"model":"m",` + msgs + `,"stop":["a","b","c","d","e"]}`, "stop"},
		{"stop wrong type", `{"model":"m",` + msgs + `,"stop":5}`, "stop"},
		{"penalty range", `{"model":"m",` + msgs + `,"presence_penalty":2.5}`, "presence_penalty"},
		{"seed type", `{"model":"m",` + msgs + `,"seed":"x"}`, "seed"},
		{"response_format type", `{"model":"m",` + msgs + `,"response_format":{"type":"xml"}}`, "response_format.type"},
		{"json_schema missing", `{"model":"m",` + msgs + `,"response_format":{"type":"json_schema"}}`, "response_format.json_schema"},
		{"json_schema broken", `{"model":"m",` + msgs + `,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"objekt"}}}}`, "response_format.json_schema.schema.type"},
		{"reasoning_effort", `{"model":"m",` + msgs + `,"reasoning_effort":"max"}`, "reasoning_effort"},
		{"logprobs", `{"model":"m",` + msgs + `,"logprobs":true}`, "logprobs"},
		{"logit_bias", `{"model":"m",` + msgs + `,"logit_bias":{"50256":-100}}`, "logit_bias"},
		{"audio output", `{"model":"m",` + msgs + `,"audio":{"voice":"alloy","format":"wav"}}`, "audio"},
		{"modalities audio", `{"model":"m",` + msgs + `,"modalities":["text","audio"]}`, "modalities[1]"},
		{"legacy functions", `{"model":"m",` + msgs + `,"functions":[{"name":"f"}]}`, "functions"},
		{"tool type", `{"model":"m",` + msgs + `,"tools":[{"type":"custom","custom":{"name":"x"}}]}`, "tools[0].type"},
		{"tool no function", `{"model":"m",` + msgs + `,"tools":[{"type":"function"}]}`, "tools[0].function"},
		{"tool bad name", `{"model":"m",` + msgs + `,"tools":[{"type":"function","function":{"name":"9lives"}}]}`, "tools[0].function.name"},
		{"tool name spaces", `{"model":"m",` + msgs + `,"tools":[{"type":"function","function":{"name":"get weather"}}]}`, "tools[0].function.name"},
		{"tool duplicate", `{"model":"m",` + msgs + `,"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}]}`, "tools[1].function.name"},
		{"schema not object", `{"model":"m",` + msgs + `,"tools":[{"type":"function","function":{"name":"f","parameters":[1]}}]}`, "tools[0].function.parameters"},
		{"schema root type", `{"model":"m",` + msgs + `,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"string"}}}]}`, "tools[0].function.parameters.type"},
		{"schema properties type", `{"model":"m",` + msgs + `,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":[]}}}]}`, "tools[0].function.parameters.properties"},
		{"schema nested bad type", `{"model":"m",` + msgs + `,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"array","items":{"type":"strin"}}}}}}]}`, "tools[0].function.parameters.properties.a.items.type"},
		{"schema required type", `{"model":"m",` + msgs + `,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","required":"a"}}}]}`, "tools[0].function.parameters.required"},
		{"schema dangling ref", `{"model":"m",` + msgs + `,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"$ref":"#/$defs/Nope"}}}}}]}`, "tools[0].function.parameters.properties.a.$ref"},
		{"schema remote ref", `{"model":"m",` + msgs + `,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"$ref":"https://x/s.json"}}}}}]}`, "tools[0].function.parameters.properties.a.$ref"},
		{"schema empty anyOf", `{"model":"m",` + msgs + `,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"anyOf":[]}}}}}]}`, "tools[0].function.parameters.properties.a.anyOf"},
		{"tool_choice unknown string", `{"model":"m",` + msgs + `,"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"always"}`, "tool_choice"},
		{"tool_choice unknown function", `{"model":"m",` + msgs + `,"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}`, "tool_choice.function.name"},
		{"tool_choice required without tools", `{"model":"m",` + msgs + `,"tool_choice":"required"}`, "tool_choice"},
		{"thinking budget", `{"model":"m",` + msgs + `,"extra_body":{"google":{"thinking_config":{"thinking_budget":-7}}}}`, "extra_body.google.thinking_config.thinking_budget"},
	}
	f := &fakeFetcher{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cr, e := TranslateChatRequest(context.Background(), []byte(c.body), Options{ImageFetcher: f})
			if e == nil {
				t.Fatalf("accepted bad input; gemini=%s", cr.Gemini)
			}
			if e.Status != 400 || e.Type != "invalid_request_error" {
				t.Errorf("status %d type %q, want 400 invalid_request_error", e.Status, e.Type)
			}
			if e.Param != c.param {
				t.Errorf("param %q, want %q (message %q)", e.Param, c.param, e.Message)
			}
			var body struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal(e.JSON(), &body); err != nil {
				t.Fatalf("error JSON: %v", err)
			}
			if body.Error.Message == "" || (c.param != "" && (body.Error.Param == nil || *body.Error.Param != c.param)) {
				t.Errorf("error body %s", e.JSON())
			}
		})
	}
}

// Parameters clients commonly send with default values must not be
// rejected, and unknown fields are ignored.
func TestChatRequestTolerated(t *testing.T) {
	body := `{"model":"m","messages":[{"role":"user","content":"x","name":"bob"}],"logprobs":false,"top_logprobs":0,
		"logit_bias":{},"modalities":["text"],"audio":null,"functions":null,"user":"u","metadata":{},"store":true,
		"service_tier":"auto","prompt_cache_key":"k","verbosity":"low","some_future_field":{"x":1},"stream":false,"stream_options":null}`
	cr, e := TranslateChatRequest(context.Background(), []byte(body), Options{})
	if e != nil {
		t.Fatalf("rejected: %v", e)
	}
	if strings.Contains(string(cr.Gemini), "generationConfig") {
		t.Errorf("defaults injected: %s", cr.Gemini)
	}
}

func TestMaxNOption(t *testing.T) {
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"x"}],"n":3}`)
	if _, e := TranslateChatRequest(context.Background(), body, Options{MaxN: 2}); e == nil || e.Param != "n" {
		t.Fatalf("MaxN 2 allowed n=3: %v", e)
	}
	if _, e := TranslateChatRequest(context.Background(), body, Options{MaxN: 4}); e != nil {
		t.Fatalf("MaxN 4 refused n=3: %v", e)
	}
}

func TestImageFetchedOnce(t *testing.T) {
	f := &fakeFetcher{}
	body := []byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":"https://example.com/cat.png"}]}]}`)
	cr, e := TranslateChatRequest(context.Background(), body, Options{ImageFetcher: f})
	if e != nil {
		t.Fatal(e)
	}
	if f.calls != 1 || !strings.Contains(string(cr.Gemini), `"mimeType":"image/png"`) {
		t.Errorf("calls=%d gemini=%s", f.calls, cr.Gemini)
	}
}
