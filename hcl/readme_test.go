package hcl

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEConfigsLoad keeps the README honest: every complete config
// snippet in it (one with an upstream, a pool and a token) must load
// without errors, with any env() it reads set to a placeholder.
func TestREADMEConfigsLoad(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```hcl\n(.*?)```").FindAllSubmatch(readme, -1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keys.txt"), []byte("AIzaSyReadmeKeysFile00000000000000000001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(name string) (string, bool) { return "placeholder-" + strings.ToLower(name), true }
	checked := 0
	for i, b := range blocks {
		src := string(b[1])
		if !strings.Contains(src, "upstream \"") || !strings.Contains(src, "pool \"") || !strings.Contains(src, "token \"") {
			continue
		}
		checked++
		if _, err := LoadBytes(filepath.Join(dir, "readme.hcl"), []byte(src), Options{LookupEnv: env}); err != nil {
			t.Errorf("README hcl block %d does not load:\n%v", i, err)
		}
	}
	if checked == 0 {
		t.Fatal("no complete config found in the README")
	}
}
