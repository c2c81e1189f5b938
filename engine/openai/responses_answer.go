package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// ResponsesTranslator turns Gemini answers into a Responses API response:
// a unary body (TranslateResponsesResponse) or the typed SSE events of a
// stream, in the order the OpenAI SDKs and Codex expect: response.created,
// response.in_progress, then per output item output_item.added, its
// deltas and output_item.done, and last response.completed (or
// response.incomplete / response.failed). Every event carries a
// sequence_number. One translator serves one response; it is not safe for
// concurrent use.
type ResponsesTranslator struct {
	rep    ResponsesReply
	stream bool
	seq    int64
	buf    []byte
	items  []*outItem
	open   *outItem // the message or reasoning item receiving deltas
	usage  Usage
	// finish is Gemini's finishReason; blocked marks a prompt refused
	// before any candidate.
	finish  string
	blocked bool
	calls   int
	sources []source
	spans   []citeSpan
	started bool
	done    bool
	final   []byte
	// OnFinal, when set, sees the finished response object before the
	// stream's last event is written (the engine stores it there, so a
	// client that names it in its next request finds it).
	OnFinal func(final []byte)
}

// outItem is one output item being built. text holds an escaped JSON
// string body: a message's text or a reasoning item's summary.
type outItem struct {
	kind   byte // itemMessage, itemReasoning, itemCall or itemImage
	id     string
	text   []byte // an image's base64 data for itemImage
	sig    string // thought signature, sent as encrypted_content
	name   string // function name as Gemini knows it (namespace flattened); an image's MIME type
	callID []byte
	args   []byte // arguments as an escaped JSON string body
	annots []byte // url_citation objects, comma separated
	closed bool
	// partSigs are the signatures Gemini put on this message's text parts
	// (by where each part starts in the text); partSig marks a reasoning
	// item carrying one, at byte offset off of the item before it.
	partSigs []partSig
	partSig  bool
	off      int
}

// partSig is a thought signature on a text part: off is the byte offset
// in the message's (unescaped) text where the signed part starts.
type partSig struct {
	off int
	sig string
}

const (
	itemMessage byte = iota + 1
	itemReasoning
	itemCall
	itemImage
)

// citeSpan is one grounding support: a range of the answer and the
// sources backing it.
type citeSpan struct {
	start, end int64
	chunks     []int
}

// NewResponsesTranslator starts the translation of one answer; stream
// selects whether events are written.
func NewResponsesTranslator(rep ResponsesReply, stream bool) *ResponsesTranslator {
	t := &ResponsesTranslator{rep: rep, stream: stream}
	if stream { // only a stream writes events
		t.buf = make([]byte, 0, 1024)
	}
	return t
}

// TranslateResponsesResponse turns a unary Gemini GenerateContentResponse
// into a Responses API response object. An in-band Gemini error is
// returned as *Error.
func TranslateResponsesResponse(gemini []byte, rep ResponsesReply) ([]byte, Usage, error) {
	t := NewResponsesTranslator(rep, false)
	if err := t.ingest(gemini); err != nil {
		return nil, Usage{}, err
	}
	t.closeOpen()
	status, reason := t.outcome()
	if status == "" { // a unary answer without finishReason is still whole
		status = "completed"
	}
	t.final = t.appendResponse(make([]byte, 0, 512+t.size()), status, reason, nil)
	return t.final, t.usage, nil
}

// Usage is the answer's token accounting so far.
func (t *ResponsesTranslator) Usage() Usage { return t.usage }

// Final is the finished response object (nil before the answer ended).
func (t *ResponsesTranslator) Final() []byte { return t.final }

// Event translates one Gemini stream event and writes the events it
// makes. An error (malformed upstream JSON, an in-band upstream error as
// *Error, a write failure) ends the stream: pass it to Fail.
func (t *ResponsesTranslator) Event(gemini []byte, w io.Writer) error {
	if t.done {
		return errors.New("openai: Event after Finish or Fail")
	}
	t.buf = t.buf[:0]
	t.begin()
	err := t.ingest(gemini)
	return t.flush(w, err)
}

