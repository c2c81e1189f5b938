package mockgemini

import (
	"bytes"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// Google's OpenAI-compatible endpoint (/v1beta/openai/...). Like the real
// one, it answers errors as a JSON ARRAY [{"error":{...}}] in Google's
// status shape (a bad key is 400 INVALID_ARGUMENT, not 401), and it rejects
// embeddings with encoding_format "base64" (reported upstream behaviour
// that the proxy has to work around).

func (s *Server) serveOpenAI(ctx *fasthttp.RequestCtx, r *request, rest []byte) {
	// Credentials are checked before the body is read, as upstream does;
	// faults wait for the body's model so per-model faults apply.
	if !s.authenticate(ctx, r) {
		return
	}
	switch {
	case string(rest) == "chat/completions":
		s.serveChat(ctx, r)
	case string(rest) == "embeddings":
		s.serveOpenAIEmbeddings(ctx, r)
	case string(rest) == "models":
		if _, ok := s.admit(ctx, r, false); ok {
			s.serveOpenAIModels(ctx, nil)
		}
	case bytes.HasPrefix(rest, prefixModels):
		r.model = bytes.TrimPrefix(rest[len(prefixModels):], prefixModels)
		if _, ok := s.admit(ctx, r, false); ok {
			s.serveOpenAIModels(ctx, r.model)
		}
	default:
		s.writeError(ctx, errNotFound("Requested entity was not found."), true)
	}
}

// openAIModel resolves the body's "model" ("gemini-2.5-flash" or
// "models/gemini-2.5-flash") into r.model and checks its kind.
func (s *Server) openAIModel(ctx *fasthttp.RequestCtx, r *request, root gjson.Result, want modelKind, method string) *modelInfo {
	id := strings.TrimPrefix(root.Get("model").Str, "models/")
	r.model = []byte(id)
	if id == "" {
		s.writeError(ctx, errBadRequest("model is required."), true)
		return nil
	}
	m := catalogIndex[id]
	if m == nil || m.kind != want {
		s.writeError(ctx, errModelNotFound(id, "v1beta", method), true)
		return nil
	}
	return m
}

// chatPlan is the deterministic answer to a chat completion.
type chatPlan struct {
	id, model      string
	created        int64
	answer         string
	toolName       string
	toolArgs       []byte
	toolID         string
	finish         string
	prompt, output int
	reasoning      int
}

func (s *Server) serveChat(ctx *fasthttp.RequestCtx, r *request) {
	if !ctx.IsPost() {
		s.writeError(ctx, errNotFound("Method not found."), true)
		return
	}
	body := ctx.PostBody()
	root, e := parseObject(body)
	if e != nil {
		s.writeError(ctx, *e, true)
		return
	}
	m := s.openAIModel(ctx, r, root, kindGenerate, "generateContent")
	if m == nil {
		return
	}
	stream := root.Get("stream").Bool()
	fault, ok := s.admit(ctx, r, stream)
	if !ok {
		return
	}
	msgs := root.Get("messages")
	if !msgs.IsArray() || len(msgs.Array()) == 0 {
		s.writeError(ctx, errBadRequest("* GenerateContentRequest.contents: contents is not specified\n"), true)
		return
	}
	p := chatPlan{model: m.id, created: time.Now().Unix(), finish: "stop"}
	p.id = "chatcmpl-" + responseID(m.id, body)
	var userText, lastRole, lastContent string
	msgs.ForEach(func(_, msg gjson.Result) bool {
		lastRole = msg.Get("role").Str
		lastContent = chatContent(msg.Get("content"))
		p.prompt += tokens(len(lastContent))
		if lastRole == "user" {
			userText = lastContent
		}
		return true
	})
	userText = truncateRunes(userText, maxEcho)
	tools := root.Get("tools")
	choice := root.Get("tool_choice")
	switch {
	case lastRole == "tool":
		p.answer = "Function results: " + lastContent
	case tools.IsArray() && len(tools.Array()) > 0 && choice.Str != "none" && lastRole == "user":
		fn := tools.Get("0.function")
		if name := choice.Get("function.name").Str; name != "" {
			tools.ForEach(func(_, t gjson.Result) bool {
				if t.Get("function.name").Str == name {
					fn = t.Get("function")
					return false
				}
				return true
			})
		}
		p.toolName = strings.Clone(fn.Get("name").Str)
		p.toolArgs = appendSchemaValue(nil, fn.Get("parameters"), userText, 0, true)
		p.toolID = "call_" + callID(hash64(m.id, body))
		p.finish = "tool_calls"
	default:
		rf := root.Get("response_format")
		switch rf.Get("type").Str {
		case "json_schema":
			p.answer = string(appendSchemaValue(nil, rf.Get("json_schema.schema"), userText, 0, false))
		case "json_object":
			p.answer = string(jsonw.AppendMarshal([]byte(`{"echo":`), userText)) + "}"
		default:
			p.answer = "Echo: " + userText
		}
	}
	if p.toolName == "" {
		mt := root.Get("max_completion_tokens")
		if !mt.Exists() {
			mt = root.Get("max_tokens")
		}
		if n := mt.Int(); n > 0 && n < 5 {
			p.answer = truncateRunes(p.answer, int(n)*4)
			p.finish = "length"
		}
		p.output = tokens(len(p.answer))
	} else {
		p.output = tokens(len(p.toolName) + len(p.toolArgs))
	}
	if m.thinkingByDefault() && root.Get("reasoning_effort").Str != "none" {
		p.reasoning = thoughtTokensFix
	}
	if !stream {
		bp := getBuf()
		*bp = p.appendCompletion((*bp)[:0])
		setCommonHeaders(ctx, "application/json")
		ctx.SetBody(*bp)
		putBuf(bp)
		return
	}
	es := newEventStream(frameOpenAI)
	p.streamChunks(s.opts.StreamChunks, root.Get("stream_options.include_usage").Bool(), es.add)
	s.serveStream(ctx, es, fault)
}

// chatContent flattens a message content (string or content-part array).
func chatContent(c gjson.Result) string {
	if c.Type == gjson.String {
		return c.Str
	}
	var sb strings.Builder
	c.ForEach(func(_, part gjson.Result) bool {
		if part.Get("type").Str == "text" {
			sb.WriteString(part.Get("text").String())
		}
		return true
	})
	return sb.String()
}

func (p *chatPlan) appendHead(dst []byte, object string) []byte {
	dst = append(dst, `{"id":`...)
	dst = jsonw.AppendMarshal(dst, p.id)
	dst = append(dst, `,"object":"`...)
	dst = append(dst, object...)
	dst = append(dst, `","created":`...)
	dst = appendInt(dst, int(p.created))
	dst = append(dst, `,"model":`...)
	return jsonw.AppendMarshal(dst, p.model)
}

func (p *chatPlan) appendUsage(dst []byte) []byte {
	dst = append(dst, `"usage":{"prompt_tokens":`...)
	dst = appendInt(dst, p.prompt)
	dst = append(dst, `,"completion_tokens":`...)
	dst = appendInt(dst, p.output+p.reasoning)
	dst = append(dst, `,"total_tokens":`...)
	dst = appendInt(dst, p.prompt+p.output+p.reasoning)
	if p.reasoning > 0 {
		dst = append(dst, `,"completion_tokens_details":{"reasoning_tokens":`...)
		dst = appendInt(dst, p.reasoning)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func (p *chatPlan) appendToolCall(dst []byte, withIndex bool) []byte {
	dst = append(dst, `"tool_calls":[{`...)
	if withIndex {
		dst = append(dst, `"index":0,`...)
	}
	dst = append(dst, `"id":`...)
	dst = jsonw.AppendMarshal(dst, p.toolID)
	dst = append(dst, `,"type":"function","function":{"name":`...)
	dst = jsonw.AppendMarshal(dst, p.toolName)
	dst = append(dst, `,"arguments":`...)
	dst = jsonw.AppendMarshal(dst, string(p.toolArgs))
	return append(dst, "}}]"...)
}

func (p *chatPlan) appendCompletion(dst []byte) []byte {
	dst = p.appendHead(dst, "chat.completion")
	dst = append(dst, `,"choices":[{"index":0,"message":{"role":"assistant",`...)
	if p.toolName != "" {
		dst = append(dst, `"content":null,`...)
		dst = p.appendToolCall(dst, false)
	} else {
		dst = append(dst, `"content":`...)
		dst = jsonw.AppendMarshal(dst, p.answer)
	}
	dst = append(dst, `},"finish_reason":`...)
	dst = jsonw.AppendMarshal(dst, p.finish)
	dst = append(dst, `}],`...)
	dst = p.appendUsage(dst)
	return append(dst, '}')
}

// streamChunks emits OpenAI chat.completion.chunk objects: content pieces
// (the first with the role), a finish chunk, and the usage chunk when
// stream_options.include_usage is set.
func (p *chatPlan) streamChunks(n int, includeUsage bool, emit func([]byte)) {
	var b []byte
	chunk := func(delta func([]byte) []byte, finish string) {
		b = p.appendHead(b[:0], "chat.completion.chunk")
		b = append(b, `,"choices":[{"index":0,"delta":{`...)
		b = delta(b)
		b = append(b, `},"finish_reason":`...)
		if finish == "" {
			b = append(b, "null"...)
		} else {
			b = jsonw.AppendMarshal(b, finish)
		}
		b = append(b, "}]}"...)
		emit(b)
	}
	if p.toolName != "" {
		chunk(func(d []byte) []byte {
			d = append(d, `"role":"assistant",`...)
			return p.appendToolCall(d, true)
		}, "")
	} else {
		for i, t := range splitText(p.answer, n) {
			chunk(func(d []byte) []byte {
				if i == 0 {
					d = append(d, `"role":"assistant",`...)
				}
				d = append(d, `"content":`...)
				return jsonw.AppendMarshal(d, t)
			}, "")
		}
	}
	chunk(func(d []byte) []byte { return d }, p.finish)
	if includeUsage {
		b = p.appendHead(b[:0], "chat.completion.chunk")
		b = append(b, `,"choices":[],`...)
		b = p.appendUsage(b)
		b = append(b, '}')
		emit(b)
	}
}

func (s *Server) serveOpenAIModels(ctx *fasthttp.RequestCtx, id []byte) {
	if !ctx.IsGet() {
		s.writeError(ctx, errNotFound("Method not found."), true)
		return
	}
	entry := func(b []byte, m *modelInfo) []byte {
		b = append(b, `{"id":`...)
		b = jsonw.AppendMarshal(b, "models/"+m.id)
		b = append(b, `,"object":"model","created":0,"owned_by":"google"}`...)
		return b
	}
	b := make([]byte, 0, 2048)
	if id != nil {
		m := lookupModel(id)
		if m == nil {
			s.writeError(ctx, errNotFound("Model not found: "+string(id)), true)
			return
		}
		b = entry(b, m)
	} else {
		b = append(b, `{"object":"list","data":[`...)
		for i := range catalog {
			if i > 0 {
				b = append(b, ',')
			}
			b = entry(b, &catalog[i])
		}
		b = append(b, "]}"...)
	}
	setCommonHeaders(ctx, "application/json")
	ctx.SetBody(b)
}

func (s *Server) serveOpenAIEmbeddings(ctx *fasthttp.RequestCtx, r *request) {
	if !ctx.IsPost() {
		s.writeError(ctx, errNotFound("Method not found."), true)
		return
	}
	root, e := parseObject(ctx.PostBody())
	if e != nil {
		s.writeError(ctx, *e, true)
		return
	}
	m := s.openAIModel(ctx, r, root, kindEmbed, "embedContent")
	if m == nil {
		return
	}
	if _, ok := s.admit(ctx, r, false); !ok {
		return
	}
	if f := root.Get("encoding_format").Str; f != "" && f != "float" {
		s.writeError(ctx, errBadRequest("Invalid value for encoding_format: only \"float\" is supported."), true)
		return
	}
	dims := defaultEmbedDim
	if d := root.Get("dimensions"); d.Exists() {
		dims = int(d.Int())
		if dims < 1 || dims > maxEmbedDim {
			s.writeError(ctx, errBadRequest("dimensions must be between 1 and 3072."), true)
			return
		}
	}
	input := root.Get("input")
	var texts []string
	if input.IsArray() {
		input.ForEach(func(_, v gjson.Result) bool { texts = append(texts, v.String()); return true })
	} else if input.Type == gjson.String {
		texts = []string{input.Str}
	}
	if len(texts) == 0 {
		s.writeError(ctx, errBadRequest("input is required."), true)
		return
	}
	b := make([]byte, 0, 64+len(texts)*dims*12)
	b = append(b, `{"object":"list","data":[`...)
	used := 0
	for i, t := range texts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"object":"embedding","index":`...)
		b = appendInt(b, i)
		b = append(b, `,"embedding":`...)
		b = appendFloats(b, t, dims)
		b = append(b, '}')
		used += tokens(len(t))
	}
	b = append(b, `],"model":`...)
	b = jsonw.AppendMarshal(b, m.id)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = appendInt(b, used)
	b = append(b, `,"total_tokens":`...)
	b = appendInt(b, used)
	b = append(b, "}}"...)
	setCommonHeaders(ctx, "application/json")
	ctx.SetBody(b)
}
