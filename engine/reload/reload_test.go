package reload_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balanceproxy/balance/engine/reload"
	"github.com/balanceproxy/balance/hcl"
)

var (
	keysA = []string{"reload-key-a1", "reload-key-a2"}
	keysB = []string{"reload-key-a2", "reload-key-b3"} // a1 removed, b3 added
)

func staticConfig(keys []string) func(string) string {
	return func(u string) string { return configFor(u, keys, "") }
}

// TestReloadWrites covers the ways tools write a file: each must produce
// exactly one new generation, stop using the removed key and start using
// the added one.
func TestReloadWrites(t *testing.T) {
	cases := []struct {
		name  string
		write func(t testing.TB, f *fixture, content string)
	}{
		{"atomic rename", func(t testing.TB, f *fixture, c string) { writeAtomic(t, f.path, c) }},
		{"truncate then write", func(t testing.TB, f *fixture, c string) {
			// Truncate, pause (an editor flushing), then write in two
			// pieces: the debounce must fold this into one reload, and
			// an empty file must never be applied.
			fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			time.Sleep(20 * time.Millisecond)
			half := len(c) / 2
			if _, err := fh.WriteString(c[:half]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			if _, err := fh.WriteString(c[half:]); err != nil {
				t.Fatal(err)
			}
		}},
		{"in place write", func(t testing.TB, f *fixture, c string) { writeFile(t, f.path, c) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, staticConfig(keysA), fixtureOpts{})
			f.assertKeysUsed(keysA, nil)
			tc.write(t, f, configFor(f.mock.URL(), keysB, ""))
			f.waitGeneration(2)
			f.settle(2, 100*time.Millisecond)
			f.assertKeysUsed(keysB, []string{"reload-key-a1"})
			if c := f.counts(); c.applied != 1 || c.rejected != 0 {
				t.Errorf("reloads %+v: want 1 applied, 0 rejected", c)
			}
			if _, gen, _ := f.do(); gen != "2" {
				t.Errorf("X-Balance-Generation = %q, want 2", gen)
			}
		})
	}
}

