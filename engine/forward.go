package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/gemini"
	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/engine/upstream"
	"github.com/balanceproxy/balance/internal/verdict"
	"github.com/balanceproxy/balance/store"
)

// outcome is how the attempt loop ended.
type outcome uint8

const (
	// outUpstream: resp holds an upstream answer to pass back, success
	// or the last failure.
	outUpstream outcome = iota
	// outNoKey: no key could take the request; freeAt says when one can.
	outNoKey
	// outTransport: the last attempt got no answer at all.
	outTransport
	// outAbandoned: the client went away (or shutdown cut the request)
	// and the upstream call was dropped with it.
	outAbandoned
)

var headerGoogAPIKeyLower = "x-goog-api-key"

// maxAttemptsHard bounds the upstream attempts of one request, however
// many keys fail on their own account.
const maxAttemptsHard = 16

// forward sends req upstream on successive keys of the exchange's pool
// until an answer is final: a success, the client's own error, a failure
// that policy does not retry, or max_retries spent. Nothing has been
// written to the client yet, which is what makes a retry safe.
//
// For streams, resp.StreamBody is set; a 200 stream's first bytes are
// read into ex.peeked so an in-band error at the very start still moves
// the request to another key.
func (s *Server) forward(ex *exchange, req *fasthttp.Request, resp *fasthttp.Response, stream bool) (outcome, time.Time) {
	p := ex.pool
	var triedBuf [8]*keypool.Key
	tried := triedBuf[:0]
	// Pools this request has drained (fallback.go), kept in the exchange:
	// a local array would escape through fallbackPick and cost an
	// allocation per request.
	done := append(ex.drained[:0], p)
	defer clear(ex.drained[:]) // a pooled exchange must not keep a generation alive
	budget := newRetryBudget(p)
	last := outNoKey
	// A streamed body (an upload chunk) is spent by its first attempt;
	// fasthttp drops the stream once written, so ask before.
	oneShot := req.IsBodyStream()
	var freeAt time.Time
	var failed store.Attempt
	hasFailed := false
	for {
		now := time.Now()
		var m *keypool.Member
		var free time.Time
		if ex.pin != nil {
			// A request naming a resource may go only to the key that owns
			// it: no other key, and so no fallback pool either.
			m, free = p.pool.PickKey(ex.pin, ex.model.Target, tried, now)
		} else {
			m, free = p.pool.Pick(ex.model.Target, tried, now)
			if m == nil && len(done[0].fallback) > 0 {
				var next *poolRuntime
				if next, m, free = fallbackPick(ex, done[0], &done, tried, now, free); m != nil {
					if s.log.Enabled(context.Background(), slog.LevelDebug) { // the arguments cost allocations even when dropped
						s.log.Debug("request moved to fallback pool", "from", p.cfg.Name, "to", next.cfg.Name, "model", ex.model.Target, "request_id", string(ex.id))
					}
					ex.moveTo(next, req)
					p = next
				}
			}
		}
		if m == nil {
			if ex.attempts == 0 {
				return outNoKey, free
			}
			freeAt = free
			return last, freeAt
		}
		if ex.member != nil {
			// The previous attempt failed; its key is done.
			ex.member.Key.End(false, 0)
		}
		if hasFailed {
			// It is not the last attempt: the error log keeps it apart.
			ex.failedAttempts = append(ex.failedAttempts, failed)
			hasFailed = false
		}
		ex.attempts++
		ex.member = m
		ex.inBandError = nil
		req.Header.Set(headerGoogAPIKeyLower, m.Key.Value())
		resp.StreamBody = stream
		hc := p.clients[m.Index]
		var deadline time.Time
		if !stream {
			deadline = now.Add(p.upstream.Timeout)
		}
		err := ex.upstream.Do(hc, req, resp, deadline)
		var v verdict.Verdict
		switch {
		case err != nil:
			v = transportVerdict(err)
			last = outTransport
		case resp.StatusCode() >= 200 && resp.StatusCode() < 300:
			v.Class = verdict.OK
			if stream {
				v = s.peekStream(ex, resp)
			}
			last = outUpstream
		default:
			v = gemini.Classify(resp.StatusCode(), resp.Body())
			last = outUpstream
		}
		if ex.upstream.Abandoned() {
			// Nobody waits for the answer: no verdict on the key, no retry.
			if stream && err == nil {
				closeStream(resp, upstream.ErrAbandoned)
			}
			ex.verdict = verdict.Verdict{Class: verdict.ClientError, Reason: "client_closed"}
			return outAbandoned, time.Time{}
		}
		ex.verdict = v
		s.judge(ex, m, v, now)
		if !budget.again(p, ex.attempts, v) || oneShot {
			return last, time.Time{}
		}
		failed, hasFailed = ex.failedAttempt(m, v, last, resp, now), true
		tried = append(tried, m.Key)
	}
}

