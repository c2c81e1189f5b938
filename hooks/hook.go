package hooks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"
)

// Defaults for unset Spec fields. They are also the defaults of the hook
// block in balance.hcl (package hcl uses these constants).
const (
	DefaultTimeout = 100 * time.Millisecond
	// DefaultMaxInstances is a fixed number rather than GOMAXPROCS, so a
	// hook's worst-case memory (MaxInstances × MemoryLimitBytes) does not
	// depend on the machine.
	DefaultMaxInstances = 4
	// DefaultMemoryLimit is 1024 pages. A Go guest needs about 4 MiB to
	// start; the rest is room for the input (at most half the limit:
	// bodies up to about the server's default 32 MiB maximum) and the
	// guest's work on it.
	DefaultMemoryLimit = 64 << 20

	pageSize           = 65536
	instantiateTimeout = 10 * time.Second
)

// Spec is one hook block, resolved by the config layer.
type Spec struct {
	// Name is the hook block's label; it names the hook in errors and stats.
	Name string
	// Module is the path of the .wasm file.
	Module string
	// Phases the hook runs in. The module must handle each of them.
	Phases []Phase
	// Timeout bounds one call, guest work only (default 100ms). A guest
	// still running at the timeout is stopped and its instance discarded.
	Timeout time.Duration
	// MaxInstances bounds the pool, i.e. concurrent calls of this hook
	// (default 4). Calls beyond it wait for a free instance.
	MaxInstances int
	// MemoryLimitBytes caps each instance's linear memory (default
	// 64 MiB, rounded up to 64 KiB pages). Growing past it traps.
	MemoryLimitBytes uint64
	// RecycleAboveBytes retires an instance after a call that left its
	// memory above this size (default 3/4 of the limit): Go guests never
	// shrink their heap, so this returns memory to the host.
	RecycleAboveBytes uint64
	// Fail is applied by the engine when Call returns an error.
	Fail FailPolicy
	// Config is the hook block's config, as JSON, handed to every call.
	Config []byte
}

// Hook is a loaded hook: a compiled module plus a bounded pool of
// instances. It is safe for concurrent use.
type Hook struct {
	rt      *Runtime
	mod     *compiledModule
	name    string
	path    string
	sha     string
	spec    Spec
	config  []byte
	timeout time.Duration

	handles [3]bool // by Phase.index()
	noBody  [3]bool
	memCap  uint32 // bytes
	recycle uint32 // bytes

	sem  chan struct{}  // one token per call holding an instance
	idle chan *instance // ready instances

	mu       sync.Mutex
	inflight int
	closing  bool
	done     chan struct{}

	calls    atomic.Uint64
	changed  atomic.Uint64
	recycled atomic.Uint64
	live     atomic.Int64
	errs     [len(allKinds)]atomic.Uint64
	failLog  logThrottle // "hook call failed" lines
	outLog   logThrottle // guest output of calls that succeeded

	errMu     sync.Mutex
	lastErr   string
	lastErrAt time.Time
}

// instance is one instantiated guest, owned by exactly one call at a time.
type instance struct {
	hook   *Hook
	mod    api.Module
	alloc  api.Function
	phases [3]api.Function
	stack  [1]uint64
	inPtr  uint32
	inCap  uint32
	buf    []byte
	output capWriter      // guest stdout/stderr
	ctx    *callCtx       // reusable per-call timeout context
	memory instanceMemory // the guest's linear memory, outside the Go heap
	spent  bool           // ctx fired: discard after this call

	logLines   int // host log calls in the current call
	logDropped int
}

// Load reads, compiles (or reuses the compiled form of) and validates the
// module of spec, then pre-warms one instance. Errors name the hook and
// the file.
func (r *Runtime) Load(ctx context.Context, spec Spec) (*Hook, error) {
	h, err := r.load(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("hook %q (%s): %w", spec.Name, spec.Module, err)
	}
	return h, nil
}

