package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
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

// maxHeaderBytes is the largest request head (request line and headers)
// the server reads: fasthttp's read buffer, held by every active
// connection and by every open stream. 16 KiB fits the cookies browsers
// really send (Chrome caps one cookie at 4 KiB, a request's at ~16 KiB).
const maxHeaderBytes = 16 << 10

// Options are the parts of a Server that do not come from the config.
type Options struct {
	Logger *slog.Logger
	// LogLevel, when set, is the level Logger's handler filters by: New
	// and every applied reload set it to server.log_level, so a reload
	// changes the level like any other setting.
	LogLevel *slog.LevelVar
	// Recorder receives a Record per request; nil records nothing.
	Recorder Recorder
	// KeyObserver is told when a key starts cooling or is quarantined,
	// so a store can persist and share the state.
	KeyObserver func(k *keypool.Key, pool, model string)
	// StoreRetry is the first wait before the store is tried again when it
	// cannot be opened at start (doubling to a minute); 0 means 1 s.
	StoreRetry time.Duration
	// ProbeTick is how often quarantined keys are checked for a due probe.
	ProbeTick time.Duration
	// StoreQueueSize, StoreBatchSize and StoreFlushInterval tune the
	// stats store's write queue (store.Config). Zero keeps the store's
	// defaults, which is what production uses; outage tests shrink the
	// queue so it overflows within a few hundred requests.
	StoreQueueSize, StoreBatchSize int
	StoreFlushInterval             time.Duration
}

