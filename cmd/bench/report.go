package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machineInfo describes where and how the numbers were taken, so a pasted
// table carries its own context.
type machineInfo struct {
	cpu, kernel, mem, gomaxprocs, gogc, goVersion, fasthttp, commit string
	cores                                                           int
}

func readMachine(root string) machineInfo {
	m := machineInfo{cores: runtime.NumCPU(), goVersion: runtime.Version(), fasthttp: fasthttpVersion()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					m.mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	// The children inherit our environment, so these are their settings.
	m.gomaxprocs = os.Getenv("GOMAXPROCS")
	if m.gomaxprocs == "" {
		m.gomaxprocs = strconv.Itoa(runtime.NumCPU()) + " (default)"
	}
	m.gogc = os.Getenv("GOGC")
	if m.gogc == "" {
		m.gogc = "100 (default)"
	}
	m.commit = gitDescribe(root)
	return m
}

// report renders the final Markdown: context, the table, and notes.
func (b *bench) report(took time.Duration) string {
	m := readMachine(b.root)
	if b.commitAtBuild != "" {
		m.commit = b.commitAtBuild
	}
	var s strings.Builder
	fmt.Fprintf(&s, "\n## balance load benchmark (`go run ./cmd/bench`)\n\n")
	fmt.Fprintf(&s, "- machine: %s, %d cores, %s RAM, Linux %s\n", m.cpu, m.cores, m.mem, m.kernel)
	fmt.Fprintf(&s, "- proxy and mock: GOMAXPROCS=%s, GOGC=%s, %s, fasthttp %s, commit %s\n", m.gomaxprocs, m.gogc, m.goVersion, m.fasthttp, m.commit)
	fmt.Fprintf(&s, "- proxy config: product defaults (max_request_body 32 MB, upstream max_conns 4096, max_retries 3, cooldown 60 s), 100 keys, store none, log_level error\n")
	fmt.Fprintf(&s, "- run: %s, %d rounds × %v (store: %d rounds × %v per proxy), c%d, %d req/s, %d streams, total %.0f s; load generator, proxy and mock share the same cores, all on 127.0.0.1\n",
		strings.Join(b.opt.scenarios, ","), b.opt.rounds, b.opt.duration, b.opt.storeRounds, b.opt.duration/5, b.opt.conns, b.opt.rate, b.opt.streams, took.Seconds())
	if b.loadStart != "" {
		// The figure at the end includes this run's own processes (load
		// generator, proxy, mock); the one before it is the machine's
		// other work, which competes with every measurement.
		fmt.Fprintf(&s, "- load average (1/5/15 min) before the run: %s; at the end, including the run itself: %s\n", b.loadStart, loadAvg())
	}
	s.WriteString("\n| scenario | metric | value | target | result |\n|---|---|---|---|---|\n")
	last := ""
	for _, r := range b.rows {
		sc := r.scenario
		if sc == last {
			sc = "〃"
		} else {
			last = sc
		}
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s |\n", cell(sc), cell(r.metric), cell(r.value), cell(r.target), r.verdict)
	}
	pass, miss := 0, 0
	for _, r := range b.rows {
		switch r.verdict {
		case "PASS":
			pass++
		case "MISS":
			miss++
		}
	}
	fmt.Fprintf(&s, "\n%d PASS, %d MISS", pass, miss)
	if len(b.notes) > 0 {
		s.WriteString("\n\nNotes:\n")
		for _, n := range b.notes {
			fmt.Fprintf(&s, "- %s\n", n)
		}
	} else {
		s.WriteString("\n")
	}
	return s.String()
}

// cell keeps a value from breaking the Markdown table.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ")
}

// loadAvg is the 1, 5 and 15 minute load averages from /proc/loadavg, or
// "?" when it cannot be read.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return parseLoadAvg(string(b))
}

func parseLoadAvg(s string) string {
	f := strings.Fields(s)
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " / ")
}

// gitDescribe is the checkout's commit, with -dirty when the tree (which
// is what go build compiled) has uncommitted edits.
func gitDescribe(root string) string {
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = root
	b, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
