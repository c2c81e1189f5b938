package hooks

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/balanceproxy/balance/examples/hooks/redact/pii"
)

// chatRequest2KB is a realistic OpenAI chat request of about 2 KB.
var chatRequest2KB = func() []byte {
	turns := []string{
		"You are a helpful assistant for the support team. Answer briefly and cite the ticket number when you can.",
		"Hi, my name is Dana Smith and my order 88123 never arrived. You can reach me at dana.smith@example.com or +1 415 555 0134.",
		"I'm sorry to hear that, Dana. I can see order 88123 shipped on Monday. Could you confirm the delivery address on file?",
		"It's 1200 Market Street, Apt 5, San Francisco. I paid with my card 4111 1111 1111 1111 if that helps find it.",
		"Thanks. The carrier reports a failed delivery attempt on Wednesday; a new attempt is scheduled for tomorrow morning.",
		"Great, can you also tell me whether I can change the delivery window to the afternoon, after 2pm, because I work mornings?",
		"Yes, I have requested an afternoon window. You will get a confirmation email within the hour with the new time slot.",
		"Perfect. One last thing: can you summarise everything we discussed today in three bullet points for my records please?",
	}
	var b strings.Builder
	b.WriteString(`{"model":"gpt-4o","temperature":0.3,"max_tokens":512,"messages":[`)
	roles := []string{"system", "user", "assistant", "user", "assistant", "user", "assistant", "user"}
	for i, t := range turns {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"role":"` + roles[i] + `","content":`)
		q, _ := json.Marshal(t + " " + t[:len(t)/2])
		b.Write(q)
		b.WriteByte('}')
	}
	b.WriteString(`],"stream":false}`)
	return []byte(b.String())
}()

func benchEnvelope(body []byte) *Envelope {
	return &Envelope{
		Route: "/v1/chat/completions", Protocol: "openai", Pool: "main", Model: "gpt-4o",
		Token:   Token{Name: "alice", Labels: map[string]string{"team": "search"}},
		Headers: []Header{{"content-type", "application/json"}, {"user-agent", "openai-go/3.98"}},
		Body:    body,
	}
}

func benchHook(b *testing.B, config string) *Hook {
	rt := newTestRuntime(b)
	return load(b, rt, Spec{Config: []byte(config), MaxInstances: 1, Timeout: time.Second})
}

func benchGuest(b *testing.B) *Hook {
	rt := newTestRuntime(b)
	return load(b, rt, Spec{Module: "bench", Phases: []Phase{PhaseRequest, PhaseResponse, PhaseChunk}, MaxInstances: 1,
		Timeout: time.Second, Config: []byte(`{"aliases":{"gpt-4o":"gemini-2.5-flash"}}`)})
}

// BenchmarkFixedCost is a call whose guest returns Continue without
// reading the envelope: host encode, copy in, watchdog, call, zero output.
func BenchmarkFixedCost(b *testing.B) {
	for _, size := range []struct {
		name string
		body []byte
	}{{"nobody", nil}, {"2KB", chatRequest2KB}} {
		b.Run(size.name, func(b *testing.B) {
			h := benchGuest(b)
			in := benchEnvelope(size.body)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Call(ctx, PhaseRequest, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEcho2KB moves a 2 KB body into the guest and back out
// unchanged: the ABI's share of any body transform.
func BenchmarkEcho2KB(b *testing.B) {
	h := benchGuest(b)
	in := benchEnvelope(chatRequest2KB)
	ctx := context.Background()
	b.SetBytes(int64(len(chatRequest2KB)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := h.Call(ctx, PhaseChunk, in)
		if err != nil || res.Body == nil {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkDecodeResult2KB is the host's share of reading a 2 KB output.
func BenchmarkDecodeResult2KB(b *testing.B) {
	out := append(append([]byte(`{"action":"continue","body":`), chatRequest2KB...), '}')
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeResult(out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransform2KB is model aliasing plus a system message put first
// in a 2 KB chat request, in the guest (timeouts on) and natively.
func BenchmarkTransform2KB(b *testing.B) {
	b.Run("wasm", func(b *testing.B) {
		h := benchGuest(b)
		in := benchEnvelope(chatRequest2KB)
		ctx := context.Background()
		b.SetBytes(int64(len(chatRequest2KB)))
		b.ReportAllocs()
		for b.Loop() {
			res, err := h.Call(ctx, PhaseResponse, in)
			if err != nil || res.Body == nil {
				b.Fatal(res, err)
			}
		}
	})
	b.Run("native", func(b *testing.B) {
		b.SetBytes(int64(len(chatRequest2KB)))
		b.ReportAllocs()
		for b.Loop() {
			out, err := sjson.SetBytes(chatRequest2KB, "model", "gemini-2.5-flash")
			if err == nil {
				out, err = sjson.SetRawBytes(out, "messages.-1", []byte(`{"role":"system","content":"Answer in English."}`))
				// (sjson cannot insert at the front; appending is the
				// closest native equivalent and no cheaper.)
			}
			if err != nil || len(out) == 0 {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCallNoChange is the fixed cost of a hook that says "continue,
// no change" on a pooled instance (timeouts on): envelope encode, copy
// into the guest, one guest call, zero-length output.
func BenchmarkCallNoChange(b *testing.B) {
	h := benchHook(b, `{"mode":"continue"}`)
	in := benchEnvelope(nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Call(ctx, PhaseRequest, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallNoChange2KB is the same with the 2 KB body copied in.
func BenchmarkCallNoChange2KB(b *testing.B) {
	h := benchHook(b, `{"mode":"continue"}`)
	in := benchEnvelope(chatRequest2KB)
	ctx := context.Background()
	b.SetBytes(int64(len(chatRequest2KB)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Call(ctx, PhaseRequest, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallTransform2KB rewrites the model of a 2 KB chat request in
// the guest (model aliasing), timeouts on.
func BenchmarkCallTransform2KB(b *testing.B) {
	h := benchHook(b, `{"mode":"model","model":"gemini-2.5-flash"}`)
	in := benchEnvelope(chatRequest2KB)
	ctx := context.Background()
	b.SetBytes(int64(len(chatRequest2KB)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := h.Call(ctx, PhaseRequest, in)
		if err != nil || res.Body == nil {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkCallTextWalk2KB visits every message text of the 2 KB request
// and rewrites them all (upper-casing), the shape of a redaction hook.
func BenchmarkCallTextWalk2KB(b *testing.B) {
	h := benchHook(b, `{"mode":"upper"}`)
	in := benchEnvelope(chatRequest2KB)
	ctx := context.Background()
	b.SetBytes(int64(len(chatRequest2KB)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := h.Call(ctx, PhaseRequest, in)
		if err != nil || res.Body == nil {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkNativeTransform2KB is the native-Go baseline of
// BenchmarkCallTransform2KB: the same sjson edit, no WASM.
func BenchmarkNativeTransform2KB(b *testing.B) {
	b.SetBytes(int64(len(chatRequest2KB)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := sjson.SetBytes(chatRequest2KB, "model", "gemini-2.5-flash")
		if err != nil || len(out) == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkNativeTransform2KBStdJSON is the naïve native baseline: decode
// into a map, edit, encode.
func BenchmarkNativeTransform2KBStdJSON(b *testing.B) {
	b.SetBytes(int64(len(chatRequest2KB)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(chatRequest2KB, &m); err != nil {
			b.Fatal(err)
		}
		m["model"] = "gemini-2.5-flash"
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnvelopeEncode2KB is the host-side share of every call.
func BenchmarkEnvelopeEncode2KB(b *testing.B) {
	in := benchEnvelope(chatRequest2KB)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = appendEnvelope(buf[:0], PhaseRequest, in, []byte(`{"mode":"continue"}`), true)
	}
}

// BenchmarkExampleRedact2KB runs examples/hooks/redact on the 2 KB chat
// request (which has an e-mail, a phone and a card number to mask), in
// the guest and natively (same pii package, texts found with gjson and
// rewritten with sjson on the host).
func BenchmarkExampleRedact2KB(b *testing.B) {
	b.Run("wasm", func(b *testing.B) {
		rt := newTestRuntime(b)
		h := load(b, rt, Spec{Module: "example-redact", Phases: []Phase{PhaseRequest}, MaxInstances: 1, Timeout: time.Second})
		in := benchEnvelope(chatRequest2KB)
		b.SetBytes(int64(len(chatRequest2KB)))
		b.ReportAllocs()
		for b.Loop() {
			res, err := h.Call(context.Background(), PhaseRequest, in)
			if err != nil || res.Body == nil {
				b.Fatal(res, err)
			}
		}
	})
	b.Run("native", func(b *testing.B) {
		b.SetBytes(int64(len(chatRequest2KB)))
		b.ReportAllocs()
		for b.Loop() {
			out := chatRequest2KB
			gjson.GetBytes(chatRequest2KB, "messages").ForEach(func(k, m gjson.Result) bool {
				if s, changed := pii.Redact(m.Get("content").String(), pii.All); changed {
					out, _ = sjson.SetBytes(out, "messages."+k.String()+".content", s)
				}
				return true
			})
			if len(out) == len(chatRequest2KB) {
				b.Fatal("nothing redacted")
			}
		}
	})
}