func (t *ResponsesTranslator) flush(w io.Writer, err error) error {
	if len(t.buf) > 0 {
		if _, werr := w.Write(t.buf); werr != nil {
			return fmt.Errorf("write events: %w", werr)
		}
	}
	return err
}

// Finish ends a stream whose upstream ended cleanly with
// response.completed or response.incomplete. An upstream that ended
// without a finishReason did not finish the answer: Finish writes nothing
// and returns an *Error (502 upstream_truncated) to pass to Fail.
func (t *ResponsesTranslator) Finish(w io.Writer) error {
	if t.done {
		return nil
	}
	status, reason := t.outcome()
	if status == "" {
		return &Error{Status: http.StatusBadGateway, Type: "server_error", Code: "upstream_truncated",
			Message: "The upstream stream ended before the answer was finished (no finishReason); the answer above is incomplete."}
	}
	t.done = true
	t.buf = t.buf[:0]
	t.begin()
	t.closeOpen()
	t.final = t.appendResponse(make([]byte, 0, 512+t.size()), status, reason, nil)
	if t.OnFinal != nil {
		t.OnFinal(t.final)
	}
	t.buf = t.startEvent(t.buf, "response."+status)
	t.buf = append(t.buf, `,"response":`...)
	t.buf = append(t.buf, t.final...)
	t.buf = endEvent(t.buf)
	return t.flush(w, nil)
}

// Fail ends a stream after a failure once the 200 header has gone out:
// response.failed with the error in the response object, so no client
// takes the cut answer for a whole one.
func (t *ResponsesTranslator) Fail(err error, w io.Writer) error {
	if t.done {
		return nil
	}
	t.done = true
	var e *Error
	if !errors.As(err, &e) {
		msg := "upstream stream failed"
		if err != nil {
			msg = err.Error()
		}
		e = &Error{Status: http.StatusBadGateway, Type: "server_error", Code: "upstream_error", Message: msg}
	}
	code := e.Code
	if code == "" {
		code = "server_error"
	}
	eb := append([]byte(`{"code":`), jsonw.AppendString(nil, code)...)
	eb = append(eb, `,"message":`...)
	eb = jsonw.AppendString(eb, e.Message)
	eb = append(eb, '}')
	t.buf = t.buf[:0]
	t.begin()
	t.buf = t.startEvent(t.buf, "response.failed")
	t.buf = append(t.buf, `,"response":`...)
	t.buf = t.appendResponse(t.buf, "failed", "", eb)
	t.buf = endEvent(t.buf)
	return t.flush(w, nil)
}

// outcome maps Gemini's finish to the response status and the reason of
// an incomplete one; "" status means the answer has not finished.
func (t *ResponsesTranslator) outcome() (status, reason string) {
	if t.blocked {
		return "incomplete", "content_filter"
	}
	switch finishReason(t.finish, false) {
	case "length":
		return "incomplete", "max_output_tokens"
	case "content_filter":
		return "incomplete", "content_filter"
	}
	if t.finish == "" {
		return "", ""
	}
	return "completed", ""
}

// begin writes response.created and response.in_progress once.
func (t *ResponsesTranslator) begin() {
	if t.started || !t.stream {
		return
	}
	t.started = true
	for _, typ := range []string{"response.created", "response.in_progress"} {
		t.buf = t.startEvent(t.buf, typ)
		t.buf = append(t.buf, `,"response":`...)
		t.buf = t.appendResponse(t.buf, "in_progress", "", nil)
		t.buf = endEvent(t.buf)
	}
}

// startEvent opens one SSE event: `event: TYPE` and its data object up to
// the sequence number; the caller appends fields and endEvent closes it.
func (t *ResponsesTranslator) startEvent(b []byte, typ string) []byte {
	b = append(b, "event: "...)
	b = append(b, typ...)
	b = append(b, "\ndata: {\"type\":\""...)
	b = append(b, typ...)
	b = append(b, `","sequence_number":`...)
	b = strconv.AppendInt(b, t.seq, 10)
	t.seq++
	return b
}

