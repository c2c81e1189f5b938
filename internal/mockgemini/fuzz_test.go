package mockgemini

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzFormatters checks the two re-renderers against encoding/json for any
// valid JSON input: the pretty form must equal json.Indent and the spaced
// form must compact back to the same value.
func FuzzFormatters(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,2,{"b":"c:d,e"}],"e":{}}`, `"x\"y\\"`, `[{"k": [ ] , "z" : null}]`, `{"\u2028<&>":true}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if !json.Valid(src) {
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, src); err != nil {
			t.Fatal(err)
		}
		if got := appendCompact(nil, src); !bytes.Equal(got, compact.Bytes()) {
			t.Fatalf("appendCompact %q, want %q", got, compact.Bytes())
		}
		var want bytes.Buffer
		if err := json.Indent(&want, compact.Bytes(), "", "  "); err != nil {
			t.Fatal(err)
		}
		if got := appendPretty(nil, src); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("appendPretty\n%s\nwant\n%s", got, want.Bytes())
		}
		spaced := appendSpaced(nil, src)
		if bytes.ContainsAny(spaced, "\n\r") {
			t.Fatalf("spaced form spans lines: %q", spaced)
		}
		var back bytes.Buffer
		if err := json.Compact(&back, spaced); err != nil || !bytes.Equal(back.Bytes(), compact.Bytes()) {
			t.Fatalf("spaced %q does not round-trip (%v)", spaced, err)
		}
	})
}

// FuzzGenerate feeds arbitrary bodies to the request parser: it must never
// panic, and whatever it answers must be valid JSON in both layouts.
func FuzzGenerate(f *testing.F) {
	for _, s := range []string{
		helloBody,
		`{"contents":[]}`,
		`{"contents":[{"role":"model","parts":[{"functionCall":{"name":"f"}}]},{"parts":[{"functionResponse":{"name":"f","response":{"a":[1]}}}]}]}`,
		`{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"a":{"type":"ARRAY","items":{"type":"OBJECT","properties":{"b":{"enum":[{"x":1}]}}}}}}}]}]}`,
		`{"contents":[{"parts":[{"text":"\u00e9\ud83d\ude00"}]}],"generationConfig":{"maxOutputTokens":1,"responseMimeType":"application/json","responseSchema":{"type":["string","null"]}}}`,
		`[1,2]`, `{"contents":{}}`, `nul`,
	} {
		f.Add([]byte(s))
	}
	models := []*modelInfo{catalogIndex["gemini-2.5-flash"], catalogIndex["gemini-3-pro-preview"], catalogIndex["gemini-2.5-flash-image"]}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, m := range models {
			var p genPlan
			if e := planGenerate(body, m, &p, false); e != nil {
				if !json.Valid(renderError(*e, false)) {
					t.Fatalf("invalid error JSON for %q", body)
				}
				continue
			}
			if out := appendPretty(nil, p.appendUnary(nil)); !json.Valid(out) {
				t.Fatalf("invalid unary JSON for %q:\n%s", body, out)
			}
			var text bytes.Buffer
			p.streamChunks(3, func(c []byte) {
				if !json.Valid(appendSpaced(nil, c)) {
					t.Fatalf("invalid chunk for %q: %s", body, c)
				}
				text.WriteByte('.')
			})
			if text.Len() == 0 {
				t.Fatalf("no chunks for %q", body)
			}
		}
	})
}
