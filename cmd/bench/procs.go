package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clkTck is the kernel's USER_HZ, the unit of utime/stime in /proc/PID/stat.
// It is 100 on every Linux build this benchmark targets (see the brief).
const clkTck = 100

// child is a process the benchmark started. Every child is registered in
// children so that killAll can end it on any exit path.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been reaped
	tail *tailBuffer   // last few KB of stderr, for error messages
	err  error         // Wait's result, valid after done
}

var (
	childMu  sync.Mutex
	children = map[*child]struct{}{}
)

// killAll ends every child still registered. It is called from main's
// deferred cleanup, the signal handler and the panic path; it is safe to
// call more than once.
func killAll() {
	childMu.Lock()
	list := make([]*child, 0, len(children))
	for c := range children {
		list = append(list, c)
	}
	childMu.Unlock()
	for _, c := range list {
		c.stop()
	}
}

// startChild runs bin with args. Pdeathsig makes the kernel kill the child
// if the benchmark dies without running its cleanup (SIGKILL, a panic in a
// goroutine), so no mock or proxy outlives a run.
func startChild(name, bin string, args []string, env []string) (*child, io.Reader, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{}), tail: &tailBuffer{max: 4096}}
	cmd.Stderr = c.tail
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	childMu.Lock()
	children[c] = struct{}{}
	childMu.Unlock()
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, stdout, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// alive reports whether the process is still running.
func (c *child) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, waits up to 3 s, then SIGKILL, and unregisters.
func (c *child) stop() {
	childMu.Lock()
	_, registered := children[c]
	delete(children, c)
	childMu.Unlock()
	if !registered {
		<-c.done
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// exitInfo describes why a child ended, with its last stderr lines.
func (c *child) exitInfo() string {
	return fmt.Sprintf("%s exited (%v): %s", c.name, c.err, strings.TrimSpace(c.tail.String()))
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// repoRoot walks up from the working directory to the directory holding
// go.mod, so `go run ./cmd/bench` works from anywhere inside the module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory; run from the balance checkout")
		}
		dir = parent
	}
}

// binaries are the children the benchmark builds: package dir under the
// module root → binary name in binDir.
var binaries = [][2]string{
	{"cmd/balance", "balance"},
	{"cmd/mockgemini", "mockgemini"},
	{"cmd/bench/bareproxy", "bareproxy"},
}

// buildBinaries runs `go build` for the proxy, the mock and the bare
// pass-through into binDir. The go command's build cache makes this a
// no-op relink check when nothing changed, which is exactly "build if
// missing or stale".
func buildBinaries(root, binDir string) error {
	var first error
	for _, bin := range binaries {
		pkg, name := bin[0], bin[1]
		out := filepath.Join(binDir, name)
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./"+pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if b, err := cmd.CombinedOutput(); err != nil {
			msg := ""
			for _, l := range strings.Split(string(b), "\n") {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
					msg = l
					break
				}
			}
			// Build the others anyway: one package mid-edit should not
			// leave another binary stale.
			if first == nil {
				first = fmt.Errorf("go build ./%s: %w: %s", pkg, err, msg)
			}
		}
	}
	return first
}

// freePort returns a 127.0.0.1 port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// mockOpts are the cmd/mockgemini flags a scenario varies.
type mockOpts struct {
	failMod      int
	streamChunks int
	streamDelay  time.Duration
}

// startMock starts bin/mockgemini on a port it picks itself and returns
// the child and its "127.0.0.1:N" address, read from its first stdout line.
func startMock(bin string, keys []string, o mockOpts) (*child, string, error) {
	args := []string{"-listen", "127.0.0.1:0", "-keys", strings.Join(keys, ",")}
	if o.failMod > 0 {
		args = append(args, "-failmod", strconv.Itoa(o.failMod))
	}
	if o.streamChunks > 0 {
		args = append(args, "-stream-chunks", strconv.Itoa(o.streamChunks))
	}
	if o.streamDelay > 0 {
		args = append(args, "-stream-delay", o.streamDelay.String())
	}
	return startListener("mockgemini", bin, args, nil)
}

// startBare starts bin/bareproxy, the bare fasthttp pass-through, in
// front of the mock at mockAddr. It sends every request upstream with
// x-goog-api-key key, so it takes the same client requests as balance.
// pprof, when not empty, is the address its pprof listener serves on;
// knobs are more bareproxy flags.
func startBare(bin, mockAddr, key, pprof string, knobs ...string) (*child, string, error) {
	args := []string{"-listen", "127.0.0.1:0", "-upstream", mockAddr, "-key", key}
	if pprof != "" {
		args = append(args, "-pprof", pprof)
	}
	return startListener("bareproxy", bin, append(args, knobs...), nil)
}

// startListener starts a child that listens on a port it picks itself and
// prints its URL ("http://127.0.0.1:N") as its first stdout line, and
// returns the child and that address.
func startListener(name, bin string, args, env []string) (*child, string, error) {
	c, stdout, err := startChild(name, bin, args, env)
	if err != nil {
		return nil, "", err
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			c.stop()
			return nil, "", fmt.Errorf("%s printed no address: %s", name, c.exitInfo())
		}
		addr := strings.TrimPrefix(strings.TrimSpace(line), "http://")
		if _, _, err := net.SplitHostPort(addr); err != nil {
			c.stop()
			return nil, "", fmt.Errorf("%s printed %q, not an address: %w", name, line, err)
		}
		return c, addr, nil
	case <-time.After(10 * time.Second):
		c.stop()
		return nil, "", fmt.Errorf("%s did not print its address within 10s", name)
	}
}