func endEvent(b []byte) []byte { return append(b, "}\n\n"...) }

var respCandNames = []string{"content", "finishReason", "groundingMetadata"}

// ingest reads one GenerateContentResponse. Only the first candidate is
// read: the Responses API has no n.
func (t *ResponsesTranslator) ingest(js []byte) error {
	top, err := readAnswerTop(js)
	if err != nil {
		return err
	}
	if u := top[1]; u.Exists() {
		t.usage = usageFrom(u)
	}
	var first gjson.Result // only the first candidate is read
	if top[2].IsArray() {
		top[2].ForEach(func(_, c gjson.Result) bool {
			first = c
			return false
		})
	}
	if !first.Exists() {
		if top[3].IsObject() && top[3].Get("blockReason").Exists() {
			t.blocked = true
		}
		return nil
	}
	var cv [3]gjson.Result
	members(first, respCandNames, cv[:])
	if cv[0].IsObject() {
		cv[0].Get("parts").ForEach(func(_, p gjson.Result) bool {
			t.part(p)
			return true
		})
	}
	if cv[2].IsObject() {
		t.grounding(cv[2])
	}
	if fr := cv[1].Str; fr != "" && fr != "FINISH_REASON_UNSPECIFIED" {
		t.finish = fr
	}
	return nil
}

// part translates one Gemini part (the same part names as chat's). Text,
// and the text chat renders code execution and (per image settings)
// images as, goes into the message; with image_output "data_url" an
// image becomes an image_generation_call item. Thought parts other than
// text are not shown.
func (t *ResponsesTranslator) part(p gjson.Result) {
	var pv [7]gjson.Result
	members(p, partNames, pv[:])
	if fc := pv[0]; fc.Exists() {
		t.functionCall(fc, pv[1].Str)
		return
	}
	sig, thought := pv[1].Str, pv[3].Bool()
	var body string
	switch {
	case pv[2].Type == gjson.String:
		body = pv[2].Raw[1 : len(pv[2].Raw)-1]
	case thought:
		return
	case pv[4].Exists():
		mime, data := pv[4].Get("mimeType").Str, pv[4].Get("data")
		if data.Type != gjson.String {
			return
		}
		if t.rep.images.ImageOutput == ImageOutputDataURL {
			t.image(mime, data.Raw[1:len(data.Raw)-1], sig)
			return
		}
		b, _ := appendImageMarkdown(nil, &t.rep.images, mime, data.Raw[1:len(data.Raw)-1])
		body = bytesToString(b)
	case pv[5].Exists():
		body = bytesToString(appendExecutableCode(nil, pv[5]))
	case pv[6].Exists():
		body = bytesToString(appendCodeResult(nil, pv[6]))
	default:
		return
	}
	kind := itemMessage
	if thought {
		kind = itemReasoning
	}
	it := t.open
	if body == "" {
		// An empty text part carries at most a signature (Gemini sends
		// one on the last chunk): it goes with the message it ends.
		if sig != "" && !thought && it != nil && it.kind == itemMessage {
			it.partSigs = append(it.partSigs, partSig{off: len(unquoteJSON(bytesToString(it.text))), sig: sig})
		}
		return
	}
	if it == nil || it.kind != kind {
		t.closeOpen()
		it = t.openItem(kind)
	}
	if sig != "" && kind == itemMessage {
		it.partSigs = append(it.partSigs, partSig{off: len(unquoteJSON(bytesToString(it.text))), sig: sig})
	}
	it.text = append(it.text, body...)
	if t.stream {
		idx := len(t.items) - 1
		if kind == itemMessage {
			t.buf = t.startEvent(t.buf, "response.output_text.delta")
			t.buf = t.appendItemRef(t.buf, it, idx)
			t.buf = append(t.buf, `,"content_index":0,"delta":"`...)
			t.buf = append(t.buf, body...)
			t.buf = append(t.buf, `","logprobs":[]`...)
		} else {
			t.buf = t.startEvent(t.buf, "response.reasoning_summary_text.delta")
			t.buf = t.appendItemRef(t.buf, it, idx)
			t.buf = append(t.buf, `,"summary_index":0,"delta":"`...)
			t.buf = append(t.buf, body...)
			t.buf = append(t.buf, '"')
		}
		t.buf = endEvent(t.buf)
	}
}

