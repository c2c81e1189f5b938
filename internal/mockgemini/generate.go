package mockgemini

import (
	"encoding/base64"
	"hash/fnv"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// Generation is deterministic so tests can assert on content:
//
//   - the answer is "Echo: " + the last user text (capped at maxEcho bytes);
//   - thinking models (2.5/3 except -lite, or when thinkingConfig asks) add
//     thoughtsTokenCount, and includeThoughts adds a thought part first;
//   - function declarations + a plain-text last turn → one functionCall part
//     with a thoughtSignature, its args shaped by the schema (only the
//     required parameters when it lists them); a functionResponse last turn → a text that
//     quotes the responses (Gemini 3 first checks the history's signatures);
//   - a Gemini 3 text answer carries a thoughtSignature on its last text
//     part (in a stream: the final chunk's), as Google's does;
//   - responseMimeType application/json → JSON text (schema-shaped);
//   - responseModalities IMAGE on an -image model → an inlineData PNG part;
//   - a googleSearch tool → groundingMetadata;
//   - a codeExecution tool (plain answers) → an executableCode part that
//     prints the user text and a codeExecutionResult part with it as
//     output, before the answer text (each its own stream event);
//   - a urlContext tool → urlContextMetadata naming the first URL in the
//     user text (https://example.com/ when it names none);
//   - maxOutputTokens below 5 → truncated text with finishReason MAX_TOKENS.

const (
	maxEcho          = 8 << 10 // echoed user text is capped to keep answers small
	imageTokens      = 258     // tokens counted per inline image/file in a prompt
	outImageTokens   = 1290    // tokens of a generated image
	thoughtTokensFix = 34      // thoughtsTokenCount of a thinking answer
	maxSchemaDepth   = 8
)

// unsafeString views b as a string without copying. Results of gjson
// queries on it alias the request body and must not outlive the handler.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func tokens(n int) int { return (n + 3) / 4 }

// scanned is what one pass over a GenerateContentRequest learns.
type scanned struct {
	promptTokens int
	ncontents    int

	userText     string // text of the last non-model turn that has text
	lastHasText  bool   // the last turn holds plain (non-thought) text
	lastFnResp   []fnResp
	missingSig   string // "name" of the first model functionCall lacking a signature
	missingAt    int    // its content position (1-based)
	fnName       string // function to call: allowed name or first declaration
	fnSchema     gjson.Result
	callingNone  bool
	grounding    bool
	codeExec     bool
	urlContext   bool
	gen          gjson.Result
	systemTokens int
}

type fnResp struct {
	name string
	raw  string
}

// scanRequest walks the request once. root must be a JSON object.
func scanRequest(root gjson.Result, s *scanned) *apiError {
	var contents, tools, toolConfig gjson.Result
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "contents":
			contents = v
		case "systemInstruction", "system_instruction":
			v.Get("parts").ForEach(func(_, p gjson.Result) bool {
				s.promptTokens += tokens(len(p.Get("text").Str))
				return true
			})
		case "tools":
			tools = v
			s.promptTokens += tokens(len(v.Raw))
		case "toolConfig", "tool_config":
			toolConfig = v
		case "generationConfig", "generation_config":
			s.gen = v
		}
		return true
	})
	if !contents.IsArray() {
		e := errBadRequest("* GenerateContentRequest.contents: contents is not specified\n")
		return &e
	}
	contents.ForEach(func(_, c gjson.Result) bool {
		s.ncontents++
		isModel := c.Get("role").Str == "model"
		var text string
		var texts int
		s.lastFnResp = s.lastFnResp[:0]
		s.lastHasText = false
		sawCall := false
		c.Get("parts").ForEach(func(_, p gjson.Result) bool {
			var ptext string
			var hasText, thought, hasSig, hasCall bool
			var callName string
			p.ForEach(func(k, v gjson.Result) bool {
				switch k.Str {
				case "text":
					hasText, ptext = true, v.String()
					s.promptTokens += tokens(len(ptext))
				case "thought":
					thought = v.Bool()
				case "thoughtSignature", "thought_signature":
					hasSig = v.Str != ""
				case "inlineData", "inline_data", "fileData", "file_data":
					s.promptTokens += imageTokens
				case "functionCall", "function_call":
					hasCall, callName = true, v.Get("name").Str
					s.promptTokens += tokens(len(v.Raw))
				case "functionResponse", "function_response":
					s.promptTokens += tokens(len(v.Raw))
					s.lastFnResp = append(s.lastFnResp, fnResp{name: v.Get("name").Str, raw: v.Get("response").Raw})
				}
				return true
			})
			if hasCall && isModel && !sawCall {
				sawCall = true
				if !hasSig && s.missingSig == "" {
					s.missingSig, s.missingAt = callName, s.ncontents
				}
			}
			if hasText && !thought && !isModel {
				s.lastHasText = true
				if texts == 0 {
					text = ptext
				} else {
					text += ptext
				}
				texts++
			}
			return true
		})
		if texts > 0 {
			s.userText = text
		}
		return true
	})
	if s.ncontents == 0 {
		e := errBadRequest("* GenerateContentRequest.contents: contents is not specified\n")
		return &e
	}
	allowed := toolConfig.Get("functionCallingConfig.allowedFunctionNames.0").Str
	s.callingNone = strings.EqualFold(toolConfig.Get("functionCallingConfig.mode").Str, "NONE")
	tools.ForEach(func(_, t gjson.Result) bool {
		t.ForEach(func(k, v gjson.Result) bool {
			switch k.Str {
			case "functionDeclarations", "function_declarations":
				v.ForEach(func(_, d gjson.Result) bool {
					name := d.Get("name").Str
					if s.fnName == "" || (allowed != "" && name == allowed && s.fnName != allowed) {
						s.fnName = name
						s.fnSchema = d.Get("parameters")
						if !s.fnSchema.Exists() {
							s.fnSchema = d.Get("parametersJsonSchema")
						}
					}
					return true
				})
			case "googleSearch", "google_search", "googleSearchRetrieval", "google_search_retrieval":
				s.grounding = true
			case "codeExecution", "code_execution":
				s.codeExec = true
			case "urlContext", "url_context":
				s.urlContext = true
			}
			return true
		})
		return true
	})
	return nil
}

