package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The scenarios in this file belong to other issues (store, OpenAI
// route; hooks are in hookbench.go). Each detects whether the feature is wired into the binary yet
// and records a SKIP with the reason instead of measuring nothing.

// extraRounds keeps the secondary scenarios short: 3 rounds of 2/5 of
// the saturation round length.
func (b *bench) extraRounds() (int, time.Duration) {
	return min(b.opt.rounds, 3), b.opt.duration * 2 / 5
}

// ---------------------------------------------------------------- store

// The store scenario is issue 9's measured outcome: balance as shipped
// with a database (store sqlite, 100 keys) against the smallest honest
// fasthttp pass-through (cmd/bench/bareproxy) on the same mock, plus
// balance with store none so the store's share and the engine's share of
// the gap read apart. The three take turns in every round.

// storeSettle follows every run of the store scenario: longer than the
// writer's flush interval (500 ms), so the rows of a run are committed,
// and charged to the sqlite proxy's CPU, before the next run starts.
const storeSettle = 700 * time.Millisecond

func (b *bench) store() error {
	sc := fmt.Sprintf("balance with SQLite store vs bare fasthttp pass-through (100 keys, c%d)", b.opt.conns)
	mock, mockAddr, err := startMock(b.mockBin, b.keys, mockOpts{})
	if err != nil {
		return err
	}
	defer mock.stop()
	bare, bareAddr, err := b.startBare(mockAddr)
	if err != nil {
		return err
	}
	defer bare.stop()
	off, offAddr, err := b.startProxy("store-none", proxyConfig(mockAddr, b.keys, b.dataDir("store-none"), "", ""))
	if err != nil {
		return err
	}
	defer off.stop()
	dbDir := b.dataDir("store-sqlite")
	dbPath := filepath.Join(dbDir, "bench.db")
	storeBlock := fmt.Sprintf("store {\n  driver = \"sqlite\"\n  path   = %q\n}", dbPath)
	on, onAddr, err := b.startProxy("store-sqlite", proxyConfig(mockAddr, b.keys, dbDir, storeBlock, statusBlock()))
	if err != nil {
		b.skip(sc, "the proxy rejected driver = \"sqlite\": "+firstLine(err.Error()))
		return nil
	}
	defer on.stop()
	// All take the same client request (the client token; the bare
	// pass-through swaps in one pool key, balance picks one).
	vs := []variant{
		{name: "bare", pid: bare.pid()},
		{name: "none", pid: off.pid()},
		{name: "sqlite", pid: on.pid()},
	}
	targets := []target{
		proxied(bareAddr, genPath, []byte(smallBody)),
		proxied(offAddr, genPath, []byte(smallBody)),
		proxied(onAddr, genPath, []byte(smallBody)),
	}
	var cmpAddr string
	if b.opt.compare != "" {
		// -compare: the other build, configured like the sqlite one.
		cmpDir := b.dataDir("store-compare")
		cmpStore := fmt.Sprintf("store {\n  driver = \"sqlite\"\n  path   = %q\n}", filepath.Join(cmpDir, "bench.db"))
		cmp, addr, err := startProxy(b.opt.compare, b.tmp, "store-compare", proxyConfig(mockAddr, b.keys, cmpDir, cmpStore, statusBlock()), nil)
		if err != nil {
			return fmt.Errorf("-compare %s: %w", b.opt.compare, err)
		}
		defer cmp.stop()
		cmpAddr = addr
		vs = append(vs, variant{name: "compare", pid: cmp.pid()})
		targets = append(targets, proxied(addr, genPath, []byte(smallBody)))
	}
	for i, t := range targets {
		if err := b.checkOK(t); err != nil {
			return fmt.Errorf("%s: %w", vs[i].name, err)
		}
		closedLoop(t, b.opt.conns, 300*time.Millisecond) // warm pools and heaps
	}
	before, err := settledStoreCounters(onAddr, 0, 3*time.Second) // the warm-up's rows
	if err != nil {
		return err
	}
	var cmpBefore storeCounters
	if cmpAddr != "" {
		if cmpBefore, err = settledStoreCounters(cmpAddr, 0, 3*time.Second); err != nil {
			return err
		}
	}
	// Many short rounds, not a few long ones: the machine's speed drifts
	// (other work starts and stops), and what drift does to a round is
	// shared by the runs next to each other in it. The ratios are taken
	// per round and their median gets a confidence interval.
	rounds, dur := b.opt.storeRounds, b.opt.duration/5
	for i := range vs {
		t := targets[i]
		vs[i].run = func() *result { return closedLoop(t, b.opt.conns, dur) }
		vs[i].settle = storeSettle
		vs[i].others = []int{mock.pid(), selfPID()}
	}
	samples := b.interleaveN("store", rounds, dur, vs)
	if !dbWritten(dbDir) {
		b.skip(sc, "the config was accepted but no SQLite file appeared under data_dir after "+strconv.Itoa(rounds)+" rounds: cmd/balance does not wire the store into the engine yet (engine.Options.Recorder is nil)")
		return nil
	}
	const bareI, noneI, liteI = 0, 1, 2
	var liteBare, noneBare, liteNone, added, cpuRatio, bound []float64
	cpu := make([][]float64, len(vs))
	all := make([][]*result, len(vs))
	sent := 0
	perReq := func(s sample) float64 { return safeDiv(s.cpu, float64(s.r.sent)) }
	// whole is what one request costs every process it runs through:
	// load generator, mock and proxy.
	whole := func(s sample) float64 { return safeDiv(s.cpu+s.others, float64(s.r.sent)) }
	for _, r := range samples {
		liteBare = append(liteBare, safeDiv(r[liteI].r.rps(), r[bareI].r.rps()))
		noneBare = append(noneBare, safeDiv(r[noneI].r.rps(), r[bareI].r.rps()))
		liteNone = append(liteNone, safeDiv(r[liteI].r.rps(), r[noneI].r.rps()))
		added = append(added, perReq(r[liteI])-perReq(r[bareI]))
		cpuRatio = append(cpuRatio, safeDiv(perReq(r[liteI]), perReq(r[bareI])))
		bound = append(bound, safeDiv(whole(r[bareI]), whole(r[liteI])))
		for i := range vs {
			cpu[i] = append(cpu[i], perReq(r[i]))
			all[i] = append(all[i], r[i].r)
		}
		sent += r[liteI].r.sent
	}
	// A store that drops or fails its rows is cheap for the wrong reason:
	// the ratios only count if every request's row was committed.
	after, err := settledStoreCounters(onAddr, before.written+before.dropped+uint64(sent), 5*time.Second)
	if err != nil {
		return err
	}
	d := after.sub(before)
	// Requests still in flight when a round's clock stops are answered
	// and recorded but not counted as sent: allow one per connection per
	// round.
	slack := uint64(b.opt.conns * rounds)
	healthy := d.written >= uint64(sent) && d.written <= uint64(sent)+slack && d.dropped == 0 && d.failed == 0
	invalid := ""
	if !healthy {
		invalid = " — not valid: the store did not commit every row (see the rows line)"
	}
	lb, ad := spreadOf(liteBare), spreadOf(added)
	b.row(sc, "balance (sqlite) / bare pass-through req/s ratio, per round", lb.format(3, "")+"; "+lb.verdict(0.85, true)+invalid, "≥ 0.85 (issue 9)", lb.med >= 0.85 && healthy)
	b.row(sc, "CPU balance (sqlite) adds per request over the bare pass-through: (sqlite − bare) µs per request, per round", ad.format(1, " µs")+"; "+ad.verdict(22, false)+invalid, "≤ 22 µs (issue 9)", ad.med <= 22 && healthy)
	b.info(sc, "same, as if alone on the 2 cores: (load generator + mock + bare) ÷ (load generator + mock + balance sqlite) CPU per request, per round", spreadOf(bound).format(3, ""))
	b.info(sc, "proxy CPU per request, balance (sqlite) / bare", summarize(cpu[liteI]).format(1, " µs")+" / "+summarize(cpu[bareI]).format(1, " µs"))
	// Per-request CPU moves with the machine's load (less batching per
	// wake-up on a busy box); its ratio to the bare proxy's moves less.
	b.info(sc, "balance (sqlite) / bare CPU per request ratio", spreadOf(cpuRatio).format(2, ""))
	b.info(sc, "balance (store none) / bare req/s ratio; its CPU per request", summarize(noneBare).format(3, "")+"; "+summarize(cpu[noneI]).format(1, " µs"))
	b.info(sc, "added CPU per request over bare: engine (none − bare) / store (sqlite − none)",
		fmt.Sprintf("%.1f / %.1f µs", summarize(cpu[noneI]).med-summarize(cpu[bareI]).med, summarize(cpu[liteI]).med-summarize(cpu[noneI]).med))
	rpsMed := make([]float64, len(vs))
	for i := range vs {
		var xs []float64
		for _, r := range all[i] {
			xs = append(xs, r.rps())
		}
		rpsMed[i] = summarize(xs).med
	}
	// The load generator and the mock share the cores with the proxy: what
	// they spend per request moves the req/s ratio as much as the proxy's.
	otherMed := make([]string, len(vs))
	for i := range vs {
		var xs []float64
		for _, r := range samples {
			xs = append(xs, safeDiv(r[i].others, float64(r[i].r.sent)))
		}
		otherMed[i] = fmt.Sprintf("%.1f", summarize(xs).med)
	}
	b.info(sc, "load generator + mock CPU per request (µs), bare / none / sqlite, median", strings.Join(otherMed, " / "))
	b.info(sc, "req/s bare / none / sqlite, median", fmt.Sprintf("%.0f / %.0f / %.0f", rpsMed[bareI], rpsMed[noneI], rpsMed[liteI]))
	// Socket reads and writes per request: a proxy that batches less per
	// wake-up pays for it here, whatever its own code costs.
	var sys []string
	for i := range vs {
		var rd, wr []float64
		for _, r := range samples {
			if s := r[i]; s.reads >= 0 && s.r.sent > 0 {
				rd = append(rd, float64(s.reads)/float64(s.r.sent))
				wr = append(wr, float64(s.writes)/float64(s.r.sent))
			}
		}
		if len(rd) == 0 {
			sys = nil
			break
		}
		sys = append(sys, fmt.Sprintf("%.2f / %.2f", summarize(rd).med, summarize(wr).med))
	}
	if sys != nil {
		b.info(sc, "read / write system calls per request (/proc/PID/io), bare; none; sqlite", strings.Join(sys, "; "))
	}
	ln := spreadOf(liteNone)
	b.row(sc, "store sqlite / none req/s ratio", ln.format(3, "")+invalid, "≥ 0.95 (issue 5)", ln.med >= 0.95 && healthy)
	for i, v := range vs {
		ok, n := successOf(all[i]...)
		b.row(sc, v.name+" success", pct(ok, n), "100 %", ok == n && n > 0)
	}
	b.row(sc, "rows committed / dropped / failed batches (status) vs requests sent",
		fmt.Sprintf("%d / %d / %d vs %d%s", d.written, d.dropped, d.failed, sent, after.lastErrNote()),
		"committed = requests (+ in flight at round ends), 0 dropped", healthy)
	if cmpAddr != "" {
		const cmpI = 3
		var ratio, cpuRatio []float64
		cmpSent := 0
		for _, r := range samples {
			ratio = append(ratio, safeDiv(r[liteI].r.rps(), r[cmpI].r.rps()))
			cpuRatio = append(cpuRatio, safeDiv(safeDiv(r[liteI].cpu, float64(r[liteI].r.sent)), safeDiv(r[cmpI].cpu, float64(r[cmpI].r.sent))))
			cmpSent += r[cmpI].r.sent
		}
		ca, err := settledStoreCounters(cmpAddr, cmpBefore.written+cmpBefore.dropped+uint64(cmpSent), 5*time.Second)
		if err != nil {
			return err
		}
		cd := ca.sub(cmpBefore)
		cmpOK := cd.written >= uint64(cmpSent) && cd.written <= uint64(cmpSent)+slack && cd.dropped == 0 && cd.failed == 0
		b.info(sc, "-compare "+filepath.Base(b.opt.compare)+": this build / that one (both sqlite), req/s ratio; CPU per request ratio",
			spreadOf(ratio).format(3, "")+"; "+spreadOf(cpuRatio).format(3, ""))
		b.info(sc, "-compare: that build's CPU per request; bare / that build req/s ratio", summarize(cpu[cmpI]).format(1, " µs")+"; "+summarize(func() []float64 {
			var xs []float64
			for _, r := range samples {
				xs = append(xs, safeDiv(r[cmpI].r.rps(), r[bareI].r.rps()))
			}
			return xs
		}()).format(3, ""))
		ok, n := successOf(all[cmpI]...)
		b.row(sc, "-compare: that build's success and rows committed / dropped vs sent", fmt.Sprintf("%s; %d / %d vs %d", pct(ok, n), cd.written, cd.dropped, cmpSent),
			"100 %, committed = requests", ok == n && n > 0 && cmpOK)
	}
	return nil
}

// startBare starts the bare pass-through for the bench, with its pprof
// listener when -profile is on. It sends the mock the bench's direct key.
func (b *bench) startBare(mockAddr string, knobs ...string) (*child, string, error) {
	if b.prof == nil {
		return startBare(b.bareBin, mockAddr, directKey, "", knobs...)
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	paddr := "127.0.0.1:" + strconv.Itoa(port)
	c, addr, err := startBare(b.bareBin, mockAddr, directKey, paddr, knobs...)
	if err == nil {
		b.prof.register(c.pid(), paddr)
	}
	return c, addr, err
}

// storeCounters is the stats writer's health from GET /status.
type storeCounters struct {
	written, dropped, failed uint64
	lastError                string
}

func (c storeCounters) sub(o storeCounters) storeCounters {
	return storeCounters{written: c.written - o.written, dropped: c.dropped - o.dropped, failed: c.failed - o.failed, lastError: c.lastError}
}

func (c storeCounters) lastErrNote() string {
	if c.lastError == "" {
		return ""
	}
	return " (last error: " + firstLine(c.lastError) + ")"
}

// settledStoreCounters polls the store's counters until committed plus
// dropped rows reach want and stop moving (the writer batches, so rows
// land after their requests), or until within passes.
func settledStoreCounters(addr string, want uint64, within time.Duration) (storeCounters, error) {
	deadline := time.Now().Add(within)
	prev, err := readStoreCounters(addr)
	for err == nil && time.Now().Before(deadline) {
		// Longer than the writer's flush interval (500 ms): two equal
		// readings then mean nothing is waiting in a batch.
		time.Sleep(700 * time.Millisecond)
		var c storeCounters
		if c, err = readStoreCounters(addr); err != nil {
			break
		}
		if c == prev && c.written+c.dropped >= want {
			return c, nil
		}
		prev = c
	}
	return prev, err
}

func readStoreCounters(addr string) (storeCounters, error) {
	body, err := getStatus(addr)
	if err != nil {
		return storeCounters{}, err
	}
	return parseStoreCounters(body)
}

// parseStoreCounters reads the store member of a /status JSON document.
func parseStoreCounters(body []byte) (storeCounters, error) {
	var st struct {
		Store *struct {
			Written       uint64 `json:"written"`
			Dropped       uint64 `json:"dropped"`
			FailedBatches uint64 `json:"failed_batches"`
			LastError     string `json:"last_error"`
		} `json:"store"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return storeCounters{}, fmt.Errorf("status JSON: %w", err)
	}
	if st.Store == nil {
		return storeCounters{}, errors.New("status has no store member: the proxy runs without a stats store")
	}
	return storeCounters{written: st.Store.Written, dropped: st.Store.Dropped, failed: st.Store.FailedBatches, lastError: st.Store.LastError}, nil
}

// dbWritten reports whether any non-empty file appeared in dir (the
// database, or its -wal journal).
func dbWritten(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && !e.IsDir() && info.Size() > 0 {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------- openai

const chatBody = `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"Explain how AI works in a few words"}],"temperature":0.7,"max_tokens":256}`

func (b *bench) openai() error {
	sc := "OpenAI chat route vs native route (through the proxy, c" + strconv.Itoa(b.opt.conns) + ")"
	e, err := b.start("openai", mockOpts{})
	if err != nil {
		return err
	}
	defer e.stop()
	native := proxied(e.proxyAddr, genPath, []byte(smallBody))
	chat := target{name: "openai", addr: e.proxyAddr, method: "POST", uri: "/v1/chat/completions", body: []byte(chatBody),
		headers: [][2]string{{"Content-Type", "application/json"}, {"Authorization", "Bearer " + clientToken}}}
	probe := closedLoopN(chat, 1)
	if probe.codes[404] == 1 {
		b.skip(sc, "POST /v1/chat/completions answers 404: the OpenAI chat route is not wired into the engine yet")
		return nil
	}
	if probe.ok != 1 {
		return fmt.Errorf("POST /v1/chat/completions smoke request: %s", probe.codesString())
	}
	closedLoop(native, b.opt.conns, 300*time.Millisecond)
	closedLoop(chat, b.opt.conns, 300*time.Millisecond)
	rounds, dur := b.extraRounds()
	pairs := b.interleave("openai", rounds, dur,
		func() *result { return closedLoop(native, b.opt.conns, dur) },
		func() *result { return closedLoop(chat, b.opt.conns, dur) },
		e.proxy.pid(), e.proxy.pid())
	var ratios, cpuN, cpuC []float64
	var all []*result
	for _, pr := range pairs {
		ratios = append(ratios, safeDiv(pr.b.rps(), pr.a.rps()))
		cpuN = append(cpuN, safeDiv(pr.cpuA, float64(pr.a.sent)))
		cpuC = append(cpuC, safeDiv(pr.cpuB, float64(pr.b.sent)))
		all = append(all, pr.b)
	}
	rs := summarize(ratios)
	b.row(sc, "openai / native req/s ratio", rs.format(3, ""), "≥ 0.85", rs.med >= 0.85)
	b.info(sc, "proxy CPU per request, native / openai", fmt.Sprintf("%.1f / %.1f µs", summarize(cpuN).med, summarize(cpuC).med))
	ok, sent := successOf(all...)
	b.row(sc, "openai route success", pct(ok, sent), "100 %", ok == sent && sent > 0)
	return nil
}

// ---------------------------------------------------------------- wrk

// wrkRounds repeats the saturation rounds with wrk as the load generator,
// a cross-check that the Go load generator is not what limits the ratio.
func (b *bench) wrkRounds(e *env, d, p target) {
	sc := fmt.Sprintf("throughput with wrk (-t2 -c%d, %d×%v)", b.opt.conns, b.opt.rounds, b.opt.duration)
	if _, err := exec.LookPath("wrk"); err != nil {
		b.skip(sc, "wrk is not on PATH (Debian: apt-get install wrk)")
		return
	}
	scriptFor := func(t target) (string, error) {
		var s strings.Builder
		s.WriteString("wrk.method = \"POST\"\n")
		for _, h := range t.headers {
			fmt.Fprintf(&s, "wrk.headers[%q] = %q\n", h[0], h[1])
		}
		fmt.Fprintf(&s, "wrk.body = %q\n", string(t.body))
		s.WriteString(`done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
`)
		path := filepath.Join(b.tmp, "wrk-"+t.name+".lua")
		return path, os.WriteFile(path, []byte(s.String()), 0o600)
	}
	sd, err1 := scriptFor(d)
	sp, err2 := scriptFor(p)
	if err := errors.Join(err1, err2); err != nil {
		b.skip(sc, "cannot write the wrk script: "+err.Error())
		return
	}
	var runErr error
	run := func(t target, script string) *result {
		r, err := runWrk(t, script, b.opt.conns, b.opt.duration)
		if err != nil && runErr == nil {
			runErr = err
		}
		return r
	}
	pairs := b.interleave("wrk", b.opt.rounds, b.opt.duration,
		func() *result { return run(d, sd) },
		func() *result { return run(p, sp) },
		e.mock.pid(), e.proxy.pid())
	if runErr != nil {
		b.skip(sc, "wrk failed: "+firstLine(runErr.Error()))
		return
	}
	var ratios, cpu []float64
	for _, pr := range pairs {
		ratios = append(ratios, safeDiv(pr.b.rps(), pr.a.rps()))
		cpu = append(cpu, safeDiv(pr.cpuB, float64(pr.b.sent)))
	}
	rs, cs := summarize(ratios), summarize(cpu)
	b.row(sc, "proxy/direct req/s ratio", rs.format(3, ""), "≥ 0.42", rs.med >= 0.42)
	b.row(sc, "proxy CPU per request", cs.format(1, " µs"), "≤ 30 µs", cs.med <= 30)
}

// runWrk runs one bounded wrk and converts its BENCH line into a result
// (latency percentiles only, as two synthetic samples).
func runWrk(t target, script string, conns int, d time.Duration) (*result, error) {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wrk", "-t2", "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(secs)+"s", "--latency", "-s", script, "http://"+t.addr+t.uri)
	out, err := cmd.Output()
	r := &result{codes: map[int]int{}}
	if err != nil {
		return r, fmt.Errorf("wrk: %w", err)
	}
	i := bytes.Index(out, []byte("BENCH "))
	if i < 0 {
		return r, fmt.Errorf("wrk printed no BENCH line: %.300s", out)
	}
	f := strings.Fields(firstLine(string(out[i+6:])))
	if len(f) != 6 {
		return r, fmt.Errorf("wrk BENCH line %q", firstLine(string(out[i:])))
	}
	n := make([]int64, 6)
	for k := range f {
		v, err := strconv.ParseInt(f[k], 10, 64)
		if err != nil {
			return r, fmt.Errorf("wrk BENCH field %q: %w", f[k], err)
		}
		n[k] = v
	}
	r.sent = int(n[0])
	r.elapsed = time.Duration(n[1]) * time.Microsecond
	r.errs = int(n[3])
	r.ok = r.sent - int(n[2]) - r.errs
	r.codes[200] = r.ok
	if n[2] > 0 {
		r.codes[0] = int(n[2]) // non-2xx, code unknown to wrk's summary
	}
	r.lat = []time.Duration{time.Duration(n[4]) * time.Microsecond, time.Duration(n[5]) * time.Microsecond}
	return r, nil
}