// proxyConfig renders the HCL the proxy under test runs: one upstream (the
// mock), one pool with every key, one client token, no store unless asked.
// Everything else keeps the product's defaults (max_request_body 32 MB,
// upstream max_conns 4096, cooldown 60 s), because those are what we ship.
func proxyConfig(mockAddr string, keys []string, dataDir, storeBlock, extra string) string {
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = strconv.Quote(k)
	}
	if storeBlock == "" {
		storeBlock = `store { driver = "none" }`
	}
	return fmt.Sprintf(`# generated by cmd/bench
server {
  log_level = "error"
  data_dir  = %q
}

upstream "mock" {
  base_url = "http://%s"
}

pool "bench" {
  upstream = "mock"
  keys     = [%s]
}

token "bench" {
  secret = %q
  pools  = ["bench"]
}

%s
%s
`, dataDir, mockAddr, strings.Join(quoted, ", "), clientToken, storeBlock, extra)
}

// startProxy writes cfg to dir and starts bin/balance on a free port. It
// returns once GET /health answers 200, or with the proxy's stderr when it
// exits or does not become healthy in 10 s.
func startProxy(bin, dir, name, cfg string, env []string) (*child, string, error) {
	path := filepath.Join(dir, name+".hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, "", fmt.Errorf("write proxy config: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // the picked port can be taken in between
		port, err := freePort()
		if err != nil {
			return nil, "", err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		c, stdout, err := startChild("balance("+name+")", bin, []string{"serve", "-config", path, "-listen", addr}, env)
		if err != nil {
			return nil, "", err
		}
		go func() { _, _ = io.Copy(io.Discard, stdout) }()
		if err := waitHealthy(c, addr, 10*time.Second); err != nil {
			c.stop()
			lastErr = err
			if strings.Contains(err.Error(), "address already in use") {
				continue
			}
			return nil, "", err
		}
		return c, addr, nil
	}
	return nil, "", lastErr
}

// startProxy starts a proxy for the bench, with the pprof listener of a
// profiling build when -profile is on.
func (b *bench) startProxy(name, cfg string) (*child, string, error) {
	if b.prof == nil {
		return startProxy(b.proxyBin, b.tmp, name, cfg, nil)
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	c, paddr, err := startProxy(b.proxyBin, b.tmp, name, cfg, []string{"BALANCE_BENCH_PPROF=" + addr})
	if err == nil {
		b.prof.register(c.pid(), addr)
	}
	return c, paddr, err
}

// waitHealthy polls http://addr/health until it answers 200.
func waitHealthy(c *child, addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	hc := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		if !c.alive() {
			return errors.New(c.exitInfo())
		}
		resp, err := hc.Get("http://" + addr + "/health")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s not healthy on %s within %v: %s", c.name, addr, within, strings.TrimSpace(c.tail.String()))
}

// withTimeout is a tiny helper for the few HTTP calls made outside load.
func withTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// cpuTicks returns utime+stime of pid in clock ticks, from /proc/PID/stat.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read cpu of %d: %w", pid, err)
	}
	return parseStatTicks(b)
}

// parseStatTicks extracts fields 14 (utime) and 15 (stime) of a
// /proc/PID/stat line. The command name (field 2) is in parentheses and
// may itself contain spaces or ')', so fields are counted from the last ')'.
func parseStatTicks(b []byte) (int64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("proc stat: no ')' after the command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields after the command name, want ≥ 13", len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || ut < 0 || st < 0 {
		return 0, fmt.Errorf("proc stat: utime %q / stime %q are not tick counts", f[11], f[12])
	}
	return ut + st, nil
}

// memKB returns VmRSS and VmHWM of pid in KB, from /proc/PID/status.
func memKB(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, fmt.Errorf("read memory of %d: %w", pid, err)
	}
	return parseStatusMem(b)
}

// parseStatusMem reads the VmRSS and VmHWM lines ("VmRSS:	  7340 kB").
func parseStatusMem(b []byte) (rss, hwm int64, err error) {
	found := 0
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("proc status: malformed %s line %q", name, line)
		}
		n, perr := strconv.ParseInt(f[0], 10, 64)
		if perr != nil || n < 0 {
			return 0, 0, fmt.Errorf("proc status: %s value %q", name, f[0])
		}
		if name == "VmRSS" {
			rss = n
		} else {
			hwm = n
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("proc status: VmRSS or VmHWM missing")
	}
	return rss, hwm, nil
}

// cpuMeter measures a process's CPU time across a span.
type cpuMeter struct {
	pid   int
	start int64
}

func startCPU(pid int) cpuMeter {
	t, _ := cpuTicks(pid)
	return cpuMeter{pid: pid, start: t}
}

// micros returns the CPU microseconds used since startCPU.
func (m cpuMeter) micros() float64 {
	t, err := cpuTicks(m.pid)
	if err != nil {
		return 0
	}
	return float64(t-m.start) * 1e6 / clkTck
}

func selfPID() int { return os.Getpid() }

// syscalls returns the read-type and write-type system calls pid has made
// (syscr and syscw of /proc/PID/io): on a proxy these are almost all
// socket reads and writes, so their count per request shows how well
// each wake-up is batched.
func syscalls(pid int) (reads, writes int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return 0, 0, fmt.Errorf("read syscalls of %d: %w", pid, err)
	}
	return parseProcIO(b)
}

// parseProcIO reads the syscr and syscw lines of /proc/PID/io.
func parseProcIO(b []byte) (reads, writes int64, err error) {
	found := 0
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "syscr" && name != "syscw") {
			continue
		}
		n, perr := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
		if perr != nil || n < 0 {
			return 0, 0, fmt.Errorf("proc io: %s value %q", name, rest)
		}
		if name == "syscr" {
			reads = n
		} else {
			writes = n
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("proc io: syscr or syscw missing")
	}
	return reads, writes, nil
}