// genPlan is the deterministic answer to one request. Every string in it
// is owned (never aliases the request body), so a plan may be rendered
// after the handler has returned.
type genPlan struct {
	model         *modelInfo
	responseID    [23]byte
	thought       string // thought-summary text; "" unless includeThoughts
	thinking      bool
	answer        string
	fnName        string
	fnID          string
	fnArgs        []byte // compact JSON object
	signature     string
	textSig       string // thoughtSignature of the answer's last text part (Gemini 3 text answers)
	image         bool
	grounding     bool
	query         string
	code          string // executableCode, "" without code execution
	codeOutput    string
	url           string // urlContextMetadata's URL, "" without url context
	finish        string
	finishMsg     string
	promptTokens  int
	thoughtTokens int
	candTokens    int
}

// planGenerate parses body (already checked to be a JSON object) and
// decides the whole answer.
func planGenerate(body []byte, m *modelInfo, p *genPlan, textOnly bool) *apiError {
	if !gjson.ValidBytes(body) {
		e := errBadRequest(msgBadJSON)
		return &e
	}
	root := gjson.Parse(unsafeString(body))
	if !root.IsObject() {
		e := errBadRequest(msgBadJSON)
		return &e
	}
	var s scanned
	if e := scanRequest(root, &s); e != nil {
		return e
	}
	*p = genPlan{model: m, promptTokens: s.promptTokens, finish: "STOP"}
	responseIDInto(&p.responseID, m.id, body)
	text := s.userText
	if len(text) > maxEcho {
		text = truncateRunes(text, maxEcho)
	}

	gen := s.gen
	tc := gen.Get("thinkingConfig")
	p.thinking = m.thinkingByDefault()
	includeThoughts := false
	if tc.Exists() && m.thinking {
		if b := tc.Get("thinkingBudget"); b.Exists() {
			if b.Int() == 0 {
				p.thinking = p.thinking && !m.canDisableThinking()
			} else {
				p.thinking = true
			}
		}
		if tc.Get("thinkingLevel").Exists() {
			p.thinking = true
		}
		if tc.Get("includeThoughts").Bool() {
			p.thinking, includeThoughts = true, true
		}
	}
	if p.thinking {
		p.thoughtTokens = thoughtTokensFix
		if b := tc.Get("thinkingBudget").Int(); b > 0 && int(b) < p.thoughtTokens {
			p.thoughtTokens = int(b)
		}
		if includeThoughts {
			p.thought = "**Reading the request**\n\nThe user wrote " + strconv.Itoa(len(text)) +
				" bytes of text; I will echo it back."
		}
	}
	jsonMode := gen.Get("responseMimeType").Str == "application/json"

	switch {
	case len(s.lastFnResp) > 0:
		if m.isGemini3() && s.missingSig != "" {
			e := errBadRequest("Function call is missing a thought_signature in functionCall parts. " +
				"This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. " +
				"Additional data, function call `default_api:" + s.missingSig + "` , position " + strconv.Itoa(s.missingAt) +
				". Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.")
			return &e
		}
		b := append(make([]byte, 0, 64), "Function results: "...)
		for i, r := range s.lastFnResp {
			if i > 0 {
				b = append(b, "; "...)
			}
			b = append(b, r.name...)
			b = append(b, '=')
			if r.raw == "" {
				b = append(b, "null"...)
			} else {
				b = appendCompact(b, []byte(r.raw))
			}
		}
		p.answer = string(b)
	case s.fnName != "" && !s.callingNone && s.lastHasText && !textOnly:
		p.fnName = strings.Clone(s.fnName)
		p.fnArgs = appendSchemaValue(make([]byte, 0, 64), s.fnSchema, text, 0, true)
		h := hash64(m.id, body)
		p.fnID = callID(h)
		p.signature = signature(h)
		p.finishMsg = "Model generated function call(s)."
		p.candTokens = tokens(len(p.fnName) + len(p.fnArgs))
	case jsonMode:
		schema := gen.Get("responseJsonSchema")
		if !schema.Exists() {
			schema = gen.Get("responseSchema")
		}
		if !schema.Exists() {
			schema = gen.Get("_responseJsonSchema")
		}
		b := make([]byte, 0, 64)
		if schema.Exists() {
			b = appendSchemaValue(b, schema, text, 0, false)
		} else {
			b = append(b, `{"echo":`...)
			b = jsonw.AppendMarshal(b, text)
			b = append(b, '}')
		}
		p.answer = string(b)
	default:
		p.answer = "Echo: " + text
		if s.codeExec {
			p.code = "print(" + strconv.Quote(text) + ")"
			p.codeOutput = text + "\n"
		}
	}

	if p.fnName == "" {
		if mo := gen.Get("maxOutputTokens").Int(); mo > 0 && mo < 5 {
			p.answer = truncateRunes(p.answer, int(mo)*4)
			p.finish = "MAX_TOKENS"
		}
		p.candTokens = tokens(len(p.answer) + len(p.code) + len(p.codeOutput))
		if m.isGemini3() {
			p.textSig = signature(hash64(m.id, body) + 1)
		}
		if strings.Contains(m.id, "-image") && modalitiesHaveImage(gen) {
			p.image = true
			p.candTokens += outImageTokens
		}
	}
	if s.grounding {
		p.grounding = true
		p.query = strings.Clone(truncateRunes(text, 200))
	}
	if s.urlContext {
		p.url = "https://example.com/"
		for _, f := range strings.Fields(text) {
			if strings.HasPrefix(f, "https://") || strings.HasPrefix(f, "http://") {
				p.url = strings.Clone(f)
				break
			}
		}
	}
	return nil
}

