package openai

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// KeepAlive is an SSE comment for slow answers to streaming clients ("fake
// stream"): both OpenAI SDKs ignore comment lines, so the engine can send it
// periodically while it waits for a unary upstream answer, then feed that
// answer to StreamTranslator.Event and call Finish. (Never send it on the
// Gemini-native routes: the Go genai SDK treats comments as errors.)
var KeepAlive = []byte(": keep-alive\n\n")

// Done is the OpenAI stream terminator.
var Done = []byte("data: [DONE]\n\n")

// StreamTranslator turns Gemini SSE events into OpenAI chat.completion.chunk
// events. It is not safe for concurrent use; use one per stream. Buffers
// are reused across events, so a chunk costs a few allocations at most.
type StreamTranslator struct {
	t      translator
	prefix []byte // `data: {"id":…,"choices":[`
	buf    []byte
	done   bool
	// pacer, when set, cuts long content deltas into pieces; w and err
	// are the writer of the current Event and its first write error.
	pacer Pacer
	w     io.Writer
	err   error
}

// A Pacer spreads the content of a stream over chunks written apart in
// time (a typing effect): long deltas are cut into pieces, and every
// piece, the first of a delta or a short delta whole included, waits
// for its turn, so a burst of small upstream events is paced like one
// long delta.
type Pacer interface {
	// PieceSize is the most characters the next piece of a delta with n
	// characters left may carry; n or more sends the rest whole.
	PieceSize(n int) int
	// Pause runs before a piece of n characters is written, after every
	// piece before it; an error ends the stream.
	Pause(n int) error
}

// SetPacer makes the stream cut long content deltas into pieces as p
// says. Reasoning, tool calls and images are never cut: a delta holding
// tool calls or an image goes out whole.
func (s *StreamTranslator) SetPacer(p Pacer) { s.pacer = p }

// NewStreamTranslator starts a stream for one completion.
func NewStreamTranslator(rep Reply, opt Options) *StreamTranslator {
	s := &StreamTranslator{t: translator{rep: rep, opt: opt}, buf: make([]byte, 0, 1024)}
	p := make([]byte, 0, 96+len(rep.ID)+len(rep.Model))
	p = append(p, `data: {"id":`...)
	p = jsonw.AppendString(p, rep.ID)
	p = append(p, `,"object":"chat.completion.chunk","created":`...)
	p = appendInt(p, rep.Created)
	p = append(p, `,"model":`...)
	p = jsonw.AppendString(p, rep.Model)
	p = append(p, `,"choices":[`...)
	s.prefix = p
	return s
}

// Event translates one Gemini stream event (the JSON after "data: ", or a
// whole unary response for a fake stream) and writes zero or more chunks.
// An error (malformed upstream JSON, an in-band upstream error as *Error, a
// write failure) ends the stream: pass it to Fail.
func (s *StreamTranslator) Event(gemini []byte, w io.Writer) error {
	if s.done {
		return errors.New("openai: Event after Finish or Fail")
	}
	s.buf = s.buf[:0]
	s.w, s.err = w, nil
	err := s.t.ingest(gemini, s.emit)
	s.w = nil
	if s.err != nil {
		return s.err
	}
	if len(s.buf) > 0 {
		if _, werr := w.Write(s.buf); werr != nil {
			return fmt.Errorf("write chunk: %w", werr)
		}
	}
	return err
}

// emitPaced writes all but the last piece of a content delta, each its
// own chunk after the pacer's pause, and leaves the last piece, paused
// for too, in c.content for emit. The first piece carries the role and
// reasoning. Chunks of this event already in s.buf go out before the
// first pause.
func (s *StreamTranslator) emitPaced(idx int, c *choice) {
	full := c.content
	left := countChars(full)
	pos := 0
	for s.err == nil {
		size := s.pacer.PieceSize(left)
		if size <= 0 || size > left {
			size = left
		}
		s.writeBuf()
		if s.err == nil {
			s.err = s.pacer.Pause(size)
		}
		if s.err != nil || size == left {
			break
		}
		cut := pos + charsLen(full[pos:], size)
		c.content = full[pos:cut]
		s.buf = s.appendChunk(s.buf, idx, c)
		c.reasoning = c.reasoning[:0]
		pos, left = cut, left-size
	}
	c.content = append(full[:0], full[pos:]...)
}

