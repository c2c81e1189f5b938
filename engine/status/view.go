package status

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/hooks"
	"github.com/balanceproxy/balance/store"
)

// View is the read-only JSON status document. It names keys by
// fingerprint only. The live part (generation, reloads, pools, tokens)
// comes from memory; Stats, Errors and Store come from the stats store
// and are absent when none runs.
type View struct {
	Generation uint64     `json:"generation"`
	ConfigHash string     `json:"config_hash"`
	ConfigPath string     `json:"config_path"`
	Started    time.Time  `json:"started"`
	Uptime     float64    `json:"uptime_seconds"`
	LastReload *Reload    `json:"last_reload_error,omitempty"`
	Reloads    []Reload   `json:"reloads"`
	Pools      []PoolView `json:"pools"`
	Tokens     []Token    `json:"tokens"`
	Notes      []string   `json:"notes,omitempty"`
	// Orphaned are resources whose key left the config.
	Orphaned []OrphanView `json:"orphaned_resources,omitempty"`

	// Stats maps a period ("1m", "1h", "24h", "30d", or the ?period=
	// asked for) to the persisted counters over it.
	Stats map[string]*StatsView `json:"stats,omitempty"`
	// StatsError says why Stats or Errors are missing (the database
	// cannot be read); the live part is still valid.
	StatsError string `json:"stats_error,omitempty"`
	// Errors are the most recent failed requests, newest first.
	Errors []ErrorView `json:"errors,omitempty"`
	// ErrorsNext is the cursor for the next page (?before=).
	ErrorsNext string `json:"errors_next,omitempty"`
	// Store is the health of the stats writer: a gap in the stats shows
	// here as failed batches and dropped rows.
	Store *StoreView `json:"store,omitempty"`
	// Hooks are the WASM hooks of the live generation: calls, failures by
	// kind (trap, timeout, oom, bad output), instances, last error.
	Hooks []HookView `json:"hooks,omitempty"`
}

// OrphanView is what a key that left the config still holds.
type OrphanView struct {
	Fingerprint string `json:"fingerprint"`
	Files       int64  `json:"files,omitempty"`
	FileBytes   int64  `json:"file_bytes,omitempty"`
	Caches      int64  `json:"caches,omitempty"`
	Batches     int64  `json:"batches"`
	Operations  int64  `json:"operations,omitempty"`
}

// PoolView is one pool in the status view.
type PoolView struct {
	Name        string    `json:"name"`
	Upstream    string    `json:"upstream"`
	Strategy    string    `json:"strategy"`
	Healthy     int       `json:"healthy"`
	Cooling     int       `json:"cooling"`
	Quarantined int       `json:"quarantined"`
	Keys        []KeyView `json:"keys"`
}

// KeyView is one key in the status view. Its times are whole seconds in
// UTC, as the page counts down in seconds.
type KeyView struct {
	Fingerprint      string               `json:"fingerprint"`
	State            keypool.State        `json:"state"`
	CoolingUntil     map[string]time.Time `json:"cooling_until,omitempty"` // model ("*" = all) → end of cooldown
	QuarantinedSince time.Time            `json:"quarantined_since,omitzero"`
	QuarantineReason string               `json:"quarantine_reason,omitempty"`
	NextProbe        time.Time            `json:"next_probe,omitzero"`
	LastError        string               `json:"last_error,omitempty"`
	LastErrorAt      time.Time            `json:"last_error_at,omitzero"`
	Requests         uint64               `json:"requests"`
	Failures         uint64               `json:"failures"`
	InFlight         int64                `json:"in_flight"`
	Weight           int                  `json:"weight"`
	Proxy            string               `json:"proxy,omitempty"`
	LiveSessions     int64                `json:"live_sessions,omitempty"`

	Files     int64 `json:"files,omitempty"`
	FileBytes int64 `json:"file_bytes,omitempty"`
	Caches    int64 `json:"caches,omitempty"`
}

// HookView is one hook in the status view.
type HookView struct {
	Name      string            `json:"name"`
	Module    string            `json:"module"`
	SHA256    string            `json:"sha256"`
	Fail      string            `json:"fail"`
	Calls     uint64            `json:"calls"`
	Changed   uint64            `json:"changed"`
	Errors    uint64            `json:"errors"`
	ByKind    map[string]uint64 `json:"errors_by_kind,omitempty"`
	Instances int               `json:"instances"`
	Idle      int               `json:"idle"`
	Recycled  uint64            `json:"recycled"`
	LastError string            `json:"last_error,omitempty"`
	LastErrAt time.Time         `json:"last_error_at,omitzero"`
}

