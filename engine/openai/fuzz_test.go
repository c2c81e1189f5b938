package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedCorpus adds every golden input body to a fuzz corpus.
func seedCorpus(f *testing.F, dir string, events bool) {
	files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.in.json"))
	for _, fn := range files {
		raw, err := os.ReadFile(fn)
		if err != nil {
			f.Fatal(err)
		}
		var c goldenCase
		if err := json.Unmarshal(raw, &c); err != nil {
			f.Fatal(err)
		}
		if events {
			for _, ev := range c.Events {
				f.Add([]byte(ev))
			}
		} else {
			f.Add([]byte(c.Body))
		}
	}
}

// FuzzTranslateChatRequest: any body yields either a valid Gemini request
// JSON with contents, or a 400 *Error whose JSON is OpenAI-shaped. Never a
// panic, never another status.
func FuzzTranslateChatRequest(f *testing.F) {
	seedCorpus(f, "chat_request", false)
	f.Add([]byte(`{"model":"m","messages":[{"role":"tool","tool_call_id":"x","content":[]}]}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":"data:;base64,"}]}]}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"$ref":"#"}}}]}`))
	opt := Options{ImageFetcher: &fakeFetcher{}}
	f.Fuzz(func(t *testing.T, body []byte) {
		cr, e := TranslateChatRequest(context.Background(), body, opt)
		if e != nil {
			if e.Status != 400 {
				t.Fatalf("status %d for %q", e.Status, body)
			}
			if !json.Valid(e.JSON()) {
				t.Fatalf("invalid error JSON %q", e.JSON())
			}
			return
		}
		var g struct {
			Contents []struct {
				Role  string            `json:"role"`
				Parts []json.RawMessage `json:"parts"`
			} `json:"contents"`
		}
		if err := json.Unmarshal(cr.Gemini, &g); err != nil {
			t.Fatalf("invalid Gemini JSON %q: %v", cr.Gemini, err)
		}
		if len(g.Contents) == 0 {
			t.Fatalf("no contents for %q", body)
		}
		for _, c := range g.Contents {
			if (c.Role != "user" && c.Role != "model") || len(c.Parts) == 0 {
				t.Fatalf("bad content %+v in %s", c, cr.Gemini)
			}
		}
	})
}

// FuzzStreamEvent: arbitrary upstream bytes never panic and never produce a
// chunk that is not one valid JSON data line; a stream ends in [DONE] or,
// when the upstream did not finish its answer, in an error event.
func FuzzStreamEvent(f *testing.F) {
	seedCorpus(f, "chat_stream", true)
	seedCorpus(f, "chat_response", false)
	f.Add([]byte(`{"candidates":[{"index":63,"content":{"parts":[{"text":"\u2028\ud800"}]}}]}`))
	f.Fuzz(func(t *testing.T, ev []byte) {
		var w bytes.Buffer
		st := NewStreamTranslator(Reply{ID: "chatcmpl-f", Model: "m", IncludeUsage: true}, Options{SearchLinks: true})
		if err := st.Event(ev, &w); err != nil {
			_ = st.Fail(err, &w)
		} else if err := st.Finish(&w); err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != "upstream_truncated" {
				t.Fatal(err)
			}
			_ = st.Fail(err, &w)
		}
		for _, chunk := range strings.Split(strings.TrimSuffix(w.String(), "\n\n"), "\n\n") {
			data, ok := strings.CutPrefix(chunk, "data: ")
			if !ok || (data != "[DONE]" && !json.Valid([]byte(data))) {
				t.Fatalf("bad chunk %q from %q", chunk, ev)
			}
		}
		out, _, err := TranslateChatResponse(ev, Reply{ID: "chatcmpl-f", Model: "m"}, Options{ImageOutput: ImageOutputDataURL})
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid unary JSON %q from %q", out, ev)
		}
	})
}
