package hooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// ABIVersion is the hook ABI version this host speaks. A guest whose
// hook_abi_version export returns anything else is refused at load time.
const ABIVersion = 1

// Names of the guest exports and the host import module (README.md, "ABI").
const (
	exportABIVersion = "hook_abi_version"
	exportFeatures   = "hook_features"
	exportAlloc      = "hook_alloc"
	exportRequest    = "hook_request"
	exportResponse   = "hook_response"
	exportChunk      = "hook_chunk"
	exportInitialize = "_initialize"
	hostModuleName   = "balance_hook"
)

// Feature bits returned by the optional hook_features export.
const (
	featRequest        = 1 << 0
	featResponse       = 1 << 1
	featChunk          = 1 << 2
	featRequestNoBody  = 1 << 8
	featResponseNoBody = 1 << 9
)

// Phase is the point in a call's life at which a hook runs.
type Phase string

// The phases of ABI v1.
const (
	// PhaseRequest runs before the request goes upstream.
	PhaseRequest Phase = "request"
	// PhaseResponse runs on a whole (non-streamed) upstream response.
	PhaseResponse Phase = "response"
	// PhaseChunk runs once per streamed event; opt-in, since it multiplies
	// the per-call cost by the number of chunks.
	PhaseChunk Phase = "chunk"
)

func (p Phase) export() string {
	switch p {
	case PhaseRequest:
		return exportRequest
	case PhaseResponse:
		return exportResponse
	case PhaseChunk:
		return exportChunk
	}
	return ""
}

func (p Phase) index() int {
	switch p {
	case PhaseRequest:
		return 0
	case PhaseResponse:
		return 1
	case PhaseChunk:
		return 2
	}
	return -1
}

// ParsePhase validates a phase name from config.
func ParsePhase(s string) (Phase, error) {
	p := Phase(s)
	if p.index() < 0 {
		return "", fmt.Errorf("unknown hook phase %q (want request, response or chunk)", s)
	}
	return p, nil
}

// Action is what a hook asks the engine to do.
type Action string

// The actions of ABI v1.
const (
	// ActionContinue goes on with the (possibly modified) request/response.
	ActionContinue Action = "continue"
	// ActionRespond answers the caller with Result.Status/Headers/Body.
	ActionRespond Action = "respond"
	// ActionReject refuses the call with Result.Status/Body; counted as a
	// policy rejection rather than an answer.
	ActionReject Action = "reject"
)

// Header is one HTTP header. Names in an Envelope are lower-case.
type Header struct {
	Name, Value string
}

// Token describes the client token of a call: its configured name and
// labels, never the secret.
type Token struct {
	Name   string
	Labels map[string]string
}

// Envelope is the input of one hook call, as the engine knows it. The host
// adds the ABI version, phase and the hook's config when encoding.
type Envelope struct {
	// Route is the API path of the call, in every phase: what Selector
	// routes match and what guests see, e.g.
	// "/v1beta/models/gemini-2.5-flash:generateContent" (without a
	// "/gemini" mount prefix) or "/v1/chat/completions".
	Route    string
	Protocol string // "gemini" or "openai"
	Token    Token
	Pool     string
	Model    string
	// Headers are the request headers (request phase) or the upstream
	// response headers (response and chunk phases). Build them with
	// HeaderList.Add, which drops credentials; the encoder drops them
	// again regardless.
	Headers []Header
	// Body is the raw JSON body: the request, the response, or one
	// streamed event's JSON for PhaseChunk. Empty encodes as null. The
	// host does not validate it; it must be JSON.
	Body []byte
}

// Result is the outcome of a hook call.
type Result struct {
	Action Action
	// Status is the HTTP status for ActionRespond and ActionReject.
	Status int
	// SetHeaders and RemoveHeaders edit the headers of the request being
	// sent (request phase) or the response being returned. Credentials
	// headers never appear here: the host drops such edits.
	SetHeaders    []Header
	RemoveHeaders []string
	// Body replaces the body when non-nil (raw JSON).
	Body []byte
	// Model, when set, re-targets the call to another model (request
	// phase): the engine rewrites the Gemini URL path or the OpenAI
	// body's "model" as the protocol requires.
	Model string
	// Pool, when set, routes the call to another key pool (request phase).
	Pool string
}

// Changed reports whether the result asks for anything but "continue
// unchanged".
func (r *Result) Changed() bool {
	return r.Action != ActionContinue || r.Body != nil || len(r.SetHeaders) > 0 ||
		len(r.RemoveHeaders) > 0 || r.Model != "" || r.Pool != ""
}

