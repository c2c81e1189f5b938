package guest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// indexed is an envelope as the host writes it (hooks.appendEnvelope).
const indexed = `{"abi":1,"index":"000000ac00000016000000ce00000008000000df0000002b0000011200000006000001210000000800000134000000410000017f000000070000018e00000007","phase":"chunk","route":"/v1/chat/completions","protocol":"openai","token":{"name":"alice","labels":{"team":"search"}},"pool":"main","model":"gpt-4o","headers":{"content-type":"application/json","user-agent":"openai-go/3.98"},"config":{"c":2},"body":{"a":1}}`

// plain is the same document without an index, as another host might send.
const plain = `{"abi":1,"phase":"chunk","route":"/v1/chat/completions","protocol":"openai","token":{"name":"alice","labels":{"team":"search"}},"pool":"main","model":"gpt-4o","headers":{"content-type":"application/json","user-agent":"openai-go/3.98"},"config":{"c":2},"body":{"a":1}}`

func TestEnvelopeAccessors(t *testing.T) {
	for _, raw := range []string{indexed, plain} {
		e := Envelope{raw: []byte(raw), phase: PhaseChunk}
		got := []string{string(e.Phase()), e.Route(), e.Protocol(), e.Pool(), e.Model(), e.Token().Name,
			e.Token().Label("team"), e.Header("user-agent"), e.Header("nope"), string(e.Config()),
			string(e.Body()), e.ConfigValue("c").String()}
		want := []string{"chunk", "/v1/chat/completions", "openai", "main", "gpt-4o", "alice", "search",
			"openai-go/3.98", "", `{"c":2}`, `{"a":1}`, "2"}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("indexed=%v field %d = %q, want %q", e.indexed, i, got[i], want[i])
			}
		}
		if h := e.Headers(); len(h) != 2 || h["content-type"] != "application/json" {
			t.Errorf("Headers() = %v", h)
		}
	}
	// A null body reads as nil; a corrupt index falls back to parsing.
	e := Envelope{raw: []byte(strings.Replace(plain, `{"a":1}`, "null", 1))}
	if e.Body() != nil {
		t.Errorf("null body = %q", e.Body())
	}
	bad := strings.Replace(indexed, "000000ac", "ffffffff", 1)
	e = Envelope{raw: []byte(bad)}
	if e.Route() != "/v1/chat/completions" || e.indexed {
		t.Errorf("corrupt index not handled: %q indexed=%v", e.Route(), e.indexed)
	}
}

func TestHandleOutput(t *testing.T) {
	defer func() { handlers = [3]Handler{} }()
	tests := []struct {
		desc    string
		h       Handler
		wantOut string
	}{
		{"continue is empty", func(*Envelope) (*Result, error) { return Continue(), nil }, ""},
		{"explicit continue without edits is empty", func(*Envelope) (*Result, error) {
			return &Result{Action: ActionContinue}, nil
		}, ""},
		{"body", func(in *Envelope) (*Result, error) { return ReplaceBody(in.Body()), nil },
			`{"action":"continue","body":{"a":1}}`},
		{"reject", func(in *Envelope) (*Result, error) {
			return Reject(403, ErrorBody(in.Protocol(), 403, `no "way"`)), nil
		}, `{"action":"reject","status":403,"body":{"error":{"message":"no \"way\"","type":"permission_denied","param":null,"code":null}}}`},
		{"headers model pool", func(*Envelope) (*Result, error) {
			return &Result{SetHeaders: map[string]string{"b": "2", "a": "1"}, RemoveHeaders: []string{"x"}, Model: "m", Pool: "p"}, nil
		}, `{"action":"continue","model":"m","pool":"p","headers":{"set":{"a":"1","b":"2"},"remove":["x"]}}`},
		{"error", func(*Envelope) (*Result, error) { return nil, errors.New("bad\ninput") },
			`{"error":"bad\ninput"}`},
	}
	for _, tc := range tests {
		OnChunk(tc.h)
		out := handle(2, []byte(indexed), nil)
		if string(out) != tc.wantOut {
			t.Errorf("%s: output %s, want %s", tc.desc, out, tc.wantOut)
		}
		if len(out) > 0 && !json.Valid(out) {
			t.Errorf("%s: invalid JSON output", tc.desc)
		}
	}
	if features&featChunk == 0 {
		t.Error("OnChunk did not set its feature bit")
	}
	OnChunk(nil)
	if out := handle(2, []byte(indexed), nil); len(out) != 0 || features&featChunk != 0 {
		t.Error("an unregistered phase must answer continue and clear its bit")
	}
}

