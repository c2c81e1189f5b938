package openai

import (
	"context"
	"io"
	"testing"
)

// benchResponses is the Responses counterpart of benchChat: the same
// conversation as input items, with instructions.
var benchResponses = []byte(`{"model":"gemini-2.5-flash","instructions":"You are a helpful assistant that answers briefly.","input":[{"role":"user","content":"What is the capital of France?"},{"role":"assistant","content":"Paris."},{"role":"user","content":"And what is its population, roughly? Give a single number."}],"temperature":0.7,"max_output_tokens":256,"top_p":0.95,"stream":true,"store":false}`)

func BenchmarkTranslateResponsesRequest(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchResponses)))
	for b.Loop() {
		if _, e := TranslateResponsesRequest(context.Background(), benchResponses, nil, Options{}); e != nil {
			b.Fatal(e)
		}
	}
}

func BenchmarkTranslateResponsesResponse(b *testing.B) {
	rr, e := TranslateResponsesRequest(context.Background(), benchResponses, nil, Options{})
	if e != nil {
		b.Fatal(e)
	}
	rep := rr.Reply("resp_bench", 1767225600)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchUnary)))
	for b.Loop() {
		if _, _, err := TranslateResponsesResponse(benchUnary, rep); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResponsesStreamEvent measures one Gemini event → one
// response.output_text.delta event on a long-lived translator (the
// per-event hot path; the message text it accumulates for the done
// events grows with b.N).
func BenchmarkResponsesStreamEvent(b *testing.B) {
	rr, e := TranslateResponsesRequest(context.Background(), benchResponses, nil, Options{})
	if e != nil {
		b.Fatal(e)
	}
	tr := NewResponsesTranslator(rr.Reply("resp_bench", 1767225600), true)
	if err := tr.Event(benchEvent, io.Discard); err != nil { // response.created and the item's opening events
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEvent)))
	for b.Loop() {
		if err := tr.Event(benchEvent, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
