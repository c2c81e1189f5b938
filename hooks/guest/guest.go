package guest

import (
	"bytes"
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

// Envelope is the input of one hook call. It is decoded lazily and only
// as far as the handler asks: the host's envelope carries an index of
// value offsets (README.md, "Input"), so each accessor slices its value
// out directly. A handler that returns Continue at once costs nothing, and
// the body is never scanned by the SDK. (With the per-call timeout on,
// every branch a Go guest takes costs a check on the host, so not touching
// bytes is what keeps hooks cheap.)
//
// Body, Config and the strings returned point into the SDK's input buffer:
// they are valid until the handler returns. Copy anything kept across
// calls.
type Envelope struct {
	raw     []byte
	phase   Phase
	checked bool // index validated or fallback parse done
	indexed bool
	vals    [idxCount][]byte // raw values, filled by the fallback parser
}

// Members of the envelope's index, in order (hooks/abi.go mirrors this).
const (
	idxRoute = iota
	idxProtocol
	idxToken
	idxPool
	idxModel
	idxHeaders
	idxConfig
	idxBody
	idxCount
)

const envelopePrefix = `{"abi":1,"index":"`

// value returns the raw JSON value of member k, or nil.
func (e *Envelope) value(k int) []byte {
	if !e.checked {
		e.check()
	}
	if !e.indexed {
		return e.vals[k]
	}
	at := len(envelopePrefix) + 16*k
	off, n := hex8(e.raw[at:]), hex8(e.raw[at+8:])
	if uint64(off)+uint64(n) > uint64(len(e.raw)) {
		return nil
	}
	return e.raw[off : off+n]
}

// check validates the index once, or falls back to parsing.
func (e *Envelope) check() {
	e.checked = true
	minLen := len(envelopePrefix) + 16*idxCount
	if len(e.raw) > minLen && view(e.raw[:len(envelopePrefix)]) == envelopePrefix {
		e.indexed = true
		for k := 0; k < idxCount; k++ {
			at := len(envelopePrefix) + 16*k
			if uint64(hex8(e.raw[at:]))+uint64(hex8(e.raw[at+8:])) > uint64(len(e.raw)) {
				e.indexed = false
			}
		}
		if e.indexed {
			return
		}
	}
	e.parseSlow()
}

// hex8 decodes 8 lower-case hex digits without branches (every branch is
// a termination check on the host).
func hex8(b []byte) uint32 {
	_ = b[7]
	return hex1(b[0])<<28 | hex1(b[1])<<24 | hex1(b[2])<<20 | hex1(b[3])<<16 |
		hex1(b[4])<<12 | hex1(b[5])<<8 | hex1(b[6])<<4 | hex1(b[7])
}

func hex1(c byte) uint32 { return uint32(c&0xf) + 9*uint32(c>>6) }

// Phase returns the phase being handled (known without parsing).
func (e *Envelope) Phase() Phase { return e.phase }

// Route returns the API path of the call, e.g.
// "/v1beta/models/gemini-2.5-flash:generateContent" or
// "/v1/chat/completions".
func (e *Envelope) Route() string { return str(e.value(idxRoute)) }

// Protocol returns the caller's protocol: "gemini" or "openai". Answers
// built with Respond or Reject must use its shapes (see ErrorBody).
func (e *Envelope) Protocol() string { return str(e.value(idxProtocol)) }

// Pool returns the key pool the call is routed to.
func (e *Envelope) Pool() string { return str(e.value(idxPool)) }

// Model returns the model the call asks for, as the engine resolved it.
func (e *Envelope) Model() string { return str(e.value(idxModel)) }

// Token returns the calling client token's name and labels (never the
// secret).
func (e *Envelope) Token() Token {
	t := gjson.Parse(view(e.value(idxToken)))
	tok := Token{Name: t.Get("name").String()}
	if l := t.Get("labels"); l.IsObject() {
		tok.labels = l.Raw
	}
	return tok
}

// Body returns the raw JSON body: the request, the response, or one
// streamed event for the chunk phase. It is nil when the host omitted it
// because the hook declared (WithoutBody) that it does not need it.
func (e *Envelope) Body() []byte {
	v := e.value(idxBody)
	if view(v) == "null" {
		return nil
	}
	return v
}

// Config returns the hook block's config as raw JSON ("null" when unset).
func (e *Envelope) Config() []byte { return e.value(idxConfig) }

// ConfigValue returns a gjson path from the hook config, e.g.
// in.ConfigValue("aliases.fast").String(). Unlike the other accessors,
// whose results view the input buffer and are valid only during the call,
// config values stay valid across calls, so a guest may parse its config
// once and keep what it found.
func (e *Envelope) ConfigValue(path string) gjson.Result {
	return gjson.Get(stableConfig(e.value(idxConfig)), path)
}

// configCopy is the hook config as last seen, copied out of the input
// buffer. A hook's config only changes with a new module instance, so
// this copies once per instance.
var configCopy string

func stableConfig(b []byte) string {
	if string(b) != configCopy { // compiles to a comparison, no allocation
		configCopy = string(b)
	}
	return configCopy
}

// Header returns the value of a request (or, in the response phases,
// response) header by lower-case name, or "". Authorization and API-key
// headers are never present.
func (e *Envelope) Header(name string) string {
	h := e.value(idxHeaders)
	if len(h) == 0 {
		return ""
	}
	return gjson.Get(view(h), gjson.Escape(name)).String()
}

// Headers returns all headers as a map. It allocates; prefer Header.
func (e *Envelope) Headers() map[string]string {
	m := map[string]string{}
	gjson.Parse(view(e.value(idxHeaders))).ForEach(func(k, v gjson.Result) bool {
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
	// Model re-targets the call to another model (request phase); the
	// proxy rewrites the Gemini URL or the OpenAI body as needed.
	Model string
	// Pool routes the call to another key pool (request phase).
	Pool string
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

// str decodes a JSON string value, without copying when it has no escapes.
func str(v []byte) string {
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	if bytes.IndexByte(v, '\\') >= 0 {
		return gjson.Parse(view(v)).String()
	}
	return view(v[1 : len(v)-1])
}

// parseSlow is the general decoder, for input without a valid index (a
// host that does not write one).
func (e *Envelope) parseSlow() {
	names := [idxCount]string{"route", "protocol", "token", "pool", "model", "headers", "config", "body"}
	gjson.Parse(view(e.raw)).ForEach(func(k, v gjson.Result) bool {
		for i, n := range names {
			if k.Str == n {
				e.vals[i] = bytesOf(v.Raw)
			}
		}
		return true
	})
}
