package openai

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// Reply carries what an answer needs from its request. Build it with
// ChatRequest.Reply.
type Reply struct {
	ID             string // NewCompletionID(), the same for every chunk
	Model          string // the model name the client asked for
	Created        int64  // unix seconds
	IncludeUsage   bool   // stream_options.include_usage
	SingleToolCall bool   // parallel_tool_calls:false
}

// Usage is the token accounting of an answer, in OpenAI terms.
// CompletionTokens includes ReasoningTokens (as OpenAI counts them), and
// TotalTokens = PromptTokens + CompletionTokens.
type Usage struct {
	PromptTokens     int64
	CompletionTokens int64
	TotalTokens      int64
	ReasoningTokens  int64
	CachedTokens     int64
}

// members fills vals[i] with the first member of obj named names[i], the
// member gjson's Get would find, in one pass over obj instead of one scan
// per name (the lookups were most of the translation time).
func members(obj gjson.Result, names []string, vals []gjson.Result) {
	if !obj.IsObject() {
		return
	}
	left := len(names)
	obj.ForEach(func(k, v gjson.Result) bool {
		for i, n := range names {
			if k.Str == n && vals[i].Type == gjson.Null && !vals[i].Exists() {
				vals[i] = v
				left--
				break
			}
		}
		return left > 0
	})
}

var usageNames = []string{"promptTokenCount", "toolUsePromptTokenCount", "thoughtsTokenCount", "candidatesTokenCount", "cachedContentTokenCount"}

func usageFrom(u gjson.Result) Usage {
	var x Usage
	if !u.Exists() {
		return x
	}
	var v [5]gjson.Result
	members(u, usageNames, v[:])
	x.PromptTokens = v[0].Int() + v[1].Int()
	x.ReasoningTokens = v[2].Int()
	x.CompletionTokens = v[3].Int() + x.ReasoningTokens
	x.CachedTokens = v[4].Int()
	x.TotalTokens = x.PromptTokens + x.CompletionTokens
	return x
}

func (u *Usage) appendJSON(b []byte) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = appendInt(b, u.PromptTokens)
	b = append(b, `,"completion_tokens":`...)
	b = appendInt(b, u.CompletionTokens)
	b = append(b, `,"total_tokens":`...)
	b = appendInt(b, u.TotalTokens)
	b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
	b = appendInt(b, u.CachedTokens)
	b = append(b, `},"completion_tokens_details":{"reasoning_tokens":`...)
	b = appendInt(b, u.ReasoningTokens)
	return append(b, "}}"...)
}

// finishReason maps Gemini's finishReason to OpenAI's.
func finishReason(gemini string, toolCalls bool) string {
	switch gemini {
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
		"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION":
		return "content_filter"
	}
	if toolCalls {
		return "tool_calls"
	}
	return "stop"
}

// source is one grounding link for the optional Sources list.
type source struct{ uri, title string }

// choice accumulates one candidate's output. In a stream the byte buffers
// hold the current event's delta and are reset after each chunk; for a
// unary answer they hold the whole message.
type choice struct {
	content   []byte // escaped JSON string body
	reasoning []byte // escaped JSON string body
	tools     []byte // comma-separated tool call objects (no "index")
	toolOff   []int  // start of each object in tools
	images    []byte // comma-separated image objects
	nTools    int
	started   bool // role already sent (stream)
	finished  bool
	finish    string
	sources   []source
	// annots are url_citation annotations (comma separated) for the URLs
	// the url_context tool retrieved.
	annots []byte
	// inlineImage is set while content holds an image as a markdown data
	// URL, which a paced stream must not cut.
	inlineImage bool
}

func (c *choice) resetDelta() {
	c.content, c.reasoning, c.tools, c.images, c.annots = c.content[:0], c.reasoning[:0], c.tools[:0], c.images[:0], c.annots[:0]
	c.inlineImage = false
	c.toolOff = c.toolOff[:0]
}

