package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// ResponsesRequest is a validated, translated POST /v1/responses body.
//
// The Responses API is translated with the chat completions machinery:
// sampling parameters, text.format, reasoning.effort and function tools are
// restated in their chat shape and go through the same checks (schema
// cleaning, thinking budgets, tool_choice), with the param names of any
// 400 restated in Responses terms. Only the input items, which chat has no
// counterpart for, have their own decoder here.
type ResponsesRequest struct {
	Model string
	// Stream is the body's "stream" flag.
	Stream bool
	// Store is "store" (default true): keep the response for
	// previous_response_id and GET /v1/responses/{id}.
	Store bool
	// PreviousResponseID is the stored response this one continues.
	PreviousResponseID string
	// ReasoningEffort is the raw reasoning.effort, kept so the engine can
	// re-derive the thinking config for the model an alias resolves to.
	ReasoningEffort string
	// Input is this request's input as a JSON array of items, each with an
	// id: what GET /v1/responses/{id}/input_items lists and what a later
	// previous_response_id replays.
	Input []byte
	// Gemini is the GenerateContentRequest JSON body.
	Gemini []byte

	reply ResponsesReply
}

// ResponsesReply carries what an answer needs from its request.
type ResponsesReply struct {
	ID      string // "resp_…", the same for every event of a stream
	Model   string // the model name the client asked for
	Created int64  // unix seconds
	// SingleToolCall is parallel_tool_calls:false: answers keep their
	// first function call only, as on chat.
	SingleToolCall bool
	// namespaces maps a flattened function name back to the namespace
	// tool and function it came from.
	namespaces map[string][2]string
	// echo holds the request settings every response object repeats
	// (`"instructions":…,"tools":…`), pre-rendered, without braces.
	echo []byte
	// images holds the image settings (ImageOutput, ImageLinker) generated
	// images are shown with, as on chat.
	images Options
}

// Reply returns the parameters for translating this request's answer.
func (r *ResponsesRequest) Reply(id string, created int64) ResponsesReply {
	rep := r.reply
	rep.ID, rep.Created = id, created
	return rep
}

// NewResponseID returns a fresh "resp_…" id: 10 characters of the time
// in microseconds (in an alphabet that sorts as the numbers do), then 22
// random ones. Ids made later sort later, so the store's primary key
// grows at its end instead of splitting pages at random places.
func NewResponseID() string {
	const sorted = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := append(make([]byte, 0, 5+32), "resp_"...)
	var t [10]byte
	us := uint64(time.Now().UnixMicro())
	for i := len(t) - 1; i >= 0; i-- {
		t[i] = sorted[us%62]
		us /= 62
	}
	return string(randomID(append(b, t[:]...), 22))
}

