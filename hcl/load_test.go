package hcl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const baseConfig = `
upstream "google" { base_url = "https://generativelanguage.googleapis.com" }
pool "main" {
  upstream = "google"
  keys     = ["AIzaSyBASE00000000000000000000000000001"]
}
`

// TestSecretsNeverSilentlyEmpty: a secret that cannot be resolved is an
// error naming the variable or file, and is reported once.
func TestSecretsNeverSilentlyEmpty(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, body string
		env        map[string]string
		want       []string // substrings, one per expected diagnostic
	}{
		{"unset env in secret", `token "a" {
  secret = env("MY_TOKEN")
  pools  = ["main"]
}`, nil, []string{`environment variable "MY_TOKEN" is not set`}},
		{"unset env in keys", `pool "x" {
  upstream = "google"
  keys     = [env("MY_KEY")]
}
token "a" {
  secret = "sk-0123456789"
  pools  = ["x"]
}`, nil, []string{`environment variable "MY_KEY" is not set`}},
		{"env set but empty is a weak secret, not silently allowed", `token "a" {
  secret = env("MY_TOKEN")
  pools  = ["main"]
}`, map[string]string{"MY_TOKEN": ""}, []string{"Weak token secret"}},
		{"missing file in secret", `token "a" {
  secret = file("nope.txt")
  pools  = ["main"]
}`, nil, []string{`cannot read file "nope.txt"`}},
		{"missing file in secrets list", `token "a" {
  secrets = ["sk-0123456789", file("gone.txt")]
  pools   = ["main"]
}`, nil, []string{`cannot read file "gone.txt"`}},
		{"failed local used twice reports once", `locals { k = env("LOCAL_KEY") }
pool "x" {
  upstream = "google"
  keys     = [local.k]
}
token "a" {
  secret = local.k
  pools  = ["x"]
}`, nil, []string{`environment variable "LOCAL_KEY" is not set`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			_, err := LoadBytes(filepath.Join(dir, "b.hcl"), []byte(baseConfig+tc.body), Options{LookupEnv: env})
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("want *Error, got %v", err)
			}
			if len(de.Diags) != len(tc.want) {
				t.Fatalf("want %d diagnostics, got %d:\n%v", len(tc.want), len(de.Diags), err)
			}
			for i, w := range tc.want {
				if got := FormatDiagnostic(de.Diags[i]); !strings.Contains(got, w) {
					t.Errorf("diag %d = %q, want it to contain %q", i, got, w)
				}
			}
		})
	}
}

// TestErrorFilesIncludeMissing: a rejected config still names the files it
// tried to read, so the watcher can wait for a missing one to appear.
func TestErrorFilesIncludeMissing(t *testing.T) {
	dir := t.TempDir()
	body := baseConfig + `pool "f" {
  upstream  = "google"
  keys_file = "later/keys.txt"
}
token "a" {
  secret = "sk-0123456789"
  pools  = ["f"]
}`
	_, err := LoadBytes(filepath.Join(dir, "b.hcl"), []byte(body), Options{})
	var de *Error
	if !errors.As(err, &de) {
		t.Fatalf("want *Error, got %v", err)
	}
	want := filepath.Join(dir, "later", "keys.txt")
	if len(de.Files) != 2 || de.Files[1] != want {
		t.Fatalf("Files = %v, want [config %s]", de.Files, want)
	}
	if err := os.MkdirAll(filepath.Dir(want), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(want, []byte("AIzaSyLATER0000000000000000000000000001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadBytes(filepath.Join(dir, "b.hcl"), []byte(body), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Files) != 2 || cfg.Files[1] != want {
		t.Fatalf("Files = %v", cfg.Files)
	}
}

// TestHashCoversReferencedFiles: editing only a keys file changes the hash;
// the same content elsewhere on disk hashes the same.
func TestHashCoversReferencedFiles(t *testing.T) {
	load := func(dir, keys string) string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "keys.txt"), []byte(keys), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadBytes(filepath.Join(dir, "b.hcl"), []byte(baseConfig+`
pool "f" {
  upstream  = "google"
  keys_file = "keys.txt"
}
token "a" {
  secret = "sk-0123456789"
  pools  = ["f"]
}`), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Hash
	}
	a, b := t.TempDir(), t.TempDir()
	k1 := "AIzaSyHASH00000000000000000000000000001\n"
	k2 := k1 + "AIzaSyHASH00000000000000000000000000002\n"
	h1 := load(a, k1)
	if h2 := load(a, k2); h2 == h1 {
		t.Error("hash did not change when the keys file did")
	}
	if h3 := load(b, k1); h3 != h1 {
		t.Error("same content in another directory hashed differently")
	}
}

func TestMaskDSN(t *testing.T) {
	cases := []struct{ in, want string }{
		{"user:secret@tcp(db:3306)/balance", "user:xxxxx@tcp(db:3306)/balance"},
		{"user:p@ss:w/rd@tcp(db:3306)/balance?parseTime=true", "user:xxxxx@tcp(db:3306)/balance?parseTime=true"},
		{"user@tcp(db:3306)/balance", "user@tcp(db:3306)/balance"},
		{"mysql://user:secret@db:3306/balance", "mysql://user:xxxxx@db:3306/balance"},
		{"/var/lib/balance/balance.db", "/var/lib/balance/balance.db"},
		{"", ""},
	}
	for _, tc := range cases {
		if got := MaskDSN(tc.in); got != tc.want {
			t.Errorf("MaskDSN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseDurationAndSize(t *testing.T) {
	durs := map[string]string{"500ms": "500ms", "7d": "168h0m0s", "1.5d": "36h0m0s", "-5s": "-5s"}
	for in, want := range durs {
		d, err := parseDuration(in)
		if err != nil || d.String() != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, bad := range []string{"", "d", "ten", "5 parsecs"} {
		if _, err := parseDuration(bad); err == nil {
			t.Errorf("parseDuration(%q) accepted", bad)
		}
	}
	sizes := map[string]int64{"1024": 1024, "1KiB": 1024, "32MiB": 32 << 20, "1KB": 1000, "2 GiB": 2 << 30, "10B": 10,
		"1.5MiB": 3 << 19, "64 MB": 64e6}
	for in, want := range sizes {
		if n, err := parseSize(in); err != nil || n != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, n, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "lots", "1TiB", "MiB", "32mb", "-1MiB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

// TestReportSnippets: each diagnostic line keeps the exact
// FILE:LINE:COL form at column 0, followed by the indented source line
// and a caret under the subject.
func TestReportSnippets(t *testing.T) {
	src := baseConfig + "token \"a\" {\n  secret = \"short\"\n  pools  = [\"main\"]\n}\n"
	_, err := LoadBytes("b.hcl", []byte(src), Options{})
	var de *Error
	if !errors.As(err, &de) {
		t.Fatalf("want *Error, got %v", err)
	}
	var b strings.Builder
	de.Report(&b, true)
	want := "b.hcl:8:12: Weak token secret: Token \"a\" has a secret shorter than 8 characters; use at least 8 random characters (32 is better).\n" +
		"     8 |   secret = \"short\"\n" +
		"                    ^^^^^^^\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	de.Report(&b, false)
	if b.String() != err.Error()+"\n" {
		t.Errorf("without snippets got %q, want Error() lines", b.String())
	}
}
