package engine_test

import (
	"encoding/json"
	"strings"
	"testing"
)

const rulesConfig = `
upstream "mock" { base_url = "%MOCK%" }
pool "free" {
  upstream = "mock"
  keys     = ["AIzaSyFreeKey00000000000000000000000001"]
}
pool "paid" {
  upstream = "mock"
  keys     = ["AIzaSyPaidKey00000000000000000000000001"]
}
token "tester" {
  secret = "sk-test-client-token"
  pools  = ["free", "paid"]
}
token "freeonly" {
  secret = "sk-free-only-token"
  pools  = ["free"]
  models = ["gemini-2.5-*", "fast"]
}
model "fast" { target = "gemini-2.5-flash" }
model "gemini-2.5-pro" {
  pool            = "paid"
  thinking_budget = 2048
  safety_settings = [{ category = "HARM_CATEGORY_HARASSMENT", threshold = "BLOCK_ONLY_HIGH" }]
  generation_config = { temperature = 0.3 }
}
model "gemini-2.5-flash-lite" { hidden = true }
# A rule for a derived model: before gemini-2.5-pro's for that name only.
model "gemini-2.5-pro-search" {
  pool            = "free"
  thinking_budget = 512
}
model "team-default" {
  target = "gemini-2.5-flash"
  listed = true
}
`

func TestModelRules(t *testing.T) {
	h := newHarness(t, nil, rulesConfig)
	post := func(model, body string, tok string) (int, string, map[string]any) {
		t.Helper()
		status, _, resp := h.do("POST", "/v1beta/models/"+model+":generateContent", body, map[string]string{"x-goog-api-key": tok})
		var up map[string]any
		_ = json.Unmarshal(h.mock.LastRequest().Body, &up)
		_ = resp
		return status, h.mock.LastRequest().Path + " key=" + h.mock.LastRequest().Key, up
	}
	t.Run("alias", func(t *testing.T) {
		status, where, _ := post("fast", genBody, testToken)
		if status != 200 || !strings.Contains(where, "/models/gemini-2.5-flash:generateContent") || !strings.Contains(where, "AIzaSyFree") {
			t.Fatalf("%d %s", status, where)
		}
	})
	t.Run("routing and fill-in defaults", func(t *testing.T) {
		status, where, up := post("gemini-2.5-pro", genBody, testToken)
		if status != 200 || !strings.Contains(where, "AIzaSyPaid") {
			t.Fatalf("%d %s: pro must go to the paid pool", status, where)
		}
		gc := up["generationConfig"].(map[string]any)
		if gc["temperature"] != 0.3 || gc["thinkingConfig"].(map[string]any)["thinkingBudget"] != float64(2048) || up["safetySettings"] == nil {
			t.Fatalf("defaults not filled in: %v", up)
		}
		// Anything the client sent wins.
		_, _, up = post("gemini-2.5-pro", `{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"temperature":1.5,"thinkingConfig":{"thinkingBudget":128}},"safetySettings":[]}`, testToken)
		gc = up["generationConfig"].(map[string]any)
		if gc["temperature"] != 1.5 || gc["thinkingConfig"].(map[string]any)["thinkingBudget"] != float64(128) || len(up["safetySettings"].([]any)) != 0 {
			t.Fatalf("client values overridden: %v", up)
		}
	})
	t.Run("suffixes", func(t *testing.T) {
		_, where, up := post("gemini-2.5-flash-search", genBody, testToken)
		if !strings.Contains(where, "/models/gemini-2.5-flash:") || !strings.Contains(mustJSON(up["tools"]), "googleSearch") {
			t.Fatalf("-search: %s %v", where, up)
		}
		_, _, up = post("gemini-2.5-flash-non-thinking", genBody, testToken)
		if mustJSON(up["generationConfig"]) != `{"thinkingConfig":{"thinkingBudget":0}}` {
			t.Fatalf("-non-thinking: %v", up)
		}
		_, _, up = post("gemini-2.5-pro-non-thinking", genBody, testToken)
		if !strings.Contains(mustJSON(up["generationConfig"]), `"thinkingBudget":128`) {
			t.Fatalf("2.5 Pro cannot turn thinking off; want its minimum: %v", up)
		}
		_, where, up = post("gemini-2.5-flash-image-image", genBody, testToken)
		if !strings.Contains(where, "gemini-2.5-flash-image:") || !strings.Contains(mustJSON(up["generationConfig"]), `"responseModalities":["TEXT","IMAGE"]`) {
			t.Fatalf("-image: %s %v", where, up)
		}
	})
	t.Run("a rule for a derived name", func(t *testing.T) {
		status, where, up := post("gemini-2.5-pro-search", genBody, testToken)
		gc := mustJSON(up["generationConfig"])
		if status != 200 || !strings.Contains(where, "/models/gemini-2.5-pro:generateContent") || !strings.Contains(where, "AIzaSyFree") ||
			!strings.Contains(mustJSON(up["tools"]), "googleSearch") {
			t.Fatalf("%d %s %v: the derived rule's pool, the base model, the search tool", status, where, up)
		}
		// thinking_budget from the derived rule; temperature and safety
		// settings, which it leaves alone, from gemini-2.5-pro's.
		if !strings.Contains(gc, `"thinkingBudget":512`) || !strings.Contains(gc, `"temperature":0.3`) || up["safetySettings"] == nil {
			t.Fatalf("merge: %v", up)
		}
		// The base model keeps its own rule.
		_, where, up = post("gemini-2.5-pro", genBody, testToken)
		if !strings.Contains(where, "AIzaSyPaid") || !strings.Contains(mustJSON(up["generationConfig"]), `"thinkingBudget":2048`) {
			t.Fatalf("base: %s %v", where, up)
		}
	})
	t.Run("token model globs and pools", func(t *testing.T) {
		if status, _, _ := post("gemini-3-pro-preview", genBody, "sk-free-only-token"); status != 403 {
			t.Fatalf("a model outside the token's globs: %d", status)
		}
		if status, _, _ := post("gemini-2.5-pro", genBody, "sk-free-only-token"); status != 403 {
			t.Fatalf("a model routed to a pool the token lacks: %d", status)
		}
		if status, _, _ := post("fast", genBody, "sk-free-only-token"); status != 200 {
			t.Fatalf("alias allowed by name: %d", status)
		}
	})
	t.Run("models list hides and adds", func(t *testing.T) {
		status, _, body := h.do("GET", "/v1beta/models?pageSize=1000", "", nil)
		if status != 200 {
			t.Fatal(status)
		}
		s := string(body)
		if strings.Contains(s, `"models/gemini-2.5-flash-lite"`) || !strings.Contains(s, `"models/team-default"`) || !strings.Contains(s, `"models/gemini-2.5-flash"`) {
			t.Fatalf("list: %s", s)
		}
	})
}

func TestJSONArrayStreamPassesThrough(t *testing.T) {
	h := newHarness(t, []string{keyA}, "")
	status, hdr, body := h.do("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", genBody, nil)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %s", status, hdr.Get("Content-Type"))
	}
	var chunks []map[string]any
	if err := json.Unmarshal(body, &chunks); err != nil || len(chunks) < 2 {
		t.Fatalf("not a JSON array of chunks: %v %s", err, body)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
