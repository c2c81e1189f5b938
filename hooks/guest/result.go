package guest

import (
	"sort"
	"strconv"

	"github.com/balanceproxy/balance/internal/jsonw"
)

var phases = [3]Phase{PhaseRequest, PhaseResponse, PhaseChunk}

// env is reused across calls: a handler's Envelope never escapes a call.
var env Envelope

// handle runs the handler of one phase on an input envelope and appends
// the output document to out. It appends nothing for "continue
// unchanged" (and for a phase without a handler).
func handle(phase int, in, out []byte) []byte {
	h := handlers[phase]
	if h == nil {
		return out
	}
	env = Envelope{raw: in, phase: phases[phase]}
	res, err := h(&env)
	env = Envelope{} // drop views into the input buffer
	if err != nil {
		return appendError(out, err.Error())
	}
	if res == nil || (res.Action == "" || res.Action == ActionContinue) && res.Body == nil &&
		len(res.SetHeaders) == 0 && len(res.RemoveHeaders) == 0 && res.Model == "" && res.Pool == "" {
		return out
	}
	return appendResult(out, res)
}

func appendError(b []byte, msg string) []byte {
	b = append(b, `{"error":`...)
	b = AppendString(b, msg)
	return append(b, '}')
}

func appendResult(b []byte, r *Result) []byte {
	action := r.Action
	if action == "" {
		action = ActionContinue
	}
	b = append(b, `{"action":`...)
	b = AppendString(b, string(action))
	if r.Status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(r.Status), 10)
	}
	if r.Model != "" {
		b = append(b, `,"model":`...)
		b = AppendString(b, r.Model)
	}
	if r.Pool != "" {
		b = append(b, `,"pool":`...)
		b = AppendString(b, r.Pool)
	}
	if len(r.SetHeaders) > 0 || len(r.RemoveHeaders) > 0 {
		b = append(b, `,"headers":{"set":{`...)
		keys := make([]string, 0, len(r.SetHeaders))
		for k := range r.SetHeaders {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, k)
			b = append(b, ':')
			b = AppendString(b, r.SetHeaders[k])
		}
		b = append(b, `},"remove":[`...)
		for i, k := range r.RemoveHeaders {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, k)
		}
		b = append(b, "]}"...)
	}
	if r.Body != nil { // last, so readers can take the rest unscanned
		b = append(b, `,"body":`...)
		b = append(b, r.Body...)
	}
	return append(b, '}')
}

// AppendString appends s as a JSON string literal (quoted and escaped).
// Invalid UTF-8 bytes become U+FFFD, so the output is always valid JSON
// and valid UTF-8.
func AppendString(b []byte, s string) []byte { return jsonw.AppendMarshal(b, s) }
