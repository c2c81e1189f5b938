package openai

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// Options are the operator's translation settings (from config), shared by
// all requests.
type Options struct {
	// ShowThinking asks Gemini for thought summaries (includeThoughts) so they
	// reach the client as reasoning_content. Thought parts that arrive anyway
	// (a client asked through extra_body) are always sent as reasoning_content.
	ShowThinking bool
	// ImageOutput selects how image parts in chat answers reach the client:
	// "markdown" (default) appends ![image](data:...) to content; "data_url"
	// puts them in the message's "images" field
	// ([{"type":"image_url","image_url":{"url":"data:..."}}]).
	ImageOutput string
	// SearchLinks appends a "Sources" list built from groundingMetadata.
	SearchLinks bool
	// MaxN caps the "n" parameter (candidate count); 0 means 8.
	MaxN int
	// ImageLinker keeps generated images for ImageOutputURL and returns
	// their links.
	ImageLinker ImageLinker
	// ImageFetcher fetches http(s) image URLs from messages. nil uses
	// DefaultFetcher, a SafeFetcher with a timeout, a size cap and refusal of
	// loopback/private addresses at dial time.
	ImageFetcher ImageFetcher
}

const (
	// ImageOutputMarkdown renders generated images as markdown data-URL images in content.
	ImageOutputMarkdown = "markdown"
	// ImageOutputDataURL returns generated images in an "images" array next to content.
	ImageOutputDataURL = "data_url"
	// ImageOutputURL renders generated images as markdown images linked
	// to where Options.ImageLinker kept them.
	ImageOutputURL = "url"
)

// An ImageLinker keeps an image (decoded bytes) and returns its URL.
type ImageLinker interface {
	Link(data []byte, mime string) (string, error)
}

func (o *Options) maxN() int {
	if o.MaxN > 0 {
		return o.MaxN
	}
	return 8
}

// ChatRequest is a validated, translated chat completion request.
type ChatRequest struct {
	// Model is the model the client asked for, verbatim (the engine applies
	// aliases and suffix rules; answers echo this name back).
	Model string
	// Stream is the body's "stream" flag (the SDKs send Accept:
	// application/json even when streaming, so the body decides).
	Stream bool
	// IncludeUsage is stream_options.include_usage.
	IncludeUsage bool
	// N is the number of choices requested (1 when absent).
	N int
	// SingleToolCall is set by parallel_tool_calls:false. Gemini has no such
	// switch, so answers are trimmed to their first tool call instead.
	SingleToolCall bool
	// ReasoningEffort is the raw reasoning_effort, kept so the engine can
	// re-derive thinking config after resolving an alias to another family.
	ReasoningEffort string
	// Gemini is the GenerateContentRequest JSON body.
	Gemini []byte
}

// Reply returns the parameters for translating this request's answer.
func (r *ChatRequest) Reply(id string, created int64) Reply {
	return Reply{ID: id, Model: r.Model, Created: created, IncludeUsage: r.IncludeUsage, SingleToolCall: r.SingleToolCall}
}

// chatBody is the OpenAI request; polymorphic fields stay raw and are
// decoded where their position (param path) is known.
type chatBody struct {
	Model         string        `json:"model"`
	Messages      []chatMessage `json:"messages"`
	Stream        bool          `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Temperature         *float64                   `json:"temperature"`
	TopP                *float64                   `json:"top_p"`
	TopK                *int                       `json:"top_k"`
	MaxTokens           *int64                     `json:"max_tokens"`
	MaxCompletionTokens *int64                     `json:"max_completion_tokens"`
	N                   *int                       `json:"n"`
	Stop                json.RawMessage            `json:"stop"`
	Seed                *int64                     `json:"seed"`
	PresencePenalty     *float64                   `json:"presence_penalty"`
	FrequencyPenalty    *float64                   `json:"frequency_penalty"`
	ResponseFormat      json.RawMessage            `json:"response_format"`
	Tools               []json.RawMessage          `json:"tools"`
	ToolChoice          json.RawMessage            `json:"tool_choice"`
	ParallelToolCalls   *bool                      `json:"parallel_tool_calls"`
	ReasoningEffort     *string                    `json:"reasoning_effort"`
	Logprobs            *bool                      `json:"logprobs"`
	TopLogprobs         *int                       `json:"top_logprobs"`
	LogitBias           map[string]json.RawMessage `json:"logit_bias"`
	Modalities          []string                   `json:"modalities"`
	Audio               json.RawMessage            `json:"audio"`
	Functions           json.RawMessage            `json:"functions"`
	FunctionCall        json.RawMessage            `json:"function_call"`
	Google              *googleExtra               `json:"google"`
	ExtraBody           *struct {
		Google *googleExtra `json:"google"`
	} `json:"extra_body"`
}

// googleExtra is the Gemini-specific block Google's compat API reads from
// extra_body.google (the Python SDK flattens extra_body into the body, so
// both placements are accepted).
type googleExtra struct {
	ThinkingConfig *struct {
		ThinkingBudget  *int    `json:"thinking_budget"`
		IncludeThoughts *bool   `json:"include_thoughts"`
		ThinkingLevel   *string `json:"thinking_level"`
	} `json:"thinking_config"`
	CachedContent  string          `json:"cached_content"`
	SafetySettings json.RawMessage `json:"safety_settings"`
}

type chatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	Name       string          `json:"name"`
	ToolCalls  []toolCallIn    `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
}

