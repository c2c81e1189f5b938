package hcl

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestHookExampleSnippetsLoad loads every examples/hooks/*/hook.hcl as part
// of a minimal config, so the snippets the READMEs tell people to paste
// stay valid. The module path is pointed at a stand-in file with the
// WebAssembly header (the hooks package tests the real modules).
func TestHookExampleSnippetsLoad(t *testing.T) {
	snippets, err := filepath.Glob("../examples/hooks/*/hook.hcl")
	if err != nil || len(snippets) == 0 {
		t.Fatalf("no hook snippets found: %v", err)
	}
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
	for _, p := range snippets {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		cfgSrc := base + module.ReplaceAllString(string(src), `module = "`+filepath.ToSlash(wasm)+`"`)
		if _, err := LoadBytes(filepath.Join(dir, "balance.hcl"), []byte(cfgSrc), Options{}); err != nil {
			t.Errorf("%s does not load:\n%v", p, err)
		}
	}
}
