package engine_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
	"github.com/tidwall/gjson"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/internal/mockgemini"
)

// weatherTool is a function tool the mock answers with a call.
func weatherTool() responses.ToolUnionParam {
	return responses.ToolUnionParam{OfFunction: &responses.FunctionToolParam{
		Name:        "get_weather",
		Description: oai.String("Weather for a city"),
		Strict:      oai.Bool(true),
		Parameters: map[string]any{
			"type":                 "object",
			"properties":           map[string]any{"city": map[string]any{"type": "string"}},
			"required":             []string{"city"},
			"additionalProperties": false,
		},
	}}
}

func textInput(s string) responses.ResponseNewParamsInputUnion {
	return responses.ResponseNewParamsInputUnion{OfString: oai.String(s)}
}

func TestResponsesSDKText(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	ctx := context.Background()
	for _, base := range []string{"/v1", "/hf/v1"} {
		c := openAIClient(h, base)
		res, err := c.Responses.New(ctx, responses.ResponseNewParams{
			Model:        "gemini-2.5-flash",
			Instructions: oai.String("You are terse."),
			Input:        textInput("hello from responses"),
			Temperature:  oai.Float(0.5),
		})
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		if res.Status != "completed" || res.OutputText() != "Echo: hello from responses" || !strings.HasPrefix(res.ID, "resp_") {
			t.Fatalf("%s: status %q text %q id %q", base, res.Status, res.OutputText(), res.ID)
		}
		if res.Usage.InputTokens == 0 || res.Usage.OutputTokensDetails.ReasoningTokens == 0 || res.Usage.TotalTokens != res.Usage.InputTokens+res.Usage.OutputTokens {
			t.Fatalf("usage %+v", res.Usage)
		}
		if res.Instructions.OfString != "You are terse." || res.Temperature != 0.5 {
			t.Fatalf("request settings not echoed: %+v %v", res.Instructions, res.Temperature)
		}
		up := h.mock.LastRequest()
		if !strings.Contains(up.Path, "gemini-2.5-flash:generateContent") || !strings.Contains(string(up.Body), `"systemInstruction":{"role":"user","parts":[{"text":"You are terse."}]}`) ||
			!strings.Contains(string(up.Body), `"temperature":0.5`) {
			t.Fatalf("upstream %s %s", up.Path, up.Body)
		}
	}
}

// streamEvents collects a stream's events and checks what every
// Responses stream must hold: sequence numbers from 0 without gaps,
// created and in_progress first, and no delta before its item was added.
func streamEvents(t *testing.T, s interface {
	Next() bool
	Current() responses.ResponseStreamEventUnion
	Err() error
}) []responses.ResponseStreamEventUnion {
	t.Helper()
	var evs []responses.ResponseStreamEventUnion
	added := map[string]bool{}
	for s.Next() {
		ev := s.Current()
		if ev.SequenceNumber != int64(len(evs)) {
			t.Fatalf("event %d (%s) has sequence_number %d", len(evs), ev.Type, ev.SequenceNumber)
		}
		switch ev.Type {
		case "response.output_item.added":
			added[ev.Item.ID] = true
		case "response.output_text.delta", "response.function_call_arguments.delta", "response.reasoning_summary_text.delta", "response.output_item.done":
			id := ev.ItemID
			if ev.Type == "response.output_item.done" {
				id = ev.Item.ID
			}
			if !added[id] {
				t.Fatalf("%s for item %s before response.output_item.added", ev.Type, id)
			}
		}
		evs = append(evs, ev)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if len(evs) < 3 || evs[0].Type != "response.created" || evs[1].Type != "response.in_progress" {
		t.Fatalf("stream opens with %v", types(evs))
	}
	return evs
}

func types(evs []responses.ResponseStreamEventUnion) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func TestResponsesSDKStreamedText(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	c := openAIClient(h, "/v1")
	s := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{
		Model: "gemini-2.5-flash",
		Input: textInput("stream this answer please, it is long enough to arrive in several chunks"),
	})
	evs := streamEvents(t, s)
	var text strings.Builder
	var doneText string
	for _, ev := range evs {
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
		case "response.output_text.done":
			doneText = ev.Text
		}
	}
	want := "Echo: stream this answer please, it is long enough to arrive in several chunks"
	last := evs[len(evs)-1]
	if text.String() != want || doneText != want || last.Type != "response.completed" || last.Response.OutputText() != want {
		t.Fatalf("deltas %q done %q last %s %q", text.String(), doneText, last.Type, last.Response.OutputText())
	}
	if last.Response.Usage.TotalTokens == 0 {
		t.Fatalf("response.completed without usage: %+v", last.Response.Usage)
	}
	want2 := []string{"response.output_item.added", "response.content_part.added", "response.output_text.delta"}
	got := types(evs)[2:5]
	if strings.Join(got, ",") != strings.Join(want2, ",") {
		t.Fatalf("event order %v", types(evs))
	}
	if !strings.Contains(h.mock.LastRequest().Path, ":streamGenerateContent") {
		t.Fatalf("upstream %s", h.mock.LastRequest().Path)
	}
}