type toolCallIn struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
	ExtraContent *struct {
		Google *struct {
			ThoughtSignature string `json:"thought_signature"`
		} `json:"google"`
	} `json:"extra_content"`
}

type contentPart struct {
	Type       string          `json:"type"`
	Text       *string         `json:"text"`
	Refusal    *string         `json:"refusal"`
	ImageURL   json.RawMessage `json:"image_url"`
	InputAudio *struct {
		Data   string `json:"data"`
		Format string `json:"format"`
	} `json:"input_audio"`
	File *struct {
		FileData string `json:"file_data"`
		FileID   string `json:"file_id"`
		Filename string `json:"filename"`
	} `json:"file"`
}

// knownCall remembers an assistant tool call so a later tool message can be
// turned into a functionResponse with the right name and Gemini id.
type knownCall struct {
	name string
	gid  string
}

type reqTranslator struct {
	ctx   context.Context
	opt   *Options
	out   gRequest
	calls map[string]knownCall
}

// TranslateChatRequest validates an OpenAI chat completion body and
// translates it into a Gemini GenerateContentRequest. Any problem with the
// client's input is a 400 *Error naming the field, returned before any
// upstream call. ctx bounds remote image fetches.
func TranslateChatRequest(ctx context.Context, body []byte, opt Options) (*ChatRequest, *Error) {
	if cr, ok := fastChatRequest(body, &opt); ok {
		return cr, nil
	}
	return translateChatRequestFull(ctx, body, opt)
}

// translateChatRequestFull is the general path: every OpenAI feature, and
// the 400s. fastChatRequest must agree with it byte for byte.
func translateChatRequestFull(ctx context.Context, body []byte, opt Options) (*ChatRequest, *Error) {
	var in chatBody
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, locateDecodeError(body, err)
	}
	if in.Model == "" {
		return nil, badRequest("model", "you must provide a model parameter")
	}
	t := reqTranslator{ctx: ctx, opt: &opt}
	cr := &ChatRequest{Model: in.Model, Stream: in.Stream, N: 1}
	if in.StreamOptions != nil && in.Stream {
		cr.IncludeUsage = in.StreamOptions.IncludeUsage
	}
	if e := t.rejectUnsupported(&in); e != nil {
		return nil, e
	}
	gc := &gGenConfig{}
	if e := t.params(&in, gc, cr); e != nil {
		return nil, e
	}
	// Tools before messages: tool_choice checks names, messages do not
	// depend on tools.
	if e := t.tools(&in); e != nil {
		return nil, e
	}
	if e := t.messages(in.Messages); e != nil {
		return nil, e
	}
	if e := t.google(&in, gc); e != nil {
		return nil, e
	}
	if opt.ShowThinking && !(gc.ThinkingConfig != nil && gc.ThinkingConfig.ThinkingBudget != nil && *gc.ThinkingConfig.ThinkingBudget == 0) {
		if gc.ThinkingConfig == nil {
			gc.ThinkingConfig = &gThinking{}
		}
		gc.ThinkingConfig.IncludeThoughts = true
	}
	if !gc.empty() {
		t.out.GenerationConfig = gc
	}
	g, err := json.Marshal(&t.out)
	if err != nil {
		// Only reachable through RawMessage content that slipped validation.
		return nil, badRequest("", "request could not be encoded: %v", err)
	}
	cr.Gemini = g
	return cr, nil
}

