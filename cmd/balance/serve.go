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
	"syscall"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/hcl"
)

// runServe loads the config, serves until SIGINT or SIGTERM, then drains
// in-flight requests and streams for the config's shutdown grace.
func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "balance.hcl", "config file")
	listen := fs.String("listen", "", "override server.listen")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := hcl.Load(*path)
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
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	log := newLogger(stderr, cfg.Server.LogLevel)
	srv, err := engine.New(cfg, engine.Options{Logger: log})
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reloads := make(chan os.Signal, 1)
	signal.Notify(reloads, syscall.SIGHUP)
	defer signal.Stop(reloads)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-reloads:
				reload(srv, *path, *listen, log)
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

// reload reads the config again and applies it, or keeps the old one and
// records why.
func reload(srv *engine.Server, path, listen string, log *slog.Logger) {
	cfg, err := hcl.Load(path)
	if err != nil {
		srv.RejectReload(err)
		return
	}
	if listen != "" {
		cfg.Server.Listen = listen
	}
	if err := srv.Apply(cfg); err != nil {
		log.Error("reload failed", "error", err)
	}
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