func modalitiesHaveImage(gen gjson.Result) bool {
	found := false
	gen.Get("responseModalities").ForEach(func(_, v gjson.Result) bool {
		found = strings.EqualFold(v.Str, "IMAGE")
		return !found
	})
	return found
}

// truncateRunes cuts s to at most n bytes on a rune boundary.
func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// appendSchemaValue appends a JSON value shaped by schema (OpenAPI subset
// with upper-case types, or plain JSON Schema): objects get every declared
// property, strings the user text, numbers 1 / 1.5, booleans true, arrays
// one element, enums their first value. With no usable schema it appends
// {} for function args (asObject) or the text as a string.
func appendSchemaValue(dst []byte, schema gjson.Result, text string, depth int, asObject bool) []byte {
	if depth > maxSchemaDepth {
		return append(dst, "null"...)
	}
	if enum := schema.Get("enum"); enum.IsArray() {
		if first := enum.Get("0"); first.Exists() {
			return appendCompact(dst, []byte(first.Raw))
		}
	}
	typ := schema.Get("type")
	t := typ.Str
	if typ.IsArray() { // JSON Schema ["string","null"]
		t = typ.Get("0").Str
	}
	props := schema.Get("properties")
	switch {
	case strings.EqualFold(t, "object") || (t == "" && props.IsObject()):
		// Function arguments hold only the required parameters when the
		// schema names them, as models usually answer: optional knobs
		// (a client's timeouts, say) keep their client-side defaults.
		var required map[string]bool
		if asObject && depth == 0 {
			schema.Get("required").ForEach(func(_, r gjson.Result) bool {
				if required == nil {
					required = map[string]bool{}
				}
				required[r.Str] = true
				return true
			})
		}
		dst = append(dst, '{')
		n := 0
		props.ForEach(func(k, v gjson.Result) bool {
			if required != nil && !required[k.Str] {
				return true
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = jsonw.AppendMarshal(dst, k.String())
			dst = append(dst, ':')
			dst = appendSchemaValue(dst, v, text, depth+1, false)
			return true
		})
		return append(dst, '}')
	case strings.EqualFold(t, "array"):
		dst = append(dst, '[')
		dst = appendSchemaValue(dst, schema.Get("items"), text, depth+1, false)
		return append(dst, ']')
	case strings.EqualFold(t, "integer"):
		return append(dst, '1')
	case strings.EqualFold(t, "number"):
		return append(dst, "1.5"...)
	case strings.EqualFold(t, "boolean"):
		return append(dst, "true"...)
	case strings.EqualFold(t, "null"):
		return append(dst, "null"...)
	case asObject:
		return append(dst, "{}"...)
	default:
		return jsonw.AppendMarshal(dst, truncateRunes(text, 64))
	}
}

// Deterministic identifiers derived from the request, so identical
// requests get identical answers (golden files stay stable).

func hash64(model string, body []byte) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(model))
	_, _ = h.Write(body)
	return h.Sum64()
}

