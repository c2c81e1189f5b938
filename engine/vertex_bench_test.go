package engine_test

import (
	"testing"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/internal/mockgemini"
)

// BenchmarkVertexPools compares, in one run, a call served by a Gemini
// pool, by a Vertex AI Express pool, and by the Gemini pool as the
// fallback of a Vertex pool whose keys are all cooling for the model: the
// difference is what the Vertex path and the fallback cost per request.
// vertex_no_role adds giving a role-less content its role.
func BenchmarkVertexPools(b *testing.B) {
	mock := mockgemini.Start(b, mockgemini.Options{DisableRecording: true})
	srv, url := startProxyWith(b, mock, b.TempDir(), vertexConfig(`model "gemini-2.5-flash-lite" { pool = "paid" }`), engine.Options{})
	_ = srv
	// gemini-2.5-pro: every Vertex key answers 429 once and then cools
	// for the length of the run.
	for _, k := range []string{vertexKey1, vertexKey2} {
		mock.SetFault(k, mockgemini.Fault{Kind: mockgemini.RateLimit, Model: "gemini-2.5-pro"})
	}
	body := []byte(genBody)
	b.Run("gemini", func(b *testing.B) {
		postLoad(b, url+"/v1beta/models/gemini-2.5-flash-lite:generateContent", body, "x-goog-api-key", testToken)
	})
	b.Run("vertex", func(b *testing.B) {
		postLoad(b, url+"/v1beta/models/gemini-2.5-flash:generateContent", body, "x-goog-api-key", testToken)
	})
	// A content without role: balance adds "user" for Vertex.
	noRole := []byte(`{"contents":[{"parts":[{"text":"hello there"}]}]}`)
	b.Run("vertex_no_role", func(b *testing.B) {
		postLoad(b, url+"/v1beta/models/gemini-2.5-flash:generateContent", noRole, "x-goog-api-key", testToken)
	})
	b.Run("fallback", func(b *testing.B) {
		postLoad(b, url+"/v1beta/models/gemini-2.5-pro:generateContent", body, "x-goog-api-key", testToken)
	})
}