// retryBudget decides whether a failed attempt moves the request to
// another key; the HTTP attempt loop and the Live API's connect loop share
// it. A key's own fault (429, dead key) does not spend the budget while
// untried keys remain: the budget (the first pool's max_retries) is for
// failures that may repeat on any key. A hard cap bounds the latency.
type retryBudget struct {
	maxAttempts int
	keyFaults   int
}

func newRetryBudget(p *poolRuntime) retryBudget {
	return retryBudget{maxAttempts: p.cfg.MaxRetries + 1}
}

// again reports whether, after attempts attempts of which the last ended
// with v on pool p, the request may try another key.
func (b *retryBudget) again(p *poolRuntime, attempts int, v verdict.Verdict) bool {
	if v.Class == verdict.OK || v.Class == verdict.ClientError {
		return false
	}
	if v.Class.KeyFault() {
		b.keyFaults++
	}
	retryable := v.Class.KeyFault() || p.retryOn.Has(v.Class)
	return retryable && attempts-b.keyFaults < b.maxAttempts && attempts < maxAttemptsHard
}

// failedAttempt describes an attempt that failed and may be retried on
// another key, for the error log: the request's record tells only how its
// last attempt ended.
func (ex *exchange) failedAttempt(m *keypool.Member, v verdict.Verdict, out outcome, resp *fasthttp.Response, start time.Time) store.Attempt {
	a := store.Attempt{Time: time.Now(), KeyFP: m.Key.FP, ErrorClass: v.Class.String()}
	a.Latency = a.Time.Sub(start)
	switch {
	case out == outTransport:
		a.ErrorBody = ex.pool.redact(v.Message)
	case ex.inBandError != nil: // an error event that opened a 200 stream
		a.Status, a.ErrorBody = errorCode(ex.inBandError), string(ex.pool.redactBytes(ex.inBandError))
	default:
		a.Status, a.ErrorBody = resp.StatusCode(), string(ex.pool.redactBytes(resp.Body()))
	}
	return a
}

