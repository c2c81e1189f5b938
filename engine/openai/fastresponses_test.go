package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

// fastResponsesCases must take the fast path and match the full one.
var fastResponsesCases = []string{
	`{"model":"gemini-2.5-flash","input":"hello there"}`,
	`{"model":"gemini-2.5-flash","input":"hello there","store":false,"stream":true}`,
	`{"model":"m","instructions":"Be brief.","input":[{"role":"developer","content":"No emojis."},{"role":"user","content":"a <b> & \"c\""},{"role":"assistant","content":"x"},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"y","annotations":[]}]},{"role":"user","content":[{"type":"input_text","text":"z"},{"type":"input_text","text":""}]}],"temperature":0.7,"top_p":0.9,"max_output_tokens":256,"metadata":{"k":"v"},"user":"u","parallel_tool_calls":false}`,
	`{"model":"m","input":[{"id":"msg_1","type":"message","role":"user","status":"completed","content":"caf\u00e9 \ud83d\ude00"},{"role":"system","content":"late system"}],"tools":[],"background":false,"previous_response_id":null}`,
	`{"model":"m","input":"","instructions":"only instructions"}`,
}

// fullResponsesCases must go the full path (or be refused by both).
var fullResponsesCases = []string{
	`{"model":"m","input":"x","tools":[{"type":"function","name":"f"}]}`,
	`{"model":"m","input":"x","reasoning":{"effort":"low"}}`,
	`{"model":"m","input":"x","text":{"format":{"type":"json_object"}}}`,
	`{"model":"m","input":"x","temperature":3}`,
	`{"model":"m","input":"x","max_output_tokens":1.5}`,
	`{"model":"m","input":"x","Model":"n"}`,
	`{"model":"m","input":"x","model":"n"}`,
	`{"model":"m","input":[{"ROLE":"user","content":"x"}]}`,
	`{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"data:image/png;base64,AAAA"}]}]}`,
	`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{}"}]}`,
	`{"model":"m","input":[{"type":"reasoning","encrypted_content":"gemini-thought-signature:abc"},{"role":"assistant","content":"x"}]}`,
	`{"model":"m","input":[{"role":"system","content":[{"type":"output_text","text":"x"}]},{"role":"user","content":"y"}]}`,
	`{"model":"m","input":[{"role":"user","content":[{"type":"input_text"}]}]}`,
	`{"model":"m","input":""}`,
	`{"model":"","input":"x"}`,
	`{"model":"m","input":"x"} x`,
}

// checkFastResponsesMatchesFull reports whether the fast path took body;
// when it did, the full path must have accepted it with the same Gemini
// bytes, settings, echo and (ids aside) stored input.
func checkFastResponsesMatchesFull(t *testing.T, body []byte, history []json.RawMessage, opt Options) bool {
	t.Helper()
	fast, ok := fastResponsesRequest(body, history, &opt)
	if !ok {
		return false
	}
	full, e := translateResponsesFull(context.Background(), body, history, opt)
	if e != nil {
		t.Fatalf("fast path accepted what the full path refuses (%v):\n%s", e, body)
	}
	if !bytes.Equal(fast.Gemini, full.Gemini) {
		t.Fatalf("Gemini bytes differ for %s\nfast %s\nfull %s", body, fast.Gemini, full.Gemini)
	}
	if fast.Model != full.Model || fast.Stream != full.Stream || fast.Store != full.Store || fast.PreviousResponseID != full.PreviousResponseID ||
		fast.ReasoningEffort != full.ReasoningEffort || fast.reply.SingleToolCall != full.reply.SingleToolCall || !bytes.Equal(fast.reply.echo, full.reply.echo) {
		t.Fatalf("settings differ for %s\nfast %+v\nfull %+v", body, fast, full)
	}
	if !jsonEqual(stableIDs(fast.Input), stableIDs(full.Input)) {
		t.Fatalf("stored input differs for %s\nfast %s\nfull %s", body, fast.Input, full.Input)
	}
	return true
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

func TestFastResponsesRequestMatchesFull(t *testing.T) {
	history := []json.RawMessage{
		json.RawMessage(`{"id":"msg_a","type":"message","role":"user","content":[{"type":"input_text","text":"my name is Ada"}]}`),
		json.RawMessage(`{"id":"msg_b","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Echo: my name is Ada","annotations":[],"logprobs":[]}]}`),
	}
	for _, opt := range []Options{{}, {ShowThinking: true}} {
		for _, h := range [][]json.RawMessage{nil, history} {
			for _, c := range fastResponsesCases {
				if !checkFastResponsesMatchesFull(t, []byte(c), h, opt) {
					t.Errorf("fast path refused a common body:\n%s", c)
				}
			}
			for _, c := range fullResponsesCases {
				// With a history an empty input is fine: only the
				// agreement of both paths is checked then.
				if took := checkFastResponsesMatchesFull(t, []byte(c), h, opt); took && h == nil {
					t.Errorf("fast path took a body it must leave to the full path:\n%s", c)
				}
			}
		}
	}
}
