package openai

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// The fast request path. Decoding the body into chatBody with encoding/json
// and marshalling gRequest back was most of the OpenAI route's CPU, while
// nearly every real request is plain: text messages (string content or text
// parts), sampling parameters, no tools. fastChatRequest reads that shape in
// one gjson pass and appends the Gemini JSON directly. It never reports an
// error: whenever the body holds anything else, or anything the full path
// would refuse, it answers ok=false and the full path runs, so the set of
// accepted bodies, the error messages and the output bytes are exactly those
// of the full path (FuzzFastChatRequest checks the bytes).

// Top-level fields of chatBody, for encoding/json's case-insensitive key
// matching: a key that folds to one of these but is not spelled exactly so
// is left to the full path.
var chatBodyFields = []string{"model", "messages", "stream", "stream_options", "temperature", "top_p", "top_k",
	"max_tokens", "max_completion_tokens", "n", "stop", "seed", "presence_penalty", "frequency_penalty",
	"response_format", "tools", "tool_choice", "parallel_tool_calls", "reasoning_effort", "logprobs",
	"top_logprobs", "logit_bias", "modalities", "audio", "functions", "function_call", "google", "extra_body"}

var (
	messageFields = []string{"role", "content", "name", "tool_calls", "tool_call_id"}
	partFields    = []string{"type", "text", "refusal", "image_url", "input_audio", "file"}
)

// maxIgnoredRaw bounds values of unknown keys the fast path skips without
// looking inside: encoding/json refuses nesting deeper than 10000 levels,
// which needs at least that many bytes, so longer values go the full path.
const maxIgnoredRaw = 10000

// ignorable reports whether an unknown key and its value can be skipped the
// way encoding/json skips them.
func ignorable(key string, v gjson.Result, known []string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf || key[i] == '\\' {
			return false
		}
	}
	if foldsToAny(key, known) {
		return false
	}
	return len(v.Raw) <= maxIgnoredRaw || (v.Type != gjson.JSON)
}

// keyOf returns the raw key text (between the quotes) of an object member.
func keyOf(k gjson.Result) string {
	if len(k.Raw) < 2 {
		return ""
	}
	return k.Raw[1 : len(k.Raw)-1]
}

// fastReq holds what the top-level scan found.
type fastReq struct {
	model, effort     gjson.Result
	messages          gjson.Result
	stream, usage     bool
	hasStreamOptions  bool
	temp, topP        float64
	presence, freq    float64
	topK, n           int64
	maxTokens, mct    int64
	seed              int64
	stop              gjson.Result
	tools, toolChoice gjson.Result
	jsonMode          bool
	noParallel        bool
	set               uint32
	ok                bool
	bufPool           *[]byte
	sysParts, content []byte
}

const (
	fTemp = 1 << iota
	fTopP
	fTopK
	fMaxTokens
	fMCT
	fN
	fSeed
	fPresence
	fFreq
	fEffort
)

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// fastChatRequest translates the common request shape; ok=false means the
// full path must handle the body (see the comment at the top of the file).
func fastChatRequest(body []byte, opt *Options) (cr *ChatRequest, ok bool) {
	if len(body) == 0 || (len(body) > 64<<10 && hasMediaPart(body)) || !gjson.ValidBytes(body) {
		return nil, false
	}
	root := gjson.Parse(bytesToString(body))
	if !root.IsObject() {
		return nil, false
	}
	var r fastReq
	var seen uint64
	r.ok = true
	root.ForEach(func(k, v gjson.Result) bool {
		key := keyOf(k)
		idx := -1
		for i, f := range chatBodyFields {
			if f == key {
				idx = i
				break
			}
		}
		if idx < 0 {
			r.ok = ignorable(key, v, chatBodyFields)
			return r.ok
		}
		if seen&(1<<idx) != 0 { // duplicate key: last one wins in encoding/json
			r.ok = false
			return false
		}
		seen |= 1 << idx
		r.ok = r.field(key, v)
		return r.ok
	})
	if !r.ok {
		return nil, false
	}
	return r.build(opt)
}

