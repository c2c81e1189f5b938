package engine

import "testing"

func TestParseUsage(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Usage
		ok   bool
	}{
		{"unary pretty", `{"candidates":[],"usageMetadata": {
    "promptTokenCount": 11,
    "candidatesTokenCount": 1,
    "totalTokenCount": 46,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 11}],
    "thoughtsTokenCount": 34
  },"modelVersion":"x"}`, Usage{PromptTokenCount: 11, CandidatesTokenCount: 1, ThoughtsTokenCount: 34, TotalTokenCount: 46}, true},
		{"stream tail takes the last", `data: {"usageMetadata": {"promptTokenCount": 6,"totalTokenCount": 7}}` + "\r\n\r\n" +
			`data: {"usageMetadata": {"promptTokenCount": 6,"candidatesTokenCount": 9,"cachedContentTokenCount": 2,"totalTokenCount": 15}}` + "\r\n\r\n",
			Usage{PromptTokenCount: 6, CandidatesTokenCount: 9, CachedContentTokenCount: 2, TotalTokenCount: 15}, true},
		{"absent", `{"candidates":[]}`, Usage{}, false},
		{"truncated", `{"usageMetadata": {"promptTokenCount": 6`, Usage{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseUsage([]byte(tc.in))
			if ok != tc.ok || got != tc.want {
				t.Fatalf("got %+v %v, want %+v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzParseUsage(f *testing.F) {
	f.Add([]byte(`{"usageMetadata": {"promptTokenCount": 11, "totalTokenCount": 46}}`))
	f.Add([]byte(`"usageMetadata"{{{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, _ := parseUsage(b)
		if u.TotalTokenCount < 0 && len(b) < 20 {
			t.Fatal("negative count from a short input")
		}
	})
}

// BenchmarkParseUsage reads the usage of a typical unary answer (the
// mock's, 600 bytes), as every generateContent answer is read.
func BenchmarkParseUsage(b *testing.B) {
	body := []byte(`{"candidates":[{"content":{"parts":[{"text":"Echo: Write a haiku about load balancers and the keys they spend, and another one about the quotas they keep."}],"role":"model"},"finishReason":"STOP","index":0,"safetyRatings":[{"category":"HARM_CATEGORY_HATE_SPEECH","probability":"NEGLIGIBLE"},{"category":"HARM_CATEGORY_DANGEROUS_CONTENT","probability":"NEGLIGIBLE"}]}],"usageMetadata":{"promptTokenCount":17,"candidatesTokenCount":31,"totalTokenCount":112,"promptTokensDetails":[{"modality":"TEXT","tokenCount":17}],"thoughtsTokenCount":64},"modelVersion":"gemini-2.5-flash","responseId":"mock-0123456789abcdef"}`)
	for b.Loop() {
		if u, ok := parseUsage(body); !ok || u.TotalTokenCount != 112 {
			b.Fatal(u)
		}
	}
}
