package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// Tolerances of the flatness check: the mean of the last quarter of the
// run may exceed the mean of the second quarter (after warm-up) by this
// factor plus this slack. The slack absorbs GC timing and the few
// connections that come and go; a leak grows with the run and passes it
// in a long enough run.
const (
	rssFactor       = 1.20
	rssSlack        = 16 << 20
	goroutineFactor = 1.25
	goroutineSlack  = 20
	cancelTarget    = 100 * time.Millisecond
)

// Flat compares one resource between the second and the last quarter.
type Flat struct {
	Start, Warm, End float64 // first sample, mean of Q2, mean of Q4
	OK               bool
	Samples          int
}

// flatness judges samples taken over a run of length total.
func flatness(samples []Sample, total time.Duration, value func(Sample) float64, factor, slack float64) Flat {
	f := Flat{Samples: len(samples)}
	if len(samples) == 0 {
		return f
	}
	f.Start = value(samples[0])
	var q2, q4 []float64
	for _, s := range samples {
		switch {
		case s.At >= total/4 && s.At < total/2:
			q2 = append(q2, value(s))
		case s.At >= total*3/4:
			q4 = append(q4, value(s))
		}
	}
	f.Warm, f.End = mean(q2), mean(q4)
	f.OK = len(q2) > 0 && len(q4) > 0 && f.End <= f.Warm*factor+slack
	return f
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// percentile returns the p-th percentile (0–100) of sorted d, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// CancelFigure is how long upstream calls ran on after their client
// cancelled.
type CancelFigure struct {
	Cancelled        int             // requests the client cancelled
	NeverUpstream    int             // no upstream call was made for them
	DoneBeforeCancel int             // every upstream call had ended before the cancel
	Outlived         []time.Duration // for the rest: last call's end − cancel, sorted
	Unresolved       int             // calls still open when the watch gave up
}

// Over counts the calls that outlived their client by more than limit.
func (c CancelFigure) Over(limit time.Duration) int {
	n := 0
	for _, d := range c.Outlived {
		if d > limit {
			n++
		}
	}
	return n
}

// cancelFigure matches the cancelled requests with their upstream calls.
func cancelFigure(results []Result, calls func(id int64) []upstreamCall) CancelFigure {
	var f CancelFigure
	for _, r := range results {
		if r.Outcome != OutcomeCancelled {
			continue
		}
		f.Cancelled++
		cs := calls(r.ID)
		if len(cs) == 0 {
			f.NeverUpstream++
			continue
		}
		var last time.Time
		for _, c := range cs {
			if c.How == "unresolved" {
				f.Unresolved++
			}
			if c.End.After(last) {
				last = c.End
			}
		}
		if d := last.Sub(r.CancelAt); d > 0 {
			f.Outlived = append(f.Outlived, d)
		} else {
			f.DoneBeforeCancel++
		}
	}
	slices.Sort(f.Outlived)
	return f
}

// StoreFacts is what the run left in the store.
type StoreFacts struct {
	ClientRequests int
	Written        uint64 // status: rows committed
	Dropped        uint64 // status: rows lost
	FailedBatches  uint64
	OK             bool // status: the last batch was written
	Counts         storeCounts
	CountErr       string
}

// Report is everything the soak measured, and the judge of the run.
type Report struct {
	Planned, Elapsed      time.Duration
	Concurrency           int
	Results               []Result
	Faults                map[string]int
	Reloads               reloadStats
	OutageFrom, OutageTo  time.Duration
	OutageStoreStatus     string // status's store line seen during the outage
	Store                 StoreFacts
	Samples               []Sample
	RSS, Goroutines       Flat
	Cancel                CancelFigure
	RequireCancel         bool
	Log                   logFacts
	LogSecrets, DBSecrets map[string]int
	DBValuesScanned       int
	Problems              []string // setup or shutdown failures
}

// judge fills the derived figures.
func (r *Report) judge() {
	r.RSS = flatness(r.Samples, r.Elapsed, func(s Sample) float64 { return float64(s.RSS) }, rssFactor, rssSlack)
	r.Goroutines = flatness(r.Samples, r.Elapsed, func(s Sample) float64 { return float64(s.Goroutines) }, goroutineFactor, goroutineSlack)
}

// Failures lists every assertion the run broke; empty means it passed.
func (r *Report) Failures() []string {
	var out []string
	out = append(out, r.Problems...)
	bad := 0
	reasons := map[string]int{}
	for _, res := range r.Results {
		if res.Outcome == OutcomeBad {
			bad++
			reasons[res.Route.String()+": "+res.Reason]++
		}
	}
	if bad > 0 {
		out = append(out, fmt.Sprintf("%d request(s) got neither a 2xx nor a clean error in their protocol:", bad))
		for _, k := range topKeys(reasons, 8) {
			out = append(out, fmt.Sprintf("    %5d× %s", reasons[k], k))
		}
	}
	out = append(out, r.Reloads.Failures...)
	if s := r.Store; s.Dropped > 0 {
		out = append(out, fmt.Sprintf("the store dropped %d request record(s) (status store.dropped): records were lost", s.Dropped))
	}
	if !r.Store.OK {
		out = append(out, "the store was not back to ok at the end of the run (status store.ok=false)")
	}
	if s := r.Store; s.CountErr != "" {
		out = append(out, "could not count the store's rows: "+s.CountErr)
	} else if int64(s.ClientRequests) != s.Counts.Rows || s.Counts.Rows != s.Counts.RollupTotal {
		out = append(out, fmt.Sprintf("store has %d request rows (rollups: %d) for %d client requests: %d missing",
			s.Counts.Rows, s.Counts.RollupTotal, s.ClientRequests, int64(s.ClientRequests)-s.Counts.Rows))
	}
	for k, n := range r.LogSecrets {
		out = append(out, fmt.Sprintf("a secret (%s) appears %d time(s) in balance's log", redactFor(k), n))
	}
	for k, n := range r.DBSecrets {
		out = append(out, fmt.Sprintf("a secret appears in %d row(s) of %s", n, k))
	}
	if len(r.Log.Panics) > 0 {
		out = append(out, fmt.Sprintf("balance's log has %d panic/fatal/race line(s), first: %s", len(r.Log.Panics), r.Log.Panics[0]))
	}
	if !r.RSS.OK {
		out = append(out, fmt.Sprintf("RSS not flat: last quarter %s vs second quarter %s (limit ×%.2f + %s, %d samples)",
			mib(r.RSS.End), mib(r.RSS.Warm), rssFactor, mib(rssSlack), r.RSS.Samples))
	}
	if !r.Goroutines.OK {
		out = append(out, fmt.Sprintf("goroutines not flat: last quarter %.0f vs second quarter %.0f (limit ×%.2f + %d, %d samples)",
			r.Goroutines.End, r.Goroutines.Warm, goroutineFactor, goroutineSlack, r.Goroutines.Samples))
	}
	if r.RequireCancel {
		if n := r.Cancel.Over(cancelTarget); n > 0 {
			out = append(out, fmt.Sprintf("%d upstream call(s) outlived their cancelled client by more than %s (worst %s)",
				n, cancelTarget, r.Cancel.Outlived[len(r.Cancel.Outlived)-1].Round(time.Millisecond)))
		}
	}
	return out
}

// redactFor names a secret without printing it.
func redactFor(s string) string {
	if len(s) < 12 {
		return "…"
	}
	return s[:4] + "…" + s[len(s)-4:]
}

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

// topKeys returns the n keys with the largest counts.
func topKeys(m map[string]int, n int) []string {
	keys := slices.Collect(maps.Keys(m))
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys[:min(n, len(keys))]
}

// Print writes the one-screen summary.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "soak: %s planned, %s run, %d clients\n", r.Planned, r.Elapsed.Round(time.Second), r.Concurrency)

	var byRoute [routeCount]map[Outcome]int
	var lat [routeCount][]time.Duration
	var all []time.Duration
	for i := range byRoute {
		byRoute[i] = map[Outcome]int{}
	}
	for _, res := range r.Results {
		byRoute[res.Route][res.Outcome]++
		if res.Outcome == OutcomeOK || res.Outcome == OutcomeCleanError {
			lat[res.Route] = append(lat[res.Route], res.Latency)
			all = append(all, res.Latency)
		}
	}
	fmt.Fprintf(w, "requests: %d (%.1f/s)\n", len(r.Results), float64(len(r.Results))/max(r.Elapsed.Seconds(), 1))
	fmt.Fprintf(w, "  %-14s %7s %7s %9s %5s %9s %9s\n", "route", "ok", "error", "cancelled", "BAD", "p50", "p99")
	for i := Route(0); i < routeCount; i++ {
		m := byRoute[i]
		slices.Sort(lat[i])
		fmt.Fprintf(w, "  %-14s %7d %7d %9d %5d %9s %9s\n", i, m[OutcomeOK], m[OutcomeCleanError], m[OutcomeCancelled], m[OutcomeBad],
			percentile(lat[i], 50).Round(time.Millisecond), percentile(lat[i], 99).Round(time.Millisecond))
	}
	slices.Sort(all)
	fmt.Fprintf(w, "  latency (answered, all routes): p50 %s, p99 %s\n", percentile(all, 50).Round(time.Millisecond), percentile(all, 99).Round(time.Millisecond))

	var faults []string
	for _, k := range slices.Sorted(maps.Keys(r.Faults)) {
		faults = append(faults, fmt.Sprintf("%s %d", k, r.Faults[k]))
	}
	fmt.Fprintf(w, "faults injected: %s\n", strings.Join(faults, ", "))
	rl := r.Reloads
	fmt.Fprintf(w, "reloads: good %d applied (%d missed), broken %d refused (%d missed), hook swaps %d (%d missed)\n",
		rl.GoodApplied, rl.GoodMissed, rl.BrokenRefused, rl.BrokenMissed, rl.HookSwaps, rl.HookSwapsMissed)
	fmt.Fprintf(w, "mysql outage: %s → %s (%s); store during it: %s\n", r.OutageFrom.Round(time.Second), r.OutageTo.Round(time.Second),
		(r.OutageTo - r.OutageFrom).Round(time.Second), r.OutageStoreStatus)
	s := r.Store
	fmt.Fprintf(w, "store: %d client requests, %d rows (rollups %d, error rows %d); status ok=%t written %d, dropped %d, failed batches %d\n",
		s.ClientRequests, s.Counts.Rows, s.Counts.RollupTotal, s.Counts.ErrorRows, s.OK, s.Written, s.Dropped, s.FailedBatches)
	fmt.Fprintf(w, "RSS: start %s, warm %s, end %s; goroutines: start %.0f, warm %.0f, end %.0f (%d samples; end ≤ warm×%.2f+%s / ×%.2f+%d)\n",
		mib(r.RSS.Start), mib(r.RSS.Warm), mib(r.RSS.End), r.Goroutines.Start, r.Goroutines.Warm, r.Goroutines.End, r.RSS.Samples,
		rssFactor, mib(rssSlack), goroutineFactor, goroutineSlack)
	c := r.Cancel
	fmt.Fprintf(w, "cancel→upstream close: %d cancelled, %d never upstream, %d upstream done first, %d outlived: p50 %s, p99 %s, max %s, >%s: %d (unresolved %d)%s\n",
		c.Cancelled, c.NeverUpstream, c.DoneBeforeCancel, len(c.Outlived), percentile(c.Outlived, 50).Round(time.Millisecond),
		percentile(c.Outlived, 99).Round(time.Millisecond), percentile(c.Outlived, 100).Round(time.Millisecond), cancelTarget,
		c.Over(cancelTarget), c.Unresolved, map[bool]string{true: " [required]", false: " [reported only: -require-cancel=false]"}[r.RequireCancel])
	fmt.Fprintf(w, "secrets: log %d lines (%d warn, %d error), %d hit(s); database %d values scanned, %d hit(s)\n",
		r.Log.Lines, r.Log.Warn, r.Log.Error, len(r.LogSecrets), r.DBValuesScanned, len(r.DBSecrets))
	if f := r.Failures(); len(f) > 0 {
		fmt.Fprintf(w, "FAIL (%d):\n", len(f))
		for _, line := range f {
			fmt.Fprintln(w, "  "+line)
		}
		return
	}
	fmt.Fprintln(w, "PASS")
}
