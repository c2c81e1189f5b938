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

// Envelope is the input of one hook call.
//
// Body, Config and the strings point into the SDK's input buffer: they are
// valid until the handler returns. Copy anything you keep across calls.
type Envelope struct {
	ABI      int
	Phase    Phase
	Route    string
	Protocol string // "gemini" or "openai"
	Pool     string
	Model    string
	Token    Token
	// Body is the raw JSON body (the request, the response, or for the
	// chunk phase one streamed event's JSON). It is nil when the host
	// omitted it because the hook declared it does not need it.
	Body []byte
	// Config is the hook block's config as raw JSON ("null" when unset).
	Config []byte

	headers string // raw JSON object, lower-case names
}

// Header returns the value of a request (or, in the response phases,
// response) header by lower-case name, or "". Authorization and API-key
// headers are never present.
func (e *Envelope) Header(name string) string {
	if e.headers == "" {
		return ""
	}
	return gjson.Get(e.headers, gjson.Escape(name)).String()
}

// Headers returns all headers as a map. It allocates; prefer Header.
func (e *Envelope) Headers() map[string]string {
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

// ConfigValue returns a gjson path from the hook config, e.g.
// in.ConfigValue("aliases.fast").String().
func (e *Envelope) ConfigValue(path string) gjson.Result {
	return gjson.GetBytes(e.Config, path)
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

// parseEnvelope decodes the host's input in one pass over the top level.
func parseEnvelope(in []byte, env *Envelope) {
	*env = Envelope{}
	gjson.Parse(view(in)).ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "abi":
			env.ABI = int(v.Int())
		case "phase":
			env.Phase = Phase(v.Str)
		case "route":
			env.Route = v.Str
		case "protocol":
			env.Protocol = v.Str
		case "pool":
			env.Pool = v.Str
		case "model":
			env.Model = v.Str
		case "token":
			if v.IsObject() {
				env.Token.Name = v.Get("name").Str
				if l := v.Get("labels"); l.IsObject() {
					env.Token.labels = l.Raw
				}
			}
		case "headers":
			if v.IsObject() {
				env.headers = v.Raw
			}
		case "body":
			if v.Type != gjson.Null {
				env.Body = bytesOf(v.Raw)
			}
		case "config":
			env.Config = bytesOf(v.Raw)
		}
		return true
	})
}
