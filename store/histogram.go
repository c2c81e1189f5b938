package store

import "time"

// LatencyBounds are the upper bounds of the fixed latency histogram kept in
// every rollup row (columns h00..h15; the last bucket is unbounded). Fixed
// buckets let percentiles over any period be computed by summing counters,
// without raw rows. The spacing is dense where Gemini answers usually land
// (0.25–12 s) and coarse for long streams.
var LatencyBounds = [numBuckets - 1]time.Duration{
	50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 1500 * time.Millisecond, 2 * time.Second, 3 * time.Second,
	5 * time.Second, 8 * time.Second, 12 * time.Second, 20 * time.Second,
	30 * time.Second, 60 * time.Second, 120 * time.Second,
}

const numBuckets = 16

// Histogram counts requests per latency bucket; index i counts latencies
// up to LatencyBounds[i], the last index everything longer.
type Histogram [numBuckets]int64

func bucketOf(d time.Duration) int {
	for i, b := range LatencyBounds {
		if d <= b {
			return i
		}
	}
	return numBuckets - 1
}

// Quantile estimates the q-quantile (0 < q <= 1) by linear interpolation
// inside the bucket that holds it. Values in the unbounded last bucket are
// reported as its lower bound. An empty histogram yields 0.
func (h *Histogram) Quantile(q float64) time.Duration {
	var total int64
	for _, c := range h {
		total += c
	}
	if total == 0 || q <= 0 {
		return 0
	}
	if q > 1 {
		q = 1
	}
	rank := q * float64(total)
	var cum float64
	for i, c := range h {
		if c == 0 {
			continue
		}
		if cum+float64(c) >= rank {
			if i == numBuckets-1 {
				return LatencyBounds[numBuckets-2]
			}
			var lo time.Duration
			if i > 0 {
				lo = LatencyBounds[i-1]
			}
			hi := LatencyBounds[i]
			frac := (rank - cum) / float64(c)
			return lo + time.Duration(frac*float64(hi-lo))
		}
		cum += float64(c)
	}
	return LatencyBounds[numBuckets-2]
}

func (h *Histogram) add(o *Histogram) {
	for i := range h {
		h[i] += o[i]
	}
}