// Server is the running proxy.
type Server struct {
	log         *slog.Logger
	logLevel    *slog.LevelVar // nil: the logger's level is the caller's
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

	// store is the stats database once open (nil without one).
	store atomic.Pointer[store.Store]
	// bodies counts request bodies in memory against max_body_memory.
	bodies bodyMemory
	// streams are the streams being relayed, for shutdown.
	streams openStreams
	hookRT  *hooks.Runtime
	// storeNote, when set, says why the store is not in use: shown in status.
	storeNote atomic.Pointer[string]
	// obs holds the Prometheus metrics (observe.go).
	obs *observer
	// owned is the ownership of files, caches and batches (resources.go).
	owned ownership

	bgCtx   context.Context
	stop    context.CancelFunc
	bgDone  sync.WaitGroup
	stopped atomic.Bool

	// live are the open Live API sessions; ephemeral the Live API tokens
	// minted through balance, bound to their key.
	live      liveSessions
	ephemeral ephemeralTokens
	// watch abandons upstream calls whose client went away.
	watch *clientWatch
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
		logLevel:    opts.LogLevel,
		recorder:    opts.Recorder,
		keyObserver: opts.KeyObserver,
		registry:    keypool.NewRegistry(),
		clients:     upstream.NewClients(),
		started:     time.Now(),
		listen:      cfg.Server.Listen,
		idPrefix:    hex.EncodeToString(prefix[:]),
		watch:       newClientWatch(),
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
	s.setLogLevel(cfg)
	s.obs = newObserver(s)
	s.events.start(reloadEvent{Time: rt.Loaded, Generation: 1, Hash: cfg.Hash, Summary: rt.summary(nil)})
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
		ReadBufferSize:                maxHeaderBytes, // also the request header limit; held per connection
		DisablePreParseMultipartForm:  true,
		DisableHeaderNamesNormalizing: false,
		// The handler runs on the headers; readBody reads a body only
		// for an authenticated client (body.go).
		StreamRequestBody: true,
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
	if err := s.openStore(cfg, opts); err != nil {
		cancel()
		return nil, err
	}
	s.bgDone.Add(2)
	go func() {
		defer s.bgDone.Done()
		s.registry.RunProber(ctx, opts.ProbeTick, 4, s.probeKey)
	}()
	go func() {
		defer s.bgDone.Done()
		s.watch.run(ctx, clientWatchTick)
	}()
	s.bgDone.Add(1)
	go func() {
		defer s.bgDone.Done()
		s.sweepImages(ctx)
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
//
// Apply is the one place that skips a config whose hash is already live,
// and, with RejectReload, the one place a reload's outcome is recorded
// (status history, /metrics, log): it records its own outcome, applied,
// unchanged or rejected, so a caller must not record it again. It reports
// whether a new generation went live; a config it cannot build is
// rejected, returned as the error, and the old generation keeps serving.
func (s *Server) Apply(cfg *hcl.Config) (applied bool, err error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	prev := s.rt.Load()
	if prev.Config.Hash == cfg.Hash {
		s.events.unchanged(reloadEvent{Time: time.Now(), Generation: prev.Generation, Hash: cfg.Hash,
			Summary: "the file is the live config again; the rejection before this is history"})
		s.log.Debug("config unchanged", "generation", prev.Generation, "hash", shortHash(cfg.Hash))
		return false, nil
	}
	hs, loaded, err := s.loadHooks(cfg, prev.hooks)
	if err != nil {
		s.rejectLocked(err)
		return false, err
	}
	rt, err := buildRuntime(cfg, s.generation+1, s.registry, s.clients)
	if err != nil {
		closeAll(loaded)
		s.rejectLocked(err)
		return false, err
	}
	rt.hooks = hs
	s.generation++
	s.rt.Store(rt)
	s.setLogLevel(cfg)
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
	s.events.applied(reloadEvent{Time: rt.Loaded, Generation: rt.Generation, Hash: cfg.Hash, Summary: summary, NeedsRestart: fixed})
	s.log.Info("config reloaded", "generation", rt.Generation, "hash", shortHash(cfg.Hash), "changes", summary, "dropped_keys", len(dropped))
	for _, f := range fixed {
		s.log.Warn("config change needs a restart", "detail", f)
	}
	return true, nil
}

// setLogLevel makes server.log_level the logger's level, when the
// logger was built on Options.LogLevel. Levels are validated by hcl.
func (s *Server) setLogLevel(cfg *hcl.Config) {
	if s.logLevel == nil {
		return
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(cfg.Server.LogLevel)); err == nil {
		s.logLevel.Set(l)
	}
}

// RejectReload records a config that failed to load or validate and so
// never reached Apply: the old one keeps serving, and status shows the
// diagnostics. Apply records its own failures; they must not come here.
func (s *Server) RejectReload(err error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.rejectLocked(err)
}

// rejectLocked records one rejected reload. The caller holds reloadMu.
func (s *Server) rejectLocked(err error) {
	s.events.rejected(reloadEvent{Time: time.Now(), Generation: s.generation, Error: err.Error()})
	s.log.Error("config rejected; still serving the previous generation", "generation", s.generation, "error", err)
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
	if n, ok := s.live.closeAll(5 * time.Second); n > 0 {
		s.log.Warn("shutdown: closed open Live sessions (1001)", "sessions", n, "recorded", ok)
	}
	if n := s.streams.cutAll(); n > 0 {
		s.log.Warn("shutdown_grace is over: ending open streams with an error event", "streams", n)
	}
	// The writers of the cut streams record them; give them a moment
	// before the store closes.
	if !s.streams.wait(5 * time.Second) {
		s.log.Error("streams still open after shutdown; their requests may not be recorded")
	}
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
	if st := s.store.Load(); st != nil {
		// Flush what is queued; give it its own budget so a slow drain
		// of streams does not cost the stats.
		fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if serr := st.Close(fctx); serr != nil {
			s.log.Error("store flush at shutdown incomplete", "error", serr)
		}
	}
	return err
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

// reloadLog keeps the last reload events and counts every reload since
// start, by outcome. The Server writes to it only from Apply and
// RejectReload, one call per reload.
type reloadLog struct {
	mu     sync.Mutex
	events []reloadEvent
	counts reloadCounts
}

// reloadCounts count reloads by outcome, for /metrics. The initial load
// is not a reload.
type reloadCounts struct {
	applied, rejected, unchanged uint64
}

// maxReloadEvents is how many events status shows.
const maxReloadEvents = 20

// start records the initial load, which is history but not a reload.
func (l *reloadLog) start(e reloadEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.push(e)
}

// applied records a config that became live.
func (l *reloadLog) applied(e reloadEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts.applied++
	l.push(e)
}

// rejected records a config that failed to load, validate or build.
func (l *reloadLog) rejected(e reloadEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts.rejected++
	l.push(e)
}

// unchanged counts a reload skipped because its hash was live. It adds
// back only after a rejection: a file reverted to the live config ends
// the alert, which status shows while a rejection is the newest event.
// Otherwise it adds nothing: with polling that is every poll, and the
// history would show nothing else.
func (l *reloadLog) unchanged(back reloadEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts.unchanged++
	if n := len(l.events); n > 0 && l.events[n-1].Error != "" {
		l.push(back)
	}
}

func (l *reloadLog) push(e reloadEvent) {
	l.events = append(l.events, e)
	if len(l.events) > maxReloadEvents {
		l.events = l.events[len(l.events)-maxReloadEvents:]
	}
}

func (l *reloadLog) list() []reloadEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

func (l *reloadLog) snapshot() reloadCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts
}

// shortHash is the first 12 characters of a config hash, for logs.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