// maxChoices bounds candidate indexes taken from upstream JSON.
const maxChoices = 64

// translatorPool recycles unary translators with their per-choice
// buffers: a unary answer otherwise allocates the choice list, each choice
// and its growing buffers on every request.
var translatorPool = sync.Pool{New: func() any { return new(translator) }}

// maxPooledBuf caps the buffers kept for reuse (an answer with an image can
// make them megabytes).
const maxPooledBuf = 64 << 10

// addChoice appends a clean choice, reusing one left by an earlier answer.
func (t *translator) addChoice() []*choice {
	n := len(t.choices)
	if n < cap(t.choices) {
		if c := t.choices[:n+1][n]; c != nil {
			return t.choices[:n+1]
		}
	}
	return append(t.choices, &choice{})
}

// release resets t and returns it to translatorPool. The returned answer
// never aliases these buffers (it is built in a fresh slice).
func (t *translator) release() {
	for _, c := range t.choices {
		keep := func(b []byte) []byte {
			if cap(b) > maxPooledBuf {
				return nil
			}
			return b[:0]
		}
		clear(c.sources)
		*c = choice{content: keep(c.content), reasoning: keep(c.reasoning), tools: keep(c.tools),
			images: keep(c.images), annots: keep(c.annots), toolOff: c.toolOff[:0], sources: c.sources[:0]}
	}
	if len(t.choices) > maxChoices/4 {
		t.choices = nil
	}
	t.choices = t.choices[:0]
	t.rep, t.opt, t.usage, t.blocked = Reply{}, Options{}, Usage{}, false
	if t.scratch.Cap() > maxPooledBuf {
		t.scratch = bytes.Buffer{}
	}
	t.scratch.Reset()
	translatorPool.Put(t)
}

// translator is the shared core of the unary and stream paths.
type translator struct {
	rep     Reply
	opt     Options
	choices []*choice
	usage   Usage
	blocked bool // promptFeedback.blockReason without candidates
	scratch bytes.Buffer
}

func bytesToString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// errInvalidUpstream marks upstream bytes that are not a Gemini response.
var errInvalidUpstream = errors.New("upstream sent a malformed Gemini response")

// ingest reads one GenerateContentResponse (a unary body or one stream
// event) into per-candidate state. emit, when set, is called after each
// candidate so the stream path can write its delta.
func (t *translator) ingest(js []byte, emit func(idx int, c *choice, last bool)) error {
	top, err := readAnswerTop(js)
	if err != nil {
		return err
	}
	if u := top[1]; u.Exists() {
		t.usage = usageFrom(u) // cumulative in streams: the last one wins
	}
	n := 0
	top[2].ForEach(func(_, cand gjson.Result) bool {
		n++
		var cv [5]gjson.Result
		members(cand, candNames, cv[:])
		idx := int(cv[0].Int())
		if idx < 0 || idx >= maxChoices {
			err = fmt.Errorf("candidate index %d out of range: %w", idx, errInvalidUpstream)
			return false
		}
		for len(t.choices) <= idx {
			t.choices = t.addChoice()
		}
		c := t.choices[idx]
		if c.finished {
			return true
		}
		if cv[1].IsObject() {
			t.parts(c, cv[1].Get("parts"))
		}
		if t.opt.SearchLinks && cv[3].IsObject() {
			collectSources(c, cv[3].Get("groundingChunks"))
		}
		if cv[4].IsObject() {
			c.annots = appendURLCitations(c.annots, cv[4].Get("urlMetadata"))
		}
		fr := cv[2].Str
		last := fr != "" && fr != "FINISH_REASON_UNSPECIFIED" && fr != "CONTINUATION"
		if last {
			if t.opt.SearchLinks && len(c.sources) > 0 {
				c.content = appendSources(c.content, c.sources)
			}
			c.finish = finishReason(fr, c.nTools > 0)
		}
		if emit != nil {
			emit(idx, c, last)
		}
		if last {
			c.finished = true
		}
		return true
	})
	if n == 0 && top[3].IsObject() && top[3].Get("blockReason").Exists() {
		t.blocked = true
	}
	return err
}

