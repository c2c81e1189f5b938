package openai

import (
	"encoding/json"
	"strconv"
	"strings"
)

type toolIn struct {
	Type     string `json:"type"`
	Function *struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

// tools translates tools[] into one functionDeclarations tool and
// tool_choice into toolConfig.functionCallingConfig.
func (t *reqTranslator) tools(in *chatBody) *Error {
	var decls []gFunctionDecl
	var search bool
	names := make(map[string]bool, len(in.Tools))
	for i, raw := range in.Tools {
		p := "tools[" + strconv.Itoa(i) + "]"
		var tl toolIn
		if err := json.Unmarshal(raw, &tl); err != nil {
			return decodeError(err, p)
		}
		if tl.Type != "function" {
			return badRequest(p+".type", "unsupported tool type %q: only function tools are supported", tl.Type)
		}
		if tl.Function == nil {
			return badRequest(p+".function", "missing required parameter: '%s.function'", p)
		}
		f := tl.Function
		if !validFunctionName(f.Name) {
			return badRequest(p+".function.name", "invalid function name %q: must start with a letter or underscore and contain only a-z, A-Z, 0-9, '_', '.', ':' or '-' (max 64)", f.Name)
		}
		if names[f.Name] {
			return badRequest(p+".function.name", "duplicate function name %q", f.Name)
		}
		names[f.Name] = true
		// Cherry Studio and others declare Google Search as a function named
		// googleSearch; Gemini has it as a built-in tool.
		if f.Name == "googleSearch" {
			search = true
			continue
		}
		d := gFunctionDecl{Name: f.Name, Description: f.Description}
		if isSet(f.Parameters) {
			s, e := cleanSchema(f.Parameters, p+".function.parameters", true)
			if e != nil {
				return e
			}
			d.ParametersJSONSchema = s
		}
		decls = append(decls, d)
	}
	if len(decls) > 0 {
		t.out.Tools = append(t.out.Tools, gTool{FunctionDeclarations: decls})
	}
	if search {
		t.out.Tools = append(t.out.Tools, gTool{GoogleSearch: &struct{}{}})
	}
	if !isSet(in.ToolChoice) {
		return nil
	}
	var mode string
	if json.Unmarshal(in.ToolChoice, &mode) == nil {
		switch mode {
		case "auto":
			if len(decls) > 0 {
				t.setMode("AUTO", nil)
			}
		case "none":
			if len(decls) > 0 {
				t.setMode("NONE", nil)
			}
		case "required":
			if len(decls) == 0 {
				return badRequest("tool_choice", "tool_choice 'required' needs at least one function tool")
			}
			t.setMode("ANY", nil)
		default:
			return badRequest("tool_choice", "invalid tool_choice %q: expected none, auto, required or an object", mode)
		}
		return nil
	}
	var tc struct {
		Type     string `json:"type"`
		Function *struct {
			Name string `json:"name"`
		} `json:"function"`
		AllowedTools *struct {
			Mode  string   `json:"mode"`
			Tools []toolIn `json:"tools"`
		} `json:"allowed_tools"`
	}
	if err := json.Unmarshal(in.ToolChoice, &tc); err != nil {
		return decodeError(err, "tool_choice")
	}
	switch tc.Type {
	case "function":
		if tc.Function == nil || tc.Function.Name == "" {
			return badRequest("tool_choice.function.name", "missing required parameter: 'tool_choice.function.name'")
		}
		if !names[tc.Function.Name] {
			return badRequest("tool_choice.function.name", "tool_choice names function %q, which is not in tools", tc.Function.Name)
		}
		t.setMode("ANY", []string{tc.Function.Name})
	case "allowed_tools":
		if tc.AllowedTools == nil {
			return badRequest("tool_choice.allowed_tools", "missing required parameter: 'tool_choice.allowed_tools'")
		}
		if len(decls) == 0 {
			return badRequest("tool_choice", "tool_choice allowed_tools needs at least one function tool")
		}
		allowed := make([]string, 0, len(tc.AllowedTools.Tools))
		for i, at := range tc.AllowedTools.Tools {
			if at.Function == nil || !names[at.Function.Name] {
				return badRequest("tool_choice.allowed_tools.tools["+strconv.Itoa(i)+"]", "allowed tool is not a function in tools")
			}
			allowed = append(allowed, at.Function.Name)
		}
		switch tc.AllowedTools.Mode {
		case "required":
			t.setMode("ANY", allowed)
		case "auto", "":
			// Gemini takes allowedFunctionNames only in ANY mode, so under
			// auto the declarations themselves are narrowed.
			keep := decls[:0]
			for _, d := range decls {
				for _, a := range allowed {
					if d.Name == a {
						keep = append(keep, d)
						break
					}
				}
			}
			t.out.Tools[0].FunctionDeclarations = keep
			t.setMode("AUTO", nil)
		default:
			return badRequest("tool_choice.allowed_tools.mode", "invalid mode %q", tc.AllowedTools.Mode)
		}
	default:
		return badRequest("tool_choice.type", "unsupported tool_choice type %q", tc.Type)
	}
	return nil
}

func (t *reqTranslator) setMode(mode string, names []string) {
	t.out.ToolConfig = &gToolConfig{FunctionCallingConfig: gFunctionCallingConfig{Mode: mode, AllowedFunctionNames: names}}
}

// validFunctionName applies Gemini's rule (stricter than OpenAI's): starts
// with a letter or underscore; then letters, digits, _ . : -; max 64.
func validFunctionName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case '0' <= c && c <= '9', c == '.', c == ':', c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// cleanSchema validates a client JSON Schema and changes it only where
// Gemini's parametersJsonSchema/responseJsonSchema reject valid JSON Schema:
//   - "$schema" is dropped (meta only, rejected by some Gemini versions);
//   - a node with "$ref" keeps only "$ref", "description" and "default"
//     (Gemini: "If a schema node has $ref set, then only description and
//     default can be set alongside it"; in draft-07 siblings of $ref are
//     ignored anyway, so this only loosens the schema).
//
// Schemas that are broken (wrong types for keywords, unknown type names,
// $ref that does not resolve inside the document) are a 400 naming the
// field; nothing half-stripped is ever sent. When nothing changes the
// client's bytes are passed on as they are.
func cleanSchema(raw json.RawMessage, param string, mustBeObject bool) (json.RawMessage, *Error) {
	var root any
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, badRequest(param, "schema is not valid JSON")
	}
	m, ok := root.(map[string]any)
	if !ok {
		return nil, badRequest(param, "schema must be a JSON object")
	}
	if mustBeObject {
		if ty, ok := m["type"]; ok && ty != "object" {
			return nil, badRequest(param+".type", "function parameters must be a JSON Schema of type object")
		}
	}
	c := schemaWalker{root: m}
	if _, ok := m["$schema"]; ok {
		delete(m, "$schema")
		c.changed = true
	}
	if e := c.walk(m, param, 0); e != nil {
		return nil, e
	}
	if !c.changed {
		return raw, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, badRequest(param, "schema could not be encoded: %v", err)
	}
	return b, nil
}

