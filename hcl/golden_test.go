package hcl

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// update rewrites the golden files: go test ./hcl -run Golden -update
var update = flag.Bool("update", false, "rewrite testdata/config golden files")

const configTestdata = "../testdata/config"

// testEnv is the only environment the golden configs see, so they load
// the same on every machine.
func testEnv(name string) (string, bool) {
	v, ok := map[string]string{
		"TEST_KEYS":  "AIzaSyENVKEY000000000000000000000000001,AIzaSyENVKEY000000000000000000000000002,",
		"TEST_TOKEN": "sk-token-from-env-0001",
	}[name]
	return v, ok
}

// normalize replaces the absolute testdata directory so golden files do
// not depend on where the checkout lives.
func normalize(t *testing.T, s, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	s = strings.ReplaceAll(s, abs, "$DIR")
	return strings.ReplaceAll(s, dir+string(filepath.Separator), "")
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./hcl -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (rerun with -update if the change is intended)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

// TestGoldenValid loads every testdata/config/valid/*.hcl: each must load
// without error and its masked effective config must match the .json
// golden next to it.
func TestGoldenValid(t *testing.T) {
	dir := filepath.Join(configTestdata, "valid")
	files, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
	if len(files) == 0 {
		t.Fatal("no valid configs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := LoadWith(f, Options{LookupEnv: testEnv})
			if err != nil {
				t.Fatalf("want a clean load, got:\n%v", err)
			}
			out, err := cfg.EffectiveJSON()
			if err != nil {
				t.Fatal(err)
			}
			got := normalize(t, string(out), dir)
			checkGolden(t, strings.TrimSuffix(f, ".hcl")+".json", []byte(got))
			for _, k := range allSecrets(cfg) {
				if strings.Contains(string(out), k) {
					t.Errorf("effective config leaks a secret %q", k)
				}
			}
		})
	}
}

// TestGoldenInvalid loads every testdata/config/invalid/*.hcl: each must
// be rejected, and the diagnostic lines must match the .diags golden.
func TestGoldenInvalid(t *testing.T) {
	dir := filepath.Join(configTestdata, "invalid")
	files, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
	if len(files) == 0 {
		t.Fatal("no invalid configs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := LoadWith(f, Options{LookupEnv: testEnv})
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("want *Error, got %v", err)
			}
			for _, d := range de.Diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a position: %s", FormatDiagnostic(d))
				}
			}
			got := normalize(t, err.Error()+"\n", dir)
			checkGolden(t, strings.TrimSuffix(f, ".hcl")+".diags", []byte(got))
		})
	}
}

// allSecrets lists every value Effective must never show.
func allSecrets(cfg *Config) []string {
	var out []string
	for _, p := range cfg.Pools {
		for _, k := range p.Keys {
			out = append(out, k.Value)
		}
	}
	for _, t := range cfg.Tokens {
		out = append(out, t.Secrets...)
	}
	if cfg.Status.Token != "" {
		out = append(out, cfg.Status.Token)
	}
	if cfg.Metrics.Token != "" {
		out = append(out, cfg.Metrics.Token)
	}
	out = append(out, "proxypass", "p@ss:word", "header-secret-value", "hook-config-secret")
	return out
}
