package openai

import (
	"strconv"

	"github.com/tidwall/gjson"
)

// Tools on the fast request path: function declarations whose schemas
// cleanSchema would pass through unchanged, and string tool_choice. Schemas
// with $ref or $schema (which cleanSchema may rewrite), googleSearch,
// object tool_choice and every error case go the full path.

var (
	toolFields     = []string{"type", "function"}
	functionFields = []string{"name", "description", "parameters"}
)

// fastTools appends ,"tools":[…] and ,"toolConfig":{…} for tools (an
// array) and tool_choice (a string or absent).
func fastTools(b []byte, tools, choice gjson.Result) ([]byte, bool) {
	ok := true
	n := 0
	var names []string
	mark := len(b)
	tools.ForEach(func(_, tl gjson.Result) bool {
		var typ, fn gjson.Result
		if ok = tl.IsObject(); !ok {
			return false
		}
		tl.ForEach(func(k, v gjson.Result) bool {
			switch key := keyOf(k); key {
			case "type":
				ok = !typ.Exists()
				typ = v
			case "function":
				ok = !fn.Exists()
				fn = v
			default:
				ok = ignorable(key, v, toolFields)
			}
			return ok
		})
		if !ok || typ.Raw != `"function"` || !fn.IsObject() {
			ok = false
			return false
		}
		var name, desc, params gjson.Result
		fn.ForEach(func(k, v gjson.Result) bool {
			switch key := keyOf(k); key {
			case "name":
				ok = !name.Exists()
				name = v
			case "description":
				ok = !desc.Exists() && (v.Type == gjson.String || v.Type == gjson.Null)
				desc = v
			case "parameters":
				ok = !params.Exists()
				params = v
			default:
				ok = ignorable(key, v, functionFields)
			}
			return ok
		})
		if !ok || name.Type != gjson.String {
			ok = false
			return false
		}
		nm := name.Raw[1 : len(name.Raw)-1] // validFunctionName admits no escapes
		if !validFunctionName(nm) || nm == "googleSearch" {
			ok = false
			return false
		}
		for _, x := range names {
			if x == nm {
				ok = false
				return false
			}
		}
		names = append(names, nm)
		if n == 0 {
			b = append(b, `,"tools":[{"functionDeclarations":[`...)
		} else {
			b = append(b, ',')
		}
		n++
		b = append(b, `{"name":"`...)
		b = append(b, nm...)
		b = append(b, '"')
		if desc.Type == gjson.String && len(desc.Raw) > 2 {
			b = append(b, `,"description":`...)
			b = appendReencoded(b, desc.Raw[1:len(desc.Raw)-1])
		}
		if params.Exists() && params.Type != gjson.Null {
			if !plainSchema(params) {
				ok = false
				return false
			}
			b = append(b, `,"parametersJsonSchema":`...)
			if b, ok = appendCompactHTML(b, params.Raw); !ok {
				return false
			}
		}
		b = append(b, '}')
		return true
	})
	if !ok {
		return b[:mark], false
	}
	if n > 0 {
		b = append(b, "]}]"...)
	}
	if !choice.Exists() || choice.Type == gjson.Null {
		return b, true
	}
	mode := ""
	switch choice.Raw {
	case `"auto"`:
		mode = "AUTO"
	case `"none"`:
		mode = "NONE"
	case `"required"`:
		mode = "ANY"
	default:
		return b[:mark], false
	}
	if n == 0 {
		// Without declarations auto and none change nothing and required
		// is a 400 from the full path.
		return b, mode != "ANY"
	}
	b = append(b, `,"toolConfig":{"functionCallingConfig":{"mode":"`...)
	b = append(b, mode...)
	return append(b, `"}}`...), true
}

