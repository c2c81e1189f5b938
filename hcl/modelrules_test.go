package hcl

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestGoldenModelRules resolves the models listed in each
// testdata/config/rules/NAME.models against NAME.hcl; the effective rules
// must match NAME.json.
func TestGoldenModelRules(t *testing.T) {
	dir := filepath.Join(configTestdata, "rules")
	files, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
	if len(files) == 0 {
		t.Fatal("no rule configs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := LoadWith(f, Options{LookupEnv: testEnv})
			if err != nil {
				t.Fatalf("want a clean load, got:\n%v", err)
			}
			names, err := os.ReadFile(strings.TrimSuffix(f, ".hcl") + ".models")
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			for _, name := range strings.Fields(string(names)) {
				b, err := cfg.EffectiveRuleJSON(name)
				if err != nil {
					t.Fatal(err)
				}
				out.Write(b)
			}
			checkGolden(t, strings.TrimSuffix(f, ".hcl")+".json", out.Bytes())
		})
	}
}

func TestSpecificityOrder(t *testing.T) {
	cfg := &Config{}
	// Declared least specific first, so the order is the rules', not the file's.
	for _, name := range []string{"*", "g*", "gemini-*", "gemini-2.5*-*", "gemini-2.5-*", "gemini-?.5-*", "gemini-[0-9].5-pro", "gemini-2.5-pro"} {
		cfg.Models = append(cfg.Models, &ModelRule{Name: name, Pool: name, attrs: map[string]bool{"pool": true}})
	}
	res := CompileModelRules(cfg).Resolve("gemini-2.5-pro")
	want := []string{
		"gemini-2.5-pro",     // exact
		"gemini-[0-9].5-pro", // 13 literal characters
		"gemini-2.5-*",       // 11, one star
		"gemini-2.5*-*",      // 11, two stars
		"gemini-?.5-*",       // 10
		"gemini-*",           // 7
		"g*",                 // 1
		"*",                  // 0
	}
	if !slices.Equal(res.Matched, want) {
		t.Fatalf("matched %v\nwant    %v", res.Matched, want)
	}
	if res.Rule.Pool != "gemini-2.5-pro" || res.From["pool"] != "gemini-2.5-pro" {
		t.Fatalf("the exact rule must win: %+v", res.From)
	}
	// Equal specificity: the rule declared first wins.
	cfg = &Config{Models: []*ModelRule{
		{Name: "a-*", Pool: "first", attrs: map[string]bool{"pool": true}},
		{Name: "*-b", Pool: "second", attrs: map[string]bool{"pool": true}},
	}}
	if got := CompileModelRules(cfg).Resolve("a-b").Rule.Pool; got != "first" {
		t.Fatalf("tie: %q", got)
	}
}

// TestEveryModelAttributeMerges: an attribute added to the model block
// must be added to ruleAttributes too, or it would never merge.
func TestEveryModelAttributeMerges(t *testing.T) {
	var names []string
	for _, a := range ruleAttributes {
		names = append(names, a.name)
	}
	typ := reflect.TypeFor[rawModel]()
	for i := range typ.NumField() {
		name, kind, _ := strings.Cut(typ.Field(i).Tag.Get("hcl"), ",")
		if kind == "label" {
			continue
		}
		if !slices.Contains(names, name) {
			t.Errorf("model attribute %q is missing from ruleAttributes", name)
		}
	}
}

// A flood of made-up model names does not grow the cache past its bound,
// and names past it still resolve.
func TestResolutionCacheIsBounded(t *testing.T) {
	cfg := &Config{Models: []*ModelRule{{Name: "*", Pool: "p", attrs: map[string]bool{"pool": true}}}}
	r := CompileModelRules(cfg)
	for i := range maxCachedResolutions + 100 {
		if r.Resolve("made-up-"+strconv.Itoa(i)).Rule.Pool != "p" {
			t.Fatal("wrong resolution")
		}
	}
	if n := r.cached.Load(); n != maxCachedResolutions {
		t.Fatalf("cached %d, want the bound %d", n, maxCachedResolutions)
	}
}

// BenchmarkResolve is the per-request cost of the model rules: an exact
// rule name (computed at compile time), a name that only globs match
// (cached after the first request) and one with a suffix.
func BenchmarkResolve(b *testing.B) {
	cfg, err := LoadWith(filepath.Join(configTestdata, "rules", "merge.hcl"), Options{LookupEnv: testEnv})
	if err != nil {
		b.Fatal(err)
	}
	r := CompileModelRules(cfg)
	for _, name := range []string{"gemini-2.5-pro", "gemini-2.0-flash", "gemini-2.5-flash-search"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r.Resolve(name).Rule == nil {
					b.Fatal("no rule")
				}
			}
		})
	}
}