// writeBuf writes the chunks in s.buf to the event's writer.
func (s *StreamTranslator) writeBuf() {
	if len(s.buf) == 0 || s.err != nil {
		return
	}
	if _, err := s.w.Write(s.buf); err != nil {
		s.err = fmt.Errorf("write chunk: %w", err)
	}
	s.buf = s.buf[:0]
}

// countChars counts the characters of an escaped JSON string body: each
// escape (a surrogate pair as one) or UTF-8 rune is one.
func countChars(b []byte) int {
	n := 0
	for i := 0; i < len(b); i += charLen(b[i:]) {
		n++
	}
	return n
}

// charsLen is the byte length of the first n characters of b.
func charsLen(b []byte, n int) int {
	i := 0
	for ; n > 0 && i < len(b); n-- {
		i += charLen(b[i:])
	}
	return i
}

// charLen is the byte length of the character b starts with, so a piece
// never ends inside an escape or a rune.
func charLen(b []byte) int {
	if b[0] != '\\' {
		_, n := utf8.DecodeRune(b)
		return n
	}
	if len(b) >= 6 && b[1] == 'u' {
		if len(b) >= 12 && (b[2] == 'd' || b[2] == 'D') && strings.IndexByte("89abAB", b[3]) >= 0 && b[6] == '\\' && b[7] == 'u' {
			return 12 // a surrogate pair
		}
		return 6
	}
	return min(2, len(b))
}

// emit appends the chunk(s) for one candidate's delta to s.buf.
func (s *StreamTranslator) emit(idx int, c *choice, last bool) {
	if s.pacer != nil && s.err == nil && len(c.content) > 0 && len(c.tools) == 0 && len(c.images) == 0 && !c.inlineImage {
		s.emitPaced(idx, c)
	}
	s.buf = s.appendChunk(s.buf, idx, c)
	c.resetDelta()
	if last {
		s.buf = s.finishChunk(s.buf, idx, c.finish)
	}
}