// responsesBody is the Responses request; polymorphic fields stay raw.
type responsesBody struct {
	Model              string            `json:"model"`
	Input              json.RawMessage   `json:"input"`
	Instructions       json.RawMessage   `json:"instructions"`
	Stream             bool              `json:"stream"`
	Store              *bool             `json:"store"`
	PreviousResponseID string            `json:"previous_response_id"`
	Temperature        *float64          `json:"temperature"`
	TopP               *float64          `json:"top_p"`
	MaxOutputTokens    *int64            `json:"max_output_tokens"`
	Tools              []json.RawMessage `json:"tools"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	ParallelToolCalls  *bool             `json:"parallel_tool_calls"`
	Text               *struct {
		Format json.RawMessage `json:"format"`
	} `json:"text"`
	Reasoning *struct {
		Effort          *string `json:"effort"`
		Summary         *string `json:"summary"`
		GenerateSummary *string `json:"generate_summary"`
	} `json:"reasoning"`
	Background   *bool           `json:"background"`
	Conversation json.RawMessage `json:"conversation"`
	Prompt       json.RawMessage `json:"prompt"`
	TopLogprobs  *int            `json:"top_logprobs"`
}

// responseItem is one input item. Fields of every item type share it; the
// type decides which are read.
type responseItem struct {
	Type             string          `json:"type"`
	ID               string          `json:"id"`
	Role             string          `json:"role"`
	Content          json.RawMessage `json:"content"`
	CallID           string          `json:"call_id"`
	Name             string          `json:"name"`
	Namespace        string          `json:"namespace"`
	Arguments        json.RawMessage `json:"arguments"`
	Output           json.RawMessage `json:"output"`
	EncryptedContent string          `json:"encrypted_content"`
	Result           string          `json:"result"`
	OutputFormat     string          `json:"output_format"`
}

// responsePart is one content part of a message item.
type responsePart struct {
	Type     string  `json:"type"`
	Text     *string `json:"text"`
	Refusal  *string `json:"refusal"`
	ImageURL string  `json:"image_url"`
	FileID   string  `json:"file_id"`
	FileData string  `json:"file_data"`
	FileURL  string  `json:"file_url"`
	Filename string  `json:"filename"`
}

// unsupportedTools are Responses tool types Gemini has no counterpart for:
// a 400 names them rather than dropping them silently.
var unsupportedTools = map[string]string{
	"file_search": "file_search (balance keeps no vector stores)", "computer_use_preview": "computer_use",
	"computer_use": "computer_use", "code_interpreter": "code_interpreter", "image_generation": "image_generation",
	"mcp": "remote mcp tools", "local_shell": "local_shell", "custom": "custom (freeform) tools",
}

// TranslateResponsesRequest validates a Responses body and translates it
// into a Gemini GenerateContentRequest. history holds the items of the
// stored conversation previous_response_id names (nil without one); they
// are replayed before this request's input. Any problem with the client's
// input is a 400 *Error naming the field, returned before any upstream call.
func TranslateResponsesRequest(ctx context.Context, body []byte, history []json.RawMessage, opt Options) (*ResponsesRequest, *Error) {
	if rr, ok := fastResponsesRequest(body, history, &opt); ok {
		return rr, nil
	}
	return translateResponsesFull(ctx, body, history, opt)
}

// translateResponsesFull is the complete translation, with every feature
// and the 400s. fastResponsesRequest must agree with it byte for byte.
func translateResponsesFull(ctx context.Context, body []byte, history []json.RawMessage, opt Options) (*ResponsesRequest, *Error) {
	var in responsesBody
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, decodeError(err, "")
	}
	if in.Model == "" {
		return nil, badRequest("model", "you must provide a model parameter")
	}
	switch {
	case in.Background != nil && *in.Background:
		return nil, badRequest("background", "background responses are not supported by this server")
	case isSet(in.Conversation):
		return nil, badRequest("conversation", "conversation objects are not supported by this server; use previous_response_id")
	case isSet(in.Prompt):
		return nil, badRequest("prompt", "stored prompt templates are not supported by this server")
	case in.TopLogprobs != nil && *in.TopLogprobs > 0:
		return nil, badRequest("top_logprobs", "top_logprobs is not supported by this server")
	}
	rr := &ResponsesRequest{Model: in.Model, Stream: in.Stream, Store: in.Store == nil || *in.Store, PreviousResponseID: in.PreviousResponseID}
	t := reqTranslator{ctx: ctx, opt: &opt}

	// Sampling, output format and effort in their chat shape.
	chat := chatBody{Model: in.Model, Temperature: in.Temperature, TopP: in.TopP, MaxCompletionTokens: in.MaxOutputTokens, ParallelToolCalls: in.ParallelToolCalls}
	if in.Text != nil && isSet(in.Text.Format) {
		rf, e := chatResponseFormat(in.Text.Format)
		if e != nil {
			return nil, e
		}
		chat.ResponseFormat = rf
	}
	summary := false
	if r := in.Reasoning; r != nil {
		chat.ReasoningEffort = r.Effort
		s := r.Summary
		if s == nil {
			s = r.GenerateSummary
		}
		if s != nil {
			switch *s {
			case "auto", "concise", "detailed":
				summary = true
			default:
				return nil, badRequest("reasoning.summary", "unsupported reasoning.summary %q: expected auto, concise or detailed", *s)
			}
		}
	}
	gc := &gGenConfig{}
	var cr ChatRequest
	if e := t.params(&chat, gc, &cr); e != nil {
		return nil, responsesParam(e, nil)
	}
	rr.ReasoningEffort, rr.reply.SingleToolCall = cr.ReasoningEffort, cr.SingleToolCall
	if summary || opt.ShowThinking {
		if gc.ThinkingConfig == nil {
			gc.ThinkingConfig = &gThinking{}
		}
		if b := gc.ThinkingConfig.ThinkingBudget; b == nil || *b != 0 {
			gc.ThinkingConfig.IncludeThoughts = true
		}
	}

	// Tools.
	search, toolPaths, e := chatTools(&in, &chat, &rr.reply)
	if e != nil {
		return nil, e
	}
	if e := t.tools(&chat); e != nil {
		return nil, responsesParam(e, toolPaths)
	}
	if search {
		t.out.Tools = append(t.out.Tools, gTool{GoogleSearch: &struct{}{}})
	}

	// Conversation.
	var sys []gPart
	if isSet(in.Instructions) {
		var s string
		if err := json.Unmarshal(in.Instructions, &s); err != nil {
			return nil, badRequest("instructions", "instructions must be a string")
		}
		if s != "" {
			sys = append(sys, gPart{Text: s})
		}
	}
	items, input, e := inputItems(in.Input)
	if e != nil {
		return nil, e
	}
	rr.Input = input
	c := itemConverter{t: &t, sys: sys, leading: true, flat: rr.reply.namespaces}
	for i, raw := range history {
		if e := c.item(raw, "previous_response_id"+"["+strconv.Itoa(i)+"]"); e != nil {
			return nil, e
		}
	}
	for i, raw := range items {
		if e := c.item(raw, "input["+strconv.Itoa(i)+"]"); e != nil {
			return nil, e
		}
	}
	if len(t.out.Contents) == 0 {
		if len(c.sys) == 0 {
			return nil, badRequest("input", "input contains no content")
		}
		t.out.Contents = append(t.out.Contents, &gContent{Role: "user", Parts: c.sys})
	} else if len(c.sys) > 0 {
		t.out.SystemInstruction = &gContent{Role: "user", Parts: c.sys}
	}
	if !gc.empty() {
		t.out.GenerationConfig = gc
	}
	g, err := json.Marshal(&t.out)
	if err != nil {
		return nil, badRequest("", "request could not be encoded: %v", err)
	}
	rr.Gemini = g
	rr.reply.Model = in.Model
	rr.reply.images = Options{ImageOutput: opt.ImageOutput, ImageLinker: opt.ImageLinker}
	rr.reply.echo = responseEcho(body, &in)
	return rr, nil
}

// chatResponseFormat restates text.format as chat's response_format.
func chatResponseFormat(raw json.RawMessage) (json.RawMessage, *Error) {
	var f struct {
		Type   string          `json:"type"`
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, decodeError(err, "text.format")
	}
	switch f.Type {
	case "text", "json_object":
		return json.RawMessage(`{"type":"` + f.Type + `"}`), nil
	case "json_schema":
		if !isSet(f.Schema) {
			return nil, badRequest("text.format.schema", "missing required parameter: 'text.format.schema'")
		}
		b := append([]byte(`{"type":"json_schema","json_schema":{"name":`), jsonw.AppendString(nil, f.Name)...)
		b = append(b, `,"schema":`...)
		b = append(b, f.Schema...)
		return append(b, "}}"...), nil
	}
	return nil, badRequest("text.format.type", "unsupported text.format type %q: expected text, json_object or json_schema", f.Type)
}

// chatTools restates the function tools (namespace tools flattened to
// "namespace.name") and tool_choice in chat's shape, for the chat tool
// translation. It reports whether a web search tool was asked for, and
// the Responses path of each chat tool for error messages.
func chatTools(in *responsesBody, chat *chatBody, rep *ResponsesReply) (search bool, paths []string, _ *Error) {
	addFunction := func(raw json.RawMessage, name, p string) *Error {
		var f struct {
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		}
		if err := json.Unmarshal(raw, &f); err != nil {
			return decodeError(err, p)
		}
		b := append([]byte(`{"type":"function","function":{"name":`), jsonw.AppendString(nil, name)...)
		b = append(b, `,"description":`...)
		b = jsonw.AppendString(b, f.Description)
		if isSet(f.Parameters) {
			b = append(b, `,"parameters":`...)
			b = append(b, f.Parameters...)
		}
		chat.Tools = append(chat.Tools, append(b, "}}"...))
		paths = append(paths, p)
		return nil
	}
	for i, raw := range in.Tools {
		p := "tools[" + strconv.Itoa(i) + "]"
		var tl struct {
			Type  string            `json:"type"`
			Name  string            `json:"name"`
			Tools []json.RawMessage `json:"tools"`
		}
		if err := json.Unmarshal(raw, &tl); err != nil {
			return false, nil, decodeError(err, p)
		}
		switch {
		case tl.Type == "function":
			if e := addFunction(raw, tl.Name, p); e != nil {
				return false, nil, e
			}
		case tl.Type == "namespace":
			if tl.Name == "" {
				return false, nil, badRequest(p+".name", "missing required parameter: '%s.name'", p)
			}
			for j, sub := range tl.Tools {
				sp := p + ".tools[" + strconv.Itoa(j) + "]"
				var st struct {
					Type string `json:"type"`
					Name string `json:"name"`
				}
				if err := json.Unmarshal(sub, &st); err != nil {
					return false, nil, decodeError(err, sp)
				}
				if st.Type != "function" {
					return false, nil, badRequest(sp+".type", "unsupported tool type %q inside a namespace: only function tools are supported", st.Type)
				}
				flat := tl.Name + "." + st.Name
				if rep.namespaces == nil {
					rep.namespaces = map[string][2]string{}
				}
				rep.namespaces[flat] = [2]string{tl.Name, st.Name}
				if e := addFunction(sub, flat, sp); e != nil {
					return false, nil, e
				}
			}
		case strings.HasPrefix(tl.Type, "web_search"):
			search = true
		case unsupportedTools[tl.Type] != "":
			return false, nil, badRequest(p+".type", "tool type %q is not supported by this server: %s has no Gemini counterpart", tl.Type, unsupportedTools[tl.Type])
		default:
			return false, nil, badRequest(p+".type", "unsupported tool type %q: expected function, namespace or web_search", tl.Type)
		}
	}
	if !isSet(in.ToolChoice) {
		return search, paths, nil
	}
	var mode string
	if json.Unmarshal(in.ToolChoice, &mode) == nil {
		chat.ToolChoice = in.ToolChoice
		return search, paths, nil
	}
	var tc struct {
		Type  string `json:"type"`
		Name  string `json:"name"`
		Mode  string `json:"mode"`
		Tools []struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(in.ToolChoice, &tc); err != nil {
		return false, nil, decodeError(err, "tool_choice")
	}
	switch {
	case tc.Type == "function":
		chat.ToolChoice = append(append([]byte(`{"type":"function","function":{"name":`), jsonw.AppendString(nil, tc.Name)...), "}}"...)
	case tc.Type == "allowed_tools":
		b := append([]byte(`{"type":"allowed_tools","allowed_tools":{"mode":`), jsonw.AppendString(nil, tc.Mode)...)
		b = append(b, `,"tools":[`...)
		n := 0
		for _, at := range tc.Tools {
			if at.Type != "function" {
				continue // built-in tools stay enabled
			}
			if n > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":"function","function":{"name":`...)
			b = jsonw.AppendString(b, at.Name)
			b = append(b, "}}"...)
			n++
		}
		chat.ToolChoice = append(b, "]}}"...)
	case strings.HasPrefix(tc.Type, "web_search"):
		if !search {
			return false, nil, badRequest("tool_choice", "tool_choice names %s, which is not in tools", tc.Type)
		}
	default:
		return false, nil, badRequest("tool_choice.type", "unsupported tool_choice type %q", tc.Type)
	}
	return search, paths, nil
}

// responsesParam restates a chat translation error in Responses terms:
// its param path and the parameter names its message quotes.
func responsesParam(e *Error, toolPaths []string) *Error {
	out := *e
	rename := strings.NewReplacer("max_completion_tokens", "max_output_tokens", "reasoning_effort", "reasoning.effort",
		"response_format.json_schema.schema", "text.format.schema", "response_format", "text.format", ".function.", ".")
	if strings.HasPrefix(out.Param, "tools[") {
		if end := strings.IndexByte(out.Param, ']'); end > 0 {
			if i, err := strconv.Atoi(out.Param[len("tools["):end]); err == nil && i < len(toolPaths) {
				out.Param = toolPaths[i] + out.Param[end+1:]
			}
		}
	}
	out.Param = rename.Replace(out.Param)
	out.Message = rename.Replace(out.Message)
	return &out
}

// inputItems reads "input": a string becomes one user message. Every item
// gets an id so the stored input can be listed and replayed.
func inputItems(raw json.RawMessage) (items []json.RawMessage, normalized []byte, _ *Error) {
	if !isSet(raw) {
		return nil, nil, badRequest("input", "missing required parameter: 'input'")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		b := appendTextItem(nil, bytesToString(jsonw.AppendString(nil, s)))
		return []json.RawMessage{b}, append(append([]byte{'['}, b...), ']'), nil
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, nil, badRequest("input", "input must be a string or an array of input items")
	}
	normalized = append(make([]byte, 0, len(raw)+40*len(items)), '[')
	for i, it := range items {
		it = bytes.TrimSpace(it)
		if len(it) == 0 || it[0] != '{' {
			return nil, nil, badRequest("input["+strconv.Itoa(i)+"]", "input items must be objects")
		}
		if i > 0 {
			normalized = append(normalized, ',')
		}
		normalized = appendIdentified(normalized, it, gjson.GetBytes(it, "type").Str)
	}
	return items, append(normalized, ']'), nil
}

// appendTextItem appends the user message item a string input stands for;
// text is its JSON string literal.
func appendTextItem(b []byte, text string) []byte {
	b = append(b, `{"id":"`...)
	b = randomID(append(b, "msg_"...), 24)
	b = append(b, `","type":"message","role":"user","content":[{"type":"input_text","text":`...)
	b = append(b, text...)
	return append(b, "}]}"...)
}

// appendIdentified appends the input item it (a JSON object without
// surrounding space), named for its type as OpenAI names them, with an id
// in front when it has none.
func appendIdentified(b, it []byte, typ string) []byte {
	id, keyed := itemID(it)
	return appendWithID(b, bytesToString(it), typ, id, keyed)
}

// itemID reads an item's id as encoding/json does: the last key that
// folds to "id" wins. keyed reports whether there is such a key.
func itemID(it []byte) (id string, keyed bool) {
	gjson.Parse(bytesToString(it)).ForEach(func(k, v gjson.Result) bool {
		if strings.EqualFold(k.Str, "id") {
			keyed, id = true, v.Str
		}
		return true
	})
	return id, keyed
}

// appendWithID is appendIdentified given the item's id: an empty one
// (keyed: present but empty) is dropped, so the id written in front is
// the one the stored item is read back with.
func appendWithID(b []byte, it, typ, id string, keyed bool) []byte {
	if id != "" {
		return append(b, it...)
	}
	b = append(b, `{"id":"`...)
	b = randomID(append(b, itemPrefix(typ)...), 24)
	b = append(b, '"')
	if !keyed {
		if len(strings.TrimSpace(it[1:])) > 1 {
			b = append(b, ',')
		}
		return append(b, it[1:]...)
	}
	gjson.Parse(it).ForEach(func(k, v gjson.Result) bool {
		if !strings.EqualFold(k.Str, "id") {
			b = append(append(append(append(b, ','), k.Raw...), ':'), v.Raw...)
		}
		return true
	})
	return append(b, '}')
}

// itemPrefix is the id prefix OpenAI uses for an item type.
func itemPrefix(typ string) string {
	switch typ {
	case "function_call":
		return "fc_"
	case "function_call_output":
		return "fco_"
	case "reasoning":
		return "rs_"
	}
	return "msg_"
}

// itemConverter turns input items into Gemini contents in order.
type itemConverter struct {
	t       *reqTranslator
	sys     []gPart
	leading bool // no turn yet: system/developer text joins the system instruction
	flat    map[string][2]string
	model   *gContent // the model turn being built
	outputs *gContent // the user turn of consecutive function outputs
	sig     string    // a reasoning item's signature for the next model part
	// last is the parts of model.Parts the item before came to (an
	// assistant message's or an image's), which a part signature after
	// it applies to; nil after any other item.
	last []int
}

func (c *itemConverter) item(raw json.RawMessage, p string) *Error {
	var it responseItem
	if err := json.Unmarshal(raw, &it); err != nil {
		return decodeError(err, p)
	}
	if it.Type == "" && it.Role != "" {
		it.Type = "message"
	}
	if it.Type != "function_call_output" {
		c.outputs = nil
	}
	last := c.last
	c.last = nil
	switch it.Type {
	case "message":
		return c.message(&it, p)
	case "function_call":
		return c.functionCall(&it, p)
	case "function_call_output":
		return c.functionOutput(&it, p)
	case "reasoning":
		// Thought summaries are not sent back; a signature goes with the
		// next model part, or a part of the item before.
		if sig, ok := strings.CutPrefix(it.EncryptedContent, signaturePrefix); ok {
			c.sig = sig
		} else if rest, ok := strings.CutPrefix(it.EncryptedContent, partSignaturePrefix); ok {
			c.last = c.partSignature(last, rest)
		}
		return nil
	case "image_generation_call":
		return c.image(&it, p)
	case "item_reference":
		return badRequest(p+".type", "item_reference is not supported by this server; send the item itself or use previous_response_id")
	case "":
		return badRequest(p+".type", "missing required parameter: '%s.type'", p)
	}
	return badRequest(p+".type", "unsupported input item type %q", it.Type)
}

// signaturePrefix marks a reasoning item's encrypted_content as a Gemini
// thought signature written by balance, for the model part after it.
// partSignaturePrefix marks one for a part of the item before it:
// "gemini-part-signature:OFFSET:SIG", OFFSET the byte offset in that
// message's text where the signed text part starts (0 for an image).
const (
	signaturePrefix     = "gemini-thought-signature:"
	partSignaturePrefix = "gemini-part-signature:"
)

func (c *itemConverter) modelTurn() *gContent {
	if c.model == nil {
		c.model = &gContent{Role: "model"}
		c.t.out.Contents = append(c.t.out.Contents, c.model)
	}
	c.leading = false
	return c.model
}

func (c *itemConverter) message(it *responseItem, p string) *Error {
	switch it.Role {
	case "system", "developer":
		parts, e := c.parts(it.Content, p+".content", true)
		if e != nil {
			return e
		}
		if c.leading {
			c.sys = append(c.sys, parts...)
			return nil
		}
		c.model = nil
		if len(parts) > 0 {
			c.t.out.Contents = append(c.t.out.Contents, &gContent{Role: "user", Parts: parts})
		}
		return nil
	case "user":
		parts, e := c.parts(it.Content, p+".content", false)
		if e != nil {
			return e
		}
		c.model, c.leading = nil, false
		if len(parts) > 0 {
			c.t.out.Contents = append(c.t.out.Contents, &gContent{Role: "user", Parts: parts})
		}
		return nil
	case "assistant":
		parts, e := c.parts(it.Content, p+".content", false)
		if e != nil {
			return e
		}
		if len(parts) > 0 {
			m := c.modelTurn()
			if c.sig != "" {
				parts[0].ThoughtSignature, c.sig = c.sig, ""
			}
			c.last = c.last[:0]
			for i := range parts {
				c.last = append(c.last, len(m.Parts)+i)
			}
			m.Parts = append(m.Parts, parts...)
		}
		return nil
	case "":
		return badRequest(p+".role", "missing required parameter: '%s.role'", p)
	}
	return badRequest(p+".role", "invalid role %q: expected user, assistant, system or developer", it.Role)
}

// parts decodes a message's content; textOnly restricts it to text.
func (c *itemConverter) parts(raw json.RawMessage, p string, textOnly bool) ([]gPart, *Error) {
	if !isSet(raw) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, nil
		}
		return []gPart{{Text: s}}, nil
	}
	var arr []responsePart
	if err := json.Unmarshal(raw, &arr); err != nil {
		return nil, badRequest(p, "content must be a string or an array of content parts")
	}
	out := make([]gPart, 0, len(arr))
	for j := range arr {
		cp, pp := &arr[j], p+"["+strconv.Itoa(j)+"]"
		if textOnly && cp.Type != "input_text" && cp.Type != "text" {
			return nil, badRequest(pp+".type", "only input_text parts are allowed in system and developer messages, got %q", cp.Type)
		}
		switch cp.Type {
		case "input_text", "output_text", "text":
			if cp.Text == nil {
				return nil, badRequest(pp+".text", "missing required parameter: '%s.text'", pp)
			}
			if *cp.Text != "" {
				out = append(out, gPart{Text: *cp.Text})
			}
		case "refusal":
			if cp.Refusal != nil && *cp.Refusal != "" {
				out = append(out, gPart{Text: *cp.Refusal})
			}
		case "input_image":
			if cp.ImageURL == "" {
				if cp.FileID != "" {
					out = append(out, gPart{FileData: &gFileData{FileURI: fileURI(cp.FileID)}})
					continue
				}
				return nil, badRequest(pp+".image_url", "missing required parameter: '%s.image_url'", pp)
			}
			part, e := c.t.image(jsonw.AppendString(nil, cp.ImageURL), pp+".image_url")
			if e != nil {
				e.Param = strings.TrimSuffix(e.Param, ".url")
				return nil, e
			}
			out = append(out, part)
		case "input_file":
			if cp.FileURL != "" {
				return nil, badRequest(pp+".file_url", "file_url is not supported by this server; send file_data or a Gemini file_id")
			}
			part, e := c.t.file(&contentPart{File: &struct {
				FileData string `json:"file_data"`
				FileID   string `json:"file_id"`
				Filename string `json:"filename"`
			}{FileData: cp.FileData, FileID: cp.FileID, Filename: cp.Filename}}, pp)
			if e != nil {
				return nil, e
			}
			out = append(out, part)
		case "":
			return nil, badRequest(pp+".type", "missing required parameter: '%s.type'", pp)
		default:
			return nil, badRequest(pp+".type", "unsupported content part type %q", cp.Type)
		}
	}
	return out, nil
}

// fileURI is the Gemini file URI for a Files API id.
func fileURI(id string) string {
	if strings.HasPrefix(id, filesAPIPrefix) {
		return id
	}
	return filesAPIPrefix + "v1beta/" + id
}

// partSignature puts a signature on the part it was taken from: the text
// part of the message before that started at the byte offset the
// reasoning item names (splitting the text there if the client's message
// has it as one part), or the image before. An offset past the text puts
// it on the last part; a malformed one, or one with no item before it, is
// ignored like any reasoning item balance did not write. It returns last
// updated for a split.
func (c *itemConverter) partSignature(last []int, rest string) []int {
	offText, sig, ok := strings.Cut(rest, ":")
	off, err := strconv.Atoi(offText)
	if !ok || err != nil || off < 0 || sig == "" || len(last) == 0 || c.model == nil {
		return last
	}
	parts := c.model.Parts
	pos := 0
	for k, i := range last {
		p := &parts[i]
		end := pos + len(p.Text)
		switch {
		case p.Text == "" || k == len(last)-1 && off >= end:
			p.ThoughtSignature = sig
			return last
		case off >= end:
			pos = end
			continue
		case off > pos:
			// The signed part began inside this one: split it there.
			cut := off - pos
			head := gPart{Text: p.Text[:cut], ThoughtSignature: p.ThoughtSignature}
			tail := gPart{Text: p.Text[cut:], ThoughtSignature: sig}
			c.model.Parts = slices.Insert(parts, i+1, tail)
			c.model.Parts[i] = head
			last = slices.Insert(last, k+1, i+1)
			for j := k + 2; j < len(last); j++ {
				last[j]++
			}
			return last
		}
		p.ThoughtSignature = sig
		return last
	}
	return last
}

// image replays an image_generation_call item (balance's rendering of a
// generated image) as the model's inline image part.
func (c *itemConverter) image(it *responseItem, p string) *Error {
	if it.Result == "" {
		return badRequest(p+".result", "missing required parameter: '%s.result'", p)
	}
	format := it.OutputFormat
	if format == "" {
		format = "png"
	}
	m := c.modelTurn()
	c.last = append(c.last[:0], len(m.Parts))
	m.Parts = append(m.Parts, gPart{InlineData: &gBlob{MimeType: "image/" + format, Data: it.Result}})
	return nil
}

func (c *itemConverter) functionCall(it *responseItem, p string) *Error {
	name := it.Name
	if it.Namespace != "" {
		name = it.Namespace + "." + it.Name
	}
	if name == "" {
		return badRequest(p+".name", "missing required parameter: '%s.name'", p)
	}
	args, e := toolArgs(it.Arguments, p+".arguments")
	if e != nil {
		return e
	}
	gid, sig := parseToolCallID(it.CallID)
	if c.sig != "" {
		sig, c.sig = c.sig, ""
	}
	if it.CallID != "" {
		if c.t.calls == nil {
			c.t.calls = make(map[string]knownCall, 4)
		}
		c.t.calls[it.CallID] = knownCall{name: name, gid: gid}
	}
	m := c.modelTurn()
	m.Parts = append(m.Parts, gPart{FunctionCall: &gFunctionCall{ID: gid, Name: name, Args: args}, ThoughtSignature: sig})
	return nil
}

func (c *itemConverter) functionOutput(it *responseItem, p string) *Error {
	kc, ok := c.t.calls[it.CallID]
	if !ok {
		if it.CallID == "" {
			return badRequest(p+".call_id", "missing required parameter: '%s.call_id'", p)
		}
		return badRequest(p+".call_id", "call_id %q does not match any function_call before it", it.CallID)
	}
	text, e := outputText(it.Output, p+".output")
	if e != nil {
		return e
	}
	if c.outputs == nil {
		c.outputs = &gContent{Role: "user"}
		c.t.out.Contents = append(c.t.out.Contents, c.outputs)
	}
	c.model, c.leading = nil, false
	c.outputs.Parts = append(c.outputs.Parts, gPart{FunctionResponse: &gFunctionResponse{ID: kc.gid, Name: kc.name, Response: toolResponse(text)}})
	return nil
}

// outputText reads a function_call_output's output: a string, or an array
// of input_text parts.
func outputText(raw json.RawMessage, p string) (string, *Error) {
	if !isSet(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var arr []responsePart
	if err := json.Unmarshal(raw, &arr); err != nil {
		return "", badRequest(p, "output must be a string or an array of input_text parts")
	}
	var b strings.Builder
	for j := range arr {
		if (arr[j].Type != "input_text" && arr[j].Type != "output_text") || arr[j].Text == nil {
			return "", badRequest(p+"["+strconv.Itoa(j)+"].type", "function output parts must be input_text")
		}
		b.WriteString(*arr[j].Text)
	}
	return b.String(), nil
}

var echoNames = []string{"instructions", "max_output_tokens", "metadata", "reasoning", "text", "tool_choice", "tools", "previous_response_id"}

// responseEcho renders the request settings a response object repeats.
func responseEcho(body []byte, in *responsesBody) []byte {
	var v [8]gjson.Result
	members(gjson.Parse(bytesToString(body)), echoNames, v[:])
	return appendEcho(v, in)
}

// appendEcho is responseEcho given the body's echoNames members (the
// first of each name, as members finds them).
func appendEcho(v [8]gjson.Result, in *responsesBody) []byte {
	// Values are compacted: a line break would end an SSE data line.
	raw := func(r gjson.Result, def string) string {
		if !r.Exists() || r.Type == gjson.Null {
			return def
		}
		if strings.ContainsAny(r.Raw, "\r\n") {
			var c bytes.Buffer
			if json.Compact(&c, []byte(r.Raw)) == nil {
				return c.String()
			}
		}
		return r.Raw
	}
	b := make([]byte, 0, 256+len(v[6].Raw))
	b = append(b, `"instructions":`...)
	b = append(b, raw(v[0], "null")...)
	b = append(b, `,"max_output_tokens":`...)
	b = append(b, raw(v[1], "null")...)
	b = append(b, `,"metadata":`...)
	b = append(b, raw(v[2], "{}")...)
	b = append(b, `,"parallel_tool_calls":`...)
	b = strconv.AppendBool(b, in.ParallelToolCalls == nil || *in.ParallelToolCalls)
	b = append(b, `,"previous_response_id":`...)
	b = append(b, raw(v[7], "null")...)
	b = append(b, `,"reasoning":`...)
	b = append(b, raw(v[3], `{"effort":null,"summary":null}`)...)
	b = append(b, `,"store":`...)
	b = strconv.AppendBool(b, in.Store == nil || *in.Store)
	b = append(b, `,"temperature":`...)
	if in.Temperature != nil {
		b = appendMarshalFloat(b, *in.Temperature)
	} else {
		b = append(b, '1')
	}
	b = append(b, `,"text":`...)
	b = append(b, raw(v[4], `{"format":{"type":"text"}}`)...)
	b = append(b, `,"tool_choice":`...)
	b = append(b, raw(v[5], `"auto"`)...)
	b = append(b, `,"tools":`...)
	b = append(b, raw(v[6], "[]")...)
	b = append(b, `,"top_p":`...)
	if in.TopP != nil {
		b = appendMarshalFloat(b, *in.TopP)
	} else {
		b = append(b, '1')
	}
	return append(b, `,"truncation":"disabled","user":null`...)
}
