package openai

import (
	"encoding/json"
	"math"
	"strings"

	"github.com/tidwall/gjson"
)

// The fast Responses request path, fastChatRequest's counterpart.
// Decoding the body, then every input item and content part, with
// encoding/json and marshalling the Gemini request back was most of the
// /v1/responses route's CPU, while plain requests are the common case: a
// string or text messages, instructions, sampling parameters, no tools, no
// reasoning settings. fastResponsesRequest reads that shape (and a stored
// history of text messages) in one gjson pass and appends the Gemini JSON
// with chat's fast writers. It never reports an error: whenever the body
// holds anything else, or anything the full path would refuse, it answers
// ok=false and TranslateResponsesRequest's full path runs, so accepted
// bodies, errors and the Gemini bytes are the full path's
// (FuzzFastResponsesRequest checks the bytes).

// responsesBodyFields are responsesBody's JSON keys, for encoding/json's
// case-insensitive matching (see ignorable).
var responsesBodyFields = []string{"model", "input", "instructions", "stream", "store", "previous_response_id",
	"temperature", "top_p", "max_output_tokens", "tools", "tool_choice", "parallel_tool_calls", "text", "reasoning",
	"background", "conversation", "prompt", "top_logprobs"}

var (
	responseItemFields = []string{"type", "id", "role", "content", "call_id", "name", "namespace", "arguments",
		"output", "encrypted_content", "result", "output_format"}
	responsePartFields = []string{"type", "text", "refusal", "image_url", "file_id", "file_data", "file_url", "filename"}
)

// fastResponses is what the top-level scan found.
type fastResponses struct {
	num                 fastReq // temperature, top_p, max_output_tokens (as chat's fields)
	model, input, instr gjson.Result
	// echo holds the echoNames members, for appendEcho.
	echo                 [8]gjson.Result
	prevID               string
	stream               bool
	store, parallel      bool // as sent, when storeSet / parallelSet
	storeSet, parSet     bool
	ok                   bool
	nContents, nSys      int
	leading, modelOpen   bool
	out, sys, normalized []byte
}

// fastResponsesRequest translates the common request shape; ok=false
// means the full path must handle the body (see the top of the file).
func fastResponsesRequest(body []byte, history []json.RawMessage, opt *Options) (*ResponsesRequest, bool) {
	if len(body) == 0 || (len(body) > 64<<10 && hasMediaPart(body)) || !gjson.ValidBytes(body) {
		return nil, false
	}
	root := gjson.Parse(bytesToString(body))
	if !root.IsObject() {
		return nil, false
	}
	f := fastResponses{ok: true, leading: true}
	var seen uint32
	root.ForEach(func(k, v gjson.Result) bool {
		key := keyOf(k)
		idx := -1
		for i, name := range responsesBodyFields {
			if name == key {
				idx = i
				break
			}
		}
		if idx < 0 {
			if key == "metadata" && !f.echo[2].Exists() {
				f.echo[2] = v
			}
			f.ok = ignorable(key, v, responsesBodyFields)
			return f.ok
		}
		if seen&(1<<idx) != 0 { // duplicate key: last one wins in encoding/json
			f.ok = false
			return false
		}
		seen |= 1 << idx
		for i, name := range echoNames {
			if name == key {
				f.echo[i] = v
			}
		}
		f.ok = f.field(key, v)
		return f.ok
	})
	if !f.ok || f.model.Type != gjson.String || !f.input.Exists() {
		return nil, false
	}
	return f.build(history, opt)
}

// field records one top-level member; false sends the body to the full
// path.
func (f *fastResponses) field(key string, v gjson.Result) bool {
	if isNull(v) {
		// encoding/json leaves the field unset; the full path refuses a
		// missing model or input.
		return key != "model" && key != "input"
	}
	switch key {
	case "model":
		f.model = v
		return len(v.Raw) > 2 && v.Type == gjson.String
	case "input":
		f.input = v
		return v.Type == gjson.String || v.IsArray()
	case "instructions":
		f.instr = v
		return v.Type == gjson.String
	case "stream":
		f.stream = v.Type == gjson.True
		return v.Type == gjson.True || v.Type == gjson.False
	case "store":
		f.store, f.storeSet = v.Type == gjson.True, true
		return v.Type == gjson.True || v.Type == gjson.False
	case "parallel_tool_calls":
		f.parallel, f.parSet = v.Type == gjson.True, true
		return v.Type == gjson.True || v.Type == gjson.False
	case "previous_response_id":
		if v.Type != gjson.String {
			return false
		}
		f.prevID = strings.Clone(unquoteJSON(v.Raw[1 : len(v.Raw)-1]))
		return true
	case "temperature":
		return f.num.float(v, fTemp, &f.num.temp, 0, 2)
	case "top_p":
		return f.num.float(v, fTopP, &f.num.topP, 0, 1)
	case "max_output_tokens":
		return f.num.int(v, fMCT, &f.num.mct, 1, math.MaxInt32)
	case "tools":
		return v.IsArray() && len(v.Array()) == 0
	case "background":
		return v.Type == gjson.False
	}
	// tool_choice, text, reasoning, conversation, prompt, top_logprobs:
	// left to the full path.
	return false
}