func splitmix(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func randBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := splitmix(&seed)
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// responseID looks like Google's 23-character ids ("xlWYafXAOKSf1e8PpcODiAg").
func responseID(model string, body []byte) string {
	var id [23]byte
	responseIDInto(&id, model, body)
	return string(id[:])
}

// responseIDInto writes responseID without allocating.
func responseIDInto(dst *[23]byte, model string, body []byte) {
	seed := hash64(model, body)
	var raw [17]byte
	for i := 0; i < len(raw); i += 8 {
		v := splitmix(&seed)
		for j := 0; j < 8 && i+j < len(raw); j++ {
			raw[i+j] = byte(v >> (8 * j))
		}
	}
	base64.RawURLEncoding.Encode(dst[:], raw[:])
}

func callID(seed uint64) string {
	const alpha = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [8]byte
	v := splitmix(&seed)
	for i := range b {
		b[i] = alpha[v%uint64(len(alpha))]
		v /= uint64(len(alpha))
	}
	return string(b[:])
}

func signature(seed uint64) string {
	return base64.StdEncoding.EncodeToString(randBytes(seed^0x5157, 48))
}

// piece is one part of a rendered chunk.
type piece struct {
	kind pieceKind
	text string
}

type pieceKind uint8

const (
	pieceText pieceKind = iota
	pieceThought
	pieceCall
	pieceImage
	pieceCode
	pieceCodeResult
)

// appendResponse appends one compact GenerateContentResponse holding parts.
// candTokens is the cumulative candidatesTokenCount; final adds the
// finishReason and candidate-level metadata.
func (p *genPlan) appendResponse(dst []byte, parts []piece, candTokens int, final bool) []byte {
	dst = append(dst, `{"candidates":[{"content":{"parts":[`...)
	for i, pc := range parts {
		if i > 0 {
			dst = append(dst, ',')
		}
		switch pc.kind {
		case pieceText:
			dst = append(dst, `{"text":`...)
			dst = jsonw.AppendMarshal(dst, pc.text)
			if final && p.textSig != "" {
				dst = append(dst, `,"thoughtSignature":`...)
				dst = jsonw.AppendMarshal(dst, p.textSig)
			}
			dst = append(dst, '}')
		case pieceThought:
			dst = append(dst, `{"text":`...)
			dst = jsonw.AppendMarshal(dst, pc.text)
			dst = append(dst, `,"thought":true}`...)
		case pieceCall:
			dst = append(dst, `{"functionCall":{"id":`...)
			dst = jsonw.AppendMarshal(dst, p.fnID)
			dst = append(dst, `,"name":`...)
			dst = jsonw.AppendMarshal(dst, p.fnName)
			dst = append(dst, `,"args":`...)
			dst = append(dst, p.fnArgs...)
			dst = append(dst, `},"thoughtSignature":`...)
			dst = jsonw.AppendMarshal(dst, p.signature)
			dst = append(dst, '}')
		case pieceImage:
			dst = append(dst, `{"inlineData":{"mimeType":"image/png","data":"`...)
			dst = append(dst, tinyPNGBase64...)
			dst = append(dst, `"}}`...)
		case pieceCode:
			dst = append(dst, `{"executableCode":{"language":"PYTHON","code":`...)
			dst = jsonw.AppendMarshal(dst, p.code)
			dst = append(dst, `}}`...)
		case pieceCodeResult:
			dst = append(dst, `{"codeExecutionResult":{"outcome":"OUTCOME_OK","output":`...)
			dst = jsonw.AppendMarshal(dst, p.codeOutput)
			dst = append(dst, `}}`...)
		}
	}
	dst = append(dst, `],"role":"model"}`...)
	if final {
		dst = append(dst, `,"finishReason":`...)
		dst = jsonw.AppendMarshal(dst, p.finish)
	}
	dst = append(dst, `,"index":0`...)
	if final && p.finishMsg != "" {
		dst = append(dst, `,"finishMessage":`...)
		dst = jsonw.AppendMarshal(dst, p.finishMsg)
	}
	if final && p.grounding {
		dst = p.appendGrounding(dst)
	}
	if final && p.url != "" {
		dst = append(dst, `,"urlContextMetadata":{"urlMetadata":[{"retrievedUrl":`...)
		dst = jsonw.AppendMarshal(dst, p.url)
		dst = append(dst, `,"urlRetrievalStatus":"URL_RETRIEVAL_STATUS_SUCCESS"}]}`...)
	}
	dst = append(dst, `}],"usageMetadata":{"promptTokenCount":`...)
	dst = appendInt(dst, p.promptTokens)
	if candTokens > 0 {
		dst = append(dst, `,"candidatesTokenCount":`...)
		dst = appendInt(dst, candTokens)
	}
	dst = append(dst, `,"totalTokenCount":`...)
	dst = appendInt(dst, p.promptTokens+candTokens+p.thoughtTokens)
	dst = append(dst, `,"promptTokensDetails":[{"modality":"TEXT","tokenCount":`...)
	dst = appendInt(dst, p.promptTokens)
	dst = append(dst, `}]`...)
	if p.thoughtTokens > 0 {
		dst = append(dst, `,"thoughtsTokenCount":`...)
		dst = appendInt(dst, p.thoughtTokens)
	}
	dst = append(dst, `},"modelVersion":`...)
	dst = jsonw.AppendMarshal(dst, p.model.id)
	dst = append(dst, `,"responseId":"`...)
	dst = append(dst, p.responseID[:]...) // base64url: nothing to escape
	dst = append(dst, '"')
	return append(dst, '}')
}

func (p *genPlan) appendGrounding(dst []byte) []byte {
	dst = append(dst, `,"groundingMetadata":{"searchEntryPoint":{"renderedContent":`...)
	dst = jsonw.AppendMarshal(dst, `<style>.container{display:flex}</style><div class="container"><a class="chip" href="https://www.google.com/search?q=mock">`+
		`mock search</a></div>`)
	dst = append(dst, `},"groundingChunks":[{"web":{"uri":"https://vertexaisearch.cloud.google.com/grounding-api-redirect/mock-0","title":"example.com"}},`...)
	dst = append(dst, `{"web":{"uri":"https://vertexaisearch.cloud.google.com/grounding-api-redirect/mock-1","title":"wikipedia.org"}}],`...)
	dst = append(dst, `"groundingSupports":[{"segment":{"endIndex":`...)
	dst = appendInt(dst, len(p.answer))
	dst = append(dst, `,"text":`...)
	dst = jsonw.AppendMarshal(dst, p.answer)
	dst = append(dst, `},"groundingChunkIndices":[0,1]}],"webSearchQueries":[`...)
	dst = jsonw.AppendMarshal(dst, p.query)
	return append(dst, "]}"...)
}

// appendUnary appends the whole answer as one compact response.
func (p *genPlan) appendUnary(dst []byte) []byte {
	var buf [6]piece
	parts := buf[:0]
	if p.thought != "" {
		parts = append(parts, piece{kind: pieceThought, text: p.thought})
	}
	if p.code != "" {
		parts = append(parts, piece{kind: pieceCode}, piece{kind: pieceCodeResult})
	}
	if p.fnName != "" {
		parts = append(parts, piece{kind: pieceCall})
	} else {
		parts = append(parts, piece{kind: pieceText, text: p.answer})
	}
	if p.image {
		parts = append(parts, piece{kind: pieceImage})
	}
	return p.appendResponse(dst, parts, p.candTokens, true)
}

// streamChunks appends each chunk of a streamed answer through emit
// (compact JSON; emit reformats and frames it). Text is split into n
// pieces; a thought part, when asked for, comes alone first.
func (p *genPlan) streamChunks(n int, emit func(compact []byte)) {
	bp := getBuf()
	defer putBuf(bp)
	if p.thought != "" {
		*bp = p.appendResponse((*bp)[:0], []piece{{kind: pieceThought, text: p.thought}}, 0, false)
		emit(*bp)
	}
	if p.fnName != "" {
		*bp = p.appendResponse((*bp)[:0], []piece{{kind: pieceCall}}, p.candTokens, true)
		emit(*bp)
		return
	}
	if p.code != "" {
		for _, k := range []pieceKind{pieceCode, pieceCodeResult} {
			*bp = p.appendResponse((*bp)[:0], []piece{{kind: k}}, 0, false)
			emit(*bp)
		}
	}
	texts := splitText(p.answer, n)
	for i, t := range texts {
		final := i == len(texts)-1
		parts := []piece{{kind: pieceText, text: t}}
		cand := 0
		for _, prev := range texts[:i+1] {
			cand += len(prev)
		}
		cand = tokens(cand)
		if final {
			if p.image {
				parts = append(parts, piece{kind: pieceImage})
			}
			cand = p.candTokens
		}
		*bp = p.appendResponse((*bp)[:0], parts, cand, final)
		emit(*bp)
	}
}

// splitText cuts s into at most n non-empty pieces, at word starts when
// there are enough words and at rune starts otherwise. It always returns
// at least one piece (possibly "").
func splitText(s string, n int) []string {
	if n <= 1 || len(s) == 0 {
		return []string{s}
	}
	cuts := make([]int, 0, 16)
	for i := 1; i < len(s); i++ {
		if s[i-1] == ' ' && s[i] != ' ' {
			cuts = append(cuts, i)
		}
	}
	if len(cuts)+1 < n {
		cuts = cuts[:0]
		for i := 1; i < len(s); i++ {
			if utf8.RuneStart(s[i]) {
				cuts = append(cuts, i)
			}
		}
	}
	units := len(cuts) + 1
	k := n
	if units < k {
		k = units
	}
	out := make([]string, 0, k)
	start := 0
	for j := 1; j < k; j++ {
		pos := cuts[j*units/k-1]
		out = append(out, s[start:pos])
		start = pos
	}
	return append(out, s[start:])
}