// hasMediaPart spots image, audio and file parts, which the fast path
// refuses, before a large body (megabytes of base64) is validated twice.
// A false positive only costs the fast path.
func hasMediaPart(body []byte) bool {
	return bytes.Contains(body, []byte(`"image_url"`)) || bytes.Contains(body, []byte(`"input_audio"`)) ||
		bytes.Contains(body, []byte(`"file"`))
}

func isNull(v gjson.Result) bool { return v.Type == gjson.Null }

// field records one top-level member; false sends the body to the full path.
func (r *fastReq) field(key string, v gjson.Result) bool {
	if isNull(v) {
		// encoding/json leaves the field unset; the full path requires
		// messages and refuses a missing model.
		return key != "messages" && key != "model"
	}
	switch key {
	case "model":
		r.model = v
		return v.Type == gjson.String && len(v.Raw) > 2
	case "messages":
		r.messages = v
		return v.IsArray()
	case "stream":
		r.stream = v.Type == gjson.True
		return v.Type == gjson.True || v.Type == gjson.False
	case "stream_options":
		if !v.IsObject() {
			return false
		}
		r.hasStreamOptions = true
		ok := true
		usageSeen := false
		v.ForEach(func(k, x gjson.Result) bool {
			key := keyOf(k)
			if key != "include_usage" {
				ok = ignorable(key, x, []string{"include_usage"})
				return ok
			}
			if usageSeen {
				ok = false
				return false
			}
			usageSeen = true
			switch x.Type {
			case gjson.True:
				r.usage = true
			case gjson.False, gjson.Null:
			default:
				ok = false
			}
			return ok
		})
		return ok
	case "temperature":
		return r.float(v, fTemp, &r.temp, 0, 2)
	case "top_p":
		return r.float(v, fTopP, &r.topP, 0, 1)
	case "presence_penalty":
		return r.float(v, fPresence, &r.presence, -2, 2)
	case "frequency_penalty":
		return r.float(v, fFreq, &r.freq, -2, 2)
	case "top_k":
		return r.int(v, fTopK, &r.topK, 1, math.MaxInt64)
	case "n":
		return r.int(v, fN, &r.n, 1, math.MaxInt64) // capped by Options in build
	case "max_tokens":
		return r.int(v, fMaxTokens, &r.maxTokens, 1, math.MaxInt32)
	case "max_completion_tokens":
		return r.int(v, fMCT, &r.mct, 1, math.MaxInt32)
	case "seed":
		return r.int(v, fSeed, &r.seed, math.MinInt64, math.MaxInt64)
	case "stop":
		r.stop = v
		switch {
		case v.Type == gjson.String:
			return true
		case v.IsArray():
			n, ok := 0, true
			v.ForEach(func(_, s gjson.Result) bool {
				n++
				ok = s.Type == gjson.String
				return ok
			})
			return ok && n <= 4
		}
		return false
	case "response_format":
		return r.responseFormat(v)
	case "tools":
		r.tools = v
		return v.IsArray()
	case "tool_choice":
		r.toolChoice = v
		return v.Type == gjson.String
	case "parallel_tool_calls":
		r.noParallel = v.Type == gjson.False
		return v.Type == gjson.True || v.Type == gjson.False
	case "reasoning_effort":
		r.effort = v
		r.set |= fEffort
		return v.Type == gjson.String
	case "logprobs":
		return v.Type == gjson.False
	case "logit_bias":
		return v.IsObject() && len(v.Raw) == 2 // {} only
	}
	// top_logprobs, modalities, audio, functions, function_call, google,
	// extra_body: rare, left to the full path.
	return false
}

func (r *fastReq) float(v gjson.Result, bit uint32, dst *float64, lo, hi float64) bool {
	if v.Type != gjson.Number {
		return false
	}
	f, err := strconv.ParseFloat(v.Raw, 64)
	if err != nil || f < lo || f > hi || math.IsNaN(f) {
		return false
	}
	*dst = f
	r.set |= bit
	return true
}