// StatsView is a store.Summary over one period, with durations in
// milliseconds and snake_case names for scripts.
type StatsView struct {
	From    time.Time  `json:"from"`
	To      time.Time  `json:"to"`
	Total   StatsRow   `json:"total"`
	ByKey   []StatsRow `json:"by_key"`
	ByPool  []StatsRow `json:"by_pool"`
	ByModel []StatsRow `json:"by_model"`
	ByToken []StatsRow `json:"by_token"`
}

// StatsRow is the counters of one key (by fingerprint), pool, model or
// client token, or the total.
type StatsRow struct {
	Name             string           `json:"name,omitempty"`
	Requests         int64            `json:"requests"`
	Failures         int64            `json:"failures"`
	FailuresByClass  map[string]int64 `json:"failures_by_class,omitempty"`
	Streamed         int64            `json:"streamed"`
	Attempts         int64            `json:"attempts"`
	PromptTokens     int64            `json:"prompt_tokens"`
	CompletionTokens int64            `json:"completion_tokens"`
	ThoughtTokens    int64            `json:"thought_tokens"`
	CachedTokens     int64            `json:"cached_tokens"`
	Uploads          int64            `json:"uploads"`
	UploadBytes      int64            `json:"upload_bytes"`
	LatencyAvgMS     float64          `json:"latency_avg_ms"`
	TTFBAvgMS        float64          `json:"ttfb_avg_ms"`
	P50MS            float64          `json:"p50_ms"`
	P95MS            float64          `json:"p95_ms"`
	P99MS            float64          `json:"p99_ms"`
}

// ErrorView is one entry of the error log. The key is a fingerprint and
// the body was redacted before it was stored.
type ErrorView struct {
	Cursor     string    `json:"cursor"`
	Time       time.Time `json:"time"`
	RequestID  string    `json:"request_id"`
	Instance   string    `json:"instance,omitempty"`
	Token      string    `json:"token"`
	Route      string    `json:"route"`
	Protocol   string    `json:"protocol"`
	ModelAsked string    `json:"model_asked"`
	ModelSent  string    `json:"model_sent"`
	Pool       string    `json:"pool"`
	Key        string    `json:"key"`
	Status     int       `json:"status"`
	Class      string    `json:"class"`
	Attempts   int       `json:"attempts"`
	LatencyMS  float64   `json:"latency_ms"`
	Body       string    `json:"body,omitempty"`
	// Attempt is n for the n-th upstream attempt of a request that was
	// retried on another key (Key is the key that failed it); absent on
	// the row of the request's own outcome.
	Attempt int `json:"attempt,omitempty"`
}

// StoreView is the stats store's health.
type StoreView struct {
	Driver          string    `json:"driver"`
	Enabled         bool      `json:"enabled"`
	OK              bool      `json:"ok"`
	Queued          int       `json:"queued"`
	QueueCap        int       `json:"queue_cap"`
	Pending         int       `json:"pending"`
	Written         uint64    `json:"written"`
	Dropped         uint64    `json:"dropped"`
	KeyStateDropped uint64    `json:"key_state_dropped"`
	FailedBatches   uint64    `json:"failed_batches"`
	LastError       string    `json:"last_error,omitempty"`
	LastErrorAt     time.Time `json:"last_error_at,omitzero"`
	LastSuccessAt   time.Time `json:"last_success_at,omitzero"`
	LagMS           float64   `json:"lag_ms"`
}

// SeriesView is the answer of {status}/api/series.
type SeriesView struct {
	Period string      `json:"period"`
	Step   string      `json:"step"`
	Points []PointView `json:"points"`
}

// PointView is one step of a series.
type PointView struct {
	Time             time.Time `json:"t"`
	Requests         int64     `json:"requests"`
	Errors           int64     `json:"errors"`
	PromptTokens     int64     `json:"prompt_tokens"`
	CompletionTokens int64     `json:"completion_tokens"`
	ThoughtTokens    int64     `json:"thought_tokens"`
	CachedTokens     int64     `json:"cached_tokens"`
	LatencyAvgMS     float64   `json:"latency_avg_ms"`
}