// locateDecodeError names the message a type error happened in. Messages
// are decoded in one pass with the body (decoding them separately cost half
// the translation time), so the index is recovered only on failure.
func locateDecodeError(body []byte, err error) *Error {
	var probe struct {
		Messages []json.RawMessage `json:"messages"`
	}
	if json.Unmarshal(body, &probe) == nil {
		for i, rm := range probe.Messages {
			var m chatMessage
			if err := json.Unmarshal(rm, &m); err != nil {
				return decodeError(err, "messages["+strconv.Itoa(i)+"]")
			}
		}
	}
	return decodeError(err, "")
}

// decodeError maps a JSON decoding failure to a 400 naming the field.
func decodeError(err error, prefix string) *Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		p := te.Field
		if prefix != "" {
			if p != "" {
				p = prefix + "." + p
			} else {
				p = prefix
			}
		}
		return badRequest(p, "invalid type for '%s': expected %s, got %s", p, jsonKind(te.Type.Kind().String()), te.Value)
	}
	return badRequest(prefix, "could not parse the JSON body of your request: %v", err)
}

func jsonKind(k string) string {
	switch k {
	case "float64", "float32":
		return "a number"
	case "int", "int64", "int32":
		return "an integer"
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return k
}

func (t *reqTranslator) rejectUnsupported(in *chatBody) *Error {
	switch {
	case in.Logprobs != nil && *in.Logprobs:
		return badRequest("logprobs", "logprobs is not supported by this server")
	case in.TopLogprobs != nil && *in.TopLogprobs > 0:
		return badRequest("top_logprobs", "top_logprobs is not supported by this server")
	case len(in.LogitBias) > 0:
		return badRequest("logit_bias", "logit_bias is not supported by this server")
	case isSet(in.Audio):
		return badRequest("audio", "audio output is not supported by this server")
	case isSet(in.Functions):
		return badRequest("functions", "the deprecated 'functions' parameter is not supported; use 'tools'")
	case isSet(in.FunctionCall):
		return badRequest("function_call", "the deprecated 'function_call' parameter is not supported; use 'tool_choice'")
	}
	for i, m := range in.Modalities {
		if m != "text" {
			return badRequest(fmt.Sprintf("modalities[%d]", i), "output modality %q is not supported; image output is selected by the model", m)
		}
	}
	return nil
}

func isSet(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	return len(r) > 0 && !bytes.Equal(r, []byte("null"))
}

func (t *reqTranslator) params(in *chatBody, gc *gGenConfig, cr *ChatRequest) *Error {
	if v := in.Temperature; v != nil {
		if *v < 0 || *v > 2 || math.IsNaN(*v) {
			return badRequest("temperature", "temperature must be between 0 and 2, got %v", *v)
		}
		gc.Temperature = v
	}
	if v := in.TopP; v != nil {
		if *v < 0 || *v > 1 {
			return badRequest("top_p", "top_p must be between 0 and 1, got %v", *v)
		}
		gc.TopP = v
	}
	if v := in.TopK; v != nil {
		if *v < 1 {
			return badRequest("top_k", "top_k must be at least 1, got %d", *v)
		}
		gc.TopK = v
	}
	// max_completion_tokens replaces the deprecated max_tokens; when both
	// are sent the newer one wins.
	for _, p := range []struct {
		name string
		v    *int64
	}{{"max_tokens", in.MaxTokens}, {"max_completion_tokens", in.MaxCompletionTokens}} {
		if p.v == nil {
			continue
		}
		if *p.v < 1 || *p.v > math.MaxInt32 {
			return badRequest(p.name, "%s must be a positive integer, got %d", p.name, *p.v)
		}
		gc.MaxOutputTokens = *p.v
	}
	if v := in.N; v != nil {
		if *v < 1 || *v > t.opt.maxN() {
			return badRequest("n", "n must be between 1 and %d, got %d", t.opt.maxN(), *v)
		}
		cr.N = *v
		if *v > 1 {
			gc.CandidateCount = *v
		}
	}
	if isSet(in.Stop) {
		stops, e := parseStop(in.Stop)
		if e != nil {
			return e
		}
		gc.StopSequences = stops
	}
	if v := in.Seed; v != nil {
		// Gemini's seed is int32; OpenAI clients send int64. Fold instead of
		// rejecting so a fixed seed stays fixed.
		s := int32(uint32(*v) ^ uint32(uint64(*v)>>32))
		if *v >= math.MinInt32 && *v <= math.MaxInt32 {
			s = int32(*v)
		}
		gc.Seed = &s
	}
	for _, p := range []struct {
		name string
		v    *float64
		dst  **float64
	}{{"presence_penalty", in.PresencePenalty, &gc.PresencePenalty}, {"frequency_penalty", in.FrequencyPenalty, &gc.FrequencyPenalty}} {
		if p.v == nil {
			continue
		}
		if *p.v < -2 || *p.v > 2 {
			return badRequest(p.name, "%s must be between -2 and 2, got %v", p.name, *p.v)
		}
		*p.dst = p.v
	}
	if isSet(in.ResponseFormat) {
		if e := responseFormat(in.ResponseFormat, gc); e != nil {
			return e
		}
	}
	if in.ParallelToolCalls != nil && !*in.ParallelToolCalls {
		cr.SingleToolCall = true
	}
	if in.ReasoningEffort != nil {
		cr.ReasoningEffort = *in.ReasoningEffort
		th, e := thinkingForEffort(in.Model, *in.ReasoningEffort)
		if e != nil {
			return e
		}
		gc.ThinkingConfig = th
	}
	return nil
}

func parseStop(raw json.RawMessage) ([]string, *Error) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil, nil
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, badRequest("stop", "stop must be a string or an array of strings")
	}
	if len(many) > 4 {
		return nil, badRequest("stop", "stop accepts at most 4 sequences, got %d", len(many))
	}
	out := many[:0]
	for _, s := range many {
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

func responseFormat(raw json.RawMessage, gc *gGenConfig) *Error {
	var rf struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if err := json.Unmarshal(raw, &rf); err != nil {
		return decodeError(err, "response_format")
	}
	switch rf.Type {
	case "text":
	case "json_object":
		gc.ResponseMimeType = "application/json"
	case "json_schema":
		if rf.JSONSchema == nil {
			return badRequest("response_format.json_schema", "response_format.json_schema is required when type is json_schema")
		}
		gc.ResponseMimeType = "application/json"
		if isSet(rf.JSONSchema.Schema) {
			s, e := cleanSchema(rf.JSONSchema.Schema, "response_format.json_schema.schema", false)
			if e != nil {
				return e
			}
			gc.ResponseJSONSchema = s
		}
	default:
		return badRequest("response_format.type", "unsupported response_format type %q: expected text, json_object or json_schema", rf.Type)
	}
	return nil
}

// ThinkingConfigForEffort returns the generationConfig.thinkingConfig JSON
// for a reasoning_effort, for the engine to re-apply after resolving an alias
// to another model family.
func ThinkingConfigForEffort(model, effort string) (json.RawMessage, *Error) {
	th, e := thinkingForEffort(model, effort)
	if e != nil {
		return nil, e
	}
	b, _ := json.Marshal(th)
	return b, nil
}

// thinkingForEffort maps OpenAI's reasoning_effort onto Gemini's thinking
// config: thinkingLevel for Gemini 3 models (the knob they use), a token
// budget for earlier ones (the figures Google's compat endpoint uses).
func thinkingForEffort(model, effort string) (*gThinking, *Error) {
	gemini3 := strings.Contains(model, "gemini-3")
	budget := func(n int) *gThinking { return &gThinking{ThinkingBudget: &n} }
	switch effort {
	case "none":
		if gemini3 {
			return &gThinking{ThinkingLevel: "MINIMAL"}, nil // cannot be switched off
		}
		return budget(0), nil
	case "minimal":
		if gemini3 {
			return &gThinking{ThinkingLevel: "MINIMAL"}, nil
		}
		return budget(512), nil
	case "low":
		if gemini3 {
			return &gThinking{ThinkingLevel: "LOW"}, nil
		}
		return budget(1024), nil
	case "medium":
		if gemini3 {
			return &gThinking{ThinkingLevel: "MEDIUM"}, nil
		}
		return budget(8192), nil
	case "high", "xhigh":
		if gemini3 {
			return &gThinking{ThinkingLevel: "HIGH"}, nil
		}
		return budget(24576), nil
	}
	return nil, badRequest("reasoning_effort", "unsupported reasoning_effort %q: expected none, minimal, low, medium or high", effort)
}

func (t *reqTranslator) google(in *chatBody, gc *gGenConfig) *Error {
	g, param := in.Google, "google"
	if in.ExtraBody != nil && in.ExtraBody.Google != nil {
		g, param = in.ExtraBody.Google, "extra_body.google"
	}
	if g == nil {
		return nil
	}
	if tc := g.ThinkingConfig; tc != nil {
		th := gc.ThinkingConfig
		if th == nil {
			th = &gThinking{}
		}
		if tc.ThinkingBudget != nil {
			if *tc.ThinkingBudget < -1 {
				return badRequest(param+".thinking_config.thinking_budget", "thinking_budget must be -1 (dynamic), 0 (off) or positive")
			}
			th.ThinkingBudget, th.ThinkingLevel = tc.ThinkingBudget, ""
		}
		if tc.ThinkingLevel != nil {
			th.ThinkingLevel, th.ThinkingBudget = strings.ToUpper(*tc.ThinkingLevel), nil
		}
		if tc.IncludeThoughts != nil {
			th.IncludeThoughts = *tc.IncludeThoughts
		}
		gc.ThinkingConfig = th
	}
	t.out.CachedContent = g.CachedContent
	if isSet(g.SafetySettings) {
		if b := bytes.TrimSpace(g.SafetySettings); b[0] != '[' {
			return badRequest(param+".safety_settings", "safety_settings must be an array")
		}
		t.out.SafetySettings = g.SafetySettings
	}
	return nil
}

// messages translates the conversation. Leading system/developer messages
// become systemInstruction; a system message later in the conversation
// becomes a user turn at its position, because Gemini has a single system
// instruction and moving it would change what the model sees in order.
func (t *reqTranslator) messages(msgs []chatMessage) *Error {
	if len(msgs) == 0 {
		return badRequest("messages", "messages must be a non-empty array")
	}
	var sys *gContent
	leading := true
	var pendingTool *gContent // consecutive tool results share one user turn
	for i := range msgs {
		m := &msgs[i]
		p := "messages[" + strconv.Itoa(i) + "]"
		if m.Role != "tool" {
			pendingTool = nil
		}
		switch m.Role {
		case "system", "developer":
			parts, e := t.textOnly(m.Content, p+".content")
			if e != nil {
				return e
			}
			if len(parts) == 0 {
				continue
			}
			if leading {
				if sys == nil {
					sys = &gContent{Role: "user"}
				}
				sys.Parts = append(sys.Parts, parts...)
			} else {
				t.out.Contents = append(t.out.Contents, &gContent{Role: "user", Parts: parts})
			}
			continue
		case "user":
			parts, e := t.parts(m.Content, p+".content")
			if e != nil {
				return e
			}
			if len(parts) > 0 {
				t.out.Contents = append(t.out.Contents, &gContent{Role: "user", Parts: parts})
			}
		case "assistant":
			parts, e := t.assistant(m, p)
			if e != nil {
				return e
			}
			if len(parts) > 0 {
				t.out.Contents = append(t.out.Contents, &gContent{Role: "model", Parts: parts})
			}
		case "tool":
			part, e := t.toolResult(m, p)
			if e != nil {
				return e
			}
			if pendingTool == nil {
				pendingTool = &gContent{Role: "user"}
				t.out.Contents = append(t.out.Contents, pendingTool)
			}
			pendingTool.Parts = append(pendingTool.Parts, part)
		case "":
			return badRequest(p+".role", "missing required parameter: '%s.role'", p)
		default:
			return badRequest(p+".role", "invalid role %q: expected system, developer, user, assistant or tool", m.Role)
		}
		leading = false
	}
	if len(t.out.Contents) == 0 {
		if sys == nil {
			return badRequest("messages", "messages contain no content")
		}
		// Only system text: Gemini requires contents, so send it as the user turn.
		t.out.Contents = append(t.out.Contents, sys)
		return nil
	}
	t.out.SystemInstruction = sys
	return nil
}

// decodeContent reads a message's content: a plain string comes back as
// one text part, an array as its parts (nil when content is unset).
func decodeContent(raw json.RawMessage, p string) ([]gPart, []contentPart, *Error) {
	if !isSet(raw) {
		return nil, nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, nil, nil
		}
		return []gPart{{Text: s}}, nil, nil
	}
	var arr []contentPart
	if err := json.Unmarshal(raw, &arr); err != nil {
		return nil, nil, badRequest(p, "content must be a string or an array of content parts")
	}
	if arr == nil {
		arr = []contentPart{}
	}
	return nil, arr, nil
}