func TestTextsAndEdits(t *testing.T) {
	gem := []byte(`{"systemInstruction":{"parts":[{"text":"sys"}]},"contents":[{"role":"user","parts":[{"text":"a\"b"},{"inlineData":{}},{"text":"c"}]}]}`)
	var paths []string
	EachText("gemini", gem, func(t Text) bool { paths = append(paths, t.Path+"="+t.Value); return true })
	if got := strings.Join(paths, " "); got != `systemInstruction.parts.0.text=sys contents.0.parts.0.text=a"b contents.0.parts.2.text=c` {
		t.Errorf("gemini texts: %s", got)
	}
	out, err := ReplaceTexts("gemini", gem, strings.ToUpper)
	if err != nil || string(out) != `{"systemInstruction":{"parts":[{"text":"SYS"}]},"contents":[{"role":"user","parts":[{"text":"A\"B"},{"inlineData":{}},{"text":"C"}]}]}` {
		t.Errorf("ReplaceTexts gemini = %s, %v", out, err)
	}
	oai := []byte(`{"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"t"},{"type":"image_url"}]}]}`)
	out, err = ReplaceTexts("openai", oai, func(s string) string { return s + "<&>" })
	if err != nil || string(out) != `{"messages":[{"role":"system","content":"s\u003c\u0026\u003e"},{"role":"user","content":[{"type":"text","text":"t\u003c\u0026\u003e"},{"type":"image_url"}]}]}` {
		t.Errorf("ReplaceTexts openai = %s, %v", out, err)
	}
	if out, err := ReplaceTexts("openai", oai, func(s string) string { return s }); out != nil || err != nil {
		t.Errorf("no-op ReplaceTexts = %s, %v", out, err)
	}
	resp := []byte(`{"candidates":[{"content":{"parts":[{"text":"x","thought":true},{"text":"y"}]}}]}`)
	n := 0
	EachText("gemini", resp, func(Text) bool { n++; return false })
	if n != 1 {
		t.Errorf("EachText did not stop: %d", n)
	}
}

func TestPrepend(t *testing.T) {
	tests := []struct{ doc, path, raw, want string }{
		{`{"model":"m","messages":[{"a":1}]}`, "messages", `{"s":1}`, `{"model":"m","messages":[{"s":1},{"a":1}]}`},
		{`{"model":"m","messages":[ ]}`, "messages", `1`, `{"model":"m","messages":[1 ]}`},
		{`{"x":{"messages":[]},"t":"a,\"b]","messages":[2]}`, "messages", `1`, `{"x":{"messages":[]},"t":"a,\"b]","messages":[1,2]}`},
		{`{"s":{"parts":[{"text":"a"}]}}`, "s.parts", `{"text":"b"}`, `{"s":{"parts":[{"text":"b"},{"text":"a"}]}}`},
		{` { "n" : 1 , "messages" : [3] } `, "messages", `1`, ` { "n" : 1 , "messages" : [1,3] } `},
	}
	for _, tc := range tests {
		got, err := Prepend([]byte(tc.doc), tc.path, []byte(tc.raw))
		if err != nil || string(got) != tc.want {
			t.Errorf("Prepend(%s, %s) = %s, %v; want %s", tc.doc, tc.path, got, err, tc.want)
		}
	}
	for _, doc := range []string{`{"messages":{}}`, `{"a":1}`, `[]`, `{"messages":`} {
		if _, err := Prepend([]byte(doc), "messages", []byte(`1`)); err == nil {
			t.Errorf("Prepend(%s) succeeded", doc)
		}
	}
}

func TestErrorBody(t *testing.T) {
	for _, tc := range []struct {
		proto  string
		status int
		want   string
	}{
		{"gemini", 429, `{"error":{"code":429,"message":"m","status":"RESOURCE_EXHAUSTED"}}`},
		{"gemini", 418, `{"error":{"code":418,"message":"m","status":"FAILED_PRECONDITION"}}`},
		{"openai", 401, `{"error":{"message":"m","type":"authentication_error","param":null,"code":null}}`},
		{"openai", 500, `{"error":{"message":"m","type":"server_error","param":null,"code":null}}`},
	} {
		if got := string(ErrorBody(tc.proto, tc.status, "m")); got != tc.want {
			t.Errorf("ErrorBody(%s, %d) = %s", tc.proto, tc.status, got)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("plain")
	f.Add("quote \" backslash \\ control \x01 \n html <&> \u2028 bad \xff")
	f.Fuzz(func(t *testing.T, s string) {
		b := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("AppendString(%q) = %s: %v", s, b, err)
		}
		if !utf8.Valid(b) {
			t.Fatalf("AppendString(%q) = %q is not UTF-8", s, b)
		}
		var want []rune
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			want = append(want, r) // RuneError for each bad byte, as encoding/json
			i += size
		}
		if string(want) != back {
			t.Fatalf("round trip %q -> %q, want %q", s, back, string(want))
		}
	})
}

func FuzzEnvelope(f *testing.F) {
	f.Add([]byte(indexed))
	f.Add([]byte(plain))
	f.Add([]byte(`{"abi":1,"index":"zz"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e := Envelope{raw: raw}
		// Must never panic, whatever the host wrote.
		_ = e.Route() + e.Protocol() + e.Pool() + e.Model() + e.Header("x") + e.Token().Name
		_, _ = e.Body(), e.Config()
	})
}
