package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"

	hclv2 "github.com/hashicorp/hcl/v2"
)

// runFmt rewrites config files in the canonical HCL layout (aligned
// equals signs, two-space indents), so reviews show real changes only.
// With -check it changes nothing and exits 1 listing the files that are
// not formatted, for CI. A file with syntax errors is never rewritten.
func runFmt(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fmt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "balance.hcl", "config file (or name files as arguments)")
	check := fs.Bool("check", false, "only report files that are not formatted; exit 1 if any")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	files := fs.Args()
	if len(files) == 0 {
		files = []string{*path}
	}
	status := 0
	for _, f := range files {
		changed, err := fmtFile(f, *check)
		switch {
		case err != nil:
			fmt.Fprintln(stderr, err)
			status = 1
		case changed && *check:
			fmt.Fprintln(stdout, f)
			status = 1
		case changed:
			fmt.Fprintf(stdout, "%s: formatted\n", f)
		}
	}
	if status != 0 && *check {
		fmt.Fprintln(stderr, "balance fmt: run `balance fmt FILE` to format the files listed")
	}
	return status
}

// fmtFile formats one file and reports whether its content changed.
func fmtFile(path string, check bool) (bool, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("balance fmt: %w", err)
	}
	if _, diags := hclsyntax.ParseConfig(src, path, hclv2.InitialPos); diags.HasErrors() {
		var b bytes.Buffer
		for _, d := range diags {
			fmt.Fprintf(&b, "%s:%d:%d: %s: %s\n", path, d.Subject.Start.Line, d.Subject.Start.Column, d.Summary, d.Detail)
		}
		return false, fmt.Errorf("%sbalance fmt: %s has syntax errors; not formatted", b.String(), path)
	}
	out := hclwrite.Format(src)
	if bytes.Equal(out, src) {
		return false, nil
	}
	if check {
		return true, nil
	}
	return true, writeAtomic(path, out)
}

// writeAtomic replaces path in one rename, keeping its mode, so a running
// balance watching the file reloads once, never a half-written file. A
// symlinked path (a ConfigMap mount) is written through to its target.
func writeAtomic(path string, data []byte) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("balance fmt: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".fmt-*")
	if err != nil {
		return fmt.Errorf("balance fmt: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("balance fmt: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		tmp.Close()
		return fmt.Errorf("balance fmt: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("balance fmt: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("balance fmt: %w", err)
	}
	return nil
}
