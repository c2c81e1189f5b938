package openai

import (
	"context"
	"encoding/json"
	"io"
	"testing"
)

// Realistic inputs: a ~430-byte chat request (the size used in the
// architecture notes), the same with one tool, a ~1 KB unary Gemini answer
// and a ~200-byte stream event as Google sends them.
var (
	benchChat  = []byte(`{"model":"gemini-2.5-flash","messages":[{"role":"system","content":"You are a helpful assistant that answers briefly."},{"role":"user","content":"What is the capital of France?"},{"role":"assistant","content":"Paris."},{"role":"user","content":"And what is its population, roughly? Give a single number."}],"temperature":0.7,"max_tokens":256,"top_p":0.95,"stream":true,"stream_options":{"include_usage":true}}`)
	benchTools = []byte(`{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"Weather in Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Get the weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string","description":"City name"},"unit":{"type":"string","enum":["c","f"]}},"required":["city"],"additionalProperties":false}}}],"tool_choice":"auto"}`)
	benchUnary = []byte(`{
  "candidates": [
    {
      "content": {
        "parts": [
          {
            "text": "Paris has a population of roughly 2.1 million people within the city limits, and about 12 million in the wider metropolitan area (Île-de-France region is larger still). The city proper has been slowly shrinking while the metro area keeps growing."
          }
        ],
        "role": "model"
      },
      "finishReason": "STOP",
      "index": 0
    }
  ],
  "usageMetadata": {
    "promptTokenCount": 41,
    "candidatesTokenCount": 52,
    "totalTokenCount": 188,
    "promptTokensDetails": [
      {
        "modality": "TEXT",
        "tokenCount": 41
      }
    ],
    "thoughtsTokenCount": 95
  },
  "modelVersion": "gemini-2.5-flash",
  "responseId": "xlWYafXAOKSf1e8PpcODiAg"
}`)
	benchEvent = []byte(`{"candidates": [{"content": {"parts": [{"text": " roughly 2.1 million people live in the city"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 41,"candidatesTokenCount": 9,"totalTokenCount": 50},"modelVersion": "gemini-2.5-flash","responseId": "yFWYabnBB8Wg1e8P3ZTdiAY"}`)
)

// BenchmarkBaselineJSONRoundTrip is the reference cost: decoding the same
// request into generic JSON and encoding it again, the least any
// encoding/json-based translator does.
func BenchmarkBaselineJSONRoundTrip(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchChat)))
	for b.Loop() {
		var v any
		if err := json.Unmarshal(benchChat, &v); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTranslateChatRequest(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		body []byte
	}{{"plain", benchChat}, {"tools", benchTools}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				if _, e := TranslateChatRequest(ctx, c.body, Options{}); e != nil {
					b.Fatal(e)
				}
			}
		})
	}
}

func BenchmarkTranslateChatResponse(b *testing.B) {
	rep := Reply{ID: "chatcmpl-bench", Model: "gemini-2.5-flash", Created: 1767225600}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchUnary)))
	for b.Loop() {
		if _, _, err := TranslateChatResponse(benchUnary, rep, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamChunk measures one Gemini event → one OpenAI chunk on a
// long-lived translator (the per-chunk hot path).
func BenchmarkStreamChunk(b *testing.B) {
	st := NewStreamTranslator(Reply{ID: "chatcmpl-bench", Model: "gemini-2.5-flash", Created: 1767225600, IncludeUsage: true}, Options{})
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEvent)))
	for b.Loop() {
		if err := st.Event(benchEvent, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineEventUnmarshal is the reference for the chunk path:
// merely decoding the event with encoding/json into generic values.
func BenchmarkBaselineEventUnmarshal(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEvent)))
	for b.Loop() {
		var v any
		if err := json.Unmarshal(benchEvent, &v); err != nil {
			b.Fatal(err)
		}
	}
}
