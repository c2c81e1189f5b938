package engine_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genai"
)

const listConfig = `
upstream "mock" { base_url = "%MOCK%" }
pool "main" {
  upstream = "mock"
  keys     = ["AIzaSyListKey000000000000000000000000001"]
}
token "tester" {
  secret = "sk-test-client-token"
  pools  = ["main"]
}
model "gemini-2.5-flash-lite" { hidden = true }
model "gemini-2.0-*" { hidden = true }
# More specific than the glob above: shown again.
model "gemini-2.0-flash" { hidden = false }
model "gemini-2.5-pro" { variants = ["search", "image", "non_thinking"] }
model "gemini-3-*" { variants = [] }
model "team-default" {
  target   = "gemini-2.5-flash"
  variants = ["search"]
}
model "secret-alias" {
  target = "gemini-2.5-flash"
  hidden = true
}
`

// The OpenAI lists (/v1, /hf/v1) and the native list (paged through by
// the genai SDK) show the same models, as one function decides them:
// hidden models and their derived models are never listed, derived models
// follow each rule's variants, and virtual models come last.
func TestModelListsAgree(t *testing.T) {
	h := newHarness(t, nil, listConfig)
	ctx := context.Background()
	var lists [][]string
	for _, base := range []string{"/v1", "/hf/v1"} {
		c := openAIClient(h, base)
		page, err := c.Models.List(ctx)
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		var ids []string
		for _, m := range page.Data {
			ids = append(ids, m.ID)
		}
		lists = append(lists, ids)
	}
	client, err := genai.NewClient(ctx, &genai.ClientConfig{APIKey: h.token, Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: h.url, APIVersion: "v1beta"}})
	if err != nil {
		t.Fatal(err)
	}
	var native []string
	displays := map[string]string{}
	pages := 0
	for page, err := client.Models.List(ctx, &genai.ListModelsConfig{PageSize: 4}); ; page, err = page.Next(ctx) {
		if errors.Is(err, genai.ErrPageDone) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, m := range page.Items {
			id := strings.TrimPrefix(m.Name, "models/")
			native = append(native, id)
			displays[id] = m.DisplayName
		}
	}
	if pages < 3 {
		t.Fatalf("the native list came in %d pages; the test wants several", pages)
	}
	lists = append(lists, native)

	want := []string{"gemini-2.0-flash", "gemini-2.0-flash-search", "gemini-2.0-flash-non-thinking",
		"gemini-2.5-flash", "gemini-2.5-flash-search", "gemini-2.5-flash-non-thinking",
		"gemini-2.5-pro", "gemini-2.5-pro-search", "gemini-2.5-pro-image", "gemini-2.5-pro-non-thinking",
		"gemini-2.5-flash-image", "gemini-3-pro-preview", "gemini-3-flash-preview",
		"team-default", "team-default-search", "gemini-embedding-001"}
	never := []string{"gemini-2.5-flash-lite", "gemini-2.5-flash-lite-search", "gemini-2.5-flash-lite-non-thinking",
		"gemini-2.0-flash-lite", "gemini-2.0-flash-lite-search", "gemini-3-pro-preview-search", "gemini-3-flash-preview-non-thinking",
		"gemini-embedding-001-search", "secret-alias", "gemini-2.5-flash-image-search-image"}
	for i, ids := range lists {
		for _, w := range want {
			if !slices.Contains(ids, w) {
				t.Errorf("list %d lacks %s: %v", i, w, ids)
			}
		}
		for _, n := range never {
			if slices.Contains(ids, n) {
				t.Errorf("list %d shows %s", i, n)
			}
		}
		if len(ids) != len(lists[0]) {
			t.Errorf("list %d has %d models, list 0 has %d:\n%v\n%v", i, len(ids), len(lists[0]), ids, lists[0])
		}
		if ids[len(ids)-2] != "team-default" {
			t.Errorf("list %d: virtual models come last: %v", i, ids)
		}
	}
	if d := displays["gemini-2.5-pro-search"]; d != "Gemini 2.5 Pro + Google Search" {
		t.Errorf("a derived model's entry is its base's, renamed: %q", d)
	}
	// A listed derived model works.
	res, err := client.Models.GenerateContent(ctx, "gemini-2.5-pro-search", genai.Text("hi"), nil)
	if err != nil || !strings.Contains(string(h.mock.LastRequest().Body), "googleSearch") || res.Text() == "" {
		t.Fatalf("derived model: %v %s", err, h.mock.LastRequest().Body)
	}
}