// Members of the envelope's "index" (README.md, "Input"): for each, the
// byte offset and length of its raw JSON value, as 8+8 lower-case hex
// digits, so a guest can slice values out without scanning the document.
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

// envelopePrefix starts every envelope; the index string follows it.
const envelopePrefix = `{"abi":1,"index":"`

// appendEnvelope encodes the ABI input envelope. It is hand-written so the
// per-call cost stays proportional to the bytes copied, not to reflection.
func appendEnvelope(b []byte, phase Phase, in *Envelope, config []byte, withBody bool) []byte {
	base := len(b)
	b = append(b, envelopePrefix...)
	idxAt := len(b)
	b = append(b, zeroIndex[:]...)
	b = append(b, `","phase":"`...)
	b = append(b, phase...)
	b = append(b, '"')
	var idx [idxCount][2]int
	member := func(k int, name string) {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		idx[k][0] = len(b) - base
	}
	end := func(k int) { idx[k][1] = len(b) - base - idx[k][0] }

	member(idxRoute, "route")
	b = jsonw.AppendString(b, in.Route)
	end(idxRoute)
	member(idxProtocol, "protocol")
	b = jsonw.AppendString(b, in.Protocol)
	end(idxProtocol)
	member(idxToken, "token")
	b = append(b, `{"name":`...)
	b = jsonw.AppendString(b, in.Token.Name)
	b = append(b, `,"labels":{`...)
	for i, k := range slices.Sorted(maps.Keys(in.Token.Labels)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonw.AppendString(b, k)
		b = append(b, ':')
		b = jsonw.AppendString(b, in.Token.Labels[k])
	}
	b = append(b, "}}"...)
	end(idxToken)
	member(idxPool, "pool")
	b = jsonw.AppendString(b, in.Pool)
	end(idxPool)
	member(idxModel, "model")
	b = jsonw.AppendString(b, in.Model)
	end(idxModel)
	member(idxHeaders, "headers")
	b = append(b, '{')
	first := true
	for _, h := range in.Headers {
		if isSensitiveHeader(h.Name) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONLower(b, h.Name)
		b = append(b, ':')
		b = jsonw.AppendString(b, redactKeyParam(h.Value))
	}
	b = append(b, '}')
	end(idxHeaders)
	member(idxConfig, "config")
	if len(config) > 0 {
		b = append(b, config...)
	} else {
		b = append(b, "null"...)
	}
	end(idxConfig)
	// The body goes last (an ABI v1 rule): a guest that ignores the index
	// can still take the rest of the document as the body unscanned.
	member(idxBody, "body")
	if withBody && len(bytes.TrimSpace(in.Body)) > 0 {
		b = append(b, in.Body...)
	} else {
		b = append(b, "null"...)
	}
	end(idxBody)
	b = append(b, '}')
	for k, v := range idx {
		putHex8(b[idxAt+16*k:], uint32(v[0]))
		putHex8(b[idxAt+16*k+8:], uint32(v[1]))
	}
	return b
}

var zeroIndex = func() (z [16 * idxCount]byte) {
	for i := range z {
		z[i] = '0'
	}
	return z
}()

func putHex8(b []byte, v uint32) {
	_ = b[7]
	for i := 7; i >= 0; i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
}

const hexDigits = "0123456789abcdef"

// appendJSONLower appends a header name, lower-cased, as a JSON string.
func appendJSONLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return jsonw.AppendString(b, lowerASCII(s))
		}
	}
	return jsonw.AppendString(b, s)
}

func lowerASCII(s string) string {
	buf := []byte(s)
	for i, c := range buf {
		if c >= 'A' && c <= 'Z' {
			buf[i] = c + 'a' - 'A'
		}
	}
	return string(buf)
}

// wireResult is the guest's output document.
type wireResult struct {
	Action  Action `json:"action"`
	Status  int    `json:"status"`
	Headers struct {
		Set    map[string]string `json:"set"`
		Remove []string          `json:"remove"`
	} `json:"headers"`
	Model string          `json:"model"`
	Pool  string          `json:"pool"`
	Body  json.RawMessage `json:"body"`
	Error *string         `json:"error"`
}

// errGuest is returned for an output {"error": "..."}.
type errGuest struct{ msg string }

func (e errGuest) Error() string { return "guest error: " + e.msg }