func (r *fastReq) int(v gjson.Result, bit uint32, dst *int64, lo, hi int64) bool {
	if v.Type != gjson.Number {
		return false
	}
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	if err != nil || n < lo || n > hi {
		return false
	}
	*dst = n
	r.set |= bit
	return true
}

// responseFormat takes {"type":"text"} and {"type":"json_object"}; schemas
// need cleanSchema and go the full path.
func (r *fastReq) responseFormat(v gjson.Result) bool {
	if !v.IsObject() {
		return false
	}
	ok, typ := true, ""
	v.ForEach(func(k, x gjson.Result) bool {
		key := keyOf(k)
		if key != "type" {
			ok = ignorable(key, x, []string{"type", "json_schema"})
			return ok
		}
		if typ != "" || x.Type != gjson.String {
			ok = false
			return false
		}
		typ = x.Raw
		return true
	})
	switch {
	case !ok:
		return false
	case typ == `"text"`:
		return true
	case typ == `"json_object"`:
		r.jsonMode = true
		return true
	}
	return false
}

// build translates the messages and writes the Gemini body.
func (r *fastReq) build(opt *Options) (*ChatRequest, bool) {
	if !r.messages.Exists() || r.model.Type != gjson.String {
		return nil, false
	}
	cr := &ChatRequest{N: 1, Stream: r.stream}
	if r.set&fN != 0 {
		if r.n > int64(opt.maxN()) {
			return nil, false
		}
		cr.N = int(r.n)
	}
	var th *gThinking
	if r.set&fEffort != 0 {
		effort := unquoteJSON(r.effort.Raw[1 : len(r.effort.Raw)-1])
		var e *Error
		if th, e = thinkingForEffort(unquoteJSON(r.model.Raw[1:len(r.model.Raw)-1]), effort); e != nil {
			return nil, false
		}
		cr.ReasoningEffort = strings.Clone(effort)
	}

	bp := scratchPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 {
			scratchPool.Put(bp)
		}
	}()
	sys := (*bp)[:0]
	out := make([]byte, 0, len(r.messages.Raw)+160)
	out = append(out, `{"contents":[`...)
	nContents, nSys, leading, ok := 0, 0, true, true
	i := -1
	r.messages.ForEach(func(_, m gjson.Result) bool {
		i++
		role, content, fine := messageShape(m)
		if !fine {
			ok = false
			return false
		}
		switch role {
		case `system`, `developer`:
			if leading {
				var n int
				sys, n, ok = appendTextParts(sys, content, nSys > 0)
				nSys += n
				return ok
			}
			fallthrough
		case `user`, `assistant`:
			gr := "user"
			if role == "assistant" {
				gr = "model"
			}
			mark := len(out)
			if nContents > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"role":"`...)
			out = append(out, gr...)
			out = append(out, `","parts":[`...)
			var n int
			out, n, ok = appendTextParts(out, content, false)
			if n == 0 {
				out = out[:mark] // no parts: the message adds no content
			} else {
				out = append(out, "]}"...)
				nContents++
			}
			if role != "system" && role != "developer" {
				leading = false
			}
			return ok
		}
		ok = false // tool messages and bad roles: full path
		return false
	})
	*bp = sys[:0]
	if !ok || i < 0 {
		return nil, false
	}
	if nContents == 0 {
		if nSys == 0 {
			return nil, false
		}
		// Only system text: it becomes the user turn (see messages).
		out = append(out, `{"role":"user","parts":[`...)
		out = append(out, sys...)
		out = append(out, "]}]"...)
	} else {
		out = append(out, ']')
		if nSys > 0 {
			out = append(out, `,"systemInstruction":{"role":"user","parts":[`...)
			out = append(out, sys...)
			out = append(out, "]}"...)
		}
	}
	if out, ok = fastTools(out, r.tools, r.toolChoice); !ok {
		return nil, false
	}
	out = r.appendGenConfig(out, opt, th, cr)
	out = append(out, '}')

	if r.stream && r.hasStreamOptions {
		cr.IncludeUsage = r.usage
	}
	cr.SingleToolCall = r.noParallel
	cr.Model = strings.Clone(unquoteJSON(r.model.Raw[1 : len(r.model.Raw)-1]))
	if cr.Model == "" {
		return nil, false
	}
	cr.Gemini = out
	return cr, true
}