// normalize validates spec and fills in defaults; it returns the memory
// limit in pages.
func normalize(spec Spec) (Spec, uint32, error) {
	if spec.Name == "" {
		return spec, 0, errors.New("hook has no name")
	}
	if len(spec.Phases) == 0 {
		return spec, 0, errors.New("no phases")
	}
	if spec.Timeout <= 0 {
		spec.Timeout = DefaultTimeout
	}
	if spec.MaxInstances <= 0 {
		spec.MaxInstances = DefaultMaxInstances
	}
	if spec.MemoryLimitBytes == 0 {
		spec.MemoryLimitBytes = DefaultMemoryLimit
	}
	if spec.MemoryLimitBytes > 4<<30 {
		return spec, 0, fmt.Errorf("memory limit %d bytes exceeds 4 GiB", spec.MemoryLimitBytes)
	}
	pages := uint32((spec.MemoryLimitBytes + pageSize - 1) / pageSize)
	if spec.RecycleAboveBytes == 0 || spec.RecycleAboveBytes > uint64(pages)*pageSize {
		spec.RecycleAboveBytes = uint64(pages) * pageSize / 4 * 3
	}
	fail, err := ParseFailPolicy(string(spec.Fail))
	if err != nil {
		return spec, 0, err
	}
	spec.Fail = fail
	if len(bytes.TrimSpace(spec.Config)) > 0 && !jsonValid(spec.Config) {
		return spec, 0, errors.New("config is not valid JSON")
	}
	return spec, pages, nil
}

// SameAs reports whether loading spec would give this very hook: same
// settings, config and module bytes (by sha256). A config reload can then
// keep the hook, its warm pool and its stats instead of loading anew.
func (h *Hook) SameAs(spec Spec) bool {
	n, _, err := normalize(spec)
	if err != nil || n.Name != h.spec.Name || n.Module != h.spec.Module || n.Timeout != h.spec.Timeout ||
		n.MaxInstances != h.spec.MaxInstances || n.MemoryLimitBytes != h.spec.MemoryLimitBytes ||
		n.RecycleAboveBytes != h.spec.RecycleAboveBytes || n.Fail != h.spec.Fail ||
		!bytes.Equal(n.Config, h.spec.Config) || len(n.Phases) != len(h.spec.Phases) {
		return false
	}
	for i := range n.Phases {
		if n.Phases[i] != h.spec.Phases[i] {
			return false
		}
	}
	wasm, err := os.ReadFile(spec.Module)
	if err != nil {
		return false
	}
	return sha256.Sum256(wasm) == h.mod.key.sum
}

func (r *Runtime) load(ctx context.Context, spec Spec) (*Hook, error) {
	spec, pages, err := normalize(spec)
	if err != nil {
		return nil, err
	}
	wasm, err := os.ReadFile(spec.Module)
	if err != nil {
		return nil, fmt.Errorf("read module: %w", err)
	}
	m, err := r.acquireModule(ctx, wasm, pages)
	if err != nil {
		if strings.Contains(err.Error(), "over limit") {
			err = fmt.Errorf("%w (memory limit %d KiB is too small for this module)", err, spec.MemoryLimitBytes>>10)
		}
		return nil, err
	}
	h := &Hook{
		rt:      r,
		mod:     m,
		name:    spec.Name,
		path:    spec.Module,
		sha:     sumHex(m.key.sum),
		spec:    spec,
		config:  bytes.Clone(spec.Config),
		timeout: spec.Timeout,
		memCap:  uint32(min(uint64(pages)*pageSize, 1<<32-pageSize)),
		recycle: uint32(min(spec.RecycleAboveBytes, 1<<32-1)),
		sem:     make(chan struct{}, spec.MaxInstances),
		idle:    make(chan *instance, spec.MaxInstances),
		done:    make(chan struct{}),
	}
	h.spec.Config = h.config // not the caller's slice
	if err := h.validateExports(); err != nil {
		r.releaseModule(m)
		return nil, err
	}
	inst, err := h.newInstance(ctx)
	if err != nil {
		r.releaseModule(m)
		return nil, err
	}
	if err := h.checkABI(ctx, inst); err != nil {
		h.discard(inst)
		r.releaseModule(m)
		return nil, err
	}
	h.idle <- inst
	return h, nil
}