// textOnly decodes system/developer content, which OpenAI allows only as text.
func (t *reqTranslator) textOnly(raw json.RawMessage, p string) ([]gPart, *Error) {
	text, arr, e := decodeContent(raw, p)
	if e != nil || arr == nil {
		return text, e
	}
	out := make([]gPart, 0, len(arr))
	for j := range arr {
		pp := p + "[" + strconv.Itoa(j) + "]"
		if arr[j].Type != "text" {
			return nil, badRequest(pp+".type", "only text content parts are allowed in system and developer messages, got %q", arr[j].Type)
		}
		if arr[j].Text == nil {
			return nil, badRequest(pp+".text", "missing required parameter: '%s.text'", pp)
		}
		if *arr[j].Text != "" {
			out = append(out, gPart{Text: *arr[j].Text})
		}
	}
	return out, nil
}

// parts decodes user/assistant content: a string or an array of parts.
func (t *reqTranslator) parts(raw json.RawMessage, p string) ([]gPart, *Error) {
	text, arr, e := decodeContent(raw, p)
	if e != nil || arr == nil {
		return text, e
	}
	out := make([]gPart, 0, len(arr))
	for j := range arr {
		part, ok, e := t.part(&arr[j], p+"["+strconv.Itoa(j)+"]")
		if e != nil {
			return nil, e
		}
		if ok {
			out = append(out, part)
		}
	}
	return out, nil
}