// toolTurn runs the second turn of a tool loop: the model's output items
// sent back with the function's result.
func toolTurnInput(t *testing.T, first string, output []responses.ResponseOutputItemUnion, result string) (responses.ResponseInputParam, string) {
	t.Helper()
	in := responses.ResponseInputParam{responses.ResponseInputItemParamOfMessage(first, responses.EasyInputMessageRoleUser)}
	callID := ""
	for _, it := range output {
		switch it.Type {
		case "function_call":
			fc := it.AsFunctionCall()
			callID = fc.CallID
			p := fc.ToParam()
			in = append(in, responses.ResponseInputItemUnionParam{OfFunctionCall: &p})
		case "reasoning":
			r := it.AsReasoning().ToParam()
			in = append(in, responses.ResponseInputItemUnionParam{OfReasoning: &r})
		}
	}
	if callID == "" {
		t.Fatalf("no function_call in %+v", output)
	}
	out := responses.ResponseInputItemParamOfFunctionCallOutput(result)
	out.OfFunctionCallOutput.CallID = oai.String(callID)
	return append(in, out), callID
}

func TestResponsesSDKToolLoop(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	ctx := context.Background()
	c := openAIClient(h, "/v1")
	// gemini-3 refuses a function-call history without its signature: the
	// second turn only succeeds if it round-tripped.
	const model = "gemini-3-pro-preview"
	for _, streamed := range []bool{false, true} {
		params := responses.ResponseNewParams{Model: model, Input: textInput("What is the weather in Paris?"),
			Tools: []responses.ToolUnionParam{weatherTool()}, Store: oai.Bool(false)}
		var output []responses.ResponseOutputItemUnion
		if streamed {
			evs := streamEvents(t, c.Responses.NewStreaming(ctx, params))
			last := evs[len(evs)-1]
			if last.Type != "response.completed" {
				t.Fatalf("last event %s", last.Type)
			}
			var args, doneArgs string
			for _, ev := range evs {
				switch ev.Type {
				case "response.function_call_arguments.delta":
					args += ev.Delta
				case "response.function_call_arguments.done":
					doneArgs = ev.Arguments
				case "response.output_item.done":
					output = append(output, ev.Item)
				}
			}
			if args == "" || args != doneArgs || !json.Valid([]byte(args)) {
				t.Fatalf("argument deltas %q done %q", args, doneArgs)
			}
		} else {
			res, err := c.Responses.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			output = res.Output
		}
		var call responses.ResponseFunctionToolCall
		for _, it := range output {
			if it.Type == "function_call" {
				call = it.AsFunctionCall()
			}
		}
		if call.Name != "get_weather" || !strings.Contains(call.Arguments, `"city"`) {
			t.Fatalf("streamed=%v: call %+v in %+v", streamed, call, output)
		}
		in, _ := toolTurnInput(t, "What is the weather in Paris?", output, `{"temp_c": 21}`)
		params.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: in}
		var text string
		if streamed {
			evs := streamEvents(t, c.Responses.NewStreaming(ctx, params))
			text = evs[len(evs)-1].Response.OutputText()
		} else {
			res, err := c.Responses.New(ctx, params)
			if err != nil {
				t.Fatalf("turn 2 (signature lost?): %v", err)
			}
			text = res.OutputText()
		}
		if !strings.Contains(text, `get_weather={"temp_c":21}`) {
			t.Fatalf("streamed=%v: turn 2 answer %q", streamed, text)
		}
		up := string(h.mock.LastRequest().Body)
		if !strings.Contains(up, `"functionResponse"`) || !strings.Contains(up, `"thoughtSignature"`) {
			t.Fatalf("upstream history lacks the function response or signature: %s", up)
		}
	}
}

