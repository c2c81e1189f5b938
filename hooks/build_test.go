package hooks

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuilderCachesBySource(t *testing.T) {
	b := &Builder{CacheDir: t.TempDir()}
	out1 := filepath.Join(t.TempDir(), "meta.wasm")
	cached, err := b.Build(context.Background(), "../testdata/hooks/meta", out1)
	if err != nil {
		t.Fatal(err)
	}
	if cached {
		t.Error("first build in an empty cache reported a cache hit")
	}
	out2 := filepath.Join(t.TempDir(), "sub", "meta.wasm")
	cached, err = b.Build(context.Background(), "../testdata/hooks/meta", out2)
	if err != nil || !cached {
		t.Fatalf("second build: cached=%v err=%v", cached, err)
	}
	a, _ := os.ReadFile(out1)
	c, _ := os.ReadFile(out2)
	if len(a) < 1000 || !bytes.Equal(a, c) || !bytes.HasPrefix(a, []byte("\x00asm")) {
		t.Errorf("outputs differ or are not wasm (%d, %d bytes)", len(a), len(c))
	}
	// The key follows module-local imports: the guest SDK is one of them.
	dirs, err := localPackageDirs(mustAbs(t, ".."), mustAbs(t, "../testdata/hooks/meta"), "go")
	if err != nil {
		t.Fatal(err)
	}
	var sawSDK bool
	for _, d := range dirs {
		sawSDK = sawSDK || strings.HasSuffix(d, filepath.Join("hooks", "guest"))
	}
	if !sawSDK {
		t.Errorf("local package dirs %v miss hooks/guest", dirs)
	}
}

func TestBuilderErrors(t *testing.T) {
	b := &Builder{CacheDir: t.TempDir()}
	if _, err := b.Build(context.Background(), "../testdata/hooks/does-not-exist", filepath.Join(t.TempDir(), "x.wasm")); err == nil {
		t.Error("building a missing dir succeeded")
	}
	if _, err := b.Build(context.Background(), t.TempDir(), filepath.Join(t.TempDir(), "x.wasm")); err == nil ||
		!strings.Contains(err.Error(), "go.mod") {
		t.Errorf("building outside a module: %v", err)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