// judge applies one upstream verdict to the key that met it. Only failures
// that are the key's fault change its state: a 503 overload or the
// client's own malformed request never does.
func (s *Server) judge(ex *exchange, m *keypool.Member, v verdict.Verdict, now time.Time) {
	k := m.Key
	if v.Class != verdict.OK && !ex.pool.blame.Has(v.Class) {
		// The pool's blame list says this class never counts against a key.
		k.NoteError(v.Class.String()+" "+v.Reason, now)
		return
	}
	switch v.Class {
	case verdict.OK:
		k.Succeeded(ex.model.Target)
	case verdict.RateLimited:
		until := k.RateLimited(ex.model.Target, v.RetryAfter, v.Daily, ex.pool.cooldown, now, "429 "+v.Reason)
		s.log.Info("key cooling", "key", k.FP, "pool", ex.pool.cfg.Name, "model", ex.model.Target, "until", until.UTC().Format(time.RFC3339), "daily", v.Daily, "request_id", string(ex.id))
		s.keyChanged(k, ex.pool, ex.model.Target)
	case verdict.InvalidKey, verdict.PermissionDenied:
		reason := v.Reason
		if v.Message != "" {
			reason += ": " + ex.pool.redact(v.Message)
		}
		k.Quarantine(reason, ex.pool.cfg.Probe.Interval, now)
		s.log.Warn("key quarantined", "key", k.FP, "pool", ex.pool.cfg.Name, "reason", reason, "request_id", string(ex.id))
		s.keyChanged(k, ex.pool, "")
	case verdict.ServerError, verdict.Timeout, verdict.Connection:
		// Listed in blame: the operator wants these to rest the key.
		until := k.RateLimited(ex.model.Target, 0, false, ex.pool.cooldown, now, v.Class.String()+" "+v.Reason)
		s.log.Info("key cooling", "key", k.FP, "pool", ex.pool.cfg.Name, "model", ex.model.Target, "until", until.UTC().Format(time.RFC3339), "class", v.Class.String(), "request_id", string(ex.id))
		s.keyChanged(k, ex.pool, ex.model.Target)
	}
}

// keyChanged is called after a key's state changed; the store hooks in
// here to persist and share it.
func (s *Server) keyChanged(k *keypool.Key, p *poolRuntime, model string) {
	if s.keyObserver != nil {
		s.keyObserver(k, p.cfg.Name, model)
	}
}

func transportVerdict(err error) verdict.Verdict {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		// As large on any key: the request's own doing, not a key's.
		return verdict.Verdict{Class: verdict.ClientError, Reason: "response_too_large", Message: "the upstream answer is larger than upstream.max_response_body"}
	}
	var ne net.Error
	if errors.Is(err, fasthttp.ErrTimeout) || errors.As(err, &ne) && ne.Timeout() {
		return verdict.Verdict{Class: verdict.Timeout, Reason: "timeout", Message: "upstream timed out"}
	}
	msg := err.Error()
	if errors.Is(err, fasthttp.ErrNoFreeConns) {
		msg = "too many concurrent upstream connections (raise max_conns)"
	}
	return verdict.Verdict{Class: verdict.Connection, Reason: "connection", Message: msg}
}

var (
	sseError     = []byte(`data: {"error"`)
	sseErrorSp   = []byte(`data:{"error"`)
	arrayError   = []byte(`[{"error"`)
	peekBufPool  = sync.Pool{New: func() any { b := make([]byte, 4<<10); return &b }} // held per open stream: keep it small
	eventEndCRLF = []byte("\r\n\r\n")
	eventEndLF   = []byte("\n\n")
)

// peekStream reads the first bytes of a 200 stream. A stream that opens
// with an error event is classified by the error's own code and closed, so
// the request can move to another key; anything else is kept in
// ex.peeked for the writer to send first.
func (s *Server) peekStream(ex *exchange, resp *fasthttp.Response) verdict.Verdict {
	bufp := peekBufPool.Get().(*[]byte)
	buf := *bufp
	n, err := io.ReadAtLeast(resp.BodyStream(), buf[:cap(buf)], 1)
	first := buf[:n]
	trimmed := bytes.TrimLeft(first, " \r\n")
	if bytes.HasPrefix(trimmed, sseError) || bytes.HasPrefix(trimmed, sseErrorSp) || bytes.HasPrefix(trimmed, arrayError) {
		// Read the rest of the (small) error event, then judge it.
		for err == nil && !bytes.Contains(first, eventEndCRLF) && !bytes.Contains(first, eventEndLF) && n < len(buf) {
			var m int
			m, err = resp.BodyStream().Read(buf[n:])
			n += m
			first = buf[:n]
		}
		closeStream(resp, errors.New("in-band error at stream start"))
		payload := bytes.TrimPrefix(bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimLeft(first, " \r\n"), []byte("data:"))), []byte("["))
		if end := bytes.Index(payload, []byte("\n")); end > 0 {
			payload = payload[:end]
		}
		code := errorCode(payload)
		v := gemini.Classify(code, payload)
		ex.inBandError = append(ex.inBandError[:0], payload...)
		peekBufPool.Put(bufp)
		return v
	}
	if n == 0 && err != nil {
		peekBufPool.Put(bufp)
		closeStream(resp, err)
		return transportVerdict(err)
	}
	ex.peeked = append(ex.peeked[:0], first...)
	peekBufPool.Put(bufp)
	return verdict.Verdict{Class: verdict.OK}
}

