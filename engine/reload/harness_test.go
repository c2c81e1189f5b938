package reload_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balanceproxy/balance/engine"
	"github.com/balanceproxy/balance/engine/reload"
	"github.com/balanceproxy/balance/engine/status"
	"github.com/balanceproxy/balance/hcl"
	"github.com/balanceproxy/balance/internal/mockgemini"
)

const (
	clientToken = "sk-reload-test-token"
	genPath     = "/v1beta/models/gemini-2.5-flash:generateContent"
	genBody     = `{"contents":[{"role":"user","parts":[{"text":"hello"}]}]}`
)

// fixture is a proxy in front of the mock upstream, both on real sockets,
// with a reloader watching its config file.
type fixture struct {
	t      testing.TB
	dir    string
	path   string // the config file the reloader watches
	mock   *mockgemini.Server
	srv    *engine.Server
	rl     *reload.Reloader
	url    string
	client *http.Client
}

// configFor renders a config that serves keys through the mock. extra is
// appended inside the pool block (e.g. keys_file). /metrics is on, for
// the reload counters.
func configFor(mockURL string, keys []string, extra string) string {
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = strconv.Quote(k)
	}
	return fmt.Sprintf(`upstream "mock" {
  base_url = %q
}

pool "main" {
  upstream = "mock"
  keys     = [%s]
  %s
}

token "client" {
  secret = %q
  pools  = ["main"]
}

metrics {}
`, mockURL, strings.Join(quoted, ", "), extra, clientToken)
}

type fixtureOpts struct {
	// layout prepares dir and returns the config path to watch; nil
	// writes dir/balance.hcl directly.
	layout   func(t testing.TB, dir, content string) string
	debounce time.Duration
	mock     mockgemini.Options
	// noRun skips starting Run (for benchmarks calling Reload).
	noRun bool
}

func newFixture(t testing.TB, content func(mockURL string) string, o fixtureOpts) *fixture {
	t.Helper()
	mock := mockgemini.Start(t, o.mock)
	dir := t.TempDir()
	body := content(mock.URL())
	path := filepath.Join(dir, "balance.hcl")
	if o.layout != nil {
		path = o.layout(t, dir, body)
	} else {
		writeFile(t, path, body)
	}
	cfg, err := hcl.Load(path)
	if err != nil {
		t.Fatalf("initial config: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := engine.New(cfg, engine.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	if o.debounce == 0 {
		o.debounce = 100 * time.Millisecond
	}
	rl, err := reload.New(srv, reload.Options{Path: path, Current: cfg, Debounce: o.debounce, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	if o.noRun {
		ran <- rl.Close()
	} else {
		go func() { ran <- rl.Run(ctx) }()
	}
	f := &fixture{
		t: t, dir: dir, path: path, mock: mock, srv: srv, rl: rl, url: "http://" + ln.Addr().String(),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-ran:
		case <-time.After(5 * time.Second):
			t.Error("reloader did not stop with its context")
		}
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		<-served
		f.client.CloseIdleConnections()
	})
	return f
}

// writeFile writes in place (truncate, then write), as many editors do.
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeAtomic writes a temp file beside path and renames it over path, as
// vim, VS Code and most config management tools do.
func writeAtomic(t testing.TB, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) generation() uint64 { return f.srv.Runtime().Generation }

// waitGeneration waits until the live generation is want, failing after
// a deadline far above the debounce.
func (f *fixture) waitGeneration(want uint64) {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if f.generation() == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.t.Fatalf("generation = %d, want %d (reloads %+v)", f.generation(), want, f.reloads())
}

// reloadCounts are the server's balance_config_reloads_total counters.
type reloadCounts struct{ applied, rejected, unchanged int }

// counts scrapes /metrics for the reload counters.
func (f *fixture) counts() reloadCounts {
	f.t.Helper()
	resp, err := f.client.Get(f.url + "/metrics")
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		f.t.Fatalf("metrics: %d %v", resp.StatusCode, err)
	}
	var c reloadCounts
	for line := range strings.Lines(string(body)) {
		rest, ok := strings.CutPrefix(line, `balance_config_reloads_total{result="`)
		if !ok {
			continue
		}
		result, value, _ := strings.Cut(strings.TrimSpace(rest), `"} `)
		n, err := strconv.Atoi(value)
		if err != nil {
			f.t.Fatalf("metrics line %q: %v", line, err)
		}
		switch result {
		case "applied":
			c.applied = n
		case "rejected":
			c.rejected = n
		case "unchanged":
			c.unchanged = n
		}
	}
	return c
}