// validateExports checks the module's exports against ABI v1 before any
// instance runs, so a wrong file fails with a precise message.
func (h *Hook) validateExports() error {
	exports := h.mod.compiled.ExportedFunctions()
	want := func(name string, params, results []api.ValueType) error {
		def, ok := exports[name]
		if !ok {
			return fmt.Errorf("module does not export %s: not a balance hook (build it with the hooks/guest SDK, see hooks/README.md)", name)
		}
		if !sameTypes(def.ParamTypes(), params) || !sameTypes(def.ResultTypes(), results) {
			return fmt.Errorf("export %s has type %v -> %v, want %v -> %v", name,
				def.ParamTypes(), def.ResultTypes(), params, results)
		}
		return nil
	}
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	if err := want(exportABIVersion, nil, []api.ValueType{i32}); err != nil {
		return err
	}
	if err := want(exportAlloc, []api.ValueType{i32}, []api.ValueType{i32}); err != nil {
		return err
	}
	if _, ok := exports[exportFeatures]; ok {
		if err := want(exportFeatures, nil, []api.ValueType{i32}); err != nil {
			return err
		}
	}
	for _, p := range h.spec.Phases {
		if p.index() < 0 {
			return fmt.Errorf("unknown phase %q", p)
		}
		if err := want(p.export(), []api.ValueType{i32}, []api.ValueType{i64}); err != nil {
			return fmt.Errorf("phase %s: %w", p, err)
		}
		h.handles[p.index()] = true
	}
	return nil
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkABI runs on the pre-warmed instance: version and feature bits.
func (h *Hook) checkABI(ctx context.Context, inst *instance) error {
	if !h.rt.enterGuest() {
		return ErrClosed
	}
	defer h.rt.leaveGuest()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), instantiateTimeout)
	defer cancel()
	v, err := inst.mod.ExportedFunction(exportABIVersion).Call(cctx)
	if err != nil {
		return fmt.Errorf("call %s: %w", exportABIVersion, err)
	}
	if got := int32(uint32(v[0])); got != ABIVersion {
		return fmt.Errorf("module speaks hook ABI version %d, this host speaks %d", got, ABIVersion)
	}
	f := inst.mod.ExportedFunction(exportFeatures)
	if f == nil {
		return nil // every exported phase is handled, with bodies
	}
	res, err := f.Call(cctx)
	if err != nil {
		return fmt.Errorf("call %s: %w", exportFeatures, err)
	}
	feat := uint32(res[0])
	bits := [3]uint32{featRequest, featResponse, featChunk}
	for _, p := range h.spec.Phases {
		if feat&bits[p.index()] == 0 {
			return fmt.Errorf("module has no handler for phase %s", p)
		}
	}
	h.noBody[PhaseRequest.index()] = feat&featRequestNoBody != 0
	h.noBody[PhaseResponse.index()] = feat&featResponseNoBody != 0
	return nil
}

// newInstance instantiates the module and runs _initialize (a Go
// c-shared guest's runtime start, about 5 ms; hence the pool).
func (h *Hook) newInstance(ctx context.Context) (*instance, error) {
	inst := &instance{hook: h, ctx: newCallCtx()}
	if !h.rt.enterGuest() {
		return nil, ErrClosed
	}
	defer h.rt.leaveGuest()
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous: many instances of one module
		WithStartFunctions(exportInitialize).
		WithStdout(&inst.output).
		WithStderr(&inst.output).
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(randReader)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), instantiateTimeout)
	defer cancel()
	if mapSupported {
		cctx = experimental.WithMemoryAllocator(cctx, &inst.memory)
	}
	mod, err := h.mod.rt.r.InstantiateModule(cctx, h.mod.compiled, cfg)
	if err != nil {
		inst.ctx.timer.Stop()
		inst.memory.free()
		msg := fmt.Sprintf("instantiate: %v", err)
		if tail := inst.output.tail(); tail != "" {
			msg += ": guest output: " + tail
		}
		if h.memCap < 8<<20 {
			msg += fmt.Sprintf(" (memory limit %d KiB may be too small: a Go guest needs about 4 MiB to start)", h.memCap>>10)
		}
		return nil, errors.New(msg)
	}
	inst.mod = mod
	inst.alloc = mod.ExportedFunction(exportAlloc)
	for _, p := range h.spec.Phases {
		inst.phases[p.index()] = mod.ExportedFunction(p.export())
	}
	h.rt.instances.Store(mod, inst)
	h.rt.live.Add(1)
	h.live.Add(1)
	inst.output.reset()
	return inst, nil
}