// plainSchema reports whether cleanSchema(raw, …, true) would accept the
// schema and return it unchanged. It validates every occurrence of a
// repeated key (encoding/json keeps only the last), so it may refuse a
// schema the full path accepts, never the reverse.
func plainSchema(s gjson.Result) bool {
	if !s.IsObject() || len(s.Raw) > maxIgnoredRaw {
		return false
	}
	ok := true
	s.ForEach(func(k, v gjson.Result) bool {
		switch keyOf(k) {
		case "$schema":
			ok = false // cleanSchema drops it
		case "type":
			ok = v.Raw == `"object"`
		}
		return ok
	})
	return ok && schemaNodeOK(s, 0)
}

// schemaNodeOK mirrors schemaWalker.walk for schemas without $ref.
func schemaNodeOK(node gjson.Result, depth int) bool {
	if depth > maxSchemaDepth {
		return false
	}
	if node.Type == gjson.True || node.Type == gjson.False {
		return true
	}
	if !node.IsObject() {
		return false
	}
	ok := true
	node.ForEach(func(k, v gjson.Result) bool {
		key := keyOf(k)
		for i := 0; i < len(key); i++ {
			if key[i] == '\\' {
				ok = false
				return false
			}
		}
		switch key {
		case "$ref":
			ok = false
		case "type":
			switch {
			case v.Type == gjson.String:
				ok = jsonTypes[unquoteJSON(v.Raw[1:len(v.Raw)-1])]
			case v.IsArray():
				v.ForEach(func(_, x gjson.Result) bool {
					ok = x.Type == gjson.String && jsonTypes[unquoteJSON(x.Raw[1:len(x.Raw)-1])]
					return ok
				})
			default:
				ok = false
			}
		case "required":
			ok = v.IsArray()
			v.ForEach(func(_, x gjson.Result) bool {
				ok = ok && x.Type == gjson.String
				return ok
			})
		case "enum":
			ok = v.IsArray()
		case "properties", "patternProperties", "$defs", "definitions":
			ok = v.IsObject()
			v.ForEach(func(_, sub gjson.Result) bool {
				ok = ok && schemaNodeOK(sub, depth+1)
				return ok
			})
		case "items":
			if v.IsArray() {
				v.ForEach(func(_, sub gjson.Result) bool {
					ok = schemaNodeOK(sub, depth+1)
					return ok
				})
				break
			}
			ok = schemaNodeOK(v, depth+1)
		case "additionalProperties", "not", "contains", "if", "then", "else", "propertyNames",
			"additionalItems", "unevaluatedProperties", "unevaluatedItems":
			ok = schemaNodeOK(v, depth+1)
		case "anyOf", "oneOf", "allOf", "prefixItems":
			ok = v.IsArray() && len(v.Raw) > 2
			n := 0
			v.ForEach(func(_, sub gjson.Result) bool {
				n++
				ok = ok && schemaNodeOK(sub, depth+1)
				return ok
			})
			ok = ok && n > 0
		}
		return ok
	})
	return ok
}

// appendCompactHTML appends valid JSON raw as json.Marshal writes a
// json.RawMessage: whitespace outside strings removed, <, > and & and
// U+2028/U+2029 escaped. It refuses (false) numbers that encoding/json
// could not decode into a float64, which the full path reports as a 400.
func appendCompactHTML(b []byte, raw string) ([]byte, bool) {
	inStr, esc := false, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			case c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
				continue
			case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && raw[i+2]&^1 == 0xA8:
				b = append(b, '\\', 'u', '2', '0', '2', hexDigits[raw[i+2]&0xf])
				i += 2
				continue
			}
			b = append(b, c)
			continue
		}
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		case c == '"':
			inStr = true
		case c == '-' || ('0' <= c && c <= '9'):
			j := i + 1
			for j < len(raw) && (raw[j] == '.' || raw[j] == 'e' || raw[j] == 'E' || raw[j] == '+' || raw[j] == '-' || ('0' <= raw[j] && raw[j] <= '9')) {
				j++
			}
			if _, err := strconv.ParseFloat(raw[i:j], 64); err != nil {
				return b, false
			}
			b = append(b, raw[i:j]...)
			i = j - 1
			continue
		}
		b = append(b, c)
	}
	return b, true
}

const hexDigits = "0123456789abcdef"
