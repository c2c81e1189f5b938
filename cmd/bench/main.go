// Command bench is the project's load benchmark: the mock Gemini upstream
// (cmd/mockgemini) called directly versus through balance (cmd/balance),
// both run as child processes on 127.0.0.1, in interleaved rounds.
//
//	go run ./cmd/bench [-rounds 5] [-duration 5s] [-scenarios all] [-wrk]
//
// Absolute req/s on a shared 2-core machine swing by 2× between runs, so
// every figure it reports is either a ratio from the same run (proxy vs
// direct, paired A/B rounds) or a per-request cost read from /proc (CPU
// µs per request, RSS per stream). See README.md and
// shared/reference/benchmarking.md for the method and the targets.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"
)

type options struct {
	rounds    int
	duration  time.Duration
	scenarios []string
	wrk       bool
	conns     int
	rate      int
	streams   int
	binDir    string
	markdown  string
	profile   string
	// compare is another balance binary the store scenario also runs
	// (store sqlite), for a before/after of a change in the same run.
	compare string
	// storeRounds is the store scenario's rounds: many short ones, so
	// the median of its per-round ratios gets a tight interval.
	storeRounds int
}

// allScenarios in run order; the first five are the core set.
var allScenarios = []string{"throughput", "latency", "streams", "failing", "bigbody", "store", "hook", "openai"}

// extraScenarios run only when named: they diagnose, they have no target.
var extraScenarios = []string{"knobs"}

type bench struct {
	opt               options
	root, tmp         string
	proxyBin, mockBin string
	bareBin           string // the bare fasthttp pass-through (cmd/bench/bareproxy)
	keys              []string
	log               io.Writer
	rows              []row
	notes             []string
	prof              *profiler
	// commitAtBuild and loadStart are taken when the binaries are built:
	// the tree can move during a run, since others commit meanwhile.
	commitAtBuild, loadStart string
}

func main() {
	os.Exit(run())
}

