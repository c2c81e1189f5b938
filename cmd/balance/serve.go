package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/engine/reload"
	"github.com/balanceproxy/balance/hcl"
)

// runServe loads the config, serves until SIGINT or SIGTERM, then drains
// in-flight requests and streams for the config's shutdown grace.
func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "balance.hcl", "config file")
	listen := fs.String("listen", "", "override server.listen")
	watch := fs.Bool("watch", true, "reload when the config or a file it reads changes (SIGHUP always reloads)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	load := func(p string) (*hcl.Config, error) {
		cfg, err := hcl.Load(p)
		if err == nil && *listen != "" {
			cfg.Server.Listen = *listen
		}
		return cfg, err
	}
	cfg, err := load(*path)
	if err != nil {
		var de *hcl.Error
		if errors.As(err, &de) {
			fmt.Fprintln(stderr, de.Error())
			fmt.Fprintf(stderr, "%s: %d problem(s); not starting\n", *path, len(de.Diags))
		} else {
			fmt.Fprintf(stderr, "balance: %v\n", err)
		}
		return 1
	}
	// The engine sets level from server.log_level at start and on every
	// applied reload.
	level := new(slog.LevelVar)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	for _, w := range cfg.Warnings {
		log.Warn("config warning", "diagnostic", w)
	}
	srv, err := engine.New(cfg, engine.Options{Logger: log, LogLevel: level})
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// One reloader serves file events and SIGHUP alike. It stops with
	// ctx; wg makes sure it has closed its watcher before we return.
	rl, err := reload.New(srv, reload.Options{Path: *path, Current: cfg, Load: load, Logger: log})
	if err != nil {
		log.Error("cannot start the config watcher", "error", err)
		return 1
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	rctx, stopReload := context.WithCancel(ctx)
	defer stopReload()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if *watch {
			_ = rl.Run(rctx)
			return
		}
		<-rctx.Done()
		_ = rl.Close()
	}()
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	defer signal.Stop(hups)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-rctx.Done():
				return
			case <-hups:
				log.Info("SIGHUP: reloading the config")
				if *watch {
					rl.Trigger()
				} else {
					rl.Reload()
				}
			}
		}
	}()

	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	select {
	case err := <-served:
		if err != nil {
			log.Error("server stopped", "error", err)
			return 1
		}
		return 0
	case <-ctx.Done():
	}
	grace := srv.Runtime().Config.Server.ShutdownGrace
	log.Info("shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown grace ended with requests still open", "error", err)
	}
	<-served
	log.Info("stopped")
	return 0
}
