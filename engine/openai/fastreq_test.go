package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// checkFastMatchesFull fails when the fast request path accepts a body the
// full path refuses, or translates it differently in any byte or field.
func checkFastMatchesFull(t *testing.T, body []byte, opt Options) (fast bool) {
	t.Helper()
	fcr, ok := fastChatRequest(body, &opt)
	if !ok {
		return false
	}
	cr, e := translateChatRequestFull(context.Background(), body, opt)
	if e != nil {
		t.Fatalf("fast path accepted a body the full path refuses (%v):\n%s", e, body)
	}
	if !bytes.Equal(fcr.Gemini, cr.Gemini) {
		t.Fatalf("Gemini bodies differ for\n%s\nfast: %s\nfull: %s", body, fcr.Gemini, cr.Gemini)
	}
	f, g := *fcr, *cr
	f.Gemini, g.Gemini = nil, nil
	if f.Model != g.Model || f.Stream != g.Stream || f.IncludeUsage != g.IncludeUsage || f.N != g.N ||
		f.SingleToolCall != g.SingleToolCall || f.ReasoningEffort != g.ReasoningEffort {
		t.Fatalf("request fields differ for\n%s\nfast: %+v\nfull: %+v", body, f, g)
	}
	return true
}

// fastCases are bodies the fast path must take (and agree on), covering
// every field it handles, plus escapes that only re-encode identically if
// the string handling mirrors encoding/json exactly.
var fastCases = []string{
	string(benchChat),
	string(benchTools),
	`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"a.b:c-d","description":"<x> & y \u2028","strict":true,"parameters":{ "type" : "object", "properties" : { "q" : { "type" : ["string","null"], "default" : "a<b> c", "examples":[1e3, -0.5] }, "r": {"anyOf":[{"type":"integer"},true]}, "s": {"type":"array","items":[{"type":"string"}]} }, "required" : [ "q" ] }}},{"type":"function","function":{"name":"noargs","parameters":null}}],"tool_choice":"required"}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","description":null,"parameters":{}}}],"tool_choice":"none"}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[],"tool_choice":"auto"}`,
	"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"description\":\"raw \u2028 \u2029 \xff <&>\"}}}]}",
	`{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hello there"}]}`,
	`{"model":"m","messages":[{"role":"system","content":"s1"},{"role":"developer","content":[{"type":"text","text":"s2"},{"type":"text","text":""}]},{"role":"user","content":"u"},{"role":"system","content":"late"},{"role":"assistant","content":null},{"role":"assistant","content":"a","tool_calls":[]}]}`,
	`{"model":"m","messages":[{"role":"system","content":"only system"}]}`,
	`{"model":"m","messages":[{"role":"system","content":""},{"role":"user","content":[{"type":"text","text":"x","cache_control":{"type":"ephemeral"}}],"name":"bob"}]}`,
	`{"model":"m","messages":[{"role":"user","content":"<a href=\"x\">&amp;</a> \u2028 \ud83d\ude00 \ud800 \/ \b\f\n\r\t\u0001 é \u00e9"}]}`,
	"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"invalid \xff utf8 \xe2\x80\xa8\"}]}",
	`{"model":"gemini-3-pro","messages":[{"role":"user","content":"x"}],"reasoning_effort":"low","stream":true,"stream_options":{"include_usage":false},"parallel_tool_calls":false}`,
	`{"model":"gemini-2.5-pro","messages":[{"role":"user","content":"x"}],"reasoning_effort":"none","n":3,"seed":12345678901,"stop":["a","","<b>"],"top_k":40,"max_tokens":10,"max_completion_tokens":20}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":1e-7,"top_p":0,"presence_penalty":-2,"frequency_penalty":2.0,"response_format":{"type":"json_object"},"logprobs":false,"logit_bias":{},"tools":[],"tool_choice":"none","user":"u","metadata":{"a":[1,2]},"store":null,"max_tokens":null}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"text"},"stop":"END"}`,
}