func run() (code int) {
	var o options
	var scen string
	flag.IntVar(&o.rounds, "rounds", 5, "interleaved direct/proxy rounds per scenario (≥ 1)")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of one saturation round; other scenarios use fractions of it")
	flag.StringVar(&scen, "scenarios", "all", "comma-separated: all (= "+strings.Join(allScenarios, ",")+") or any of those, or "+strings.Join(extraScenarios, ","))
	flag.BoolVar(&o.wrk, "wrk", false, "also run the saturation rounds with wrk (must be on PATH) as a cross-check")
	flag.IntVar(&o.storeRounds, "store-rounds", 15, "rounds of the store scenario, each 1/5 of -duration per proxy (≥ 6 for a 95 % confidence interval on its medians)")
	flag.IntVar(&o.conns, "c", 64, "connections for the saturation scenarios")
	flag.IntVar(&o.rate, "rate", 2000, "fixed request rate of the latency scenario (req/s)")
	flag.IntVar(&o.streams, "streams", 1000, "concurrent SSE streams of the streams scenario")
	flag.StringVar(&o.binDir, "bin", "bin", "where to build bin/balance, bin/mockgemini and bin/bareproxy (relative to the module root)")
	flag.StringVar(&o.markdown, "out", "", "also write the final table to this file")
	flag.StringVar(&o.compare, "compare", "", "another balance binary (say, a build of the previous commit) that the store scenario also runs with store sqlite, as a fourth variant, for a before/after in the same run")
	flag.StringVar(&o.profile, "profile", "", "build a pprof-enabled proxy and save one CPU profile per scenario into this directory (skews the profiled rounds slightly)")
	flag.Parse()
	if o.rounds < 1 || o.storeRounds < 1 || o.duration < 100*time.Millisecond || o.conns < 1 || o.rate < 1 || o.streams < 1 {
		fmt.Fprintln(os.Stderr, "bench: -rounds, -store-rounds, -c, -rate, -streams must be ≥ 1 and -duration ≥ 100ms")
		return 2
	}
	for _, s := range strings.Split(scen, ",") {
		s = strings.TrimSpace(s)
		switch {
		case s == "all":
			o.scenarios = allScenarios
		case slices.Contains(allScenarios, s), slices.Contains(extraScenarios, s):
			if !slices.Contains(o.scenarios, s) {
				o.scenarios = append(o.scenarios, s)
			}
		default:
			fmt.Fprintf(os.Stderr, "bench: unknown scenario %q (have: all, %s, %s)\n", s, strings.Join(allScenarios, ", "), strings.Join(extraScenarios, ", "))
			return 2
		}
	}

	// Children must die with us on every path: normal return, error,
	// panic (re-raised after cleanup) and Ctrl-C / SIGTERM.
	defer killAll()
	defer func() {
		if p := recover(); p != nil {
			killAll()
			panic(p)
		}
	}()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	quit := make(chan struct{})
	defer func() { signal.Stop(sigs); close(quit) }()
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "\nbench: %v: stopping children\n", s)
			killAll()
			os.Exit(130)
		case <-quit:
		}
	}()

	b := &bench{opt: o, keys: benchKeys(), log: os.Stderr}
	var err error
	if b.root, err = repoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	binDir := o.binDir
	if !filepath.IsAbs(binDir) {
		binDir = filepath.Join(b.root, binDir)
	}
	if o.compare != "" {
		if o.compare, err = filepath.Abs(o.compare); err == nil && !exists(o.compare) {
			err = fmt.Errorf("-compare %s: no such file", o.compare)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 2
		}
		b.opt.compare = o.compare
	}
	b.proxyBin, b.mockBin = filepath.Join(binDir, "balance"), filepath.Join(binDir, "mockgemini")
	b.bareBin = filepath.Join(binDir, "bareproxy")
	b.logf("building %s, %s and %s", b.proxyBin, b.mockBin, b.bareBin)
	b.loadStart, b.commitAtBuild = loadAvg(), gitDescribe(b.root)
	if err := buildBinaries(b.root, binDir); err != nil {
		// The checkout is shared with engineers mid-edit; an older binary
		// still measures something, as long as the report says so.
		if !exists(b.proxyBin) || !exists(b.mockBin) || !exists(b.bareBin) {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		note := fmt.Sprintf("go build failed (%s); measured the existing binaries (bin/balance from %s)", firstLine(err.Error()), modTime(b.proxyBin))
		b.logf("WARNING: %s", note)
		b.notes = append(b.notes, note)
	}
	if b.tmp, err = os.MkdirTemp("", "balance-bench-"); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer os.RemoveAll(b.tmp)
	if o.profile != "" {
		dir, err := filepath.Abs(o.profile)
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err == nil {
			b.logf("building the profiling variant of cmd/balance")
			b.proxyBin, err = buildProfilingProxy(b.root, b.tmp, dir)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		b.prof = &profiler{dir: dir, addrs: map[int]string{}, taken: map[string]bool{}}
		b.notes = append(b.notes, "-profile: the proxy was a pprof-enabled build (with symbols); the first proxied round of each scenario was profiled")
	}

	began := time.Now()
	failed := false
	for _, s := range o.scenarios {
		b.logf("== %s", s)
		t0 := time.Now()
		var err error
		switch s {
		case "throughput":
			err = b.throughput()
		case "latency":
			err = b.latency()
		case "streams":
			err = b.streams()
		case "failing":
			err = b.failing()
		case "bigbody":
			err = b.bigbody()
		case "store":
			err = b.store()
		case "hook":
			err = b.hook()
		case "openai":
			err = b.openai()
		case "knobs":
			err = b.knobs()
		}
		if err != nil {
			failed = true
			b.row(s, "scenario", "ERROR: "+firstLine(err.Error()), "runs", false)
			b.logf("  %s failed: %v", s, err)
		}
		b.logf("  (%s took %.1f s; load average %s)", s, time.Since(t0).Seconds(), loadAvg())
	}
	killAll()
	if b.prof != nil {
		b.prof.wg.Wait()
		for _, f := range b.prof.files {
			if strings.HasSuffix(f, ".pprof") {
				b.logf("profile: %s   (go tool pprof -top %s %s)", f, b.proxyBin, f)
			} else {
				b.logf("profile: %s", f)
			}
		}
	}
	report := b.report(time.Since(began))
	fmt.Print(report)
	if o.markdown != "" {
		if err := os.WriteFile(o.markdown, []byte(report), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}
	if failed {
		return 1
	}
	return 0
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, format+"\n", args...)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func modTime(path string) string {
	if fi, err := os.Stat(path); err == nil {
		return fi.ModTime().Format(time.DateTime)
	}
	return "?"
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// row is one line of the final table.
type row struct {
	scenario, metric, value, target, verdict string
}

// row records a metric with a target; info one without.
func (b *bench) row(scenario, metric, value, target string, pass bool) {
	v := "MISS"
	if pass {
		v = "PASS"
	}
	b.rows = append(b.rows, row{scenario, metric, value, target, v})
}

func (b *bench) info(scenario, metric, value string) {
	b.rows = append(b.rows, row{scenario, metric, value, "—", "info"})
}

func (b *bench) skip(scenario, why string) {
	b.rows = append(b.rows, row{scenario, "skipped", why, "—", "SKIP"})
}

// fasthttpVersion reads the fasthttp version this binary was built with,
// which is the one balance uses (same module graph).
func fasthttpVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/valyala/fasthttp" {
				return d.Version
			}
		}
	}
	return "unknown"
}
