package engine

import (
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/gemini"
)

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

// writeGeminiError answers in Google's error shape. retryAfter, when
// positive, is sent as Retry-After and as a RetryInfo detail.
func writeGeminiError(ctx *fasthttp.RequestCtx, status int, msg string, retryAfter time.Duration) {
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json; charset=UTF-8")
	if retryAfter > 0 {
		ctx.Response.Header.Set("Retry-After", retryAfterSeconds(retryAfter))
	}
	ctx.SetBody(gemini.ErrorJSON(status, msg, retryAfter))
}

func retryAfterSeconds(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return strconv.FormatInt(secs, 10)
}

func (rt *Runtime) generationHeader() string { return rt.genHeader }
