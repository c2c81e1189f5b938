package guest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// Get reads one gjson path from a JSON document without decoding the rest
// (e.g. Get(in.Body, "generationConfig.temperature")).
func Get(doc []byte, path string) gjson.Result { return gjson.GetBytes(doc, path) }

// SetString returns doc with the string at path set to value. Only the
// edited span is rewritten; the rest of the document is copied as is.
func SetString(doc []byte, path, value string) ([]byte, error) {
	return sjson.SetBytes(doc, path, value)
}

// SetRaw returns doc with path set to the raw JSON value.
func SetRaw(doc []byte, path string, raw []byte) ([]byte, error) {
	return sjson.SetRawBytes(doc, path, raw)
}

// Delete returns doc with path removed.
func Delete(doc []byte, path string) ([]byte, error) {
	return sjson.DeleteBytes(doc, path)
}

// Prepend returns doc with raw inserted as the first element of the array
// at path (e.g. a system message before "messages"). It splices: the rest
// of the document is copied, not re-encoded. For a top-level member it
// does not even read the array, only the members before it, so prepending
// to a long conversation costs the same as to a short one.
func Prepend(doc []byte, path string, raw []byte) ([]byte, error) {
	at := -1
	if !strings.ContainsAny(path, ".*?|#@\\") {
		at = memberValue(doc, path)
	}
	if at < 0 {
		res := gjson.GetBytes(doc, path)
		if !res.IsArray() || res.Index <= 0 || res.Index >= len(doc) || doc[res.Index] != '[' {
			if !res.IsArray() {
				return nil, fmt.Errorf("prepend: %s is not an array", path)
			}
			// Position unknown: rebuild the array and set it by path.
			inner := strings.TrimSpace(res.Raw[1 : len(res.Raw)-1])
			arr := append([]byte{'['}, raw...)
			if inner != "" {
				arr = append(arr, ',')
			}
			return sjson.SetRawBytes(doc, path, append(arr, res.Raw[1:]...))
		}
		at = res.Index
	}
	if doc[at] != '[' {
		return nil, fmt.Errorf("prepend: %s is not an array", path)
	}
	rest := at + 1
	for rest < len(doc) && (doc[rest] == ' ' || doc[rest] == '\n' || doc[rest] == '\r' || doc[rest] == '\t') {
		rest++
	}
	out := make([]byte, 0, len(doc)+len(raw)+1)
	out = append(out, doc[:at+1]...)
	out = append(out, raw...)
	if rest < len(doc) && doc[rest] != ']' {
		out = append(out, ',')
	}
	return append(out, doc[at+1:]...), nil
}