func (t *reqTranslator) part(c *contentPart, p string) (gPart, bool, *Error) {
	switch c.Type {
	case "text":
		if c.Text == nil {
			return gPart{}, false, badRequest(p+".text", "missing required parameter: '%s.text'", p)
		}
		return gPart{Text: *c.Text}, *c.Text != "", nil
	case "refusal":
		if c.Refusal == nil {
			return gPart{}, false, badRequest(p+".refusal", "missing required parameter: '%s.refusal'", p)
		}
		return gPart{Text: *c.Refusal}, *c.Refusal != "", nil
	case "image_url":
		part, e := t.image(c.ImageURL, p+".image_url")
		return part, e == nil, e
	case "input_audio":
		if c.InputAudio == nil || c.InputAudio.Data == "" {
			return gPart{}, false, badRequest(p+".input_audio.data", "missing required parameter: '%s.input_audio.data'", p)
		}
		mt, ok := audioTypes[strings.ToLower(c.InputAudio.Format)]
		if !ok {
			return gPart{}, false, badRequest(p+".input_audio.format", "unsupported audio format %q", c.InputAudio.Format)
		}
		if !isBase64(c.InputAudio.Data) {
			return gPart{}, false, badRequest(p+".input_audio.data", "input_audio.data must be base64")
		}
		return gPart{InlineData: &gBlob{MimeType: mt, Data: c.InputAudio.Data}}, true, nil
	case "file":
		part, e := t.file(c, p+".file")
		return part, e == nil, e
	case "":
		return gPart{}, false, badRequest(p+".type", "missing required parameter: '%s.type'", p)
	}
	return gPart{}, false, badRequest(p+".type", "unsupported content part type %q", c.Type)
}