// discard closes an instance for good.
func (h *Hook) discard(inst *instance) {
	h.rt.instances.Delete(inst.mod)
	inst.ctx.timer.Stop()
	_ = inst.mod.Close(context.Background())
	// wazero frees the memory on Close, except when a timeout closed the
	// module first: then Close is a no-op, and only this frees it.
	inst.memory.free()
	h.rt.live.Add(-1)
	h.live.Add(-1)
}

// Name returns the hook's name.
func (h *Hook) Name() string { return h.name }

// Spec returns the spec the hook was loaded with, defaults filled in.
func (h *Hook) Spec() Spec { return h.spec }

// SHA256 returns the hex sha256 of the module, for status pages and for
// deciding whether a reload changed anything.
func (h *Hook) SHA256() string { return h.sha }

// Fail returns the hook's fail policy.
func (h *Hook) Fail() FailPolicy { return h.spec.Fail }

// Handles reports whether the hook runs in phase.
func (h *Hook) Handles(p Phase) bool { i := p.index(); return i >= 0 && h.handles[i] }

// NeedsBody reports whether the guest reads the body in phase; when false
// the engine may pass an Envelope without Body (the host drops it anyway).
func (h *Hook) NeedsBody(p Phase) bool { i := p.index(); return i >= 0 && !h.noBody[i] }

// enter registers an in-flight call; false once the hook is closing.
func (h *Hook) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.inflight++
	return true
}

// enterCall registers a call. Unlike enter it succeeds while a closing hook
// still has work in flight: that work may be a Retained request whose later
// phases must still run.
func (h *Hook) enterCall() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing && h.inflight == 0 {
		return false
	}
	h.inflight++
	return true
}

func (h *Hook) leave() {
	h.mu.Lock()
	h.inflight--
	last := h.closing && h.inflight == 0
	h.mu.Unlock()
	if last {
		h.finalize()
	}
}

// Retain pins the hook for a request that will call it in several phases
// (request, then response or chunks): a reload's CloseAsync then waits for
// the matching Release before freeing the pool. It returns false when the
// hook is already closing; take the newest hook from the current config
// instead. Calls need no Retain of their own.
func (h *Hook) Retain() bool { return h.enter() }

// Release ends a Retain.
func (h *Hook) Release() { h.leave() }

// Close stops new Retains, waits for in-flight ones to end, then closes every
// instance and drops the compiled module reference. Safe to call twice.
func (h *Hook) Close() {
	<-h.CloseAsync()
}

// CloseAsync is Close without the wait: the last in-flight call frees the
// pool on its way out (no goroutine is started). The returned channel is
// closed once everything is released. Use it when swapping in a reloaded
// hook on a request path.
func (h *Hook) CloseAsync() <-chan struct{} {
	h.mu.Lock()
	already := h.closing
	h.closing = true
	last := !already && h.inflight == 0
	h.mu.Unlock()
	if last {
		h.finalize()
	}
	return h.done
}

func (h *Hook) finalize() {
	for {
		select {
		case inst := <-h.idle:
			h.discard(inst)
		default:
			h.rt.releaseModule(h.mod)
			close(h.done)
			return
		}
	}
}

// Call runs the hook's handler for phase on in. A phase the hook does not
// handle returns continue at no cost. A non-nil error is a *CallError: the
// guest failed, timed out, or was unavailable, and the engine applies
// Fail(). Call never keeps references to in or its slices.
func (h *Hook) Call(ctx context.Context, phase Phase, in *Envelope) (Result, error) {
	pi := phase.index()
	if pi < 0 || !h.handles[pi] {
		return Result{Action: ActionContinue}, nil
	}
	if !h.enterCall() {
		return Result{}, h.failed(phase, KindClosed, ErrClosed)
	}
	defer h.leave()
	h.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return Result{}, h.failed(phase, KindCanceled, err)
	}
	inst, kind, err := h.acquire(ctx)
	if err != nil {
		return Result{}, h.failed(phase, kind, err)
	}
	if !h.rt.enterGuest() {
		h.release(inst, true)
		return Result{}, h.failed(phase, KindClosed, ErrClosed)
	}
	res, kind, err := h.invoke(ctx, inst, pi, phase, in)
	h.rt.leaveGuest()
	var output string
	if err != nil {
		// What the guest printed explains a panic or an OOM; it goes
		// into the failure's log line.
		output = inst.output.tail()
		inst.output.reset()
	}
	// too_large is refused before the guest runs: its instance is fine.
	h.release(inst, err != nil && kind != KindTooLarge)
	if err != nil {
		return Result{}, h.failedWithOutput(phase, kind, err, output)
	}
	if res.Changed() {
		h.changed.Add(1)
	}
	return res, nil
}

