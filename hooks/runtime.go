package hooks

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// RuntimeOptions configures a Runtime.
type RuntimeOptions struct {
	// CacheDir holds compiled modules across restarts (e.g.
	// "<data dir>/hooks-cache"). Entries are keyed by the module's
	// sha256 and the wazero version, so reloading or restarting with an
	// unchanged .wasm does not recompile. Empty keeps the cache in memory.
	CacheDir string
	// Logger receives guest log lines and hook failures. Nil discards.
	Logger *slog.Logger
	// LogInterval is how often one hook may log a failure, and the
	// output its guest printed (default DefaultLogInterval).
	LogInterval time.Duration
}

// Runtime is the per-process hook host: one shared compilation cache and
// one wazero runtime per distinct memory limit (wazero sets the memory cap
// and the timeout behaviour per runtime, not per module).
type Runtime struct {
	cache    wazero.CompilationCache
	logger   *slog.Logger
	logEvery time.Duration

	mu       sync.Mutex
	closed   bool
	runtimes map[uint32]*engineRuntime // by memory limit in pages
	modules  map[moduleKey]*compiledModule

	// guestMu is held for reading while guest code runs or guest memory
	// is read or written (instantiate, calls); Close takes it for writing
	// before closing the wazero runtimes, which frees every instance's
	// memory, and sets stopped so that no guest runs again.
	guestMu sync.RWMutex
	stopped bool

	live      atomic.Int64 // instantiated guest modules, all hooks
	compiles  atomic.Int64 // CompileModule calls (cache hits included)
	instances sync.Map     // api.Module -> *instance, for host imports
}

type engineRuntime struct {
	r     wazero.Runtime
	pages uint32
}

type moduleKey struct {
	sum   [sha256.Size]byte
	pages uint32
}

// compiledModule is shared by every Hook loaded from the same bytes with
// the same memory limit, so a reload that keeps the .wasm reuses it.
type compiledModule struct {
	key      moduleKey
	rt       *engineRuntime
	compiled wazero.CompiledModule
	refs     int
}

// NewRuntime creates the hook host. Close it at shutdown, after every Hook.
func NewRuntime(ctx context.Context, opts RuntimeOptions) (*Runtime, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var cache wazero.CompilationCache
	if opts.CacheDir != "" {
		dir, err := filepath.Abs(opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("hooks: cache dir %s: %w", opts.CacheDir, err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("hooks: create cache dir: %w", err)
		}
		if cache, err = wazero.NewCompilationCacheWithDir(dir); err != nil {
			return nil, fmt.Errorf("hooks: open cache dir %s: %w", dir, err)
		}
	} else {
		cache = wazero.NewCompilationCache()
	}
	logEvery := opts.LogInterval
	if logEvery <= 0 {
		logEvery = DefaultLogInterval
	}
	return &Runtime{
		cache:    cache,
		logger:   logger,
		logEvery: logEvery,
		runtimes: map[uint32]*engineRuntime{},
		modules:  map[moduleKey]*compiledModule{},
	}, nil
}

// LiveInstances returns the number of guest instances alive across all
// hooks of this runtime; a reload loop that leaks shows up here.
func (r *Runtime) LiveInstances() int { return int(r.live.Load()) }

// CompiledModules returns the number of distinct compiled modules held.
func (r *Runtime) CompiledModules() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.modules)
}

// Close releases every wazero runtime and the compilation cache. Hooks
// still open stop working (calls fail as closed); close them first. Close
// waits for guest code already running, which its timeout bounds.
func (r *Runtime) Close(ctx context.Context) error {
	r.guestMu.Lock()
	r.stopped = true
	r.guestMu.Unlock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	rts := r.runtimes
	r.runtimes = nil
	r.modules = nil
	r.mu.Unlock()
	var errs []error
	for _, rt := range rts {
		if err := rt.r.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.cache.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// enterGuest starts a section that runs guest code or touches guest
// memory; it returns false once the runtime is closed. End it with
// leaveGuest. Sections must not nest.
func (r *Runtime) enterGuest() bool {
	r.guestMu.RLock()
	if r.stopped {
		r.guestMu.RUnlock()
		return false
	}
	return true
}

func (r *Runtime) leaveGuest() { r.guestMu.RUnlock() }

// engineFor returns the wazero runtime for a memory limit, creating it on
// first use. Caller holds r.mu.
func (r *Runtime) engineFor(ctx context.Context, pages uint32) (*engineRuntime, error) {
	if rt, ok := r.runtimes[pages]; ok {
		return rt, nil
	}
	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(r.cache).
		// The only way to stop a guest that loops: wazero checks for
		// cancellation at loop back-edges. It costs guest speed (see
		// README "Performance"), and is worth it for third-party code.
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(pages)
	wr := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, wr); err != nil {
		_ = wr.Close(ctx)
		return nil, fmt.Errorf("hooks: instantiate WASI: %w", err)
	}
	_, err := wr.NewHostModuleBuilder(hostModuleName).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(r.hostLog),
			[]api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, nil).
		WithParameterNames("level", "ptr", "len").
		Export("log").
		Instantiate(ctx)
	if err != nil {
		_ = wr.Close(ctx)
		return nil, fmt.Errorf("hooks: instantiate host module: %w", err)
	}
	rt := &engineRuntime{r: wr, pages: pages}
	r.runtimes[pages] = rt
	return rt, nil
}

// acquireModule compiles wasm (or reuses an identical compiled module) and
// takes a reference on it.
func (r *Runtime) acquireModule(ctx context.Context, wasm []byte, pages uint32) (*compiledModule, error) {
	key := moduleKey{sum: sha256.Sum256(wasm), pages: pages}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("hooks: runtime closed")
	}
	if m, ok := r.modules[key]; ok {
		m.refs++
		return m, nil
	}
	rt, err := r.engineFor(ctx, pages)
	if err != nil {
		return nil, err
	}
	// Compiling holds r.mu: loads are rare (startup, reload) and this keeps
	// two hooks with the same module from compiling it twice.
	r.compiles.Add(1)
	c, err := rt.r.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	m := &compiledModule{key: key, rt: rt, compiled: c, refs: 1}
	r.modules[key] = m
	return m, nil
}

// releaseModule drops a reference and frees the compiled code at zero.
func (r *Runtime) releaseModule(m *compiledModule) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m.refs--
	if m.refs > 0 || r.closed {
		return
	}
	delete(r.modules, m.key)
	_ = m.compiled.Close(context.Background())
}

func sumHex(sum [sha256.Size]byte) string { return hex.EncodeToString(sum[:]) }

// Host import limits: a guest cannot flood the log.
const (
	maxLogLinesPerCall = 16
	maxLogLineBytes    = 1024
)

// hostLog implements balance_hook.log(level, ptr, len).
func (r *Runtime) hostLog(ctx context.Context, m api.Module, stack []uint64) {
	v, ok := r.instances.Load(m)
	if !ok {
		return
	}
	inst := v.(*instance)
	if inst.logLines >= maxLogLinesPerCall {
		inst.logDropped++
		return
	}
	inst.logLines++
	level, ptr, n := int32(stack[0]), uint32(stack[1]), uint32(stack[2])
	truncated := false
	if n > maxLogLineBytes {
		n, truncated = maxLogLineBytes, true
	}
	msg, ok := m.Memory().Read(ptr, n)
	if !ok {
		return
	}
	r.logger.Log(ctx, slog.Level(level), "hook log", "hook", inst.hook.name,
		"msg", string(msg), "truncated", truncated)
}

// randReader is the guest's random source: real entropy, as Go guests seed
// their maps and math/rand from it.
var randReader = rand.Reader