var audioTypes = map[string]string{
	"wav": "audio/wav", "mp3": "audio/mp3", "flac": "audio/flac", "ogg": "audio/ogg",
	"aac": "audio/aac", "aiff": "audio/aiff", "webm": "audio/webm", "m4a": "audio/mp4",
}

const filesAPIPrefix = "https://generativelanguage.googleapis.com/"

func (t *reqTranslator) image(raw json.RawMessage, p string) (gPart, *Error) {
	var u struct {
		URL string `json:"url"`
	}
	var s string
	if json.Unmarshal(raw, &s) == nil { // some clients send the URL directly
		u.URL = s
	} else if err := json.Unmarshal(raw, &u); err != nil {
		return gPart{}, badRequest(p, "image_url must be an object with a url")
	}
	p += ".url"
	switch {
	case u.URL == "":
		return gPart{}, badRequest(p, "missing required parameter: '%s'", p)
	case hasPrefixFold(u.URL, "data:"):
		mt, data, e := parseDataURL(u.URL, p)
		if e != nil {
			return gPart{}, e
		}
		return gPart{InlineData: &gBlob{MimeType: mt, Data: data}}, nil
	case strings.HasPrefix(u.URL, filesAPIPrefix), isYouTube(u.URL):
		// Gemini reads its own Files API and YouTube URLs itself.
		return gPart{FileData: &gFileData{FileURI: u.URL}}, nil
	case hasPrefixFold(u.URL, "http://"), hasPrefixFold(u.URL, "https://"):
		f := t.opt.ImageFetcher
		if f == nil {
			f = DefaultFetcher
		}
		ctx := t.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		data, mt, err := f.Fetch(ctx, u.URL)
		if err != nil {
			return gPart{}, badRequest(p, "could not fetch image: %v", err)
		}
		return gPart{InlineData: &gBlob{MimeType: mt, Data: base64.StdEncoding.EncodeToString(data)}}, nil
	}
	return gPart{}, badRequest(p, "image_url must be an http(s) URL or a base64 data URL")
}

