package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// pngBytes is a minimal PNG header, enough for content sniffing.
var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")

// fakeFetcher serves fixed images and counts calls; other URLs fail.
type fakeFetcher struct{ calls int }

func (f *fakeFetcher) Fetch(_ context.Context, url string) ([]byte, string, error) {
	f.calls++
	if url == "https://example.com/cat.png" {
		return pngBytes, "image/png", nil
	}
	return nil, "", errors.New("not found")
}

// goldenCase is a testdata input: options plus the body under test.
type goldenCase struct {
	Options struct {
		ShowThinking bool   `json:"show_thinking"`
		ImageOutput  string `json:"image_output"`
		SearchLinks  bool   `json:"search_links"`
		MaxN         int    `json:"max_n"`
		// Reply parameters for response/stream cases.
		IncludeUsage   bool `json:"include_usage"`
		SingleToolCall bool `json:"single_tool_call"`
	} `json:"options"`
	Body   json.RawMessage   `json:"body"`   // request and unary response cases
	Events []json.RawMessage `json:"events"` // stream cases
	// Request is the Responses request an answer case replies to;
	// History the stored conversation a Responses request continues.
	Request json.RawMessage   `json:"request"`
	History []json.RawMessage `json:"history"`
}

func (g *goldenCase) opts() Options {
	return Options{ShowThinking: g.Options.ShowThinking, ImageOutput: g.Options.ImageOutput,
		SearchLinks: g.Options.SearchLinks, MaxN: g.Options.MaxN, ImageFetcher: &fakeFetcher{}}
}

func (g *goldenCase) reply() Reply {
	return Reply{ID: "chatcmpl-test", Model: "gemini-2.5-flash", Created: 1767225600,
		IncludeUsage: g.Options.IncludeUsage, SingleToolCall: g.Options.SingleToolCall}
}

var randomCallID = regexp.MustCompile(`call_[A-Za-z0-9]{24}`)

// stable replaces random tool call ids so goldens are deterministic.
func stable(b []byte) []byte { return randomCallID.ReplaceAll(b, []byte("call_RANDOM")) }

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("output is not valid JSON: %v\n%s", err, b)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// runGolden calls fn for every testdata/<dir>/*.in.json and compares with
// the .want file next to it (written with -update).
func runGolden(t *testing.T, dir, wantExt string, fn func(t *testing.T, c *goldenCase) []byte) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.in.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs in testdata/%s: %v", dir, err)
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".in.json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var c goldenCase
			if err := json.Unmarshal(raw, &c); err != nil {
				t.Fatalf("%s: %v", in, err)
			}
			got := fn(t, &c)
			wantFile := strings.TrimSuffix(in, ".in.json") + wantExt
			if *update {
				if err := os.WriteFile(wantFile, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("missing golden (run with -update): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s\n--- got\n%s\n--- want\n%s", wantFile, got, want)
			}
		})
	}
}

func TestGoldenChatRequest(t *testing.T) {
	runGolden(t, "chat_request", ".want.json", func(t *testing.T, c *goldenCase) []byte {
		cr, e := TranslateChatRequest(context.Background(), c.Body, c.opts())
		if e != nil {
			t.Fatalf("unexpected error: %v", e)
		}
		meta, _ := json.Marshal(map[string]any{"model": cr.Model, "stream": cr.Stream, "include_usage": cr.IncludeUsage,
			"n": cr.N, "single_tool_call": cr.SingleToolCall, "reasoning_effort": cr.ReasoningEffort})
		out := []byte(`{"meta":` + string(meta) + `,"gemini":` + string(cr.Gemini) + `}`)
		return indent(t, out)
	})
}

func TestGoldenChatResponse(t *testing.T) {
	runGolden(t, "chat_response", ".want.json", func(t *testing.T, c *goldenCase) []byte {
		out, _, err := TranslateChatResponse(c.Body, c.reply(), c.opts())
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return indent(t, stable(out))
	})
}

func TestGoldenChatStream(t *testing.T) {
	runGolden(t, "chat_stream", ".want.txt", func(t *testing.T, c *goldenCase) []byte {
		var w bytes.Buffer
		st := NewStreamTranslator(c.reply(), c.opts())
		for _, ev := range c.Events {
			if err := st.Event(ev, &w); err != nil {
				t.Fatalf("Event: %v", err)
			}
		}
		if err := st.Finish(&w); err != nil {
			// A truncated upstream stream ends with an error event.
			if err := st.Fail(err, &w); err != nil {
				t.Fatal(err)
			}
		}
		checkFraming(t, w.Bytes(), c.reply().ID)
		return stable(w.Bytes())
	})
}

// checkFraming asserts OpenAI's SSE framing: every event is one
// "data: <json>" line plus a blank line, every chunk has the completion id,
// and the stream ends with data: [DONE].
func checkFraming(t *testing.T, b []byte, id string) {
	t.Helper()
	events := strings.Split(strings.TrimSuffix(string(b), "\n\n"), "\n\n")
	failed := strings.HasPrefix(events[len(events)-1], `data: {"error"`)
	if !bytes.HasSuffix(b, Done) && !failed {
		t.Errorf("stream ends with neither [DONE] nor an error event: %q", b[max(0, len(b)-40):])
	}
	for i, ev := range events {
		data, ok := strings.CutPrefix(ev, "data: ")
		if !ok || strings.Contains(data, "\n") {
			t.Fatalf("event %d is not a single data line: %q", i, ev)
		}
		if failed && i == len(events)-1 {
			continue
		}
		if data == "[DONE]" {
			if i != len(events)-1 {
				t.Errorf("[DONE] is not last")
			}
			continue
		}
		var ch struct {
			ID     string `json:"id"`
			Object string `json:"object"`
		}
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			t.Fatalf("event %d is not JSON: %v: %s", i, err, data)
		}
		if ch.ID != id || ch.Object != "chat.completion.chunk" {
			t.Errorf("event %d: id %q object %q", i, ch.ID, ch.Object)
		}
	}
}
