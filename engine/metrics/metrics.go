// Package metrics exposes the proxy's counters in the Prometheus text
// format, from a registry the Server owns (never the global one, so two
// servers in one process, as in tests, do not mix their numbers).
//
// Two kinds of numbers live here. Per-request counters and histograms are
// updated by Observe on the request path, so Observe is built to be cheap:
// each distinct label set (pool × token × protocol × error class) resolves
// its prometheus children once and keeps them in a copy-on-write map read
// without a lock, so a request costs one map lookup and a few atomic adds,
// never a WithLabelValues call (which hashes and locks per call). State
// that already lives elsewhere (key health per pool, in-flight requests,
// store queue depth and drops, reloads) is not mirrored per request: a
// collector reads it from a Snapshot at scrape time, so it can never drift
// from the runtime it describes.
package metrics

import (
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/balanceproxy/balance/store"
)

// ContentType is the media type of Write's output (text format 0.0.4).
var ContentType = string(expfmt.NewFormat(expfmt.TypeTextPlain))

// DefaultMaxLabelSets bounds the label sets Observe resolves. Labels come
// from the config (pool and token names) and small fixed sets (protocol,
// error class), so this is far above any real config; past it, new label
// sets share one overflow line rather than growing without bound.
const DefaultMaxLabelSets = 4096

// overflow is the label value used once the label-set cap is reached.
const overflow = "_other"

// Options configure New.
type Options struct {
	// MaxLabelSets overrides DefaultMaxLabelSets when positive.
	MaxLabelSets int
}

// Metrics is the Server's registry and its per-request instruments.
type Metrics struct {
	reg *prometheus.Registry
	// maxLines is the label-set cap (Options.MaxLabelSets).
	maxLines int

	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	attempts *prometheus.CounterVec
	streamed *prometheus.CounterVec
	tokens   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	ttfb     *prometheus.HistogramVec

	// lines maps a label set to its pre-resolved children. Readers load
	// the pointer and index the map with no lock; writers (a new label
	// set, rare) copy the map under mu and swap it in.
	lines atomic.Pointer[map[lineKey]*line]
	mu    sync.Mutex

	source atomic.Pointer[func() Snapshot]
}

type lineKey struct {
	pool, token, protocol, class string
}

// line holds the children one label set updates.
type line struct {
	requests, attempts, streamed prometheus.Counter
	errors                       prometheus.Counter // nil for successes
	prompt, completion, thought  prometheus.Counter
	cached                       prometheus.Counter
	latency, ttfb                prometheus.Observer
}

// Snapshot is the state read at scrape time. Every field is optional.
type Snapshot struct {
	// Keys counts keys per pool and state ("healthy", "cooling",
	// "quarantined").
	Keys []KeyCount
	// InFlight is the number of client requests being served.
	InFlight int64
	// Generation is the live config generation.
	Generation uint64
	// ReloadsApplied, ReloadsRejected and ReloadsUnchanged count config
	// reloads since start by outcome (the initial load is not a reload;
	// unchanged ones found the live config's hash and were skipped).
	ReloadsApplied, ReloadsRejected, ReloadsUnchanged uint64
	// Store is the stats store's health; nil when no store runs.
	Store *store.Health
}

// KeyCount is the number of keys of one pool in one state.
type KeyCount struct {
	Pool, State string
	Keys        int
}

// latencyBuckets are the store's fixed histogram bounds in seconds, so
// /metrics and the status view agree on what "p95" can resolve.
func latencyBuckets() []float64 {
	b := make([]float64, len(store.LatencyBounds))
	for i, d := range store.LatencyBounds {
		b[i] = d.Seconds()
	}
	return b
}