// rejections are the error events of the server's reload history.
func (f *fixture) rejections() []string {
	var out []string
	for _, e := range f.reloads() {
		if e.Error != "" {
			out = append(out, e.Error)
		}
	}
	return out
}

// waitCounts waits until cond holds for the reload counters.
func (f *fixture) waitCounts(what string, cond func(reloadCounts) bool) reloadCounts {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c := f.counts(); cond(c) {
			return c
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.t.Fatalf("timed out waiting for %s (counts %+v)", what, f.counts())
	return reloadCounts{}
}

// settle waits past the debounce so a late event would have been applied,
// then checks the generation did not move.
func (f *fixture) settle(want uint64, debounce time.Duration) {
	f.t.Helper()
	time.Sleep(3 * debounce)
	if g := f.generation(); g != want {
		f.t.Fatalf("generation moved to %d after settling, want %d", g, want)
	}
}

// do sends one generateContent request and returns the status code and
// the generation that served it.
func (f *fixture) do() (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, f.url+genPath, strings.NewReader(genBody))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("x-goog-api-key", clientToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, "", err
	}
	return resp.StatusCode, resp.Header.Get("X-Balance-Generation"), nil
}

// mustServe sends n requests that must all succeed.
func (f *fixture) mustServe(n int) {
	f.t.Helper()
	for i := 0; i < n; i++ {
		code, _, err := f.do()
		if err != nil || code != http.StatusOK {
			f.t.Fatalf("request %d: code %d err %v", i, code, err)
		}
	}
}

// assertKeysUsed sends requests and checks exactly the keys in want carry
// upstream traffic and none in gone does.
func (f *fixture) assertKeysUsed(want, gone []string) {
	f.t.Helper()
	f.mock.Reset()
	f.mustServe(4 * len(want))
	for _, k := range want {
		if f.mock.Requests(k) == 0 {
			f.t.Errorf("key %s carried no requests", k)
		}
	}
	for _, k := range gone {
		if n := f.mock.Requests(k); n != 0 {
			f.t.Errorf("removed key %s still carried %d requests", k, n)
		}
	}
}

// load runs clients that send requests back to back until stop closes,
// recording every failure and each request's latency.
type load struct {
	wg        sync.WaitGroup
	mu        sync.Mutex
	failures  []string
	latencies []time.Duration
	gens      map[string]int
}

func startLoad(f *fixture, clients int, stop <-chan struct{}) *load {
	l := &load{gens: map[string]int{}}
	for c := 0; c < clients; c++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				code, gen, err := f.do()
				took := time.Since(start)
				l.mu.Lock()
				l.latencies = append(l.latencies, took)
				l.gens[gen]++
				if err != nil || code != http.StatusOK {
					l.failures = append(l.failures, fmt.Sprintf("code %d err %v", code, err))
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *load) wait() { l.wg.Wait() }

// reloads is the server's reload history, as status shows it.
func (f *fixture) reloads() []status.Reload { return f.srv.Snapshot(time.Now()).Reloads }

// lastReloadError is the newest reload event when it is a rejection.
func (f *fixture) lastReloadError() *status.Reload {
	r := f.reloads()
	if len(r) == 0 || r[len(r)-1].Error == "" {
		return nil
	}
	return &r[len(r)-1]
}
