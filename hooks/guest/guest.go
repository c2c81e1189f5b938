//go:build wasip1

package guest

import (
	"unsafe"

	"github.com/tidwall/gjson"
)

// ABIVersion is the hook ABI version this SDK implements.
const ABIVersion = 1

// Phase names the point in a request's life a handler runs at.
type Phase string

// The phases a hook can handle.
const (
	PhaseRequest  Phase = "request"
	PhaseResponse Phase = "response"
	PhaseChunk    Phase = "chunk"
)

// Action is what the host should do after a handler returns.
type Action string

// The actions of the ABI. The zero value means Continue.
const (
	// ActionContinue passes the (possibly modified) request or response on.
	ActionContinue Action = "continue"
	// ActionRespond answers the caller with Status, headers and Body
	// without calling upstream (request phase) or instead of the upstream
	// answer (response phase).
	ActionRespond Action = "respond"
	// ActionReject refuses the call: like Respond, but counted as a
	// rejection and meant for policy refusals (blocklists, quotas).
	ActionReject Action = "reject"
)

// Token describes the client token that made the call. The secret itself is
// never given to a guest.
type Token struct {
	Name   string
	labels string // raw JSON object
}

// Label returns the value of a token label, or "".
func (t Token) Label(name string) string {
	if t.labels == "" {
		return ""
	}
	return gjson.Get(t.labels, gjson.Escape(name)).String()
}

// Envelope is the input of one hook call. It is decoded lazily, on the
// first accessor call: a handler that decides from the phase alone, or
// returns Continue at once, costs no parsing at all. The body is never
// scanned by the SDK (the host writes it last, ABI v1 rule), so its size
// does not matter until the handler reads inside it.
//
// Body, Config and the strings returned point into the SDK's input buffer:
// they are valid until the handler returns. Copy anything kept across
// calls.
type Envelope struct {
	raw    []byte
	phase  Phase
	parsed bool

	abi                                   int
	route, protocol, pool, model, tokName string
	tokLabels, headers                    string // raw JSON objects
	body, config                          []byte
}

// Phase returns the phase being handled (known without parsing).
func (e *Envelope) Phase() Phase { return e.phase }

// ABI returns the ABI version the host declared.
func (e *Envelope) ABI() int { e.parse(); return e.abi }

// Route returns the name of the route that matched the call.
func (e *Envelope) Route() string { e.parse(); return e.route }

// Protocol returns the caller's protocol: "gemini" or "openai". Answers
// built with Respond or Reject must use its shapes (see ErrorBody).
func (e *Envelope) Protocol() string { e.parse(); return e.protocol }

// Pool returns the key pool the call is routed to.
func (e *Envelope) Pool() string { e.parse(); return e.pool }

// Model returns the model the call asks for, as the engine resolved it.
func (e *Envelope) Model() string { e.parse(); return e.model }

// Token returns the calling client token's name and labels (never the
// secret).
func (e *Envelope) Token() Token {
	e.parse()
	return Token{Name: e.tokName, labels: e.tokLabels}
}

// Body returns the raw JSON body: the request, the response, or one
// streamed event for the chunk phase. It is nil when the host omitted it
// because the hook declared (WithoutBody) that it does not need it.
func (e *Envelope) Body() []byte { e.parse(); return e.body }

// Config returns the hook block's config as raw JSON ("null" when unset).
func (e *Envelope) Config() []byte { e.parse(); return e.config }

// ConfigValue returns a gjson path from the hook config, e.g.
// in.ConfigValue("aliases.fast").String().
func (e *Envelope) ConfigValue(path string) gjson.Result {
	e.parse()
	return gjson.GetBytes(e.config, path)
}

// Header returns the value of a request (or, in the response phases,
// response) header by lower-case name, or "". Authorization and API-key
// headers are never present.
func (e *Envelope) Header(name string) string {
	e.parse()
	if e.headers == "" {
		return ""
	}
	return gjson.Get(e.headers, gjson.Escape(name)).String()
}

// Headers returns all headers as a map. It allocates; prefer Header.
func (e *Envelope) Headers() map[string]string {
	e.parse()
	m := map[string]string{}
	if e.headers == "" {
		return m
	}
	gjson.Parse(e.headers).ForEach(func(k, v gjson.Result) bool {
		m[k.String()] = v.String()
		return true
	})
	return m
}

// Result is a handler's answer. A nil *Result means continue unchanged.
type Result struct {
	Action Action
	// Status is the HTTP status for Respond and Reject.
	Status int
	// SetHeaders sets (replaces) headers; RemoveHeaders deletes them. The
	// host ignores attempts to touch authentication headers.
	SetHeaders    map[string]string
	RemoveHeaders []string
	// Body replaces the body when non-nil. It must be valid JSON.
	Body []byte
}

// Continue returns the "no change" result. It costs nothing on the wire.
func Continue() *Result { return nil }

// ReplaceBody returns a result that continues with body replacing the
// original. A nil body means no change.
func ReplaceBody(body []byte) *Result {
	if body == nil {
		return nil
	}
	return &Result{Action: ActionContinue, Body: body}
}

// Respond answers the caller directly with status and a JSON body.
func Respond(status int, body []byte) *Result {
	return &Result{Action: ActionRespond, Status: status, Body: body}
}

// Reject refuses the call with status and a JSON body; see ErrorBody for a
// body in the caller's protocol.
func Reject(status int, body []byte) *Result {
	return &Result{Action: ActionReject, Status: status, Body: body}
}

