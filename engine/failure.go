package engine

import (
	"bufio"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/gemini"
	"github.com/balanceproxy/balance/engine/openai"
	"github.com/balanceproxy/balance/hooks"
	"github.com/balanceproxy/balance/internal/verdict"
)

// Failure ends a request before an upstream answer could be passed on:
// a refusal by a stage (bad input, no token, no key), an upstream failure,
// or a hook's own answer. Stages return it; the driver records it and the
// request's adapter renders it in the caller's protocol. It is the one
// description of an error answer: no stage writes one by hand.
type Failure struct {
	Status int
	// Class is the error class recorded in stats; OK means the caller's
	// own error (recorded as client_error) unless the upstream verdict
	// already says otherwise.
	Class verdict.Class
	// Reason is a short machine-readable reason for the record.
	Reason  string
	Message string
	// Param names the request field at fault (OpenAI's error "param").
	Param      string
	RetryAfter time.Duration
	// Allow lists the methods the path takes, for a 405.
	Allow string
	// Upstream is Google's own error body, redacted and owned by the
	// Failure: native callers get it as is, OpenAI callers its translation.
	Upstream []byte
	// Answer is a body a hook chose, sent verbatim with AnswerHeaders.
	Answer        []byte
	AnswerHeaders []hooks.Header
}

// fail builds a Failure for a refusal by balance itself.
func fail(status int, msg string) *Failure {
	return &Failure{Status: status, Message: msg}
}

// Protocol is the API dialect a client speaks; errors are written in it.
type Protocol uint8

// Protocols.
const (
	ProtoGemini Protocol = iota
	ProtoOpenAI
)

func (p Protocol) String() string {
	if p == ProtoOpenAI {
		return "openai"
	}
	return "gemini"
}

// render writes f as the whole answer in protocol p. Google's own error
// body is kept as is for Gemini callers and translated for OpenAI ones
// (openai.ErrorFromGemini also unwraps the array-shaped errors of Google's
// OpenAI-compatible endpoint, which the OpenAI SDKs cannot read).
func (p Protocol) render(resp *fasthttp.Response, f *Failure) {
	resp.Reset()
	resp.SetStatusCode(f.Status)
	if f.RetryAfter > 0 {
		resp.Header.Set("Retry-After", retryAfterSeconds(f.RetryAfter))
	}
	if f.Allow != "" {
		resp.Header.Set("Allow", f.Allow)
	}
	switch {
	case f.Answer != nil:
		resp.Header.SetContentType("application/json")
		for _, h := range f.AnswerHeaders {
			resp.Header.Set(h.Name, h.Value)
		}
		resp.SetBody(f.Answer)
	case p == ProtoGemini:
		resp.Header.SetContentType("application/json; charset=UTF-8")
		if f.Upstream != nil {
			resp.SetBody(f.Upstream)
		} else {
			resp.SetBody(gemini.ErrorJSON(f.Status, f.Message, f.RetryAfter))
		}
	default:
		resp.Header.SetContentType("application/json")
		resp.SetBody(openAIError(f).JSON())
	}
}

// renderEvent ends a stream whose 200 header is out with f as an error
// event the client's parser surfaces: an SSE event (for the JSON-array
// form of Gemini streams, a last array element) in the caller's shape.
// OpenAI streams get no [DONE] after it, so no client mistakes the cut
// answer for a complete one.
func (p Protocol) renderEvent(w *bufio.Writer, f *Failure, sse bool) {
	if p == ProtoOpenAI {
		_, _ = w.Write(openai.ErrorEvent(openAIError(f)))
		_ = w.Flush()
		return
	}
	body := f.Upstream
	if body == nil {
		body = gemini.ErrorJSON(f.Status, f.Message, 0)
	}
	if sse {
		_, _ = w.WriteString("data: ")
		_, _ = w.Write(body)
		_, _ = w.WriteString("\r\n\r\n")
	} else {
		_, _ = w.WriteString(",\r\n")
		_, _ = w.Write(body)
		_, _ = w.WriteString("]")
	}
	_ = w.Flush()
}

func openAIError(f *Failure) *openai.Error {
	if f.Upstream != nil {
		return openai.ErrorFromGemini(f.Status, f.Upstream)
	}
	return openai.NewError(f.Status, f.Message, f.Param)
}