func TestResponsesSDKJSONSchemaAndReasoningSummary(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	ctx := context.Background()
	c := openAIClient(h, "/v1")
	res, err := c.Responses.New(ctx, responses.ResponseNewParams{
		Model: "gemini-2.5-flash",
		Input: textInput("a person"),
		Text: responses.ResponseTextConfigParam{Format: responses.ResponseFormatTextConfigParamOfJSONSchema("person", map[string]any{
			"$schema": "http://json-schema.org/draft-07/schema#",
			"type":    "object", "properties": map[string]any{"name": map[string]any{"type": "string"}, "age": map[string]any{"type": "integer"}},
			"required": []string{"name", "age"},
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	var person struct {
		Name *string `json:"name"`
		Age  *int    `json:"age"`
	}
	if err := json.Unmarshal([]byte(res.OutputText()), &person); err != nil || person.Name == nil || person.Age == nil {
		t.Fatalf("JSON answer %q: %v", res.OutputText(), err)
	}
	up := string(h.mock.LastRequest().Body)
	if !strings.Contains(up, `"responseMimeType":"application/json"`) || !strings.Contains(up, `"responseJsonSchema"`) || strings.Contains(up, `$schema`) {
		t.Fatalf("upstream %s", up)
	}

	params := responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: textInput("think about this"),
		Reasoning: shared.ReasoningParam{Effort: shared.ReasoningEffortLow, Summary: shared.ReasoningSummaryAuto}}
	res, err = c.Responses.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Output) != 2 || res.Output[0].Type != "reasoning" || len(res.Output[0].AsReasoning().Summary) != 1 ||
		!strings.Contains(res.Output[0].AsReasoning().Summary[0].Text, "Reading the request") || res.OutputText() != "Echo: think about this" {
		t.Fatalf("output %+v", res.Output)
	}
	up = string(h.mock.LastRequest().Body)
	if !strings.Contains(up, `"thinkingBudget":1024`) || !strings.Contains(up, `"includeThoughts":true`) {
		t.Fatalf("upstream %s", up)
	}
	evs := streamEvents(t, c.Responses.NewStreaming(ctx, params))
	var summary string
	for _, ev := range evs {
		if ev.Type == "response.reasoning_summary_text.delta" {
			summary += ev.Delta
		}
	}
	if !strings.Contains(summary, "Reading the request") {
		t.Fatalf("reasoning summary deltas %q in %v", summary, types(evs))
	}
}

func TestResponsesStoredConversation(t *testing.T) {
	h := newHarness(t, []string{keyA}, poolConfig([]string{keyA}, `
token "other" {
  secret = "sk-other-client-token"
  pools  = ["main"]
}
`))
	ctx := context.Background()
	c := openAIClient(h, "/v1")
	first, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: textInput("my name is Ada")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first.RawJSON(), `"store":true`) {
		t.Fatal("store must default to true")
	}
	second, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: textInput("what is my name?"),
		PreviousResponseID: oai.String(first.ID)})
	if err != nil {
		t.Fatal(err)
	}
	up := string(h.mock.LastRequest().Body)
	if !strings.Contains(up, `"text":"my name is Ada"`) || !strings.Contains(up, `{"role":"model","parts":[{"text":"Echo: my name is Ada"}]}`) ||
		second.PreviousResponseID != first.ID {
		t.Fatalf("the second request does not replay the first: %s", up)
	}
	// A third turn replays both earlier ones.
	if _, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: textInput("and again?"),
		PreviousResponseID: oai.String(second.ID)}); err != nil {
		t.Fatal(err)
	}
	if up := string(h.mock.LastRequest().Body); !strings.Contains(up, "my name is Ada") || !strings.Contains(up, "what is my name?") {
		t.Fatalf("third request %s", up)
	}

	got, err := c.Responses.Get(ctx, first.ID, responses.ResponseGetParams{})
	if err != nil || got.ID != first.ID || got.OutputText() != "Echo: my name is Ada" {
		t.Fatalf("GET: %v %+v", err, got)
	}
	items, err := c.Responses.InputItems.List(ctx, second.ID, responses.InputItemListParams{})
	if err != nil || len(items.Data) != 1 || items.Data[0].ID == "" || !strings.Contains(items.Data[0].RawJSON(), `"text":"what is my name?"`) {
		t.Fatalf("input_items: %v %+v", err, items)
	}

	// Another token sees nothing of it.
	upstreamCalls := h.mock.Total()
	other := oai.NewClient(optionsFor(h, "/v1", "sk-other-client-token")...)
	_, err = other.Responses.New(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: textInput("steal"), PreviousResponseID: oai.String(first.ID)})
	assertStatus(t, err, 404)
	_, err = other.Responses.Get(ctx, first.ID, responses.ResponseGetParams{})
	assertStatus(t, err, 404)
	if h.mock.Total() != upstreamCalls {
		t.Fatal("a refused previous_response_id reached upstream")
	}

	if err := c.Responses.Delete(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.Responses.Get(ctx, first.ID, responses.ResponseGetParams{})
	assertStatus(t, err, 404)

	// store:false keeps nothing.
	unstored, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: textInput("forget me"), Store: oai.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Responses.Get(ctx, unstored.ID, responses.ResponseGetParams{})
	assertStatus(t, err, 404)

	// A streamed answer is stored before response.completed goes out.
	evs := streamEvents(t, c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: textInput("streamed and kept")}))
	id := evs[len(evs)-1].Response.ID
	if got, err := c.Responses.Get(ctx, id, responses.ResponseGetParams{}); err != nil || got.OutputText() != "Echo: streamed and kept" {
		t.Fatalf("stored stream: %v %+v", err, got)
	}
}