// build translates the history and input and writes the Gemini body.
func (f *fastResponses) build(history []json.RawMessage, opt *Options) (*ResponsesRequest, bool) {
	bp := scratchPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 {
			scratchPool.Put(bp)
		}
	}()
	f.sys = (*bp)[:0]
	if f.instr.Exists() && len(f.instr.Raw) > 2 {
		f.sys = append(f.sys, `{"text":`...)
		f.sys = appendReencoded(f.sys, f.instr.Raw[1:len(f.instr.Raw)-1])
		f.sys = append(f.sys, '}')
		f.nSys = 1
	}
	f.out = make([]byte, 0, len(f.input.Raw)+len(f.sys)+192)
	f.out = append(f.out, `{"contents":[`...)
	for _, raw := range history {
		if !f.item(gjson.Parse(bytesToString(raw)), nil) {
			return nil, false
		}
	}
	f.normalized = make([]byte, 0, 2*len(f.input.Raw)+96) // room for the ids added
	if f.input.Type == gjson.String {
		f.normalized = append(f.normalized, '[')
		f.normalized = appendTextItem(f.normalized, f.input.Raw)
		f.normalized = append(f.normalized, ']')
		if !f.message("user", gjson.Result{Type: gjson.String, Raw: f.input.Raw}) {
			return nil, false
		}
	} else {
		f.normalized = append(f.normalized, '[')
		n := 0
		ok := true
		f.input.ForEach(func(_, it gjson.Result) bool {
			if n > 0 {
				f.normalized = append(f.normalized, ',')
			}
			n++
			ok = f.item(it, &f.normalized)
			return ok
		})
		if !ok {
			return nil, false
		}
		f.normalized = append(f.normalized, ']')
	}
	*bp = f.sys[:0]
	out := f.out
	if f.nContents == 0 {
		if f.nSys == 0 {
			return nil, false
		}
		out = append(out, `{"role":"user","parts":[`...)
		out = append(out, f.sys...)
		out = append(out, "]}]"...)
	} else {
		out = append(out, ']')
		if f.nSys > 0 {
			out = append(out, `,"systemInstruction":{"role":"user","parts":[`...)
			out = append(out, f.sys...)
			out = append(out, "]}"...)
		}
	}
	cr := ChatRequest{N: 1}
	out = f.num.appendGenConfig(out, opt, nil, &cr)
	out = append(out, '}')

	model := strings.Clone(unquoteJSON(f.model.Raw[1 : len(f.model.Raw)-1]))
	if model == "" {
		return nil, false
	}
	rr := &ResponsesRequest{Model: model, Stream: f.stream, Store: !f.storeSet || f.store,
		PreviousResponseID: f.prevID, Input: f.normalized, Gemini: out}
	rr.reply.SingleToolCall = f.parSet && !f.parallel
	rr.reply.Model = model
	rr.reply.images = Options{ImageOutput: opt.ImageOutput, ImageLinker: opt.ImageLinker}
	var in responsesBody
	if f.storeSet {
		in.Store = &f.store
	}
	if f.parSet {
		in.ParallelToolCalls = &f.parallel
	}
	if f.num.set&fTemp != 0 {
		in.Temperature = &f.num.temp
	}
	if f.num.set&fTopP != 0 {
		in.TopP = &f.num.topP
	}
	rr.reply.echo = appendEcho(f.echo, &in)
	return rr, true
}

