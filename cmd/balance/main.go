// Command balance is a config-as-code reverse proxy for the Gemini API.
//
//	balance -config balance.hcl             serve (also: balance serve ...)
//	balance validate -config balance.hcl    check a config, print diagnostics
//
// Run `balance help` for every command.
package main

import (
	"fmt"
	"io"
	"os"
	_ "time/tzdata" // per-day quotas reset at midnight Pacific time, on any image
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "serve the proxy (the default command)", runServe},
		{"validate", "check a config file and print every problem as FILE:LINE:COL", runValidate},
		{"fmt", "rewrite config files in canonical layout (-check for CI)", runFmt},
		{"config", "print the effective config as JSON, secrets masked", runConfig},
		{"health", "probe a running balance's /health (for container health checks)", runHealth},
		{"version", "print the version", func([]string, io.Writer, io.Writer) int { fmt.Println("balance", version); return 0 }},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || len(args[0]) > 0 && args[0][0] == '-' {
		return runServe(args, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	if args[0] != "help" && args[0] != "-h" && args[0] != "--help" {
		fmt.Fprintf(stderr, "balance: unknown command %q\n\n", args[0])
	}
	fmt.Fprintln(stderr, "usage: balance [command] [-config balance.hcl]")
	for _, c := range commands() {
		fmt.Fprintf(stderr, "  %-9s %s\n", c.name, c.summary)
	}
	if args[0] == "help" {
		return 0
	}
	return 2
}