// errorCode reads error.code from an in-band error object; 500 if absent.
func errorCode(b []byte) int {
	i := bytes.Index(b, []byte(`"code"`))
	if i < 0 {
		return 500
	}
	rest := bytes.TrimLeft(b[i+6:], " :")
	code := 0
	for _, c := range rest {
		if c < '0' || c > '9' {
			break
		}
		code = code*10 + int(c-'0')
	}
	if code < 400 || code > 599 {
		return 500
	}
	return code
}

// closeStream closes an upstream body stream. A non-nil reason drops the
// connection instead of returning it to the pool half-read.
func closeStream(resp *fasthttp.Response, reason error) {
	if rc, ok := resp.BodyStream().(fasthttp.ReadCloserWithError); ok {
		_ = rc.CloseWithError(reason)
		return
	}
	_ = resp.CloseBodyStream()
}

// redact hides pool keys and client tokens in text from upstream.
func (p *poolRuntime) redact(s string) string { return p.redactor.String(s) }

func (p *poolRuntime) redactBytes(b []byte) []byte { return p.redactor.Bytes(b) }

// newUpstreamRequest starts the upstream request for a client request:
// its method, the client headers that may reach Google and (without
// copying) body, the client's body or nil. The caller sets the path and query and releases it.
//
// The headers are an allowlist, so a credential in a header balance does
// not know (x-api-key, Cookie) or a client-identity header
// (X-Forwarded-For, Forwarded) never leaves. The key is set per attempt.
func newUpstreamRequest(client *fasthttp.Request, body []byte) *fasthttp.Request {
	req := fasthttp.AcquireRequest()
	req.Header.SetMethodBytes(client.Header.Method())
	if ct := client.Header.ContentType(); len(ct) > 0 {
		req.Header.SetContentTypeBytes(ct)
	}
	for k, v := range client.Header.All() {
		if forwardedHeader(k) {
			req.Header.SetBytesKV(k, v)
		}
	}
	if body != nil {
		req.SetBodyRaw(body)
	}
	return req
}

// forwardedHeader reports whether a client header (in fasthttp's
// canonical case) may reach Google. Content-Type is copied apart.
func forwardedHeader(name []byte) bool {
	switch string(name) {
	case "Accept", "Accept-Language", "User-Agent", "X-Goog-Api-Client", "X-Server-Timeout",
		"X-Goog-Upload-Protocol", "X-Goog-Upload-Command", "X-Goog-Upload-Header-Content-Length",
		"X-Goog-Upload-Header-Content-Type", "X-Goog-Upload-Offset":
		return true
	}
	return false
}

// geminiRequest starts a Gemini API call that balance composed itself (a
// translated OpenAI call): POST {prefix}/v1beta/models/{target}:{method}
// with body, streamed as SSE when sse is set.
func geminiRequest(ex *exchange, method string, body []byte, sse bool) *fasthttp.Request {
	req := fasthttp.AcquireRequest()
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	ex.setUpstreamPath(req, gemini.Call{Version: "v1beta", Model: ex.model.Target, Method: method})
	if sse {
		req.URI().SetQueryString("alt=sse")
	}
	req.SetBodyRaw(body)
	return req
}
