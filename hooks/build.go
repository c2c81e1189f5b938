package hooks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// Builder compiles Go guest sources into hook modules with the stock
// toolchain, caching results by a hash of everything that goes into them.
type Builder struct {
	// CacheDir holds built modules; default <user cache dir>/balance/hooks
	// (or under os.TempDir when there is no user cache dir).
	CacheDir string
	// GoCmd is the go command; default "go" from PATH.
	GoCmd string
}

// BuildGuest builds the guest package in dir into the module out with
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared, reusing a cached
// build when neither the sources nor the toolchain changed.
func BuildGuest(dir, out string) error {
	_, err := (&Builder{}).Build(context.Background(), dir, out)
	return err
}

// Build builds dir into out and reports whether the cache answered.
//
// The cache key covers the .go files of every package of this module the
// guest builds from (dir, the guest SDK, any helper package), plus go.mod,
// go.sum and the Go version: what a guest imports from outside comes in
// through go.sum-pinned modules.
func (b *Builder) Build(ctx context.Context, dir, out string) (cached bool, err error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return false, fmt.Errorf("build hook %s: %w", dir, err)
	}
	root, err := moduleRoot(absDir)
	if err != nil {
		return false, fmt.Errorf("build hook %s: %w", dir, err)
	}
	goCmd := b.GoCmd
	if goCmd == "" {
		goCmd = "go"
	}
	key, err := sourceHash(root, absDir, goCmd)
	if err != nil {
		return false, fmt.Errorf("build hook %s: hash sources: %w", dir, err)
	}
	cacheDir := b.CacheDir
	if cacheDir == "" {
		if cacheDir, err = os.UserCacheDir(); err != nil {
			cacheDir = os.TempDir()
		}
		cacheDir = filepath.Join(cacheDir, "balance", "hooks")
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return false, fmt.Errorf("build hook %s: cache dir: %w", dir, err)
	}
	cachedFile := filepath.Join(cacheDir, key+".wasm")
	if _, err := os.Stat(cachedFile); err == nil {
		return true, copyFile(cachedFile, out)
	}
	tmp, err := os.CreateTemp(cacheDir, "build-*.wasm")
	if err != nil {
		return false, fmt.Errorf("build hook %s: %w", dir, err)
	}
	tmpName := tmp.Name()
	_ = tmp.Close()
	defer os.Remove(tmpName)
	cmd := exec.CommandContext(ctx, goCmd, "build", "-buildmode=c-shared", "-trimpath",
		"-ldflags=-s -w", "-o", tmpName, ".")
	cmd.Dir = absDir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		return false, fmt.Errorf("build hook %s: go build: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	// Rename is atomic, so concurrent builders (parallel test binaries)
	// never see a half-written cache entry.
	if err := os.Rename(tmpName, cachedFile); err != nil {
		return false, fmt.Errorf("build hook %s: %w", dir, err)
	}
	return false, copyFile(cachedFile, out)
}

func moduleRoot(dir string) (string, error) {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("no go.mod above " + dir)
		}
		d = parent
	}
}

// sourceHash hashes every module-local package the guest in dir builds
// from (found with go list for wasip1), go.mod/go.sum (which pin every
// external dependency) and the toolchain version.
func sourceHash(root, dir, goCmd string) (string, error) {
	h := sha256.New()
	ver, err := exec.Command(goCmd, "env", "GOVERSION").Output()
	if err != nil {
		ver = []byte(runtime.Version())
	}
	fmt.Fprintf(h, "go=%s\n", bytes.TrimSpace(ver))
	pkgDirs, err := localPackageDirs(root, dir, goCmd)
	if err != nil {
		return "", err
	}
	var files []string
	for _, d := range pkgDirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			return "", err
		}
		for _, e := range entries {
			if n := e.Name(); !e.IsDir() && (strings.HasSuffix(n, ".go") || strings.HasSuffix(n, ".s")) {
				files = append(files, filepath.Join(d, n))
			}
		}
	}
	files = append(files, filepath.Join(root, "go.mod"), filepath.Join(root, "go.sum"))
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		rel, _ := filepath.Rel(root, f)
		sum := sha256.Sum256(data)
		fmt.Fprintf(h, "%s %x\n", rel, sum)
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// localPackageDirs lists the directories of dir's package and of every
// package it imports from inside the module rooted at root.
func localPackageDirs(root, dir, goCmd string) ([]string, error) {
	cmd := exec.Command(goCmd, "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var dirs []string
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if rel, err := filepath.Rel(root, line); line != "" && err == nil && !strings.HasPrefix(rel, "..") {
			dirs = append(dirs, line)
		}
	}
	return dirs, nil
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("copy built hook: %w", err)
	}
	if dir := filepath.Dir(dst); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("copy built hook: %w", err)
		}
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("copy built hook: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("copy built hook: %w", err)
	}
	return nil
}