// acquire takes a call slot and an instance, creating one if none is idle.
func (h *Hook) acquire(ctx context.Context) (*instance, ErrorKind, error) {
	select {
	case h.sem <- struct{}{}:
	default:
		select {
		case h.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, KindBusy, fmt.Errorf("no free instance (max_instances %d): %w", cap(h.sem), ctx.Err())
		}
	}
	select {
	case inst := <-h.idle:
		return inst, "", nil
	default:
	}
	inst, err := h.newInstance(ctx)
	if err != nil {
		<-h.sem
		if errors.Is(err, ErrClosed) {
			return nil, KindClosed, err
		}
		return nil, KindInstantiate, err
	}
	return inst, "", nil
}

// release returns an instance to the pool, or discards it when the call
// failed (a trapped Go runtime can look healthy and be corrupt), when the
// module closed itself, or when its memory passed the recycle mark.
func (h *Hook) release(inst *instance, failed bool) {
	inst.logLines, inst.logDropped = 0, 0
	if inst.output.n > 0 {
		// A guest that prints on every call (debugging left in) gets a
		// line per interval, not per request.
		if ok, suppressed := h.outLog.allow(time.Now(), h.rt.logEvery); ok {
			h.rt.logger.Info("hook guest output", "hook", h.name, "output", inst.output.tail(),
				"suppressed", suppressed)
		}
		inst.output.reset()
	}
	switch {
	case failed || inst.spent || inst.mod.IsClosed():
		h.discard(inst)
	case inst.mod.Memory().Size() > h.recycle:
		h.recycled.Add(1)
		h.discard(inst)
	case h.isClosing():
		h.discard(inst)
	default:
		select {
		case h.idle <- inst:
		default:
			h.discard(inst)
		}
	}
	<-h.sem
}

func (h *Hook) isClosing() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closing
}

// invoke writes the envelope into the guest, calls the phase export under
// the timeout and decodes the output.
func (h *Hook) invoke(ctx context.Context, inst *instance, pi int, phase Phase, in *Envelope) (Result, ErrorKind, error) {
	inst.buf = appendEnvelope(inst.buf[:0], phase, in, h.config, !h.noBody[pi])
	n := uint32(len(inst.buf))
	if uint64(n) > uint64(h.memCap)/2 {
		inst.buf = nil
		return Result{}, KindTooLarge, fmt.Errorf("input of %d bytes exceeds half the memory limit (%d bytes)", n, h.memCap)
	}
	cctx := inst.ctx
	cctx.arm(ctx, h.timeout)
	if n > inst.inCap {
		// Ask for headroom so later, slightly larger inputs reuse the
		// buffer without another call into the guest.
		want := min(max(4096, (n+n/4+4095)&^4095), h.memCap/2)
		inst.stack[0] = uint64(want)
		if err := inst.alloc.CallWithStack(cctx, inst.stack[:]); err != nil {
			inst.spent = !cctx.disarm()
			return Result{}, h.classify(ctx, inst, err), fmt.Errorf("%s: %w", exportAlloc, err)
		}
		inst.inPtr, inst.inCap = uint32(inst.stack[0]), want
	}
	mem := inst.mod.Memory()
	if !mem.Write(inst.inPtr, inst.buf) {
		inst.spent = !cctx.disarm()
		return Result{}, KindBadOutput, fmt.Errorf("%s returned %#x, outside guest memory", exportAlloc, inst.inPtr)
	}
	if cap(inst.buf) > 1<<20 {
		inst.buf = nil // do not pin one huge body per instance
	}
	inst.stack[0] = uint64(n)
	err := inst.phases[pi].CallWithStack(cctx, inst.stack[:])
	inst.spent = !cctx.disarm()
	if err != nil {
		return Result{}, h.classify(ctx, inst, err), err
	}
	packed := inst.stack[0]
	size := uint32(packed)
	if size == 0 {
		return Result{Action: ActionContinue}, "", nil // the free path
	}
	out, ok := mem.Read(uint32(packed>>32), size)
	if !ok {
		return Result{}, KindBadOutput, fmt.Errorf("output %d bytes at %#x is outside guest memory", size, packed>>32)
	}
	res, err := decodeResult(out)
	if err != nil {
		var ge errGuest
		if errors.As(err, &ge) {
			return Result{}, KindGuestError, err
		}
		return Result{}, KindBadOutput, err
	}
	return res, "", nil
}