// Handler handles one phase.
type Handler func(in *Envelope) (*Result, error)

// Feature bits reported by hook_features; they must match hooks/abi.go.
const (
	featRequest        = 1 << 0
	featResponse       = 1 << 1
	featChunk          = 1 << 2
	featRequestNoBody  = 1 << 8
	featResponseNoBody = 1 << 9
)

var (
	handlers [3]Handler
	features int32
)

func register(i int, bit int32, h Handler) {
	handlers[i] = h
	if h != nil {
		features |= bit
	} else {
		features &^= bit
	}
}

// OnRequest registers the request-phase handler (call from init).
func OnRequest(h Handler) { register(0, featRequest, h) }

// OnResponse registers the response-phase handler for whole (non-streamed)
// responses (call from init).
func OnResponse(h Handler) { register(1, featResponse, h) }

// OnChunk registers a handler called once per streamed event (call from
// init). It is opt-in because a call per chunk costs tens of microseconds.
func OnChunk(h Handler) { register(2, featChunk, h) }

// WithoutBody declares that the handlers of the given phases only read
// metadata (model, route, token, headers), so the host can skip copying
// the body into the guest. The chunk phase always carries its body.
func WithoutBody(phases ...Phase) {
	for _, p := range phases {
		switch p {
		case PhaseRequest:
			features |= featRequestNoBody
		case PhaseResponse:
			features |= featResponseNoBody
		}
	}
}

// view returns a string sharing b's memory. The input buffer outlives every
// view because views are only used during one call.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// bytesOf returns the bytes of a string view without copying.
func bytesOf(s string) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

func (e *Envelope) parse() {
	if e.parsed {
		return
	}
	e.parsed = true
	if !e.scan() {
		e.parseSlow()
	}
}

// scan is the fast decoder. It reads the metadata keys one by one and,
// on reaching "body" (which ABI v1 hosts write last), takes the rest of the
// document as the body without looking at it. Every guest loop iteration
// costs a termination check on the host, so not scanning a 2 KB body
// saves tens of microseconds. It returns false on anything unexpected.
func (e *Envelope) scan() bool {
	in := e.raw
	i := skipWS(in, 0)
	if i >= len(in) || in[i] != '{' {
		return false
	}
	i++
	for {
		i = skipWS(in, i)
		if i >= len(in) {
			return false
		}
		if in[i] == '}' {
			return true
		}
		if in[i] == ',' {
			i = skipWS(in, i+1)
		}
		if i >= len(in) || in[i] != '"' {
			return false
		}
		kEnd := i + 1
		for kEnd < len(in) && in[kEnd] != '"' && in[kEnd] != '\\' {
			kEnd++
		}
		if kEnd >= len(in) || in[kEnd] != '"' {
			return false
		}
		key := view(in[i+1 : kEnd])
		i = skipWS(in, kEnd+1)
		if i >= len(in) || in[i] != ':' {
			return false
		}
		i = skipWS(in, i+1)
		if key == "body" {
			end := len(in) - 1
			for end > i && in[end] != '}' {
				end--
			}
			v := trimWS(in[i:end])
			if len(v) > 0 && view(v) != "null" {
				e.body = v
			}
			return true
		}
		vEnd := skipValue(in, i)
		if vEnd < 0 {
			return false
		}
		v := in[i:vEnd]
		switch key {
		case "abi":
			e.abi = int(gjson.ParseBytes(v).Int())
		case "route":
			e.route = str(v)
		case "protocol":
			e.protocol = str(v)
		case "pool":
			e.pool = str(v)
		case "model":
			e.model = str(v)
		case "token":
			t := gjson.Parse(view(v))
			e.tokName = t.Get("name").String()
			if l := t.Get("labels"); l.IsObject() {
				e.tokLabels = l.Raw
			}
		case "headers":
			e.headers = view(v)
		case "config":
			e.config = v
		}
		i = vEnd
	}
}

// str decodes a JSON string value, without copying when it has no escapes.
func str(v []byte) string {
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	for _, c := range v[1 : len(v)-1] {
		if c == '\\' {
			return gjson.ParseBytes(v).String()
		}
	}
	return view(v[1 : len(v)-1])
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

func trimWS(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	for j > i && (b[j-1] == ' ' || b[j-1] == '\n' || b[j-1] == '\r' || b[j-1] == '\t') {
		j--
	}
	return b[i:j]
}

// skipValue returns the index just past the JSON value starting at i, or
// -1 if the document ends first.
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(b) {
				return -1
			}
			i++
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 {
				return i // end of the enclosing object: a bare literal ended
			}
			if depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return -1
}

// parseSlow is the general decoder, for input not in the host's layout.
func (e *Envelope) parseSlow() {
	raw, phase := e.raw, e.phase
	*e = Envelope{raw: raw, phase: phase, parsed: true}
	gjson.Parse(view(raw)).ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "abi":
			e.abi = int(v.Int())
		case "route":
			e.route = v.String()
		case "protocol":
			e.protocol = v.String()
		case "pool":
			e.pool = v.String()
		case "model":
			e.model = v.String()
		case "token":
			if v.IsObject() {
				e.tokName = v.Get("name").String()
				if l := v.Get("labels"); l.IsObject() {
					e.tokLabels = l.Raw
				}
			}
		case "headers":
			if v.IsObject() {
				e.headers = v.Raw
			}
		case "body":
			if v.Type != gjson.Null {
				e.body = bytesOf(v.Raw)
			}
		case "config":
			e.config = bytesOf(v.Raw)
		}
		return true
	})
}