// messageShape checks one message is a plain text turn and returns its role
// and content value. Tool calls, tool results, non-text parts and anything
// unexpected are refused.
func messageShape(m gjson.Result) (role string, content gjson.Result, ok bool) {
	if !m.IsObject() {
		return "", content, false
	}
	ok = true
	var seen uint8
	m.ForEach(func(k, v gjson.Result) bool {
		key := keyOf(k)
		bit := uint8(0)
		switch key {
		case "role":
			bit = 1
			ok = v.Type == gjson.String
			role = v.Raw
		case "content":
			bit = 2
			content = v
		case "name", "tool_call_id":
			bit = 4
			if key == "tool_call_id" {
				bit = 8
			}
			ok = v.Type == gjson.String || v.Type == gjson.Null
		case "tool_calls":
			bit = 16
			ok = v.Type == gjson.Null || (v.IsArray() && len(v.Array()) == 0)
		default:
			ok = ignorable(key, v, messageFields)
		}
		if seen&bit != 0 {
			ok = false
		}
		seen |= bit
		return ok
	})
	if !ok || len(role) < 2 {
		return "", content, false
	}
	return role[1 : len(role)-1], content, true
}

// appendGeminiText appends one Gemini text part whose text is raw, the
// still-escaped inside of a JSON string, after a comma when sep.
func appendGeminiText(b []byte, raw string, sep bool) []byte {
	if sep {
		b = append(b, ',')
	}
	b = append(b, `{"text":`...)
	b = appendReencoded(b, raw)
	return append(b, '}')
}

// appendTextParts appends the parts of a chat message's content (a string
// or an array of text parts) as Gemini text parts; see appendTextContent.
func appendTextParts(b []byte, content gjson.Result, comma bool) ([]byte, int, bool) {
	return appendTextContent(b, content, comma, chatPartText)
}

// chatPartText is the text of a chat content part, which must be
// {"type":"text","text":…} (other kinds only as null).
func chatPartText(p gjson.Result) (text string, ok bool) {
	var isText, hasText bool
	var seen uint8
	ok = true
	p.ForEach(func(k, v gjson.Result) bool {
		key := keyOf(k)
		var bit uint8
		switch key {
		case "type":
			bit = 1
			isText = v.Raw == `"text"`
		case "text":
			bit = 2
			hasText = v.Type == gjson.String
			if hasText {
				text = v.Raw[1 : len(v.Raw)-1]
			}
		case "refusal", "image_url", "input_audio", "file":
			bit = 4
			ok = isNull(v)
		default:
			ok = ignorable(key, v, partFields)
		}
		if bit&3 != 0 && seen&bit != 0 {
			ok = false
		}
		seen |= bit
		return ok
	})
	return text, ok && isText && hasText
}

// appendTextContent appends a text content value (a string, or an array
// of parts whose text partText reads) as Gemini text parts, dropping empty
// texts as the full path drops them, after a comma when comma. n is the
// number of parts written; !ok sends the request to the full path.
func appendTextContent(b []byte, content gjson.Result, comma bool, partText func(gjson.Result) (string, bool)) (_ []byte, n int, ok bool) {
	add := func(raw string) {
		if raw != "" {
			b = appendGeminiText(b, raw, comma || n > 0)
			n++
		}
	}
	switch {
	case !content.Exists() || isNull(content):
		return b, 0, true
	case content.Type == gjson.String:
		add(content.Raw[1 : len(content.Raw)-1])
		return b, n, true
	case !content.IsArray():
		return b, 0, false
	}
	ok = true
	content.ForEach(func(_, p gjson.Result) bool {
		var text string
		if !p.IsObject() {
			ok = false
		} else {
			text, ok = partText(p)
		}
		if ok {
			add(text)
		}
		return ok
	})
	return b, n, ok
}

