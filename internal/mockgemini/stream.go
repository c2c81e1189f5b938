package mockgemini

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"net"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// framing is how a streamed answer is laid out on the wire.
type framing uint8

const (
	frameSSE    framing = iota // native alt=sse: data: <spaced JSON>\r\n\r\n, no terminator
	frameArray                 // native without alt: one JSON array of pretty objects
	frameOpenAI                // OpenAI: data: <compact JSON>\n\n ... data: [DONE]\n\n
)

// eventStream is a fully pre-rendered streamed answer: the handler renders
// every event while the request body is still valid, and the stream writer
// (which runs after the handler returns) only copies owned bytes out.
type eventStream struct {
	frame  framing
	buf    []byte
	ends   []int  // end offset of each event in buf
	tail   []byte // written after the last event on success
	errEvt []byte // in-band error event (with any closing bytes) for StreamError
}

func newEventStream(f framing) *eventStream {
	es := &eventStream{frame: f, buf: make([]byte, 0, 2048), ends: make([]int, 0, 8)}
	switch f {
	case frameArray:
		es.tail = []byte("\n]")
	case frameOpenAI:
		es.tail = []byte("data: [DONE]\n\n")
	}
	return es
}

// add frames one compact JSON value as the next event.
func (es *eventStream) add(compact []byte) {
	switch es.frame {
	case frameSSE:
		es.buf = append(es.buf, "data: "...)
		es.buf = appendSpaced(es.buf, compact)
		es.buf = append(es.buf, "\r\n\r\n"...)
	case frameArray:
		if len(es.ends) == 0 {
			es.buf = append(es.buf, '[')
		} else {
			es.buf = append(es.buf, "\n,\r\n"...)
		}
		es.buf = appendPretty(es.buf, compact)
	case frameOpenAI:
		es.buf = append(es.buf, "data: "...)
		es.buf = appendCompact(es.buf, compact)
		es.buf = append(es.buf, "\n\n"...)
	}
	es.ends = append(es.ends, len(es.buf))
}

// setError renders the in-band error sent by a StreamError fault after
// `after` events.
func (es *eventStream) setError(e apiError, after int) {
	var c []byte
	c = appendErrorCompact(c, apiError{code: e.code, status: e.status, message: e.message})
	switch es.frame {
	case frameSSE:
		es.errEvt = append(appendSpaced([]byte("data: "), c), "\r\n\r\n"...)
	case frameArray:
		sep := "\n,\r\n"
		if after == 0 || len(es.ends) == 0 {
			sep = "["
		}
		es.errEvt = append(appendPretty([]byte(sep), c), "\n]"...)
	case frameOpenAI:
		es.errEvt = append(append([]byte("data: "), c...), "\n\n"...)
	}
}

func (es *eventStream) event(i int) []byte {
	start := 0
	if i > 0 {
		start = es.ends[i-1]
	}
	return es.buf[start:es.ends[i]]
}

func (es *eventStream) contentType() string {
	if es.frame == frameArray {
		return ctJSON
	}
	return ctSSE
}

// serveStream answers with the stream, applying fault when its Kind is
// StreamCut, StreamError or StreamStop.
func (s *Server) serveStream(ctx *fasthttp.RequestCtx, es *eventStream, fault Fault) {
	delay := s.opts.StreamDelay
	if fault.Kind == StreamCut {
		s.serveCut(ctx, es, fault.AfterChunks, delay)
		return
	}
	after, stop := -1, false
	if fault.Kind == StreamStop {
		after, stop = min(fault.AfterChunks, len(es.ends)-1), true
	}
	if fault.Kind == StreamError {
		after = fault.AfterChunks
		if after > len(es.ends) {
			after = len(es.ends)
		}
		es.setError(errUnavailable(), after)
	}
	setCommonHeaders(ctx, es.contentType())
	if es.frame == frameSSE {
		ctx.Response.Header.Set("Content-Disposition", "attachment")
	}
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		for i := range es.ends {
			if i == after {
				break
			}
			if i > 0 && !s.sleep(delay) {
				return
			}
			if _, err := w.Write(es.event(i)); err != nil {
				return // client went away
			}
			if err := w.Flush(); err != nil {
				return
			}
		}
		if stop {
			if es.frame == frameArray {
				_, _ = w.WriteString("]")
				_ = w.Flush()
			}
			return
		}
		if after >= 0 {
			if after > 0 && !s.sleep(delay) {
				return
			}
			_, _ = w.Write(es.errEvt)
			_ = w.Flush()
			return
		}
		if len(es.tail) > 0 {
			_, _ = w.Write(es.tail)
			_ = w.Flush()
		}
	})
}

// serveCut writes the response by hand on the hijacked connection: headers,
// `after` chunked events, then it closes the socket without the final
// zero-length chunk, which a client sees as an unexpected EOF.
func (s *Server) serveCut(ctx *fasthttp.RequestCtx, es *eventStream, after int, delay time.Duration) {
	if after > len(es.ends) {
		after = len(es.ends)
	}
	head := make([]byte, 0, 256)
	head = append(head, "HTTP/1.1 200 OK\r\nContent-Type: "...)
	head = append(head, es.contentType()...)
	head = append(head, "\r\nServer: scaffolding on HTTPServer2\r\nX-Content-Type-Options: nosniff\r\nTransfer-Encoding: chunked\r\n\r\n"...)
	s.streams.Add(1)
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) {
		defer s.streams.Done()
		bw := bufio.NewWriter(c)
		_, _ = bw.Write(head)
		if err := bw.Flush(); err != nil {
			return
		}
		for i := 0; i < after; i++ {
			if i > 0 && !s.sleep(delay) {
				return
			}
			ev := es.event(i)
			bw.Write(strconv.AppendInt(nil, int64(len(ev)), 16))
			bw.WriteString("\r\n")
			bw.Write(ev)
			bw.WriteString("\r\n")
			if err := bw.Flush(); err != nil {
				return
			}
		}
		// Returning closes the connection mid-body. A linger of 0 makes it
		// an RST, the harshest cut, when the conn is a TCP socket.
		if tc, ok := unwrapTCP(c); ok {
			_ = tc.SetLinger(0)
		}
	})
}

// unwrapTCP finds the *net.TCPConn under fasthttp's hijacked wrapper.
func unwrapTCP(c net.Conn) (*net.TCPConn, bool) {
	for i := 0; i < 4; i++ {
		switch v := c.(type) {
		case *net.TCPConn:
			return v, true
		case interface{ UnsafeConn() net.Conn }:
			c = v.UnsafeConn()
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil, false
		}
	}
	return nil, false
}

// tinyPNG is a valid 8x8 PNG (a two-colour checker), small enough to ship
// in every image answer.
var tinyPNG, tinyPNGBase64 = func() ([]byte, string) {
	img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
	for y := 0; y < 8; y++ {
		for x := 0; x < 8; x++ {
			c := color.NRGBA{R: 0x1a, G: 0x73, B: 0xe8, A: 0xff}
			if (x/4+y/4)%2 == 1 {
				c = color.NRGBA{R: 0xfb, G: 0xbc, B: 0x04, A: 0xff}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic("mockgemini: encoding the built-in PNG: " + err.Error()) // static input; cannot happen
	}
	return b.Bytes(), base64.StdEncoding.EncodeToString(b.Bytes())
}()
