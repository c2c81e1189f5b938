package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// randomItemID matches the random ids of response objects and items.
var randomItemID = regexp.MustCompile(`\b(resp|msg|rs|fc|fco|call)_[A-Za-z0-9]{24,32}`)

func stableIDs(b []byte) []byte { return randomItemID.ReplaceAll(b, []byte("${1}_RANDOM")) }

// responsesReply is the reply of a golden answer case's request.
func responsesReply(t *testing.T, c *goldenCase) ResponsesReply {
	t.Helper()
	rr, e := TranslateResponsesRequest(context.Background(), c.Request, nil, c.opts())
	if e != nil {
		t.Fatalf("request: %v", e)
	}
	return rr.Reply("resp_test", 1767225600)
}

func TestGoldenResponsesRequest(t *testing.T) {
	runGolden(t, "responses_request", ".want.json", func(t *testing.T, c *goldenCase) []byte {
		rr, e := TranslateResponsesRequest(context.Background(), c.Body, c.History, c.opts())
		if e != nil {
			t.Fatalf("unexpected error: %v", e)
		}
		meta, _ := json.Marshal(map[string]any{"model": rr.Model, "stream": rr.Stream, "store": rr.Store,
			"previous_response_id": rr.PreviousResponseID, "reasoning_effort": rr.ReasoningEffort, "single_tool_call": rr.reply.SingleToolCall})
		out := []byte(`{"meta":` + string(meta) + `,"input":` + string(rr.Input) + `,"gemini":` + string(rr.Gemini) + `}`)
		return indent(t, stableIDs(out))
	})
}

func TestGoldenResponsesResponse(t *testing.T) {
	runGolden(t, "responses_response", ".want.json", func(t *testing.T, c *goldenCase) []byte {
		out, _, err := TranslateResponsesResponse(c.Body, responsesReply(t, c))
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return indent(t, stableIDs(out))
	})
}

func TestGoldenResponsesStream(t *testing.T) {
	runGolden(t, "responses_stream", ".want.txt", func(t *testing.T, c *goldenCase) []byte {
		var w bytes.Buffer
		tr := NewResponsesTranslator(responsesReply(t, c), true)
		var err error
		for _, ev := range c.Events {
			if err = tr.Event(ev, &w); err != nil {
				break
			}
		}
		if err == nil {
			err = tr.Finish(&w)
		}
		if err != nil {
			if ferr := tr.Fail(err, &w); ferr != nil {
				t.Fatal(ferr)
			}
		}
		checkResponsesFraming(t, w.Bytes())
		return stableIDs(w.Bytes())
	})
}

// checkResponsesFraming asserts the Responses SSE framing: each event is
// "event: TYPE" and one data line whose type repeats it, sequence numbers
// count from 0, and the stream ends with a terminal event.
func checkResponsesFraming(t *testing.T, b []byte) {
	t.Helper()
	events := strings.Split(strings.TrimSuffix(string(b), "\n\n"), "\n\n")
	for i, ev := range events {
		head, data, ok := strings.Cut(ev, "\ndata: ")
		typ, ok2 := strings.CutPrefix(head, "event: ")
		if !ok || !ok2 || strings.Contains(data, "\n") {
			t.Fatalf("event %d is not an event line and one data line: %q", i, ev)
		}
		var e struct {
			Type string `json:"type"`
			Seq  *int   `json:"sequence_number"`
		}
		if err := json.Unmarshal([]byte(data), &e); err != nil || e.Type != typ || e.Seq == nil || *e.Seq != i {
			t.Fatalf("event %d: %v type %q seq %v: %s", i, err, e.Type, e.Seq, data)
		}
	}
	last := events[len(events)-1]
	switch {
	case strings.HasPrefix(last, "event: response.completed\n"), strings.HasPrefix(last, "event: response.incomplete\n"),
		strings.HasPrefix(last, "event: response.failed\n"):
	default:
		t.Errorf("stream does not end with a terminal event: %q", last)
	}
}