func assertStatus(t *testing.T, err error, status int) {
	t.Helper()
	var apiErr *oai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != status {
		t.Fatalf("want HTTP %d, got %v", status, err)
	}
}

func TestResponsesSDKErrors(t *testing.T) {
	h := newHarness(t, []string{keyA, keyB}, "")
	ctx := context.Background()
	c := openAIClient(h, "/v1")
	_, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gemini-no-such-model", Input: textInput("hi")})
	assertStatus(t, err, 404)

	bad := oai.NewClient(optionsFor(h, "/v1", "sk-wrong-token")...)
	_, err = bad.Responses.New(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: textInput("hi")})
	assertStatus(t, err, 401)

	h.mock.SetFault(keyA, mockgemini.Fault{Kind: mockgemini.RateLimit, RetryDelay: 40 * time.Second})
	h.mock.SetFault(keyB, mockgemini.Fault{Kind: mockgemini.RateLimit, RetryDelay: 10 * time.Second})
	for i := 0; i < 2; i++ { // the second time every key is already cooling
		_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: textInput("hi")})
		assertStatus(t, err, 429)
		var apiErr *oai.Error
		errors.As(err, &apiErr)
		if ra, _ := strconv.Atoi(apiErr.Response.Header.Get("Retry-After")); ra < 1 {
			t.Fatalf("Retry-After %q", apiErr.Response.Header.Get("Retry-After"))
		}
	}
	s := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: textInput("hi")})
	for s.Next() {
	}
	assertStatus(t, s.Err(), 429)
}

// TestResponsesMidStreamFailure: an upstream that fails after output
// began ends the stream with response.failed, never a silent cut.
func TestResponsesMidStreamFailure(t *testing.T) {
	for _, kind := range []mockgemini.FaultKind{mockgemini.StreamCut, mockgemini.StreamError, mockgemini.StreamStop} {
		h := newHarness(t, []string{keyA}, "")
		h.mock.SetFault(keyA, mockgemini.Fault{Kind: kind, AfterChunks: 1})
		c := openAIClient(h, "/v1")
		s := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "gemini-2.5-flash",
			Input: textInput("a long enough prompt to be split into several chunks by the mock upstream")})
		var last responses.ResponseStreamEventUnion
		n := 0
		for s.Next() {
			last = s.Current()
			n++
		}
		if s.Err() != nil || last.Type != "response.failed" || last.Response.Status != "failed" || last.Response.Error.Message == "" || n < 3 {
			t.Fatalf("%v: %d events, last %s %+v, err %v", kind, n, last.Type, last.Response.Error, s.Err())
		}
	}
}

