package mockgemini

import (
	"bufio"
	"net"
	"strconv"

	"github.com/valyala/fasthttp"
)

// stall answers a streamed request with a 200 SSE stream of chunks events
// and then silence, holding the connection (see hold); a unary request
// hangs. The response is written by hand on the hijacked connection, so
// the stream's chunked body stays open.
func (s *Server) stall(ctx *fasthttp.RequestCtx, r *request, stream bool, chunks int) {
	if !stream {
		s.hang(ctx)
		return
	}
	event := `{"candidates":[{"content":{"parts":[{"text":"thinking"}],"role":"model"},"index":0}],"modelVersion":"` + string(r.model) + `"}`
	if r.openai {
		event = `{"id":"chatcmpl-stall","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"thinking"}}]}`
	}
	s.streams.Add(1)
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) {
		defer s.streams.Done()
		w := bufio.NewWriter(c)
		_, _ = w.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
		for range chunks {
			data := "data: " + event + "\r\n\r\n"
			_, _ = w.WriteString(strconv.FormatInt(int64(len(data)), 16) + "\r\n" + data + "\r\n")
		}
		_ = w.Flush()
		s.hold(c)
	})
}

// Held is how many connections Hang and StreamStall faults hold open
// right now: one goes when its client closes it.
func (s *Server) Held() int64 { return s.held.Load() }
