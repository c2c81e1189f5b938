package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/balanceproxy/balance/hcl"
	"github.com/balanceproxy/balance/hooks"
)

// runValidate loads a config and prints every diagnostic. It exits 1 when
// the file is wrong, 0 when it would be accepted.
func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "balance.hcl", "config file")
	snippets := fs.Bool("snippets", true, "print the source line under each problem (-snippets=false for bare FILE:LINE:COL lines)")
	checkHooks := fs.Bool("hooks", true, "load every hook module as the proxy does: compile it, check its exports and ABI version, start one instance (-hooks=false only checks that the file is WebAssembly)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 1 {
		*path = fs.Arg(0)
	}
	var opts hcl.Options
	if *checkHooks {
		hc := &hookChecker{}
		defer hc.close()
		opts.CheckHook = hc.check
	}
	cfg, err := hcl.LoadWith(*path, opts)
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

// hookChecker loads hook modules the way the proxy does, with a wazero
// runtime created on first use (a config without hooks costs nothing) and
// compiled code kept in memory only: validate writes nothing to disk.
type hookChecker struct {
	rt *hooks.Runtime
}

func (c *hookChecker) check(h *hcl.Hook) error {
	if c.rt == nil {
		rt, err := hooks.NewRuntime(context.Background(), hooks.RuntimeOptions{})
		if err != nil {
			return err
		}
		c.rt = rt
	}
	// Compiling a Go guest takes 1–2 s; a minute covers a slow machine.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hook, err := c.rt.Load(ctx, h.Spec())
	if err != nil {
		return err
	}
	hook.Close()
	return nil
}

func (c *hookChecker) close() {
	if c.rt != nil {
		_ = c.rt.Close(context.Background())
	}
}