// functionCall adds a whole function call item (Gemini sends calls
// whole). Its thought signature rides in the call_id, as on chat, and in
// a reasoning item's encrypted_content before it, which clients that keep
// reasoning items (Codex) send back.
func (t *ResponsesTranslator) functionCall(fc gjson.Result, sig string) {
	if t.rep.SingleToolCall && t.calls > 0 {
		return
	}
	t.calls++
	if sig != "" {
		if t.open != nil && t.open.kind == itemReasoning {
			t.open.sig = sig
		} else {
			t.closeOpen()
			t.signatureItem(&outItem{sig: sig})
		}
	}
	t.closeOpen()
	it := &outItem{kind: itemCall, id: string(randomID([]byte("fc_"), 24)), name: fc.Get("name").Str}
	it.callID = appendToolCallID(nil, fc.Get("id").Str, sig)
	if args := fc.Get("args"); args.IsObject() {
		var c bytes.Buffer
		if json.Compact(&c, []byte(args.Raw)) == nil {
			it.args = jsonw.AppendStringBody(nil, c.String())
		} else {
			it.args = jsonw.AppendStringBody(nil, args.Raw)
		}
	} else {
		it.args = []byte("{}")
	}
	idx := t.addItem(it)
	if t.stream {
		t.buf = t.startEvent(t.buf, "response.function_call_arguments.delta")
		t.buf = t.appendItemRef(t.buf, it, idx)
		t.buf = append(t.buf, `,"delta":"`...)
		t.buf = append(t.buf, it.args...)
		t.buf = append(t.buf, `"`...)
		t.buf = endEvent(t.buf)
	}
	t.open = it
	t.closeOpen()
}

// image adds an inline image part as a whole image_generation_call item
// (result is the base64 data, as OpenAI's), for image_output "data_url".
func (t *ResponsesTranslator) image(mimeType, data, sig string) {
	t.closeOpen()
	it := &outItem{kind: itemImage, id: string(randomID([]byte("ig_"), 24)), name: mimeType, text: []byte(data)}
	t.addItem(it)
	t.open = it
	t.closeOpen()
	if sig != "" {
		t.partSignature(0, sig)
	}
}

// partSignature adds a reasoning item whose encrypted_content carries the
// thought signature of a part of the item before it (a message's text
// part starting at byte off, or an image). It follows that item because a
// stream learns of the signature only as the part arrives, after the item
// was announced; replay puts it back on that part (itemConverter).
func (t *ResponsesTranslator) partSignature(off int, sig string) {
	t.signatureItem(&outItem{sig: sig, partSig: true, off: off})
}

// signatureItem adds a reasoning item that only carries a signature
// (no summary): announced and done at once.
func (t *ResponsesTranslator) signatureItem(it *outItem) {
	it.kind, it.id = itemReasoning, string(randomID([]byte("rs_"), 24))
	t.addItem(it)
	t.open = it
	t.closeOpen()
}