func TestResponsesBadInputNeverReachesUpstream(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	cases := []struct{ body, param, says string }{
		{`{"model":"gemini-2.5-flash","input":"hi","tools":[{"type":"computer_use_preview","display_width":1}]}`, "tools[0].type", "computer_use"},
		{`{"model":"gemini-2.5-flash","input":"hi","tools":[{"type":"file_search","vector_store_ids":["vs_1"]}]}`, "tools[0].type", "file_search"},
		{`{"model":"gemini-2.5-flash","input":[{"type":"function_call_output","call_id":"call_x","output":"1"}]}`, "input[0].call_id", "does not match"},
		{`{"model":"gemini-2.5-flash","input":"hi","max_output_tokens":0}`, "max_output_tokens", "max_output_tokens"},
		{`{"model":"gemini-2.5-flash","input":"hi","reasoning":{"effort":"extreme"}}`, "reasoning.effort", "reasoning.effort"},
		{`{"model":"gemini-2.5-flash","input":"hi","text":{"format":{"type":"json_schema","name":"x","schema":{"type":"nope"}}}}`, "text.format.schema.type", "nope"},
		{`{"model":"gemini-2.5-flash","input":"hi","tools":[{"type":"function","name":"bad name"}]}`, "tools[0].name", "invalid function name"},
		{`{"model":"gemini-2.5-flash","input":[{"type":"message","role":"user","content":[{"type":"input_image","image_url":"ftp://x"}]}]}`, "input[0].content[0].image_url", "image_url"},
		{`{"model":"gemini-2.5-flash"}`, "input", "input"},
		{`{"model":"gemini-2.5-flash","input":"hi","background":true}`, "background", "background"},
	}
	for _, tc := range cases {
		calls := h.mock.Total()
		status, _, body := h.do("POST", "/v1/responses", tc.body, map[string]string{"Authorization": "Bearer " + h.token})
		var e struct {
			Error struct {
				Message string `json:"message"`
				Param   string `json:"param"`
			} `json:"error"`
		}
		if status != 400 || json.Unmarshal(body, &e) != nil || e.Error.Param != tc.param || !strings.Contains(e.Error.Message, tc.says) || h.mock.Total() != calls {
			t.Errorf("%s: %d %s (upstream calls %d → %d)", tc.body, status, body, calls, h.mock.Total())
		}
	}
	// Unknown fields (Codex sends several) are accepted.
	status, _, body := h.do("POST", "/v1/responses", `{"model":"gemini-2.5-flash","input":"hi","prompt_cache_key":"k","client_metadata":{"a":1},"include":["reasoning.encrypted_content"],"some_new_field":true}`,
		map[string]string{"Authorization": "Bearer " + h.token})
	if status != 200 {
		t.Fatalf("unknown fields: %d %s", status, body)
	}
	status, hdr, _ := h.do("PUT", "/v1/responses", `{}`, map[string]string{"Authorization": "Bearer " + h.token})
	if status != http.StatusMethodNotAllowed || hdr.Get("Allow") != "POST" {
		t.Fatalf("PUT: %d %v", status, hdr)
	}
}

func TestResponsesWebSearchCitations(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	c := openAIClient(h, "/v1")
	res, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: textInput("news today"),
		Tools: []responses.ToolUnionParam{{OfWebSearchPreview: &responses.WebSearchPreviewToolParam{Type: responses.WebSearchPreviewToolTypeWebSearchPreview}}}})
	if err != nil {
		t.Fatal(err)
	}
	if up := string(h.mock.LastRequest().Body); !strings.Contains(up, `"googleSearch":{}`) {
		t.Fatalf("upstream %s", up)
	}
	msg := res.Output[len(res.Output)-1].AsMessage()
	ann := msg.Content[0].Annotations
	if len(ann) != 2 || ann[0].Type != "url_citation" || !strings.HasPrefix(ann[0].URL, "https://") || ann[0].Title != "example.com" || ann[0].EndIndex == 0 {
		t.Fatalf("annotations %+v", ann)
	}
}

// TestResponsesNamespaceTools: Codex's namespace tools reach Gemini as
// flattened functions and come back as calls with their namespace.
func TestResponsesNamespaceTools(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	body := `{"model":"gemini-2.5-flash","input":"list files","tools":[{"type":"namespace","name":"fs","description":"files","tools":[{"type":"function","name":"ls","parameters":{"type":"object","properties":{"dir":{"type":"string"}}}}]}]}`
	status, _, out := h.do("POST", "/v1/responses", body, map[string]string{"Authorization": "Bearer " + h.token})
	if status != 200 {
		t.Fatalf("%d %s", status, out)
	}
	var res responses.Response
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	fc := res.Output[len(res.Output)-1].AsFunctionCall()
	if fc.Name != "ls" || fc.Namespace != "fs" {
		t.Fatalf("call %+v", fc)
	}
	if up := string(h.mock.LastRequest().Body); !strings.Contains(up, `"name":"fs.ls"`) {
		t.Fatalf("upstream %s", up)
	}
}

// optionsFor are client options for the proxy with another token.
func optionsFor(h *harness, base, token string) []option.RequestOption {
	return []option.RequestOption{option.WithBaseURL(h.url + base), option.WithAPIKey(token), option.WithMaxRetries(0)}
}

// TestResponsesRetention: openai.response_retention = "0s" keeps nothing
// even though store defaults to true, and previous_response_id then
// finds nothing.
func TestResponsesRetention(t *testing.T) {
	h := newHarness(t, []string{keyA}, poolConfig([]string{keyA}, `
openai { response_retention = "0s" }
`))
	ctx := context.Background()
	c := openAIClient(h, "/v1")
	res, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: textInput("keep me?")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Responses.Get(ctx, res.ID, responses.ResponseGetParams{})
	assertStatus(t, err, 404)
	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: textInput("next"), PreviousResponseID: oai.String(res.ID)})
	assertStatus(t, err, 404)
}

