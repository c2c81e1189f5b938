package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/balanceproxy/balance/hooks"
)

// TestValidateLoadsHookModules: validate refuses hook modules the proxy
// would refuse, even when they start with the WebAssembly magic bytes,
// and accepts a real hook.
func TestValidateLoadsHookModules(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "sysprompt.wasm")
	if err := hooks.BuildGuest("../../examples/hooks/sysprompt", good); err != nil {
		t.Fatal(err)
	}
	modules := map[string][]byte{
		// A valid, empty WebAssembly module: it compiles, but it is not
		// a balance hook.
		"empty.wasm": []byte("\x00asm\x01\x00\x00\x00"),
		// The magic and version, then bytes that are no section.
		"garbage.wasm": []byte("\x00asm\x01\x00\x00\x00garbage"),
	}
	for name, b := range modules {
		must(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	config := func(module string) string {
		p := filepath.Join(dir, strings.TrimSuffix(module, ".wasm")+".hcl")
		must(t, os.WriteFile(p, fmt.Appendf(nil, `
upstream "g" { base_url = "https://generativelanguage.googleapis.com" }
pool "p" {
  upstream = "g"
  keys     = ["AIzaSyValidateKey000000000000000000000001"]
}
token "t" {
  secret = "sk-validate-token"
  pools  = ["p"]
}
hook "h" {
  module = %q
}
`, module), 0o644))
		return p
	}
	tests := []struct {
		module string
		args   []string
		code   int
		want   string
	}{
		{"empty.wasm", nil, 1, ":12:12: Hook module refused: " + `hook "h" (` + filepath.Join(dir, "empty.wasm") + "): module does not export hook_abi_version"},
		{"garbage.wasm", nil, 1, ":12:12: Hook module refused: " + `hook "h" (` + filepath.Join(dir, "garbage.wasm") + "): compile:"},
		{"sysprompt.wasm", nil, 0, ""},
		// -hooks=false keeps the quick check: the magic bytes only.
		{"empty.wasm", []string{"-hooks=false"}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(append([]string{tc.module}, tc.args...), " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"validate", "-snippets=false"}, tc.args...)
			code := run(append(args, config(tc.module)), &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errb.String())
			}
			if tc.want != "" && !strings.Contains(errb.String(), tc.want) {
				t.Errorf("diagnostics lack %q:\n%s", tc.want, errb.String())
			}
			if tc.code == 0 && !strings.Contains(out.String(), ": ok (") {
				t.Errorf("stdout = %q", out.String())
			}
		})
	}
}