// memberValue returns the offset of the value of the top-level member
// key in the JSON object doc, or -1. It skips the values of the members
// before key (tracking strings and nesting) and never reads past key's
// value start.
func memberValue(doc []byte, key string) int {
	i := skipWS(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return -1
	}
	i++
	for {
		i = skipWS(doc, i)
		if i >= len(doc) || doc[i] != '"' {
			return -1
		}
		end := jsonw.SkipString(doc, i)
		if end < 0 {
			return -1
		}
		k := doc[i+1 : end-1]
		i = skipWS(doc, end)
		if i >= len(doc) || doc[i] != ':' {
			return -1
		}
		i = skipWS(doc, i+1)
		if view(k) == key {
			if i < len(doc) {
				return i
			}
			return -1
		}
		if i = jsonw.SkipValue(doc, i); i < 0 {
			return -1
		}
		i = skipWS(doc, i)
		if i >= len(doc) || doc[i] != ',' {
			return -1
		}
		i++
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// Text is one user-visible text in a request or response body, with the
// gjson/sjson path that addresses it.
type Text struct {
	Path  string
	Value string

	raw   string // the JSON string literal as it appears in the body
	index int    // its byte offset in the body, 0 if unknown
}

// EachText calls fn for every message text in a body, in document order:
// for "gemini", systemInstruction.parts[].text and contents[].parts[].text
// of a request, candidates[].content.parts[].text of a response or stream
// chunk; for "openai", messages[].content when it is a string, and the
// "text" of messages[].content[] parts. Returning false stops the walk.
func EachText(protocol string, body []byte, fn func(t Text) bool) {
	root := gjson.ParseBytes(body)
	if protocol == "openai" {
		eachOpenAI(root, fn)
		return
	}
	eachGemini(root, fn)
}

func text(path string, v gjson.Result) Text {
	return Text{Path: path, Value: v.Str, raw: v.Raw, index: v.Index}
}

func eachGemini(root gjson.Result, fn func(Text) bool) {
	cont := true
	parts := func(prefix string, p gjson.Result) {
		i := 0
		p.ForEach(func(_, part gjson.Result) bool {
			if t := part.Get("text"); t.Type == gjson.String {
				cont = fn(text(prefix+strconv.Itoa(i)+".text", t))
			}
			i++
			return cont
		})
	}
	for _, sys := range [...]string{"systemInstruction", "system_instruction"} {
		if p := root.Get(sys + ".parts"); p.IsArray() && cont {
			parts(sys+".parts.", p)
		}
	}
	for _, list := range [...]struct{ name, inner string }{{"contents", "parts"}, {"candidates", "content.parts"}} {
		i := 0
		root.Get(list.name).ForEach(func(_, c gjson.Result) bool {
			if p := c.Get(list.inner); p.IsArray() {
				parts(list.name+"."+strconv.Itoa(i)+"."+list.inner+".", p)
			}
			i++
			return cont
		})
		if !cont {
			return
		}
	}
}

func eachOpenAI(root gjson.Result, fn func(Text) bool) {
	i := 0
	cont := true
	root.Get("messages").ForEach(func(_, m gjson.Result) bool {
		prefix := "messages." + strconv.Itoa(i) + ".content"
		c := m.Get("content")
		switch {
		case c.Type == gjson.String:
			cont = fn(text(prefix, c))
		case c.IsArray():
			j := 0
			c.ForEach(func(_, part gjson.Result) bool {
				if t := part.Get("text"); t.Type == gjson.String {
					cont = fn(text(prefix+"."+strconv.Itoa(j)+".text", t))
				}
				j++
				return cont
			})
		}
		i++
		return cont
	})
}

// ReplaceTexts rewrites every message text (see EachText) through fn and
// returns the new body, or nil when fn changed nothing. All edits are
// spliced in one pass over the body.
func ReplaceTexts(protocol string, body []byte, fn func(string) string) ([]byte, error) {
	var edits []Text
	EachText(protocol, body, func(t Text) bool {
		if nv := fn(t.Value); nv != t.Value {
			t.Value = nv
			edits = append(edits, t)
		}
		return true
	})
	if len(edits) == 0 {
		return nil, nil
	}
	// Splice when every edit's position is known and in order (gjson
	// reports offsets for plain paths); otherwise set paths one by one.
	last, spliceable := 0, true
	for _, e := range edits {
		if e.index <= last || e.index+len(e.raw) > len(body) || view(body[e.index:e.index+len(e.raw)]) != e.raw {
			spliceable = false
			break
		}
		last = e.index + len(e.raw) - 1
	}
	if spliceable {
		out := make([]byte, 0, len(body)+len(body)/8)
		last = 0
		for _, e := range edits {
			out = append(out, body[last:e.index]...)
			out = AppendString(out, e.Value)
			last = e.index + len(e.raw)
		}
		return append(out, body[last:]...), nil
	}
	out := body
	var err error
	for _, e := range edits {
		if out, err = sjson.SetBytes(out, e.Path, e.Value); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ErrorBody returns an error body in the caller's protocol, so a Reject or
// Respond from a hook looks like any other error to the client SDK:
// Google's {"error":{"code","message","status"}} for "gemini", OpenAI's
// {"error":{"message","type","param","code"}} for "openai".
func ErrorBody(protocol string, status int, message string) []byte {
	b := make([]byte, 0, 96+len(message))
	if protocol == "openai" {
		b = append(b, `{"error":{"message":`...)
		b = AppendString(b, message)
		b = append(b, `,"type":`...)
		b = AppendString(b, openAIType(status))
		b = append(b, `,"param":null,"code":null}}`...)
		return b
	}
	b = append(b, `{"error":{"code":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"message":`...)
	b = AppendString(b, message)
	b = append(b, `,"status":`...)
	b = AppendString(b, googleStatus(status))
	return append(b, `}}`...)
}

func openAIType(status int) string {
	switch {
	case status == 401:
		return "authentication_error"
	case status == 403:
		return "permission_denied"
	case status == 404:
		return "not_found_error"
	case status == 429:
		return "rate_limit_exceeded"
	case status >= 500:
		return "server_error"
	default:
		return "invalid_request_error"
	}
}

func googleStatus(status int) string {
	switch status {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	default:
		if status >= 500 {
			return "INTERNAL"
		}
		return "FAILED_PRECONDITION"
	}
}