func isYouTube(u string) bool {
	for _, p := range []string{"https://www.youtube.com/watch?", "https://youtube.com/watch?", "https://youtu.be/"} {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// parseDataURL splits data:<mime>;base64,<payload>. The payload is passed on
// without decoding (it can be megabytes); only its alphabet is checked so
// garbage is a 400 here rather than an opaque upstream error. A missing
// media type is sniffed from the first decoded bytes.
func parseDataURL(u, p string) (mime, data string, e *Error) {
	comma := strings.IndexByte(u, ',')
	if comma < 0 {
		return "", "", badRequest(p, "malformed data URL: missing ','")
	}
	header, data := u[len("data:"):comma], u[comma+1:]
	if !strings.HasSuffix(strings.ToLower(header), ";base64") {
		return "", "", badRequest(p, "data URLs must be base64-encoded")
	}
	mime = strings.ToLower(strings.TrimSpace(header[:strings.IndexByte(header, ';')]))
	if data == "" || !isBase64(data) {
		return "", "", badRequest(p, "malformed data URL: payload is not base64")
	}
	switch mime {
	case "image/jpg":
		mime = "image/jpeg"
	case "":
		mime = sniffBase64(data)
	}
	return mime, data, nil
}

func sniffBase64(data string) string {
	n := min(len(data), 88) &^ 3
	head, _ := base64.StdEncoding.DecodeString(data[:n])
	return http.DetectContentType(head)
}

// isBase64 reports whether s uses only the (standard or URL-safe) base64
// alphabet, which Gemini's JSON bytes decoder accepts.
func isBase64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (t *reqTranslator) file(c *contentPart, p string) (gPart, *Error) {
	f := c.File
	if f == nil {
		return gPart{}, badRequest(p, "missing required parameter: '%s'", p)
	}
	switch {
	case f.FileData != "":
		if hasPrefixFold(f.FileData, "data:") {
			mt, data, e := parseDataURL(f.FileData, p+".file_data")
			if e != nil {
				return gPart{}, e
			}
			return gPart{InlineData: &gBlob{MimeType: mt, Data: data}}, nil
		}
		if !isBase64(f.FileData) {
			return gPart{}, badRequest(p+".file_data", "file_data must be base64 or a base64 data URL")
		}
		mt := mimeByName(f.Filename)
		if mt == "" {
			mt = sniffBase64(f.FileData)
		}
		return gPart{InlineData: &gBlob{MimeType: mt, Data: f.FileData}}, nil
	case strings.HasPrefix(f.FileID, "files/"):
		return gPart{FileData: &gFileData{FileURI: filesAPIPrefix + "v1beta/" + f.FileID, MimeType: mimeByName(f.Filename)}}, nil
	case strings.HasPrefix(f.FileID, filesAPIPrefix):
		return gPart{FileData: &gFileData{FileURI: f.FileID, MimeType: mimeByName(f.Filename)}}, nil
	case f.FileID != "":
		return gPart{}, badRequest(p+".file_id", "file_id must name a Gemini file (files/...)")
	}
	return gPart{}, badRequest(p+".file_data", "file needs file_data or file_id")
}

func mimeByName(name string) string {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return ""
	}
	switch strings.ToLower(name[dot+1:]) {
	case "pdf":
		return "application/pdf"
	case "txt":
		return "text/plain"
	case "md":
		return "text/markdown"
	case "html", "htm":
		return "text/html"
	case "csv":
		return "text/csv"
	case "json":
		return "application/json"
	case "png":
		return "image/png"
	case "jpg", "jpeg":
		return "image/jpeg"
	case "webp":
		return "image/webp"
	case "mp3":
		return "audio/mp3"
	case "wav":
		return "audio/wav"
	case "mp4":
		return "video/mp4"
	}
	return ""
}

// assistant translates an assistant turn: its text (kept even when tool
// calls are present, unlike the seed) and tool calls as functionCall parts
// carrying the thought signature recovered from the call.
func (t *reqTranslator) assistant(m *chatMessage, p string) ([]gPart, *Error) {
	parts, e := t.parts(m.Content, p+".content")
	if e != nil {
		return nil, e
	}
	for j := range m.ToolCalls {
		tc := &m.ToolCalls[j]
		tp := p + ".tool_calls[" + strconv.Itoa(j) + "]"
		if tc.Type != "" && tc.Type != "function" {
			return nil, badRequest(tp+".type", "unsupported tool call type %q", tc.Type)
		}
		if tc.Function.Name == "" {
			return nil, badRequest(tp+".function.name", "missing required parameter: '%s.function.name'", tp)
		}
		args, e := toolArgs(tc.Function.Arguments, tp+".function.arguments")
		if e != nil {
			return nil, e
		}
		gid, sig := parseToolCallID(tc.ID)
		if tc.ExtraContent != nil && tc.ExtraContent.Google != nil && tc.ExtraContent.Google.ThoughtSignature != "" {
			sig = tc.ExtraContent.Google.ThoughtSignature
		}
		if tc.ID != "" {
			if t.calls == nil {
				t.calls = make(map[string]knownCall, 4)
			}
			t.calls[tc.ID] = knownCall{name: tc.Function.Name, gid: gid}
		}
		parts = append(parts, gPart{FunctionCall: &gFunctionCall{ID: gid, Name: tc.Function.Name, Args: args}, ThoughtSignature: sig})
	}
	return parts, nil
}

// toolArgs accepts arguments as OpenAI's JSON-encoded string (or, leniently,
// a JSON object) and returns the object Gemini's functionCall.args needs.
func toolArgs(raw json.RawMessage, p string) (json.RawMessage, *Error) {
	if !isSet(raw) {
		return json.RawMessage("{}"), nil
	}
	obj := raw
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, badRequest(p, "arguments must be a JSON string")
		}
		if strings.TrimSpace(s) == "" {
			return json.RawMessage("{}"), nil
		}
		obj = json.RawMessage(s)
	}
	obj = bytes.TrimSpace(obj)
	if len(obj) == 0 || obj[0] != '{' || !json.Valid(obj) {
		return nil, badRequest(p, "arguments must encode a JSON object")
	}
	return obj, nil
}

