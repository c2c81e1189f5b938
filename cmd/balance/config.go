package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/balanceproxy/balance/hcl"
)

// runConfig prints the effective config as JSON: every default filled in,
// keys and token secrets as fingerprints, DSN and proxy passwords masked.
// It is safe to paste into an issue and to diff between two versions.
// With -model it prints instead how the model rules treat that model: the
// rules that match and the merged rule, attribute by attribute.
func runConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "balance.hcl", "config file")
	model := fs.String("model", "", "print the effective model rule for this model instead")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 1 {
		*path = fs.Arg(0)
	}
	cfg, err := hcl.Load(*path)
	if err != nil {
		printLoadError(stderr, *path, err, false)
		return 1
	}
	var out []byte
	if *model != "" {
		out, err = cfg.EffectiveRuleJSON(*model)
	} else {
		out, err = cfg.EffectiveJSON()
	}
	if err != nil {
		fmt.Fprintf(stderr, "balance config: %v\n", err)
		return 1
	}
	_, _ = stdout.Write(out)
	return 0
}

// printLoadError prints every diagnostic as FILE:LINE:COL: summary: detail,
// optionally with source snippets, and a count.
func printLoadError(stderr io.Writer, path string, err error, snippets bool) {
	var de *hcl.Error
	if !errors.As(err, &de) {
		fmt.Fprintf(stderr, "balance: %v\n", err)
		return
	}
	de.Report(stderr, snippets)
	errs := 0
	for _, d := range de.Diags {
		if d.Severity == 1 { // hcl.DiagError
			errs++
		}
	}
	fmt.Fprintf(stderr, "%s: %d error(s), %d warning(s); the config was not accepted\n", path, errs, len(de.Diags)-errs)
}

// runHealth probes a running balance's /health endpoint and exits 0 when
// it answers 200. The container image is distroless (no shell, no curl),
// so docker-compose health checks run this instead.
func runHealth(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8000/health", "health endpoint")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	client := &http.Client{Timeout: *timeout}
	resp, err := client.Get(*url)
	if err != nil {
		fmt.Fprintf(stderr, "balance health: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "balance health: %s answered %s\n", *url, resp.Status)
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}
