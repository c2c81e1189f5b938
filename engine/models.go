package engine

import (
	"bytes"
	"encoding/json"
	"path"
	"strings"

	"github.com/balanceproxy/balance/hcl"
)

// modelRules resolves the model a client asked for into the model sent
// upstream, the pool that serves it, and the edits its rules make to the
// request body.
type modelRules struct {
	exact    map[string]*hcl.ModelRule
	globs    []*hcl.ModelRule
	suffixes hcl.Suffixes
	hidden   []string
	listed   []string
}

func newModelRules(cfg *hcl.Config) *modelRules {
	r := &modelRules{exact: map[string]*hcl.ModelRule{}, suffixes: cfg.OpenAI.Suffixes}
	for _, m := range cfg.Models {
		if strings.ContainsAny(m.Name, "*?[") {
			r.globs = append(r.globs, m)
		} else {
			r.exact[m.Name] = m
		}
		if m.Hidden {
			r.hidden = append(r.hidden, m.Name)
		}
		if m.Listed {
			r.listed = append(r.listed, m.Name)
		}
	}
	return r
}

// resolved is what the model rules decided for one request.
type resolved struct {
	Asked  string
	Target string
	Pool   string
	// Edits to the request body; all zero means pass the body through.
	Search          bool
	Image           bool
	NonThinking     bool
	ThinkingBudget  *int
	IncludeThoughts *bool
	Safety          json.RawMessage
	Generation      json.RawMessage
	// ImagenChat serves a chat call with Imagen (imagen_chat.go).
	ImagenChat bool
}

func (r *resolved) editsBody() bool {
	return r.Search || r.Image || r.NonThinking || r.ThinkingBudget != nil || r.IncludeThoughts != nil || r.Safety != nil || r.Generation != nil
}

// resolve applies suffixes (model-search, model-image, model-non-thinking)
// then the first matching rule: exact names win over globs, and globs
// apply in declared order.
func (r *modelRules) resolve(asked string) resolved {
	res := resolved{Asked: asked, Target: asked}
	name := asked
	for changed := true; changed; {
		changed = false
		if s := r.suffixes.Search; s != "" && strings.HasSuffix(name, s) && len(name) > len(s) {
			name, res.Search, changed = strings.TrimSuffix(name, s), true, true
		}
		if s := r.suffixes.Image; s != "" && strings.HasSuffix(name, s) && len(name) > len(s) && r.exact[name] == nil && !isNativeImageModel(name) {
			name, res.Image, changed = strings.TrimSuffix(name, s), true, true
		}
		if s := r.suffixes.NonThinking; s != "" && strings.HasSuffix(name, s) && len(name) > len(s) {
			name, res.NonThinking, changed = strings.TrimSuffix(name, s), true, true
		}
	}
	res.Target = name
	rule := r.exact[name]
	if rule == nil {
		for _, g := range r.globs {
			if ok, _ := path.Match(g.Name, name); ok {
				rule = g
				break
			}
		}
	}
	if rule != nil {
		if rule.Target != "" {
			res.Target = rule.Target
		}
		res.Pool = rule.Pool
		res.Search = res.Search || rule.Search
		res.Image = res.Image || rule.Image
		res.ThinkingBudget = rule.ThinkingBudget
		res.IncludeThoughts = rule.IncludeThoughts
		res.Safety = rule.SafetySettings
		res.Generation = rule.GenerationConfig
		res.ImagenChat = rule.ImagenChat
	}
	return res
}

// isNativeImageModel keeps real model names that end in "-image" (such as
// gemini-2.5-flash-image) from being read as a suffix.
func isNativeImageModel(name string) bool {
	return strings.HasPrefix(name, "gemini-") && strings.Count(name, "-") >= 3 && strings.HasSuffix(name, "flash-image")
}

