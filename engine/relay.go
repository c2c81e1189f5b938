package engine

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/hooks"
	"github.com/balanceproxy/balance/internal/verdict"
)

// eventSink is what each event of a streamed answer goes through on its
// way to the client: the adapter's translation, behind the chunk hooks.
type eventSink interface {
	// event writes what one upstream event (the JSON after "data:")
	// becomes for the client.
	event(w *bufio.Writer, data []byte) error
	// finish writes the end of a stream that ended cleanly.
	finish(w *bufio.Writer) error
	// contentType is the client's Content-Type given the upstream's.
	contentType(upstream []byte) []byte
}

// sseEvents writes events unchanged as SSE events: the sink of a stream
// that only chunk hooks look at.
type sseEvents struct{}

func (sseEvents) event(w *bufio.Writer, data []byte) error {
	_, _ = w.WriteString("data: ")
	_, _ = w.Write(data)
	_, err := w.WriteString("\r\n\r\n")
	return err
}

func (sseEvents) finish(*bufio.Writer) error { return nil }

func (sseEvents) contentType(upstream []byte) []byte { return upstream }

// streamEnd stops a stream before its upstream ends: a chunk hook answered,
// or the adapter met an error. failure, when set, is written as the
// stream's last event and recorded; nil means the stream ended on purpose.
type streamEnd struct{ failure *Failure }

func (e *streamEnd) Error() string {
	if e.failure != nil {
		return "stream ended: " + e.failure.Message
	}
	return "stream ended by a hook"
}

var errClientGone = errors.New("client went away")

// commitStream sends the 200 stream headers; from here on the exchange
// belongs to the stream writer and the handler must not touch it.
func commitStream(ctx *fasthttp.RequestCtx, ex *exchange, contentType []byte) {
	ex.status, ex.streamed, ex.detached = fasthttp.StatusOK, true, true
	ex.ttfb = time.Since(ex.start)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.SetContentTypeBytes(contentType)
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no")
}

var textEventStream = []byte("text/event-stream")

// relay commits the client to a 200 stream and copies the upstream stream
// to it from a writer that runs after the handler returns. Until then a
// failure moved the request to another key (forward); from here on the
// stream is never spliced with another key's: a failure ends it with an
// error event the client can parse.
func (s *Server) relay(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange, up *fasthttp.Response) {
	ct := up.Header.ContentType()
	sse := bytes.HasPrefix(ct, textEventStream)
	ex.streamsCut = s.streams.cutting()
	sink := ex.adapter.sink(rt, ex)
	if sse && chainHandles(ex.chain, hooks.PhaseChunk) {
		if sink == nil {
			sink = sseEvents{}
		}
		sink = chunkHooks{s: s, ex: ex, next: sink}
	}
	if sink != nil {
		ct = sink.contentType(ct)
	}
	commitStream(ctx, ex, ct)
	s.streams.add(ex, up)
	var markers [][]byte
	if c, ok := ex.adapter.(completer); ok {
		markers = c.completeMarkers()
	}
	setStreamWriter(ctx, func(w *bufio.Writer) {
		tail := tailBuffer{markers: markers}
		var err error
		if sink != nil {
			err = relayEvents(w, ex.peeked, up.BodyStream(), &tail, sink)
		} else {
			err = copyStream(w, ex.peeked, up.BodyStream(), &tail)
		}
		if err == nil && markers != nil && !tail.seen {
			truncated := truncatedStream
			if bytes.Contains(tail.bytes(), inBandErrorKey) {
				// Google ended the stream with an error event of its own:
				// the client has read it, and a second would follow an end.
				// Only the record is balance's to write.
				truncated.Reason, truncated.Upstream = "stream_error", append([]byte(nil), ex.pool.redactBytes(tail.bytes())...)
				ex.noteFailure(&truncated)
				ex.status = truncated.Status
			} else {
				err = &streamEnd{failure: &truncated}
			}
		}
		// Out of shutdown's reach before the answer is closed: a cut
		// closing it at the same moment would race.
		s.streams.stopReading(ex)
		if err == nil {
			_ = up.CloseBodyStream()
		} else {
			closeStream(up, err)
		}
		ex.usage, _ = parseUsage(tail.bytes())
		fasthttp.ReleaseResponse(up)
		s.endStream(w, ex, sse, err)
	})
}