// New builds a registry with the request instruments, the Go runtime and
// process collectors, and the scrape-time collector (fed by SetSource).
func New(opts Options) *Metrics {
	if opts.MaxLabelSets <= 0 {
		opts.MaxLabelSets = DefaultMaxLabelSets
	}
	m := &Metrics{reg: prometheus.NewRegistry(), maxLines: opts.MaxLabelSets}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "balance_requests_total", Help: "Client requests finished, by pool, client token and protocol.",
	}, []string{"pool", "token", "protocol"})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "balance_request_errors_total", Help: "Client requests that failed, by pool, client token and error class.",
	}, []string{"pool", "token", "class"})
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "balance_upstream_attempts_total", Help: "Upstream calls made, retries included, by pool.",
	}, []string{"pool"})
	m.streamed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "balance_streamed_requests_total", Help: "Client requests answered as a stream, by pool.",
	}, []string{"pool"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "balance_tokens_total", Help: "Tokens reported by the upstream, by pool, client token and kind (prompt, completion, thought, cached).",
	}, []string{"pool", "token", "kind"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "balance_request_duration_seconds", Help: "Time from request to the end of the answer, by pool and protocol.",
		Buckets: latencyBuckets(),
	}, []string{"pool", "protocol"})
	m.ttfb = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "balance_time_to_first_byte_seconds", Help: "Time to the upstream's first byte, by pool (requests that reached an upstream).",
		Buckets: latencyBuckets(),
	}, []string{"pool"})
	m.reg.MustRegister(m.requests, m.errors, m.attempts, m.streamed, m.tokens, m.latency, m.ttfb,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		stateCollector{m})
	empty := map[lineKey]*line{}
	m.lines.Store(&empty)
	return m
}

// Registry is the registry Write gathers, for callers that add their own
// collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SetSource sets the function the scrape-time collector reads.
func (m *Metrics) SetSource(fn func() Snapshot) { m.source.Store(&fn) }

// Observe counts one finished request. It is called on the request path
// for every request: no lock and no allocation once its label set has been
// seen.
func (m *Metrics) Observe(r *store.Request) {
	k := lineKey{pool: r.Pool, token: r.Token, protocol: r.Protocol, class: r.ErrorClass}
	l := (*m.lines.Load())[k]
	if l == nil {
		l = m.resolve(k)
	}
	l.requests.Inc()
	if l.errors != nil {
		l.errors.Inc()
	}
	if r.Attempts > 0 {
		l.attempts.Add(float64(r.Attempts))
	}
	if r.Streamed {
		l.streamed.Inc()
	}
	if r.PromptTokens > 0 {
		l.prompt.Add(float64(r.PromptTokens))
	}
	if r.CompletionTokens > 0 {
		l.completion.Add(float64(r.CompletionTokens))
	}
	if r.ThoughtTokens > 0 {
		l.thought.Add(float64(r.ThoughtTokens))
	}
	if r.CachedTokens > 0 {
		l.cached.Add(float64(r.CachedTokens))
	}
	l.latency.Observe(r.Latency.Seconds())
	if r.TTFB > 0 {
		l.ttfb.Observe(r.TTFB.Seconds())
	}
}

// resolve creates the line for k (or the overflow line once there are
// m.maxLines) and publishes a new map that holds it.
func (m *Metrics) resolve(k lineKey) *line {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.lines.Load()
	if l := old[k]; l != nil {
		return l
	}
	orig := k
	// Label values must be valid UTF-8 or the client library panics; the
	// names come from the config, but a panic on the request path is
	// never worth the trust.
	k = lineKey{pool: strings.ToValidUTF8(k.pool, "?"), token: strings.ToValidUTF8(k.token, "?"),
		protocol: strings.ToValidUTF8(k.protocol, "?"), class: strings.ToValidUTF8(k.class, "?")}
	if len(old) >= m.maxLines {
		k = lineKey{pool: overflow, token: overflow, protocol: overflow, class: ""}
		if orig.class != "" {
			k.class = overflow
		}
		if l := old[k]; l != nil {
			return l
		}
	}
	l := &line{
		requests:   m.requests.WithLabelValues(k.pool, k.token, k.protocol),
		attempts:   m.attempts.WithLabelValues(k.pool),
		streamed:   m.streamed.WithLabelValues(k.pool),
		prompt:     m.tokens.WithLabelValues(k.pool, k.token, "prompt"),
		completion: m.tokens.WithLabelValues(k.pool, k.token, "completion"),
		thought:    m.tokens.WithLabelValues(k.pool, k.token, "thought"),
		cached:     m.tokens.WithLabelValues(k.pool, k.token, "cached"),
		latency:    m.latency.WithLabelValues(k.pool, k.protocol),
		ttfb:       m.ttfb.WithLabelValues(k.pool),
	}
	if k.class != "" {
		l.errors = m.errors.WithLabelValues(k.pool, k.token, k.class)
	}
	next := maps.Clone(old)
	next[orig] = l
	m.lines.Store(&next)
	return l
}

