package engine

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/engine/status/page"
	"github.com/balanceproxy/balance/engine/upstream"
	"github.com/balanceproxy/balance/store"
)

// StatusView is the read-only JSON status document. It names keys by
// fingerprint only. The live part (generation, reloads, pools, tokens)
// comes from memory; Stats, Errors and Store come from the stats store
// and are absent when none runs.
type StatusView struct {
	Generation  uint64        `json:"generation"`
	ConfigHash  string        `json:"config_hash"`
	ConfigPath  string        `json:"config_path"`
	Started     time.Time     `json:"started"`
	Uptime      float64       `json:"uptime_seconds"`
	LastReload  *reloadEvent  `json:"last_reload_error,omitempty"`
	Reloads     []reloadEvent `json:"reloads"`
	Pools       []PoolStatus  `json:"pools"`
	Tokens      []TokenStatus `json:"tokens"`
	StatusNotes []string      `json:"notes,omitempty"`

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
	LastErrAt *time.Time        `json:"last_error_at,omitempty"`
}

// hookViews reports the live generation's hooks in declared order.
func hookViews(rt *Runtime) []HookView {
	if rt.hooks == nil {
		return nil
	}
	var out []HookView
	for _, hc := range rt.Config.Hooks {
		h := rt.hooks.byName[hc.Name]
		if h == nil {
			continue
		}
		st := h.Stats()
		v := HookView{Name: st.Name, Module: st.Module, SHA256: st.SHA256, Fail: string(st.Fail), Calls: st.Calls, Changed: st.Changed,
			Errors: st.Errors, Instances: st.Instances, Idle: st.Idle, Recycled: st.Recycled, LastError: st.LastError}
		if len(st.ByKind) > 0 {
			v.ByKind = map[string]uint64{}
			for k, n := range st.ByKind {
				v.ByKind[string(k)] = n
			}
		}
		if !st.LastErrAt.IsZero() {
			t := st.LastErrAt.UTC()
			v.LastErrAt = &t
		}
		out = append(out, v)
	}
	return out
}

// PoolStatus is one pool in the status view.
type PoolStatus struct {
	Name        string      `json:"name"`
	Upstream    string      `json:"upstream"`
	Strategy    string      `json:"strategy"`
	Healthy     int         `json:"healthy"`
	Cooling     int         `json:"cooling"`
	Quarantined int         `json:"quarantined"`
	Keys        []KeyStatus `json:"keys"`
}

// KeyStatus is one key in the status view. Its times are whole seconds in
// UTC, as the page counts down in seconds.
type KeyStatus struct {
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
}

