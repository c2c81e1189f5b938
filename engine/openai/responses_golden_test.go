package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// randomItemID matches the random ids of response objects and items.
var randomItemID = regexp.MustCompile(`\b(resp|msg|rs|fc|fco|call|ig)_[A-Za-z0-9]{24,32}`)

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

// FuzzTranslateResponsesRequest is the input decoder's fuzz target. Its
// seed corpus (testdata/fuzz/FuzzTranslateResponsesRequest) holds
// requests recorded from Codex CLI 0.171.0 and the openai-go SDK, plus the
// golden bodies. For any body:
//   - no panic; a refusal is a 400 whose JSON is an OpenAI error object;
//   - an accepted body gives a Gemini request with user/model turns that
//     each have parts, and a stored input of items that all have ids;
//   - the stored input round-trips: sent back as the input it is accepted,
//     stored byte for byte the same, and gives the same turns (unless the
//     turns came from instructions alone), and replayed as a history it is
//     accepted;
//   - the fast path, when it takes the body, agrees with the full one.
func FuzzTranslateResponsesRequest(f *testing.F) {
	seedCorpus(f, "responses_request", false)
	for _, c := range append(append([]string{}, fastResponsesCases...), fullResponsesCases...) {
		f.Add([]byte(c))
	}
	opt := Options{ImageFetcher: &fakeFetcher{}}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFastResponsesMatchesFull(t, body, nil, opt)
		rr, e := TranslateResponsesRequest(ctx, body, nil, opt)
		if e != nil {
			checkOpenAIError(t, e, body)
			return
		}
		contents := checkGeminiTurns(t, rr.Gemini, body)
		var items []json.RawMessage
		if err := json.Unmarshal(rr.Input, &items); err != nil {
			t.Fatalf("stored input is not an array: %s", rr.Input)
		}
		for _, it := range items {
			var id struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(it, &id) != nil || id.ID == "" {
				t.Fatalf("stored item without an id: %s", it)
			}
		}
		again, e := TranslateResponsesRequest(ctx, []byte(`{"model":"m","input":`+string(rr.Input)+`}`), nil, opt)
		// Field names match case-insensitively, as encoding/json's do
		// (and the translator's), so "instruCtions" counts too.
		var withInstr struct{ Instructions string }
		_ = json.Unmarshal(body, &withInstr)
		instructions := withInstr.Instructions != ""
		switch {
		case e != nil && !instructions:
			t.Fatalf("stored input %s is refused as input: %v", rr.Input, e)
		case e == nil && !bytes.Equal(again.Input, rr.Input):
			t.Fatalf("stored input is not stable:\nfirst  %s\nsecond %s", rr.Input, again.Input)
		case e == nil && !instructions && !bytes.Equal(checkGeminiTurns(t, again.Gemini, rr.Input), contents):
			t.Fatalf("stored input gives other turns:\nfirst  %s\nsecond %s", rr.Gemini, again.Gemini)
		}
		replay, e := TranslateResponsesRequest(ctx, []byte(`{"model":"m","input":"next"}`), items, opt)
		if e != nil {
			t.Fatalf("stored input %s does not replay: %v", rr.Input, e)
		}
		checkGeminiTurns(t, replay.Gemini, rr.Input)
	})
}

// checkOpenAIError asserts a refusal is a 400 OpenAI error object.
func checkOpenAIError(t *testing.T, e *Error, body []byte) {
	t.Helper()
	var env struct {
		Error *struct {
			Message *string `json:"message"`
			Type    *string `json:"type"`
		} `json:"error"`
	}
	if e.Status != 400 || json.Unmarshal(e.JSON(), &env) != nil || env.Error == nil || env.Error.Message == nil || *env.Error.Message == "" ||
		env.Error.Type == nil || *env.Error.Type != "invalid_request_error" {
		t.Fatalf("refusal %+v (%s) for %q", e, e.JSON(), body)
	}
}

// checkGeminiTurns asserts g is a Gemini request whose contents are user
// and model turns with parts, and returns the contents' JSON.
func checkGeminiTurns(t *testing.T, g, from []byte) []byte {
	t.Helper()
	var req struct {
		Contents []struct {
			Role  string            `json:"role"`
			Parts []json.RawMessage `json:"parts"`
		} `json:"contents"`
	}
	if err := json.Unmarshal(g, &req); err != nil || len(req.Contents) == 0 {
		t.Fatalf("invalid Gemini request %s (%v) for %q", g, err, from)
	}
	for _, c := range req.Contents {
		if (c.Role != "user" && c.Role != "model") || len(c.Parts) == 0 {
			t.Fatalf("bad turn %+v in %s for %q", c, g, from)
		}
	}
	return []byte(gjson.GetBytes(g, "contents").Raw)
}

// TestNewResponseIDSortsByTime: response ids are "resp_" and 32
// alphanumerics, unique, and one made later sorts after an earlier one
// (the store's primary key then grows at its end).
func TestNewResponseIDSortsByTime(t *testing.T) {
	prev := NewResponseID()
	for range 3 {
		time.Sleep(2 * time.Millisecond)
		id := NewResponseID()
		if !regexp.MustCompile(`^resp_[A-Za-z0-9]{32}$`).MatchString(id) || id <= prev {
			t.Fatalf("id %q after %q", id, prev)
		}
		prev = id
	}
	if a, b := NewResponseID(), NewResponseID(); a == b {
		t.Fatalf("two ids alike: %s", a)
	}
}
