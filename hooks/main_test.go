package hooks

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// guests maps a test guest name (a dir under testdata/hooks) to its built
// module, filled by TestMain.
var guests = map[string]string{}

// compiledCache keeps wazero's compiled code across test runs, so only the
// first run pays the 1–2 s compile per module.
var compiledCache string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	out, err := os.MkdirTemp("", "balance-hooks-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(out)
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	compiledCache = filepath.Join(base, "balance", "hooks-test-compiled")
	b := &Builder{CacheDir: filepath.Join(base, "balance", "hooks")}
	dirs, _ := filepath.Glob("../testdata/hooks/*")
	examples, _ := filepath.Glob("../examples/hooks/*")
	for _, dir := range append(dirs, examples...) {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		name := filepath.Base(dir)
		if strings.Contains(dir, "examples") {
			name = "example-" + name
		}
		wasm := filepath.Join(out, name+".wasm")
		// The first wasip1 build of the standard library takes ~20 s;
		// later runs hit the Builder cache.
		if _, err := b.Build(context.Background(), dir, wasm); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		guests[name] = wasm
	}
	return m.Run()
}

// newTestRuntime returns a runtime that logs into the test and is closed
// at the end of it.
func newTestRuntime(t testing.TB) *Runtime {
	t.Helper()
	rt, err := NewRuntime(context.Background(), RuntimeOptions{
		CacheDir: compiledCache,
		Logger:   slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// load loads a test guest or fails the test; the hook is closed at cleanup.
func load(t testing.TB, rt *Runtime, spec Spec) *Hook {
	t.Helper()
	if spec.Name == "" {
		spec.Name = "test"
	}
	if spec.Module == "" {
		spec.Module = guests["actions"]
	} else if p, ok := guests[spec.Module]; ok {
		spec.Module = p
	}
	if len(spec.Phases) == 0 {
		spec.Phases = []Phase{PhaseRequest, PhaseResponse, PhaseChunk}
	}
	if spec.Timeout == 0 {
		// Behaviour tests must not flake on a loaded 2-core machine;
		// timeout tests set their own.
		spec.Timeout = 5 * time.Second
	}
	h, err := rt.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}
