package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/balanceproxy/balance/hooks"
)

// The hook scenario prices one request-phase WASM hook. Three proxies run
// on one mock and take turns in every round: no hook, a hook whose guest
// returns "continue" at once (the fixed cost of a call: envelope, copy in,
// timeout, call, zero-length output), and examples/hooks/sysprompt, a
// realistic body edit (a system instruction spliced into the request).
// Each hook's call counter in /status is checked against the requests
// sent, so a hook that silently did not run cannot pass as free.

// statusToken is the bearer token of the hook proxies' status endpoint,
// which the scenario reads for the hooks' call counters.
const statusToken = "bench-status-token-0001"

// sysPrompt is the sysprompt guest's config: a short house-style prompt.
const sysPrompt = "Answer concisely. Use British English."

// hookGuest is one guest module the scenario builds and configures.
type hookGuest struct {
	name   string // variant and hook name in the config
	src    string // guest source dir, relative to the module root
	config string // HCL config object for the hook block ("" for none)
	what   string // for the report
}

var hookGuests = []hookGuest{
	{name: "noop", src: "testdata/hooks/bench", what: "no-change hook (testdata/hooks/bench: returns continue at once)"},
	{name: "sysprompt", src: "examples/hooks/sysprompt", config: fmt.Sprintf("{ prompt = %q }", sysPrompt),
		what: "sysprompt hook (examples/hooks/sysprompt: splices a system instruction into the body)"},
}

// hookBlock renders the hook block of one guest built at module.
func hookBlock(g hookGuest, module string) string {
	s := fmt.Sprintf("hook %q {\n  module = %q\n  phases = [\"request\"]\n", g.name, module)
	if g.config != "" {
		s += "  config = " + g.config + "\n"
	}
	return s + "}\n"
}

// statusBlock enables GET /status, where the hooks' counters are.
func statusBlock() string {
	return fmt.Sprintf("status {\n  token = %q\n}\n", statusToken)
}

func (b *bench) hook() error {
	sc := "one request hook vs none (c" + strconv.Itoa(b.opt.conns) + ")"
	modules := make([]string, len(hookGuests))
	for i, g := range hookGuests {
		modules[i] = filepath.Join(b.tmp, g.name+".wasm")
		t0 := time.Now()
		if err := hooks.BuildGuest(filepath.Join(b.root, g.src), modules[i]); err != nil {
			return fmt.Errorf("build hook guest %s: %w", g.src, err)
		}
		b.logf("  built %s in %.1f s", g.src, time.Since(t0).Seconds())
	}
	mock, mockAddr, err := startMock(b.mockBin, b.keys, mockOpts{})
	if err != nil {
		return err
	}
	defer mock.stop()

	vs := []variant{{name: "none"}}
	addrs := []string{}
	none, noneAddr, err := b.startProxy("hook-none", proxyConfig(mockAddr, b.keys, b.dataDir("hook-none"), "", statusBlock()))
	if err != nil {
		return err
	}
	defer none.stop()
	vs[0].pid, addrs = none.pid(), append(addrs, noneAddr)
	for i, g := range hookGuests {
		cfg := proxyConfig(mockAddr, b.keys, b.dataDir("hook-"+g.name), "", hookBlock(g, modules[i])+statusBlock())
		px, addr, err := b.startProxy("hook-"+g.name, cfg)
		if err != nil {
			return fmt.Errorf("proxy with hook %s: %w", g.name, err)
		}
		defer px.stop()
		vs = append(vs, variant{name: g.name, pid: px.pid()})
		addrs = append(addrs, addr)
	}
	targets := make([]target, len(vs))
	for i := range vs {
		targets[i] = proxied(addrs[i], genPath, []byte(smallBody))
		if err := b.checkOK(targets[i]); err != nil {
			return fmt.Errorf("%s: %w", vs[i].name, err)
		}
		closedLoop(targets[i], b.opt.conns, 300*time.Millisecond)
	}
	before := make([]hookCounters, len(vs))
	for i := 1; i < len(vs); i++ {
		if before[i], err = readHookCounters(addrs[i], vs[i].name); err != nil {
			return err
		}
	}

	rounds, dur := b.opt.rounds, b.opt.duration*2/5
	for i := range vs {
		t := targets[i]
		vs[i].run = func() *result { return closedLoop(t, b.opt.conns, dur) }
	}
	sat := b.interleaveN("hook", rounds, dur, vs)
	c1dur := dur / 2
	for i := range vs {
		t := targets[i]
		vs[i].run = func() *result { return closedLoop(t, 1, c1dur) }
	}
	c1 := b.interleaveN("hook-c1", rounds, c1dur, vs)

	noneCPU := make([]float64, 0, rounds)
	for _, r := range sat {
		noneCPU = append(noneCPU, safeDiv(r[0].cpu, float64(r[0].r.sent)))
	}
	b.info(sc, "proxy CPU per request, no hook", summarize(noneCPU).format(1, " µs"))
	for i := 1; i < len(vs); i++ {
		g := hookGuests[i-1]
		var ratios, added, c1add, c1cpu []float64
		var all []*result
		for k := range sat {
			h, n := sat[k][i], sat[k][0]
			ratios = append(ratios, safeDiv(h.r.rps(), n.r.rps()))
			added = append(added, safeDiv(h.cpu, float64(h.r.sent))-safeDiv(n.cpu, float64(n.r.sent)))
			all = append(all, h.r)
			c1add = append(c1add, float64(percentile(c1[k][i].r.lat, 50)-percentile(c1[k][0].r.lat, 50))/float64(time.Microsecond))
			c1cpu = append(c1cpu, safeDiv(c1[k][i].cpu, float64(c1[k][i].r.sent))-safeDiv(c1[k][0].cpu, float64(c1[k][0].r.sent)))
		}
		for k := range c1 {
			all = append(all, c1[k][i].r)
		}
		b.info(sc, g.what+": hook / none req/s ratio", summarize(ratios).format(3, ""))
		b.info(sc, g.name+": added proxy CPU per request (hook − none, c"+strconv.Itoa(b.opt.conns)+")", summarize(added).format(1, " µs"))
		b.info(sc, g.name+": added p50 / added proxy CPU per request at c1 (hook − none)",
			fmt.Sprintf("%s / %s", summarize(c1add).format(1, " µs"), summarize(c1cpu).format(1, " µs")))
		ok, sent := successOf(all...)
		b.row(sc, g.name+": success", pct(ok, sent), "100 %", ok == sent && sent > 0)
		after, err := readHookCounters(addrs[i], vs[i].name)
		if err != nil {
			return err
		}
		calls, changed, errs := after.calls-before[i].calls, after.changed-before[i].changed, after.errors-before[i].errors
		// Every request sent in the rounds must have called the hook once;
		// the sysprompt guest must also have changed every one of them.
		wantChanged := uint64(0)
		if g.config != "" {
			wantChanged = calls
		}
		good := calls == uint64(sent) && changed == wantChanged && errs == 0
		b.row(sc, g.name+": hook calls / changed / errors (status) vs requests sent", fmt.Sprintf("%d / %d / %d vs %d", calls, changed, errs, sent),
			"calls = requests, 0 errors", good)
	}
	return nil
}