// grounding collects Google Search sources and the spans they support,
// for url_citation annotations on the message.
func (t *ResponsesTranslator) grounding(g gjson.Result) {
	g.Get("groundingChunks").ForEach(func(_, ch gjson.Result) bool {
		uri := ch.Get("web.uri").Str
		title := ch.Get("web.title").Str
		if title == "" {
			title = uri
		}
		t.sources = append(t.sources, source{uri: uri, title: title})
		return true
	})
	g.Get("groundingSupports").ForEach(func(_, s gjson.Result) bool {
		sp := citeSpan{start: s.Get("segment.startIndex").Int(), end: s.Get("segment.endIndex").Int()}
		s.Get("groundingChunkIndices").ForEach(func(_, i gjson.Result) bool {
			sp.chunks = append(sp.chunks, int(i.Int()))
			return true
		})
		t.spans = append(t.spans, sp)
		return true
	})
}

// addItem appends an output item and, when streaming, announces it with
// response.output_item.added; it returns the item's output index.
func (t *ResponsesTranslator) addItem(it *outItem) int {
	t.items = append(t.items, it)
	idx := len(t.items) - 1
	if t.stream {
		t.buf = t.startEvent(t.buf, "response.output_item.added")
		t.buf = appendOutputIndex(t.buf, idx)
		t.buf = append(t.buf, `,"item":`...)
		t.buf = t.appendItem(t.buf, it, false)
		t.buf = endEvent(t.buf)
	}
	return idx
}

func (t *ResponsesTranslator) openItem(kind byte) *outItem {
	prefix := "msg_"
	if kind == itemReasoning {
		prefix = "rs_"
	}
	it := &outItem{kind: kind, id: string(randomID([]byte(prefix), 24))}
	idx := t.addItem(it)
	t.open = it
	if t.stream {
		if kind == itemMessage {
			t.buf = t.startEvent(t.buf, "response.content_part.added")
			t.buf = t.appendItemRef(t.buf, it, idx)
			t.buf = append(t.buf, `,"content_index":0,"part":{"type":"output_text","text":"","annotations":[],"logprobs":[]}`...)
		} else {
			t.buf = t.startEvent(t.buf, "response.reasoning_summary_part.added")
			t.buf = t.appendItemRef(t.buf, it, idx)
			t.buf = append(t.buf, `,"summary_index":0,"part":{"type":"summary_text","text":""}`...)
		}
		t.buf = endEvent(t.buf)
	}
	return it
}

// closeOpen finishes the item receiving deltas with its done events.
func (t *ResponsesTranslator) closeOpen() {
	it := t.open
	if it == nil {
		return
	}
	t.open = nil
	it.closed = true
	if it.kind == itemMessage && len(t.sources) > 0 {
		it.annots = t.annotations(it.annots[:0], unquoteJSON(bytesToString(it.text)))
	}
	if it.kind == itemMessage && len(it.partSigs) > 0 {
		defer func() {
			for _, ps := range it.partSigs {
				t.partSignature(ps.off, ps.sig)
			}
		}()
	}
	if !t.stream {
		return
	}
	idx := len(t.items) - 1
	switch it.kind {
	case itemMessage:
		t.buf = t.startEvent(t.buf, "response.output_text.done")
		t.buf = t.appendItemRef(t.buf, it, idx)
		t.buf = append(t.buf, `,"content_index":0,"text":"`...)
		t.buf = append(t.buf, it.text...)
		t.buf = append(t.buf, `","logprobs":[]`...)
		t.buf = endEvent(t.buf)
		t.buf = t.startEvent(t.buf, "response.content_part.done")
		t.buf = t.appendItemRef(t.buf, it, idx)
		t.buf = append(t.buf, `,"content_index":0,"part":`...)
		t.buf = appendTextPart(t.buf, it)
		t.buf = endEvent(t.buf)
	case itemReasoning:
		if len(it.text) > 0 {
			t.buf = t.startEvent(t.buf, "response.reasoning_summary_text.done")
			t.buf = t.appendItemRef(t.buf, it, idx)
			t.buf = append(t.buf, `,"summary_index":0,"text":"`...)
			t.buf = append(t.buf, it.text...)
			t.buf = append(t.buf, `"`...)
			t.buf = endEvent(t.buf)
			t.buf = t.startEvent(t.buf, "response.reasoning_summary_part.done")
			t.buf = t.appendItemRef(t.buf, it, idx)
			t.buf = append(t.buf, `,"summary_index":0,"part":{"type":"summary_text","text":"`...)
			t.buf = append(t.buf, it.text...)
			t.buf = append(t.buf, `"}`...)
			t.buf = endEvent(t.buf)
		}
	case itemCall:
		t.buf = t.startEvent(t.buf, "response.function_call_arguments.done")
		t.buf = t.appendItemRef(t.buf, it, idx)
		t.buf = append(t.buf, `,"name":`...)
		t.buf = jsonw.AppendString(t.buf, it.name)
		t.buf = append(t.buf, `,"arguments":"`...)
		t.buf = append(t.buf, it.args...)
		t.buf = append(t.buf, `"`...)
		t.buf = endEvent(t.buf)
	}
	t.buf = t.startEvent(t.buf, "response.output_item.done")
	t.buf = appendOutputIndex(t.buf, idx)
	t.buf = append(t.buf, `,"item":`...)
	t.buf = t.appendItem(t.buf, it, true)
	t.buf = endEvent(t.buf)
}

