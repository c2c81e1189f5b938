package hcl

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader: it must never panic, and
// it must either return a config or an *Error, never both or neither.
// The seed corpus is every config under testdata/config.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(configTestdata, "*", "*.hcl"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`pool "p" { key { value = "k" weight = 1 } }`))
	f.Add([]byte("locals { a = local.a }\n"))
	// Files referenced by the seeds resolve against this directory.
	path := filepath.Join(configTestdata, "valid", "fuzz.hcl")
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, err := LoadBytes(path, src, Options{LookupEnv: testEnv})
		if (cfg == nil) == (err == nil) {
			t.Fatalf("cfg=%v err=%v: want exactly one", cfg != nil, err)
		}
		if err != nil {
			_ = err.Error()
			return
		}
		if _, err := cfg.EffectiveJSON(); err != nil {
			t.Fatalf("effective: %v", err)
		}
	})
}
