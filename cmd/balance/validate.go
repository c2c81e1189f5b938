package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/balanceproxy/balance/hcl"
)

// runValidate loads a config and prints every diagnostic. It exits 1 when
// the file is wrong, 0 when it would be accepted.
func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "balance.hcl", "config file")
	snippets := fs.Bool("snippets", true, "print the source line under each problem (-snippets=false for bare FILE:LINE:COL lines)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 1 {
		*path = fs.Arg(0)
	}
	cfg, err := hcl.Load(*path)
	if err != nil {
		printLoadError(stderr, *path, err, *snippets)
		return 1
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, w)
	}
	keys := 0
	for _, p := range cfg.Pools {
		keys += len(p.Keys)
	}
	fmt.Fprintf(stdout, "%s: ok (%d pools, %d keys, %d tokens, %d model rules, %d hooks; hash %s)\n", *path, len(cfg.Pools), keys, len(cfg.Tokens), len(cfg.Models), len(cfg.Hooks), cfg.Hash[:12])
	return 0
}