// annotations renders the grounding sources as url_citation objects: one
// per supported span and source, or one per source over the whole text
// when Google gave no spans. Google's segment offsets count UTF-8 bytes of
// text; start_index and end_index count Unicode code points, as OpenAI's
// do and as Python indexes a str, so a client slicing the text with them
// gets the cited span.
func (t *ResponsesTranslator) annotations(b []byte, text string) []byte {
	chars := func(off int64) int64 {
		off = min(max(off, 0), int64(len(text)))
		return int64(utf8.RuneCountInString(text[:off]))
	}
	one := func(b []byte, start, end int64, s source) []byte {
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"url_citation","start_index":`...)
		b = strconv.AppendInt(b, start, 10)
		b = append(b, `,"end_index":`...)
		b = strconv.AppendInt(b, end, 10)
		b = append(b, `,"url":`...)
		b = jsonw.AppendString(b, s.uri)
		b = append(b, `,"title":`...)
		b = jsonw.AppendString(b, s.title)
		return append(b, '}')
	}
	if len(t.spans) == 0 {
		for _, s := range t.sources {
			b = one(b, 0, 0, s)
		}
		return b
	}
	for _, sp := range t.spans {
		for _, i := range sp.chunks {
			if i >= 0 && i < len(t.sources) {
				b = one(b, chars(sp.start), chars(sp.end), t.sources[i])
			}
		}
	}
	return b
}

func appendOutputIndex(b []byte, idx int) []byte {
	b = append(b, `,"output_index":`...)
	return strconv.AppendInt(b, int64(idx), 10)
}

func (t *ResponsesTranslator) appendItemRef(b []byte, it *outItem, idx int) []byte {
	b = append(b, `,"item_id":"`...)
	b = append(b, it.id...)
	b = append(b, '"')
	return appendOutputIndex(b, idx)
}

func appendTextPart(b []byte, it *outItem) []byte {
	b = append(b, `{"type":"output_text","text":"`...)
	b = append(b, it.text...)
	b = append(b, `","annotations":[`...)
	b = append(b, it.annots...)
	return append(b, `],"logprobs":[]}`...)
}

// appendItem renders an output item; whole adds what only a finished item
// has (its text, its status completed).
func (t *ResponsesTranslator) appendItem(b []byte, it *outItem, whole bool) []byte {
	status := `"in_progress"`
	if whole {
		status = `"completed"`
	}
	b = append(b, `{"id":"`...)
	b = append(b, it.id...)
	switch it.kind {
	case itemMessage:
		b = append(b, `","type":"message","status":`...)
		b = append(b, status...)
		b = append(b, `,"role":"assistant","content":[`...)
		if whole {
			b = appendTextPart(b, it)
		}
		return append(b, "]}"...)
	case itemReasoning:
		b = append(b, `","type":"reasoning","summary":[`...)
		if whole && len(it.text) > 0 {
			b = append(b, `{"type":"summary_text","text":"`...)
			b = append(b, it.text...)
			b = append(b, `"}`...)
		}
		b = append(b, ']')
		if whole && it.sig != "" {
			b = append(b, `,"encrypted_content":`...)
			if it.partSig {
				b = jsonw.AppendString(b, partSignaturePrefix+strconv.Itoa(it.off)+":"+it.sig)
			} else {
				b = jsonw.AppendString(b, signaturePrefix+it.sig)
			}
		}
		return append(b, '}')
	case itemImage:
		b = append(b, `","type":"image_generation_call","status":`...)
		b = append(b, status...)
		b = append(b, `,"output_format":`...)
		b = jsonw.AppendString(b, strings.TrimPrefix(it.name, "image/"))
		b = append(b, `,"result":`...)
		if !whole {
			return append(b, "null}"...)
		}
		b = append(b, '"')
		b = append(b, it.text...)
		return append(b, `"}`...)
	}
	b = append(b, `","type":"function_call","status":`...)
	b = append(b, status...)
	b = append(b, `,"call_id":"`...)
	b = append(b, it.callID...)
	b = append(b, `","name":`...)
	if ns, ok := t.rep.namespaces[it.name]; ok {
		b = jsonw.AppendString(b, ns[1])
		b = append(b, `,"namespace":`...)
		b = jsonw.AppendString(b, ns[0])
	} else {
		b = jsonw.AppendString(b, it.name)
	}
	b = append(b, `,"arguments":"`...)
	if whole {
		b = append(b, it.args...)
	}
	return append(b, `"}`...)
}

// size estimates the bytes of the output items.
func (t *ResponsesTranslator) size() int {
	n := 0
	for _, it := range t.items {
		n += 160 + len(it.text) + len(it.args) + len(it.sig) + len(it.annots)
	}
	return n + len(t.rep.echo)
}

// appendResponse renders the response object. Output and usage are
// included once the answer ended (status other than in_progress).
func (t *ResponsesTranslator) appendResponse(b []byte, status, reason string, errJSON []byte) []byte {
	r := &t.rep
	b = append(b, `{"id":`...)
	b = jsonw.AppendString(b, r.ID)
	b = append(b, `,"object":"response","created_at":`...)
	b = strconv.AppendInt(b, r.Created, 10)
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	b = append(b, `","background":false,"error":`...)
	if errJSON != nil {
		b = append(b, errJSON...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"incomplete_details":`...)
	if reason != "" {
		b = append(b, `{"reason":"`...)
		b = append(b, reason...)
		b = append(b, `"}`...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"model":`...)
	b = jsonw.AppendString(b, r.Model)
	b = append(b, `,"output":[`...)
	ended := status != "in_progress"
	if ended {
		n := 0
		for _, it := range t.items {
			if !it.closed {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			b = t.appendItem(b, it, true)
			n++
		}
	}
	b = append(b, ']')
	if len(r.echo) > 0 {
		b = append(b, ',')
		b = append(b, r.echo...)
	}
	b = append(b, `,"usage":`...)
	if !ended {
		return append(b, "null}"...)
	}
	u := &t.usage
	b = append(b, `{"input_tokens":`...)
	b = strconv.AppendInt(b, u.PromptTokens, 10)
	b = append(b, `,"input_tokens_details":{"cached_tokens":`...)
	b = strconv.AppendInt(b, u.CachedTokens, 10)
	b = append(b, `},"output_tokens":`...)
	b = strconv.AppendInt(b, u.CompletionTokens, 10)
	b = append(b, `,"output_tokens_details":{"reasoning_tokens":`...)
	b = strconv.AppendInt(b, u.ReasoningTokens, 10)
	b = append(b, `},"total_tokens":`...)
	b = strconv.AppendInt(b, u.TotalTokens, 10)
	return append(b, "}}"...)
}