// editBody applies the rule's edits to a GenerateContentRequest. Every
// edit fills in only what the client did not send; fields it does not
// touch keep their bytes. It returns the body unchanged when nothing
// needed filling.
func (r *resolved) editBody(body []byte) ([]byte, error) {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	changed := false
	if r.Search && !hasTool(req["tools"], "googleSearch") {
		var tools []json.RawMessage
		if raw, ok := req["tools"]; ok {
			if err := json.Unmarshal(raw, &tools); err != nil {
				return nil, err
			}
		}
		tools = append(tools, json.RawMessage(`{"googleSearch":{}}`))
		req["tools"], _ = json.Marshal(tools)
		changed = true
	}
	if r.Safety != nil {
		if _, ok := req["safetySettings"]; !ok {
			req["safetySettings"] = r.Safety
			changed = true
		}
	}
	if r.Image || r.NonThinking || r.ThinkingBudget != nil || r.IncludeThoughts != nil || r.Generation != nil {
		gc := map[string]json.RawMessage{}
		if raw, ok := req["generationConfig"]; ok {
			if err := json.Unmarshal(raw, &gc); err != nil {
				return nil, err
			}
		}
		gcChanged := false
		if r.Generation != nil {
			var defaults map[string]json.RawMessage
			if json.Unmarshal(r.Generation, &defaults) == nil {
				for k, v := range defaults {
					if _, ok := gc[k]; !ok {
						gc[k] = v
						gcChanged = true
					}
				}
			}
		}
		if r.Image {
			if _, ok := gc["responseModalities"]; !ok {
				gc["responseModalities"] = json.RawMessage(`["TEXT","IMAGE"]`)
				gcChanged = true
			}
		}
		if r.NonThinking || r.ThinkingBudget != nil || r.IncludeThoughts != nil {
			tc := map[string]json.RawMessage{}
			if raw, ok := gc["thinkingConfig"]; ok {
				if err := json.Unmarshal(raw, &tc); err != nil {
					return nil, err
				}
			}
			tcChanged := false
			_, hasBudget := tc["thinkingBudget"]
			_, hasLevel := tc["thinkingLevel"]
			switch {
			case hasBudget || hasLevel:
			case r.NonThinking:
				k, v := minimalThinking(r.Target)
				tc[k] = v
				tcChanged = true
			case r.ThinkingBudget != nil:
				tc["thinkingBudget"], _ = json.Marshal(*r.ThinkingBudget)
				tcChanged = true
			}
			if _, ok := tc["includeThoughts"]; !ok && r.IncludeThoughts != nil {
				tc["includeThoughts"], _ = json.Marshal(*r.IncludeThoughts)
				tcChanged = true
			}
			if tcChanged {
				gc["thinkingConfig"], _ = json.Marshal(tc)
				gcChanged = true
			}
		}
		if gcChanged {
			req["generationConfig"], _ = json.Marshal(gc)
			changed = true
		}
	}
	if !changed {
		return body, nil
	}
	return json.Marshal(req)
}

// minimalThinking is the least thinking a model allows: off (budget 0) for
// most, 128 tokens for 2.5 Pro, which cannot turn thinking off, and the
// lowest thinking level for Gemini 3.
func minimalThinking(model string) (string, json.RawMessage) {
	switch {
	case strings.HasPrefix(model, "gemini-3") && strings.Contains(model, "flash"):
		return "thinkingLevel", json.RawMessage(`"MINIMAL"`)
	case strings.HasPrefix(model, "gemini-3"):
		return "thinkingLevel", json.RawMessage(`"LOW"`)
	case strings.Contains(model, "2.5-pro"):
		return "thinkingBudget", json.RawMessage(`128`)
	}
	return "thinkingBudget", json.RawMessage(`0`)
}

func hasTool(raw json.RawMessage, name string) bool {
	return len(raw) > 0 && bytes.Contains(raw, []byte(`"`+name+`"`))
}

// isHidden reports whether the models list hides name.
func (r *modelRules) isHidden(name string) bool {
	for _, h := range r.hidden {
		if ok, _ := path.Match(h, name); ok {
			return true
		}
	}
	return false
}

// editsList reports whether the models list needs rewriting at all.
func (r *modelRules) editsList() bool { return len(r.hidden) > 0 || len(r.listed) > 0 }

// editModelsList removes hidden models from a Gemini models page and, on
// the last page, appends the configured virtual models.
func (r *modelRules) editModelsList(body []byte) []byte {
	var page struct {
		Models        []json.RawMessage `json:"models"`
		NextPageToken string            `json:"nextPageToken,omitempty"`
	}
	if json.Unmarshal(body, &page) != nil {
		return body
	}
	kept := page.Models[:0]
	for _, m := range page.Models {
		var head struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(m, &head)
		if !r.isHidden(strings.TrimPrefix(head.Name, "models/")) {
			kept = append(kept, m)
		}
	}
	page.Models = kept
	if page.NextPageToken == "" {
		for _, name := range r.listed {
			if strings.ContainsAny(name, "*?[") {
				continue
			}
			entry := map[string]any{
				"name": "models/" + name, "displayName": name, "description": "Virtual model defined in balance.hcl",
				"supportedGenerationMethods": []string{"generateContent", "countTokens"},
			}
			b, _ := json.Marshal(entry)
			page.Models = append(page.Models, b)
		}
	}
	out, err := json.Marshal(page)
	if err != nil {
		return body
	}
	return out
}