// item translates one text message item; normalized, when set, receives
// the item with an id, as inputItems writes it.
func (f *fastResponses) item(it gjson.Result, normalized *[]byte) bool {
	if !it.IsObject() {
		return false
	}
	var typ, id, role, content gjson.Result
	ok := true
	var seen uint8
	it.ForEach(func(k, v gjson.Result) bool {
		key := keyOf(k)
		var bit uint8
		var dst *gjson.Result
		switch key {
		case "type":
			bit, dst = 1, &typ
		case "id":
			bit, dst = 2, &id
		case "role":
			bit, dst = 4, &role
		case "content":
			bit, dst = 8, &content
		default:
			if foldsToAny(key, responseItemFields) {
				ok = isNull(v) && keyIsPlain(key)
			} else {
				ok = ignorable(key, v, responseItemFields)
			}
			return ok
		}
		if seen&bit != 0 || (bit != 8 && v.Type != gjson.String && !isNull(v)) {
			ok = false
			return false
		}
		seen |= bit
		*dst = v
		return true
	})
	if !ok || (typ.Str != "" && typ.Str != "message") || role.Str == "" {
		return false
	}
	if normalized != nil {
		// Duplicate and case-folded keys went to the full path: id is
		// the item's id as encoding/json reads it.
		*normalized = appendWithID(*normalized, it.Raw, typ.Str, id.Str, id.Exists())
	}
	return f.message(role.Str, content)
}

// keyIsPlain reports whether key is spelled as a field name exactly (no
// case folding or escapes to reproduce).
func keyIsPlain(key string) bool {
	for _, n := range responseItemFields {
		if n == key {
			return true
		}
	}
	return false
}

// message mirrors itemConverter.message for text content: leading
// system/developer text joins the system instruction, assistant text
// joins the open model turn.
func (f *fastResponses) message(role string, content gjson.Result) bool {
	switch role {
	case "system", "developer":
		if f.leading {
			var n int
			var ok bool
			f.sys, n, ok = appendResponseText(f.sys, content, f.nSys > 0, true)
			f.nSys += n
			return ok
		}
		f.modelOpen = false
		return f.content("user", content, true)
	case "user":
		f.modelOpen, f.leading = false, false
		return f.content("user", content, false)
	case "assistant":
		if f.modelOpen {
			// Join the model turn: reopen its parts list.
			mark := len(f.out)
			f.out = f.out[:len(f.out)-2]
			var n int
			var ok bool
			f.out, n, ok = appendResponseText(f.out, content, true, false)
			if n == 0 {
				f.out = append(f.out[:mark-2], "]}"...)
			} else {
				f.out = append(f.out, "]}"...)
			}
			return ok
		}
		return f.content("model", content, false)
	}
	return false
}

// content appends a turn of role holding content's text parts, or nothing
// when it has none.
func (f *fastResponses) content(role string, content gjson.Result, textOnly bool) bool {
	mark := len(f.out)
	if f.nContents > 0 {
		f.out = append(f.out, ',')
	}
	f.out = append(f.out, `{"role":"`...)
	f.out = append(f.out, role...)
	f.out = append(f.out, `","parts":[`...)
	var n int
	var ok bool
	f.out, n, ok = appendResponseText(f.out, content, false, textOnly)
	if n == 0 {
		f.out = f.out[:mark]
		return ok
	}
	f.out = append(f.out, "]}"...)
	f.nContents++
	if role == "model" {
		f.modelOpen, f.leading = true, false
	}
	return ok
}

// appendResponseText appends a message content's text (a string or
// input_text/output_text/text parts) as Gemini text parts, dropping empty
// texts as the full path does; textOnly (system and developer messages)
// takes input_text and text parts only. n counts the parts written.
func appendResponseText(b []byte, content gjson.Result, comma, textOnly bool) ([]byte, int, bool) {
	return appendTextContent(b, content, comma, func(p gjson.Result) (string, bool) { return responsePartText(p, textOnly) })
}

// responsePartText is the text of a Responses content part:
// input_text/text, and output_text unless textOnly.
func responsePartText(p gjson.Result, textOnly bool) (string, bool) {
	var typ, text gjson.Result
	var seen uint8
	ok := true
	p.ForEach(func(k, v gjson.Result) bool {
		key := keyOf(k)
		switch key {
		case "type", "text":
			bit, dst := uint8(1), &typ
			if key == "text" {
				bit, dst = 2, &text
			}
			if seen&bit != 0 || v.Type != gjson.String {
				ok = false
				return false
			}
			seen |= bit
			*dst = v
		default:
			if foldsToAny(key, responsePartFields) {
				ok = false
			} else {
				ok = ignorable(key, v, responsePartFields)
			}
		}
		return ok
	})
	switch typ.Raw {
	case `"input_text"`, `"text"`:
	case `"output_text"`:
		ok = ok && !textOnly
	default:
		ok = false
	}
	if !ok || !text.Exists() {
		return "", false
	}
	return text.Raw[1 : len(text.Raw)-1], true
}
