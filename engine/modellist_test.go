package engine_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	oai "github.com/openai/openai-go/v3"
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
# A rule for a derived name hides that derived model only.
model "gemini-2.5-flash-non-thinking" { hidden = true }
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
		"gemini-2.5-flash", "gemini-2.5-flash-search",
		"gemini-2.5-pro", "gemini-2.5-pro-search", "gemini-2.5-pro-image", "gemini-2.5-pro-non-thinking",
		"gemini-2.5-flash-image", "gemini-3-pro-preview", "gemini-3-flash-preview",
		"team-default", "team-default-search", "gemini-embedding-001"}
	never := []string{"gemini-2.5-flash-lite", "gemini-2.5-flash-lite-search", "gemini-2.5-flash-lite-non-thinking",
		"gemini-2.0-flash-lite", "gemini-2.0-flash-lite-search", "gemini-3-pro-preview-search", "gemini-3-flash-preview-non-thinking",
		"gemini-embedding-001-search", "secret-alias", "gemini-2.5-flash-image-search-image", "gemini-2.5-flash-non-thinking"}
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

// A hidden model is absent from the lists, so looking it up by id is a
// 404 in the caller's protocol too (OpenAI on /v1 and /hf/v1, Gemini on
// the native route), without asking Google; visible models still answer.
func TestHiddenModelLookupsAre404(t *testing.T) {
	h := newHarness(t, nil, listConfig)
	ctx := context.Background()
	client, err := genai.NewClient(ctx, &genai.ClientConfig{APIKey: h.token, Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: h.url, APIVersion: "v1beta"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id     string
		hidden bool
	}{
		{"gemini-2.5-flash-lite", true},
		{"gemini-2.5-flash-lite-search", true}, // derived from a hidden model
		{"gemini-2.0-flash-lite", true},        // hidden by a glob
		{"secret-alias", true},
		{"gemini-2.5-flash-non-thinking", true}, // a hidden derived name
		{"gemini-2.5-flash", false},
		{"gemini-2.5-flash-search", false},
		{"gemini-2.0-flash", false}, // shown again by a more specific rule
		{"team-default", false},
	} {
		before := h.mock.Total()
		for _, base := range []string{"/v1", "/hf/v1"} {
			c := openAIClient(h, base)
			m, err := c.Models.Get(ctx, tc.id)
			var apiErr *oai.Error
			switch {
			case !tc.hidden && (err != nil || m.ID != tc.id):
				t.Errorf("%s%s: %v %+v", base, tc.id, err, m)
			case tc.hidden && (!errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" || !strings.Contains(apiErr.Message, tc.id)):
				t.Errorf("%s/models/%s: want an OpenAI 404 model_not_found, got %v", base, tc.id, err)
			}
		}
		_, err := client.Models.Get(ctx, tc.id, nil)
		var gErr genai.APIError
		switch {
		case !tc.hidden && err != nil:
			t.Errorf("native %s: %v", tc.id, err)
		case tc.hidden && (!errors.As(err, &gErr) || gErr.Code != 404 || gErr.Status != "NOT_FOUND"):
			t.Errorf("native %s: want a Gemini 404 NOT_FOUND, got %v", tc.id, err)
		}
		if tc.hidden && h.mock.Total() != before {
			t.Errorf("%s: a hidden model's lookup reached upstream", tc.id)
		}
	}
}