// decodeResult parses a guest's output. out is copied; nothing retains it.
//
// The common output is small metadata plus a large body. A full
// encoding/json decode scans the body twice and copies it into a
// RawMessage; decodeFast walks the top level once, validates the body
// with one json.Valid pass and decodes only the small members.
func decodeResult(out []byte) (Result, error) {
	w, ok := decodeFast(out)
	if !ok {
		w = wireResult{}
		if err := json.Unmarshal(out, &w); err != nil {
			return Result{}, fmt.Errorf("output is not valid JSON: %w", err)
		}
	}
	return w.result()
}

// decodeFast is decodeResult's fast path; false means "use encoding/json"
// (which also produces the error message for malformed output).
func decodeFast(out []byte) (wireResult, bool) {
	var w wireResult
	i := skipSpace(out, 0)
	if i >= len(out) || out[i] != '{' {
		return w, false
	}
	i = skipSpace(out, i+1)
	if i < len(out) && out[i] == '}' {
		return w, skipSpace(out, i+1) == len(out)
	}
	for {
		if i >= len(out) || out[i] != '"' {
			return w, false
		}
		kEnd := jsonw.SkipValue(out, i)
		if kEnd < 0 {
			return w, false
		}
		key := out[i+1 : kEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 || !json.Valid(out[i:kEnd]) {
			return w, false // escaped or invalid key: let encoding/json judge
		}
		i = skipSpace(out, kEnd)
		if i >= len(out) || out[i] != ':' {
			return w, false
		}
		i = skipSpace(out, i+1)
		vEnd := jsonw.SkipValue(out, i)
		if vEnd < 0 {
			return w, false
		}
		v := out[i:vEnd]
		var err error
		switch string(key) {
		case "action":
			var a string
			err = json.Unmarshal(v, &a)
			w.Action = Action(a)
		case "status":
			err = json.Unmarshal(v, &w.Status)
		case "model":
			err = json.Unmarshal(v, &w.Model)
		case "pool":
			err = json.Unmarshal(v, &w.Pool)
		case "headers":
			err = json.Unmarshal(v, &w.Headers)
		case "error":
			err = json.Unmarshal(v, &w.Error)
		case "body":
			if !json.Valid(v) {
				return w, false
			}
			w.Body = bytes.Clone(v)
		default:
			// encoding/json matches member names case-insensitively.
			for _, known := range [...]string{"action", "status", "model", "pool", "headers", "error", "body"} {
				if strings.EqualFold(string(key), known) {
					return w, false
				}
			}
			if !json.Valid(v) {
				return w, false
			}
		}
		if err != nil {
			return w, false
		}
		i = skipSpace(out, vEnd)
		if i >= len(out) {
			return w, false
		}
		if out[i] == '}' {
			return w, skipSpace(out, i+1) == len(out)
		}
		if out[i] != ',' {
			return w, false
		}
		i = skipSpace(out, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

func (w *wireResult) result() (Result, error) {
	if w.Error != nil {
		return Result{}, errGuest{msg: truncate(*w.Error, 512)}
	}
	r := Result{Action: w.Action, Status: w.Status, Model: w.Model, Pool: w.Pool}
	switch w.Action {
	case "", ActionContinue:
		r.Action = ActionContinue
	case ActionRespond, ActionReject:
		if w.Status == 0 {
			if w.Action == ActionReject {
				r.Status = 403
			} else {
				r.Status = 200
			}
		}
		if r.Status < 100 || r.Status > 599 {
			return Result{}, fmt.Errorf("output status %d out of range", w.Status)
		}
	default:
		return Result{}, fmt.Errorf("output action %q is not continue, respond or reject", truncate(string(w.Action), 64))
	}
	for _, k := range slices.Sorted(maps.Keys(w.Headers.Set)) {
		if isSensitiveHeader(k) || !validHeaderName(k) {
			continue
		}
		r.SetHeaders = append(r.SetHeaders, Header{Name: lowerASCII(k), Value: sanitizeHeaderValue(w.Headers.Set[k])})
	}
	for _, k := range w.Headers.Remove {
		if isSensitiveHeader(k) || !validHeaderName(k) {
			continue
		}
		r.RemoveHeaders = append(r.RemoveHeaders, lowerASCII(k))
	}
	if len(w.Body) > 0 && !bytes.Equal(w.Body, []byte("null")) {
		r.Body = []byte(w.Body)
	}
	return r, nil
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// sanitizeHeaderValue drops CR, LF and NUL so a guest cannot split headers.
func sanitizeHeaderValue(v string) string {
	if !strings.ContainsAny(v, "\r\n\x00") {
		return v
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if c := v[i]; c != '\r' && c != '\n' && c != 0 {
			b = append(b, c)
		}
	}
	return string(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func jsonValid(b []byte) bool { return json.Valid(b) }
