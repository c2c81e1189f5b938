package main

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/balanceproxy/balance/hooks"
)

// world is what stays the same across every config the soak writes.
type world struct {
	dir         string // the config's directory, watched by balance
	listen      string
	mockURL     string
	dsn         string
	keys        []string // the mock's whole pool
	tokens      []string // client token secrets
	statusToken string
	hookPath    string // the module the hook block points to
}

func (w *world) configPath() string { return filepath.Join(w.dir, "balance.hcl") }

// variant is one config: a good one varies keys and limits; a broken
// one has one mistake balance must refuse while the old config serves.
type variant struct {
	revision   int
	keys       []string
	strategy   string
	maxRetries int
	rpm        int
	broken     string // "" for a good config, else which mistake
}

// brokenKinds are the mistakes the soak makes in its config, in turn.
var brokenKinds = []string{"syntax", "unknown pool", "missing hook module", "bad duration", "no keys"}

var strategies = []string{"round_robin", "random", "least_recently_used"}

// goodVariant picks a random subset (at least 8) of the keys and limits.
func goodVariant(rev int, keys []string) variant {
	perm := rand.Perm(len(keys))
	n := 8 + rand.IntN(len(keys)-7)
	v := variant{revision: rev, strategy: strategies[rand.IntN(len(strategies))],
		maxRetries: 2 + rand.IntN(3), rpm: []int{0, 0, 6000, 600}[rand.IntN(4)]}
	for _, i := range perm[:n] {
		v.keys = append(v.keys, keys[i])
	}
	return v
}

// render writes the HCL of a variant.
func (w *world) render(v variant) []byte {
	keys := v.keys
	timeout := "4s"
	pools := `["main"]`
	module := w.hookPath
	switch v.broken {
	case "no keys":
		keys = nil
	case "bad duration":
		timeout = "soon"
	case "unknown pool":
		pools = `["main", "mian"]`
	case "missing hook module":
		module = filepath.Join(w.dir, "hooks", "missing.wasm")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# written by the soak, revision %d (%s)\n", v.revision, cmp.Or(v.broken, "good"))
	fmt.Fprintf(&b, `server {
  listen              = %q
  data_dir            = %q
  shutdown_grace      = "5s"
  stream_idle_timeout = "5s"
  log_requests        = true
}

upstream "mock" {
  base_url = %q
  timeout  = %q
}

pool "main" {
  upstream    = "mock"
  strategy    = %q
  max_retries = %d
  keys = [
`, w.listen, filepath.Join(w.dir, "data"), w.mockURL, timeout, v.strategy, v.maxRetries)
	for _, k := range keys {
		fmt.Fprintf(&b, "    %q,\n", k)
	}
	fmt.Fprintf(&b, `  ]
  cooldown {
    base = "2s"
    max  = "20s"
  }
  probe {
    interval = "5s"
    max      = "20s"
  }
  limits {
    rpm = %d
  }
}
`, v.rpm)
	for i, t := range w.tokens {
		fmt.Fprintf(&b, "\ntoken \"client%d\" {\n  secret = %q\n  pools  = %s\n}\n", i, t, pools)
	}
	fmt.Fprintf(&b, `
hook "swapped" {
  module  = %q
  phases  = ["request"]
  timeout = "1s"
  fail    = "open"
  config  = { mode = "headers", prompt = "Answer briefly." }
}

store {
  driver = "mysql"
  dsn    = %q
}

status {
  path  = "/status"
  token = %q
}

metrics {
  path = "/metrics"
}
`, module, w.dsn, w.statusToken)
	out := b.String()
	if v.broken == "syntax" {
		out = strings.TrimRight(out, "}\n") // the metrics block loses its brace
	}
	return []byte(out)
}

// writeAtomically replaces path as editors and ConfigMaps do: a new
// file renamed over the old one.
func writeAtomically(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// hookModules builds the two guests the hook block alternates between:
// the test guest that sets headers and the example that adds a system
// prompt. Both leave the user's text alone, so answers stay checkable.
func hookModules(repo, dir string) ([2][]byte, error) {
	var mods [2][]byte
	for i, src := range []string{"testdata/hooks/actions", "examples/hooks/sysprompt"} {
		out := filepath.Join(dir, fmt.Sprintf("guest%d.wasm", i))
		if err := hooks.BuildGuest(filepath.Join(repo, src), out); err != nil {
			return mods, fmt.Errorf("build hook guest %s: %w", src, err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			return mods, err
		}
		mods[i] = b
	}
	return mods, nil
}

// reloadStats counts what the config rewriter did and what balance made
// of it.
type reloadStats struct {
	GoodApplied, GoodMissed     int
	BrokenRefused, BrokenMissed int
	HookSwaps, HookSwapsMissed  int
	Failures                    []string
}

// rewriter rewrites the config (and swaps the hook module) while the soak
// runs, and checks in status that each change was applied or refused.
type rewriter struct {
	w       *world
	bal     *balanceProc
	modules [2][]byte
	hookIdx int
	rev     int
	broken  bool // the file on disk is a broken config
	brokenN int  // broken configs written, to take each mistake in turn
	stats   reloadStats
}

func (r *rewriter) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.step(ctx)
		}
	}
}