func keyStatus(k *keypool.Status, weight int, proxy string) KeyStatus {
	v := KeyStatus{
		Fingerprint: k.Fingerprint, State: k.State, QuarantinedSince: seconds(k.QuarantinedSince), QuarantineReason: k.QuarantineReason,
		NextProbe: seconds(k.NextProbe), LastError: k.LastError, LastErrorAt: seconds(k.LastErrorAt),
		Requests: k.Requests, Failures: k.Failures, InFlight: k.InFlight, Weight: weight, Proxy: proxy,
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

// TokenStatus is one client token in the status view.
type TokenStatus struct {
	Name     string            `json:"name"`
	Pools    []string          `json:"pools"`
	InFlight int64             `json:"in_flight"`
	Labels   map[string]string `json:"labels,omitempty"`
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
}

// StoreView is the stats store's health.
type StoreView struct {
	Driver          string     `json:"driver"`
	Enabled         bool       `json:"enabled"`
	OK              bool       `json:"ok"`
	Queued          int        `json:"queued"`
	QueueCap        int        `json:"queue_cap"`
	Pending         int        `json:"pending"`
	Written         uint64     `json:"written"`
	Dropped         uint64     `json:"dropped"`
	KeyStateDropped uint64     `json:"key_state_dropped"`
	FailedBatches   uint64     `json:"failed_batches"`
	LastError       string     `json:"last_error,omitempty"`
	LastErrorAt     *time.Time `json:"last_error_at,omitempty"`
	LastSuccessAt   *time.Time `json:"last_success_at,omitempty"`
	LagMS           float64    `json:"lag_ms"`
}

// Status builds the live part of the status view (no store reads).
func (s *Server) Status() StatusView {
	rt := s.rt.Load()
	now := time.Now()
	v := StatusView{
		Generation: rt.Generation, ConfigHash: rt.Config.Hash, ConfigPath: rt.Config.Path,
		Started: s.started.UTC(), Uptime: now.Sub(s.started).Seconds(), Reloads: s.events.list(),
		StatusNotes: s.notes, Hooks: hookViews(rt),
	}
	for i := len(v.Reloads) - 1; i >= 0; i-- {
		if e := v.Reloads[i]; e.Error != "" {
			// Only a rejection newer than the last applied config counts.
			if e.Generation == rt.Generation {
				v.LastReload = &e
			}
			break
		} else if e.Hash != "" {
			break
		}
	}
	for _, p := range rt.poolList {
		ps := PoolStatus{Name: p.cfg.Name, Upstream: p.upstream.Name, Strategy: p.cfg.Strategy}
		for _, m := range p.pool.Members() {
			st := m.Key.Status(now)
			proxy := ""
			if m.Proxy != "" {
				proxy = upstream.RedactProxy(m.Proxy)
			}
			ks := keyStatus(&st, max(m.Weight, 1), proxy)
			switch ks.State {
			case keypool.Healthy:
				ps.Healthy++
			case keypool.Cooling:
				ps.Cooling++
			case keypool.Quarantined:
				ps.Quarantined++
			}
			ps.Keys = append(ps.Keys, ks)
		}
		v.Pools = append(v.Pools, ps)
	}
	for _, t := range rt.Config.Tokens {
		v.Tokens = append(v.Tokens, TokenStatus{Name: t.Name, Pools: t.Pools, InFlight: s.tokens.get(t.Name).inflight.Load(), Labels: t.Labels})
	}
	v.Store = s.storeView()
	return v
}

// storeView reports the store's health, or that there is none.
func (s *Server) storeView() *StoreView {
	rt := s.rt.Load()
	if s.store == nil {
		return &StoreView{Driver: "none", Enabled: false, OK: rt.Config.Store.Driver == "none" || rt.Config.Store.Driver == ""}
	}
	h := s.store.Health()
	v := &StoreView{
		Driver: h.Driver, Enabled: true, OK: h.OK, Queued: h.Queued, QueueCap: h.QueueCap, Pending: h.Pending,
		Written: h.Written, Dropped: h.Dropped, KeyStateDropped: h.KeyStateDropped, FailedBatches: h.FailedBatches,
		LastError: h.LastError, LagMS: ms(h.Lag),
	}
	if !h.LastErrorAt.IsZero() {
		t := h.LastErrorAt.UTC()
		v.LastErrorAt = &t
	}
	if !h.LastSuccessAt.IsZero() {
		t := h.LastSuccessAt.UTC()
		v.LastSuccessAt = &t
	}
	return v
}

// statusQueryTimeout bounds every store read the status view makes, so a
// hung database costs a status call seconds, never a stuck handler.
const statusQueryTimeout = 5 * time.Second

// statusWithStats is Status plus the persisted stats and error log. A
// store that cannot be read leaves StatsError set and the live part
// intact: status must work best exactly when things are failing.
func (s *Server) statusWithStats(q *statusQuery) StatusView {
	v := s.Status()
	if s.store == nil {
		return v
	}
	ctx, cancel := context.WithTimeout(s.bgCtx, statusQueryTimeout)
	defer cancel()
	var errs []string
	v.Stats = make(map[string]*StatsView, len(q.periods))
	for _, p := range q.periods {
		sum, err := s.store.Summary(ctx, p.d)
		if err != nil {
			errs = append(errs, fmt.Sprintf("stats %s: %v", p.label, err))
			continue
		}
		v.Stats[p.label] = statsView(&sum)
	}
	recs, err := s.store.RecentErrors(ctx, q.list)
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

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func statsRow(name string, st *store.Stats) StatsRow {
	return StatsRow{
		Name: name, Requests: st.Requests, Failures: st.Failures, FailuresByClass: st.FailuresByClass,
		Streamed: st.Streamed, Attempts: st.Attempts,
		PromptTokens: st.PromptTokens, CompletionTokens: st.CompletionTokens, ThoughtTokens: st.ThoughtTokens, CachedTokens: st.CachedTokens,
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
		})
	}
	if len(recs) > 0 && len(recs) == limit {
		next = recs[len(recs)-1].Cursor
	}
	return views, next
}

// statusCookie holds the browser session of the status page. Its value is
// an HMAC of the status token under a per-process random key, never the
// token: a leaked cookie dies with the process or the next token change,
// and cannot be turned back into the token.
const statusCookie = "balance_status"

var cookieKey = func() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		// crypto/rand does not fail on supported platforms; if it ever
		// did, a fixed key would make cookies forgeable, so refuse.
		panic("status: no randomness for the cookie key: " + err.Error())
	}
	return k
}()