// endStream records how a committed stream ended, writes the error event
// of one that failed, and finishes the exchange.
func (s *Server) endStream(w *bufio.Writer, ex *exchange, sse bool, err error) {
	s.watch.remove(ex)
	var end *streamEnd
	switch {
	case err != nil && s.streams.wasCut(ex):
		cut := shutdownFailure
		err = &streamEnd{failure: &cut}
	case err != nil && ex.upstream.Abandoned():
		err = errClientGone // its watcher saw the client hang up
	}
	switch {
	case err == nil:
	case errors.Is(err, errClientGone):
		ex.verdict = verdict.Verdict{Class: verdict.ClientError, Reason: "client_closed"}
		ex.status = statusClientClosed
	case errors.As(err, &end):
		if end.failure != nil {
			renderStreamFailure(w, ex, end.failure, sse)
			ex.noteFailure(end.failure)
			ex.status = end.failure.Status
		}
	default:
		v := transportVerdict(err)
		ex.verdict = v
		f := &Failure{Status: fasthttp.StatusServiceUnavailable, Class: v.Class, Reason: v.Reason,
			Message: "Upstream stream failed after output began (" + v.Message + "); the answer above is incomplete."}
		if v.Class == verdict.Timeout {
			f.Status = fasthttp.StatusGatewayTimeout
		}
		renderStreamFailure(w, ex, f, sse)
		ex.noteFailure(f)
		ex.status = fasthttp.StatusBadGateway
	}
	s.finish(ex)
}

// streamFailer is an adapter whose protocol ends a failed stream with an
// event of its own (the Responses API's response.failed).
type streamFailer interface {
	failStream(w *bufio.Writer, ex *exchange, f *Failure) bool
}

// renderStreamFailure writes the last event of a failed stream: the
// adapter's own, or its protocol's error event.
func renderStreamFailure(w *bufio.Writer, ex *exchange, f *Failure, sse bool) {
	if sf, ok := ex.adapter.(streamFailer); ok && sf.failStream(w, ex, f) {
		return
	}
	ex.adapter.protocol().renderEvent(w, f, sse)
}

// keepAliveStream serves a streaming client from a unary upstream call
// (the "fake stream"): SSE comments keep the connection alive while the
// model thinks, then the whole answer goes through the adapter's sink as
// one event. Some gateways and clients time out on a stream that stays
// silent for minutes. It takes req over: the call outlives the handler,
// so the body is copied out of the client's request first.
func (s *Server) keepAliveStream(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange, own *fasthttp.Request) {
	own.SetBodyRaw(append([]byte(nil), own.Body()...))
	ex.streamsCut = s.streams.cutting()
	sink := ex.adapter.sink(rt, ex)
	commitStream(ctx, ex, sink.contentType(textEventStream))
	every := ex.call.keepAlive
	s.streams.addWaiting(ex, &ex.upstream)
	setStreamWriter(ctx, func(w *bufio.Writer) {
		defer fasthttp.ReleaseRequest(own)
		up := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseResponse(up)
		type result struct {
			out    outcome
			freeAt time.Time
		}
		done := make(chan result, 1)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, freeAt := s.forward(ex, own, up, false)
			done <- result{out, freeAt}
		}()
		tick := time.NewTicker(every)
		defer tick.Stop()
		var res result
	wait:
		for {
			select {
			case res = <-done:
				break wait
			case <-tick.C:
				_, _ = w.Write(keepAliveComment)
				_ = w.Flush() // a gone client shows up on the real write below
			}
		}
		wg.Wait()
		s.streams.stopReading(ex)
		if f := s.forwardFailure(ex, res.out, res.freeAt, up); f != nil {
			s.endStream(w, ex, true, &streamEnd{failure: f})
			return
		}
		ex.usage, _ = parseUsage(up.Body())
		err := sink.event(w, up.Body())
		if err == nil {
			err = sink.finish(w)
		}
		if err == nil && w.Flush() != nil {
			err = errClientGone
		}
		s.endStream(w, ex, true, err)
	})
}