// TestResponsesAliasKeepsSummaryAndKeepAlive: an alias to another model
// family re-derives reasoning.effort for it and keeps the thought
// summaries asked for; with openai.keep_alive the stream is served from a
// unary call and still has every event.
func TestResponsesAliasKeepsSummaryAndKeepAlive(t *testing.T) {
	h := newHarness(t, []string{keyA}, poolConfig([]string{keyA}, `
model "smart" { target = "gemini-3-pro-preview" }
openai { keep_alive = "1s" }
`))
	c := openAIClient(h, "/v1")
	evs := streamEvents(t, c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "smart", Input: textInput("think briefly"),
		Reasoning: shared.ReasoningParam{Effort: shared.ReasoningEffortLow, Summary: shared.ReasoningSummaryAuto}}))
	last := evs[len(evs)-1]
	if last.Type != "response.completed" || last.Response.OutputText() != "Echo: think briefly" || last.Response.Output[0].Type != "reasoning" {
		t.Fatalf("events %v, output %+v", types(evs), last.Response.Output)
	}
	up := h.mock.LastRequest()
	if !strings.Contains(up.Path, "gemini-3-pro-preview:generateContent") || !strings.Contains(string(up.Body), `"thinkingLevel":"LOW"`) ||
		!strings.Contains(string(up.Body), `"includeThoughts":true`) {
		t.Fatalf("upstream %s %s", up.Path, up.Body)
	}
}

// TestResponsesReadYourWrites: the store writes kept responses in its
// writer's batches, off the request path; with a flush interval of an
// hour nothing reaches the database during the test, yet a GET right
// after the POST, a previous_response_id, input_items and a DELETE on the
// same instance all find the response.
func TestResponsesReadYourWrites(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	dir := t.TempDir()
	_, url := startProxyWith(t, mock, dir, poolConfig([]string{keyA}, ""), engine.Options{StoreFlushInterval: time.Hour})
	c := oai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey(testToken), option.WithMaxRetries(0))
	ctx := context.Background()
	first, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: textInput("remember me")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Responses.Get(ctx, first.ID, responses.ResponseGetParams{})
	if err != nil || got.OutputText() != "Echo: remember me" {
		t.Fatalf("GET right after the POST: %v %+v", err, got)
	}
	if _, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: textInput("again"),
		PreviousResponseID: oai.String(first.ID)}); err != nil {
		t.Fatal(err)
	}
	if up := string(mock.LastRequest().Body); !strings.Contains(up, "remember me") || !strings.Contains(up, "Echo: remember me") {
		t.Fatalf("previous_response_id did not replay the unflushed response: %s", up)
	}
	items, err := c.Responses.InputItems.List(ctx, first.ID, responses.InputItemListParams{})
	if err != nil || len(items.Data) != 1 {
		t.Fatalf("input_items: %v %+v", err, items)
	}
	if err := c.Responses.Delete(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.Responses.Get(ctx, first.ID, responses.ResponseGetParams{})
	assertStatus(t, err, 404)
}