func cookieValue(token string) []byte {
	mac := hmac.New(sha256.New, cookieKey)
	mac.Write([]byte("balance status v1\x00"))
	mac.Write([]byte(token))
	sum := mac.Sum(nil)
	out := make([]byte, hex.EncodedLen(len(sum)))
	hex.Encode(out, sum)
	return out
}

// statusAuthorized accepts Authorization: Bearer <status token> (scripts)
// or the session cookie set by /ui?token= (browsers). Both comparisons
// are constant-time.
func statusAuthorized(ctx *fasthttp.RequestCtx, token string) bool {
	if token == "" {
		return false
	}
	if bearerMatches(ctx, token) {
		return true
	}
	c := ctx.Request.Header.Cookie(statusCookie)
	return len(c) > 0 && subtle.ConstantTimeCompare(c, cookieValue(token)) == 1
}

// requestIsTLS reports whether the client reached us over TLS, directly or
// through a proxy that says so.
func requestIsTLS(ctx *fasthttp.RequestCtx) bool {
	return ctx.IsTLS() || bytes.EqualFold(ctx.Request.Header.Peek("X-Forwarded-Proto"), []byte("https"))
}

// Sub-paths under the status path.
const (
	statusSubUI     = "/ui"
	statusSubSeries = "/api/series"
	statusSubErrors = "/api/errors"
)