// setStreamWriter makes write the body of the client's answer. fasthttp's
// connection goroutine runs it as it sends the answer, after the handler
// returned: every Flush of w goes out as one chunk. (ctx.SetBodyStreamWriter
// runs the writer on a goroutine of its own behind an in-memory pipe,
// which costs every open stream a second stack, the pipe, its buffer and
// a copy buffer.) write runs exactly once: should fasthttp never send the
// body (the connection failed first), it runs when the body is released,
// against a writer that fails, so the stream still ends and is recorded
// like one whose client went away.
func setStreamWriter(ctx *fasthttp.RequestCtx, write func(w *bufio.Writer)) {
	ctx.Response.SetBodyStream(&streamWriter{write: write}, -1)
}

// streamWriter is the body stream setStreamWriter sets: fasthttp calls
// WriteTo (fasthttp.BodyWriterTo) with a writer that frames and flushes
// every write as one chunk.
type streamWriter struct {
	write func(w *bufio.Writer)
	once  sync.Once
}

// streamBufPool holds the writers between a stream's events and the
// connection; one is held per open stream, so it stays at 4 KiB.
var streamBufPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}

// SupportsBodyWriteTo tells fasthttp to use WriteTo, never Read.
func (sw *streamWriter) SupportsBodyWriteTo() bool { return true }

func (sw *streamWriter) WriteTo(dst io.Writer) (int64, error) {
	cw := countingWriter{w: dst}
	err := errStreamWritten
	sw.once.Do(func() { err = sw.run(&cw) })
	return cw.n, err
}

// Read is never used: SupportsBodyWriteTo says so. Should fasthttp read
// anyway, it gets an error and the writer runs when the body is closed.
func (sw *streamWriter) Read([]byte) (int, error) { return 0, errStreamWritten }

// Close runs the writer if fasthttp never sent the body.
func (sw *streamWriter) Close() error {
	sw.once.Do(func() { _ = sw.run(failingWriter{}) })
	return nil
}

func (sw *streamWriter) run(dst io.Writer) error {
	w := streamBufPool.Get().(*bufio.Writer)
	w.Reset(dst)
	sw.write(w)
	err := w.Flush()
	w.Reset(nil)
	streamBufPool.Put(w)
	return err
}

var errStreamWritten = errors.New("stream body: written once, through WriteTo")

// countingWriter counts what goes through it, for WriteTo's result.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// failingWriter is the client of a stream whose body was never sent.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errClientGone }

// keepAliveComment is an SSE comment: SSE parsers skip it. (Never sent on
// the Gemini-native routes: the Go genai SDK treats comments as errors.)
var keepAliveComment = []byte(": keep-alive\n\n")

// copyStream relays an upstream stream to the client, flushing every read
// so events arrive as Google sends them. It returns nil at a clean end,
// errClientGone when the client went away, or the upstream read error.
func copyStream(w *bufio.Writer, first []byte, body io.Reader, tail *tailBuffer) error {
	if len(first) > 0 {
		tail.write(first)
		if _, err := w.Write(first); err != nil || w.Flush() != nil {
			return errClientGone
		}
	}
	for {
		// Read straight into the writer's free space: no buffer of our
		// own is held for the life of the stream. Flush empties it after
		// every read, so there is always a whole buffer to read into.
		buf := w.AvailableBuffer()
		if cap(buf) < 512 {
			if err := w.Flush(); err != nil {
				return errClientGone
			}
			buf = w.AvailableBuffer()
		}
		n, rerr := body.Read(buf[:cap(buf)])
		if n > 0 {
			tail.write(buf[:n])
			if _, err := w.Write(buf[:n]); err != nil || w.Flush() != nil {
				return errClientGone
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return nil
			}
			return rerr
		}
	}
}