func (r *rewriter) fail(format string, args ...any) {
	r.stats.Failures = append(r.stats.Failures, fmt.Sprintf(format, args...))
}

// step makes one change: every fourth a hook swap, otherwise a config
// that is broken one time in five. A broken config is always followed by
// a good one: while the file on disk is broken, a swapped hook module
// would (rightly) be refused with it. A check cut short by the end of
// the run counts neither way.
func (r *rewriter) step(ctx context.Context) {
	before, err := r.bal.status(ctx)
	if err != nil {
		return // balance busy or shutting down; try next tick
	}
	r.rev++
	at := time.Now()
	wasBroken := r.broken
	r.broken = false
	switch {
	case r.rev%4 == 0 && !wasBroken:
		r.hookIdx = 1 - r.hookIdx
		if err := writeAtomically(r.w.hookPath, r.modules[r.hookIdx]); err != nil {
			r.fail("swap hook module: %v", err)
			return
		}
		switch r.waitGeneration(ctx, before.Generation) {
		case reactionYes:
			r.stats.HookSwaps++
		case reactionNo:
			r.stats.HookSwapsMissed++
			r.fail("hook swap at %s (revision %d) never reloaded", at.Format("15:04:05"), r.rev)
		}
	case rand.IntN(5) == 0 && !wasBroken:
		r.broken = true
		v := goodVariant(r.rev, r.w.keys)
		v.broken = brokenKinds[r.brokenN%len(brokenKinds)]
		r.brokenN++
		if err := writeAtomically(r.w.configPath(), r.w.render(v)); err != nil {
			r.fail("write config: %v", err)
			return
		}
		switch r.waitRefused(ctx, before.Generation, at) {
		case reactionYes:
			r.stats.BrokenRefused++
		case reactionNo:
			r.stats.BrokenMissed++
			r.fail("broken config %q (revision %d) was not refused with the old one kept", v.broken, r.rev)
		}
	default:
		if err := writeAtomically(r.w.configPath(), r.w.render(goodVariant(r.rev, r.w.keys))); err != nil {
			r.fail("write config: %v", err)
			return
		}
		switch r.waitGeneration(ctx, before.Generation) {
		case reactionYes:
			r.stats.GoodApplied++
		case reactionNo:
			r.stats.GoodMissed++
			r.fail("good config revision %d written at %s was never applied", r.rev, at.Format("15:04:05"))
		}
	}
}

// reaction is the result of waiting for balance to react to a change.
type reaction int

const (
	reactionNo reaction = iota
	reactionYes
	reactionInterrupted // the run ended first
)

func (r *rewriter) settle(ctx context.Context, check func(*statusDoc) (done, ok bool)) reaction {
	deadline := time.Now().Add(reloadWait)
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return reactionInterrupted
		}
		if st, err := r.bal.status(ctx); err == nil {
			if done, ok := check(st); done {
				if ok {
					return reactionYes
				}
				return reactionNo
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return reactionNo
}

// reloadWait bounds how long a change may take to show in status: the
// watcher debounces 200 ms; a loaded machine and a hook compile add more.
const reloadWait = 10 * time.Second

func (r *rewriter) waitGeneration(ctx context.Context, gen uint64) reaction {
	return r.settle(ctx, func(st *statusDoc) (bool, bool) { return st.Generation > gen, true })
}

// waitRefused waits for a rejected reload newer than at, with the
// generation unchanged.
func (r *rewriter) waitRefused(ctx context.Context, gen uint64, at time.Time) reaction {
	return r.settle(ctx, func(st *statusDoc) (bool, bool) {
		if st.Generation != gen {
			return true, false
		}
		for _, rl := range st.Reloads {
			if rl.Error != "" && !rl.Time.Before(at.Add(-time.Second)) {
				return true, true
			}
		}
		return false, false
	})
}
