package gemini

import (
	"os"
	"testing"

	"github.com/balanceproxy/balance/internal/verdict"
)

// Vertex AI's error bodies, as it sends them to express-mode keys, are
// classified as Gemini's: a 429 cools the key per model (Vertex gives no
// RetryInfo, so the pool's base cooldown applies), an invalid or expired
// key and a key Vertex does not take at all are quarantined, a suspended
// one too, and a missing model is the client's error.
func TestClassifyVertexErrors(t *testing.T) {
	for _, tc := range []struct {
		file   string
		status int
		class  verdict.Class
		reason string
	}{
		{"vertex_429.json", 429, verdict.RateLimited, "RESOURCE_EXHAUSTED"},
		{"vertex_429_stream.json", 429, verdict.RateLimited, "RESOURCE_EXHAUSTED"},
		{"vertex_key_invalid.json", 400, verdict.InvalidKey, "API_KEY_INVALID"},
		{"vertex_key_expired.json", 400, verdict.InvalidKey, "API_KEY_EXPIRED"},
		{"vertex_no_express.json", 401, verdict.InvalidKey, "CREDENTIALS_MISSING"},
		{"vertex_403.json", 403, verdict.PermissionDenied, "CONSUMER_SUSPENDED"},
		{"vertex_400_model.json", 404, verdict.ClientError, "NOT_FOUND"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			v := Classify(tc.status, body)
			if v.Class != tc.class || v.Reason != tc.reason || v.RetryAfter != 0 || v.Daily {
				t.Fatalf("got %+v, want class %v reason %s", v, tc.class, tc.reason)
			}
		})
	}
}
