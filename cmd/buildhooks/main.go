// Command buildhooks builds Go hook guests into .wasm modules with the
// stock toolchain (GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared), caching
// builds by a hash of their sources. It is what `make hooks` runs.
//
//	go run ./cmd/buildhooks                      # every examples/hooks/* dir
//	go run ./cmd/buildhooks path/to/hook ...     # chosen dirs
//	go run ./cmd/buildhooks -out build/hooks ... # outputs elsewhere
//
// Each dir D becomes D/<base of D>.wasm unless -out is given.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/balanceproxy/balance/hooks"
)

func main() {
	out := flag.String("out", "", "directory for the .wasm files (default: each source dir)")
	cache := flag.String("cache", "", "build cache dir (default: <user cache>/balance/hooks)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: buildhooks [-out dir] [-cache dir] [hook dir ...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *cache, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "buildhooks:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, cache string, dirs []string) error {
	if len(dirs) == 0 {
		matches, err := filepath.Glob(filepath.Join("examples", "hooks", "*", "main.go"))
		if err != nil {
			return err
		}
		if len(matches) == 0 {
			return fmt.Errorf("no hook dirs given and none under examples/hooks (run from the repository root)")
		}
		for _, m := range matches {
			dirs = append(dirs, filepath.Dir(m))
		}
	}
	b := &hooks.Builder{CacheDir: cache}
	for _, dir := range dirs {
		name := filepath.Base(filepath.Clean(dir))
		dst := filepath.Join(dir, name+".wasm")
		if out != "" {
			dst = filepath.Join(out, name+".wasm")
		}
		start := time.Now()
		cached, err := b.Build(ctx, dir, dst)
		if err != nil {
			return err
		}
		how := "built"
		if cached {
			how = "cached"
		}
		fmt.Printf("%-40s %s in %v\n", dst, how, time.Since(start).Round(time.Millisecond))
	}
	return nil
}
