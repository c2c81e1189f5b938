// Package reload applies balance.hcl again whenever it, or a file it
// reads, changes on disk, and on demand (SIGHUP).
//
// It watches directories, not files: editors save by writing a temp file
// and renaming it over the target, and Kubernetes updates a mounted
// ConfigMap by flipping the `..data` symlink, and both replace the inode
// a per-file watch would be holding. Events are filtered by name and
// debounced (200 ms by default), so a burst of writes is one reload.
//
// A reload parses and validates the whole file first. A file that fails
// changes nothing: the target records the diagnostics (Server.RejectReload)
// and keeps serving the previous generation, and the watcher keeps
// watching, so the next save that fixes the file is applied. A valid file
// goes to the target's Apply, which alone skips content with the live
// hash and records what became of the rest; the reloader records nothing.
package reload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/balanceproxy/balance/hcl"
)

// Target is what a reload changes: *engine.Server implements it. The
// target owns the outcome of every reload: each reload makes exactly one
// call, and that call records it.
type Target interface {
	// Apply makes a loaded, valid cfg live unless its hash already is. It
	// records the outcome itself (applied, unchanged, or rejected when
	// cfg cannot be built) and reports whether a new generation went live.
	Apply(cfg *hcl.Config) (applied bool, err error)
	// RejectReload records a config that failed to load or validate.
	RejectReload(err error)
}

// DefaultDebounce is how long the watcher waits after the last event of
// a burst before it reloads.
const DefaultDebounce = 200 * time.Millisecond

// Options configure a Reloader.
type Options struct {
	// Path is the config file.
	Path string
	// Current is the config already live; its files seed the watcher.
	// Nil means only Path is watched until the first reload.
	Current *hcl.Config
	// Load reads and validates the config; hcl.Load when nil. serve uses
	// it to re-apply command-line overrides such as -listen.
	Load func(path string) (*hcl.Config, error)
	// Debounce overrides DefaultDebounce.
	Debounce time.Duration
	// Poll, when positive, also reloads on this interval. The target's
	// hash check makes that cheap when nothing changed; it is a fallback
	// for file systems without inotify (some network mounts).
	Poll   time.Duration
	Logger *slog.Logger
}

// Reloader watches a config and applies it to a Target. Create it with
// New, run it with Run; it owns its fsnotify watcher and closes it when
// Run returns.
type Reloader struct {
	target   Target
	path     string
	load     func(string) (*hcl.Config, error)
	debounce time.Duration
	poll     time.Duration
	log      *slog.Logger
	watcher  *fsnotify.Watcher
	trigger  chan struct{}

	dirsMu sync.Mutex
	dirs   map[string]map[string]bool // watched dir -> base names of interest

	// reloadMu serialises Reload calls from Run and from tests.
	reloadMu sync.Mutex
}

// New creates a reloader and starts watching the config's directory and
// the directories of every file the current config read.
func New(target Target, opts Options) (*Reloader, error) {
	if opts.Path == "" {
		return nil, errors.New("reload: no config path")
	}
	abs, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("reload: %w", err)
	}
	if opts.Load == nil {
		opts.Load = hcl.Load
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("reload: start watcher: %w", err)
	}
	r := &Reloader{
		target: target, path: abs, load: opts.Load, debounce: opts.Debounce, poll: opts.Poll,
		log: opts.Logger.With("component", "reload"), watcher: w, trigger: make(chan struct{}, 1),
		dirs: map[string]map[string]bool{},
	}
	files := []string{abs}
	if opts.Current != nil {
		files = append(files, opts.Current.Files...)
	}
	r.watch(files)
	if !slices.Contains(r.Watched(), filepath.Dir(abs)) {
		_ = w.Close()
		return nil, fmt.Errorf("reload: cannot watch %s", filepath.Dir(abs))
	}
	return r, nil
}

// Trigger asks for a reload now, as SIGHUP does. It never blocks; calls
// made while one is pending collapse into one.
func (r *Reloader) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Close releases the file watcher. Run calls it on return; a caller that
// never runs Run (reloads only on SIGHUP) calls it itself.
func (r *Reloader) Close() error { return r.watcher.Close() }

