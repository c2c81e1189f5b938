package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `balance config -model NAME` shows the merged rule of one model and
// where each attribute came from; without -model it prints the whole
// effective config.
func TestConfigShowsTheEffectiveModelRule(t *testing.T) {
	const cfg = "../../testdata/config/rules/merge.hcl"
	var out, errb bytes.Buffer
	if code := run([]string{"config", "-config", cfg, "-model", "models/gemini-2.5-pro-search"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var got struct {
		Model    string
		Base     string
		Suffixes []string
		Matched  []string
		Rule     map[string]any
		From     map[string]string
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if got.Model != "gemini-2.5-pro-search" || got.Base != "gemini-2.5-pro" || strings.Join(got.Suffixes, ",") != "search" {
		t.Fatalf("names: %+v", got)
	}
	if strings.Join(got.Matched, ",") != "gemini-2.5-pro,gemini-2.5-*,gemini-*,*" {
		t.Fatalf("matched %v", got.Matched)
	}
	if got.Rule["pool"] != "paid" || got.Rule["thinking_budget"] != float64(4096) || got.Rule["safety_settings"] == nil || got.Rule["code_execution"] != true {
		t.Fatalf("rule %v", got.Rule)
	}
	if got.From["safety_settings"] != "*" || got.From["thinking_budget"] != "gemini-2.5-pro" || got.From["code_execution"] != "gemini-2.5-*" {
		t.Fatalf("from %v", got.From)
	}

	out.Reset()
	if code := run([]string{"config", "-config", cfg}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"totals"`) {
		t.Fatalf("whole config: exit %d %s", code, out.String())
	}
}

var update = flag.Bool("update", false, "rewrite the golden files")

// `balance config` shows the files block as it runs: the default
// max_upload when the config has no files block, the configured one
// otherwise. The goldens hold the block as printed.
func TestConfigShowsTheFilesBlock(t *testing.T) {
	for _, tc := range []struct{ config, golden string }{
		{"../../testdata/config/valid/minimal.hcl", "testdata/files_default.golden"},
		{"testdata/files.hcl", "testdata/files_set.golden"},
	} {
		t.Run(filepath.Base(tc.config), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run([]string{"config", "-config", tc.config}, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			var doc map[string]json.RawMessage
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatalf("%v: %s", err, out.String())
			}
			block, ok := doc["files_api"]
			if !ok {
				t.Fatalf("no files_api block in:\n%s", out.String())
			}
			var indented bytes.Buffer
			if err := json.Indent(&indented, block, "", "  "); err != nil {
				t.Fatal(err)
			}
			got := append(indented.Bytes(), '\n')
			if *update {
				if err := os.WriteFile(tc.golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(tc.golden)
			if err != nil {
				t.Fatalf("%v (go test ./cmd/balance -run FilesBlock -update creates it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("files block:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