// fullCases must go the full path (or be refused by both).
var fullCases = []string{
	`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"$schema":"x","type":"object"}}}]}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"$ref":"#"}}}}}]}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"googleSearch"}}]}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","default":1e999}}}]}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"typ\u0065":"string"}}}]}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}]}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[],"tool_choice":"required"}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"anyOf":[]}}}}}]}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"string"}}}]}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"Model":"n"}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":3}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"1"}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1.5}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"model":"n"}`,
	`{"model":"m","messages":[{"ROLE":"user","content":"x"}]}`,
	`{"model":"m","messages":[{"role":"tool","content":"x","tool_call_id":"a"}]}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"extra_body":{"google":{"cached_content":"c"}}}`,
	`{"model":"m","messages":[]}`,
	`{"model":"","messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"n":9}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"extreme"}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"stop":["a","b","c","d","e"]}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}]} x`,
}

func TestFastChatRequestMatchesFull(t *testing.T) {
	for _, opt := range []Options{{}, {ShowThinking: true, MaxN: 4}} {
		for _, c := range fastCases {
			if !checkFastMatchesFull(t, []byte(c), opt) {
				t.Errorf("fast path refused a common body:\n%s", c)
			}
		}
		for _, c := range fullCases {
			if checkFastMatchesFull(t, []byte(c), opt) {
				t.Errorf("fast path took a body it must leave to the full path:\n%s", c)
			}
		}
	}
}

// FuzzFastChatRequest is the differential test of the two request paths:
// whenever the fast path answers, the full path must accept the body and
// produce identical bytes. Seeds are the golden bodies and the cases above.
func FuzzFastChatRequest(f *testing.F) {
	seedCorpus(f, "chat_request", false)
	for _, c := range append(append([]string{}, fastCases...), fullCases...) {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, opt := range []Options{{}, {ShowThinking: true, MaxN: 2}} {
			checkFastMatchesFull(t, body, opt)
		}
		// Both paths run through the public entry point too.
		if cr, e := TranslateChatRequest(context.Background(), body, Options{}); e == nil && !json.Valid(cr.Gemini) {
			t.Fatalf("invalid Gemini JSON %s", cr.Gemini)
		}
	})
}

// TestTranslateChatResponsePooled checks that recycled translators carry
// nothing from one answer into the next: every golden response translated
// again, in reverse order from several goroutines at once, must give the
// bytes of its first translation.
func TestTranslateChatResponsePooled(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "chat_response", "*.in.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	type tc struct {
		c    goldenCase
		want []byte
	}
	cases := make([]tc, len(files))
	for i, fn := range files {
		raw, err := os.ReadFile(fn)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &cases[i].c); err != nil {
			t.Fatal(err)
		}
		out, _, err := TranslateChatResponse(cases[i].c.Body, cases[i].c.reply(), cases[i].c.opts())
		if err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		cases[i].want = stable(out)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4*len(cases))
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 5; round++ {
				for i := len(cases) - 1; i >= 0; i-- {
					c := &cases[i]
					out, _, err := TranslateChatResponse(c.c.Body, c.c.reply(), c.c.opts())
					if err != nil || !bytes.Equal(stable(out), c.want) {
						errs <- fmt.Sprintf("%s: err %v\ngot  %s\nwant %s", files[i], err, stable(out), c.want)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestFastPathSkipsLargeMedia: a large body with an image goes straight to
// the full path (and is still translated).
func TestFastPathSkipsLargeMedia(t *testing.T) {
	big := bytes.Repeat([]byte("A"), 80<<10)
	body := []byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,` + string(big) + `"}}]}]}`)
	if _, ok := fastChatRequest(body, &Options{}); ok {
		t.Fatal("fast path took an image body")
	}
	cr, e := TranslateChatRequest(context.Background(), body, Options{})
	if e != nil || !bytes.Contains(cr.Gemini, []byte(`"inlineData":{"mimeType":"image/png"`)) {
		t.Fatalf("image body not translated: %v %.200s", e, cr.Gemini)
	}
}
