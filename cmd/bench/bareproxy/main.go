// Command bareproxy is the load benchmark's baseline: the smallest honest
// fasthttp reverse proxy (internal/barepass) as a process of its own. Its
// handler forwards the client's request, in place, through one
// fasthttp.HostClient pointed at the upstream and passes the answer back;
// there is no auth, no key choice, no retry, no stats and no timeout.
// cmd/bench runs it beside balance on the same mock, so "balance ÷ bare"
// prices everything balance does beyond moving bytes.
//
//	bareproxy -upstream 127.0.0.1:9100 [-listen 127.0.0.1:0] [-key key-001]
//
// It prints its address ("http://127.0.0.1:N") on the first line of
// stdout once it listens, as cmd/mockgemini does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // only served with -pprof
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/internal/barepass"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bareproxy:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	upstream := flag.String("upstream", "", "upstream host:port (required)")
	key := flag.String("key", "", "when set, sent upstream as x-goog-api-key in place of the client's (a constant, not a key choice)")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this address (cmd/bench -profile)")
	// Knobs that price one of balance's settings at a time on the
	// baseline (cmd/bench -scenarios knobs); all off by default.
	reduceMem := flag.Bool("reduce-memory", false, "fasthttp.Server.ReduceMemoryUsage, as balance sets it")
	readTimeout := flag.Duration("read-timeout", 0, "fasthttp.Server.ReadTimeout (balance: server read_timeout, 30s)")
	idleTimeout := flag.Duration("idle-timeout", 0, "fasthttp.Server.IdleTimeout (balance: server idle_timeout, 90s)")
	upTimeout := flag.Duration("upstream-timeout", 0, "deadline of every upstream call (balance: upstream timeout, 600s)")
	balanceClient := flag.Bool("balance-client", false, "use balance's upstream HostClient (engine/upstream: its settings and connection wrapper)")
	flag.Parse()
	if *upstream == "" {
		return errors.New("-upstream is required")
	}
	hc := barepass.Client(*upstream)
	if *balanceClient {
		var err error
		if hc, err = barepass.BalanceClient(*upstream); err != nil {
			return err
		}
	}
	srv := &fasthttp.Server{
		Handler: barepass.TimeoutHandler(hc, *key, *upTimeout),
		// The product's max_request_body; everything else is fasthttp's
		// default unless a knob says otherwise.
		MaxRequestBodySize: 32 << 20,
		ReduceMemoryUsage:  *reduceMem,
		ReadTimeout:        *readTimeout,
		IdleTimeout:        *idleTimeout,
	}
	if *pprofAddr != "" {
		go func() { _ = http.ListenAndServe(*pprofAddr, nil) }()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Println("http://" + ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.ShutdownWithContext(sctx)
}
