package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/genai"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/internal/mockgemini"
)

// A Live session falls back like an HTTP call: when every key of its pool
// is cooling for the model the fallback pool serves it (and the record
// names that pool), and a Vertex pool, which has no Live API, hands its
// sessions to its fallback or refuses them with a close that says why,
// before any dial.
func TestLiveSessionFallsBack(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	rec := &recorder{}
	_, url := startProxyWith(t, mock, t.TempDir(), `
upstream "google" { base_url = "%MOCK%" }
upstream "vertex" {
  base_url = "%MOCK%"
  kind     = "vertex_express"
}
pool "main" {
  upstream = "google"
  keys     = ["`+liveKeyA+`"]
  fallback = ["spare"]
}
pool "spare" {
  upstream = "google"
  keys     = ["`+liveKeyB+`"]
}
pool "express" {
  upstream = "vertex"
  keys     = ["`+vertexKey1+`"]
  fallback = ["spare"]
}
pool "express_only" {
  upstream = "vertex"
  keys     = ["`+vertexKey2+`"]
}
token "tester" {
  secret = "`+testToken+`"
  pools  = ["main", "spare"]
}
token "vertex" {
  secret = "sk-live-vertex-token-1"
  pools  = ["express", "spare"]
}
token "vertex_only" {
  secret = "sk-live-vertex-only-2"
  pools  = ["express_only"]
}
`, engine.Options{Recorder: rec})
	base := "ws" + strings.TrimPrefix(url, "http")
	mock.SetFault(liveKeyA, mockgemini.Fault{Kind: mockgemini.RateLimit, RetryDelay: 20 * time.Second})

	// session runs one text turn; its record is then the recorder's only.
	session := func(t *testing.T, token string) {
		t.Helper()
		rec.reset()
		s, err := liveClient(t, base, token, "v1beta").Live.Connect(context.Background(), liveModel, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.SendClientContent(genai.LiveClientContentInput{Turns: []*genai.Content{genai.NewContentFromText("hello", genai.RoleUser)}}); err != nil {
			t.Fatal(err)
		}
		if text, _, _ := receiveTurn(t, s); text != "Echo: hello" {
			t.Fatalf("answered %q", text)
		}
	}
	t.Run("cooling pool", func(t *testing.T) {
		// The first session: key A refuses (429, cooled), spare serves.
		// The second: A is cooling, so it goes straight to spare.
		for i, wantAttempts := range []int{2, 1} {
			session(t, testToken)
			if r := rec.last(t); r.Pool != "spare" || r.Attempts != wantAttempts || r.Status != 200 {
				t.Fatalf("session %d recorded %+v", i+1, r)
			}
		}
		if a, b := mock.Requests(liveKeyA), mock.Requests(liveKeyB); a != 1 || b != 2 {
			t.Fatalf("dials: A %d, B %d; want 1, 2", a, b)
		}
	})
	t.Run("vertex pool", func(t *testing.T) {
		session(t, "sk-live-vertex-token-1")
		if r := rec.last(t); r.Pool != "spare" || r.Attempts != 1 {
			t.Fatalf("recorded %+v", r)
		}
		if n := mock.Requests(vertexKey1); n != 0 {
			t.Fatalf("the Vertex key was dialled %d times", n)
		}
	})
	t.Run("vertex pool without fallback", func(t *testing.T) {
		before := mock.Total()
		if ce := liveClose(t, base+livePath, "sk-live-vertex-only-2", `{"setup":{"model":"models/`+liveModel+`"}}`); !strings.Contains(ce.Text, "Vertex") {
			t.Fatalf("ended with %v, want a close naming Vertex", ce)
		}
		if n := mock.Total(); n != before {
			t.Fatalf("the mock got %d requests", n-before)
		}
	})
}