// TestResponsesInputItemsPaging: GET …/input_items pages as OpenAI's
// list does (limit, order, after, before, has_more, first_id, last_id),
// the SDK's auto-pager walks every page, and bad paging values are 400s
// naming the parameter.
func TestResponsesInputItemsPaging(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	c := openAIClient(h, "/v1")
	ctx := context.Background()
	var in responses.ResponseInputParam
	for i := range 5 {
		in = append(in, responses.ResponseInputItemParamOfMessage("message "+strconv.Itoa(i), responses.EasyInputMessageRoleUser))
	}
	res, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: responses.ResponseNewParamsInputUnion{OfInputItemList: in}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string // oldest first
	all, err := c.Responses.InputItems.List(ctx, res.ID, responses.InputItemListParams{Order: responses.InputItemListParamsOrderAsc, Limit: oai.Int(100)})
	if err != nil || len(all.Data) != 5 || all.HasMore {
		t.Fatalf("all items: %v %+v", err, all)
	}
	for i, it := range all.Data {
		if !strings.Contains(it.RawJSON(), "message "+strconv.Itoa(i)) {
			t.Fatalf("item %d is %s", i, it.RawJSON())
		}
		ids = append(ids, it.ID)
	}

	var walked []string
	pager := c.Responses.InputItems.ListAutoPaging(ctx, res.ID, responses.InputItemListParams{Limit: oai.Int(2)})
	for pager.Next() {
		walked = append(walked, pager.Current().ID)
	}
	if err := pager.Err(); err != nil || strings.Join(walked, ",") != strings.Join([]string{ids[4], ids[3], ids[2], ids[1], ids[0]}, ",") {
		t.Fatalf("auto-paging (newest first): %v %v, want %v reversed", err, walked, ids)
	}

	type page struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
		FirstID *string `json:"first_id"`
		LastID  *string `json:"last_id"`
		HasMore bool    `json:"has_more"`
	}
	auth := map[string]string{"Authorization": "Bearer " + testToken}
	base := "/v1/responses/" + res.ID + "/input_items"
	for _, tc := range []struct {
		query   string
		want    []int
		hasMore bool
	}{
		{"", []int{4, 3, 2, 1, 0}, false},
		{"?order=asc&limit=2", []int{0, 1}, true},
		{"?order=asc&limit=2&after=" + ids[1], []int{2, 3}, true},
		{"?order=asc&after=" + ids[3], []int{4}, false},
		{"?order=asc&before=" + ids[3], []int{0, 1, 2}, false},
		{"?order=desc&limit=1&before=" + ids[1], []int{4}, true},
		{"?after=" + ids[3] + "&before=" + ids[0], []int{2, 1}, false},
		{"?order=asc&after=" + ids[4], nil, false},
	} {
		status, _, body := h.do("GET", base+tc.query, "", auth)
		var p page
		if status != 200 || json.Unmarshal(body, &p) != nil {
			t.Fatalf("%s: %d %s", tc.query, status, body)
		}
		var got []string
		for _, d := range p.Data {
			got = append(got, d.ID)
		}
		var want []string
		for _, i := range tc.want {
			want = append(want, ids[i])
		}
		if strings.Join(got, ",") != strings.Join(want, ",") || p.HasMore != tc.hasMore {
			t.Fatalf("%s: got %v has_more %v, want %v %v", tc.query, got, p.HasMore, want, tc.hasMore)
		}
		switch {
		case len(want) == 0 && (p.FirstID != nil || p.LastID != nil):
			t.Fatalf("%s: empty page with first_id/last_id %s", tc.query, body)
		case len(want) > 0 && (p.FirstID == nil || *p.FirstID != want[0] || p.LastID == nil || *p.LastID != want[len(want)-1]):
			t.Fatalf("%s: first_id/last_id %s", tc.query, body)
		}
	}

	calls := h.mock.Total()
	for _, tc := range []struct{ query, param string }{
		{"?limit=0", "limit"}, {"?limit=101", "limit"}, {"?limit=ten", "limit"},
		{"?order=newest", "order"}, {"?after=msg_unknown", "after"}, {"?before=no%20such", "before"},
	} {
		status, _, body := h.do("GET", base+tc.query, "", auth)
		var e struct {
			Error struct {
				Type  string `json:"type"`
				Param string `json:"param"`
			} `json:"error"`
		}
		if status != 400 || json.Unmarshal(body, &e) != nil || e.Error.Param != tc.param || e.Error.Type != "invalid_request_error" {
			t.Fatalf("%s: %d %s", tc.query, status, body)
		}
	}
	if h.mock.Total() != calls {
		t.Fatal("paging errors reached upstream")
	}
}

