package engine

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/balanceproxy/balance/hcl"
)

// listedModel is one entry of a models list: its id and its Gemini Model
// object, which the native list sends as it is and the OpenAI list turns
// into {"id":…}.
type listedModel struct {
	id    string
	entry json.RawMessage
}

// modelsPage is a page of Google's models list.
type modelsPage struct {
	Models        []json.RawMessage `json:"models"`
	NextPageToken string            `json:"nextPageToken,omitempty"`
}

// modelList is the one decision of what a models list shows, behind
// /v1/models, /hf/v1/models and the native /v1beta/models alike. From one
// upstream page it keeps each model whose merged rule does not hide it,
// each followed by the derived models (-search, -image, -non-thinking)
// its rule's variants name; on the last page it adds the virtual models:
// rules with a literal name that are listed or aliases (a target), unless
// hidden, with the variants their rules name. A derived model is never
// listed for a hidden model, nor under a name Google lists itself.
func (r *modelRules) modelList(page *modelsPage, last bool) []listedModel {
	type head struct {
		Name    string   `json:"name"`
		Methods []string `json:"supportedGenerationMethods"`
	}
	heads := make([]head, len(page.Models))
	upstream := map[string]bool{}
	for i, m := range page.Models {
		_ = json.Unmarshal(m, &heads[i])
		heads[i].Name = strings.TrimPrefix(heads[i].Name, "models/")
		upstream[heads[i].Name] = true
	}
	seen := map[string]bool{}
	var out []listedModel
	add := func(id string, entry json.RawMessage) {
		if id == "" || seen[id] {
			return
		}
		seen[id] = true
		out = append(out, listedModel{id: id, entry: entry})
	}
	addVariants := func(id string, entry json.RawMessage, variants []string) {
		for _, v := range variants {
			suffix := r.variantSuffix(v)
			derived := id + suffix
			// A rule for the derived name itself may hide it.
			if suffix == "" || upstream[derived] || hcl.IsNativeImageModel(derived) || r.rules.Resolve(derived).Rule.Hidden {
				continue
			}
			add(derived, renamed(entry, derived, variantTitles[v]))
		}
	}
	for i, h := range heads {
		rule := r.rules.RuleFor(h.Name)
		if rule.Hidden {
			continue
		}
		add(h.Name, page.Models[i])
		generative := slices.Contains(h.Methods, "generateContent")
		variants := rule.Variants
		if !rule.Sets("variants") {
			variants = nil
			if generative && strings.HasPrefix(h.Name, "gemini-") {
				variants = defaultVariants
			}
		}
		if generative {
			addVariants(h.Name, page.Models[i], variants)
		}
	}
	if !last {
		return out
	}
	for _, name := range r.virtual {
		rule := r.rules.RuleFor(name)
		if rule.Hidden || !rule.Listed && rule.Target == "" {
			continue
		}
		entry := virtualEntry(name)
		add(name, entry)
		addVariants(name, entry, rule.Variants)
	}
	return out
}

// defaultVariants are the derived models listed for a generative gemini-*
// model whose rules do not set variants.
var defaultVariants = []string{hcl.VariantSearch, hcl.VariantNonThinking}

// variantTitles are appended to a derived model's display name.
var variantTitles = map[string]string{
	hcl.VariantSearch:      " + Google Search",
	hcl.VariantImage:       " + image output",
	hcl.VariantNonThinking: " (thinking off)",
}

func (r *modelRules) variantSuffix(v string) string {
	switch v {
	case hcl.VariantSearch:
		return r.suffixes.Search
	case hcl.VariantImage:
		return r.suffixes.Image
	case hcl.VariantNonThinking:
		return r.suffixes.NonThinking
	}
	return ""
}

// renamed is a copy of a Gemini Model object under another name, its
// display name extended by title.
func renamed(entry json.RawMessage, id, title string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(entry, &m) != nil || m == nil {
		return virtualEntry(id)
	}
	var display string
	_ = json.Unmarshal(m["displayName"], &display)
	if display == "" {
		display = id
	}
	m["name"], _ = json.Marshal("models/" + id)
	m["displayName"], _ = json.Marshal(display + title)
	out, err := json.Marshal(m)
	if err != nil {
		return virtualEntry(id)
	}
	return out
}

// virtualEntry is the Model object of a model only balance.hcl knows.
func virtualEntry(id string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"name": "models/" + id, "displayName": id, "description": "Virtual model defined in balance.hcl",
		"supportedGenerationMethods": []string{"generateContent", "countTokens"},
	})
	return b
}

// nativeModelsPage rewrites one page of Google's models list as modelList
// decides; a body that is not a models page passes unchanged.
func (r *modelRules) nativeModelsPage(body []byte) []byte {
	var page modelsPage
	if json.Unmarshal(body, &page) != nil {
		return body
	}
	listed := r.modelList(&page, page.NextPageToken == "")
	page.Models = page.Models[:0]
	for _, m := range listed {
		page.Models = append(page.Models, m.entry)
	}
	out, err := json.Marshal(page)
	if err != nil {
		return body
	}
	return out
}
