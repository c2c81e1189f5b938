package engine_test

import (
	"fmt"
	"testing"
)

// BenchmarkResponsesVsNative compares the same one-turn generation sent
// through /v1/responses and through the native route, in one run: the
// ratio of ns/op is the Responses translation's cost. "stored" keeps each
// answer in the store (the API's default), "unstored" sends store:false.
func BenchmarkResponsesVsNative(b *testing.B) {
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = fmt.Sprintf("AIzaSyBenchKey%025d", i)
	}
	h := newBenchHarness(b, keys)
	b.Run("native", func(b *testing.B) {
		postLoad(b, h.url+generatePath, []byte(genBody), "x-goog-api-key", testToken)
	})
	b.Run("responses_unstored", func(b *testing.B) {
		postLoad(b, h.url+"/v1/responses", []byte(`{"model":"gemini-2.5-flash","input":"hello there","store":false}`), "Authorization", "Bearer "+testToken)
	})
	b.Run("responses_stored", func(b *testing.B) {
		postLoad(b, h.url+"/v1/responses", []byte(`{"model":"gemini-2.5-flash","input":"hello there"}`), "Authorization", "Bearer "+testToken)
	})
}
