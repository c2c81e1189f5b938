// Package engine is the proxy: the fasthttp server, routing, the request
// path from client token to upstream key and back, and live reloads.
//
// A request runs top to bottom in one handler (see gemini.go): route →
// authenticate → token limits → model rules → pick a key → call upstream →
// classify the answer → retry on another key or pass the answer back →
// record stats. Every config generation is an immutable Runtime swapped in
// atomically; key health and token usage live beside it, not in it.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/engine/upstream"
	"github.com/balanceproxy/balance/hcl"
	"github.com/balanceproxy/balance/hooks"
	"github.com/balanceproxy/balance/store"
)

// Options are the parts of a Server that do not come from the config.
type Options struct {
	Logger *slog.Logger
	// Recorder receives a Record per request; nil records nothing.
	Recorder Recorder
	// KeyObserver is told when a key starts cooling or is quarantined,
	// so a store can persist and share the state.
	KeyObserver func(k *keypool.Key, pool, model string)
	// ProbeTick is how often quarantined keys are checked for a due probe.
	ProbeTick time.Duration
}

// Server is the running proxy.
type Server struct {
	log         *slog.Logger
	recorder    Recorder
	keyObserver func(k *keypool.Key, pool, model string)
	rt          atomic.Pointer[Runtime]
	registry    *keypool.Registry
	clients     *upstream.Clients
	tokens      tokenStates
	srv         *fasthttp.Server
	started     time.Time
	listen      string

	reloadMu   sync.Mutex
	generation uint64
	events     reloadLog

	idPrefix string
	idSeq    atomic.Uint64

	store      *store.Store
	modelCache modelCache
	hookRT     *hooks.Runtime
	hookErrors hookErrorLog
	// notes are conditions worth an operator's attention, shown in status.
	notes []string
	// obs holds the Prometheus metrics (observe.go).
	obs *observer

	bgCtx   context.Context
	stop    context.CancelFunc
	bgDone  sync.WaitGroup
	stopped atomic.Bool
}

// New builds a server for cfg. It does not listen yet.
func New(cfg *hcl.Config, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ProbeTick <= 0 {
		opts.ProbeTick = time.Second
	}
	var prefix [4]byte
	_, _ = rand.Read(prefix[:])
	s := &Server{
		log:         opts.Logger,
		recorder:    opts.Recorder,
		keyObserver: opts.KeyObserver,
		registry:    keypool.NewRegistry(),
		clients:     upstream.NewClients(),
		started:     time.Now(),
		listen:      cfg.Server.Listen,
		idPrefix:    hex.EncodeToString(prefix[:]),
	}
	hs, _, err := s.loadHooks(cfg, nil)
	if err != nil {
		return nil, err
	}
	rt, err := buildRuntime(cfg, 1, s.registry, s.clients)
	if err != nil {
		return nil, err
	}
	rt.hooks = hs
	s.generation = 1
	s.rt.Store(rt)
	s.obs = newObserver(s)
	s.events.add(reloadEvent{Time: rt.Loaded, Generation: 1, Hash: cfg.Hash, Summary: rt.summary(nil)})
	s.srv = &fasthttp.Server{
		Handler:                       s.Handler,
		Name:                          "balance",
		NoDefaultServerHeader:         true,
		NoDefaultDate:                 false,
		MaxRequestBodySize:            cfg.Server.MaxRequestBody,
		ReadTimeout:                   cfg.Server.ReadTimeout,
		IdleTimeout:                   cfg.Server.IdleTimeout,
		WriteTimeout:                  0, // streams are bounded by idle timers, not a total
		CloseOnShutdown:               true,
		Concurrency:                   256 * 1024,
		ReadBufferSize:                4 << 10, // also the request header limit; held per connection
		DisablePreParseMultipartForm:  true,
		DisableHeaderNamesNormalizing: false,
		StreamRequestBody:             false,
		// Release the read and write buffers of connections that wait: an
		// open stream or an idle keep-alive then costs ~10 KB less.
		ReduceMemoryUsage:     true,
		Logger:                fasthttpLogger{log: s.log, rt: &s.rt},
		ErrorHandler:          serverError,
		SecureErrorLogMessage: true, // never log client tokens from headers
		// The body limit is read per request from the live generation,
		// so a reload can change it without touching the server.
		HeaderReceived: func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
			return fasthttp.RequestConfig{MaxRequestBodySize: s.rt.Load().Config.Server.MaxRequestBody}
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.bgCtx, s.stop = ctx, cancel
	if s.keyObserver == nil {
		s.keyObserver = s.persistKey
	}
	if err := s.openStore(cfg); err != nil {
		cancel()
		return nil, err
	}
	s.bgDone.Add(1)
	go func() {
		defer s.bgDone.Done()
		s.registry.RunProber(ctx, opts.ProbeTick, 4, s.probeKey)
	}()
	return s, nil
}

// Runtime returns the live config generation.
func (s *Server) Runtime() *Runtime { return s.rt.Load() }

// Registry exposes key health, for the store's persistence and tests.
func (s *Server) Registry() *keypool.Registry { return s.registry }

// Apply makes cfg the live config. The new Runtime is built completely
// beside the old one and swapped in one atomic step; requests in flight
// finish on the generation they started with. Key state carries over for
// every key still present.
func (s *Server) Apply(cfg *hcl.Config) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	prev := s.rt.Load()
	if prev.Config.Hash == cfg.Hash {
		return nil
	}
	hs, loaded, err := s.loadHooks(cfg, prev.hooks)
	if err != nil {
		s.events.add(reloadEvent{Time: time.Now(), Generation: s.generation, Error: err.Error()})
		return err
	}
	rt, err := buildRuntime(cfg, s.generation+1, s.registry, s.clients)
	if err != nil {
		closeAll(loaded)
		s.events.add(reloadEvent{Time: time.Now(), Generation: s.generation, Error: err.Error()})
		return err
	}
	rt.hooks = hs
	s.generation++
	s.rt.Store(rt)
	// Old hooks close once their in-flight calls (and requests that
	// retained them) are done.
	closeAll(retiredHooks(prev.hooks, hs))
	dropped := s.registry.Retain(rt.keySet)
	s.clients.Retain(rt.clients)
	summary := rt.summary(prev)
	var fixed []string
	if cfg.Server.Listen != s.listen {
		fixed = append(fixed, fmt.Sprintf("server.listen stays %q until restart (config says %q)", s.listen, cfg.Server.Listen))
	}
	if cfg.Server.ReadTimeout != prev.Config.Server.ReadTimeout || cfg.Server.IdleTimeout != prev.Config.Server.IdleTimeout {
		fixed = append(fixed, "server.read_timeout and idle_timeout apply after restart")
	}
	if cfg.Store != prev.Config.Store {
		fixed = append(fixed, "the store block applies after restart (stats keep going to the database opened at start)")
	}
	s.events.add(reloadEvent{Time: rt.Loaded, Generation: rt.Generation, Hash: cfg.Hash, Summary: summary, NeedsRestart: fixed})
	s.log.Info("config reloaded", "generation", rt.Generation, "hash", shortHash(cfg.Hash), "changes", summary, "dropped_keys", len(dropped))
	for _, f := range fixed {
		s.log.Warn("config change needs a restart", "detail", f)
	}
	return nil
}