// TestReloadConfigMapSymlinkSwap reproduces how the kubelet updates a
// mounted ConfigMap: files live in a timestamped dir, `..data` points at
// it, and the visible names are symlinks through `..data`. An update
// writes a new dir and renames a new `..data` link over the old one.
func TestReloadConfigMapSymlinkSwap(t *testing.T) {
	version := 0
	publish := func(t testing.TB, dir, content string) {
		version++
		ts := filepath.Join(dir, "..2026_01_0"+string(rune('0'+version)))
		if err := os.Mkdir(ts, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(ts, "balance.hcl"), content)
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	layout := func(t testing.TB, dir, content string) string {
		publish(t, dir, content)
		link := filepath.Join(dir, "balance.hcl")
		if err := os.Symlink(filepath.Join("..data", "balance.hcl"), link); err != nil {
			t.Fatal(err)
		}
		return link
	}
	f := newFixture(t, staticConfig(keysA), fixtureOpts{layout: layout})
	publish(t, f.dir, configFor(f.mock.URL(), keysB, ""))
	f.waitGeneration(2)
	f.assertKeysUsed(keysB, []string{"reload-key-a1"})
	publish(t, f.dir, configFor(f.mock.URL(), keysA, ""))
	f.waitGeneration(3)
	f.assertKeysUsed(keysA, []string{"reload-key-b3"})
}

// TestReloadRapidWrites: a burst of saves is one reload, of the last
// content.
func TestReloadRapidWrites(t *testing.T) {
	f := newFixture(t, staticConfig(keysA), fixtureOpts{debounce: 150 * time.Millisecond})
	var last []string
	for i := 0; i < 15; i++ {
		last = []string{"burst-key-" + string(rune('a'+i))}
		writeAtomic(t, f.path, configFor(f.mock.URL(), last, ""))
		time.Sleep(10 * time.Millisecond)
	}
	f.waitGeneration(2)
	f.settle(2, 150*time.Millisecond)
	f.assertKeysUsed(last, append([]string{"burst-key-a"}, keysA...))
	if c := f.counts(); c.applied != 1 {
		t.Errorf("applied %d configs for one burst, want 1", c.applied)
	}
}

// TestReloadInvalidThenFixed: a broken file changes nothing and is
// recorded; the watcher keeps watching and applies the fix.
// A broken save then reverted to the live config (same hash, so nothing
// to apply) ends the "config rejected" alert: the rejection is history.
func TestRevertedBrokenConfigIsHistory(t *testing.T) {
	f := newFixture(t, staticConfig(keysA), fixtureOpts{})
	live, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	writeAtomic(t, f.path, strings.Replace(string(live), "pools  =", "pols =", 1))
	f.waitCounts("a rejection", func(c reloadCounts) bool { return c.rejected == 1 })
	if f.lastReloadError() == nil {
		t.Fatal("the rejection is not shown")
	}
	writeAtomic(t, f.path, string(live))
	f.waitCounts("an unchanged reload", func(c reloadCounts) bool { return c.unchanged >= 1 })
	if last := f.lastReloadError(); last != nil {
		t.Fatalf("after the revert the rejection is still the current alert: %+v", last)
	}
	if g := f.generation(); g != 1 {
		t.Fatalf("generation %d: a revert to the live config applies nothing", g)
	}
	// More unchanged reloads (polling) add nothing more to the history.
	n := len(f.reloads())
	f.rl.Trigger()
	f.waitCounts("a second unchanged reload", func(c reloadCounts) bool { return c.unchanged >= 2 })
	if len(f.reloads()) != n {
		t.Fatalf("an unchanged reload after a good one added history: %+v", f.reloads())
	}
}

func TestReloadInvalidThenFixed(t *testing.T) {
	f := newFixture(t, staticConfig(keysA), fixtureOpts{})
	broken := strings.Replace(configFor(f.mock.URL(), keysB, ""), "pools  =", "pols =", 1)
	writeAtomic(t, f.path, broken)
	f.waitCounts("a rejection", func(c reloadCounts) bool { return c.rejected == 1 })
	if last := f.lastReloadError(); last == nil || !strings.Contains(last.Error, `Did you mean "pools"?`) {
		t.Errorf("last reload error = %+v, want the diagnostic", last)
	}
	if g := f.generation(); g != 1 {
		t.Fatalf("generation %d after a bad file, want 1", g)
	}
	f.assertKeysUsed(keysA, []string{"reload-key-b3"})

	// An empty file (a crashed editor) is rejected too, never applied.
	writeFile(t, f.path, "")
	f.waitCounts("a second rejection", func(c reloadCounts) bool { return c.rejected == 2 })
	f.assertKeysUsed(keysA, nil)

	writeAtomic(t, f.path, configFor(f.mock.URL(), keysB, ""))
	f.waitGeneration(2)
	f.assertKeysUsed(keysB, []string{"reload-key-a1"})
	if last := f.lastReloadError(); last != nil {
		t.Errorf("last reload error = %+v after a good reload", last)
	}
}

// TestReloadKeysFileOnly: editing only a keys file in another directory
// reloads; so does creating a keys file a rejected config was missing.
func TestReloadKeysFileOnly(t *testing.T) {
	var keysPath string
	layout := func(t testing.TB, dir, content string) string {
		if err := os.Mkdir(filepath.Join(dir, "secrets"), 0o755); err != nil {
			t.Fatal(err)
		}
		keysPath = filepath.Join(dir, "secrets", "keys.txt")
		writeFile(t, keysPath, "reload-key-a1\nreload-key-a2\n")
		p := filepath.Join(dir, "balance.hcl")
		writeFile(t, p, content)
		return p
	}
	withFile := func(file string) func(string) string {
		return func(u string) string {
			return configFor(u, nil, `keys_file    = "`+file+`"
  keys_pattern = "reload-key-[a-z0-9]+"`)
		}
	}
	f := newFixture(t, withFile("secrets/keys.txt"), fixtureOpts{layout: layout})
	f.assertKeysUsed(keysA, nil)

	writeAtomic(t, keysPath, "reload-key-a2\nreload-key-b3\n")
	f.waitGeneration(2)
	f.assertKeysUsed(keysB, []string{"reload-key-a1"})

	// Point at a file that does not exist yet: rejected, then applied as
	// soon as the file appears, without touching the config again.
	writeAtomic(t, f.path, withFile("later/more.txt")(f.mock.URL()))
	f.waitCounts("a rejection", func(c reloadCounts) bool { return c.rejected == 1 })
	if err := os.Mkdir(filepath.Join(f.dir, "later"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The directory did not exist when the config was rejected, so it
	// is watched only after the next event; SIGHUP covers that gap.
	writeFile(t, filepath.Join(f.dir, "later", "more.txt"), "reload-key-c4\n")
	f.rl.Trigger()
	f.waitGeneration(3)
	f.assertKeysUsed([]string{"reload-key-c4"}, keysB)
}

// TestReloadMissingFileInWatchedDir: when the missing file's directory
// exists, creating the file alone triggers the reload.
func TestReloadMissingFileInWatchedDir(t *testing.T) {
	f := newFixture(t, staticConfig(keysA), fixtureOpts{})
	if err := os.Mkdir(filepath.Join(f.dir, "k"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeAtomic(t, f.path, configFor(f.mock.URL(), nil, `keys_file = "k/keys.txt"
  keys_pattern = "[a-z0-9-]+"`))
	f.waitCounts("a rejection", func(c reloadCounts) bool { return c.rejected == 1 })
	writeAtomic(t, filepath.Join(f.dir, "k", "keys.txt"), "late-key-1\n")
	f.waitGeneration(2)
	f.assertKeysUsed([]string{"late-key-1"}, keysA)
}

// TestReloadUnchangedAndUnrelated: rewriting identical content and
// touching unrelated files in the directory do not bump the generation.
func TestReloadUnchangedAndUnrelated(t *testing.T) {
	f := newFixture(t, staticConfig(keysA), fixtureOpts{})
	writeAtomic(t, f.path, configFor(f.mock.URL(), keysA, ""))
	f.waitCounts("an unchanged reload", func(c reloadCounts) bool { return c.unchanged == 1 })
	writeFile(t, filepath.Join(f.dir, "balance.db"), "not config")
	writeFile(t, filepath.Join(f.dir, "balance.hcl~"), "backup")
	f.settle(1, 100*time.Millisecond)
	if c := f.counts(); c.unchanged != 1 || c.applied != 0 || c.rejected != 0 {
		t.Errorf("reloads %+v: unrelated files caused reloads", c)
	}
	if n := len(f.reloads()); n != 1 {
		t.Errorf("%d history events, want only the initial load", n)
	}
}

// TestReloadTrigger: SIGHUP's path reloads at once, without waiting for
// the debounce, even with no file event at all.
func TestReloadTrigger(t *testing.T) {
	f := newFixture(t, staticConfig(keysA), fixtureOpts{debounce: time.Hour})
	writeAtomic(t, f.path, configFor(f.mock.URL(), keysB, ""))
	f.rl.Trigger()
	f.waitGeneration(2)
	f.assertKeysUsed(keysB, []string{"reload-key-a1"})
}

// TestRequestsDuringReloads: requests running while the config flips
// between two key sets never fail, and every generation serves.
func TestRequestsDuringReloads(t *testing.T) {
	f := newFixture(t, staticConfig(keysA), fixtureOpts{debounce: 20 * time.Millisecond})
	stop := make(chan struct{})
	l := startLoad(f, 8, stop)
	const reloads = 20
	for i := 0; i < reloads; i++ {
		keys := keysA
		if i%2 == 0 {
			keys = keysB
		}
		writeAtomic(t, f.path, configFor(f.mock.URL(), keys, ""))
		f.waitGeneration(uint64(i + 2))
	}
	close(stop)
	l.wait()
	if len(l.failures) > 0 {
		t.Fatalf("%d of %d requests failed during reloads, first: %s", len(l.failures), len(l.latencies), l.failures[0])
	}
	if len(l.gens) < 3 {
		t.Errorf("requests saw generations %v; want several", l.gens)
	}
	t.Logf("%d requests across %d reloads, none failed", len(l.latencies), reloads)
}

// TestRunStopsWithContext: Run returns promptly when its context ends.
func TestRunStopsWithContext(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "balance.hcl")
	writeFile(t, path, "")
	rl, err := reload.New(nopTarget{}, reload.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rl.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := reload.New(nopTarget{}, reload.Options{Path: filepath.Join(dir, "missing-dir", "b.hcl")}); err == nil {
		t.Error("New accepted a config in a directory that does not exist")
	}
}

type nopTarget struct{}

func (nopTarget) Apply(*hcl.Config) (bool, error) { return false, nil }
func (nopTarget) RejectReload(error)              {}

// TestReloadOutcomesRecordedOnce: each reload is recorded exactly once, in
// the status history and in balance_config_reloads_total, whether it fails
// to load, fails in Apply (a hook module that passes validation but does
// not compile), finds the live hash or goes live.
func TestReloadOutcomesRecordedOnce(t *testing.T) {
	f := newFixture(t, staticConfig(keysA), fixtureOpts{noRun: true})
	history := func() int { return len(f.reloads()) }
	check := func(step string, want reloadCounts, events int) {
		t.Helper()
		if c := f.counts(); c != want {
			t.Errorf("%s: reloads %+v, want %+v", step, c, want)
		}
		if n := history(); n != events {
			t.Errorf("%s: %d history events, want %d: %+v", step, n, events, f.reloads())
		}
	}
	check("start", reloadCounts{}, 1)

	// The WebAssembly magic bytes pass validation; the rest does not
	// compile, so the reload fails in Apply.
	writeFile(t, filepath.Join(f.dir, "bad.wasm"), "\x00asm\x01\x00\x00\x00\xff\xff\xff")
	writeFile(t, f.path, configFor(f.mock.URL(), keysB, "")+"hook \"bad\" {\n  module = \"bad.wasm\"\n}\n")
	if f.rl.Reload() {
		t.Fatal("a hook that does not compile went live")
	}
	check("apply error", reloadCounts{rejected: 1}, 2)
	if errs := f.rejections(); len(errs) != 1 || !strings.Contains(errs[0], "bad") {
		t.Errorf("rejections %q, want one naming the hook", errs)
	}

	// A file that fails validation.
	writeFile(t, f.path, strings.Replace(configFor(f.mock.URL(), keysB, ""), "pools  =", "pols =", 1))
	if f.rl.Reload() {
		t.Fatal("an invalid file went live")
	}
	check("validation error", reloadCounts{rejected: 2}, 3)

	// The live config again: skipped and counted; after rejections it adds
	// one history event that ends the "config rejected" alert.
	writeFile(t, f.path, configFor(f.mock.URL(), keysA, ""))
	if f.rl.Reload() {
		t.Fatal("the live config was applied again")
	}
	check("unchanged", reloadCounts{rejected: 2, unchanged: 1}, 4)
	if f.rl.Reload() {
		t.Fatal("the live config was applied again")
	}
	check("unchanged again", reloadCounts{rejected: 2, unchanged: 2}, 4)

	writeFile(t, f.path, configFor(f.mock.URL(), keysB, ""))
	if !f.rl.Reload() {
		t.Fatalf("a good config was not applied: %q", f.rejections())
	}
	check("applied", reloadCounts{applied: 1, rejected: 2, unchanged: 2}, 5)
	if g := f.generation(); g != 2 {
		t.Errorf("generation %d, want 2", g)
	}
}