var (
	topNames  = []string{"error", "usageMetadata", "candidates", "promptFeedback"}
	candNames = []string{"index", "content", "finishReason", "groundingMetadata", "urlContextMetadata"}
	partNames = []string{"functionCall", "thoughtSignature", "text", "thought", "inlineData", "executableCode", "codeExecutionResult"}
)

// appendURLCitations renders the pages the url_context tool retrieved
// (urlContextMetadata.urlMetadata) as chat url_citation annotations, the
// shape OpenAI's search models answer with and the SDKs read
// (message.annotations). Gemini names no span of the answer, so the
// indexes are 0, as the Responses translation does for sources without
// spans, and no title, so the title is the URL. A page Gemini could not
// retrieve (error, paywall, unsafe) backs nothing and is left out.
func appendURLCitations(b []byte, meta gjson.Result) []byte {
	meta.ForEach(func(_, m gjson.Result) bool {
		url := m.Get("retrievedUrl").Str
		if st := m.Get("urlRetrievalStatus").Str; url == "" || st != "" && st != "URL_RETRIEVAL_STATUS_SUCCESS" {
			return true
		}
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"url_citation","url_citation":{"start_index":0,"end_index":0,"title":`...)
		b = jsonw.AppendString(b, url)
		b = append(b, `,"url":`...)
		b = jsonw.AppendString(b, url)
		b = append(b, "}}"...)
		return true
	})
	return b
}

// parts appends one candidate's parts to its buffers.
func (t *translator) parts(c *choice, parts gjson.Result) {
	parts.ForEach(func(_, p gjson.Result) bool {
		var pv [7]gjson.Result
		members(p, partNames, pv[:])
		if fc := pv[0]; fc.Exists() {
			if t.rep.SingleToolCall && c.nTools > 0 {
				return true
			}
			t.toolCall(c, fc, pv[1].Str)
			return true
		}
		if tx := pv[2]; tx.Type == gjson.String {
			body := tx.Raw[1 : len(tx.Raw)-1]
			if pv[3].Bool() {
				c.reasoning = append(c.reasoning, body...)
			} else {
				c.content = append(c.content, body...)
			}
			return true
		}
		if d := pv[4]; d.Exists() {
			t.image(c, d.Get("mimeType").Str, d.Get("data"))
			return true
		}
		if ec := pv[5]; ec.Exists() {
			c.content = appendExecutableCode(c.content, ec)
			return true
		}
		if cr := pv[6]; cr.Exists() {
			c.content = appendCodeResult(c.content, cr)
		}
		return true
	})
}

// appendExecutableCode renders a code execution part's code as a fenced
// block, as an escaped JSON string body: OpenAI answers have no code
// parts, and chat and Responses show them alike.
func appendExecutableCode(b []byte, ec gjson.Result) []byte {
	b = append(b, `\n\n`+"```"...)
	b = jsonw.AppendStringBody(b, strings.ToLower(ec.Get("language").Str))
	b = append(b, `\n`...)
	b = jsonw.AppendStringBody(b, ec.Get("code").Str)
	return append(b, `\n`+"```"+`\n`...)
}

// appendCodeResult renders a code execution result as an output block.
func appendCodeResult(b []byte, cr gjson.Result) []byte {
	b = append(b, `\n`+"```"+`output\n`...)
	b = jsonw.AppendStringBody(b, cr.Get("output").Str)
	return append(b, `\n`+"```"+`\n`...)
}

func (t *translator) toolCall(c *choice, fc gjson.Result, sig string) {
	if len(c.tools) > 0 {
		c.tools = append(c.tools, ',')
	}
	c.toolOff = append(c.toolOff, len(c.tools))
	b := c.tools
	b = append(b, `{"id":"`...)
	b = appendToolCallID(b, fc.Get("id").Str, sig)
	b = append(b, `","type":"function","function":{"name":`...)
	b = jsonw.AppendString(b, fc.Get("name").Str)
	b = append(b, `,"arguments":`...)
	args := fc.Get("args")
	if args.IsObject() {
		// OpenAI's arguments are a JSON-encoded string; upstream unary
		// bodies are pretty-printed, so compact first.
		t.scratch.Reset()
		if json.Compact(&t.scratch, unsafe.Slice(unsafe.StringData(args.Raw), len(args.Raw))) == nil {
			b = jsonw.AppendString(b, bytesToString(t.scratch.Bytes()))
		} else {
			b = jsonw.AppendString(b, args.Raw)
		}
	} else {
		b = append(b, `"{}"`...)
	}
	b = append(b, '}')
	if sig != "" {
		b = append(b, `,"extra_content":{"google":{"thought_signature":`...)
		b = jsonw.AppendString(b, sig)
		b = append(b, "}}"...)
	}
	c.tools = append(b, '}')
	c.nTools++
}

func (t *translator) image(c *choice, mimeType string, data gjson.Result) {
	if data.Type != gjson.String {
		return
	}
	body := data.Raw[1 : len(data.Raw)-1] // base64 needs no escaping
	if t.opt.ImageOutput == ImageOutputDataURL {
		if len(c.images) > 0 {
			c.images = append(c.images, ',')
		}
		c.images = append(c.images, `{"type":"image_url","image_url":{"url":"data:`...)
		c.images = jsonw.AppendStringBody(c.images, mimeType)
		c.images = append(c.images, ";base64,"...)
		c.images = append(c.images, body...)
		c.images = append(c.images, `"}}`...)
		return
	}
	var linked bool
	if c.content, linked = appendImageMarkdown(c.content, &t.opt, mimeType, body); !linked {
		c.inlineImage = true
	}
}

// appendImageMarkdown renders an image part as a markdown image in an
// escaped JSON string body: linked to where Options.ImageLinker kept it
// (ImageOutputURL), else as a data URL. body is the part's base64 data.
func appendImageMarkdown(b []byte, opt *Options, mimeType, body string) (_ []byte, linked bool) {
	if opt.ImageOutput == ImageOutputURL && opt.ImageLinker != nil {
		// A linker that fails leaves the image inline: an answer
		// without its picture would be worse than a long one.
		if raw, err := base64.StdEncoding.DecodeString(body); err == nil {
			if link, err := opt.ImageLinker.Link(raw, mimeType); err == nil {
				b = append(b, `\n\n![image](`...)
				b = jsonw.AppendStringBody(b, link)
				return append(b, `)\n\n`...), true
			}
		}
	}
	b = append(b, `\n\n![image](data:`...)
	b = jsonw.AppendStringBody(b, mimeType)
	b = append(b, ";base64,"...)
	b = append(b, body...)
	return append(b, `)\n\n`...), false
}

func collectSources(c *choice, chunks gjson.Result) {
	chunks.ForEach(func(_, ch gjson.Result) bool {
		uri := ch.Get("web.uri").Str
		if uri == "" {
			return true
		}
		for _, s := range c.sources {
			if s.uri == uri {
				return true
			}
		}
		title := ch.Get("web.title").Str
		if title == "" {
			title = uri
		}
		c.sources = append(c.sources, source{uri: strings.Clone(uri), title: strings.Clone(title)})
		return true
	})
}

func appendSources(b []byte, src []source) []byte {
	b = append(b, `\n\n**Sources**\n`...)
	for i, s := range src {
		b = appendInt(b, int64(i+1))
		b = append(b, ". ["...)
		b = jsonw.AppendStringBody(b, strings.NewReplacer("[", "(", "]", ")").Replace(s.title))
		b = append(b, "]("...)
		b = jsonw.AppendStringBody(b, s.uri)
		b = append(b, `)\n`...)
	}
	return b
}

// TranslateChatResponse turns a unary Gemini GenerateContentResponse into an
// OpenAI chat.completion body. A prompt blocked by Gemini (HTTP 200 with
// promptFeedback and no candidates) becomes an empty answer with
// finish_reason "content_filter". An in-band Gemini error is returned as *Error.
func TranslateChatResponse(gemini []byte, rep Reply, opt Options) ([]byte, Usage, error) {
	t := translatorPool.Get().(*translator)
	defer t.release()
	t.rep, t.opt = rep, opt
	if err := t.ingest(gemini, nil); err != nil {
		return nil, Usage{}, err
	}
	if len(t.choices) == 0 {
		t.choices = t.addChoice()
		t.choices[0].finish = "content_filter"
		if !t.blocked {
			t.choices[0].finish = "stop"
		}
	}
	// Header and usage take about 300 bytes, each choice's frame about 120.
	size := 320 + len(rep.ID) + len(rep.Model)
	for _, c := range t.choices {
		size += 128 + len(c.content) + len(c.reasoning) + len(c.tools) + len(c.images) + len(c.annots)
	}
	b := make([]byte, 0, size)
	b = append(b, `{"id":`...)
	b = jsonw.AppendString(b, rep.ID)
	b = append(b, `,"object":"chat.completion","created":`...)
	b = appendInt(b, rep.Created)
	b = append(b, `,"model":`...)
	b = jsonw.AppendString(b, rep.Model)
	b = append(b, `,"choices":[`...)
	for i, c := range t.choices {
		if i > 0 {
			b = append(b, ',')
		}
		if c.finish == "" {
			// No finishReason (truncated body): still a complete answer.
			c.finish = finishReason("", c.nTools > 0)
			if t.opt.SearchLinks && len(c.sources) > 0 {
				c.content = appendSources(c.content, c.sources)
			}
		}
		b = append(b, `{"index":`...)
		b = appendInt(b, int64(i))
		b = append(b, `,"message":{"role":"assistant","content":`...)
		if len(c.content) == 0 && c.nTools > 0 {
			b = append(b, "null"...)
		} else {
			b = append(b, '"')
			b = append(b, c.content...)
			b = append(b, '"')
		}
		if len(c.reasoning) > 0 {
			b = append(b, `,"reasoning_content":"`...)
			b = append(b, c.reasoning...)
			b = append(b, '"')
		}
		b = append(b, `,"refusal":null`...)
		if c.nTools > 0 {
			b = append(b, `,"tool_calls":[`...)
			b = append(b, c.tools...)
			b = append(b, ']')
		}
		if len(c.images) > 0 {
			b = append(b, `,"images":[`...)
			b = append(b, c.images...)
			b = append(b, ']')
		}
		if len(c.annots) > 0 {
			b = append(b, `,"annotations":[`...)
			b = append(b, c.annots...)
			b = append(b, ']')
		}
		b = append(b, `},"logprobs":null,"finish_reason":"`...)
		b = append(b, c.finish...)
		b = append(b, `"}`...)
	}
	b = append(b, `],"usage":`...)
	b = t.usage.appendJSON(b)
	b = append(b, `,"system_fingerprint":null}`...)
	return b, t.usage, nil
}

// readAnswerTop checks that js is one GenerateContentResponse object and
// returns its members in topNames order (error, usageMetadata, candidates,
// promptFeedback); an in-band error becomes the error it carries, for the
// chat and Responses translators alike.
func readAnswerTop(js []byte) ([4]gjson.Result, error) {
	var top [4]gjson.Result
	if !gjson.ValidBytes(js) {
		return top, errInvalidUpstream
	}
	root := gjson.Parse(bytesToString(js))
	if !root.IsObject() {
		return top, errInvalidUpstream
	}
	members(root, topNames, top[:])
	if e := top[0]; e.Exists() {
		code := int(e.Get("code").Int())
		if code < 400 {
			code = http.StatusBadGateway
		}
		return top, ErrorFromGemini(code, []byte(root.Raw))
	}
	return top, nil
}