// TestResponsesImagesAndCodeExecution: image parts and code execution
// reach Responses clients as on chat, unary and streamed: with
// image_output "data_url" an image is an image_generation_call item
// holding the PNG, code and its output are fenced blocks in the text; a
// continuation replays the image to Gemini as the model's inline image.
func TestResponsesImagesAndCodeExecution(t *testing.T) {
	h := newHarness(t, nil, poolConfig([]string{keyA}, `
model "gemini-2.5-flash-image" { image = true }
model "gemini-2.5-flash" { code_execution = true }
openai { image_output = "data_url" }
`))
	c := openAIClient(h, "/v1")
	ctx := context.Background()
	checkImage := func(how string, output []responses.ResponseOutputItemUnion) {
		t.Helper()
		for _, it := range output {
			if it.Type != "image_generation_call" {
				continue
			}
			var item struct {
				Status, Result string
			}
			if err := json.Unmarshal([]byte(it.RawJSON()), &item); err != nil || item.Status != "completed" {
				t.Fatalf("%s: image item %s", how, it.RawJSON())
			}
			raw, err := base64.StdEncoding.DecodeString(item.Result)
			if err != nil {
				t.Fatalf("%s: result is not base64: %v", how, err)
			}
			if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
				t.Fatalf("%s: result is not a PNG: %v", how, err)
			}
			return
		}
		t.Fatalf("%s: no image_generation_call in %+v", how, output)
	}
	res, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash-image", Input: textInput("draw a cat")})
	if err != nil {
		t.Fatal(err)
	}
	checkImage("unary", res.Output)
	evs := streamEvents(t, c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash-image", Input: textInput("draw a dog")}))
	checkImage("streamed", evs[len(evs)-1].Response.Output)

	if _, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash-image", Input: textInput("make it blue"),
		PreviousResponseID: oai.String(res.ID)}); err != nil {
		t.Fatal(err)
	}
	if up := string(h.mock.LastRequest().Body); !strings.Contains(up, `{"role":"model","parts":[`) || !strings.Contains(up, `"inlineData":{"mimeType":"image/png"`) {
		t.Fatalf("continuation does not replay the image: %.600s", up)
	}

	const prompt = "compute this"
	wantCode, wantOutput := "```python\nprint(\"compute this\")\n```", "```output\ncompute this\n"
	res, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: textInput(prompt)})
	if err != nil {
		t.Fatal(err)
	}
	if text := res.OutputText(); !strings.Contains(text, wantCode) || !strings.Contains(text, wantOutput) || !strings.HasSuffix(text, "Echo: "+prompt) {
		t.Fatalf("unary code execution answer %q", text)
	}
	evs = streamEvents(t, c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "gemini-2.5-flash", Input: textInput(prompt)}))
	var deltas strings.Builder
	for _, ev := range evs {
		if ev.Type == "response.output_text.delta" {
			deltas.WriteString(ev.Delta)
		}
	}
	if text := deltas.String(); !strings.Contains(text, wantCode) || !strings.Contains(text, wantOutput) || text != evs[len(evs)-1].Response.OutputText() {
		t.Fatalf("streamed code execution answer %q", text)
	}
}

// Gemini 3 signs its text answers (the mock too: the last text part, in a
// stream the final chunk's). The signature travels in a reasoning item and
// previous_response_id replays it on the model's text part, unary and
// streamed alike.
func TestResponsesReplayTextPartSignature(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	_, url := startProxy(t, mock, t.TempDir(), poolConfig([]string{keyA}, ""))
	c := oai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey(testToken), option.WithMaxRetries(0))
	ctx := context.Background()
	const model = "gemini-3-pro-preview"
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			params := responses.ResponseNewParams{Model: model, Input: textInput("sign me")}
			var first *responses.Response
			if stream {
				s := c.Responses.NewStreaming(ctx, params)
				for s.Next() {
					if ev := s.Current(); ev.Type == "response.completed" {
						r := ev.Response
						first = &r
					}
				}
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
			} else {
				r, err := c.Responses.New(ctx, params)
				if err != nil {
					t.Fatal(err)
				}
				first = r
			}
			if first == nil || first.OutputText() != "Echo: sign me" {
				t.Fatalf("first answer: %+v", first)
			}
			// The signature the mock gave: its answers are deterministic, so
			// the same body sent straight to it signs the same way.
			sent := mock.LastRequest()
			req, err := http.NewRequest("POST", mock.URL()+"/v1beta/models/"+model+":generateContent", bytes.NewReader(sent.Body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("x-goog-api-key", sent.Key)
			direct, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			answer, err := io.ReadAll(direct.Body)
			direct.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			want := gjson.GetBytes(answer, `candidates.0.content.parts.#(thoughtSignature!="").thoughtSignature`).Str
			if want == "" {
				t.Fatalf("the mock signed no text part: %s", answer)
			}
			if _, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: model, Input: textInput("again"),
				PreviousResponseID: oai.String(first.ID)}); err != nil {
				t.Fatal(err)
			}
			up := mock.LastRequest().Body
			// The text as Gemini sent it, the signature on the part it
			// came with: the last (in a stream, the final chunk's "me").
			parts := gjson.GetBytes(up, `contents.#(role=="model").parts`).Array()
			var text strings.Builder
			for _, p := range parts {
				text.WriteString(p.Get("text").Str)
			}
			if len(parts) == 0 || text.String() != "Echo: sign me" {
				t.Fatalf("replayed model turn: %s", up)
			}
			if got := parts[len(parts)-1].Get("thoughtSignature").Str; got != want {
				t.Fatalf("replayed last text part's signature %q, want %q: %s", got, want, up)
			}
		})
	}
}