// serveStatus answers everything under the status path: the JSON view,
// the HTML page and the page's API. Everything is read-only and needs the
// status token (Bearer or the page's cookie).
func (s *Server) serveStatus(ctx *fasthttp.RequestCtx, rt *Runtime) {
	base := rt.Config.Status.Path
	sub := string(ctx.Path()[len(base):])
	token := rt.Config.Status.Token
	if sub == statusSubUI && ctx.QueryArgs().Has("token") {
		s.statusLogin(ctx, base, token)
		return
	}
	if !statusAuthorized(ctx, token) {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="balance status"`)
		if sub == statusSubUI {
			writeStatusPageError(ctx, fasthttp.StatusUnauthorized, "Open this page once as "+base+"/ui?token=<status token>; the browser then keeps a session cookie.")
			return
		}
		writeGeminiError(ctx, fasthttp.StatusUnauthorized, "The status endpoint needs Authorization: Bearer <status token>.", 0)
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		writeGeminiError(ctx, fasthttp.StatusMethodNotAllowed, "The status endpoint is read-only.", 0)
		return
	}
	switch sub {
	case "", "/":
		q, err := parseStatusQuery(ctx.QueryArgs())
		if err != nil {
			writeGeminiError(ctx, fasthttp.StatusBadRequest, err.Error(), 0)
			return
		}
		writeStatusJSON(ctx, s.statusWithStats(q))
	case statusSubUI:
		if len(ctx.QueryArgs().QueryString()) > 0 {
			writeGeminiError(ctx, fasthttp.StatusBadRequest, "The status page takes no query parameters other than token.", 0)
			return
		}
		ctx.SetContentType("text/html; charset=utf-8")
		h := &ctx.Response.Header
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", page.CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		ctx.SetBody(page.HTML)
	case statusSubSeries:
		s.serveSeries(ctx)
	case statusSubErrors:
		s.serveErrors(ctx)
	default:
		writeGeminiError(ctx, fasthttp.StatusNotFound, "No status route "+string(ctx.Path())+"; try "+base+", "+base+"/ui, "+base+"/api/series or "+base+"/api/errors.", 0)
	}
}

// statusLogin trades ?token= for the session cookie and redirects to the
// clean URL, so the token leaves the address bar and the history.
func (s *Server) statusLogin(ctx *fasthttp.RequestCtx, base, token string) {
	got := ctx.QueryArgs().Peek("token")
	if token == "" || subtle.ConstantTimeCompare(got, []byte(token)) != 1 {
		writeStatusPageError(ctx, fasthttp.StatusUnauthorized, "Wrong status token.")
		return
	}
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(statusCookie)
	c.SetValueBytes(cookieValue(token))
	c.SetPath(base)
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	c.SetSecure(requestIsTLS(ctx))
	ctx.Response.Header.SetCookie(c)
	ctx.Response.Header.Set("Location", base+statusSubUI)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.Header.Set("Referrer-Policy", "no-referrer")
	ctx.SetStatusCode(fasthttp.StatusSeeOther)
}

// writeStatusPageError answers a browser with a plain-text reason.
func writeStatusPageError(ctx *fasthttp.RequestCtx, status int, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBodyString(msg + "\n")
}

func writeStatusJSON(ctx *fasthttp.RequestCtx, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeGeminiError(ctx, fasthttp.StatusInternalServerError, "status: "+err.Error(), 0)
		return
	}
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBody(body)
}

// noStore answers the page's API when statistics are off.
func (s *Server) noStore(ctx *fasthttp.RequestCtx) bool {
	if s.store != nil {
		return false
	}
	writeGeminiError(ctx, fasthttp.StatusServiceUnavailable, "Statistics are off: no store is running (store { driver = \"none\" }, or it could not be opened; see notes in status).", 0)
	return true
}

// storeFailed answers a failed store read: 400 for a query the store
// rejected, 503 for a database that cannot answer now.
func storeFailed(ctx *fasthttp.RequestCtx, what string, err error) {
	if errors.Is(err, store.ErrBadQuery) {
		writeGeminiError(ctx, fasthttp.StatusBadRequest, what+": "+err.Error(), 0)
		return
	}
	writeGeminiError(ctx, fasthttp.StatusServiceUnavailable, what+": the stats database cannot be read now: "+err.Error(), 0)
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

func (s *Server) serveSeries(ctx *fasthttp.RequestCtx) {
	q, err := parseSeriesQuery(ctx.QueryArgs())
	if err != nil {
		writeGeminiError(ctx, fasthttp.StatusBadRequest, err.Error(), 0)
		return
	}
	if s.noStore(ctx) {
		return
	}
	c, cancel := context.WithTimeout(s.bgCtx, statusQueryTimeout)
	defer cancel()
	pts, err := s.store.Series(c, q.period.d, q.step.d, q.filter)
	if err != nil {
		storeFailed(ctx, "series", err)
		return
	}
	v := SeriesView{Period: q.period.label, Step: q.step.label, Points: make([]PointView, 0, len(pts))}
	for _, p := range pts {
		v.Points = append(v.Points, PointView{
			Time: p.Time.UTC(), Requests: p.Requests, Errors: p.Errors, PromptTokens: p.PromptTokens,
			CompletionTokens: p.CompletionTokens, ThoughtTokens: p.ThoughtTokens, CachedTokens: p.CachedTokens,
			LatencyAvgMS: ms(p.LatencyAvg),
		})
	}
	writeStatusJSON(ctx, v)
}

// ErrorsView is the answer of {status}/api/errors.
type ErrorsView struct {
	Errors []ErrorView `json:"errors"`
	// Next is the cursor of the next page (pass as ?before=); empty on
	// the last page.
	Next string `json:"next,omitempty"`
}

func (s *Server) serveErrors(ctx *fasthttp.RequestCtx) {
	q, err := parseErrorsQuery(ctx.QueryArgs())
	if err != nil {
		writeGeminiError(ctx, fasthttp.StatusBadRequest, err.Error(), 0)
		return
	}
	if s.noStore(ctx) {
		return
	}
	c, cancel := context.WithTimeout(s.bgCtx, statusQueryTimeout)
	defer cancel()
	recs, err := s.store.RecentErrors(c, q)
	if err != nil {
		storeFailed(ctx, "errors", err)
		return
	}
	var v ErrorsView
	v.Errors, v.Next = errorViews(recs, q.Limit)
	writeStatusJSON(ctx, v)
}

// period is a validated duration with the label the client used.
type period struct {
	label string
	d     time.Duration
}

// defaultPeriods are the stats windows of the status view.
var defaultPeriods = []period{{"1m", time.Minute}, {"1h", time.Hour}, {"24h", 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}}

// Bounds of the status API's parameters.
const (
	maxStatusPeriod  = 400 * 24 * time.Hour
	maxErrorsLimit   = 500
	defaultErrLimit  = 50
	statusErrLimit   = 20 // errors embedded in the status document
	maxFilterLen     = 200
	maxSeriesPoints  = 1440
	defaultSeriesWin = time.Hour
)

// statusQuery is the validated query of the status document.
type statusQuery struct {
	periods []period
	list    store.ListQuery
}

// seriesQuery is the validated query of /api/series.
type seriesQuery struct {
	period, step period
	filter       store.SeriesFilter
}

// queryArgs checks that every parameter is known and given once, and
// returns them by name. Unknown names are refused rather than ignored so
// a typo (?peroid=) is not silently a different question.
func queryArgs(args *fasthttp.Args, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range args.All() {
		name := string(k)
		if !slices.Contains(allowed, name) {
			return nil, fmt.Errorf("unknown query parameter %q; accepted: %s", clip(name, 40), strings.Join(allowed, ", "))
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("query parameter %q given more than once", name)
		}
		out[name] = string(v)
	}
	return out, nil
}

// clip shortens s for an error message, so a huge parameter is not echoed.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// parsePeriod reads "<n><unit>" with unit m, h or d: 1m, 90m, 6h, 30d.
func parsePeriod(name, s string, minD, maxD time.Duration) (period, error) {
	bad := fmt.Errorf("%s %q: want a whole number of minutes, hours or days such as 1m, 1h, 24h or 30d, between %s and %s",
		name, clip(s, 40), fmtPeriod(minD), fmtPeriod(maxD))
	if len(s) < 2 || len(s) > 8 {
		return period{}, bad
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'm':
		unit = time.Minute
	case 'h':
		unit = time.Hour
	case 'd':
		unit = 24 * time.Hour
	default:
		return period{}, bad
	}
	n := 0
	for _, c := range s[:len(s)-1] {
		if c < '0' || c > '9' {
			return period{}, bad
		}
		n = n*10 + int(c-'0')
	}
	d := time.Duration(n) * unit
	if n == 0 || d < minD || d > maxD {
		return period{}, bad
	}
	return period{label: s, d: d}, nil
}

func fmtPeriod(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	default:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
}

// filterValue validates a free-text filter (model, token, pool, key
// fingerprint): bounded length, no control characters.
func filterValue(name, v string) (string, error) {
	if len(v) > maxFilterLen {
		return "", fmt.Errorf("%s filter is longer than %d bytes", name, maxFilterLen)
	}
	for _, c := range v {
		if c < 0x20 || c == 0x7f || c == '\uFFFD' {
			return "", fmt.Errorf("%s filter contains a control character or invalid UTF-8", name)
		}
	}
	return v, nil
}

// classValue validates an error class name: lower case and underscores.
func classValue(v string) (string, error) {
	if len(v) > 64 {
		return "", errors.New("class filter is longer than 64 bytes")
	}
	for _, c := range v {
		if (c < 'a' || c > 'z') && c != '_' {
			return "", fmt.Errorf("class %q: want an error class such as rate_limited, invalid_key, server_error, timeout or client_error", clip(v, 40))
		}
	}
	return v, nil
}

func intParam(name, v string, lo, hi int) (int, error) {
	n := 0
	if v == "" || len(v) > 6 {
		return 0, fmt.Errorf("%s %q: want a whole number from %d to %d", name, clip(v, 40), lo, hi)
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%s %q: want a whole number from %d to %d", name, clip(v, 40), lo, hi)
		}
		n = n*10 + int(c-'0')
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%s %d out of range: want %d to %d", name, n, lo, hi)
	}
	return n, nil
}

// listFilters fills the error-log filters shared by the status document
// and /api/errors.
func listFilters(a map[string]string, q *store.ListQuery, defLimit int) error {
	var err error
	if q.KeyFP, err = filterValue("key", a["key"]); err != nil {
		return err
	}
	if q.Model, err = filterValue("model", a["model"]); err != nil {
		return err
	}
	if q.Token, err = filterValue("token", a["token"]); err != nil {
		return err
	}
	if q.ErrorClass, err = classValue(a["class"]); err != nil {
		return err
	}
	if v, ok := a["status"]; ok {
		if q.Status, err = intParam("status", v, 100, 599); err != nil {
			return err
		}
	}
	q.Limit = defLimit
	if v, ok := a["limit"]; ok {
		if q.Limit, err = intParam("limit", v, 1, maxErrorsLimit); err != nil {
			return err
		}
	}
	if v, ok := a["before"]; ok {
		if _, _, cerr := store.ParseCursor(v); cerr != nil {
			return fmt.Errorf("before %q is not a cursor from a previous page (errors_next or next)", clip(v, 40))
		}
		q.Before = v
	}
	return nil
}

var errorFilterParams = []string{"key", "model", "token", "class", "status", "limit", "before"}

// parseStatusQuery validates the status document's query: an optional
// period and the error-log filters.
func parseStatusQuery(args *fasthttp.Args) (*statusQuery, error) {
	a, err := queryArgs(args, append([]string{"period"}, errorFilterParams...)...)
	if err != nil {
		return nil, err
	}
	q := &statusQuery{periods: defaultPeriods}
	if v, ok := a["period"]; ok {
		p, err := parsePeriod("period", v, time.Minute, maxStatusPeriod)
		if err != nil {
			return nil, err
		}
		q.periods = []period{p}
	}
	if err := listFilters(a, &q.list, statusErrLimit); err != nil {
		return nil, err
	}
	return q, nil
}

// parseErrorsQuery validates /api/errors.
func parseErrorsQuery(args *fasthttp.Args) (store.ErrorQuery, error) {
	var q store.ErrorQuery
	a, err := queryArgs(args, errorFilterParams...)
	if err != nil {
		return q, err
	}
	err = listFilters(a, &q, defaultErrLimit)
	return q, err
}

// parseSeriesQuery validates /api/series: period (default 1h), step
// (default: the period over 60, rounded up to whole minutes) and filters.
func parseSeriesQuery(args *fasthttp.Args) (*seriesQuery, error) {
	a, err := queryArgs(args, "period", "step", "key", "model", "token", "pool", "class")
	if err != nil {
		return nil, err
	}
	q := &seriesQuery{period: period{"1h", defaultSeriesWin}}
	if v, ok := a["period"]; ok {
		if q.period, err = parsePeriod("period", v, time.Minute, maxStatusPeriod); err != nil {
			return nil, err
		}
	}
	if v, ok := a["step"]; ok {
		if q.step, err = parsePeriod("step", v, time.Minute, q.period.d); err != nil {
			return nil, err
		}
	} else {
		step := (q.period.d/60 + time.Minute - 1) / time.Minute * time.Minute
		q.step = period{fmtPeriod(step), step}
	}
	if n := q.period.d / q.step.d; n > maxSeriesPoints {
		return nil, fmt.Errorf("period %s at step %s is %d points; at most %d (use a larger step)", q.period.label, q.step.label, n, maxSeriesPoints)
	}
	f := &q.filter
	for _, p := range []struct {
		name string
		dst  *string
	}{{"key", &f.KeyFP}, {"model", &f.Model}, {"token", &f.Token}, {"pool", &f.Pool}} {
		if *p.dst, err = filterValue(p.name, a[p.name]); err != nil {
			return nil, err
		}
	}
	if f.ErrorClass, err = classValue(a["class"]); err != nil {
		return nil, err
	}
	return q, nil
}