func TestResponsesRequestErrorsNameResponsesParams(t *testing.T) {
	cases := []struct{ body, param string }{
		{`{"model":"m","input":"x","temperature":3}`, "temperature"},
		{`{"model":"m","input":"x","max_output_tokens":-1}`, "max_output_tokens"},
		{`{"model":"m","input":"x","tools":[{"type":"function","name":"ok"},{"type":"function","name":"f","parameters":{"type":"string"}}]}`, "tools[1].parameters.type"},
		{`{"model":"m","input":"x","tools":[{"type":"namespace","name":"ns","tools":[{"type":"function","name":"f","parameters":[]}]}]}`, "tools[0].tools[0].parameters"},
		{`{"model":"m","input":"x","tool_choice":{"type":"function","name":"missing"}}`, "tool_choice.name"},
		{`{"model":"m","input":"x","tool_choice":"sometimes"}`, "tool_choice"},
		{`{"model":"m","input":"x","text":{"format":{"type":"yaml"}}}`, "text.format.type"},
		{`{"model":"m","input":"x","reasoning":{"summary":"verbose"}}`, "reasoning.summary"},
		{`{"model":"m","input":[{"type":"message","role":"robot","content":"x"}]}`, "input[0].role"},
		{`{"model":"m","input":[{"type":"message","role":"system","content":[{"type":"input_image","image_url":"data:image/png;base64,AA=="}]}]}`, "input[0].content[0].type"},
		{`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":"[1]"}]}`, "input[0].arguments"},
		{`{"model":"m","input":[{"type":"item_reference","id":"x"}]}`, "input[0].type"},
		{`{"model":"m","input":[{"type":"message","role":"user","content":[{"type":"input_file","file_url":"https://x/y.pdf"}]}]}`, "input[0].content[0].file_url"},
		{`{"model":"m","input":"x","conversation":"conv_1"}`, "conversation"},
		{`{"model":"m","input":7}`, "input"},
		{`{"input":"x"}`, "model"},
	}
	for i, tc := range cases {
		_, e := TranslateResponsesRequest(context.Background(), []byte(tc.body), nil, Options{ImageFetcher: &fakeFetcher{}})
		if e == nil || e.Status != 400 || e.Param != tc.param || strings.Contains(e.Message, "max_completion_tokens") {
			t.Errorf("case %d %s: %+v", i, tc.body, e)
		}
	}
}

func FuzzTranslateResponsesRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","input":"hi"}`,
		`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_image","image_url":"data:image/png;base64,AA=="}]},{"type":"function_call","call_id":"call_g_1__ts_YWJj","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"call_g_1__ts_YWJj","output":"ok"}]}`,
		`{"model":"m","input":"x","tools":[{"type":"namespace","name":"n","tools":[{"type":"function","name":"g","parameters":{"type":"object","properties":{"a":{"$ref":"#/$defs/x"}},"$defs":{"x":{"type":"string"}}}}]},{"type":"web_search"}],"tool_choice":{"type":"allowed_tools","mode":"auto","tools":[{"type":"function","name":"n.g"}]}}`,
		`{"model":"m","input":[{"type":"reasoning","encrypted_content":"gemini-thought-signature:abc"},{"type":"message","role":"assistant","content":"x"}],"text":{"format":{"type":"json_schema","name":"a","schema":{"type":"object"}}},"reasoning":{"effort":"high","summary":"auto"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rr, e := TranslateResponsesRequest(context.Background(), body, nil, Options{ImageFetcher: &fakeFetcher{}})
		if e != nil {
			if e.Status != 400 || e.Message == "" {
				t.Fatalf("refusal %+v", e)
			}
			return
		}
		if !json.Valid(rr.Gemini) || !json.Valid(rr.Input) {
			t.Fatalf("invalid output for %q:\ngemini %s\ninput %s", body, rr.Gemini, rr.Input)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(rr.Input, &items); err != nil {
			t.Fatalf("input is not an array: %s", rr.Input)
		}
		// The stored input is replayable: translating it again as history
		// must succeed and keep every turn.
		again, e := TranslateResponsesRequest(context.Background(), []byte(`{"model":"m","input":"next"}`), items, Options{ImageFetcher: &fakeFetcher{}})
		if e != nil {
			t.Fatalf("stored input %s does not replay: %v", rr.Input, e)
		}
		if !json.Valid(again.Gemini) {
			t.Fatalf("replay %s", again.Gemini)
		}
	})
}
