package engine

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/hcl"
)

// modelRules resolves the model a client asked for into the model sent
// upstream, the pool that serves it, and the edits its rules make to the
// request body. How several matching rules merge is the hcl package's
// (hcl.ModelRules); this is what the engine makes of the result.
type modelRules struct {
	rules    *hcl.ModelRules
	suffixes hcl.Suffixes
	// virtual are the rules with a literal name, in declared order: the
	// candidates for virtual entries in model lists.
	virtual []string
}

func newModelRules(cfg *hcl.Config) *modelRules {
	r := &modelRules{rules: hcl.CompileModelRules(cfg), suffixes: cfg.OpenAI.Suffixes}
	for _, m := range cfg.Models {
		if !hcl.IsPattern(m.Name) {
			r.virtual = append(r.virtual, m.Name)
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
	CodeExecution   bool
	URLContext      bool
	ThinkingBudget  *int
	IncludeThoughts *bool
	Safety          json.RawMessage
	Generation      json.RawMessage
	// Pacing is the rule's stream pacing (nil: none).
	Pacing *hcl.StreamPacing
	// ImagenChat serves a chat call with Imagen (imagen_chat.go).
	ImagenChat bool
	// Hidden models are absent from model lists, so a lookup of one by
	// id answers 404 too (hiddenModel).
	Hidden bool
}

func (r *resolved) editsBody() bool {
	return r.Search || r.Image || r.NonThinking || r.CodeExecution || r.URLContext || r.ThinkingBudget != nil ||
		r.IncludeThoughts != nil || r.Safety != nil || r.Generation != nil
}

// resolve applies suffixes (model-search, model-image, model-non-thinking)
// and the merged rules of the asked name down to the model left, rules of
// a derived name first (hcl.ModelRules).
func (r *modelRules) resolve(asked string) resolved {
	res := r.rules.Resolve(asked)
	rule := res.Rule
	out := resolved{Asked: asked, Target: res.Base, Pool: rule.Pool,
		Search: res.Search || rule.Search, Image: res.Image || rule.Image, NonThinking: res.NonThinking,
		CodeExecution: rule.CodeExecution, URLContext: rule.URLContext,
		ThinkingBudget: rule.ThinkingBudget, IncludeThoughts: rule.IncludeThoughts,
		Safety: rule.SafetySettings, Generation: rule.GenerationConfig, Pacing: rule.StreamPacing,
		ImagenChat: rule.ImagenChat, Hidden: rule.Hidden}
	if rule.Target != "" {
		out.Target = rule.Target
	}
	return out
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
	for _, t := range [...]struct {
		on   bool
		name string
	}{{r.Search, "googleSearch"}, {r.CodeExecution, "codeExecution"}, {r.URLContext, "urlContext"}} {
		if !t.on || hasTool(req["tools"], t.name) {
			continue
		}
		var tools []json.RawMessage
		if raw, ok := req["tools"]; ok {
			if err := json.Unmarshal(raw, &tools); err != nil {
				return nil, err
			}
		}
		tools = append(tools, json.RawMessage(`{"`+t.name+`":{}}`))
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

// hiddenModel is the 404 of a model lookup (GET /v1/models/{id}, the
// native models.get) for a hidden model: the lists leave it out, so a
// lookup must not show it either, and Google is not asked.
func hiddenModel(model string) *Failure {
	return &Failure{Status: fasthttp.StatusNotFound, Reason: "hidden_model", Param: "model",
		Message: "The model '" + model + "' does not exist or you do not have access to it."}
}

func hasTool(raw json.RawMessage, name string) bool {
	return len(raw) > 0 && bytes.Contains(raw, []byte(`"`+name+`"`))
}
