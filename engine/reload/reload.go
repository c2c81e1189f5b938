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
// watching, so the next save that fixes the file is applied. Content with
// the same hash as the live config is skipped.
package reload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/balanceproxy/balance/hcl"
)

// Target is what a reload changes: *engine.Server implements it.
type Target interface {
	// Apply makes cfg live; it skips a cfg whose hash is already live.
	Apply(cfg *hcl.Config) error
	// RejectReload records a config that failed to load or apply.
	RejectReload(err error)
}

// DefaultDebounce is how long the watcher waits after the last event of
// a burst before it reloads.
const DefaultDebounce = 200 * time.Millisecond

// Options configure a Reloader.
type Options struct {
	// Path is the config file.
	Path string
	// Current is the config already live; its hash and files seed the
	// watcher. Nil means nothing is known and the first event reloads.
	Current *hcl.Config
	// Load reads and validates the config; hcl.Load when nil. serve uses
	// it to re-apply command-line overrides such as -listen.
	Load func(path string) (*hcl.Config, error)
	// Debounce overrides DefaultDebounce.
	Debounce time.Duration
	// Poll, when positive, also reloads on this interval. The hash check
	// makes that cheap when nothing changed; it is a fallback for file
	// systems without inotify (some network mounts).
	Poll   time.Duration
	Logger *slog.Logger
}

// Stats count what the reloader did, for tests and status.
type Stats struct {
	// Applied counts configs that became live.
	Applied uint64
	// Rejected counts configs that failed to load or apply.
	Rejected uint64
	// Unchanged counts reloads skipped because the hash was live.
	Unchanged uint64
	// Hash is the last applied config's hash.
	Hash string
	// LastError is the last rejection, "" after a successful apply.
	LastError string
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

	mu    sync.Mutex
	stats Stats
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
		r.stats.Hash = opts.Current.Hash
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

// Stats returns a copy of the counters.
func (r *Reloader) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
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

// Reload loads the config once and applies it if it is valid and new. It
// reports whether a new generation went live. Run calls it; tests and
// callers that need a synchronous reload may too.
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
		r.reject(err)
		return false
	}
	r.watch(cfg.Files)
	r.mu.Lock()
	same := cfg.Hash == r.stats.Hash
	r.mu.Unlock()
	if same {
		r.mu.Lock()
		r.stats.Unchanged++
		r.stats.LastError = ""
		r.mu.Unlock()
		r.log.Debug("config unchanged", "hash", short(cfg.Hash))
		return false
	}
	for _, w := range cfg.Warnings {
		r.log.Warn("config warning", "diagnostic", w)
	}
	if err := r.target.Apply(cfg); err != nil {
		r.reject(fmt.Errorf("apply config: %w", err))
		return false
	}
	r.mu.Lock()
	r.stats.Applied++
	r.stats.Hash = cfg.Hash
	r.stats.LastError = ""
	r.mu.Unlock()
	r.unwatchStale(cfg.Files)
	r.log.Debug("reload done", "took", time.Since(start).String())
	return true
}

func (r *Reloader) reject(err error) {
	r.mu.Lock()
	r.stats.Rejected++
	r.stats.LastError = err.Error()
	r.mu.Unlock()
	r.target.RejectReload(err)
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
	out := make([]string, 0, len(r.dirs))
	for d := range r.dirs {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