// ErrorsView is the answer of {status}/api/errors.
type ErrorsView struct {
	Errors []ErrorView `json:"errors"`
	// Next is the cursor of the next page (pass as ?before=); empty on
	// the last page.
	Next string `json:"next,omitempty"`
}

// queryTimeout bounds every store read the status view makes, so a hung
// database costs a status call seconds, never a stuck handler.
const queryTimeout = 5 * time.Second

// document builds the status view: the live part from memory, then the
// persisted stats and error log. A store that cannot be read leaves
// StatsError set and the live part intact: status must work best exactly
// when things are failing.
func document(ctx context.Context, src Source, q *statusQuery, now time.Time) View {
	snap := src.Snapshot(now)
	st := src.Stats()
	v := View{
		Generation: snap.Generation, ConfigHash: snap.ConfigHash, ConfigPath: snap.ConfigPath,
		Started: snap.Started.UTC(), Uptime: now.Sub(snap.Started).Seconds(), LastReload: lastReloadError(snap.Reloads, snap.Generation),
		Reloads: snap.Reloads, Pools: poolViews(snap.Pools), Tokens: snap.Tokens, Notes: snap.Notes,
		Store: storeView(st, snap.StoreConfigured), Hooks: hookViews(snap.Hooks),
	}
	for _, o := range snap.Orphaned {
		v.Orphaned = append(v.Orphaned, OrphanView{Fingerprint: o.KeyFP, Files: o.Files, FileBytes: o.Bytes, Caches: o.Caches, Batches: o.Batches, Operations: o.Operations})
	}
	if st == nil {
		return v
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	var errs []string
	v.Stats = make(map[string]*StatsView, len(q.periods))
	for _, p := range q.periods {
		sum, err := st.Summary(ctx, p.d)
		if err != nil {
			errs = append(errs, fmt.Sprintf("stats %s: %v", p.label, err))
			continue
		}
		v.Stats[p.label] = statsView(&sum)
	}
	recs, err := st.RecentErrors(ctx, q.list)
	if err != nil {
		errs = append(errs, "errors: "+err.Error())
	} else {
		v.Errors, v.ErrorsNext = errorViews(recs, q.list.Limit)
	}
	if len(errs) > 0 {
		v.StatsError = strings.Join(errs, "; ")
	}
	return v
}

// lastReloadError is the newest rejected reload, if it is newer than the
// last applied config: an older rejection has been fixed since.
func lastReloadError(reloads []Reload, generation uint64) *Reload {
	for i := len(reloads) - 1; i >= 0; i-- {
		e := reloads[i]
		if e.Error != "" {
			if e.Generation == generation {
				return &e
			}
			return nil
		}
		if e.Hash != "" {
			return nil
		}
	}
	return nil
}

func poolViews(pools []Pool) []PoolView {
	var out []PoolView
	for _, p := range pools {
		pv := PoolView{Name: p.Name, Upstream: p.Upstream, Strategy: p.Strategy}
		for _, k := range p.Keys {
			switch k.State {
			case keypool.Healthy:
				pv.Healthy++
			case keypool.Cooling:
				pv.Cooling++
			case keypool.Quarantined:
				pv.Quarantined++
			}
			pv.Keys = append(pv.Keys, keyView(&k))
		}
		out = append(out, pv)
	}
	return out
}

func keyView(k *Key) KeyView {
	v := KeyView{
		Fingerprint: k.Fingerprint, State: k.State, QuarantinedSince: seconds(k.QuarantinedSince), QuarantineReason: k.QuarantineReason,
		NextProbe: seconds(k.NextProbe), LastError: k.LastError, LastErrorAt: seconds(k.LastErrorAt),
		Requests: k.Requests, Failures: k.Failures, InFlight: k.InFlight, Weight: k.Weight, Proxy: k.Proxy,
		LiveSessions: k.LiveSessions,
		Files:        k.Files, FileBytes: k.FileBytes, Caches: k.Caches,
	}
	if len(k.CoolingUntil) > 0 {
		v.CoolingUntil = make(map[string]time.Time, len(k.CoolingUntil))
		for m, t := range k.CoolingUntil {
			v.CoolingUntil[m] = seconds(t)
		}
	}
	return v
}

// seconds is t in UTC cut to the whole second; the zero time stays zero.
func seconds(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// hookViews reports hooks in the order given, nil for none.
func hookViews(hs []hooks.HookStats) []HookView {
	var out []HookView
	for _, st := range hs {
		v := HookView{Name: st.Name, Module: st.Module, SHA256: st.SHA256, Fail: string(st.Fail), Calls: st.Calls, Changed: st.Changed,
			Errors: st.Errors, Instances: st.Instances, Idle: st.Idle, Recycled: st.Recycled, LastError: st.LastError, LastErrAt: st.LastErrAt.UTC()}
		if len(st.ByKind) > 0 {
			v.ByKind = make(map[string]uint64, len(st.ByKind))
			for k, n := range st.ByKind {
				v.ByKind[string(k)] = n
			}
		}
		out = append(out, v)
	}
	return out
}

// storeView reports the store's health, or that there is none: then it is
// OK only if the config asked for none.
func storeView(st Stats, configured bool) *StoreView {
	if st == nil {
		return &StoreView{Driver: "none", OK: !configured}
	}
	h := st.Health()
	return &StoreView{
		Driver: h.Driver, Enabled: true, OK: h.OK, Queued: h.Queued, QueueCap: h.QueueCap, Pending: h.Pending,
		Written: h.Written, Dropped: h.Dropped, KeyStateDropped: h.KeyStateDropped, FailedBatches: h.FailedBatches,
		LastError: h.LastError, LastErrorAt: h.LastErrorAt.UTC(), LastSuccessAt: h.LastSuccessAt.UTC(), LagMS: ms(h.Lag),
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func statsRow(name string, st *store.Stats) StatsRow {
	return StatsRow{
		Name: name, Requests: st.Requests, Failures: st.Failures, FailuresByClass: st.FailuresByClass,
		Streamed: st.Streamed, Attempts: st.Attempts,
		PromptTokens: st.PromptTokens, CompletionTokens: st.CompletionTokens, ThoughtTokens: st.ThoughtTokens, CachedTokens: st.CachedTokens,
		Uploads: st.Uploads, UploadBytes: st.UploadBytes,
		LatencyAvgMS: ms(st.LatencyAvg), TTFBAvgMS: ms(st.TTFBAvg), P50MS: ms(st.P50), P95MS: ms(st.P95), P99MS: ms(st.P99),
	}
}

func statsView(sum *store.Summary) *StatsView {
	v := &StatsView{From: sum.From.UTC(), To: sum.To.UTC(), Total: statsRow("", &sum.Total)}
	rows := func(gs []store.Group) []StatsRow {
		out := make([]StatsRow, 0, len(gs))
		for i := range gs {
			out = append(out, statsRow(gs[i].Name, &gs[i].Stats))
		}
		return out
	}
	v.ByKey, v.ByPool, v.ByModel, v.ByToken = rows(sum.ByKey), rows(sum.ByPool), rows(sum.ByModel), rows(sum.ByToken)
	return v
}

// errorViews converts a page of error records; next is the cursor of the
// following page when this one is full.
func errorViews(recs []store.ErrorRecord, limit int) (views []ErrorView, next string) {
	views = make([]ErrorView, 0, len(recs))
	for _, r := range recs {
		views = append(views, ErrorView{
			Cursor: r.Cursor, Time: r.Time.UTC(), RequestID: r.RequestID, Instance: r.Instance, Token: r.Token,
			Route: r.Route, Protocol: r.Protocol, ModelAsked: r.ModelAsked, ModelSent: r.ModelSent, Pool: r.Pool,
			Key: r.KeyFP, Status: r.Status, Class: r.ErrorClass, Attempts: r.Attempts, LatencyMS: ms(r.Latency), Body: r.ErrorBody,
			Attempt: r.Attempt,
		})
	}
	if len(recs) > 0 && len(recs) == limit {
		next = recs[len(recs)-1].Cursor
	}
	return views, next
}

// seriesView converts the points of a series.
func seriesView(q *seriesQuery, pts []store.Point) SeriesView {
	v := SeriesView{Period: q.period.label, Step: q.step.label, Points: make([]PointView, 0, len(pts))}
	for _, p := range pts {
		v.Points = append(v.Points, PointView{
			Time: p.Time.UTC(), Requests: p.Requests, Errors: p.Errors, PromptTokens: p.PromptTokens,
			CompletionTokens: p.CompletionTokens, ThoughtTokens: p.ThoughtTokens, CachedTokens: p.CachedTokens,
			LatencyAvgMS: ms(p.LatencyAvg),
		})
	}
	return v
}