// appendGenConfig writes ,"generationConfig":{…} in gGenConfig's field
// order, or nothing when it would be empty.
func (r *fastReq) appendGenConfig(b []byte, opt *Options, th *gThinking, cr *ChatRequest) []byte {
	if opt.ShowThinking && !(th != nil && th.ThinkingBudget != nil && *th.ThinkingBudget == 0) {
		if th == nil {
			th = &gThinking{}
		}
		th.IncludeThoughts = true
	}
	mark := len(b)
	b = append(b, `,"generationConfig":{`...)
	start := len(b)
	sep := func() {
		if len(b) > start {
			b = append(b, ',')
		}
	}
	if r.set&fTemp != 0 {
		sep()
		b = append(b, `"temperature":`...)
		b = appendMarshalFloat(b, r.temp)
	}
	if r.set&fTopP != 0 {
		sep()
		b = append(b, `"topP":`...)
		b = appendMarshalFloat(b, r.topP)
	}
	if r.set&fTopK != 0 {
		sep()
		b = append(b, `"topK":`...)
		b = appendInt(b, r.topK)
	}
	if cr.N > 1 {
		sep()
		b = append(b, `"candidateCount":`...)
		b = appendInt(b, int64(cr.N))
	}
	if mt := r.maxTokens; r.set&(fMaxTokens|fMCT) != 0 {
		if r.set&fMCT != 0 {
			mt = r.mct
		}
		sep()
		b = append(b, `"maxOutputTokens":`...)
		b = appendInt(b, mt)
	}
	if r.stop.Exists() {
		if r.stop.Type == gjson.String {
			if len(r.stop.Raw) > 2 {
				sep()
				b = append(b, `"stopSequences":[`...)
				b = appendReencoded(b, r.stop.Raw[1:len(r.stop.Raw)-1])
				b = append(b, ']')
			}
		} else {
			n := 0
			r.stop.ForEach(func(_, s gjson.Result) bool {
				if len(s.Raw) == 2 {
					return true
				}
				if n == 0 {
					sep()
					b = append(b, `"stopSequences":[`...)
				} else {
					b = append(b, ',')
				}
				b = appendReencoded(b, s.Raw[1:len(s.Raw)-1])
				n++
				return true
			})
			if n > 0 {
				b = append(b, ']')
			}
		}
	}
	if r.set&fPresence != 0 {
		sep()
		b = append(b, `"presencePenalty":`...)
		b = appendMarshalFloat(b, r.presence)
	}
	if r.set&fFreq != 0 {
		sep()
		b = append(b, `"frequencyPenalty":`...)
		b = appendMarshalFloat(b, r.freq)
	}
	if r.set&fSeed != 0 {
		v := r.seed
		s := int32(uint32(v) ^ uint32(uint64(v)>>32))
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			s = int32(v)
		}
		sep()
		b = append(b, `"seed":`...)
		b = appendInt(b, int64(s))
	}
	if r.jsonMode {
		sep()
		b = append(b, `"responseMimeType":"application/json"`...)
	}
	if th != nil {
		sep()
		b = append(b, `"thinkingConfig":{`...)
		ts := len(b)
		if th.ThinkingBudget != nil {
			b = append(b, `"thinkingBudget":`...)
			b = appendInt(b, int64(*th.ThinkingBudget))
		}
		if th.ThinkingLevel != "" {
			if len(b) > ts {
				b = append(b, ',')
			}
			b = append(b, `"thinkingLevel":`...)
			b = jsonw.AppendMarshal(b, th.ThinkingLevel)
		}
		if th.IncludeThoughts {
			if len(b) > ts {
				b = append(b, ',')
			}
			b = append(b, `"includeThoughts":true`...)
		}
		b = append(b, '}')
	}
	if len(b) == start {
		return b[:mark]
	}
	return append(b, '}')
}