// classify names a failed call. Timeouts and cancellations show as exit
// errors from wazero's CloseOnContextDone; an out-of-memory Go guest
// traps after printing "out of memory" or having grown to the cap.
func (h *Hook) classify(ctx context.Context, inst *instance, err error) ErrorKind {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			if ctx.Err() != nil {
				return KindCanceled
			}
			return KindTimeout
		case sys.ExitCodeContextCanceled:
			return KindCanceled
		}
	}
	if strings.Contains(inst.output.tail(), "out of memory") {
		return KindOOM
	}
	if mem := inst.mod.Memory(); mem != nil && !inst.mod.IsClosed() && uint64(mem.Size())+4*pageSize >= uint64(h.memCap) {
		return KindOOM
	}
	return KindTrap
}

// failed records a failure and builds the CallError.
func (h *Hook) failed(phase Phase, kind ErrorKind, err error) error {
	return h.failedWithOutput(phase, kind, err, "")
}

// failedWithOutput is failed for a call that ran guest code: output is
// what the guest wrote to stdout/stderr during the call (capped).
func (h *Hook) failedWithOutput(phase Phase, kind ErrorKind, err error, output string) error {
	h.errs[kind.ordinal()].Add(1)
	ce := &CallError{Hook: h.name, Module: h.path, Phase: phase, Kind: kind, Err: err, Output: output}
	msg := ce.Error()
	now := time.Now()
	h.errMu.Lock()
	h.lastErr, h.lastErrAt = msg, now
	h.errMu.Unlock()
	// One line per hook per interval: a broken hook on a busy route must
	// not flood the log; Stats has the counts.
	if ok, suppressed := h.failLog.allow(now, h.rt.logEvery); ok {
		args := []any{"hook", h.name, "module", h.path, "phase", string(phase), "kind", string(kind),
			"fail", string(h.spec.Fail), "err", err}
		if output != "" {
			args = append(args, "guest_output", output)
		}
		if suppressed > 0 {
			args = append(args, "suppressed", suppressed)
		}
		h.rt.logger.Warn("hook call failed", args...)
	}
	return ce
}

// HookStats is a snapshot of a hook's counters for status pages.
type HookStats struct {
	Name      string
	Module    string
	SHA256    string
	Fail      FailPolicy
	Calls     uint64
	Changed   uint64 // calls whose result was not "continue unchanged"
	Errors    uint64
	ByKind    map[ErrorKind]uint64
	Instances int // live instances (idle or busy)
	Idle      int
	Recycled  uint64 // instances retired at the memory mark
	LastError string
	LastErrAt time.Time
}

// Stats returns the hook's counters.
func (h *Hook) Stats() HookStats {
	s := HookStats{
		Name: h.name, Module: h.path, SHA256: h.sha, Fail: h.spec.Fail,
		Calls: h.calls.Load(), Changed: h.changed.Load(), Recycled: h.recycled.Load(),
		Instances: int(h.live.Load()), Idle: len(h.idle), ByKind: map[ErrorKind]uint64{},
	}
	for i, k := range allKinds {
		if v := h.errs[i].Load(); v > 0 {
			s.ByKind[k] = v
			s.Errors += v
		}
	}
	h.errMu.Lock()
	s.LastError, s.LastErrAt = h.lastErr, h.lastErrAt
	h.errMu.Unlock()
	return s
}

// capWriter keeps the first bytes a guest writes to stdout/stderr during a
// call: enough to explain a panic or OOM, never unbounded.
type capWriter struct {
	buf [2048]byte
	n   int
}

func (w *capWriter) Write(p []byte) (int, error) {
	w.n += copy(w.buf[min(w.n, len(w.buf)):], p)
	return len(p), nil
}

func (w *capWriter) tail() string {
	return strings.TrimSpace(string(w.buf[:min(w.n, len(w.buf))]))
}

func (w *capWriter) reset() { w.n = 0 }