// variant is one side of an N-way interleaved comparison: a load run and
// the process its CPU is charged to.
type variant struct {
	name string
	run  func() *result
	pid  int
	// others are processes the run also costs (the mock, the load
	// generator): their CPU during the run goes to sample.others.
	others []int
	// settle, when set, is a pause after the run that still counts
	// towards the variant's CPU: a batched writer's last flush then
	// lands in its own figure, not in the next variant's round.
	settle time.Duration
}

// sample is one variant's run in one round.
type sample struct {
	r   *result
	cpu float64 // µs of the variant's process during the run
	// others is the CPU µs of variant.others during the run, together.
	others float64
	// reads and writes are the process's read and write system calls
	// during the run (-1 when /proc/PID/io could not be read).
	reads, writes int64
}

// interleaveN runs rounds of every variant in turn. The starting variant
// rotates each round (round i starts with variant i mod n), so slow drift
// in the machine's speed, and whoever runs right after a warm or cold
// phase, is spread over all of them. It returns samples[round][variant].
//
// With -profile, the first run of each variant whose process serves
// pprof is CPU-profiled as label-name.
func (b *bench) interleaveN(label string, rounds int, dur time.Duration, vs []variant) [][]sample {
	out := make([][]sample, rounds)
	for i := range rounds {
		out[i] = make([]sample, len(vs))
		for j := range vs {
			k := (i + j) % len(vs)
			v := vs[k]
			var m cpuMeter
			var rd0, wr0 int64
			var ioErr error
			if v.pid > 0 {
				m = startCPU(v.pid)
				rd0, wr0, ioErr = syscalls(v.pid)
			}
			om := make([]cpuMeter, len(v.others))
			for i, pid := range v.others {
				om[i] = startCPU(pid)
			}
			wait := func() {}
			if b.prof != nil && v.pid > 0 {
				wait = b.prof.start(label+"-"+v.name, v.pid, dur)
			}
			r := v.run()
			time.Sleep(v.settle)
			s := sample{r: r, reads: -1, writes: -1}
			for _, m := range om {
				s.others += m.micros()
			}
			if v.pid > 0 {
				s.cpu = m.micros()
				if rd1, wr1, err := syscalls(v.pid); err == nil && ioErr == nil {
					s.reads, s.writes = rd1-rd0, wr1-wr0
				}
			}
			wait()
			out[i][k] = s
		}
		line := fmt.Sprintf("  %s round %d/%d:", label, i+1, rounds)
		for k, v := range vs {
			s := out[i][k]
			line += fmt.Sprintf("  %s %.0f req/s %.1f µs/req [%s]", v.name, s.r.rps(), safeDiv(s.cpu, float64(s.r.sent)), s.r.codesString())
		}
		b.logf("%s", line)
	}
	return out
}

// hookCounters is one hook's counters from GET /status.
type hookCounters struct {
	calls, changed, errors uint64
}

// readHookCounters reads the counters of the hook named name from the
// proxy's status endpoint.
func readHookCounters(addr, name string) (hookCounters, error) {
	body, err := getStatus(addr)
	if err != nil {
		return hookCounters{}, err
	}
	return parseHookCounters(body, name)
}

// getStatus fetches the proxy's status JSON (the proxy must run with
// statusBlock()).
func getStatus(addr string) ([]byte, error) {
	req, err := http.NewRequest("GET", "http://"+addr+"/status", nil)
	if err != nil {
		return nil, fmt.Errorf("status request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+statusToken)
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /status: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("GET /status: read: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /status: %s: %.200s", resp.Status, body)
	}
	return body, nil
}

// parseHookCounters finds hook name in a /status JSON document.
func parseHookCounters(body []byte, name string) (hookCounters, error) {
	var st struct {
		Hooks []struct {
			Name    string `json:"name"`
			Calls   uint64 `json:"calls"`
			Changed uint64 `json:"changed"`
			Errors  uint64 `json:"errors"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return hookCounters{}, fmt.Errorf("status JSON: %w", err)
	}
	for _, h := range st.Hooks {
		if h.Name == name {
			return hookCounters{calls: h.Calls, changed: h.Changed, errors: h.Errors}, nil
		}
	}
	return hookCounters{}, fmt.Errorf("status lists no hook %q: the proxy did not load it", name)
}
