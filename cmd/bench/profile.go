package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pprofHook is compiled into a profiling build of cmd/balance through
// `go build -overlay`, so the checkout is never touched: it serves
// net/http/pprof on BALANCE_BENCH_PPROF when that variable is set.
const pprofHook = `package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv("BALANCE_BENCH_PPROF"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
`

// buildProfilingProxy builds cmd/balance with symbols and the pprof hook
// (sources staged in dir) into outDir, next to the profiles that need it,
// and returns the binary's path.
func buildProfilingProxy(root, dir, outDir string) (string, error) {
	hook := filepath.Join(dir, "zz_bench_pprof.go")
	if err := os.WriteFile(hook, []byte(pprofHook), 0o600); err != nil {
		return "", fmt.Errorf("write pprof hook: %w", err)
	}
	overlay, err := json.Marshal(map[string]map[string]string{
		"Replace": {filepath.Join(root, "cmd", "balance", "zz_bench_pprof.go"): hook},
	})
	if err != nil {
		return "", err
	}
	ovPath := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ovPath, overlay, 0o600); err != nil {
		return "", fmt.Errorf("write overlay: %w", err)
	}
	out := filepath.Join(outDir, "balance-pprof")
	cmd := exec.Command("go", "build", "-overlay", ovPath, "-o", out, "./cmd/balance")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build (profiling variant): %w: %s", err, strings.TrimSpace(string(b)))
	}
	return out, nil
}

// profiler collects one CPU profile per scenario label from proxies built
// with the pprof hook.
type profiler struct {
	dir   string
	mu    sync.Mutex
	addrs map[int]string // proxy pid → pprof address
	taken map[string]bool
	wg    sync.WaitGroup
	files []string
}

func (p *profiler) register(pid int, addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.addrs[pid] = addr
}

// start begins a CPU profile of pid lasting d (rounded up to whole seconds)
// unless label already has one. The returned func waits for it.
func (p *profiler) start(label string, pid int, d time.Duration) func() {
	p.mu.Lock()
	addr, ok := p.addrs[pid]
	if !ok || p.taken[label] {
		p.mu.Unlock()
		return func() {}
	}
	p.taken[label] = true
	p.mu.Unlock()
	secs := max(1, int((d+time.Second-1)/time.Second))
	name := filepath.Join(p.dir, strings.NewReplacer("/", "_", " ", "_", "@", "_").Replace(label)+".pprof")
	done := make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(done)
		hc := &http.Client{Timeout: time.Duration(secs+30) * time.Second}
		resp, err := hc.Get("http://" + addr + "/debug/pprof/profile?seconds=" + strconv.Itoa(secs))
		if err != nil {
			fmt.Fprintf(os.Stderr, "  profile %s: %v\n", label, err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "  profile %s: %v\n", label, err)
			return
		}
		if _, err := io.Copy(f, resp.Body); err != nil {
			fmt.Fprintf(os.Stderr, "  profile %s: %v\n", label, err)
		}
		_ = f.Close()
		p.mu.Lock()
		p.files = append(p.files, name)
		p.mu.Unlock()
	}()
	return func() { <-done }
}

// heap saves, once per label (in the background), the text heap profile
// (?debug=1), whose runtime.MemStats trailer splits RSS into heap in use,
// heap idle, goroutine stacks and runtime overhead; a heap profile of the
// live objects taken after a forced GC; and the goroutines. A heap
// profile alone explains only the live heap part of a per-stream RSS
// figure.
func (p *profiler) heap(label string, pid int) {
	p.mu.Lock()
	addr, ok := p.addrs[pid]
	if !ok || p.taken[label] {
		p.mu.Unlock()
		return
	}
	p.taken[label] = true
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for _, f := range []struct{ path, file string }{
			// The text first, before the forced GC, so its MemStats show
			// the heap as it stood at the RSS sample, garbage included.
			{"/debug/pprof/heap?debug=1", label + ".memstats.txt"},
			// gc=1: a heap profile otherwise shows the heap as of the
			// last GC, which can predate the streams being open.
			{"/debug/pprof/heap?gc=1", label + ".pprof"},
			{"/debug/pprof/goroutine?debug=1", label + ".goroutines.txt"},
		} {
			name := filepath.Join(p.dir, f.file)
			if err := fetchTo("http://"+addr+f.path, name); err != nil {
				fmt.Fprintf(os.Stderr, "  heap profile %s: %v\n", label, err)
				continue
			}
			p.mu.Lock()
			p.files = append(p.files, name)
			p.mu.Unlock()
		}
	}()
}

// fetchTo saves the body of GET url into the file name.
func fetchTo(url, name string) error {
	hc := &http.Client{Timeout: 30 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return fmt.Errorf("save %s: %w", name, err)
	}
	return f.Close()
}