// toolResult turns a tool message into a functionResponse. The function name
// comes from the assistant tool call with the same id earlier in the
// conversation (or the message's own name field). JSON-object content is
// passed as the response; anything else is wrapped as {"result": ...}.
func (t *reqTranslator) toolResult(m *chatMessage, p string) (gPart, *Error) {
	kc, ok := t.calls[m.ToolCallID]
	if !ok {
		if m.Name == "" {
			if m.ToolCallID == "" {
				return gPart{}, badRequest(p+".tool_call_id", "missing required parameter: '%s.tool_call_id'", p)
			}
			return gPart{}, badRequest(p+".tool_call_id", "tool_call_id %q does not match any assistant tool call before it", m.ToolCallID)
		}
		kc.name = m.Name
		kc.gid, _ = parseToolCallID(m.ToolCallID)
	}
	text, e := t.toolText(m.Content, p+".content")
	if e != nil {
		return gPart{}, e
	}
	return gPart{FunctionResponse: &gFunctionResponse{ID: kc.gid, Name: kc.name, Response: toolResponse(text)}}, nil
}

func (t *reqTranslator) toolText(raw json.RawMessage, p string) (string, *Error) {
	if !isSet(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var arr []contentPart
	if err := json.Unmarshal(raw, &arr); err != nil {
		return "", badRequest(p, "content must be a string or an array of text parts")
	}
	var b strings.Builder
	for j := range arr {
		if arr[j].Type != "text" || arr[j].Text == nil {
			return "", badRequest(p+"["+strconv.Itoa(j)+"].type", "tool message content parts must be text")
		}
		b.WriteString(*arr[j].Text)
	}
	return b.String(), nil
}

// toolResponse builds functionResponse.response, which must be a JSON
// object. Objects mentioning "$ref" are wrapped as text too: Gemini 3 tries
// to resolve $ref inside function responses and rejects the turn.
func toolResponse(text string) json.RawMessage {
	tt := strings.TrimSpace(text)
	if strings.HasPrefix(tt, "{") && json.Valid([]byte(tt)) && !strings.Contains(tt, `"$ref"`) {
		return json.RawMessage(tt)
	}
	b := make([]byte, 0, len(text)+16)
	b = append(b, `{"result":`...)
	b = jsonw.AppendString(b, text)
	return append(b, '}')
}
