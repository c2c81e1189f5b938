package mockgemini

import (
	"encoding/json"
	"strings"
	"testing"
)

// The mock serves Vertex AI Express's paths with the Gemini answers and
// the per-key faults, in Vertex's error shapes, and nothing Vertex lacks.
func TestVertexPaths(t *testing.T) {
	s := Start(t, Options{})
	const gen = `{"contents":[{"role":"user","parts":[{"text":"hi vertex"}]}]}`
	for _, tc := range []struct {
		name, method, path, key, body string
		status                        int
		want                          string // substring of the body
	}{
		{"generate v1", "POST", "/v1/publishers/google/models/gemini-2.5-flash:generateContent", "AQ.ok", gen, 200, "Echo: hi vertex"},
		{"generate v1beta1", "POST", "/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent", "AQ.ok", gen, 200, "Echo: hi vertex"},
		{"key in query", "POST", "/v1/publishers/google/models/gemini-2.5-flash:generateContent", "?AQ.ok", gen, 200, "Echo: hi vertex"},
		{"stream", "POST", "/v1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "AQ.ok", gen, 200, "data: "},
		{"countTokens", "POST", "/v1/publishers/google/models/gemini-2.5-flash:countTokens", "AQ.ok", gen, 200, `"totalTokens"`},
		{"predict", "POST", "/v1/publishers/google/models/imagen-4.0-generate-001:predict", "AQ.ok", `{"instances":[{"prompt":"a cat"}],"parameters":{"sampleCount":1}}`, 200, "bytesBase64Encoded"},
		{"no models list", "GET", "/v1/publishers/google/models", "AQ.ok", "", 404, "NOT_FOUND"},
		{"no models get", "GET", "/v1/publishers/google/models/gemini-2.5-flash", "AQ.ok", "", 404, "NOT_FOUND"},
		{"other v1beta1 path", "POST", "/v1beta1/models/gemini-2.5-flash:generateContent", "AQ.ok", gen, 404, "NOT_FOUND"},
		{"429 has no RetryInfo", "POST", "/v1/publishers/google/models/gemini-2.5-flash:generateContent", "AQ.key-429-x", gen, 429, "error-code-429"},
		{"invalid key names aiplatform", "POST", "/v1/publishers/google/models/gemini-2.5-flash:generateContent", "AQ.key-invalid-x", gen, 400, `"service": "aiplatform.googleapis.com"`},
		{"Gemini takes a content without role", "POST", "/v1beta/models/gemini-2.5-flash:generateContent", "AQ.ok", `{"contents":[{"parts":[{"text":"hi"}]}]}`, 200, "Echo: hi"},
		{"content without role", "POST", "/v1/publishers/google/models/gemini-2.5-flash:generateContent", "AQ.ok", `{"contents":[{"parts":[{"text":"hi"}]}]}`, 400, "Please use a valid role: user, model."},
		{"stream, second content without role", "POST", "/v1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "AQ.ok", `{"contents":[{"role":"user","parts":[{"text":"hi"}]},{"parts":[{"text":"more"}]}]}`, 400, "valid role"},
		{"countTokens, system role", "POST", "/v1/publishers/google/models/gemini-2.5-flash:countTokens", "AQ.ok", `{"contents":[{"role":"system","parts":[{"text":"hi"}]}]}`, 400, "valid role"},
		{"no key", "POST", "/v1/publishers/google/models/gemini-2.5-flash:generateContent", "", gen, 403, "PERMISSION_DENIED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, s, tc.method, tc.path, tc.key, tc.body)
			if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
				t.Fatalf("status %d, want %d with %q: %s", r.status, tc.status, tc.want, r.body)
			}
			if tc.status == 429 {
				var e struct {
					Error struct {
						Status  string            `json:"status"`
						Details []json.RawMessage `json:"details"`
					} `json:"error"`
				}
				if json.Unmarshal(r.body, &e) != nil || e.Error.Status != "RESOURCE_EXHAUSTED" || len(e.Error.Details) != 0 {
					t.Fatalf("not Vertex's bare 429: %s", r.body)
				}
			}
		})
	}
}