// RejectReload records a config that failed validation: the old one keeps
// serving, and status shows the diagnostics.
func (s *Server) RejectReload(err error) {
	s.reloadMu.Lock()
	gen := s.generation
	s.reloadMu.Unlock()
	s.events.add(reloadEvent{Time: time.Now(), Generation: gen, Error: err.Error()})
	s.log.Error("config rejected; still serving the previous generation", "generation", gen, "error", err)
}

// ListenAndServe listens on the config's address and serves until Shutdown.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.listen, err)
	}
	return s.Serve(ln)
}

// Serve serves on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.log.Info("serving", "addr", ln.Addr().String(), "generation", s.Runtime().Generation)
	err := s.srv.Serve(ln)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections, lets in-flight requests and
// streams finish until ctx ends, then stops background work.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.stopped.CompareAndSwap(false, true) {
		return nil
	}
	err := s.srv.ShutdownWithContext(ctx)
	s.stop()
	s.bgDone.Wait()
	s.clients.CloseIdle()
	if s.hookRT != nil {
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if rt := s.rt.Load(); rt.hooks != nil {
			for _, h := range rt.hooks.byName {
				h.Close()
			}
		}
		_ = s.hookRT.Close(hctx)
		cancel()
	}
	if s.store != nil {
		// Flush what is queued; give it its own budget so a slow drain
		// of streams does not cost the stats.
		fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if serr := s.store.Close(fctx); serr != nil {
			s.log.Error("store flush at shutdown incomplete", "error", serr)
		}
	}
	return err
}

var exchangePool = sync.Pool{New: func() any { return &exchange{id: make([]byte, 0, 32), scratch: make([]byte, 0, 128)} }}

// newExchange starts a request's bookkeeping with a fresh request id: a
// per-process random prefix and a counter, unique within the run.
func (s *Server) newExchange(proto Protocol, route string) *exchange {
	ex := exchangePool.Get().(*exchange)
	id, scratch, peeked, retained := ex.id[:0], ex.scratch[:0], ex.peeked[:0], ex.retained[:0]
	*ex = exchange{start: time.Now(), proto: proto, route: route, scratch: scratch, peeked: peeked, retained: retained}
	id = append(id, s.idPrefix...)
	id = append(id, '-')
	ex.id = strconv.AppendUint(id, s.idSeq.Add(1), 36)
	return ex
}

// releaseExchange returns an exchange to the pool once nothing uses it.
func releaseExchange(ex *exchange) {
	if cap(ex.peeked) > 64<<10 {
		ex.peeked = nil
	}
	exchangePool.Put(ex)
}

// reloadEvent is one entry of the reload history shown in status.
type reloadEvent struct {
	Time         time.Time `json:"time"`
	Generation   uint64    `json:"generation"`
	Hash         string    `json:"hash,omitempty"`
	Summary      string    `json:"summary,omitempty"`
	Error        string    `json:"error,omitempty"`
	NeedsRestart []string  `json:"needs_restart,omitempty"`
}

// reloadLog keeps the last reload events.
type reloadLog struct {
	mu     sync.Mutex
	events []reloadEvent
	// applied and rejected count every event since start, for metrics.
	applied, rejected uint64
}

func (l *reloadLog) add(e reloadEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Error != "" {
		l.rejected++
	} else {
		l.applied++
	}
	l.events = append(l.events, e)
	if len(l.events) > 20 {
		l.events = l.events[len(l.events)-20:]
	}
}

func (l *reloadLog) list() []reloadEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]reloadEvent(nil), l.events...)
}

// serverError answers requests fasthttp rejects before the handler runs
// (too large, malformed) in Gemini's error shape.
func serverError(ctx *fasthttp.RequestCtx, err error) {
	status, msg := fasthttp.StatusBadRequest, "Malformed HTTP request: "+err.Error()
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		status, msg = fasthttp.StatusRequestEntityTooLarge, "Request body exceeds server.max_request_body."
	}
	writeGeminiError(ctx, status, msg, 0)
	ctx.SetConnectionClose()
}

// shortHash is the first 12 characters of a config hash, for logs.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
