package main

import (
	"fmt"
	"strings"
	"time"
)

// The knobs scenario (run only when named) prices balance's fasthttp
// settings one at a time on the bare pass-through, which has none of
// balance's code: every variant is cmd/bench/bareproxy on one mock with
// one setting switched to balance's value, and all of them take turns in
// every round. It tells how much of balance's extra CPU per request its
// configuration costs rather than its code.

// knob is one bareproxy variant: its flags and what they stand for.
type knob struct {
	name, what string
	flags      []string
}

var knobVariants = []knob{
	{"bare", "bare pass-through (fasthttp defaults)", nil},
	{"reducemem", "Server.ReduceMemoryUsage = true (engine/server.go)", []string{"-reduce-memory"}},
	{"srvtimeouts", "Server.ReadTimeout 30s + IdleTimeout 90s (server read_timeout / idle_timeout defaults)", []string{"-read-timeout", "30s", "-idle-timeout", "90s"}},
	{"uptimeout", "a 600 s deadline on every upstream call (upstream timeout default)", []string{"-upstream-timeout", "600s"}},
	{"client", "balance's upstream HostClient (engine/upstream) with the 600 s deadline", []string{"-balance-client", "-upstream-timeout", "600s"}},
	{"all", "all of the above", []string{"-reduce-memory", "-read-timeout", "30s", "-idle-timeout", "90s", "-balance-client", "-upstream-timeout", "600s"}},
}

func (b *bench) knobs() error {
	sc := fmt.Sprintf("balance's fasthttp settings on the bare pass-through (c%d)", b.opt.conns)
	mock, mockAddr, err := startMock(b.mockBin, b.keys, mockOpts{})
	if err != nil {
		return err
	}
	defer mock.stop()
	rounds, dur := b.opt.rounds, b.opt.duration*2/5
	vs := make([]variant, len(knobVariants))
	for i, k := range knobVariants {
		c, addr, err := b.startBare(mockAddr, k.flags...)
		if err != nil {
			return fmt.Errorf("bareproxy %s: %w", k.name, err)
		}
		defer c.stop()
		t := proxied(addr, genPath, []byte(smallBody))
		if err := b.checkOK(t); err != nil {
			return fmt.Errorf("%s: %w", k.name, err)
		}
		closedLoop(t, b.opt.conns, 300*time.Millisecond)
		vs[i] = variant{name: k.name, pid: c.pid(), run: func() *result { return closedLoop(t, b.opt.conns, dur) }}
	}
	samples := b.interleaveN("knobs", rounds, dur, vs)
	for i, k := range knobVariants {
		var ratio, cpu, added, rd, wr []float64
		var all []*result
		for _, r := range samples {
			s, base := r[i], r[0]
			ratio = append(ratio, safeDiv(s.r.rps(), base.r.rps()))
			c := safeDiv(s.cpu, float64(s.r.sent))
			cpu = append(cpu, c)
			added = append(added, c-safeDiv(base.cpu, float64(base.r.sent)))
			if s.reads >= 0 && s.r.sent > 0 {
				rd = append(rd, float64(s.reads)/float64(s.r.sent))
				wr = append(wr, float64(s.writes)/float64(s.r.sent))
			}
			all = append(all, s.r)
		}
		val := []string{"CPU " + summarize(cpu).format(1, " µs")}
		if i > 0 {
			val = append(val, "added "+summarize(added).format(1, " µs"), "req/s ratio "+summarize(ratio).format(3, ""))
		}
		if len(rd) > 0 {
			val = append(val, fmt.Sprintf("syscalls/req read %.2f write %.2f", summarize(rd).med, summarize(wr).med))
		}
		b.info(sc, k.what, strings.Join(val, "; "))
		ok, sent := successOf(all...)
		if ok != sent || sent == 0 {
			b.row(sc, k.name+" success", pct(ok, sent), "100 %", false)
		}
	}
	b.logf("  knobs: %d rounds of %v per variant", rounds, dur)
	return nil
}
