package main

import (
	"errors"
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
	snippets := fs.Bool("snippets", false, "also print the source line of each problem")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := hcl.Load(*path)
	if err != nil {
		var de *hcl.Error
		if errors.As(err, &de) {
			fmt.Fprintln(stderr, de.Error())
			if *snippets {
				_ = de.Render(stderr, 100, false)
			}
			fmt.Fprintf(stderr, "%s: %d problem(s); the config was not accepted\n", *path, len(de.Diags))
			return 1
		}
		fmt.Fprintf(stderr, "balance: %v\n", err)
		return 1
	}
	keys := 0
	for _, p := range cfg.Pools {
		keys += len(p.Keys)
	}
	fmt.Fprintf(stdout, "%s: ok (%d pools, %d keys, %d tokens, %d model rules, %d hooks; hash %s)\n", *path, len(cfg.Pools), keys, len(cfg.Tokens), len(cfg.Models), len(cfg.Hooks), cfg.Hash[:12])
	return 0
}
