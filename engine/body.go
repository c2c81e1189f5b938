package engine

import (
	"errors"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"
	"github.com/valyala/fasthttp"
)

// The server streams request bodies (fasthttp StreamRequestBody): the
// handler runs once the headers are in, and a body is read only by
// readBody, after the client token has been checked. A request that fails
// authentication is answered from its headers; fasthttp discards or, when
// it is large, refuses to drain the unread body and closes the connection.

// bodyMemory counts the bytes of request bodies held in memory at once,
// against server.max_body_memory.
type bodyMemory struct{ used atomic.Int64 }

func (m *bodyMemory) reserve(n, limit int64) bool {
	if m.used.Add(n) > limit {
		m.used.Add(-n)
		return false
	}
	return true
}

func (m *bodyMemory) release(n int64) { m.used.Add(-n) }

// bodyChunk is how much of a body of unknown length (chunked) is reserved
// and read at a time.
const bodyChunk = 64 << 10

// readBody reads the body of an authenticated call into memory, within
// server.max_request_body (larger: 413) and server.max_body_memory (the
// budget of all requests together; beyond it: 503 with Retry-After). The
// bytes stay reserved until the request's handler returns (releaseBody).
func (s *Server) readBody(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange) *Failure {
	stream := ctx.RequestBodyStream()
	if stream == nil {
		ex.bodyRead = true
		return nil // already in memory (a server without body streaming)
	}
	limit := int64(rt.Config.Server.MaxRequestBody)
	budget := rt.Config.Server.MaxBodyMemory
	buf := bytebufferpool.Get()
	ex.body = buf
	if n := int64(ctx.Request.Header.ContentLength()); n >= 0 {
		if n > limit {
			return bodyTooLarge(limit)
		}
		if !s.bodies.reserve(n, budget) {
			return bodyMemoryFull()
		}
		ex.bodyReserved = n
		buf.B = append(buf.B[:0], make([]byte, n)...)
		if _, err := io.ReadFull(stream, buf.B); err != nil {
			return bodyReadFailure(err)
		}
	} else {
		// Read up to one byte past the limit, reserving as it grows.
		buf.B = buf.B[:0]
		for int64(len(buf.B)) <= limit {
			step := min(bodyChunk, limit+1-int64(len(buf.B)))
			if !s.bodies.reserve(step, budget) {
				return bodyMemoryFull()
			}
			ex.bodyReserved += step
			start := len(buf.B)
			buf.B = append(buf.B, make([]byte, step)...)
			n, err := io.ReadFull(stream, buf.B[start:])
			buf.B = buf.B[:start+n]
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			if err != nil {
				return bodyReadFailure(err)
			}
		}
		if int64(len(buf.B)) > limit {
			return bodyTooLarge(limit)
		}
	}
	ctx.Request.SetBodyRaw(buf.B)
	ex.bodyRead = true
	return nil
}

// bodyTooLarge and bodyMemoryFull are built only when a body is refused:
// made up front, they cost an allocation on every request.
func bodyTooLarge(limit int64) *Failure {
	return &Failure{Status: fasthttp.StatusRequestEntityTooLarge, Message: "Request body exceeds server.max_request_body (" + strconv.FormatInt(limit, 10) + " bytes)."}
}

func bodyMemoryFull() *Failure {
	return &Failure{Status: fasthttp.StatusServiceUnavailable, RetryAfter: time.Second,
		Message: "Too many request bodies in memory at once (server.max_body_memory); retry shortly."}
}

func bodyReadFailure(err error) *Failure {
	return &Failure{Status: fasthttp.StatusBadRequest, Message: "Could not read the request body: " + err.Error() + "."}
}

// releaseBody gives back what readBody held. The client's request must no
// longer point at the buffer, which goes back to a pool.
func (s *Server) releaseBody(ctx *fasthttp.RequestCtx, ex *exchange) {
	if ex.body == nil {
		return
	}
	ctx.Request.ResetBody()
	s.bodies.release(ex.bodyReserved)
	bytebufferpool.Put(ex.body)
	ex.body, ex.bodyReserved, ex.bodyRead = nil, 0, false
}

// clientBody is the client's request body once readBody has it, and nil
// for a call that has none: ctx.Request.Body() on an unread streamed body
// would read all of it, past every limit.
func (ex *exchange) clientBody(ctx *fasthttp.RequestCtx) []byte {
	if !ex.bodyRead {
		return nil
	}
	return ctx.Request.Body()
}