func retryAfterSeconds(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return strconv.FormatInt(secs, 10)
}

// forwardFailure is the Failure for an attempt loop that did not end in a
// success, or nil when up holds one. It is the one place that decides how
// "no key", "no answer" and "Google said no" look to a client, for unary
// calls, streams and keep-alive streams alike.
func (s *Server) forwardFailure(ex *exchange, out outcome, freeAt time.Time, up *fasthttp.Response) *Failure {
	switch out {
	case outNoKey:
		return noKeyFailure(ex, freeAt)
	case outAbandoned:
		f := abandonedFailure
		return &f
	case outTransport:
		status := fasthttp.StatusBadGateway
		if ex.verdict.Class == verdict.Timeout {
			status = fasthttp.StatusGatewayTimeout
		}
		return &Failure{Status: status, Class: ex.verdict.Class, Reason: ex.verdict.Reason,
			Message: "Upstream " + ex.pool.upstream.Name + " failed after " + strconv.Itoa(ex.attempts) + " attempt(s): " + ex.verdict.Message + "."}
	}
	status := up.StatusCode()
	if status >= 200 && status < 300 && ex.verdict.Class == verdict.OK {
		return nil
	}
	body := up.Body()
	if ex.inBandError != nil { // an in-band error that opened a 200 stream
		status, body = errorCode(ex.inBandError), ex.inBandError
	}
	f := &Failure{Status: status, Class: ex.verdict.Class, Reason: ex.verdict.Reason, Message: upstreamMessage(ex, status)}
	f.Upstream = append([]byte(nil), ex.pool.redactBytes(body)...)
	if ex.verdict.Class == verdict.RateLimited {
		f.RetryAfter = ex.verdict.RetryAfter
	}
	return f
}

// noKeyFailure answers when no key of the pool can serve: 429 with the
// time the first key frees up, or 503 when every key is quarantined.
func noKeyFailure(ex *exchange, freeAt time.Time) *Failure {
	_, cooling, quarantined := ex.pool.pool.Counts(time.Now())
	if ex.pin != nil && !freeAt.IsZero() {
		return &Failure{Status: fasthttp.StatusTooManyRequests, Class: verdict.RateLimited, Reason: "owner_cooling", RetryAfter: time.Until(freeAt),
			Message: ex.pinName + " belongs to key " + ex.pin.FP + ", the only key that can use it, which is rate-limited for " + ex.model.Target + " until " + freeAt.UTC().Format(time.RFC3339) + "."}
	}
	if freeAt.IsZero() {
		return &Failure{Status: fasthttp.StatusServiceUnavailable, Class: verdict.ServerError, Reason: "no_key", RetryAfter: 30 * time.Second,
			Message: "No key in pool " + ex.pool.cfg.Name + " can serve: " + strconv.Itoa(quarantined) + " quarantined, " + strconv.Itoa(cooling) + " cooling. Quarantined keys are re-probed in the background."}
	}
	return &Failure{Status: fasthttp.StatusTooManyRequests, Class: verdict.RateLimited, Reason: "no_key", RetryAfter: time.Until(freeAt),
		Message: "All keys of pool " + ex.pool.cfg.Name + " are rate-limited for " + ex.model.Target + " (" + strconv.Itoa(cooling) + " cooling, " + strconv.Itoa(quarantined) + " quarantined); the first frees up at " + freeAt.UTC().Format(time.RFC3339) + "."}
}

// upstreamMessage is Google's error message for a failed exchange,
// redacted, or a generic one naming the status.
func upstreamMessage(ex *exchange, status int) string {
	if ex.verdict.Message != "" {
		return ex.pool.redact(ex.verdict.Message)
	}
	return "Upstream answered " + strconv.Itoa(status) + " " + gemini.StatusName(status) + "."
}

// writeGeminiError answers a request outside the pipeline (metrics,
// status) in Google's error shape.
func writeGeminiError(ctx *fasthttp.RequestCtx, status int, msg string, retryAfter time.Duration) {
	ProtoGemini.render(&ctx.Response, &Failure{Status: status, Message: msg, RetryAfter: retryAfter})
}