// appendChunk appends the chunk of one candidate's current delta (nothing
// when it has none and the role was sent).
func (s *StreamTranslator) appendChunk(b []byte, idx int, c *choice) []byte {
	hasDelta := len(c.content) > 0 || len(c.reasoning) > 0 || len(c.tools) > 0 || len(c.images) > 0 || len(c.annots) > 0
	if hasDelta || !c.started {
		b = append(b, s.prefix...)
		b = append(b, `{"index":`...)
		b = appendInt(b, int64(idx))
		b = append(b, `,"delta":{`...)
		sep := false
		if !c.started {
			b = append(b, `"role":"assistant"`...)
			c.started, sep = true, true
		}
		if len(c.content) > 0 || !hasDelta {
			if sep {
				b = append(b, ',')
			}
			b = append(b, `"content":"`...)
			b = append(b, c.content...)
			b = append(b, '"')
			sep = true
		}
		if len(c.reasoning) > 0 {
			if sep {
				b = append(b, ',')
			}
			b = append(b, `"reasoning_content":"`...)
			b = append(b, c.reasoning...)
			b = append(b, '"')
			sep = true
		}
		if len(c.toolOff) > 0 {
			if sep {
				b = append(b, ',')
			}
			b = append(b, `"tool_calls":[`...)
			first := c.nTools - len(c.toolOff)
			for k, off := range c.toolOff {
				end := len(c.tools)
				if k+1 < len(c.toolOff) {
					end = c.toolOff[k+1] - 1 // drop the separating comma
				}
				if k > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"index":`...)
				b = appendInt(b, int64(first+k))
				b = append(b, ',')
				b = append(b, c.tools[off+1:end]...)
			}
			b = append(b, ']')
			sep = true
		}
		if len(c.images) > 0 {
			if sep {
				b = append(b, ',')
			}
			b = append(b, `"images":[`...)
			b = append(b, c.images...)
			b = append(b, ']')
			sep = true
		}
		if len(c.annots) > 0 {
			if sep {
				b = append(b, ',')
			}
			b = append(b, `"annotations":[`...)
			b = append(b, c.annots...)
			b = append(b, ']')
		}
		b = append(b, `},"logprobs":null,"finish_reason":null}]}`+"\n\n"...)
	}
	return b
}

func (s *StreamTranslator) finishChunk(b []byte, idx int, reason string) []byte {
	b = append(b, s.prefix...)
	b = append(b, `{"index":`...)
	b = appendInt(b, int64(idx))
	b = append(b, `,"delta":{},"logprobs":null,"finish_reason":"`...)
	b = append(b, reason...)
	return append(b, `"}]}`+"\n\n"...)
}

// Finish ends a stream whose upstream ended cleanly: a finish_reason chunk
// for a prompt blocked before any candidate (content_filter), the usage
// chunk when include_usage was asked, then data: [DONE]. An upstream that
// ended before every candidate had a finishReason (an early EOF, a cut
// connection that still closed cleanly) did not finish the answer: Finish
// writes nothing and returns an *Error (502, code upstream_truncated) for
// the caller to end the stream with, so no client takes a truncated
// answer for a complete one.
func (s *StreamTranslator) Finish(w io.Writer) error {
	if s.done {
		return nil
	}
	truncated := len(s.t.choices) == 0 && !s.t.blocked
	for _, c := range s.t.choices {
		truncated = truncated || !c.finished
	}
	if truncated { // not done: Fail writes the error event
		return &Error{Status: http.StatusBadGateway, Type: "server_error", Code: "upstream_truncated",
			Message: "The upstream stream ended before the answer was finished (no finishReason); the answer above is incomplete."}
	}
	s.done = true
	b := s.buf[:0]
	if len(s.t.choices) == 0 {
		c := &choice{finished: true}
		s.t.choices = append(s.t.choices, c)
		s.buf = b
		s.emit(0, c, false)
		b = s.finishChunk(s.buf, 0, "content_filter")
	}
	if s.t.rep.IncludeUsage {
		b = append(b, s.prefix...)
		b = append(b, `],"usage":`...)
		b = s.t.usage.appendJSON(b)
		b = append(b, "}\n\n"...)
	}
	b = append(b, Done...)
	s.buf = b
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write final chunks: %w", err)
	}
	return nil
}

// Fail ends a stream after an upstream failure once the 200 header has gone
// out: it writes one event whose data is {"error":{...}}, which both OpenAI
// SDKs surface as an error (openai-node throws APIError; openai-go's
// Stream.Err() reports it). No [DONE] follows, so a raw client cannot
// mistake the cut-short answer for a complete one. err may be any error;
// non-*Error values become a 502 server_error.
func (s *StreamTranslator) Fail(err error, w io.Writer) error {
	if s.done {
		return nil
	}
	s.done = true
	_, werr := w.Write(ErrorEvent(err))
	return werr
}

// ErrorEvent returns the SSE bytes of an in-stream error event for err.
func ErrorEvent(err error) []byte {
	var e *Error
	if !errors.As(err, &e) {
		msg := "upstream stream failed"
		if err != nil {
			msg = err.Error()
		}
		e = &Error{Status: http.StatusBadGateway, Type: "server_error", Code: "upstream_error", Message: msg}
	}
	b := make([]byte, 0, 96+len(e.Message))
	b = append(b, "data: "...)
	b = e.appendJSON(b)
	return append(b, "\n\n"...)
}
