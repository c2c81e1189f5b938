package hcl

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/balanceproxy/balance/hooks"
)

// TestHookExampleSnippetsLoad loads every examples/hooks/*/hook.hcl as part
// of a minimal config, so the snippets the READMEs tell people to paste
// stay valid.
func TestHookExampleSnippetsLoad(t *testing.T) {
	snippets, err := filepath.Glob("../examples/hooks/*/hook.hcl")
	if err != nil || len(snippets) == 0 {
		t.Fatalf("no hook snippets found: %v", err)
	}
	for _, p := range snippets {
		if _, err := loadHookSnippet(t, p); err != nil {
			t.Errorf("%s does not load:\n%v", p, err)
		}
	}
}

// loadHookSnippet loads a hook.hcl inside a minimal config, its module
// pointed at a stand-in file with the WebAssembly header (the hooks
// package tests the real modules).
func loadHookSnippet(t *testing.T, snippet string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	wasm := filepath.Join(dir, "stand-in.wasm")
	if err := os.WriteFile(wasm, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	module := regexp.MustCompile(`module\s*=\s*"[^"]*"`)
	base := `
upstream "google" { base_url = "https://generativelanguage.googleapis.com" }
pool "main" {
  upstream = "google"
  keys     = ["AIzaSyHookExampleKey000000000000000000001"]
}
pool "paid" {
  upstream = "google"
  keys     = ["AIzaSyHookExampleKey000000000000000000002"]
}
token "public-web" {
  secret = "sk-hook-example-token"
  pools  = ["main", "paid"]
}
`
	src, err := os.ReadFile(snippet)
	if err != nil {
		t.Fatal(err)
	}
	cfgSrc := base + module.ReplaceAllString(string(src), `module = "`+filepath.ToSlash(wasm)+`"`)
	return LoadBytes(filepath.Join(dir, "balance.hcl"), []byte(cfgSrc), Options{})
}

// TestSyspromptExampleSelectsGenerationRoutes: the sysprompt example runs
// on every generation call, native or OpenAI, and on nothing whose body
// has no system prompt to extend. Paths are the API paths hooks match
// (hooks.MatchRoute).
func TestSyspromptExampleSelectsGenerationRoutes(t *testing.T) {
	cfg, err := loadHookSnippet(t, "../examples/hooks/sysprompt/hook.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Hooks) != 1 {
		t.Fatalf("%d hooks", len(cfg.Hooks))
	}
	h := cfg.Hooks[0]
	sel := hooks.Selector{Routes: h.Routes, Models: h.Models, Tokens: h.Tokens}
	for path, want := range map[string]bool{
		"/v1beta/models/gemini-2.5-flash:generateContent":      true,
		"/v1beta/models/gemini-2.5-pro:streamGenerateContent":  true,
		"/v1beta/models/gemini-2.5-flash-lite:generateContent": true,
		"/v1/chat/completions":                                 true,
		"/v1beta/models/text-embedding-004:embedContent":       false,
		"/v1beta/models/text-embedding-004:batchEmbedContents": false,
		"/v1beta/models/gemini-2.5-flash:countTokens":          false,
		"/v1/embeddings": false,
		"/v1/models":     false,
		"/v1beta/models": false,
		"/v1beta/models/gemini-2.5-flash:generateContentStream": false,
	} {
		if got := sel.Matches(path, "gemini-2.5-flash", "public-web"); got != want {
			t.Errorf("sysprompt selects %s: %v, want %v", path, got, want)
		}
	}
}