// Write gathers the registry and writes it to w in the text format
// (ContentType).
func (m *Metrics) Write(w io.Writer) error {
	mfs, err := m.reg.Gather()
	if err != nil {
		// Gather returns what it could alongside the error; a partial
		// scrape beats none, so write it and report the error after.
		err = fmt.Errorf("metrics: gather: %w", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if eerr := enc.Encode(mf); eerr != nil {
			return fmt.Errorf("metrics: encode %s: %w", mf.GetName(), eerr)
		}
	}
	return err
}

var (
	descKeys = prometheus.NewDesc("balance_keys", "API keys per pool and state, read from the live key pool at scrape time.",
		[]string{"pool", "state"}, nil)
	descInFlight = prometheus.NewDesc("balance_in_flight_requests", "Client requests being served.", nil, nil)
	descGen      = prometheus.NewDesc("balance_config_generation", "Live config generation.", nil, nil)
	descReloads  = prometheus.NewDesc("balance_config_reloads_total", "Config reloads since start, by result (applied, rejected, or unchanged: the live config's hash, skipped).",
		[]string{"result"}, nil)
	descStoreUp  = prometheus.NewDesc("balance_store_up", "1 when the stats store's last write succeeded, 0 while it is failing.", nil, nil)
	descQueue    = prometheus.NewDesc("balance_store_queue_depth", "Stat rows waiting for the store writer (queued plus the batch in hand).", nil, nil)
	descQueueCap = prometheus.NewDesc("balance_store_queue_capacity", "Capacity of the store's queue; rows beyond it are dropped.", nil, nil)
	descWritten  = prometheus.NewDesc("balance_store_written_rows_total", "Stat rows committed to the store.", nil, nil)
	descDropped  = prometheus.NewDesc("balance_store_dropped_rows_total", "Stat rows lost (queue full during an outage, or rejected), by kind (request, key_state).",
		[]string{"kind"}, nil)
	descFailed = prometheus.NewDesc("balance_store_failed_batches_total", "Store write transactions that failed (each is retried).", nil, nil)
	descLag    = prometheus.NewDesc("balance_store_lag_seconds", "Age of the oldest stat row not yet written; 0 when caught up.", nil, nil)
)

// stateCollector reports the Snapshot at scrape time.
type stateCollector struct{ m *Metrics }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descKeys, descInFlight, descGen, descReloads, descStoreUp, descQueue, descQueueCap, descWritten, descDropped, descFailed, descLag} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	fn := c.m.source.Load()
	if fn == nil {
		return
	}
	s := (*fn)()
	for _, k := range s.Keys {
		ch <- prometheus.MustNewConstMetric(descKeys, prometheus.GaugeValue, float64(k.Keys),
			strings.ToValidUTF8(k.Pool, "?"), strings.ToValidUTF8(k.State, "?"))
	}
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(s.InFlight))
	ch <- prometheus.MustNewConstMetric(descGen, prometheus.GaugeValue, float64(s.Generation))
	ch <- prometheus.MustNewConstMetric(descReloads, prometheus.CounterValue, float64(s.ReloadsApplied), "applied")
	ch <- prometheus.MustNewConstMetric(descReloads, prometheus.CounterValue, float64(s.ReloadsRejected), "rejected")
	ch <- prometheus.MustNewConstMetric(descReloads, prometheus.CounterValue, float64(s.ReloadsUnchanged), "unchanged")
	if h := s.Store; h != nil {
		up := 0.0
		if h.OK {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, up)
		ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(h.Queued+h.Pending))
		ch <- prometheus.MustNewConstMetric(descQueueCap, prometheus.GaugeValue, float64(h.QueueCap))
		ch <- prometheus.MustNewConstMetric(descWritten, prometheus.CounterValue, float64(h.Written))
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(h.Dropped), "request")
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(h.KeyStateDropped), "key_state")
		ch <- prometheus.MustNewConstMetric(descFailed, prometheus.CounterValue, float64(h.FailedBatches))
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, h.Lag.Seconds())
	}
}
