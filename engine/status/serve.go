// Package status serves the read-only status endpoint: the JSON document,
// the HTML page and the page's API under the config's status path, behind
// the status token. It reads what it shows through Source, so it knows
// nothing of how the proxy keeps its state.
package status

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
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/gemini"
	"github.com/balanceproxy/balance/engine/status/page"
	"github.com/balanceproxy/balance/hcl"
	"github.com/balanceproxy/balance/store"
)

// Sub-paths under the status path.
const (
	subUI     = "/ui"
	subSeries = "/api/series"
	subErrors = "/api/errors"
)

// Serve answers a request for conf.Path or a path under it (the caller
// routes only those here). Everything is read-only and needs the status
// token, as a Bearer header or the page's cookie. Store reads are bounded
// by ctx, which the server's shutdown cancels.
func Serve(ctx *fasthttp.RequestCtx, src Source, conf hcl.Status) {
	base := conf.Path
	sub := string(ctx.Path()[len(base):])
	if sub == subUI && ctx.QueryArgs().Has("token") {
		login(ctx, base, conf.Token)
		return
	}
	if !authorized(ctx, conf.Token) {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="balance status"`)
		if sub == subUI {
			writePageError(ctx, fasthttp.StatusUnauthorized, "Open this page once as "+base+"/ui?token=<status token>; the browser then keeps a session cookie.")
			return
		}
		writeError(ctx, fasthttp.StatusUnauthorized, "The status endpoint needs Authorization: Bearer <status token>.")
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "The status endpoint is read-only.")
		return
	}
	switch sub {
	case "", "/":
		q, err := parseStatusQuery(ctx.QueryArgs())
		if err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, err.Error())
			return
		}
		// The store reads get a context of their own, not ctx: a
		// RequestCtx must not parent a context whose goroutine can
		// outlive the handler (fasthttp reuses the ctx).
		writeJSON(ctx, document(context.Background(), src, q, time.Now()))
	case subUI:
		if len(ctx.QueryArgs().QueryString()) > 0 {
			writeError(ctx, fasthttp.StatusBadRequest, "The status page takes no query parameters other than token.")
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
	case subSeries:
		serveSeries(ctx, src)
	case subErrors:
		serveErrors(ctx, src)
	default:
		writeError(ctx, fasthttp.StatusNotFound, "No status route "+string(ctx.Path())+"; try "+base+", "+base+"/ui, "+base+"/api/series or "+base+"/api/errors.")
	}
}

func serveSeries(ctx *fasthttp.RequestCtx, src Source) {
	serveQuery(ctx, src, "series", parseSeriesQuery, func(c context.Context, st Stats, q *seriesQuery) (any, error) {
		pts, err := st.Series(c, q.period.d, q.step.d, q.filter)
		return seriesView(q, pts), err
	})
}

func serveErrors(ctx *fasthttp.RequestCtx, src Source) {
	serveQuery(ctx, src, "errors", parseErrorsQuery, func(c context.Context, st Stats, q store.ErrorQuery) (any, error) {
		recs, err := st.RecentErrors(c, q)
		var v ErrorsView
		v.Errors, v.Next = errorViews(recs, q.Limit)
		return v, err
	})
}

// serveQuery answers one query of the stats database: its arguments
// parsed (400 when they are bad), the query run (503 without a store or
// when it fails) and its view written as JSON.
func serveQuery[Q any](ctx *fasthttp.RequestCtx, src Source, what string, parse func(*fasthttp.Args) (Q, error), run func(context.Context, Stats, Q) (any, error)) {
	q, err := parse(ctx.QueryArgs())
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	st := statsOrFail(ctx, src)
	if st == nil {
		return
	}
	// Not ctx: a RequestCtx must not be a context's parent, whose
	// goroutine can outlive the handler (fasthttp reuses the ctx).
	c, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	v, err := run(c, st, q)
	if err != nil {
		storeFailed(ctx, what, err)
		return
	}
	writeJSON(ctx, v)
}

// statsOrFail returns the stats database, or answers 503 and returns nil
// when statistics are off.
func statsOrFail(ctx *fasthttp.RequestCtx, src Source) Stats {
	st := src.Stats()
	if st == nil {
		writeError(ctx, fasthttp.StatusServiceUnavailable, "Statistics are off: no store is running (store { driver = \"none\" }, or it could not be opened; see notes in status).")
	}
	return st
}

// storeFailed answers a failed store read: 400 for a query the store
// rejected, 503 for a database that cannot answer now.
func storeFailed(ctx *fasthttp.RequestCtx, what string, err error) {
	if errors.Is(err, store.ErrBadQuery) {
		writeError(ctx, fasthttp.StatusBadRequest, what+": "+err.Error())
		return
	}
	writeError(ctx, fasthttp.StatusServiceUnavailable, what+": the stats database cannot be read now: "+err.Error())
}

// writeError answers a script in Google's error shape, as the rest of the
// proxy does. It keeps headers already set (WWW-Authenticate, Allow).
func writeError(ctx *fasthttp.RequestCtx, status int, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json; charset=UTF-8")
	ctx.SetBody(gemini.ErrorJSON(status, msg, 0))
}

// writePageError answers a browser with a plain-text reason.
func writePageError(ctx *fasthttp.RequestCtx, status int, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBodyString(msg + "\n")
}

func writeJSON(ctx *fasthttp.RequestCtx, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeError(ctx, fasthttp.StatusInternalServerError, "status: "+err.Error())
		return
	}
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBody(body)
}

// cookieName holds the browser session of the status page. Its value is
// an HMAC of the status token under a per-process random key, never the
// token: a leaked cookie dies with the process or the next token change,
// and cannot be turned back into the token.
const cookieName = "balance_status"

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

var bearerPrefix = []byte("Bearer ")

// authorized accepts Authorization: Bearer <status token> (scripts) or the
// session cookie set by /ui?token= (browsers). Both comparisons are
// constant-time; an empty token (status off) admits nobody.
func authorized(ctx *fasthttp.RequestCtx, token string) bool {
	if token == "" {
		return false
	}
	h := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	if len(h) > len(bearerPrefix) && bytes.EqualFold(h[:len(bearerPrefix)], bearerPrefix) &&
		subtle.ConstantTimeCompare(bytes.TrimSpace(h[len(bearerPrefix):]), []byte(token)) == 1 {
		return true
	}
	c := ctx.Request.Header.Cookie(cookieName)
	return len(c) > 0 && subtle.ConstantTimeCompare(c, cookieValue(token)) == 1
}

// login trades ?token= for the session cookie and redirects to the clean
// URL, so the token leaves the address bar and the history.
func login(ctx *fasthttp.RequestCtx, base, token string) {
	got := ctx.QueryArgs().Peek("token")
	if token == "" || subtle.ConstantTimeCompare(got, []byte(token)) != 1 {
		writePageError(ctx, fasthttp.StatusUnauthorized, "Wrong status token.")
		return
	}
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(cookieName)
	c.SetValueBytes(cookieValue(token))
	c.SetPath(base)
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	c.SetSecure(requestIsTLS(ctx))
	ctx.Response.Header.SetCookie(c)
	ctx.Response.Header.Set("Location", base+subUI)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.Header.Set("Referrer-Policy", "no-referrer")
	ctx.SetStatusCode(fasthttp.StatusSeeOther)
}

// requestIsTLS reports whether the client reached us over TLS, directly or
// through a proxy that says so.
func requestIsTLS(ctx *fasthttp.RequestCtx) bool {
	return ctx.IsTLS() || bytes.EqualFold(ctx.Request.Header.Peek("X-Forwarded-Proto"), []byte("https"))
}