// Run watches until ctx ends, then closes the watcher. It never stops on a
// bad config; it returns only ctx's error.
func (r *Reloader) Run(ctx context.Context) error {
	defer r.Close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var pollC <-chan time.Time
	if r.poll > 0 {
		t := time.NewTicker(r.poll)
		defer t.Stop()
		pollC = t.C
	}
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case ev, ok := <-r.watcher.Events:
			if !ok {
				return errors.New("reload: watcher closed")
			}
			if r.relevant(ev) {
				r.log.Debug("config file event", "file", ev.Name, "op", ev.Op.String())
				timer.Reset(r.debounce)
			}
		case err, ok := <-r.watcher.Errors:
			if !ok {
				return errors.New("reload: watcher closed")
			}
			// Overflow and friends: reload to be sure nothing was missed.
			r.log.Warn("file watcher error; reloading to be safe", "error", err)
			timer.Reset(r.debounce)
		case <-r.trigger:
			timer.Stop()
			r.Reload()
		case <-timer.C:
			r.Reload()
		case <-pollC:
			r.Reload()
		}
	}
}

// relevant reports whether an event touches a file the config depends
// on. Names starting with ".." are Kubernetes' atomic-writer internals
// (`..data`, `..2024_01_01_...`): a ConfigMap update renames them.
func (r *Reloader) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	r.dirsMu.Lock()
	defer r.dirsMu.Unlock()
	names, ok := r.dirs[filepath.Dir(ev.Name)]
	if !ok {
		return false
	}
	base := filepath.Base(ev.Name)
	return names[base] || strings.HasPrefix(base, "..")
}

// Reload loads the config once and hands the result to the target: a
// config that fails to load to RejectReload, a valid one to Apply, which
// skips it if its hash is live. It reports whether a new generation went
// live. Run calls it; tests and callers that need a synchronous reload
// may too.
func (r *Reloader) Reload() bool {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	start := time.Now()
	cfg, err := r.load(r.path)
	if err != nil {
		var de *hcl.Error
		if errors.As(err, &de) {
			// Watch what the broken config wanted to read, so creating
			// a missing keys file is noticed.
			r.watch(de.Files)
		}
		r.target.RejectReload(err)
		return false
	}
	r.watch(cfg.Files)
	// Apply records its outcome, a rejection included; only the watch
	// set and the new config's warnings are left here.
	if applied, err := r.target.Apply(cfg); err != nil || !applied {
		return false
	}
	for _, w := range cfg.Warnings {
		r.log.Warn("config warning", "diagnostic", w)
	}
	r.unwatchStale(cfg.Files)
	r.log.Debug("reload done", "took", time.Since(start).String())
	return true
}

// watch adds the directories of files to the watch set. A directory that
// does not exist yet is skipped and retried on the next reload.
func (r *Reloader) watch(files []string) {
	r.dirsMu.Lock()
	defer r.dirsMu.Unlock()
	for _, f := range files {
		dir, base := filepath.Dir(f), filepath.Base(f)
		names, ok := r.dirs[dir]
		if !ok {
			if err := r.watcher.Add(dir); err != nil {
				r.log.Debug("cannot watch directory yet", "dir", dir, "error", err)
				continue
			}
			names = map[string]bool{}
			r.dirs[dir] = names
		}
		names[base] = true
	}
}

// unwatchStale stops watching directories no file of the live config
// lives in any more; the config's own directory always stays.
func (r *Reloader) unwatchStale(files []string) {
	keep := map[string]map[string]bool{filepath.Dir(r.path): {filepath.Base(r.path): true}}
	for _, f := range files {
		d := filepath.Dir(f)
		if keep[d] == nil {
			keep[d] = map[string]bool{}
		}
		keep[d][filepath.Base(f)] = true
	}
	r.dirsMu.Lock()
	defer r.dirsMu.Unlock()
	for dir := range r.dirs {
		if names, ok := keep[dir]; ok {
			r.dirs[dir] = names
			continue
		}
		_ = r.watcher.Remove(dir)
		delete(r.dirs, dir)
	}
}

// Watched lists the watched directories, sorted, for logs and tests.
func (r *Reloader) Watched() []string {
	r.dirsMu.Lock()
	defer r.dirsMu.Unlock()
	return slices.Sorted(maps.Keys(r.dirs))
}