// relayEvents reads SSE events from body (after the already-read first
// bytes) and hands each event's data to sink, flushing after each. It
// returns nil at a clean end (after sink.finish), errClientGone if a write
// failed, a *streamEnd from the sink, or the upstream read error.
func relayEvents(w *bufio.Writer, first []byte, body io.Reader, tail *tailBuffer, sink eventSink) error {
	r := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(first), body), 4<<10)
	var long []byte
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// An event larger than the buffer (inline images): gather it.
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 {
			tail.write(line)
			data := bytes.TrimSpace(line)
			if bytes.HasPrefix(data, []byte("data:")) {
				data = bytes.TrimSpace(data[len("data:"):])
				if serr := sinkError(w, sink.event(w, data)); serr != nil {
					return serr
				}
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return err
			}
			return sinkError(w, sink.finish(w))
		}
	}
}

// sinkError flushes what a sink wrote and sorts how it stopped: a
// *streamEnd as it is, any other failure as a client that went away.
func sinkError(w *bufio.Writer, err error) error {
	var end *streamEnd
	if errors.As(err, &end) {
		return err
	}
	if err != nil || w.Flush() != nil {
		return errClientGone
	}
	return nil
}

// tailBuffer keeps the last bytes of a stream: Gemini repeats cumulative
// usageMetadata on every event, so the tail is enough to count tokens.
type tailBuffer struct {
	buf [2048]byte
	n   int
	// markers, when set, are looked for in everything written; seen
	// tells whether one of them passed (see completer).
	markers [][]byte
	seen    bool
}

func (t *tailBuffer) write(p []byte) {
	if !t.seen && len(p) >= len(t.buf) {
		t.seen = t.holdsMarker(p)
	}
	if len(p) >= len(t.buf) {
		t.n = copy(t.buf[:], p[len(p)-len(t.buf):])
		return
	}
	if t.n+len(p) > len(t.buf) {
		drop := t.n + len(p) - len(t.buf)
		copy(t.buf[:], t.buf[drop:t.n])
		t.n -= drop
	}
	t.n += copy(t.buf[t.n:], p)
	if !t.seen && len(t.markers) > 0 {
		// p plus what came before it, so a marker split across two reads
		// is found (markers are short).
		t.seen = t.holdsMarker(t.buf[max(0, t.n-len(p)-32):t.n])
	}
}

func (t *tailBuffer) holdsMarker(b []byte) bool {
	for _, m := range t.markers {
		if bytes.Contains(b, m) {
			return true
		}
	}
	return false
}

// completer is an adapter whose streams are relayed as they come (no
// sink translates them) but whose protocol marks a complete answer:
// Gemini's finishReason, the [DONE] of Google's OpenAI endpoint. A stream
// that ends cleanly without its marker was cut short upstream, and the
// client must not take it for a whole answer.
type completer interface {
	completeMarkers() [][]byte
}

// inBandErrorKey is how an upstream error event that ended a stream shows
// in its last bytes ({"error": {...}}); inside a JSON string the quotes
// would be escaped, so answer text cannot look like it.
var inBandErrorKey = []byte(`"error":`)

// truncatedStream ends a stream whose upstream stopped before its answer
// was complete.
var truncatedStream = Failure{Status: fasthttp.StatusBadGateway, Class: verdict.ServerError, Reason: "stream_truncated",
	Message: "Upstream stream ended before the answer was complete; the answer above is incomplete."}

func (t *tailBuffer) bytes() []byte { return t.buf[:t.n] }