type schemaWalker struct {
	root    map[string]any
	changed bool
}

var jsonTypes = map[string]bool{"object": true, "array": true, "string": true, "number": true, "integer": true, "boolean": true, "null": true}

const maxSchemaDepth = 64

func (c *schemaWalker) walk(node any, p string, depth int) *Error {
	if depth > maxSchemaDepth {
		return badRequest(p, "schema nests deeper than %d levels", maxSchemaDepth)
	}
	m, ok := node.(map[string]any)
	if !ok {
		if _, isBool := node.(bool); isBool {
			return nil // true/false schemas are valid JSON Schema
		}
		return badRequest(p, "schema must be an object")
	}
	if ref, ok := m["$ref"]; ok {
		s, ok := ref.(string)
		if !ok {
			return badRequest(p+".$ref", "$ref must be a string")
		}
		if !c.resolves(s) {
			return badRequest(p+".$ref", "$ref %q does not resolve inside the schema", s)
		}
		for k := range m {
			if k != "$ref" && k != "description" && k != "default" && k != "$defs" && k != "definitions" {
				delete(m, k)
				c.changed = true
			}
		}
	}
	if ty, ok := m["type"]; ok {
		switch v := ty.(type) {
		case string:
			if !jsonTypes[v] {
				return badRequest(p+".type", "unknown schema type %q", v)
			}
		case []any:
			for _, x := range v {
				if s, ok := x.(string); !ok || !jsonTypes[s] {
					return badRequest(p+".type", "schema type list must hold JSON Schema type names")
				}
			}
		default:
			return badRequest(p+".type", "schema type must be a string or an array of strings")
		}
	}
	if req, ok := m["required"]; ok {
		arr, ok := req.([]any)
		if !ok {
			return badRequest(p+".required", "required must be an array of property names")
		}
		for _, x := range arr {
			if _, ok := x.(string); !ok {
				return badRequest(p+".required", "required must be an array of property names")
			}
		}
	}
	if en, ok := m["enum"]; ok {
		if _, ok := en.([]any); !ok {
			return badRequest(p+".enum", "enum must be an array")
		}
	}
	for _, k := range []string{"properties", "patternProperties", "$defs", "definitions"} {
		v, ok := m[k]
		if !ok {
			continue
		}
		props, ok := v.(map[string]any)
		if !ok {
			return badRequest(p+"."+k, "%s must be an object of schemas", k)
		}
		for name, sub := range props {
			if e := c.walk(sub, p+"."+k+"."+name, depth+1); e != nil {
				return e
			}
		}
	}
	for _, k := range []string{"items", "additionalProperties", "not", "contains", "if", "then", "else", "propertyNames", "additionalItems", "unevaluatedProperties", "unevaluatedItems"} {
		v, ok := m[k]
		if !ok {
			continue
		}
		if arr, isArr := v.([]any); isArr && k == "items" { // draft-04 tuple form
			for i, sub := range arr {
				if e := c.walk(sub, p+".items["+strconv.Itoa(i)+"]", depth+1); e != nil {
					return e
				}
			}
			continue
		}
		if e := c.walk(v, p+"."+k, depth+1); e != nil {
			return e
		}
	}
	for _, k := range []string{"anyOf", "oneOf", "allOf", "prefixItems"} {
		v, ok := m[k]
		if !ok {
			continue
		}
		arr, ok := v.([]any)
		if !ok || len(arr) == 0 {
			return badRequest(p+"."+k, "%s must be a non-empty array of schemas", k)
		}
		for i, sub := range arr {
			if e := c.walk(sub, p+"."+k+"["+strconv.Itoa(i)+"]", depth+1); e != nil {
				return e
			}
		}
	}
	return nil
}

// resolves reports whether a $ref is a local JSON pointer ("#", "#/a/b")
// that exists in the root document. Remote refs cannot be fetched by Gemini.
func (c *schemaWalker) resolves(ref string) bool {
	if ref == "#" {
		return true
	}
	if !strings.HasPrefix(ref, "#/") {
		return false
	}
	var cur any = c.root
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[tok]
			if !ok {
				return false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return false
			}
			cur = v[i]
		default:
			return false
		}
	}
	return true
}
